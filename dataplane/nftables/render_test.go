package nftables

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"net/netip"

	"github.com/google/go-cmp/cmp"
	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/backendtest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.nft golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	backendtest.Golden(t, filepath.Join("testdata", name+".nft"), got, *update)
}

// ruleCases are the shared golden rule cases (see backendtest.RuleCases) and this
// backend's own.
var ruleCases = append(backendtest.RuleCases(), []backendtest.RuleCase{
	{Name: "dst-not-nets", Rule: dataplane.Rule{Action: dataplane.ActionAllow, Destination: dataplane.EndpointMatch{
		NotNets: []netip.Prefix{pfx("169.254.0.0/16")}}}},
}...)

func ruleSets() []*dataplane.IPSet {
	return []*dataplane.IPSet{
		netsSet("sel-a", "10.65.0.1/32", "fd00:65::1/128"),
		netsSet("sel-b", "10.65.0.2/32"),
		namedPortSet("np-http", 8080, 6, "10.65.0.2/32", "fd00:65::2/128"),
	}
}

func TestRenderRuleGolden(t *testing.T) {
	for _, tc := range ruleCases {
		t.Run(tc.Name, func(t *testing.T) {
			s := newState()
			for _, set := range ruleSets() {
				s.Add(set)
			}
			p := policyWithRule(tc.Name, tc.Rule)
			chains, err := RenderPolicy(p, s.SetInfo, Options{})
			if (err != nil) != strings.HasPrefix(tc.Name, "unknown-set") {
				t.Fatalf("RenderPolicy error = %v", err)
			}
			golden(t, "rule-"+tc.Name, (&Table{Chains: chains[:1]}).String())
		})
	}
}

// fullState is a small node: two workloads, tiers with Pass, a named port, profiles.
func fullState(cfg dataplane.Config) *State {
	s := newState().Add(cfg, allowProfile("ns"))
	for _, set := range ruleSets() {
		s.Add(set)
	}
	s.Add(
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
