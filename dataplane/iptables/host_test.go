package iptables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/backendtest"
	"github.com/palisadenet/palisade/internal/netnstest"
)

func hostEndpoint(name, iface string, tiers ...dataplane.TierPolicies) *dataplane.Endpoint {
	return &dataplane.Endpoint{Key: name, Kind: dataplane.EndpointHost, Iface: iface, Tiers: tiers,
		Addrs: prefixes(backendtest.NodeOutV4.String()+"/32", backendtest.NodeOutV6.String()+"/128")}
}

func known[T any](T) bool { return true }

// TestRenderHostEndpointGolden: a host endpoint's chains, the dispatch chains with a
// workload next to it, and configured failsafe chains (one limited to a peer net of
// each family), both families, as iptables-restore input.
func TestRenderHostEndpointGolden(t *testing.T) {
	hep := hostEndpoint("node1-eth1", "eth1", dataplane.TierPolicies{Name: "default",
		IngressPolicies: []dataplane.PolicyID{backendtest.PID("default", "hep-in")},
		EgressPolicies:  []dataplane.PolicyID{backendtest.PID("default", "hep-out")}, DefaultAction: dataplane.ActionDeny})
	hep.ProfileIDs = []string{"hep-profile"}
	cfg := dataplane.Config{EndpointToHostAction: dataplane.ActionAllow,
		FailsafeInbound: []dataplane.FailsafePort{{Protocol: 6, Port: 22}, {Protocol: 132, Port: 3868},
			{Protocol: 17, Port: 5000, Net: netip.MustParsePrefix("10.1.0.0/16")}, {Protocol: 6, Port: 2222, Net: netip.MustParsePrefix("fd00:1::/64")}},
		FailsafeOutbound: []dataplane.FailsafePort{}}
	var b strings.Builder
	for _, fam := range Families {
		chains, err := RenderEndpoint(hep, fam, known, known, Options{})
		if err != nil {
			t.Fatal(err)
		}
		chains = append(chains, DispatchChains([]*dataplane.Endpoint{backendtest.WL("ns/a", backendtest.IfaceA), hep})...)
		chains = append(chains, failsafeChains(fam, cfg, Options{})...)
		b.WriteString("# IPv" + string(rune('0'+fam)) + "\n")
		b.WriteString(RestoreText(chains, false))
	}
	golden(t, "host-endpoint", b.String())
}

func TestRenderHostEndpointRejects(t *testing.T) {
	for _, tc := range []struct{ iface, want string }{
		{"*", "all-interfaces"},
		{"cali1234567890a", "workload interface"},
		{"", "1 to 15 characters"},
		{"eth0;drop", "character"},
	} {
		_, err := RenderEndpoint(hostEndpoint("h", tc.iface), IPv4, known, known, Options{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("iface %q: error %v, want one containing %q", tc.iface, err, tc.want)
		}
	}
	// A rejected host endpoint is left out of the dispatch chains: its interface stays
	// the host's to judge, and the rest of the state renders.
	s := ruleState().Add(hostEndpoint("h", "*"), backendtest.AllowProfile("ns"), backendtest.WL("ns/a", backendtest.IfaceA))
	rs, err := Render(s, Options{})
	if err == nil || !strings.Contains(err.Error(), "all-interfaces") {
		t.Errorf("Render error %v, want the host endpoint's", err)
	}
	text := RestoreText(rs.Filter4, false)
	if strings.Contains(text, "-i *") || strings.Contains(text, "cali-fh-") || !strings.Contains(text, "-g cali-fw-"+backendtest.IfaceA) {
		t.Errorf("ruleset with a rejected host endpoint:\n%s", text)
	}
}

// TestRenderFailsafeDefaults: without failsafe lists in Config, Felix's defaults
// (SSH in, DNS out, ...) are open; an empty list opens nothing.
func TestRenderFailsafeDefaults(t *testing.T) {
	chains := failsafeChains(IPv4, dataplane.Config{}, Options{})
	in, out := RestoreText(chains[:1], false), RestoreText(chains[1:], false)
	for _, want := range []string{"-p tcp -m multiport --dports 22,179,2379:2380,5473,6443,6666:6667 ", "-p udp -m multiport --dports 68 "} {
		if !strings.Contains(in, want) {
			t.Errorf("default inbound failsafe lacks %q:\n%s", want, in)
		}
	}
	if !strings.Contains(out, "-p udp -m multiport --dports 53,67 ") {
		t.Errorf("default outbound failsafe lacks DNS/DHCP:\n%s", out)
	}
	chains = failsafeChains(IPv4, dataplane.Config{FailsafeInbound: []dataplane.FailsafePort{}, FailsafeOutbound: []dataplane.FailsafePort{}}, Options{})
	for _, c := range chains {
		if len(c.Rules) != 0 {
			t.Errorf("empty failsafe list: %s has rules %v", c.Name, c.Rules)
		}
	}
}

// TestPacketsHostEndpoint: a host endpoint on the node's eth1 whose ingress policy
// allows TCP 7070 only: 7070 is allowed, another port denied, the failsafe SSH port
// open; its egress policy applies to what the host sends; forwarded pod traffic is
// unaffected; without the host endpoint the interface is the host's again. With each
// installed iptables backend.
func TestPacketsHostEndpoint(t *testing.T) {
	forEachMode(t, func(t *testing.T, mode Mode) {
		n := newNode(t, mode)
		out := n.AddOutside(t)
		for _, port := range []uint16{9090, 22} {
			n.NS.Listen(t, port) // 7070 listens already (backendtest.NewNode)
		}
		for _, port := range []uint16{7000, 7001, 179} {
			out.Listen(t, port)
		}
		tcp := func(port uint16) dataplane.EndpointMatch {
			return dataplane.EndpointMatch{Ports: []dataplane.PortRange{{First: port, Last: port}}}
		}
		in := &dataplane.Policy{ID: backendtest.PID("default", "hep-in"), Inbound: []dataplane.Rule{
			{ID: "in", Action: dataplane.ActionAllow, Protocol: backendtest.U8(6), Destination: tcp(7070)}}}
		egress := &dataplane.Policy{ID: backendtest.PID("default", "hep-out"), Outbound: []dataplane.Rule{
			{ID: "out", Action: dataplane.ActionAllow, Protocol: backendtest.U8(6), Destination: tcp(7000)}}}
		hep := hostEndpoint("node1-eth1", "eth1", dataplane.TierPolicies{Name: "default",
			IngressPolicies: []dataplane.PolicyID{in.ID}, EgressPolicies: []dataplane.PolicyID{egress.ID}, DefaultAction: dataplane.ActionDeny})
		n.Apply(t, backendtest.AllowProfile("ns"), backendtest.WL("ns/a", backendtest.IfaceA), in, egress, hep)

		type hp struct {
			from    string
			dst     netip.Addr
			port    uint16
			allowed bool
		}
		check := func(step string, probes ...hp) {
			t.Helper()
			for _, p := range probes {
				ns := map[string]*netnstest.NS{"outside": out, "node": n.NS, "pod": n.A}[p.from]
				timeout := backendtest.DenyTimeout
				if p.allowed {
					timeout = backendtest.AllowTimeout
				}
				err := ns.ProbeTCP(netip.AddrPortFrom(p.dst, p.port), timeout)
				if got := err == nil; got != p.allowed {
					t.Errorf("%s: %s -> %s:%d allowed=%v, want %v (%v)", step, p.from, p.dst, p.port, got, p.allowed, err)
				}
			}
		}
		nodeV4, nodeV6 := backendtest.NodeOutV4, backendtest.NodeOutV6
		outV4, outV6 := backendtest.OutsideV4, backendtest.OutsideV6
		check("policy",
			hp{"outside", nodeV4, 7070, true}, hp{"outside", nodeV6, 7070, true},
			hp{"outside", nodeV4, 9090, false}, hp{"outside", nodeV6, 9090, false},
			hp{"outside", nodeV4, 22, true}, hp{"outside", nodeV6, 22, true}, // failsafe inbound (Felix's default)
			hp{"node", outV4, 7000, true}, hp{"node", outV6, 7000, true},
			hp{"node", outV4, 7001, false}, hp{"node", outV6, 7001, false},
			hp{"node", outV4, 179, true},                  // failsafe outbound (BGP)
			hp{"pod", outV4, 7001, true},                  // forwarded pod traffic is not host traffic
			hp{"outside", backendtest.AddrA, 9090, false}, // nothing listens on a: the probe itself is sound
		)
		if err := n.dp.Resync(); err != nil {
			t.Fatal(err)
		}
		if st := n.dp.Stats(); st.Repairs != 0 {
			t.Errorf("resync after programming a host endpoint repaired something: %+v", st)
		}
		// A host endpoint no policy selects is closed but for the failsafe ports.
		n.Apply(t, hostEndpoint("node1-eth1", "eth1"))
		check("no policy", hp{"outside", nodeV4, 7070, false}, hp{"outside", nodeV4, 22, true}, hp{"node", outV4, 7000, false})
		// Failsafe ports from Config replace the defaults.
		n.Apply(t, dataplane.Config{EndpointToHostAction: dataplane.ActionAllow, FailsafeInbound: []dataplane.FailsafePort{{Protocol: 6, Port: 9090}}})
		check("failsafe [9090]", hp{"outside", nodeV4, 9090, true}, hp{"outside", nodeV4, 22, false})
		// Without a host endpoint the host's interfaces are not ours to judge.
		n.Apply(t, "node1-eth1")
		check("removed", hp{"outside", nodeV4, 9090, true}, hp{"outside", nodeV4, 7070, true}, hp{"node", outV4, 7001, true})
	})
}
