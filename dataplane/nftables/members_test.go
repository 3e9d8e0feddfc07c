package nftables

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/desired"
)

// TestMemberSetDeltaMatchesFullRender replays member changes and checks that the
// elements derived incrementally (element() of each candidate) always equal a full
// render of the set: the delta path may never diverge from the full path.
func TestMemberSetDeltaMatchesFullRender(t *testing.T) {
	steps := []struct {
		add, remove []string
	}{
		{add: []string{"10.1.0.1/32", "10.1.0.2/32", "fd00::1/128"}},
		{add: []string{"10.1.0.0/16"}},    // covers both hosts
		{add: []string{"10.0.0.0/8"}},     // covers the /16
		{remove: []string{"10.1.0.0/16"}}, // still covered by the /8
		{remove: []string{"10.0.0.0/8"}},  // hosts come back
		{add: []string{"10.1.0.1/32"}},    // duplicate add
		{remove: []string{"10.9.9.9/32"}}, // absent member
		{remove: []string{"10.1.0.1/32", "fd00::1/128"}},
	}
	ms := desired.NewMemberSet(&dataplane.IPSet{ID: "x", Kind: dataplane.SetKindNets})
	have := map[Element]bool{}
	for i, st := range steps {
		var cands []dataplane.SetMember
		for _, r := range st.remove {
			m := dataplane.SetMember{Prefix: pfx(r)}
			cands = append(cands, ms.Candidates(m)...)
			ms.Remove(m)
		}
		for _, a := range st.add {
			m := dataplane.SetMember{Prefix: pfx(a)}
			ms.Add(m)
			cands = append(cands, ms.Candidates(m)...)
		}
		for _, c := range cands {
			el, want := element(ms, c)
			if want {
				have[el] = true
			} else {
				delete(have, el)
			}
		}
		full := map[Element]bool{}
		for _, el := range setElements(ms.ToIPSet("x")) {
			full[el] = true
		}
		if diff := cmp.Diff(full, have, cmp.Comparer(func(a, b Element) bool { return a == b })); diff != "" {
			t.Fatalf("step %d: incremental elements differ from full render (-full +incremental):\n%s", i, diff)
		}
	}
}

func TestNamedPortMembersNormalizeToHostAddress(t *testing.T) {
	s := namedPortSet("np", 80, 6, "10.0.0.5/32", "10.0.0.5/32", "fd00::5/128")
	els := setElements(s)
	if len(els) != 2 {
		t.Fatalf("elements = %v, want 2 (duplicates merged)", els)
	}
	if els[0].Start.String() != "10.0.0.5" || els[0].Proto != 6 || els[0].Port != 80 {
		t.Errorf("first element = %+v", els[0])
	}
}
