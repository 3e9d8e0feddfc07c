package controllers

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/palisadenet/palisade/api/v3"
)

// holder is one allocated ordinal of a test block.
type holder struct {
	ord    int
	handle string // "" for none
	attrs  map[string]string
}

func pod(ns, name string) map[string]string {
	return map[string]string{"namespace": ns, "pod": name, "node": "n1"}
}

func block(cidr, node string, holders ...holder) *v3.IPAMBlock {
	p := netip.MustParsePrefix(cidr)
	size := 1 << (p.Addr().BitLen() - p.Bits())
	b := &v3.IPAMBlock{ObjectMeta: metav1.ObjectMeta{Name: cidr, ResourceVersion: "7"},
		Spec: v3.IPAMBlockSpec{CIDR: cidr, Allocations: make([]*int, size)}}
	if node != "" {
		aff := "host:" + node
		b.Spec.Affinity = &aff
	}
	for i, h := range holders {
		idx := i
		b.Spec.Allocations[h.ord] = &idx
		attr := v3.AllocationAttribute{Secondary: h.attrs}
		if h.handle != "" {
			handle := h.handle
			attr.HandleID = &handle
		}
		b.Spec.Attributes = append(b.Spec.Attributes, attr)
	}
	return b
}

func TestPlanGC(t *testing.T) {
	addr := netip.MustParseAddr
	cases := []struct {
		name string
		inv  Inventory
		want Plan
	}{{
		name: "a handle shared with a live pod is not released",
		inv: Inventory{
			Blocks: []*v3.IPAMBlock{block("10.0.0.0/30", "n1",
				holder{0, "h1", pod("ns", "gone")}, holder{1, "h1", pod("ns", "live")})},
			Pods: map[string]bool{"ns/live": true}, Nodes: map[string]bool{"n1": true},
		},
		want: Plan{Waiting: []Allocation{{addr("10.0.0.0"), "10.0.0.0/30", "h1", "pod:ns/gone"}}},
	}, {
		name: "no handle: reported, never released",
		inv: Inventory{
			Blocks: []*v3.IPAMBlock{block("10.0.0.0/30", "n1", holder{2, "", pod("ns", "gone")})},
			Nodes:  map[string]bool{"n1": true},
		},
		want: Plan{Unreleasable: []Allocation{{addr("10.0.0.2"), "10.0.0.0/30", "", "pod:ns/gone"}}},
	}, {
		name: "v4 and v6 addresses of one gone pod go together",
		inv: Inventory{
			Blocks: []*v3.IPAMBlock{
				block("10.0.0.0/30", "n1", holder{3, "h", pod("ns", "gone")}),
				block("fd00::100/126", "n1", holder{1, "h", pod("ns", "gone")}),
			},
			Nodes: map[string]bool{"n1": true},
		},
		want: Plan{Release: []HandleRelease{{Handle: "h", Owners: []Owner{"pod:ns/gone"},
			Addrs: []netip.Addr{addr("10.0.0.3"), addr("fd00::101")}}}},
	}, {
		name: "allocations without owner attributes are not ours",
		inv: Inventory{
			Blocks: []*v3.IPAMBlock{block("10.0.0.0/30", "n1", holder{0, "h", nil})},
			Nodes:  map[string]bool{"n1": true},
		},
	}, {
		name: "gone node: empty block and its affinity go, a foreign affinity stays",
		inv: Inventory{
			Blocks: []*v3.IPAMBlock{block("10.0.0.0/30", "gone"), block("10.0.0.4/30", "n1")},
			Affinities: []*v3.BlockAffinity{
				{ObjectMeta: metav1.ObjectMeta{Name: "gone-a", ResourceVersion: "3"}, Spec: v3.BlockAffinitySpec{Node: "gone", CIDR: "10.0.0.0/30"}},
				{ObjectMeta: metav1.ObjectMeta{Name: "gone-b", ResourceVersion: "4"}, Spec: v3.BlockAffinitySpec{Node: "gone", CIDR: "10.0.0.4/30"}},
				{ObjectMeta: metav1.ObjectMeta{Name: "n1-b", ResourceVersion: "5"}, Spec: v3.BlockAffinitySpec{Node: "n1", CIDR: "10.0.0.4/30"}},
			},
			Nodes: map[string]bool{"n1": true},
		},
		want: Plan{
			DeleteBlocks: []BlockDeletion{{Name: "10.0.0.0/30", CIDR: "10.0.0.0/30", Node: "gone", ResourceVersion: "7",
				Affinities: []AffinityRef{{Name: "gone-a", Node: "gone", CIDR: "10.0.0.0/30", ResourceVersion: "3"}}}},
			DeleteAffinities: []AffinityRef{{Name: "gone-b", Node: "gone", CIDR: "10.0.0.4/30", ResourceVersion: "4"}},
		},
	}, {
		name: "a block that does not parse is reported and left alone",
		inv: Inventory{
			Blocks: []*v3.IPAMBlock{{ObjectMeta: metav1.ObjectMeta{Name: "bad"}, Spec: v3.IPAMBlockSpec{CIDR: "nonsense"}}},
		},
		want: Plan{Invalid: []string{"block bad: cidr and allocations do not match"}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := Sightings{}
			PlanGC(tc.inv, seen, t0, grace)
			got := PlanGC(tc.inv, seen, t0.Add(grace), grace)
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty(), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); diff != "" {
				t.Errorf("plan after two scans a grace period apart (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSightings(t *testing.T) {
	s := Sightings{}
	o := Owner("pod:ns/p")
	s.observe(map[Owner]bool{o: true}, t0)
	if s.expired(o, t0.Add(100*time.Hour), time.Minute) {
		t.Error("expired after a single scan")
	}
	s.observe(map[Owner]bool{o: true}, t0.Add(time.Second))
	if s.expired(o, t0.Add(time.Second), time.Minute) || !s.expired(o, t0.Add(time.Minute), time.Minute) {
		t.Error("expiry does not count from the first sighting")
	}
	s.observe(map[Owner]bool{}, t0.Add(2*time.Minute))
	if _, ok := s[o]; ok {
		t.Error("an owner seen again is not forgotten")
	}
}

func TestNthAddr(t *testing.T) {
	for _, tc := range []struct {
		base string
		n    int
		want string
	}{{"10.0.0.0", 0, "10.0.0.0"}, {"10.0.0.192", 63, "10.0.0.255"}, {"10.0.0.255", 1, "10.0.1.0"}, {"fd00::ff", 1, "fd00::100"}, {"fd00::", 4095, "fd00::fff"}} {
		if got := nthAddr(netip.MustParseAddr(tc.base), tc.n); got.String() != tc.want {
			t.Errorf("%s + %d = %s, want %s", tc.base, tc.n, got, tc.want)
		}
	}
}
