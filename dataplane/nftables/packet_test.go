package nftables

import (
	"net/netip"

	"testing"

	"github.com/palisadenet/palisade/dataplane"
)

func TestPacketsProfileAllowsAll(t *testing.T) {
	n := newNode(t)
	n.apply(t, allowProfile("ns"), wl("ns/a", ifaceA), wl("ns/b", ifaceB), wl("ns/c", ifaceC))
	n.check(t,
		probe{"a", "tcp", addrB, 8080, true},
		probe{"a", "udp", addrB, 8080, true},
		probe{"a", "icmp", addrB, 0, true},
		probe{"a", "tcp", addrB6, 8080, true},
		probe{"a", "icmp", addrB6, 0, true},
	)
}

func TestPacketsUnknownWorkloadInterfaceDropped(t *testing.T) {
	n := newNode(t)
	// c's interface is not an endpoint: fail closed both ways.
	n.apply(t, allowProfile("ns"), wl("ns/a", ifaceA), wl("ns/b", ifaceB))
	n.check(t,
		probe{"a", "tcp", addrB, 8080, true},
		probe{"c", "tcp", addrB, 8080, false},
		probe{"a", "icmp", addrC, 0, false},
	)
}

func TestPacketsDenyAndAllowRules(t *testing.T) {
	n := newNode(t)
	fromA := netsSet("sel-a", "10.65.0.1/32", "fd00:65::1/128")
	allowTCP8080FromA := policyWithRule("allow-a-8080", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: u8(6),
		Source: dataplane.EndpointMatch{SetIDs: []string{"sel-a"}}, Destination: dataplane.EndpointMatch{
			Ports: []dataplane.PortRange{{First: 8080, Last: 8080}}}})
	n.apply(t, fromA, allowTCP8080FromA, allowProfile("ns"), wl("ns/a", ifaceA), wl("ns/c", ifaceC),
		wl("ns/b", ifaceB, ingressTier("default", dataplane.ActionDeny, allowTCP8080FromA.ID)))
	n.check(t,
		probe{"a", "tcp", addrB, 8080, true},
		probe{"a", "tcp", addrB6, 8080, true},
		probe{"a", "tcp", addrB, 9090, false}, // port not allowed: end of tier drops
		probe{"a", "udp", addrB, 8080, false}, // protocol not allowed
		probe{"a", "icmp", addrB, 0, false},   // selected endpoint is default-deny
		probe{"c", "tcp", addrB, 8080, false}, // not in the source set
		probe{"b", "tcp", addrA, 8080, false}, // nothing listens on a: sanity of probes
	)
}

func TestPacketsPassToNextTier(t *testing.T) {
	n := newNode(t)
	pass := &dataplane.Policy{ID: pid("security", "pass-tcp"), Inbound: []dataplane.Rule{
		{ID: "pass", Action: dataplane.ActionPass, Protocol: u8(6)},
		{ID: "deny", Action: dataplane.ActionDeny}}}
	allow9090 := policyWithRule("allow-9090", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: u8(6),
		Destination: dataplane.EndpointMatch{Ports: []dataplane.PortRange{{First: 9090, Last: 9090}}}})
	n.apply(t, pass, allow9090, allowProfile("ns"), wl("ns/a", ifaceA),
		wl("ns/b", ifaceB, ingressTier("security", dataplane.ActionDeny, pass.ID),
			ingressTier("default", dataplane.ActionDeny, allow9090.ID)))
	n.check(t,
		probe{"a", "tcp", addrB, 9090, true},  // passed, then allowed by the next tier
		probe{"a", "tcp", addrB, 8080, false}, // passed, then end of tier default
		probe{"a", "udp", addrB, 9090, false}, // denied in tier security
	)
}

func TestPacketsNamedPortAndNets(t *testing.T) {
	n := newNode(t)
	np := namedPortSet("np-http", 9090, 6, "10.65.0.2/32", "fd00:65::2/128")
	p := &dataplane.Policy{ID: pid("default", "named"), Inbound: []dataplane.Rule{{ID: "np", Action: dataplane.ActionAllow,
		Protocol: u8(6), Source: dataplane.EndpointMatch{Nets: []netip.Prefix{pfx("10.65.0.0/31"), pfx("fd00:65::/127")}},
		Destination: dataplane.EndpointMatch{NamedPortSetIDs: []string{"np-http"}}}}}
	n.apply(t, np, p, allowProfile("ns"), wl("ns/a", ifaceA), wl("ns/c", ifaceC),
		wl("ns/b", ifaceB, ingressTier("default", dataplane.ActionDeny, p.ID)))
	n.check(t,
		probe{"a", "tcp", addrB, 9090, true},
		probe{"a", "tcp", addrB6, 9090, true},
		probe{"a", "tcp", addrB, 8080, false}, // not the named port
		probe{"c", "tcp", addrB, 9090, false}, // 10.65.0.3 outside 10.65.0.0/31
		probe{"c", "tcp", addrB6, 9090, false},
	)
}

func TestPacketsIPVersionAndICMP(t *testing.T) {
	n := newNode(t)
	p := &dataplane.Policy{ID: pid("default", "v4-only"), Inbound: []dataplane.Rule{
		{ID: "tcp4", Action: dataplane.ActionAllow, IPVersion: 4, Protocol: u8(6)},
		{ID: "ping6", Action: dataplane.ActionAllow, Protocol: u8(58), ICMP: &dataplane.ICMPMatch{Type: 128}},
	}}
	n.apply(t, p, allowProfile("ns"), wl("ns/a", ifaceA), wl("ns/b", ifaceB, ingressTier("default", dataplane.ActionDeny, p.ID)))
	n.check(t,
		probe{"a", "tcp", addrB, 8080, true},
		probe{"a", "tcp", addrB6, 8080, false}, // ipVersion 4 never matches IPv6
		probe{"a", "icmp", addrB6, 0, true},    // echo request allowed on v6
		probe{"a", "icmp", addrB, 0, false},
	)
}

func TestPacketsEgressAndIngressBothApply(t *testing.T) {
	n := newNode(t)
	denyEgress := &dataplane.Policy{ID: pid("default", "deny-egress-8080"), Outbound: []dataplane.Rule{
		{ID: "deny", Action: dataplane.ActionDeny, Protocol: u8(6), Destination: dataplane.EndpointMatch{
			Ports: []dataplane.PortRange{{First: 8080, Last: 8080}}}},
		{ID: "allow", Action: dataplane.ActionAllow}}}
	a := wl("ns/a", ifaceA, dataplane.TierPolicies{Name: "default", EgressPolicies: []dataplane.PolicyID{denyEgress.ID}, DefaultAction: dataplane.ActionDeny})
	n.apply(t, denyEgress, allowProfile("ns"), a, wl("ns/b", ifaceB), wl("ns/c", ifaceC))
	n.check(t,
		probe{"a", "tcp", addrB, 8080, false}, // egress denies although b's ingress allows
		probe{"a", "tcp", addrB, 9090, true},  // egress allow continues to b's ingress, which allows
		probe{"c", "tcp", addrB, 8080, true},
	)
	// Now b's ingress denies 9090: a's egress allow must not be enough.
	denyIngress := &dataplane.Policy{ID: pid("default", "deny-9090"), Inbound: []dataplane.Rule{
		{ID: "deny", Action: dataplane.ActionDeny, Protocol: u8(6), Destination: dataplane.EndpointMatch{
			Ports: []dataplane.PortRange{{First: 9090, Last: 9090}}}},
		{ID: "allow", Action: dataplane.ActionAllow}}}
	n.apply(t, denyIngress, wl("ns/b", ifaceB, ingressTier("default", dataplane.ActionDeny, denyIngress.ID)))
	n.check(t, probe{"a", "tcp", addrB, 9090, false}, probe{"c", "tcp", addrB, 8080, true})
}

// TestPacketsIPv6NeighborDiscoveryDespiteEgressPolicy: a pod whose egress policy only
// allows TCP 8080 must still resolve its IPv6 gateway (neighbor discovery goes to the
// host, through the input hook), or no IPv6 traffic could leave it at all.
func TestPacketsIPv6NeighborDiscoveryDespiteEgressPolicy(t *testing.T) {
	n := newNode(t)
	only8080 := &dataplane.Policy{ID: pid("default", "only-8080"), Outbound: []dataplane.Rule{
		{ID: "allow", Action: dataplane.ActionAllow, Protocol: u8(6), Destination: dataplane.EndpointMatch{
			Ports: []dataplane.PortRange{{First: 8080, Last: 8080}}}}}}
	a := wl("ns/a", ifaceA, dataplane.TierPolicies{Name: "default", EgressPolicies: []dataplane.PolicyID{only8080.ID}, DefaultAction: dataplane.ActionDeny})
	n.apply(t, only8080, allowProfile("ns"), a, wl("ns/b", ifaceB))
	n.a.MustRun(t, "ip", "-6", "neigh", "flush", "all")
	n.check(t, probe{"a", "tcp", addrB6, 8080, true}, probe{"a", "tcp", addrB6, 9090, false})
}
