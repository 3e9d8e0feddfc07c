package desired

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/palisadenet/palisade/dataplane"
)

// sameMember compares members (netip.Prefix has unexported fields).
var sameMember = cmp.Comparer(func(a, b dataplane.SetMember) bool { return a == b })

func prefix(p string) netip.Prefix { return netip.MustParsePrefix(p) }

func member(p string) dataplane.SetMember {
	return dataplane.SetMember{Prefix: netip.MustParsePrefix(p)}
}

func netsSet(id string, members ...string) *dataplane.IPSet {
	s := &dataplane.IPSet{ID: id, Kind: dataplane.SetKindNets}
	for _, m := range members {
		s.Members = append(s.Members, member(m))
	}
	return s
}

var (
	polA = dataplane.PolicyID{Tier: "default", Name: "a"}
	polB = dataplane.PolicyID{Tier: "default", Name: "b"}
)

// policyUsing is a policy with one inbound rule needing membership of set.
func policyUsing(id dataplane.PolicyID, set string) *dataplane.Policy {
	return &dataplane.Policy{ID: id, Inbound: []dataplane.Rule{{Action: dataplane.ActionAllow,
		Source: dataplane.EndpointMatch{SetIDs: []string{set}}}}}
}

func mustFold(t *testing.T, s *State, us ...dataplane.Update) {
	t.Helper()
	for i := range us {
		if err := s.Fold(&us[i]); err != nil {
			t.Fatalf("Fold %d: %v", i, err)
		}
	}
}

// dirtyOf is Dirty after folding us into a state that starts from base with no
// pending work.
func dirtyOf(t *testing.T, opt Options, base []dataplane.Update, us ...dataplane.Update) Dirty {
	t.Helper()
	s := New(opt)
	mustFold(t, s, base...)
	s.ResetDirty()
	mustFold(t, s, us...)
	return s.Dirty
}

func TestFoldMarksWhatChanged(t *testing.T) {
	ep := &dataplane.Endpoint{Key: "ns/pod", Iface: "cali1", ProfileIDs: []string{"kns.ns"},
		Tiers: []dataplane.TierPolicies{{Name: "default", IngressPolicies: []dataplane.PolicyID{polA}}}}
	base := []dataplane.Update{{SetUpdate: netsSet("s1", "10.0.0.1/32")}, {PolicyUpdate: policyUsing(polA, "s1")},
		{ProfileUpdate: &dataplane.Profile{ID: "kns.ns"}}, {EndpointUpdate: ep}}
	empty := Dirty{Sets: map[string]bool{}, Deltas: map[string][]dataplane.SetMember{},
		Policies: map[dataplane.PolicyID]bool{}, Profiles: map[string]bool{}, Endpoints: map[string]bool{}}
	with := func(f func(*Dirty)) Dirty {
		d := empty
		d.Sets, d.Deltas, d.Policies, d.Profiles, d.Endpoints = map[string]bool{}, map[string][]dataplane.SetMember{},
			map[dataplane.PolicyID]bool{}, map[string]bool{}, map[string]bool{}
		f(&d)
		return d
	}
	for _, tc := range []struct {
		name string
		u    dataplane.Update
		want Dirty
	}{
		{"same-family set rewrite leaves its policies alone", dataplane.Update{SetUpdate: netsSet("s1", "10.0.0.2/32")},
			with(func(d *Dirty) { d.Sets["s1"] = true })},
		{"first IPv6 member re-renders the policies using the set", dataplane.Update{SetUpdate: netsSet("s1", "10.0.0.1/32", "fd00::1/128")},
			with(func(d *Dirty) { d.Sets["s1"] = true; d.Policies[polA] = true })},
		{"set removal re-renders its users", dataplane.Update{SetRemove: "s1"},
			with(func(d *Dirty) { d.Sets["s1"] = true; d.Policies[polA] = true })},
		{"policy content change leaves endpoints alone", dataplane.Update{PolicyUpdate: policyUsing(polA, "s1")},
			with(func(d *Dirty) { d.Policies[polA] = true })},
		{"new policy no endpoint names leaves endpoints alone", dataplane.Update{PolicyUpdate: policyUsing(polB, "s1")},
			with(func(d *Dirty) { d.Policies[polB] = true })},
		{"policy removal re-renders endpoints naming it", dataplane.Update{PolicyRemove: &polA},
			with(func(d *Dirty) { d.Policies[polA] = true; d.Endpoints["ns/pod"] = true })},
		{"profile removal re-renders endpoints naming it", dataplane.Update{ProfileRemove: "kns.ns"},
			with(func(d *Dirty) { d.Profiles["kns.ns"] = true; d.Endpoints["ns/pod"] = true })},
		{"config", dataplane.Update{ConfigUpdate: &dataplane.Config{}}, with(func(d *Dirty) { d.Base = true })},
		{"nat", dataplane.Update{NATUpdate: &dataplane.NATOutgoing{}}, with(func(d *Dirty) { d.NAT = true })},
		{"endpoint removal", dataplane.Update{EndpointRemove: "ns/pod"}, with(func(d *Dirty) { d.Endpoints["ns/pod"] = true })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := dirtyOf(t, Options{}, base, tc.u)
			if diff := cmp.Diff(tc.want, got, sameMember); diff != "" {
				t.Errorf("dirty (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFoldNewPolicyMarksEndpointsAlreadyNamingIt(t *testing.T) {
	ep := &dataplane.Endpoint{Key: "ns/pod", Tiers: []dataplane.TierPolicies{{Name: "default", EgressPolicies: []dataplane.PolicyID{polB}}}}
	got := dirtyOf(t, Options{}, []dataplane.Update{{EndpointUpdate: ep}}, dataplane.Update{PolicyUpdate: policyUsing(polB, "s1")})
	if !got.Endpoints["ns/pod"] {
		t.Errorf("endpoint naming the new policy not marked: %+v", got)
	}
}

func TestFoldSetUsersFollowPolicyContent(t *testing.T) {
	s := New(Options{})
	mustFold(t, s, dataplane.Update{SetUpdate: netsSet("s1", "10.0.0.1/32")}, dataplane.Update{SetUpdate: netsSet("s2", "10.0.0.1/32")},
		dataplane.Update{PolicyUpdate: policyUsing(polA, "s1")}, dataplane.Update{PolicyUpdate: policyUsing(polA, "s2")})
	s.ResetDirty()
	mustFold(t, s, dataplane.Update{SetRemove: "s1"})
	if s.Dirty.Policies[polA] {
		t.Errorf("policy no longer using s1 re-rendered on its removal")
	}
	mustFold(t, s, dataplane.Update{SetRemove: "s2"})
	if !s.Dirty.Policies[polA] {
		t.Errorf("policy using s2 not re-rendered on its removal")
	}
}

func TestFoldDeltas(t *testing.T) {
	base := []dataplane.Update{{SetUpdate: netsSet("s1", "10.0.0.0/8", "10.1.0.1/32")}, {PolicyUpdate: policyUsing(polA, "s1")}}
	delta := dataplane.Update{SetDeltaUpdate: &dataplane.SetDelta{ID: "s1",
		Removed: []dataplane.SetMember{member("10.0.0.0/8")}, Added: []dataplane.SetMember{member("10.2.0.1/32")}}}
	sortMembers := cmpopts.SortSlices(func(a, b dataplane.SetMember) bool { return a.Prefix.String() < b.Prefix.String() })

	raw := dirtyOf(t, Options{}, base, delta)
	if diff := cmp.Diff(map[string][]dataplane.SetMember{"s1": {member("10.0.0.0/8"), member("10.2.0.1/32")}}, raw.Deltas, sameMember); diff != "" {
		t.Errorf("raw deltas (-want +got):\n%s", diff)
	}
	cands := dirtyOf(t, Options{DeltaCandidates: true}, base, delta)
	want := []dataplane.SetMember{member("10.0.0.0/8"), member("10.1.0.1/32"), member("10.2.0.1/32")}
	if diff := cmp.Diff(want, cands.Deltas["s1"], sortMembers, sameMember); diff != "" {
		t.Errorf("candidate deltas (-want +got):\n%s", diff)
	}
	if raw.Policies[polA] || len(raw.Sets) > 0 {
		t.Errorf("same-family delta marked more than the delta: %+v", raw)
	}

	pending := dirtyOf(t, Options{}, base[:1], dataplane.Update{SetUpdate: netsSet("s1")}, delta)
	if len(pending.Deltas) > 0 || !pending.Sets["s1"] {
		t.Errorf("delta after a pending whole-set write: %+v, want only the write", pending)
	}
	lastV4 := dataplane.Update{SetDeltaUpdate: &dataplane.SetDelta{ID: "s1", Removed: []dataplane.SetMember{member("10.0.0.0/8"), member("10.1.0.1/32")}}}
	if d := dirtyOf(t, Options{}, base, lastV4); !d.Policies[polA] {
		t.Errorf("removing the last IPv4 member did not re-render the policy: %+v", d)
	}

	s := New(Options{})
	if err := s.Fold(&dataplane.Update{SetDeltaUpdate: &dataplane.SetDelta{ID: "nope"}}); err == nil {
		t.Error("delta for an unknown set: no error")
	}
}

func TestFoldClearsQuarantineOnNewContent(t *testing.T) {
	s := New(Options{PolicyOwner: func(id dataplane.PolicyID) string { return "p " + id.String() },
		ProfileOwner: func(id string) string { return "r " + id }})
	s.Quarantine["p default/a"] = errSentinel
	s.Quarantine["p default/b"] = errSentinel
	s.Quarantine["r kns.ns"] = errSentinel
	mustFold(t, s, dataplane.Update{PolicyUpdate: policyUsing(polA, "s1")}, dataplane.Update{ProfileRemove: "kns.ns"})
	if diff := cmp.Diff([]string{"p default/b"}, keys(s.Quarantine)); diff != "" {
		t.Errorf("quarantine (-want +got):\n%s", diff)
	}
}

var errSentinel = errors.New("rejected by the kernel")

func keys(m map[string]error) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestMarkAllDirtyAndInSync(t *testing.T) {
	s := New(Options{})
	mustFold(t, s, dataplane.Update{SetUpdate: netsSet("s1")}, dataplane.Update{PolicyUpdate: policyUsing(polA, "s1")},
		dataplane.Update{EndpointUpdate: &dataplane.Endpoint{Key: "e"}}, dataplane.Update{ProfileUpdate: &dataplane.Profile{ID: "p"}})
	if s.InSync {
		t.Fatal("in sync before an InSync update")
	}
	mustFold(t, s, dataplane.Update{InSync: true})
	if !s.InSync {
		t.Fatal("not in sync after an InSync update")
	}
	s.ResetDirty()
	s.MarkAllDirty()
	d := s.Dirty
	if !d.Sets["s1"] || !d.Policies[polA] || !d.Endpoints["e"] || !d.Profiles["p"] || !d.Base || !d.NAT {
		t.Errorf("MarkAllDirty left something out: %+v", d)
	}
}
