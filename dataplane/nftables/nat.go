package nftables

import "github.com/palisadenet/palisade/dataplane"

// ChainNATPostrouting masquerades pod traffic leaving the IP pools (natOutgoing).
const ChainNATPostrouting = "nat-postrouting"

// NATChains renders the outgoing NAT: one nat chain on postrouting (srcnat priority)
// with, per family that has natOutgoing pools, "source in a natOutgoing pool and
// destination in no pool: masquerade". Without natOutgoing pools it renders nothing,
// so no nat hook is registered at all. Only our table is touched: other tables' nat
// chains (kube-proxy's, the user's) run at their own priorities as before.
func NATChains(n *dataplane.NATOutgoing) []*Chain {
	if n == nil {
		return nil
	}
	var rules []Rule
	for _, fam := range []Family{IPv4, IPv6} {
		masq := netsOfFamily(n.Masquerade, fam)
		if len(masq) == 0 {
			continue
		}
		ms := []Match{NFProtoMatch{Family: fam}, AddrNetsMatch{Family: fam, Dir: Src, Nets: masq}}
		if pools := netsOfFamily(n.AllPools, fam); len(pools) > 0 {
			ms = append(ms, AddrNetsMatch{Family: fam, Dir: Dst, Nets: pools, Negate: true})
		}
		rules = append(rules, Rule{Matches: ms, Verdict: Verdict{Kind: VerdictMasquerade},
			Comment: "natOutgoing: pool to outside the pools"})
	}
	if len(rules) == 0 {
		return nil
	}
	return []*Chain{{Name: ChainNATPostrouting, Hook: &Hook{Name: "postrouting", NAT: true},
		Comment: "masquerade pod traffic leaving the IP pools", Rules: rules}}
}
