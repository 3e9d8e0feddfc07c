package ipam

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
)

func podArgs(handle, node, ns, pod string) AssignArgs {
	return AssignArgs{Handle: handle, Node: node, Num4: 1, Attrs: map[string]string{AttrNamespace: ns, AttrPod: pod}}
}

func TestCheckFindsLeaks(t *testing.T) {
	s := NewMemoryStore([]v3.IPPool{testPool("p", "10.0.0.0/24", 26)}, nil)
	a := New(s, nil)
	mustAssign(t, a, podArgs("h1", "n1", "ns", "alive"))
	gone := mustAssign(t, a, podArgs("h2", "n1", "ns", "gone"))
	mustAssign(t, a, AssignArgs{Handle: "ipip-tunnel-addr-n1", Node: "n1", Num4: 1}) // no pod: never a leak
	r, err := a.Check(context.Background(), map[string]bool{"ns/alive": true})
	if err != nil {
		t.Fatal(err)
	}
	want := []LeakedIP{{Addr: gone[0].Addr.Addr(), Block: gone[0].Block, Handle: "h2", Pod: "ns/gone", Node: "n1"}}
	if diff := cmp.Diff(want, r.Leaked, cmp.Comparer(func(x, y netip.Addr) bool { return x == y }),
		cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })); diff != "" {
		t.Errorf("leaks (-want +got):\n%s", diff)
	}
	if r.InUse != 3 || r.Blocks != 1 || r.Handles != 3 {
		t.Errorf("counts: in use %d, blocks %d, handles %d; want 3, 1, 3", r.InUse, r.Blocks, r.Handles)
	}
	if r, _ := a.Check(context.Background(), nil); !r.OK() {
		t.Errorf("without live pods no leak check is made, got %+v", r)
	}
}

// corrupt applies f to a stored block.
func corrupt(t *testing.T, s Store, name string, f func(b *v3.IPAMBlock)) {
	t.Helper()
	b, err := s.Blocks().Get(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	f(b)
	if _, err := s.Blocks().Update(context.Background(), b); err != nil {
		t.Fatal(err)
	}
}

func TestCheckFindsInconsistencies(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, s *MemoryStore, a *Allocator)
		opts  CheckOptions
		want  func(r CheckReport) []string
	}{
		{name: "allocated ordinal also queued as free",
			setup: func(t *testing.T, s *MemoryStore, a *Allocator) {
				corrupt(t, s, "10-0-0-0-26", func(b *v3.IPAMBlock) { b.Spec.Unallocated = append(b.Spec.Unallocated, 0) })
			},
			want: func(r CheckReport) []string { return doubleReasons(r) }},
		{name: "ordinal queued twice",
			setup: func(t *testing.T, s *MemoryStore, a *Allocator) {
				corrupt(t, s, "10-0-0-0-26", func(b *v3.IPAMBlock) { b.Spec.Unallocated = append(b.Spec.Unallocated, 5) })
			},
			want: func(r CheckReport) []string { return doubleReasons(r) }},
		{name: "overlapping blocks holding one address",
			setup: func(t *testing.T, s *MemoryStore, a *Allocator) {
				b := newBlock(netip.MustParsePrefix("10.0.0.0/28"), "n2", false, a.opts.Now())
				allocateOrdinal(b, 0, attributeFor(AssignArgs{Handle: "x", Node: "n2"}))
				if _, err := s.Blocks().Create(ctx, b); err != nil {
					t.Fatal(err)
				}
			},
			want: func(r CheckReport) []string { return append(doubleReasons(r), problems(r.OrphanedBlocks)...) }},
		{name: "node gone",
			opts: CheckOptions{LiveNodes: map[string]bool{"other": true}},
			want: func(r CheckReport) []string {
				return append(problems(r.OrphanedBlocks), problems(r.StaleAffinities)...)
			}},
		{name: "affinity record missing, and one without a block",
			setup: func(t *testing.T, s *MemoryStore, a *Allocator) {
				if err := s.Affinities().Delete(ctx, "n1-10-0-0-0-26", ""); err != nil {
					t.Fatal(err)
				}
				if _, err := a.pendingAffinity(ctx, "n3", netip.MustParsePrefix("10.0.0.192/26")); err != nil {
					t.Fatal(err)
				}
			},
			want: func(r CheckReport) []string {
				return append(problems(r.OrphanedBlocks), problems(r.StaleAffinities)...)
			}},
		{name: "empty block without owner",
			setup: func(t *testing.T, s *MemoryStore, a *Allocator) {
				if _, err := s.Blocks().Create(ctx, newBlock(netip.MustParsePrefix("10.0.0.128/26"), "", false, a.opts.Now())); err != nil {
					t.Fatal(err)
				}
			},
			want: func(r CheckReport) []string { return problems(r.OrphanedBlocks) }},
		{name: "handle lost",
			setup: func(t *testing.T, s *MemoryStore, a *Allocator) {
				if err := s.Handles().Delete(ctx, "h", ""); err != nil {
					t.Fatal(err)
				}
			},
			want: func(r CheckReport) []string { return problems(r.HandleMismatches) }},
		{name: "handle over-counts",
			setup: func(t *testing.T, s *MemoryStore, a *Allocator) {
				if err := a.adjustHandle(ctx, "h", map[string]int{"10.0.0.0/26": 2}); err != nil {
					t.Fatal(err)
				}
			},
			want: func(r CheckReport) []string { return problems(r.HandleMismatches) }},
		{name: "garbage block",
			setup: func(t *testing.T, s *MemoryStore, a *Allocator) {
				corrupt(t, s, "10-0-0-0-26", func(b *v3.IPAMBlock) { b.Spec.Allocations = b.Spec.Allocations[:3] })
			},
			want: func(r CheckReport) []string { return problems(r.Invalid) }},
	}
	golden := map[string][]string{
		"allocated ordinal also queued as free":            {"10.0.0.0 allocated and also queued as free"},
		"ordinal queued twice":                             {"10.0.0.5 queued as free twice"},
		"overlapping blocks holding one address":           {"10.0.0.0 allocated in overlapping blocks", "block 10.0.0.0/28: affine to node n2, which has no BlockAffinity for it"},
		"node gone":                                        {"block 10.0.0.0/26: affine to node n1, which no longer exists (1 addresses in use)", "affinity n1-10-0-0-0-26: node n1 no longer exists"},
		"affinity record missing, and one without a block": {"block 10.0.0.0/26: affine to node n1, which has no BlockAffinity for it", "affinity n3-10-0-0-192-26: block 10.0.0.192/26 does not exist (state pending)"},
		"empty block without owner":                        {"block 10.0.0.128/26: no affinity and no allocations"},
		"handle lost":                                      {"handle h: holds addresses but has no IPAMHandle object (release finds them by scanning)"},
		"handle over-counts":                               {"handle h: counts 3 in block 10.0.0.0/26, which holds only 1 of its addresses"},
		"garbage block":                                    {"block 10-0-0-0-26: block 10-0-0-0-26: 3 allocations for 64 addresses"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewMemoryStore([]v3.IPPool{testPool("p", "10.0.0.0/24", 26)}, nil)
			a := New(s, nil)
			mustAssign(t, a, AssignArgs{Handle: "h", Node: "n1", Num4: 1})
			if tc.setup != nil {
				tc.setup(t, s, a)
			}
			r, err := a.CheckWith(ctx, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(golden[tc.name], tc.want(r)); diff != "" {
				t.Errorf("findings (-want +got):\n%s\nfull report: %+v", diff, r)
			}
			if r.OK() {
				t.Error("OK() with findings")
			}
		})
	}
}

func doubleReasons(r CheckReport) []string {
	var out []string
	for _, d := range r.DoubleAllocations {
		out = append(out, d.Addr.String()+" "+d.Reason)
	}
	return out
}

func problems(ps []Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Object+": "+p.Reason)
	}
	return out
}

func TestReleaseFindsAllocationsOfALostHandle(t *testing.T) {
	s := NewMemoryStore([]v3.IPPool{testPool("p", "10.0.0.0/24", 26)}, nil)
	a := New(s, nil)
	mustAssign(t, a, AssignArgs{Handle: "h", Node: "n1", Num4: 2})
	mustAssign(t, a, AssignArgs{Handle: "keep", Node: "n1", Num4: 1})
	if err := s.Handles().Delete(context.Background(), "h", ""); err != nil {
		t.Fatal(err)
	}
	if err := a.ReleaseByHandle(context.Background(), "h"); err != nil {
		t.Fatal(err)
	}
	if got := allocations(t, s); len(got) != 1 || got[netip.MustParseAddr("10.0.0.2")] != "keep" {
		t.Errorf("after releasing the lost handle: %v, want only 10.0.0.2 held by keep", got)
	}
}

func TestUsage(t *testing.T) {
	s := NewMemoryStore([]v3.IPPool{testPool("p", "10.0.0.0/24", 26), testPool("q", "10.1.0.0/16", 0, disabled)},
		[]v3.IPReservation{testReservation("r", "10.0.0.60/30")})
	a := New(s, nil)
	mustAssign(t, a, AssignArgs{Handle: "a", Node: "n1", Num4: 3})
	mustAssign(t, a, AssignArgs{Handle: "b", Node: "n2", Num4: 1})
	u, err := a.Usage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		CIDR, Pool, Node               string
		Size, InUse, Reserved, Borrowd int
	}
	var blocks []row
	for _, b := range u.Blocks {
		blocks = append(blocks, row{b.CIDR.String(), b.Pool, b.Node, b.Size, b.InUse, b.Reserved, b.Borrowed})
	}
	wantBlocks := []row{{"10.0.0.0/26", "p", "n1", 64, 3, 4, 0}, {"10.0.0.64/26", "p", "n2", 64, 1, 0, 0}}
	if diff := cmp.Diff(wantBlocks, blocks); diff != "" {
		t.Errorf("blocks (-want +got):\n%s", diff)
	}
	var pools []string
	for _, p := range u.Pools {
		pools = append(pools, p.Name+" "+p.CIDR.String()+" size "+p.Size.String()+" free "+p.Free.String())
	}
	wantPools := []string{"p 10.0.0.0/24 size 256 free 248", "q 10.1.0.0/16 size 65536 free 65536"}
	if diff := cmp.Diff(wantPools, pools); diff != "" {
		t.Errorf("pools (-want +got):\n%s", diff)
	}
}

func TestLookupIP(t *testing.T) {
	s := NewMemoryStore([]v3.IPPool{testPool("p", "10.0.0.0/24", 26)}, []v3.IPReservation{testReservation("r", "10.0.0.0")})
	a := New(s, nil)
	got := mustAssign(t, a, podArgs("h", "n1", "ns", "web"))
	ctx := context.Background()
	info, err := a.LookupIP(ctx, got[0].Addr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	want := IPInfo{Addr: got[0].Addr.Addr(), Block: got[0].Block, BlockNode: "n1", Allocated: true, Handle: "h",
		Attrs: map[string]string{AttrNamespace: "ns", AttrPod: "web", AttrNode: "n1"}}
	if diff := cmp.Diff(want, info, cmp.Comparer(func(x, y netip.Addr) bool { return x == y }),
		cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if info, err := a.LookupIP(ctx, netip.MustParseAddr("10.0.0.0")); err != nil || info.Allocated || !info.Reserved {
		t.Errorf("reserved address: %+v, %v; want free and reserved", info, err)
	}
	if _, err := a.LookupIP(ctx, netip.MustParseAddr("10.0.0.200")); !errors.Is(err, ErrNotAllocated) {
		t.Errorf("address in no block: %v, want ErrNotAllocated", err)
	}
}
