package nftables

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/backendtest"
	"github.com/palisadenet/palisade/internal/netnstest"
)

// The packet tests' topology and probes are backendtest's (shared with the iptables
// backend); these names keep this package's tests short.
var (
	addrA  = backendtest.AddrA
	addrB  = backendtest.AddrB
	addrC  = backendtest.AddrC
	addrA6 = backendtest.AddrA6
	addrB6 = backendtest.AddrB6
)

const (
	ifaceA = backendtest.IfaceA
	ifaceB = backendtest.IfaceB
	ifaceC = backendtest.IfaceC
	allow  = backendtest.AllowTimeout
	deny   = backendtest.DenyTimeout
)

// probe is one expected verdict (a backendtest.Probe, short to write positionally).
type probe struct {
	from    string // "a", "b" or "c"
	proto   string // "tcp", "udp", "icmp"
	dst     netip.Addr
	port    uint16
	allowed bool
}

var updatesOf = backendtest.UpdatesOf

// node is a backendtest.Node (pods a, b and c, b listening on TCP/UDP 8080 and 9090)
// whose node namespace a Dataplane programs.
type node struct {
	*backendtest.Node
	ns, a, b, c *netnstest.NS
	dp          *Dataplane
}

func newNode(t *testing.T) *node {
	t.Helper()
	var dp *Dataplane
	bn := backendtest.NewNode(t, []string{"nft"}, func(t *testing.T, ns *netnstest.NS) backendtest.Backend {
		dp = newDataplane(t, ns)
		return dp
	})
	return &node{Node: bn, ns: bn.NS, a: bn.A, b: bn.B, c: bn.C, dp: dp}
}

// newDataplane programs ns and is closed when the test ends.
func newDataplane(t *testing.T, ns *netnstest.NS) *Dataplane {
	t.Helper()
	dp, err := New(zaptest.NewLogger(t), WithNetNSFd(ns.Open(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dp.Close() })
	return dp
}

// apply applies objects through n.dp (which a test may replace) and fails on error.
func (n *node) apply(t *testing.T, objs ...any) {
	t.Helper()
	if err := n.dp.Apply(updatesOf(objs...)); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}
func (n *node) check(t *testing.T, probes ...probe) {
	t.Helper()
	for _, p := range probes {
		n.Check(t, backendtest.Probe{From: p.from, Proto: p.proto, Dst: p.dst, Port: p.port, Allowed: p.allowed})
	}
}

var (
	wl          = backendtest.WL
	ingressTier = backendtest.IngressTier
)

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
