package iptables

import (
	"flag"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/backendtest"
	"github.com/palisadenet/palisade/dataplane/desired"
)

var update = flag.Bool("update", false, "rewrite testdata/*.txt golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	backendtest.Golden(t, filepath.Join("testdata", name+".txt"), got, *update)
}

// ruleCases are the shared golden rule cases (see backendtest.RuleCases) and this
// backend's own.
var ruleCases = append(backendtest.RuleCases(), []backendtest.RuleCase{
	{Name: "dst-not-nets", Rule: dataplane.Rule{Action: dataplane.ActionAllow, Destination: dataplane.EndpointMatch{
		NotNets: []netip.Prefix{backendtest.Pfx("169.254.0.0/16"), backendtest.Pfx("10.96.0.0/12")}}}},
	{Name: "dst-many-ports", Rule: dataplane.Rule{Action: dataplane.ActionAllow, Protocol: backendtest.U8(17), Destination: dataplane.EndpointMatch{
		Ports: manyPorts(20)}}},
	{Name: "protocol-and-not-protocol-equal", Rule: dataplane.Rule{Action: dataplane.ActionAllow, Protocol: backendtest.U8(6), NotProtocol: backendtest.U8(6)}},
	{Name: "not-protocol-with-ports", Rule: dataplane.Rule{Action: dataplane.ActionAllow, NotProtocol: backendtest.U8(17), Destination: dataplane.EndpointMatch{
		Ports: []dataplane.PortRange{{First: 53, Last: 53}}}}},
}...)

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
		backendtest.NetsSet("sel-a", "10.65.0.1/32", "fd00:65::1/128"),
		backendtest.NetsSet("sel-b", "10.65.0.2/32"),
		backendtest.NamedPortSet("np-http", 8080, 6, "10.65.0.2/32", "fd00:65::2/128"),
	}
}

func ruleState() *State {
	s := desired.NewObjects()
	for _, set := range ruleSets() {
		s.Add(set)
	}
	return s
}

// renderPolicyText prints the inbound chain of a policy for both families.
func renderPolicyText(t *testing.T, p *dataplane.Policy, s *State, wantErr bool) string {
	var b strings.Builder
	for _, fam := range Families {
		chains, err := RenderPolicy(p, fam, s.SetInfo, Options{})
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
		t.Run(tc.Name, func(t *testing.T) {
			p := backendtest.PolicyWithRule(tc.Name, tc.Rule)
			golden(t, "rule-"+tc.Name, renderPolicyText(t, p, ruleState(), strings.HasPrefix(tc.Name, "unknown-set")))
		})
	}
}

// fullState is a small node: two workloads, tiers with Pass, a named port, profiles.
func fullState(cfg dataplane.Config) *State {
	s := desired.NewObjects().Add(cfg, backendtest.AllowProfile("ns"))
	for _, set := range ruleSets() {
		s.Add(set)
	}
	s.Add(
		&dataplane.Policy{ID: backendtest.PID("security", "pass-all"), Inbound: []dataplane.Rule{{ID: "pass", Action: dataplane.ActionPass}}},
		backendtest.PolicyWithRule("allow-from-a", dataplane.Rule{Action: dataplane.ActionAllow, Protocol: backendtest.U8(6),
			Source: dataplane.EndpointMatch{SetIDs: []string{"sel-a"}}, Destination: dataplane.EndpointMatch{NamedPortSetIDs: []string{"np-http"}}}),
		backendtest.Workload("ns/a", "cali0000000000a", nil, "10.65.0.1/32", "fd00:65::1/128"),
		backendtest.Workload("ns/b", "cali0000000000b", []dataplane.TierPolicies{
			{Name: "security", IngressPolicies: []dataplane.PolicyID{backendtest.PID("security", "pass-all")}, DefaultAction: dataplane.ActionDeny},
			{Name: "default", IngressPolicies: []dataplane.PolicyID{backendtest.PID("default", "allow-from-a"), backendtest.PID("default", "not-yet-known")}, DefaultAction: dataplane.ActionDeny},
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
		{PolicyChainName(backendtest.PID("default", "allow"), true), "cali-pi-default/allow"},
		{PolicyChainName(backendtest.PID("default", "allow"), false), "cali-po-default/allow"},
		{ProfileChainName("kns.ns", true), "cali-pri-kns.ns"},
		{EndpointChainName("cali0123456789a", false), "cali-fw-cali0123456789a"},
		{EndpointChainName("cali0123456789a", true), "cali-tw-cali0123456789a"},
	} {
		if tc.got != tc.want {
			t.Errorf("name %q, want %q", tc.got, tc.want)
		}
	}
	long := PolicyChainName(backendtest.PID("default", "production/allow-tcp-6379-from-frontend"), true)
	if len(long) > maxChainName || !strings.HasPrefix(long, "cali-pi-_") {
		t.Errorf("long policy chain name %q: want cali-pi-_<hash>, at most %d characters", long, maxChainName)
	}
	if long != PolicyChainName(backendtest.PID("default", "production/allow-tcp-6379-from-frontend"), true) {
		t.Error("shortened name is not stable")
	}
	if other := PolicyChainName(backendtest.PID("default", "production/allow-tcp-6379-from-frontenD"), true); other == long {
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
	sets := RenderSet(backendtest.NetsSet("all", "0.0.0.0/0", "10.0.0.0/8", "10.0.0.1/32", "::/0", "fd00::1/128"))
	if diff := cmp.Diff([]string{"0.0.0.0/1", "10.0.0.0/8", "10.0.0.1/32", "128.0.0.0/1"}, sets[0].Entries); diff != "" {
		t.Errorf("IPv4 entries (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"8000::/1", "::/1", "fd00::1/128"}, sets[1].Entries); diff != "" {
		t.Errorf("IPv6 entries (-want +got):\n%s", diff)
	}
	np := RenderSet(&dataplane.IPSet{ID: "np", Kind: dataplane.SetKindNamedPort, Members: []dataplane.SetMember{
		{Prefix: backendtest.Pfx("10.0.0.1/32"), Protocol: 6, Port: 80}, {Prefix: backendtest.Pfx("10.0.0.1/32"), Protocol: 132, Port: 80},
		{Prefix: backendtest.Pfx("10.0.0.2/32"), Protocol: 1, Port: 0}}})
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
