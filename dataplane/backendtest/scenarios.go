package backendtest

import (
	"net/netip"
	"testing"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// Scenario is one packet test: it applies desired state to a fresh Node and checks
// verdicts.
type Scenario struct {
	Name string
	Run  func(t *testing.T, n *Node)
}

// Scenarios are the packet tests every backend must pass with the same verdicts.
func Scenarios() []Scenario {
	return []Scenario{
		{"ProfileAllowsAll", profileAllowsAll},
		{"UnknownWorkloadInterfaceDropped", unknownInterfaceDropped},
		{"DenyAndAllowRules", denyAndAllowRules},
		{"PassToNextTier", passToNextTier},
		{"NamedPortAndNets", namedPortAndNets},
		{"IPVersionAndICMP", ipVersionAndICMP},
		{"EgressAndIngressBothApply", egressAndIngressBothApply},
		{"IPv6NeighborDiscoveryDespiteEgressPolicy", ipv6NeighborDiscovery},
		{"EndpointToHost", endpointToHost},
		{"SetMemberChanges", setMemberChanges},
		{"EstablishedConnectionSurvivesReapply", establishedSurvivesReapply},
		{"MissingSetFailsClosedThenRecovers", missingSetFailsClosed},
		{"FirstMemberOfAFamilyAddsRules", firstMemberOfAFamily},
		{"Removals", removals},
	}
}

// Run runs every scenario as a subtest, each on its own node.
func Run(t *testing.T, tools []string, newDP func(t *testing.T, node *netnstest.NS) Backend) {
	for _, sc := range Scenarios() {
		t.Run(sc.Name, func(t *testing.T) {
			sc.Run(t, NewNode(t, tools, newDP))
		})
	}
}

func profileAllowsAll(t *testing.T, n *Node) {
	n.Apply(t, AllowProfile("ns"), WL("ns/a", IfaceA), WL("ns/b", IfaceB), WL("ns/c", IfaceC))
	n.Check(t,
		Probe{"a", "tcp", AddrB, 8080, true},
		Probe{"a", "udp", AddrB, 8080, true},
		Probe{"a", "icmp", AddrB, 0, true},
		Probe{"a", "tcp", AddrB6, 8080, true},
		Probe{"a", "icmp", AddrB6, 0, true},
	)
}

func unknownInterfaceDropped(t *testing.T, n *Node) {
	// c's interface is not an endpoint: fail closed both ways.
	n.Apply(t, AllowProfile("ns"), WL("ns/a", IfaceA), WL("ns/b", IfaceB))
	n.Check(t,
		Probe{"a", "tcp", AddrB, 8080, true},
		Probe{"c", "tcp", AddrB, 8080, false},
		Probe{"a", "icmp", AddrC, 0, false},
		Probe{"c", "tcp", AddrB6, 8080, false},
	)
}

func denyAndAllowRules(t *testing.T, n *Node) {
	fromA := NetsSet("sel-a", "10.65.0.1/32", "fd00:65::1/128")
	allow := PolicyWithRule("allow-a-8080", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: U8(6),
		Source: dataplane.EndpointMatch{SetIDs: []string{"sel-a"}}, Destination: dataplane.EndpointMatch{
			Ports: []dataplane.PortRange{{First: 8080, Last: 8080}}}})
	n.Apply(t, fromA, allow, AllowProfile("ns"), WL("ns/a", IfaceA), WL("ns/c", IfaceC),
		WL("ns/b", IfaceB, IngressTier("default", dataplane.ActionDeny, allow.ID)))
	n.Check(t,
		Probe{"a", "tcp", AddrB, 8080, true},
		Probe{"a", "tcp", AddrB6, 8080, true},
		Probe{"a", "tcp", AddrB, 9090, false}, // port not allowed: end of tier drops
		Probe{"a", "udp", AddrB, 8080, false}, // protocol not allowed
		Probe{"a", "icmp", AddrB, 0, false},   // selected endpoint is default-deny
		Probe{"c", "tcp", AddrB, 8080, false}, // not in the source set
		Probe{"b", "tcp", AddrA, 8080, false}, // nothing listens on a: sanity of probes
	)
}

func passToNextTier(t *testing.T, n *Node) {
	pass := &dataplane.Policy{ID: PID("security", "pass-tcp"), Inbound: []dataplane.Rule{
		{ID: "pass", Action: dataplane.ActionPass, Protocol: U8(6)},
		{ID: "deny", Action: dataplane.ActionDeny}}}
	allow9090 := PolicyWithRule("allow-9090", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: U8(6),
		Destination: dataplane.EndpointMatch{Ports: []dataplane.PortRange{{First: 9090, Last: 9090}}}})
	n.Apply(t, pass, allow9090, AllowProfile("ns"), WL("ns/a", IfaceA),
		WL("ns/b", IfaceB, IngressTier("security", dataplane.ActionDeny, pass.ID),
			IngressTier("default", dataplane.ActionDeny, allow9090.ID)))
	n.Check(t,
		Probe{"a", "tcp", AddrB, 9090, true},  // passed, then allowed by the next tier
		Probe{"a", "tcp", AddrB, 8080, false}, // passed, then end of tier default
		Probe{"a", "udp", AddrB, 9090, false}, // denied in tier security
	)
	// A tier whose default is Pass hands undecided traffic to the next tier.
	onlyLog := &dataplane.Policy{ID: PID("security", "log"), Inbound: []dataplane.Rule{{ID: "log", Action: dataplane.ActionLog, LogPrefix: "probe"}}}
	n.Apply(t, onlyLog, WL("ns/b", IfaceB, IngressTier("security", dataplane.ActionPass, onlyLog.ID),
		IngressTier("default", dataplane.ActionDeny, allow9090.ID)))
	n.Check(t, Probe{"a", "tcp", AddrB, 9090, true}, Probe{"a", "tcp", AddrB, 8080, false})
}

func namedPortAndNets(t *testing.T, n *Node) {
	np := NamedPortSet("np-http", 9090, 6, "10.65.0.2/32", "fd00:65::2/128")
	p := &dataplane.Policy{ID: PID("default", "named"), Inbound: []dataplane.Rule{{ID: "np", Action: dataplane.ActionAllow,
		Protocol: U8(6), Source: dataplane.EndpointMatch{Nets: []netip.Prefix{netip.MustParsePrefix("10.65.0.0/31"), netip.MustParsePrefix("fd00:65::/127")}},
		Destination: dataplane.EndpointMatch{NamedPortSetIDs: []string{"np-http"}}}}}
	n.Apply(t, np, p, AllowProfile("ns"), WL("ns/a", IfaceA), WL("ns/c", IfaceC),
		WL("ns/b", IfaceB, IngressTier("default", dataplane.ActionDeny, p.ID)))
	n.Check(t,
		Probe{"a", "tcp", AddrB, 9090, true},
		Probe{"a", "tcp", AddrB6, 9090, true},
		Probe{"a", "tcp", AddrB, 8080, false}, // not the named port
		Probe{"c", "tcp", AddrB, 9090, false}, // 10.65.0.3 outside 10.65.0.0/31
		Probe{"c", "tcp", AddrB6, 9090, false},
	)
	// notNets and notPorts: deny everything but a's port 8080 traffic.
	q := &dataplane.Policy{ID: PID("default", "not"), Inbound: []dataplane.Rule{
		{ID: "deny-not-a", Action: dataplane.ActionDeny, Source: dataplane.EndpointMatch{
			NotNets: []netip.Prefix{netip.MustParsePrefix("10.65.0.1/32"), netip.MustParsePrefix("fd00:65::1/128")}}},
		{ID: "deny-not-8080", Action: dataplane.ActionDeny, Protocol: U8(6), Destination: dataplane.EndpointMatch{
			NotPorts: []dataplane.PortRange{{First: 8080, Last: 8080}}}},
		{ID: "allow", Action: dataplane.ActionAllow}}}
	n.Apply(t, q, WL("ns/b", IfaceB, IngressTier("default", dataplane.ActionDeny, q.ID)))
	n.Check(t,
		Probe{"a", "tcp", AddrB, 8080, true},
		Probe{"a", "tcp", AddrB6, 8080, true},
		Probe{"a", "tcp", AddrB, 9090, false},
		Probe{"c", "tcp", AddrB, 8080, false},
	)
}

func ipVersionAndICMP(t *testing.T, n *Node) {
	p := &dataplane.Policy{ID: PID("default", "v4-only"), Inbound: []dataplane.Rule{
		{ID: "tcp4", Action: dataplane.ActionAllow, IPVersion: 4, Protocol: U8(6)},
		{ID: "ping6", Action: dataplane.ActionAllow, Protocol: U8(58), ICMP: &dataplane.ICMPMatch{Type: 128}},
	}}
	n.Apply(t, p, AllowProfile("ns"), WL("ns/a", IfaceA), WL("ns/b", IfaceB, IngressTier("default", dataplane.ActionDeny, p.ID)))
	n.Check(t,
		Probe{"a", "tcp", AddrB, 8080, true},
		Probe{"a", "tcp", AddrB6, 8080, false}, // ipVersion 4 never matches IPv6
		Probe{"a", "icmp", AddrB6, 0, true},    // echo request allowed on v6
		Probe{"a", "icmp", AddrB, 0, false},
	)
	// notICMP: everything but echo request (type 8 code 0) is allowed.
	q := &dataplane.Policy{ID: PID("default", "no-ping"), Inbound: []dataplane.Rule{
		{ID: "not-echo", Action: dataplane.ActionAllow, Protocol: U8(1), NotICMP: &dataplane.ICMPMatch{Type: 8, Code: U8(0)}},
		{ID: "tcp", Action: dataplane.ActionAllow, Protocol: U8(6)}}}
	n.Apply(t, q, WL("ns/b", IfaceB, IngressTier("default", dataplane.ActionDeny, q.ID)))
	n.Check(t, Probe{"a", "icmp", AddrB, 0, false}, Probe{"a", "tcp", AddrB, 8080, true})
}

func egressAndIngressBothApply(t *testing.T, n *Node) {
	denyEgress := &dataplane.Policy{ID: PID("default", "deny-egress-8080"), Outbound: []dataplane.Rule{
		{ID: "deny", Action: dataplane.ActionDeny, Protocol: U8(6), Destination: dataplane.EndpointMatch{
			Ports: []dataplane.PortRange{{First: 8080, Last: 8080}}}},
		{ID: "allow", Action: dataplane.ActionAllow}}}
	a := WL("ns/a", IfaceA, EgressTier("default", dataplane.ActionDeny, denyEgress.ID))
	n.Apply(t, denyEgress, AllowProfile("ns"), a, WL("ns/b", IfaceB), WL("ns/c", IfaceC))
	n.Check(t,
		Probe{"a", "tcp", AddrB, 8080, false}, // egress denies although b's ingress allows
		Probe{"a", "tcp", AddrB, 9090, true},  // egress allow continues to b's ingress, which allows
		Probe{"c", "tcp", AddrB, 8080, true},
	)
	// Now b's ingress denies 9090: a's egress allow must not be enough.
	denyIngress := &dataplane.Policy{ID: PID("default", "deny-9090"), Inbound: []dataplane.Rule{
		{ID: "deny", Action: dataplane.ActionDeny, Protocol: U8(6), Destination: dataplane.EndpointMatch{
			Ports: []dataplane.PortRange{{First: 9090, Last: 9090}}}},
		{ID: "allow", Action: dataplane.ActionAllow}}}
	n.Apply(t, denyIngress, WL("ns/b", IfaceB, IngressTier("default", dataplane.ActionDeny, denyIngress.ID)))
	n.Check(t, Probe{"a", "tcp", AddrB, 9090, false}, Probe{"c", "tcp", AddrB, 8080, true})
}

// ipv6NeighborDiscovery: a pod whose egress policy only allows TCP 8080 must still
// resolve its IPv6 gateway, or no IPv6 traffic could leave it at all.
func ipv6NeighborDiscovery(t *testing.T, n *Node) {
	only8080 := &dataplane.Policy{ID: PID("default", "only-8080"), Outbound: []dataplane.Rule{
		{ID: "allow", Action: dataplane.ActionAllow, Protocol: U8(6), Destination: dataplane.EndpointMatch{
			Ports: []dataplane.PortRange{{First: 8080, Last: 8080}}}}}}
	a := WL("ns/a", IfaceA, EgressTier("default", dataplane.ActionDeny, only8080.ID))
	n.Apply(t, only8080, AllowProfile("ns"), a, WL("ns/b", IfaceB))
	n.A.MustRun(t, "ip", "-6", "neigh", "flush", "all")
	n.Check(t, Probe{"a", "tcp", AddrB6, 8080, true}, Probe{"a", "tcp", AddrB6, 9090, false})
}

// endpointToHost: traffic from a pod to its own node runs the pod's egress policy,
// then Config.EndpointToHostAction.
func endpointToHost(t *testing.T, n *Node) {
	deny7070 := &dataplane.Policy{ID: PID("default", "no-7070"), Outbound: []dataplane.Rule{
		{ID: "deny", Action: dataplane.ActionDeny, Protocol: U8(6), Destination: dataplane.EndpointMatch{
			Ports: []dataplane.PortRange{{First: 7070, Last: 7070}}}}}}
	c := WL("ns/c", IfaceC, EgressTier("default", dataplane.ActionDeny, deny7070.ID))
	n.Apply(t, deny7070, AllowProfile("ns"), WL("ns/a", IfaceA), c, dataplane.Config{EndpointToHostAction: dataplane.ActionAllow})
	n.Check(t, Probe{"a", "tcp", HostAddr, 7070, true}, Probe{"c", "tcp", HostAddr, 7070, false})
	n.Apply(t, dataplane.Config{EndpointToHostAction: dataplane.ActionDeny})
	n.Check(t, Probe{"a", "tcp", HostAddr, 7070, false})
	n.Apply(t, dataplane.Config{EndpointToHostAction: dataplane.ActionPass})
	n.Check(t, Probe{"a", "tcp", HostAddr, 7070, true}, Probe{"c", "tcp", HostAddr, 7070, false})
}

func setMemberChanges(t *testing.T, n *Node) {
	n.Apply(t, AllowFromSetState()...)
	n.Check(t, Probe{"c", "tcp", AddrB, 8080, false}, Probe{"a", "tcp", AddrB, 8080, true})
	n.Apply(t, &dataplane.SetDelta{ID: "sel-allowed", Added: []dataplane.SetMember{{Prefix: netip.PrefixFrom(AddrC, 32)}}})
	n.Check(t, Probe{"c", "tcp", AddrB, 8080, true})
	n.Apply(t, &dataplane.SetDelta{ID: "sel-allowed", Removed: []dataplane.SetMember{{Prefix: netip.PrefixFrom(AddrA, 32)}}})
	n.Check(t, Probe{"a", "tcp", AddrB, 8080, false}, Probe{"c", "tcp", AddrB, 8080, true},
		Probe{"a", "tcp", AddrB6, 8080, true}) // a's IPv6 address is still a member
	// A covering net, then its removal: the /32 inside it stays a member.
	wide := dataplane.SetMember{Prefix: netip.MustParsePrefix("10.65.0.0/24")}
	n.Apply(t, &dataplane.SetDelta{ID: "sel-allowed", Added: []dataplane.SetMember{wide}})
	n.Check(t, Probe{"a", "tcp", AddrB, 8080, true})
	n.Apply(t, &dataplane.SetDelta{ID: "sel-allowed", Removed: []dataplane.SetMember{wide}})
	n.Check(t, Probe{"a", "tcp", AddrB, 8080, false}, Probe{"c", "tcp", AddrB, 8080, true})
	// A whole-set replace.
	n.Apply(t, NetsSet("sel-allowed", "10.65.0.1/32"))
	n.Check(t, Probe{"a", "tcp", AddrB, 8080, true}, Probe{"c", "tcp", AddrB, 8080, false})
}

func establishedSurvivesReapply(t *testing.T, n *Node) {
	objs := AllowFromSetState()
	n.Apply(t, objs...)
	conn, err := n.A.DialTCP(netip.AddrPortFrom(AddrB, 8080), AllowTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := netnstest.Echo(conn, AllowTimeout); err != nil {
		t.Fatal(err)
	}
	// Re-apply the policy with an extra rule: its chain is rewritten.
	p := *objs[1].(*dataplane.Policy)
	p.Inbound = append([]dataplane.Rule{{ID: "log", Action: dataplane.ActionLog, LogPrefix: "probe"}}, p.Inbound...)
	n.Apply(t, &p)
	if err := netnstest.Echo(conn, AllowTimeout); err != nil {
		t.Errorf("established connection broken by re-apply: %v", err)
	}
	n.Check(t, Probe{"a", "tcp", AddrB, 8080, true}, Probe{"c", "tcp", AddrB, 8080, false})
}

// missingSetFailsClosed: a policy whose set has not arrived yet drops (only for
// endpoints using it); when the set arrives the policy is rendered again.
func missingSetFailsClosed(t *testing.T, n *Node) {
	objs := AllowFromSetState()
	n.Apply(t, objs[1:]...)
	n.Check(t, Probe{"a", "tcp", AddrB, 8080, false}, Probe{"b", "icmp", AddrA, 0, true})
	n.Apply(t, objs[0])
	n.Check(t, Probe{"a", "tcp", AddrB, 8080, true})
}

// firstMemberOfAFamily: rules needing a set empty in one family are left out for it;
// the first member of that family brings them in, removing the last takes them out.
func firstMemberOfAFamily(t *testing.T, n *Node) {
	objs := AllowFromSetState()
	objs[0] = NetsSet("sel-allowed", "10.65.0.1/32") // IPv4 only
	n.Apply(t, objs...)
	n.Check(t, Probe{"a", "tcp", AddrB, 8080, true}, Probe{"a", "tcp", AddrB6, 8080, false})
	a6 := dataplane.SetMember{Prefix: netip.PrefixFrom(AddrA6, 128)}
	n.Apply(t, &dataplane.SetDelta{ID: "sel-allowed", Added: []dataplane.SetMember{a6}})
	n.Check(t, Probe{"a", "tcp", AddrB6, 8080, true})
	n.Apply(t, &dataplane.SetDelta{ID: "sel-allowed", Removed: []dataplane.SetMember{a6}})
	n.Check(t, Probe{"a", "tcp", AddrB6, 8080, false}, Probe{"a", "tcp", AddrB, 8080, true})
}

// removals: removing a policy still referenced fails its endpoint closed; removing an
// endpoint drops its interface as unknown; removing the profile makes the rest deny.
func removals(t *testing.T, n *Node) {
	objs := AllowFromSetState()
	n.Apply(t, objs...)
	p := objs[1].(*dataplane.Policy)
	if err := n.DP.Apply([]dataplane.Update{{PolicyRemove: &p.ID}}); err != nil {
		t.Fatalf("removing a referenced policy: %v", err)
	}
	n.Check(t, Probe{"a", "tcp", AddrB, 8080, false}, Probe{"b", "icmp", AddrA, 0, true})
	n.Apply(t, "ns/a")
	n.Check(t, Probe{"a", "icmp", AddrC, 0, false}, Probe{"b", "icmp", AddrC, 0, true})
	if err := n.DP.Apply([]dataplane.Update{{SetRemove: "sel-allowed"}, {ProfileRemove: "kns.ns"}}); err != nil {
		t.Fatalf("removing set and profile: %v", err)
	}
	n.Check(t, Probe{"b", "icmp", AddrC, 0, false}) // no profile: default deny
}
