package nftables

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// Pod addresses of the packet tests.
var (
	addrA  = netip.MustParseAddr("10.65.0.1")
	addrB  = netip.MustParseAddr("10.65.0.2")
	addrC  = netip.MustParseAddr("10.65.0.3")
	addrA6 = netip.MustParseAddr("fd00:65::1")
	addrB6 = netip.MustParseAddr("fd00:65::2")
	addrC6 = netip.MustParseAddr("fd00:65::3")
)

const (
	ifaceA = "cali0000000000a"
	ifaceB = "cali0000000000b"
	ifaceC = "cali0000000000c"
	allow  = 2 * time.Second
	deny   = 700 * time.Millisecond
)

// node is a node namespace with pods a, b and c plumbed in, b listening on TCP/UDP
// 8080 and 9090, and a Dataplane programming the node's nftables.
type node struct {
	ns      *netnstest.NS
	a, b, c *netnstest.NS
	dp      *Dataplane
}

func newNode(t *testing.T) *node {
	t.Helper()
	netnstest.Require(t, "nft")
	n := &node{ns: netnstest.New(t, "node"), a: netnstest.New(t, "a"), b: netnstest.New(t, "b"), c: netnstest.New(t, "c")}
	netnstest.AttachPod(t, n.ns, n.a, ifaceA, netip.PrefixFrom(addrA, 32), netip.PrefixFrom(addrA6, 128))
	netnstest.AttachPod(t, n.ns, n.b, ifaceB, netip.PrefixFrom(addrB, 32), netip.PrefixFrom(addrB6, 128))
	netnstest.AttachPod(t, n.ns, n.c, ifaceC, netip.PrefixFrom(addrC, 32), netip.PrefixFrom(addrC6, 128))
	n.b.Listen(t, 8080)
	n.b.Listen(t, 9090)
	dp, err := New(zaptest.NewLogger(t), WithNetNSFd(n.ns.Open(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dp.Close() })
	n.dp = dp
	return n
}

func (n *node) apply(t *testing.T, objs ...any) {
	t.Helper()
	if err := n.dp.Apply(updatesOf(objs...)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// updatesOf turns desired-state objects into an Update batch (sets first), ending
// with InSync so the batch is programmed.
func updatesOf(objs ...any) []dataplane.Update {
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

// probe is one expected verdict: from pod, protocol, destination.
type probe struct {
	from    string // "a" or "c"
	proto   string // "tcp", "udp", "icmp"
	dst     netip.Addr
	port    uint16
	allowed bool
}

func (n *node) check(t *testing.T, probes ...probe) {
	t.Helper()
	for _, p := range probes {
		src := map[string]*netnstest.NS{"a": n.a, "c": n.c, "b": n.b}[p.from]
		timeout := deny
		if p.allowed {
			timeout = allow
		}
		var err error
		switch p.proto {
		case "tcp":
			err = src.ProbeTCP(netip.AddrPortFrom(p.dst, p.port), timeout)
		case "udp":
			err = src.ProbeUDP(netip.AddrPortFrom(p.dst, p.port), timeout)
		case "icmp":
			err = src.Ping(p.dst, timeout)
		}
		if got := err == nil; got != p.allowed {
			t.Errorf("%s -> %s %s:%d: allowed=%v, want %v (%v)", p.from, p.proto, p.dst, p.port, got, p.allowed, err)
		}
	}
}

func wl(key, iface string, tiers ...dataplane.TierPolicies) *dataplane.Endpoint {
	return workload(key, iface, tiers)
}

func ingressTier(name string, def dataplane.Action, ids ...dataplane.PolicyID) dataplane.TierPolicies {
	return dataplane.TierPolicies{Name: name, IngressPolicies: ids, DefaultAction: def}
}

func TestApplyPrintsAndReloads(t *testing.T) {
	netnstest.Require(t, "nft")
	ns := netnstest.New(t, "node")
	dp, err := New(zaptest.NewLogger(t), WithNetNSFd(ns.Open(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dp.Close() })
	s := fullState(dataplane.Config{EndpointToHostAction: dataplane.ActionAllow})
	var objs []any
	for _, o := range s.Sets {
		objs = append(objs, o)
	}
	for _, o := range s.Policies {
		objs = append(objs, o)
	}
	objs = append(objs, allowProfile("ns"), s.Endpoints["ns/a"], s.Endpoints["ns/b"])
	if err := dp.Apply(updatesOf(objs...)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	out := ns.MustRun(t, "nft", "list", "ruleset")
	for _, want := range []string{"table inet palisade", "chain forward-egress", "iifname vmap @from-wl",
		`"cali0000000000b" : jump to-cali0000000000b`, "ip daddr . meta l4proto . tcp dport @n4-"} {
		if !strings.Contains(out, want) {
			t.Errorf("nft list ruleset lacks %q:\n%s", want, out)
		}
	}
	// What we programmed must load back: users debug and edit with nft.
	ns.MustRun(t, "nft", "delete", "table", "inet", "palisade")
	cmd := exec.Command("ip", "netns", "exec", ns.Name, "nft", "-c", "-f", "-")
	cmd.Stdin = strings.NewReader(out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -c -f rejects the listing: %v\n%s\n%s", err, b, out)
	}
}

// TestRenderedTextLoads checks the renderer's own nft text (the golden files' format)
// is accepted by nft.
func TestRenderedTextLoads(t *testing.T) {
	netnstest.Require(t, "nft")
	ns := netnstest.New(t, "text")
	for _, cfg := range []dataplane.Action{dataplane.ActionAllow, dataplane.ActionDeny} {
		s := fullState(dataplane.Config{EndpointToHostAction: cfg})
		s.NAT = &dataplane.NATOutgoing{Masquerade: prefixes("10.65.0.0/16", "fd00:65::/48"), AllPools: prefixes("10.0.0.0/8", "fd00:65::/48")}
		table, err := Render(s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("ip", "netns", "exec", ns.Name, "nft", "-c", "-f", "-")
		cmd.Stdin = strings.NewReader(table.String())
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft -c -f rejects rendered text: %v\n%s", err, b)
		}
	}
}
