package iptables

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palisadenet/palisade/dataplane"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".txt")
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
// every action (the same cases as the nftables backend's golden tests).
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
		NotNets: []netip.Prefix{pfx("169.254.0.0/16"), pfx("10.96.0.0/12")}}}},
	{"dst-ports", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: u8(6), Destination: dataplane.EndpointMatch{
		Ports: []dataplane.PortRange{{First: 80, Last: 80}, {First: 8000, Last: 8080}, {First: 8080, Last: 8090}}}}},
	{"dst-many-ports", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: u8(17), Destination: dataplane.EndpointMatch{
		Ports: manyPorts(20)}}},
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
	{"protocol-and-not-protocol-equal", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: u8(6), NotProtocol: u8(6)}},
	{"not-protocol-with-ports", dataplane.Rule{Action: dataplane.ActionAllow, NotProtocol: u8(17), Destination: dataplane.EndpointMatch{
		Ports: []dataplane.PortRange{{First: 53, Last: 53}}}}},
	{"unknown-set-fails-closed", dataplane.Rule{Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{SetIDs: []string{"missing"}}}},
}

func manyPorts(n int) []dataplane.PortRange {
	var out []dataplane.PortRange
	for i := 0; i < n; i++ {
		p := uint16(1000 + 10*i)
		out = append(out, dataplane.PortRange{First: p, Last: p})
	}
	return out
}

func ruleSets() []*dataplane.IPSet {
	return []*dataplane.IPSet{
		netsSet("sel-a", "10.65.0.1/32", "fd00:65::1/128"),
		netsSet("sel-b", "10.65.0.2/32"),
		namedPortSet("np-http", 8080, 6, "10.65.0.2/32", "fd00:65::2/128"),
	}
}

func ruleState() *State {
	s := newState()
	for _, set := range ruleSets() {
		s.add(set)
	}
	return s
}

// renderPolicyText prints the inbound chain of a policy for both families.
func renderPolicyText(t *testing.T, p *dataplane.Policy, s *State, wantErr bool) string {
	var b strings.Builder
	for _, fam := range Families {
		chains, err := RenderPolicy(p, fam, s.setInfo, Options{})
		if (err != nil) != wantErr {
			t.Fatalf("RenderPolicy(IPv%d) error = %v", fam, err)
		}
		b.WriteString("# IPv" + string(rune('0'+fam)) + "\n")
		b.WriteString(RestoreText(chains[:1], false))
	}
	return b.String()
}

func TestRenderRuleGolden(t *testing.T) {
	for _, tc := range ruleCases {
		t.Run(tc.name, func(t *testing.T) {
			p := policyWithRule(tc.name, tc.rule)
			golden(t, "rule-"+tc.name, renderPolicyText(t, p, ruleState(), strings.HasPrefix(tc.name, "unknown-set")))
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

// fullText prints a ruleset as a cold start writes it: ipsets, then both families.
func fullText(rs *Ruleset) string {
	return "# ipset restore\n" + SetRestore(rs.Sets) +
		"# iptables-restore --noflush\n" + RestoreText(rs.Filter4, true) +
		"# ip6tables-restore --noflush\n" + RestoreText(rs.Filter6, true)
}

func TestRenderFullGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  dataplane.Config
		opt  Options
	}{
		{"full-endpoint-to-host-accept", dataplane.Config{EndpointToHostAction: dataplane.ActionAllow}, Options{}},
		{"full-endpoint-to-host-drop", dataplane.Config{EndpointToHostAction: dataplane.ActionDeny}, Options{}},
		{"full-endpoint-to-host-return", dataplane.Config{EndpointToHostAction: dataplane.ActionPass}, Options{ReturnAllowed: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := Render(fullState(tc.cfg), tc.opt)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			golden(t, tc.name, fullText(rs))
		})
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	a, _ := Render(fullState(dataplane.Config{}), Options{})
	b, _ := Render(fullState(dataplane.Config{}), Options{})
	if diff := cmp.Diff(fullText(a), fullText(b)); diff != "" {
		t.Fatalf("two renders differ:\n%s", diff)
	}
}

func TestChainNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{PolicyChainName(pid("default", "allow"), true), "cali-pi-default/allow"},
		{PolicyChainName(pid("default", "allow"), false), "cali-po-default/allow"},
		{ProfileChainName("kns.ns", true), "cali-pri-kns.ns"},
		{EndpointChainName("cali0123456789a", false), "cali-fw-cali0123456789a"},
		{EndpointChainName("cali0123456789a", true), "cali-tw-cali0123456789a"},
	} {
		if tc.got != tc.want {
			t.Errorf("name %q, want %q", tc.got, tc.want)
		}
	}
	long := PolicyChainName(pid("default", "production/allow-tcp-6379-from-frontend"), true)
	if len(long) > maxChainName || !strings.HasPrefix(long, "cali-pi-_") {
		t.Errorf("long policy chain name %q: want cali-pi-_<hash>, at most %d characters", long, maxChainName)
	}
	if long != PolicyChainName(pid("default", "production/allow-tcp-6379-from-frontend"), true) {
		t.Error("shortened name is not stable")
	}
	if other := PolicyChainName(pid("default", "production/allow-tcp-6379-from-frontenD"), true); other == long {
		t.Error("two long names share a chain")
	}
	// A name with characters outside Kubernetes names is hashed, never used raw.
	if n := ProfileChainName("a b", true); strings.Contains(n, " ") {
		t.Errorf("profile chain %q contains a space", n)
	}
	if n := SetName("sel-a", dataplane.SetKindNets, IPv6); len(n) > 31 || !strings.HasPrefix(n, "cali60s") || !ownSetName(n) {
		t.Errorf("set name %q", n)
	}
	if n := tempSetName(SetName("sel-a", dataplane.SetKindNamedPort, IPv4)); !strings.HasPrefix(n, "cali4tn") || !ownSetName(n) {
		t.Errorf("temp set name %q", n)
	}
}

func TestSetEntries(t *testing.T) {
	sets := RenderSet(netsSet("all", "0.0.0.0/0", "10.0.0.0/8", "10.0.0.1/32", "::/0", "fd00::1/128"))
	if diff := cmp.Diff([]string{"0.0.0.0/1", "10.0.0.0/8", "10.0.0.1/32", "128.0.0.0/1"}, sets[0].Entries); diff != "" {
		t.Errorf("IPv4 entries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"8000::/1", "::/1", "fd00::1/128"}, sets[1].Entries); diff != "" {
		t.Errorf("IPv6 entries (-want +got):\n%s", diff)
	}
	np := RenderSet(&dataplane.IPSet{ID: "np", Kind: dataplane.SetKindNamedPort, Members: []dataplane.SetMember{
		{Prefix: pfx("10.0.0.1/32"), Protocol: 6, Port: 80}, {Prefix: pfx("10.0.0.1/32"), Protocol: 132, Port: 80},
		{Prefix: pfx("10.0.0.2/32"), Protocol: 1, Port: 0}}})
	if diff := cmp.Diff([]string{"10.0.0.1,sctp:80", "10.0.0.1,tcp:80"}, np[0].Entries); diff != "" {
		t.Errorf("named-port entries (-want +got):\n%s", diff)
	}
}

func TestCommentsAreSanitized(t *testing.T) {
	c := &Chain{Name: "cali-x", Rules: []Rule{{Target: "-j DROP", Comment: "a \"quoted\"\nname " + strings.Repeat("x", 300)}}}
	line := c.Lines()[0]
	if strings.Count(line, `"`) != 2 || strings.Contains(line, "\n") || len(line) > 300 {
		t.Errorf("unsafe comment in %q", line)
	}
}
