package iptables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/backendtest"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestRenderNATGolden(t *testing.T) {
	for _, tc := range []struct {
		name        string
		nat         *dataplane.NATOutgoing
		randomFully bool
	}{
		{"nat-outgoing-dual-stack", &dataplane.NATOutgoing{Masquerade: prefixes("10.65.0.0/16", "fd00:65::/48"),
			AllPools: prefixes("10.65.0.0/16", "10.66.0.0/16", "fd00:65::/48")}, true},
		{"nat-outgoing-v4-only", &dataplane.NATOutgoing{Masquerade: prefixes("10.65.0.0/16"),
			AllPools: prefixes("10.65.0.0/16", "fd00:65::/48")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			for _, fam := range Families {
				b.WriteString("# IPv" + string(rune('0'+fam)) + "\n")
				if c := NATChain(tc.nat, fam, tc.randomFully); c != nil {
					b.WriteString(RestoreText([]*Chain{c}, true))
				}
			}
			golden(t, tc.name, b.String())
		})
	}
}

func TestRenderNATNothingWithoutNATPools(t *testing.T) {
	for _, n := range []*dataplane.NATOutgoing{nil, {}, {AllPools: prefixes("10.65.0.0/16")}} {
		for _, fam := range Families {
			if c := NATChain(n, fam, false); c != nil {
				t.Errorf("NATChain(%+v, IPv%d) = %v, want none (no nat chain or jump without natOutgoing pools)", n, fam, c)
			}
		}
	}
}

// TestNATOutgoingMasqueradesLeavingThePools: with natOutgoing on the pods' pool, a pod
// reaching an address outside the pools appears with the node's address; pod-to-pod
// traffic keeps its source; switching natOutgoing off removes our nat chain and jump.
func TestNATOutgoingMasqueradesLeavingThePools(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode Mode) {
		n := newNode(t, mode)
		out := n.AddOutside(t)
		backendtest.ServeRemoteAddr(t, out, 7000)
		backendtest.ServeRemoteAddr(t, n.B, 7000)
		outV4 := netip.AddrPortFrom(backendtest.OutsideV4, 7000)
		outV6 := netip.AddrPortFrom(backendtest.OutsideV6, 7000)
		nat := &dataplane.NATOutgoing{Masquerade: prefixes("10.65.0.0/16", "fd00:65::/48"), AllPools: prefixes("10.65.0.0/16", "fd00:65::/48")}
		n.Apply(t, backendtest.AllowProfile("ns"), backendtest.WL("ns/a", backendtest.IfaceA), backendtest.WL("ns/b", backendtest.IfaceB))
		if got := backendtest.SeenSource(t, n.A, outV4); got != addrA.String() {
			t.Fatalf("before NAT the outside sees %s, want the pod's %s", got, addrA)
		}
		n.Apply(t, nat)
		for _, tc := range []struct {
			dst  netip.AddrPort
			want string
		}{
			{outV4, backendtest.NodeOutV4.String()},
			{outV6, backendtest.NodeOutV6.String()},
			{netip.AddrPortFrom(addrB, 7000), addrA.String()}, // inside the pools: no NAT
			{netip.AddrPortFrom(backendtest.AddrB6, 7000), backendtest.AddrA6.String()},
		} {
			if got := backendtest.SeenSource(t, n.A, tc.dst); got != tc.want {
				t.Errorf("with natOutgoing, %s sees source %s, want %s", tc.dst, got, tc.want)
			}
		}
		if err := n.dp.Resync(); err != nil {
			t.Fatal(err)
		}
		if st := n.dp.Stats(); st.Repairs != 0 {
			t.Errorf("resync after enabling NAT found drift: %+v", st)
		}
		// natOutgoing switched off: chain and jump go away.
		n.Apply(t, &dataplane.NATOutgoing{AllPools: nat.AllPools})
		if got := backendtest.SeenSource(t, n.A, outV4); got != addrA.String() {
			t.Errorf("after removing natOutgoing the outside sees %s, want %s", got, addrA)
		}
		for _, fam := range Families {
			if s := n.NS.MustRun(t, binariesFor(mode).save[famIndex(fam)], "-t", "nat"); strings.Contains(s, ChainNATOutgoing) {
				t.Errorf("IPv%d nat chain or jump still present:\n%s", fam, s)
			}
		}
	})
}
