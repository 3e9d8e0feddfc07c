package iptables

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/palisadenet/palisade/dataplane"
)

// Host endpoints (HostEndpoint resources) put policy on the node's own interfaces,
// with the nftables backend's semantics: the ingress policy judges traffic arriving
// on the interface for the host itself (INPUT), the egress policy traffic the host
// sends out of it (OUTPUT). Forwarded traffic is not affected. Replies of allowed
// flows and IPv6 neighbor discovery pass, and the failsafe ports stay open whatever
// the policy says. Interfaces without a host endpoint are not ours to judge: the
// dispatch chains have no default, so their traffic returns to the built-in chain
// untouched (an ACCEPT of ours would skip the host's own rules).
//
// Chain names are Calico's: cali-fh-<iface> ("from host endpoint") holds the ingress
// policy, cali-th-<iface> ("to host endpoint") the egress policy.
const (
	ChainFromHost     = "cali-from-host-endpoint" // INPUT: -i <iface> -g cali-fh-<iface>
	ChainToHost       = "cali-to-host-endpoint"   // OUTPUT: -o <iface> -g cali-th-<iface>
	ChainFailsafeIn   = "cali-failsafe-in"
	ChainFailsafeOut  = "cali-failsafe-out"
	hostIfaceWildcard = "*"
)

// HostChainName is a host endpoint's ingress (cali-fh-<iface>, traffic arriving from
// the interface for the host) or egress (cali-th-<iface>) chain.
func HostChainName(iface string, ingress bool) string {
	if ingress {
		return "cali-fh-" + iface
	}
	return "cali-th-" + iface
}

// checkHostIface rejects what a named host endpoint cannot be: all interfaces ("*",
// only meaningful for preDNAT and applyOnForward policy, which the model does not
// carry), a workload interface, or an invalid name.
func checkHostIface(ep *dataplane.Endpoint) error {
	if ep.Iface == hostIfaceWildcard {
		return fmt.Errorf("host endpoint %s: all-interfaces host endpoints (interfaceName \"*\") are not supported", ep.Key)
	}
	if err := validIface(ep.Iface); err != nil {
		return fmt.Errorf("host endpoint %s: %w", ep.Key, err)
	}
	if strings.HasPrefix(ep.Iface, strings.TrimSuffix(WorkloadIfaceWildcard, "+")) {
		return fmt.Errorf("host endpoint %s: interface %s is a workload interface", ep.Key, ep.Iface)
	}
	return nil
}

// hostNDTypes are the ICMPv6 types of neighbor discovery and MLD (with router
// advertisements: the host may learn its routes from them).
var hostNDTypes = []int{130, 131, 132, 133, 134, 135, 136, 143}

// renderHostEndpoint renders a host endpoint's ingress (cali-fh-) and egress
// (cali-th-) chains for one family. Each chain decides itself (it is reached by goto
// from cali-INPUT / cali-OUTPUT): conntrack replies and ND pass, then the failsafe
// chain, then the tiers and profiles as for a workload, then drop.
func renderHostEndpoint(ep *dataplane.Endpoint, fam Family, policyKnown func(dataplane.PolicyID) bool, profileKnown func(string) bool, opt Options) []*Chain {
	var out []*Chain
	for _, ingress := range []bool{true, false} {
		failsafe, what := ChainFailsafeOut, "egress of host endpoint "
		if ingress {
			failsafe, what = ChainFailsafeIn, "ingress of host endpoint "
		}
		rules := []Rule{{Match: "-m conntrack --ctstate RELATED,ESTABLISHED", Target: opt.allowTarget(), Comment: what + ep.Key}}
		if fam == IPv6 {
			for _, typ := range hostNDTypes {
				rules = append(rules, Rule{Match: fmt.Sprintf("-p ipv6-icmp -m icmp6 --icmpv6-type %d", typ),
					Target: opt.allowTarget(), Comment: "IPv6 neighbor discovery and MLD"})
			}
		}
		accepted := Rule{Match: hasMark(opt.acceptMark()), Target: opt.allowTarget()}
		rules = append(rules,
			Rule{Target: clearMark(opt.acceptMark() | opt.passMark())},
			Rule{Target: "-j " + failsafe, Comment: "failsafe ports"},
			Rule{Match: accepted.Match, Target: accepted.Target, Comment: "failsafe port"})
		c := endpointChain(ep, ingress, accepted, policyKnown, profileKnown, opt)
		c.Name = HostChainName(ep.Iface, ingress)
		c.Rules = append(rules, c.Rules...)
		out = append(out, c)
	}
	return out
}

// failsafeChains render Config's failsafe ports (Felix's defaults when a list is
// nil) for one family. Like a policy chain they set the accept mark and return; the
// host endpoint chain then allows. Ports limited to a peer network of the other
// family are left out.
func failsafeChains(fam Family, cfg dataplane.Config, opt Options) []*Chain {
	in, out := cfg.FailsafeInbound, cfg.FailsafeOutbound
	if in == nil {
		in = dataplane.DefaultFailsafeInbound
	}
	if out == nil {
		out = dataplane.DefaultFailsafeOutbound
	}
	return []*Chain{
		{Name: ChainFailsafeIn, Rules: failsafeRules(in, fam, true, opt)},
		{Name: ChainFailsafeOut, Rules: failsafeRules(out, fam, false, opt)},
	}
}

// failsafeRules: one multiport rule per protocol (chunked) for ports open to any peer,
// then one rule per port limited to a peer network (the source inbound, the
// destination outbound), then a return if any of them matched.
func failsafeRules(ports []dataplane.FailsafePort, fam Family, inbound bool, opt Options) []Rule {
	comment := "failsafe outbound"
	if inbound {
		comment = "failsafe inbound"
	}
	mark := setMark(opt.acceptMark())
	var rules []Rule
	for _, proto := range portProtos {
		var ranges []dataplane.PortRange
		for _, p := range ports {
			if p.Protocol == proto && !p.Net.IsValid() {
				ranges = append(ranges, dataplane.PortRange{First: p.Port, Last: p.Port})
			}
		}
		for _, chunk := range portChunks(ranges) {
			rules = append(rules, Rule{Match: "-p " + protoName(proto) + " -m multiport --dports " + chunk, Target: mark, Comment: comment})
		}
	}
	for _, p := range ports {
		if !p.Net.IsValid() || p.Net.Addr().Unmap().Is4() != (fam == IPv4) || !slices.Contains(portProtos, p.Protocol) {
			continue
		}
		peer := "-d "
		if inbound {
			peer = "-s "
		}
		net := netip.PrefixFrom(p.Net.Addr().Unmap(), p.Net.Bits()).Masked()
		rules = append(rules, Rule{Match: fmt.Sprintf("-p %s %s%s -m multiport --dports %d", protoName(p.Protocol), peer, net, p.Port),
			Target: mark, Comment: comment})
	}
	return rules
}
