package nftables

import (
	"fmt"
	"strings"

	"github.com/palisadenet/palisade/dataplane"
)

// Host endpoints (HostEndpoint resources) put policy on the node's own interfaces:
// a host endpoint's ingress chain judges traffic arriving on its interface for the
// host itself (input hook) and its egress chain traffic the host sends out of it
// (output hook). Forwarded traffic (pods, routed packets) is not affected: that would
// be applyOnForward policy, which the desired-state model does not carry. Replies of
// allowed flows pass by conntrack, and the failsafe ports stay open whatever the
// policy says, so a wrong policy cannot cut the node off from SSH, BGP, etcd or the
// API server.
const (
	ChainHostInput  = "host-input"  // input traffic on non-workload interfaces
	ChainHostOutput = "host-output" // output traffic on non-workload interfaces
	MapHostIngress  = "to-host"     // iifname -> that host endpoint's ingress chain
	MapHostEgress   = "from-host"   // oifname -> that host endpoint's egress chain
)

// ProtoPort is one failsafe port.
type ProtoPort struct {
	Proto uint8 // 6 TCP, 17 UDP
	Port  uint16
}

// Default failsafe ports, as Felix's defaults: SSH, DHCP, BGP, etcd, Typha, the
// Kubernetes API server, and DNS/DHCP out.
var (
	DefaultFailsafeInbound = []ProtoPort{{6, 22}, {17, 68}, {6, 179}, {6, 2379}, {6, 2380}, {6, 5473},
		{6, 6443}, {6, 6666}, {6, 6667}}
	DefaultFailsafeOutbound = []ProtoPort{{17, 53}, {17, 67}, {6, 179}, {6, 2379}, {6, 2380}, {6, 5473},
		{6, 6443}, {6, 6666}, {6, 6667}}
)

// HostChainName is a host endpoint's ingress (traffic to the host) or egress chain.
func HostChainName(iface string, ingress bool) string {
	if ingress {
		return "hto-" + iface
	}
	return "hfrom-" + iface
}

// hostMaps returns the two host-endpoint verdict maps, without elements.
func hostMaps() (to, from *Set) {
	return &Set{Name: MapHostIngress, Type: SetIfaceVmap, Comment: "host endpoint interface to its ingress chain"},
		&Set{Name: MapHostEgress, Type: SetIfaceVmap, Comment: "host endpoint interface to its egress chain"}
}

// hostChains are the regular chains the input and output base chains hand non-workload
// traffic to: conntrack, failsafe ports, then the host endpoint of the interface (an
// interface without one is left alone).
func hostChains(opt Options) []*Chain {
	in := &Chain{Name: ChainHostInput, Comment: "traffic to the host from its own interfaces"}
	in.Rules = append(in.Rules, conntrackAccept(), ndRule())
	in.Rules = append(in.Rules, failsafeRules(opt.failsafeInbound(), "inbound")...)
	in.Rules = append(in.Rules, Rule{Verdict: Verdict{Kind: VerdictMap, Map: MapHostIngress, MapKey: IIFName}})
	out := &Chain{Name: ChainHostOutput, Comment: "traffic from the host out of its own interfaces"}
	out.Rules = append(out.Rules, conntrackAccept(), ndRule())
	out.Rules = append(out.Rules, failsafeRules(opt.failsafeOutbound(), "outbound")...)
	out.Rules = append(out.Rules, Rule{Verdict: Verdict{Kind: VerdictMap, Map: MapHostEgress, MapKey: OIFName}})
	return []*Chain{in, out}
}

func conntrackAccept() Rule {
	return Rule{Matches: []Match{CtStateMatch{States: CtEstablished | CtRelated}}, Verdict: Verdict{Kind: VerdictAccept}}
}

// ndRule accepts IPv6 neighbor discovery and MLD: not policy, the link needs them.
func ndRule() Rule {
	return Rule{Matches: []Match{NFProtoMatch{Family: IPv6}, L4ProtoMatch{Protos: []uint8{protoICMPv6}},
		ICMPTypesMatch{Family: IPv6, Types: []uint8{130, 131, 132, 133, 134, 135, 136, 143}}},
		Verdict: Verdict{Kind: VerdictAccept}, Comment: "IPv6 neighbor discovery and MLD"}
}

// failsafeRules accept the failsafe destination ports, one rule per protocol.
func failsafeRules(ports []ProtoPort, dir string) []Rule {
	var out []Rule
	for _, proto := range []uint8{6, 17} {
		var ranges []PortRange
		for _, p := range ports {
			if p.Proto == proto {
				ranges = append(ranges, PortRange{First: p.Port, Last: p.Port})
			}
		}
		if len(ranges) == 0 {
			continue
		}
		out = append(out, Rule{Matches: []Match{L4ProtoMatch{Protos: []uint8{proto}}, PortMatch{Dir: Dst, Ranges: ranges}},
			Verdict: Verdict{Kind: VerdictAccept}, Comment: "failsafe " + dir})
	}
	return out
}

func (o Options) failsafeInbound() []ProtoPort {
	if o.FailsafeInbound == nil {
		return DefaultFailsafeInbound
	}
	return o.FailsafeInbound
}

func (o Options) failsafeOutbound() []ProtoPort {
	if o.FailsafeOutbound == nil {
		return DefaultFailsafeOutbound
	}
	return o.FailsafeOutbound
}

// renderHostEndpoint renders a host endpoint's chains and map entries. The interface
// must be named: "*" (all interfaces) is only meaningful for preDNAT and
// applyOnForward policy, which the model does not carry.
func renderHostEndpoint(ep *dataplane.Endpoint, policyKnown func(dataplane.PolicyID) bool, profileKnown func(string) bool, opt Options) (*EndpointRender, error) {
	if ep.Iface == "*" {
		return nil, fmt.Errorf("host endpoint %s: all-interfaces host endpoints (interfaceName \"*\") are not supported", ep.Key)
	}
	if err := validIface(ep.Iface); err != nil {
		return nil, fmt.Errorf("host endpoint %s: %w", ep.Key, err)
	}
	if strings.HasPrefix(ep.Iface, WorkloadIfacePrefix) {
		return nil, fmt.Errorf("host endpoint %s: interface %s is a workload interface", ep.Key, ep.Iface)
	}
	from := endpointChain(ep, false, policyKnown, profileKnown, opt)
	to := endpointChain(ep, true, policyKnown, profileKnown, opt)
	from.Name, to.Name = HostChainName(ep.Iface, false), HostChainName(ep.Iface, true)
	from.Comment, to.Comment = "egress of host endpoint "+ep.Key, "ingress of host endpoint "+ep.Key
	return &EndpointRender{
		Chains:      []*Chain{from, to},
		FromElement: Element{Iface: ep.Iface, Chain: from.Name}, FromMap: MapHostEgress,
		ToElement: Element{Iface: ep.Iface, Chain: to.Name}, ToMap: MapHostIngress,
	}, nil
}
