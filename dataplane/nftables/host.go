package nftables

import (
	"fmt"
	"net/netip"
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

// ProtoPort is one failsafe port: a destination port, optionally only for peers in
// Net (the source of inbound traffic, the destination of outbound; zero: any).
type ProtoPort struct {
	Proto uint8 // 6 TCP, 17 UDP, 132 SCTP
	Port  uint16
	Net   netip.Prefix
}

// Default failsafe ports, as Felix's defaults (dataplane.DefaultFailsafeInbound and
// DefaultFailsafeOutbound): SSH, DHCP, BGP, etcd, Typha, the Kubernetes API server,
// and DNS/DHCP out.
var (
	DefaultFailsafeInbound  = protoPorts(dataplane.DefaultFailsafeInbound)
	DefaultFailsafeOutbound = protoPorts(dataplane.DefaultFailsafeOutbound)
)

func protoPorts(in []dataplane.FailsafePort) []ProtoPort {
	out := make([]ProtoPort, len(in))
	for i, p := range in {
		out[i] = ProtoPort{Proto: p.Protocol, Port: p.Port, Net: p.Net}
	}
	return out
}

// withConfig applies the failsafe lists of cfg (FelixConfiguration): a non-nil list
// replaces the Options' (an empty one means none); nil keeps them.
func (o Options) withConfig(cfg dataplane.Config) Options {
	if cfg.FailsafeInbound != nil {
		o.FailsafeInbound = protoPorts(cfg.FailsafeInbound)
	}
	if cfg.FailsafeOutbound != nil {
		o.FailsafeOutbound = protoPorts(cfg.FailsafeOutbound)
	}
	return o
}

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
	in.Rules = append(in.Rules, failsafeRules(opt.failsafeInbound(), Src, "inbound")...)
	in.Rules = append(in.Rules, Rule{Verdict: Verdict{Kind: VerdictMap, Map: MapHostIngress, MapKey: IIFName}})
	out := &Chain{Name: ChainHostOutput, Comment: "traffic from the host out of its own interfaces"}
	out.Rules = append(out.Rules, conntrackAccept(), ndRule())
	out.Rules = append(out.Rules, failsafeRules(opt.failsafeOutbound(), Dst, "outbound")...)
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

// failsafeRules accept the failsafe destination ports: one rule per protocol for the
// ports open to any peer, then one per port limited to a peer network (peer is the
// side the network applies to: Src inbound, Dst outbound).
func failsafeRules(ports []ProtoPort, peer Dir, dir string) []Rule {
	var out []Rule
	for _, proto := range []uint8{6, 17, 132} {
		var ranges []PortRange
		for _, p := range ports {
			if p.Proto == proto && !p.Net.IsValid() {
				ranges = append(ranges, PortRange{First: p.Port, Last: p.Port})
			}
		}
		if len(ranges) == 0 {
			continue
		}
		out = append(out, Rule{Matches: []Match{L4ProtoMatch{Protos: []uint8{proto}}, PortMatch{Dir: Dst, Ranges: ranges}},
			Verdict: Verdict{Kind: VerdictAccept}, Comment: "failsafe " + dir})
	}
	for _, p := range ports {
		if !p.Net.IsValid() {
			continue
		}
		fam := IPv4
		if !p.Net.Addr().Is4() {
			fam = IPv6
		}
		out = append(out, Rule{Matches: []Match{NFProtoMatch{Family: fam}, L4ProtoMatch{Protos: []uint8{p.Proto}},
			AddrNetsMatch{Family: fam, Dir: peer, Nets: []netip.Prefix{p.Net}},
			PortMatch{Dir: Dst, Ranges: []PortRange{{First: p.Port, Last: p.Port}}}},
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
