// Package backendtest holds packet-test scenarios that any policy dataplane backend
// (nftables, iptables) can run: a node network namespace with three pods plumbed in
// as the CNI plugin does, desired state applied through the backend, and real TCP,
// UDP and ICMP probes whose verdicts must match the model's semantics.
//
// In: a constructor for the backend under test, given the node namespace. Out: test
// results; every namespace is deleted when the test ends. Tests skip (naming what is
// missing) without root, the ip tool, or the tools the backend needs.
//
// It also holds what both backends' own tests share: fixtures building desired-state
// objects (NetsSet, Workload, PolicyWithRule, ...), the golden rule cases and Golden
// file comparison, and the full-scale state and timing loops of the benchmarks
// (ScaleObjects, BenchSetMemberChange, ...).
package backendtest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// Backend is what the scenarios need of a dataplane.
type Backend interface {
	Apply([]dataplane.Update) error
	Resync() error
}

// Pod addresses and interfaces of the scenarios.
var (
	AddrA  = netip.MustParseAddr("10.65.0.1")
	AddrB  = netip.MustParseAddr("10.65.0.2")
	AddrC  = netip.MustParseAddr("10.65.0.3")
	AddrA6 = netip.MustParseAddr("fd00:65::1")
	AddrB6 = netip.MustParseAddr("fd00:65::2")
	AddrC6 = netip.MustParseAddr("fd00:65::3")
	// HostAddr is the node's own address (on lo) for endpoint-to-host probes.
	HostAddr = netip.MustParseAddr("10.64.0.1")
)

// Host-side interface names of pods a, b and c.
const (
	IfaceA = "cali0000000000a"
	IfaceB = "cali0000000000b"
	IfaceC = "cali0000000000c"
	// AllowTimeout and DenyTimeout bound one probe expected to pass or to fail.
	AllowTimeout = 2 * time.Second
	DenyTimeout  = 700 * time.Millisecond
)

// Node is a node namespace with pods a, b and c, b listening on TCP/UDP 8080 and
// 9090, the node itself on 7070 at HostAddr, and the backend programming the node.
type Node struct {
	NS, A, B, C *netnstest.NS
	DP          Backend
}

// NewNode builds the topology and the backend (newDP gets the node namespace).
func NewNode(t *testing.T, tools []string, newDP func(t *testing.T, node *netnstest.NS) Backend) *Node {
	t.Helper()
	netnstest.Require(t, tools...)
	n := &Node{NS: netnstest.New(t, "node"), A: netnstest.New(t, "a"), B: netnstest.New(t, "b"), C: netnstest.New(t, "c")}
	netnstest.AttachPod(t, n.NS, n.A, IfaceA, netip.PrefixFrom(AddrA, 32), netip.PrefixFrom(AddrA6, 128))
	netnstest.AttachPod(t, n.NS, n.B, IfaceB, netip.PrefixFrom(AddrB, 32), netip.PrefixFrom(AddrB6, 128))
	netnstest.AttachPod(t, n.NS, n.C, IfaceC, netip.PrefixFrom(AddrC, 32), netip.PrefixFrom(AddrC6, 128))
	n.B.Listen(t, 8080)
	n.B.Listen(t, 9090)
	n.NS.MustRun(t, "ip", "addr", "add", HostAddr.String()+"/32", "dev", "lo")
	n.NS.Listen(t, 7070)
	n.DP = newDP(t, n.NS)
	return n
}

// Apply applies objects (see UpdatesOf) and fails the test on error.
func (n *Node) Apply(t *testing.T, objs ...any) {
	t.Helper()
	if err := n.DP.Apply(UpdatesOf(objs...)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// UpdatesOf turns desired-state objects into an Update batch (sets first), ending
// with InSync so the batch is programmed. A string is an endpoint key to remove.
func UpdatesOf(objs ...any) []dataplane.Update {
	var sets, rest []dataplane.Update
	for _, o := range objs {
		switch o := o.(type) {
		case *dataplane.IPSet:
			sets = append(sets, dataplane.Update{SetUpdate: o})
		case *dataplane.SetDelta:
			sets = append(sets, dataplane.Update{SetDeltaUpdate: o})
		case *dataplane.Policy:
			rest = append(rest, dataplane.Update{PolicyUpdate: o})
		case *dataplane.Profile:
			rest = append(rest, dataplane.Update{ProfileUpdate: o})
		case *dataplane.Endpoint:
			rest = append(rest, dataplane.Update{EndpointUpdate: o})
		case dataplane.Config:
			rest = append(rest, dataplane.Update{ConfigUpdate: &o})
		case *dataplane.NATOutgoing:
			rest = append(rest, dataplane.Update{NATUpdate: o})
		case string:
			rest = append(rest, dataplane.Update{EndpointRemove: o})
		}
	}
	return append(append(sets, rest...), dataplane.Update{InSync: true})
}

// Probe is one expected verdict: from pod ("a", "b" or "c"), protocol ("tcp", "udp",
// "icmp"), destination.
type Probe struct {
	From    string
	Proto   string
	Dst     netip.Addr
	Port    uint16
	Allowed bool
}

// Check runs the probes and reports every wrong verdict.
func (n *Node) Check(t *testing.T, probes ...Probe) {
	t.Helper()
	for _, p := range probes {
		src := map[string]*netnstest.NS{"a": n.A, "b": n.B, "c": n.C}[p.From]
		timeout := DenyTimeout
		if p.Allowed {
			timeout = AllowTimeout
		}
		var err error
		switch p.Proto {
		case "tcp":
			err = src.ProbeTCP(netip.AddrPortFrom(p.Dst, p.Port), timeout)
		case "udp":
			err = src.ProbeUDP(netip.AddrPortFrom(p.Dst, p.Port), timeout)
		case "icmp":
			err = src.Ping(p.Dst, timeout)
		default:
			t.Fatalf("unknown probe protocol %q", p.Proto)
		}
		if got := err == nil; got != p.Allowed {
			t.Errorf("%s -> %s %s:%d: allowed=%v, want %v (%v)", p.From, p.Proto, p.Dst, p.Port, got, p.Allowed, err)
		}
	}
}

// U8 returns a pointer to v.
func U8(v uint8) *uint8 { return &v }

// NetsSet is a selector set with the given members.
func NetsSet(id string, members ...string) *dataplane.IPSet {
	s := &dataplane.IPSet{ID: id, Kind: dataplane.SetKindNets}
	for _, m := range members {
		s.Members = append(s.Members, dataplane.SetMember{Prefix: netip.MustParsePrefix(m)})
	}
	return s
}

// NamedPortSet is a named-port set: every address with (proto, port).
func NamedPortSet(id string, port uint16, proto uint8, addrs ...string) *dataplane.IPSet {
	s := &dataplane.IPSet{ID: id, Kind: dataplane.SetKindNamedPort}
	for _, a := range addrs {
		s.Members = append(s.Members, dataplane.SetMember{Prefix: netip.MustParsePrefix(a), Protocol: proto, Port: port})
	}
	return s
}

// AllowProfile is a namespace profile allowing everything, as Kubernetes namespaces have.
func AllowProfile(ns string) *dataplane.Profile {
	return &dataplane.Profile{ID: "kns." + ns,
		Inbound:  []dataplane.Rule{{ID: "kns." + ns + "/in/0", Action: dataplane.ActionAllow}},
		Outbound: []dataplane.Rule{{ID: "kns." + ns + "/out/0", Action: dataplane.ActionAllow}}}
}

// WL is a workload endpoint with profile kns.ns.
func WL(key, iface string, tiers ...dataplane.TierPolicies) *dataplane.Endpoint {
	return &dataplane.Endpoint{Key: key, Kind: dataplane.EndpointWorkload, Iface: iface, Tiers: tiers, ProfileIDs: []string{"kns.ns"}}
}

// IngressTier is a tier with ingress policies.
func IngressTier(name string, def dataplane.Action, ids ...dataplane.PolicyID) dataplane.TierPolicies {
	return dataplane.TierPolicies{Name: name, IngressPolicies: ids, DefaultAction: def}
}

// EgressTier is a tier with egress policies.
func EgressTier(name string, def dataplane.Action, ids ...dataplane.PolicyID) dataplane.TierPolicies {
	return dataplane.TierPolicies{Name: name, EgressPolicies: ids, DefaultAction: def}
}

// PID is a policy ID.
func PID(tier, name string) dataplane.PolicyID { return dataplane.PolicyID{Tier: tier, Name: name} }

// PolicyWithRule is a policy in tier default with one inbound rule.
func PolicyWithRule(name string, r dataplane.Rule) *dataplane.Policy {
	r.ID = "default/" + name + "/ingress/0"
	return &dataplane.Policy{ID: PID("default", name), Inbound: []dataplane.Rule{r}}
}

// AllowFromSetState: b allows TCP 8080 from the members of set "sel-allowed" (a only).
// Index 0 is the set, 1 the policy.
func AllowFromSetState() []any {
	p := PolicyWithRule("allow-from-set", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: U8(6),
		Source:      dataplane.EndpointMatch{SetIDs: []string{"sel-allowed"}},
		Destination: dataplane.EndpointMatch{Ports: []dataplane.PortRange{{First: 8080, Last: 8080}}}})
	return []any{NetsSet("sel-allowed", "10.65.0.1/32", "fd00:65::1/128"), p, AllowProfile("ns"),
		WL("ns/a", IfaceA), WL("ns/c", IfaceC), WL("ns/b", IfaceB, IngressTier("default", dataplane.ActionDeny, p.ID))}
}
