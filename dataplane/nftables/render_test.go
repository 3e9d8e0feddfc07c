package nftables

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"net/netip"

	"github.com/google/go-cmp/cmp"
	"github.com/palisadenet/palisade/dataplane"
)

var update = flag.Bool("update", false, "rewrite testdata/*.nft golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".nft")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got, -update to accept):\n%s", path, diff)
	}
}

// ruleCases render one policy rule each, covering every field of dataplane.Rule and
// every action. Each golden file holds only the policy's chains, so a diff points at
// the rule field that changed.
var ruleCases = []struct {
	name string
	rule dataplane.Rule
}{
	{"action-allow", dataplane.Rule{Action: dataplane.ActionAllow}},
	{"action-deny", dataplane.Rule{Action: dataplane.ActionDeny}},
	{"action-pass", dataplane.Rule{Action: dataplane.ActionPass}},
	{"action-log", dataplane.Rule{Action: dataplane.ActionLog, LogPrefix: "calico-drop"}},
	{"protocol", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: u8(6)}},
	{"not-protocol", dataplane.Rule{Action: dataplane.ActionAllow, NotProtocol: u8(17)}},
	{"ipversion-4", dataplane.Rule{Action: dataplane.ActionAllow, IPVersion: 4}},
	{"ipversion-6", dataplane.Rule{Action: dataplane.ActionAllow, IPVersion: 6, Protocol: u8(6)}},
	{"src-set", dataplane.Rule{Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{SetIDs: []string{"sel-a", "sel-b"}}}},
	{"src-not-set", dataplane.Rule{Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{NotSetIDs: []string{"sel-a"}}}},
	{"dst-set", dataplane.Rule{Action: dataplane.ActionDeny, Destination: dataplane.EndpointMatch{SetIDs: []string{"sel-b"}}}},
	{"src-nets", dataplane.Rule{Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{
		Nets: []netip.Prefix{pfx("10.0.0.0/8"), pfx("10.1.0.0/16"), pfx("192.168.1.0/24"), pfx("fd00::/8")}}}},
	{"src-nets-v4-only-ipv6", dataplane.Rule{Action: dataplane.ActionAllow, IPVersion: 6, Source: dataplane.EndpointMatch{
		Nets: []netip.Prefix{pfx("10.0.0.0/8")}}}},
	{"dst-not-nets", dataplane.Rule{Action: dataplane.ActionAllow, Destination: dataplane.EndpointMatch{
		NotNets: []netip.Prefix{pfx("169.254.0.0/16")}}}},
	{"dst-ports", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: u8(6), Destination: dataplane.EndpointMatch{
		Ports: []dataplane.PortRange{{First: 80, Last: 80}, {First: 8000, Last: 8080}, {First: 8080, Last: 8090}}}}},
	{"src-ports-no-protocol", dataplane.Rule{Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{
		Ports: []dataplane.PortRange{{First: 53, Last: 53}}}}},
	{"dst-not-ports", dataplane.Rule{Action: dataplane.ActionDeny, Protocol: u8(17), Destination: dataplane.EndpointMatch{
		NotPorts: []dataplane.PortRange{{First: 1, Last: 1023}}}}},
	{"dst-named-port", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: u8(6), Destination: dataplane.EndpointMatch{
		NamedPortSetIDs: []string{"np-http"}}}},
	{"dst-ports-or-named-port", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: u8(6), Destination: dataplane.EndpointMatch{
		Ports: []dataplane.PortRange{{First: 443, Last: 443}}, NamedPortSetIDs: []string{"np-http"}}}},
	{"dst-not-named-port", dataplane.Rule{Action: dataplane.ActionDeny, Protocol: u8(6), Destination: dataplane.EndpointMatch{
		NotNamedPortSetIDs: []string{"np-http"}}}},
	{"icmp-type", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: u8(1), ICMP: &dataplane.ICMPMatch{Type: 8}}},
	{"icmp-type-code", dataplane.Rule{Action: dataplane.ActionAllow, IPVersion: 4, ICMP: &dataplane.ICMPMatch{Type: 3, Code: u8(4)}}},
	{"icmpv6-type", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: u8(58), ICMP: &dataplane.ICMPMatch{Type: 128}}},
	{"not-icmp-type-code", dataplane.Rule{Action: dataplane.ActionDeny, Protocol: u8(1), NotICMP: &dataplane.ICMPMatch{Type: 8, Code: u8(0)}}},
	{"unknown-set-fails-closed", dataplane.Rule{Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{SetIDs: []string{"missing"}}}},
}

func ruleSets() []*dataplane.IPSet {
	return []*dataplane.IPSet{
		netsSet("sel-a", "10.65.0.1/32", "fd00:65::1/128"),
		netsSet("sel-b", "10.65.0.2/32"),
		namedPortSet("np-http", 8080, 6, "10.65.0.2/32", "fd00:65::2/128"),
	}
}

func TestRenderRuleGolden(t *testing.T) {
	for _, tc := range ruleCases {
		t.Run(tc.name, func(t *testing.T) {
			s := newState()
			for _, set := range ruleSets() {
				s.add(set)
			}
			p := policyWithRule(tc.name, tc.rule)
			chains, err := RenderPolicy(p, s.setKind, Options{})
			if (err != nil) != strings.HasPrefix(tc.name, "unknown-set") {
				t.Fatalf("RenderPolicy error = %v", err)
			}
			golden(t, "rule-"+tc.name, (&Table{Chains: chains[:1]}).String())
		})
	}
}

// fullState is a small node: two workloads, tiers with Pass, a named port, profiles.
func fullState(cfg dataplane.Config) *State {
	s := newState().add(cfg, allowProfile("ns"))
	for _, set := range ruleSets() {
		s.add(set)
	}
	s.add(
		&dataplane.Policy{ID: pid("security", "pass-all"), Inbound: []dataplane.Rule{{ID: "pass", Action: dataplane.ActionPass}}},
		policyWithRule("allow-from-a", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: u8(6),
			Source: dataplane.EndpointMatch{SetIDs: []string{"sel-a"}}, Destination: dataplane.EndpointMatch{NamedPortSetIDs: []string{"np-http"}}}),
		workload("ns/a", "cali0000000000a", nil, "10.65.0.1/32", "fd00:65::1/128"),
		workload("ns/b", "cali0000000000b", []dataplane.TierPolicies{
			{Name: "security", IngressPolicies: []dataplane.PolicyID{pid("security", "pass-all")}, DefaultAction: dataplane.ActionDeny},
			{Name: "default", IngressPolicies: []dataplane.PolicyID{pid("default", "allow-from-a"), pid("default", "not-yet-known")}, DefaultAction: dataplane.ActionDeny},
		}, "10.65.0.2/32", "fd00:65::2/128"),
	)
	return s
}

func TestRenderFullGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  dataplane.Config
	}{
		{"full-endpoint-to-host-accept", dataplane.Config{EndpointToHostAction: dataplane.ActionAllow}},
		{"full-endpoint-to-host-drop", dataplane.Config{EndpointToHostAction: dataplane.ActionDeny}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			table, err := Render(fullState(tc.cfg), Options{})
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			golden(t, tc.name, table.String())
		})
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	a, _ := Render(fullState(dataplane.Config{}), Options{})
	b, _ := Render(fullState(dataplane.Config{}), Options{})
	if diff := cmp.Diff(a.String(), b.String()); diff != "" {
		t.Fatalf("two renders differ:\n%s", diff)
	}
}
