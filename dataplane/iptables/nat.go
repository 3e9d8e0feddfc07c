package iptables

import (
	"github.com/palisadenet/palisade/dataplane"
)

// NATChain renders one family's outgoing NAT (IPPool natOutgoing) as the nat table's
// cali-nat-outgoing chain, jumped to from the top of POSTROUTING: traffic to any pool
// keeps its source address, traffic from a natOutgoing pool to anywhere else is
// masqueraded to the node's address. Nil when the family has no natOutgoing pool, so
// no nat chain or jump exists at all then. randomFully adds MASQUERADE --random-fully
// (source ports picked at random: fewer conntrack clashes) where iptables supports it.
func NATChain(n *dataplane.NATOutgoing, fam Family, randomFully bool) *Chain {
	if n == nil {
		return nil
	}
	masq := netsOfFamily(n.Masquerade, fam)
	if len(masq) == 0 {
		return nil
	}
	c := &Chain{Name: ChainNATOutgoing}
	for _, p := range netsOfFamily(n.AllPools, fam) {
		c.Rules = append(c.Rules, Rule{Match: "-d " + p.String(), Target: "-j RETURN", Comment: "to a pool: keep the pod's address"})
	}
	target := "-j MASQUERADE"
	if randomFully {
		target += " --random-fully"
	}
	for _, p := range masq {
		c.Rules = append(c.Rules, Rule{Match: "-s " + p.String(), Target: target, Comment: "natOutgoing: pool to outside the pools"})
	}
	return c
}
