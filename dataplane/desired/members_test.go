package desired

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/palisadenet/palisade/dataplane"
)

// Named-port members become host prefixes of their unmapped address.
func TestMemberSetCanonicalFormAndFamilies(t *testing.T) {
	ms := NewMemberSet(netsSet("s", "10.1.2.3/8", "10.9.9.9/32"))
	if !ms.Has(member("10.0.0.0/8")) || !ms.Has(member("10.9.9.9/32")) {
		t.Errorf("members not in canonical (masked) form: %v", ms.ToIPSet("s").Members)
	}
	if got, want := ms.Info(), (SetInfo{Kind: dataplane.SetKindNets, HasV4: true}); got != want {
		t.Errorf("Info = %+v, want %+v", got, want)
	}
	ms.Add(member("fd00::1/128"))
	ms.Remove(member("10.0.0.0/8"))
	ms.Remove(member("10.9.9.9/32"))
	if got, want := ms.Info(), (SetInfo{Kind: dataplane.SetKindNets, HasV6: true}); got != want {
		t.Errorf("Info after changes = %+v, want %+v", got, want)
	}
	if ms.Len() != 1 {
		t.Errorf("Len = %d, want 1", ms.Len())
	}

	np := NewMemberSet(&dataplane.IPSet{ID: "np", Kind: dataplane.SetKindNamedPort,
		Members: []dataplane.SetMember{{Prefix: prefix("::ffff:10.0.0.5/120"), Protocol: 6, Port: 80}}})
	want := dataplane.SetMember{Prefix: prefix("10.0.0.5/32"), Protocol: 6, Port: 80}
	if diff := cmp.Diff([]dataplane.SetMember{want}, np.ToIPSet("np").Members, cmp.Comparer(func(a, b dataplane.SetMember) bool { return a == b })); diff != "" {
		t.Errorf("named-port members (-want +got):\n%s", diff)
	}
}

func TestMemberSetCoveredAndCandidates(t *testing.T) {
	ms := NewMemberSet(netsSet("s", "10.0.0.0/8", "10.1.0.0/16", "10.1.0.1/32", "192.168.0.1/32"))
	if !ms.Covered(prefix("10.1.0.1/32")) || ms.Covered(prefix("10.0.0.0/8")) || ms.Covered(prefix("192.168.0.1/32")) {
		t.Error("Covered: wrong verdict")
	}
	got := map[string]bool{}
	for _, c := range ms.Candidates(member("10.0.0.0/8")) {
		got[c.Prefix.String()] = true
	}
	if diff := cmp.Diff(map[string]bool{"10.0.0.0/8": true, "10.1.0.0/16": true, "10.1.0.1/32": true}, got); diff != "" {
		t.Errorf("Candidates (-want +got):\n%s", diff)
	}
}
