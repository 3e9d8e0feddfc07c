package desired

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/palisadenet/palisade/dataplane"
)

func TestApplyRejectsUnsafeOrder(t *testing.T) {
	m := dataplane.SetMember{Prefix: netip.MustParsePrefix("10.0.0.1/32")}
	set := dataplane.Update{SetUpdate: &dataplane.IPSet{ID: "s1", Members: []dataplane.SetMember{m}}}
	pid := dataplane.PolicyID{Tier: "default", Name: "a/p"}
	pol := dataplane.Update{PolicyUpdate: &dataplane.Policy{ID: pid, Inbound: []dataplane.Rule{
		{ID: "r0", Action: dataplane.ActionAllow, Source: dataplane.EndpointMatch{SetIDs: []string{"s1"}}}}}}
	prof := dataplane.Update{ProfileUpdate: &dataplane.Profile{ID: "kns.a"}}
	ep := dataplane.Update{EndpointUpdate: &dataplane.Endpoint{Key: "a/x", ProfileIDs: []string{"kns.a"},
		Tiers: []dataplane.TierPolicies{{Name: "default", IngressPolicies: []dataplane.PolicyID{pid}}}}}
	for _, tc := range []struct {
		name    string
		updates []dataplane.Update
		wantErr string // "" means the stream is valid
	}{
		{"safe order", []dataplane.Update{set, pol, prof, ep, {EndpointRemove: "a/x"}, {PolicyRemove: &pid}, {SetRemove: "s1"}}, ""},
		{"policy before its set", []dataplane.Update{pol, set}, "unknown set s1"},
		{"endpoint before its policy", []dataplane.Update{set, prof, ep, pol}, "unknown policy"},
		{"endpoint before its profile", []dataplane.Update{set, pol, ep}, "unknown profile"},
		{"set removed while used", []dataplane.Update{set, pol, {SetRemove: "s1"}}, "still used by policy"},
		{"policy removed while used", []dataplane.Update{set, pol, prof, ep, {PolicyRemove: &pid}}, "still used by endpoint"},
		{"delta adds a present member", []dataplane.Update{set, {SetDeltaUpdate: &dataplane.SetDelta{ID: "s1", Added: []dataplane.SetMember{m}}}}, "adding present member"},
		{"delta removes an absent member", []dataplane.Update{{SetUpdate: &dataplane.IPSet{ID: "s1"}}, {SetDeltaUpdate: &dataplane.SetDelta{ID: "s1", Removed: []dataplane.SetMember{m}}}}, "removing absent member"},
		{"delta on unknown set", []dataplane.Update{{SetDeltaUpdate: &dataplane.SetDelta{ID: "s9"}}}, "unknown set s9"},
		{"empty update", []dataplane.Update{{}}, "empty update"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := New().ApplyAll(tc.updates)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("ApplyAll: %v, want success", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("ApplyAll: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestDeltaKeepsMembersSorted(t *testing.T) {
	st := New()
	p := func(s string) dataplane.SetMember { return dataplane.SetMember{Prefix: netip.MustParsePrefix(s)} }
	err := st.ApplyAll([]dataplane.Update{
		{SetUpdate: &dataplane.IPSet{ID: "s", Members: []dataplane.SetMember{p("10.0.0.9/32"), p("10.0.0.1/32")}}},
		{SetDeltaUpdate: &dataplane.SetDelta{ID: "s", Added: []dataplane.SetMember{p("10.0.0.5/32")}, Removed: []dataplane.SetMember{p("10.0.0.9/32")}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := st.Sets["s"].Members
	if len(got) != 2 || got[0] != p("10.0.0.1/32") || got[1] != p("10.0.0.5/32") {
		t.Errorf("members = %v, want [10.0.0.1/32 10.0.0.5/32]", got)
	}
}
