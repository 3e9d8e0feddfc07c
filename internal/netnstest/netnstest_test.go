package netnstest

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

// TestAttachPodRoutesBetweenPods checks the plumbing itself: two pods on one node reach
// each other over IPv4 and IPv6 (ICMP, TCP, UDP) through the node's host routes.
func TestAttachPodRoutesBetweenPods(t *testing.T) {
	Require(t)
	node := New(t, "node")
	a, b := New(t, "a"), New(t, "b")
	AttachPod(t, node, a, "cali00000000a01", netip.MustParsePrefix("10.65.0.1/32"), netip.MustParsePrefix("fd00:65::1/128"))
	AttachPod(t, node, b, "cali00000000b01", netip.MustParsePrefix("10.65.0.2/32"), netip.MustParsePrefix("fd00:65::2/128"))
	b.Listen(t, 8080)
	for _, dst := range []string{"10.65.0.2", "fd00:65::2"} {
		addr := netip.MustParseAddr(dst)
		if err := a.Ping(addr, 2*time.Second); err != nil {
			t.Errorf("ping: %v", err)
		}
		if err := a.ProbeTCP(netip.AddrPortFrom(addr, 8080), 2*time.Second); err != nil {
			t.Errorf("tcp: %v", err)
		}
		if err := a.ProbeUDP(netip.AddrPortFrom(addr, 8080), 2*time.Second); err != nil {
			t.Errorf("udp: %v", err)
		}
	}
	// Nothing listens on 8081: the probe must fail, or the probes prove nothing.
	if err := a.ProbeTCP(netip.MustParseAddrPort("10.65.0.2:8081"), time.Second); err == nil {
		t.Error("tcp probe to a closed port succeeded")
	}
}

// TestDoEntersNamespace checks that Do runs code inside the namespace: it sees an
// interface that exists only there.
func TestDoEntersNamespace(t *testing.T) {
	Require(t)
	ns := New(t, "do")
	ns.MustRun(t, "ip", "link", "add", "vx0", "type", "veth", "peer", "name", "vx1")
	var seen bool
	if err := ns.Do(func() error {
		_, err := net.InterfaceByName("vx0")
		seen = err == nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !seen {
		t.Fatal("vx0 not visible inside Do")
	}
	if _, err := net.InterfaceByName("vx0"); err == nil {
		t.Fatal("vx0 visible outside the namespace after Do")
	}
}

func TestFlushConntrack(t *testing.T) {
	Require(t, "nft")
	node := New(t, "node")
	pod := New(t, "pod")
	AttachPod(t, node, pod, "calitestflush01", netip.MustParsePrefix("10.66.0.1/32"), netip.MustParsePrefix("fd00:66::1/128"))
	// Traffic through the node creates conntrack entries there (conntrack is active
	// once a table with a ct expression exists; the probe below makes it so).
	node.MustRun(t, "nft", "add", "table", "inet", "t")
	node.MustRun(t, "nft", "add chain inet t c { type filter hook input priority 0 ; }")
	node.MustRun(t, "nft", "add", "rule", "inet", "t", "c", "ct", "state", "new", "accept")
	node.Listen(t, 7777)
	node.MustRun(t, "ip", "addr", "add", "10.66.0.254/32", "dev", "lo")
	node.MustRun(t, "ip", "-6", "addr", "add", "fd00:66::fe/128", "dev", "lo", "nodad")
	for _, dst := range []string{"10.66.0.254", "fd00:66::fe"} {
		if err := pod.ProbeUDP(netip.AddrPortFrom(netip.MustParseAddr(dst), 7777), 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if n := conntrackCount(t, node); n < 2 {
		t.Fatalf("%d conntrack entries before the flush, want at least 2", n)
	}
	if err := node.FlushConntrack(); err != nil {
		t.Fatal(err)
	}
	if n := conntrackCount(t, node); n != 0 {
		t.Errorf("%d conntrack entries after the flush, want 0", n)
	}
}

func conntrackCount(t *testing.T, n *NS) int {
	t.Helper()
	out := n.MustRun(t, "cat", "/proc/sys/net/netfilter/nf_conntrack_count")
	var c int
	if _, err := fmt.Sscan(out, &c); err != nil {
		t.Fatalf("parsing nf_conntrack_count %q: %v", out, err)
	}
	return c
}
