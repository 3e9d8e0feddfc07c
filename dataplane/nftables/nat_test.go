package nftables

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/internal/netnstest"
)

func prefixes(s ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(s))
	for i, p := range s {
		out[i] = netip.MustParsePrefix(p)
	}
	return out
}

func TestRenderNATGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		nat  *dataplane.NATOutgoing
	}{
		// One natOutgoing pool per family, plus a pool without natOutgoing whose
		// addresses are still "inside" (no NAT towards them).
		{"nat-outgoing-dual-stack", &dataplane.NATOutgoing{
			Masquerade: prefixes("10.65.0.0/16", "fd00:65::/48"),
			AllPools:   prefixes("10.65.0.0/16", "10.66.0.0/16", "fd00:65::/48")}},
		{"nat-outgoing-v4-only", &dataplane.NATOutgoing{
			Masquerade: prefixes("10.65.0.0/16", "10.65.4.0/24"),
			AllPools:   prefixes("10.65.0.0/16", "10.65.4.0/24", "fd00:65::/48")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			chains := NATChains(tc.nat)
			if len(chains) != 1 {
				t.Fatalf("NATChains = %d chains, want 1", len(chains))
			}
			golden(t, tc.name, (&Table{Chains: chains}).String())
		})
	}
}

func TestRenderNATNothingWithoutNATPools(t *testing.T) {
	for _, n := range []*dataplane.NATOutgoing{nil, {}, {AllPools: prefixes("10.65.0.0/16")}} {
		if chains := NATChains(n); len(chains) != 0 {
			t.Errorf("NATChains(%+v) = %d chains, want none (no nat hook without natOutgoing pools)", n, len(chains))
		}
	}
}

// natNode is newNode plus an "outside" namespace reached through the node's eth1
// (192.168.77.0/24, fd00:77::/64). The outside knows a route back to the pods, so
// without NAT it sees their own addresses.
func natNode(t *testing.T) (*node, *netnstest.NS) {
	n := newNode(t)
	out := netnstest.New(t, "outside")
	netnstest.Veth(t, n.ns, "eth1", out, "eth0")
	n.ns.MustRun(t, "ip", "addr", "add", "192.168.77.1/24", "dev", "eth1")
	n.ns.MustRun(t, "ip", "-6", "addr", "add", "fd00:77::1/64", "dev", "eth1", "nodad")
	out.MustRun(t, "ip", "addr", "add", "192.168.77.2/24", "dev", "eth0")
	out.MustRun(t, "ip", "-6", "addr", "add", "fd00:77::2/64", "dev", "eth0", "nodad")
	out.MustRun(t, "ip", "route", "add", "10.65.0.0/16", "via", "192.168.77.1")
	out.MustRun(t, "ip", "-6", "route", "add", "fd00:65::/48", "via", "fd00:77::1")
	return n, out
}

// serveRemoteAddr answers each TCP connection on port with the client's address as
// the server sees it.
func serveRemoteAddr(t *testing.T, ns *netnstest.NS, port int) {
	t.Helper()
	var l net.Listener
	if err := ns.Do(func() (err error) {
		l, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			_, _ = c.Write([]byte(host))
			_ = c.Close()
		}
	}()
}

// seenSource connects from pod to dst and returns the source address dst saw.
func seenSource(t *testing.T, pod *netnstest.NS, dst netip.AddrPort) string {
	t.Helper()
	c, err := pod.DialTCP(dst, allow)
	if err != nil {
		t.Fatalf("connecting to %s: %v", dst, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(allow))
	buf := make([]byte, 64)
	nr, _ := c.Read(buf)
	return string(buf[:nr])
}

// TestNATOutgoingMasqueradesLeavingThePools: with natOutgoing on the pods' pool, a pod
// reaching an address outside the pools appears with the node's address; pod-to-pod
// traffic keeps its source; removing natOutgoing restores the pod's own address, and
// nothing outside table inet palisade is created.
func TestNATOutgoingMasqueradesLeavingThePools(t *testing.T) {
	n, out := natNode(t)
	serveRemoteAddr(t, out, 7000)
	serveRemoteAddr(t, n.b, 7000)
	outV4 := netip.MustParseAddrPort("192.168.77.2:7000")
	outV6 := netip.MustParseAddrPort("[fd00:77::2]:7000")
	nat := &dataplane.NATOutgoing{Masquerade: prefixes("10.65.0.0/16", "fd00:65::/48"), AllPools: prefixes("10.65.0.0/16", "fd00:65::/48")}
	n.apply(t, allowProfile("ns"), wl("ns/a", ifaceA), wl("ns/b", ifaceB), wl("ns/c", ifaceC))

	if got := seenSource(t, n.a, outV4); got != addrA.String() {
		t.Fatalf("before NAT the outside sees %s, want the pod's %s", got, addrA)
	}
	n.apply(t, nat)
	for _, tc := range []struct {
		dst  netip.AddrPort
		want string
	}{
		{outV4, "192.168.77.1"},
		{outV6, "fd00:77::1"},
		{netip.AddrPortFrom(addrB, 7000), addrA.String()}, // inside the pools: no NAT
		{netip.AddrPortFrom(addrB6, 7000), addrA6.String()},
	} {
		if got := seenSource(t, n.a, tc.dst); got != tc.want {
			t.Errorf("with natOutgoing, %s sees source %s, want %s", tc.dst, got, tc.want)
		}
	}
	if tables := n.ns.MustRun(t, "nft", "list", "tables"); tables != "table inet palisade\n" {
		t.Errorf("tables = %q, want only ours", tables)
	}
	listing := n.ns.MustRun(t, "nft", "list", "ruleset")
	cmd := exec.Command("ip", "netns", "exec", n.ns.Name, "nft", "-c", "-f", "-")
	cmd.Stdin = strings.NewReader(strings.Replace(listing, "table inet palisade", "table inet palisade_check", 1))
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("nft -c -f rejects the listing with the nat chain: %v\n%s\n%s", err, b, listing)
	}

	// natOutgoing switched off: the chain goes away.
	n.apply(t, &dataplane.NATOutgoing{AllPools: nat.AllPools})
	if got := seenSource(t, n.a, outV4); got != addrA.String() {
		t.Errorf("after removing natOutgoing the outside sees %s, want %s", got, addrA)
	}
	if listing := n.ns.MustRun(t, "nft", "list", "ruleset"); strings.Contains(listing, ChainNATPostrouting) {
		t.Errorf("nat chain still present:\n%s", listing)
	}
}
