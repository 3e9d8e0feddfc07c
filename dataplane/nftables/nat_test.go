package nftables

import (
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/backendtest"
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

// natNode is newNode plus backendtest's "outside" namespace reached through the
// node's eth1 (192.168.77.0/24, fd00:77::/64). The outside knows a route back to the
// pods, so without NAT it sees their own addresses.
func natNode(t *testing.T) (*node, *netnstest.NS) {
	n := newNode(t)
	return n, n.AddOutside(t)
}

// TestNATOutgoingMasqueradesLeavingThePools: with natOutgoing on the pods' pool, a pod
// reaching an address outside the pools appears with the node's address; pod-to-pod
// traffic keeps its source; removing natOutgoing restores the pod's own address, and
// nothing outside table inet palisade is created.
func TestNATOutgoingMasqueradesLeavingThePools(t *testing.T) {
	n, out := natNode(t)
	backendtest.ServeRemoteAddr(t, out, 7000)
	backendtest.ServeRemoteAddr(t, n.b, 7000)
	outV4 := netip.MustParseAddrPort("192.168.77.2:7000")
	outV6 := netip.MustParseAddrPort("[fd00:77::2]:7000")
	nat := &dataplane.NATOutgoing{Masquerade: prefixes("10.65.0.0/16", "fd00:65::/48"), AllPools: prefixes("10.65.0.0/16", "fd00:65::/48")}
	n.apply(t, allowProfile("ns"), wl("ns/a", ifaceA), wl("ns/b", ifaceB), wl("ns/c", ifaceC))

	if got := backendtest.SeenSource(t, n.a, outV4); got != addrA.String() {
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
		if got := backendtest.SeenSource(t, n.a, tc.dst); got != tc.want {
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
	if got := backendtest.SeenSource(t, n.a, outV4); got != addrA.String() {
		t.Errorf("after removing natOutgoing the outside sees %s, want %s", got, addrA)
	}
	if listing := n.ns.MustRun(t, "nft", "list", "ruleset"); strings.Contains(listing, ChainNATPostrouting) {
		t.Errorf("nat chain still present:\n%s", listing)
	}
}
