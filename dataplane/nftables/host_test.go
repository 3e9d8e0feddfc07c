package nftables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/internal/netnstest"
)

func hostEndpoint(name, iface string, tiers ...dataplane.TierPolicies) *dataplane.Endpoint {
	return &dataplane.Endpoint{Key: name, Kind: dataplane.EndpointHost, Iface: iface, Tiers: tiers,
		Addrs: prefixes("192.168.77.1/32", "fd00:77::1/128")}
}

func TestRenderHostEndpointGolden(t *testing.T) {
	ep := hostEndpoint("node1-eth1", "eth1", dataplane.TierPolicies{Name: "default",
		IngressPolicies: []dataplane.PolicyID{pid("default", "hep-in")}, EgressPolicies: []dataplane.PolicyID{pid("default", "hep-out")},
		DefaultAction: dataplane.ActionDeny})
	r, err := RenderEndpoint(ep, func(dataplane.PolicyID) bool { return true }, func(string) bool { return true }, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.FromMap != MapHostEgress || r.ToMap != MapHostIngress {
		t.Errorf("host endpoint maps = %s/%s, want %s/%s", r.FromMap, r.ToMap, MapHostEgress, MapHostIngress)
	}
	to, from := hostMaps()
	to.Elements, from.Elements = []Element{r.ToElement}, []Element{r.FromElement}
	golden(t, "host-endpoint", (&Table{Chains: append(r.Chains, hostChains(Options{})...), Sets: []*Set{to, from}}).String())
}

func TestRenderHostEndpointRejects(t *testing.T) {
	for _, tc := range []struct{ iface, want string }{
		{"*", "all-interfaces"},
		{"cali1234567890a", "workload interface"},
		{"", "1 to 15 characters"},
		{"eth0;drop", "character"},
	} {
		_, err := RenderEndpoint(hostEndpoint("h", tc.iface), func(dataplane.PolicyID) bool { return true }, func(string) bool { return true }, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("iface %q: error %v, want one containing %q", tc.iface, err, tc.want)
		}
	}
}

func TestRenderFailsafeOverride(t *testing.T) {
	chains := hostChains(Options{FailsafeInbound: []ProtoPort{{Proto: 6, Port: 2222}}, FailsafeOutbound: []ProtoPort{}})
	in, out := chainText(chains[0]), chainText(chains[1])
	if !strings.Contains(in, "th dport 2222 accept") || strings.Contains(in, " 22,") {
		t.Errorf("inbound failsafe not overridden:\n%s", in)
	}
	if strings.Contains(out, "failsafe") {
		t.Errorf("empty outbound failsafe list still renders failsafe rules:\n%s", out)
	}
}

// TestPacketsHostEndpoint: a host endpoint on the node's eth1 applies its ingress
// policy to traffic for the host and its egress policy to traffic the host sends,
// keeps failsafe ports open, leaves forwarded pod traffic alone, and goes away with
// the endpoint.
func TestPacketsHostEndpoint(t *testing.T) {
	n, out := natNode(t)
	for _, port := range []uint16{8080, 9090, 22} {
		n.ns.Listen(t, port)
	}
	for _, port := range []uint16{7000, 7001, 179} {
		out.Listen(t, port)
	}
	tcp := func(port uint16) dataplane.EndpointMatch {
		return dataplane.EndpointMatch{Ports: []dataplane.PortRange{{First: port, Last: port}}}
	}
	in := &dataplane.Policy{ID: pid("default", "hep-in"), Inbound: []dataplane.Rule{{ID: "in", Action: dataplane.ActionAllow,
		Protocol: u8(6), Source: dataplane.EndpointMatch{Nets: prefixes("192.168.77.0/24", "fd00:77::/64")}, Destination: tcp(8080)}}}
	egress := &dataplane.Policy{ID: pid("default", "hep-out"), Outbound: []dataplane.Rule{{ID: "out", Action: dataplane.ActionAllow,
		Protocol: u8(6), Destination: tcp(7000)}}}
	hep := hostEndpoint("node1-eth1", "eth1", dataplane.TierPolicies{Name: "default", IngressPolicies: []dataplane.PolicyID{in.ID},
		EgressPolicies: []dataplane.PolicyID{egress.ID}, DefaultAction: dataplane.ActionDeny})
	n.apply(t, allowProfile("ns"), wl("ns/a", ifaceA), in, egress, hep)

	outV4, outV6 := netip.MustParseAddr("192.168.77.2"), netip.MustParseAddr("fd00:77::2")
	nodeV4, nodeV6 := netip.MustParseAddr("192.168.77.1"), netip.MustParseAddr("fd00:77::1")
	type hp struct {
		from    string
		dst     netip.Addr
		port    uint16
		allowed bool
	}
	check := func(probes ...hp) {
		t.Helper()
		for _, p := range probes {
			ns := map[string]*netnstest.NS{"outside": out, "node": n.ns, "pod": n.a}[p.from]
			timeout := deny
			if p.allowed {
				timeout = allow
			}
			err := ns.ProbeTCP(netip.AddrPortFrom(p.dst, p.port), timeout)
			if got := err == nil; got != p.allowed {
				t.Errorf("%s -> %s:%d allowed=%v, want %v (%v)", p.from, p.dst, p.port, got, p.allowed, err)
			}
		}
	}
	check(
		hp{"outside", nodeV4, 8080, true}, hp{"outside", nodeV6, 8080, true},
		hp{"outside", nodeV4, 9090, false}, hp{"outside", nodeV6, 9090, false},
		hp{"outside", nodeV4, 22, true}, // failsafe inbound
		hp{"node", outV4, 7000, true}, hp{"node", outV6, 7000, true},
		hp{"node", outV4, 7001, false},
		hp{"node", outV4, 179, true},      // failsafe outbound
		hp{"pod", outV4, 7001, true},      // forwarded pod traffic is not host traffic
		hp{"outside", addrA, 9090, false}, // nothing listens on a: the probe itself is sound
	)
	// A host endpoint no policy selects is closed but for the failsafe ports.
	n.apply(t, hostEndpoint("node1-eth1", "eth1"))
	check(hp{"outside", nodeV4, 8080, false}, hp{"outside", nodeV4, 22, true}, hp{"node", outV4, 7000, false})
	// Without a host endpoint the host's interfaces are not ours to judge.
	n.apply(t, "node1-eth1")
	check(hp{"outside", nodeV4, 9090, true}, hp{"node", outV4, 7001, true})
}
