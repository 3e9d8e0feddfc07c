package nftables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadenet/palisade/dataplane"
)

// TestRenderFailsafeFromConfig: the Config's failsafe lists (FelixConfiguration)
// replace the Options' for the host chains: nil keeps the defaults, an empty list
// opens nothing, a list opens exactly its ports, a net limits the peer, and SCTP
// entries get their own rule.
func TestRenderFailsafeFromConfig(t *testing.T) {
	hostChainsOf := func(cfg dataplane.Config) (in, out string) {
		t.Helper()
		tbl, err := Render(&State{Config: cfg}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range tbl.Chains {
			switch c.Name {
			case ChainHostInput:
				in = chainText(c)
			case ChainHostOutput:
				out = chainText(c)
			}
		}
		return in, out
	}
	in, out := hostChainsOf(dataplane.Config{EndpointToHostAction: dataplane.ActionAllow})
	for _, want := range []string{"tcp", "th dport { 22, 179, 2379, 2380, 5473, 6443, 6666, 6667 } accept", "th dport 68 accept"} {
		if !strings.Contains(in, want) {
			t.Errorf("no failsafe config: inbound lacks %q (Felix's defaults):\n%s", want, in)
		}
	}
	if !strings.Contains(out, "th dport { 53, 67 } accept") {
		t.Errorf("no failsafe config: outbound lacks the DNS/DHCP defaults:\n%s", out)
	}

	in, out = hostChainsOf(dataplane.Config{
		FailsafeInbound: []dataplane.FailsafePort{{Protocol: 6, Port: 2222}, {Protocol: 132, Port: 3868},
			{Protocol: 17, Port: 5000, Net: netip.MustParsePrefix("10.1.0.0/16")}},
		FailsafeOutbound: []dataplane.FailsafePort{},
	})
	for _, want := range []string{"th dport 2222 accept", "meta l4proto sctp th dport 3868 accept",
		"meta nfproto ipv4 meta l4proto udp ip saddr { 10.1.0.0/16 } th dport 5000 accept"} {
		if !strings.Contains(in, want) {
			t.Errorf("configured inbound lacks %q:\n%s", want, in)
		}
	}
	if strings.Contains(in, " 22,") || strings.Contains(in, " 22 ") {
		t.Errorf("configured inbound still opens the default SSH port:\n%s", in)
	}
	if strings.Contains(out, "failsafe") {
		t.Errorf("empty outbound list still renders failsafe rules:\n%s", out)
	}

	_, out = hostChainsOf(dataplane.Config{FailsafeOutbound: []dataplane.FailsafePort{{Protocol: 6, Port: 443, Net: netip.MustParsePrefix("fd00:1::/64")}}})
	if !strings.Contains(out, "meta nfproto ipv6 meta l4proto tcp ip6 daddr { fd00:1::/64 } th dport 443 accept") {
		t.Errorf("outbound net limits the destination:\n%s", out)
	}
}

// TestPacketsFailsafeFromConfig: a Config update (a FelixConfiguration change)
// reprograms the failsafe ports of a host endpoint that no policy opens: SSH closes
// when the list no longer names it, the configured port opens, and a Config without
// lists brings the defaults back.
func TestPacketsFailsafeFromConfig(t *testing.T) {
	n, out := natNode(t)
	for _, port := range []uint16{22, 2222} {
		n.ns.Listen(t, port)
	}
	nodeV4 := netip.MustParseAddr("192.168.77.1")
	check := func(step string, port uint16, allowed bool) {
		t.Helper()
		timeout := deny
		if allowed {
			timeout = allow
		}
		err := out.ProbeTCP(netip.AddrPortFrom(nodeV4, port), timeout)
		if got := err == nil; got != allowed {
			t.Errorf("%s: outside -> node:%d allowed=%v, want %v (%v)", step, port, got, allowed, err)
		}
	}
	n.apply(t, allowProfile("ns"), wl("ns/a", ifaceA), hostEndpoint("node1-eth1", "eth1"))
	check("defaults", 22, true)
	check("defaults", 2222, false)

	n.apply(t, dataplane.Config{EndpointToHostAction: dataplane.ActionAllow,
		FailsafeInbound: []dataplane.FailsafePort{{Protocol: 6, Port: 2222}}})
	check("inbound [2222]", 22, false)
	check("inbound [2222]", 2222, true)

	n.apply(t, dataplane.Config{EndpointToHostAction: dataplane.ActionAllow,
		FailsafeInbound: []dataplane.FailsafePort{{Protocol: 6, Port: 2222, Net: netip.MustParsePrefix("192.168.78.0/24")}}})
	check("inbound [2222 from another net]", 2222, false)

	n.apply(t, dataplane.Config{EndpointToHostAction: dataplane.ActionAllow})
	check("defaults again", 22, true)
	check("defaults again", 2222, false)
}
