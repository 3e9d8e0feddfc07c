package ipam

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
)

func TestReleaseNode(t *testing.T) {
	pools := []v3.IPPool{testPool("p", "10.0.0.0/24", 26)}
	forEachStore(t, pools, nil, func(t *testing.T, s Store, a *Allocator) {
		ctx := context.Background()
		mustAssign(t, a, AssignArgs{Handle: "full", Node: "gone", Num4: 65}) // two blocks
		if err := a.ReleaseIP(ctx, mustAssign(t, a, AssignArgs{Handle: "x", Node: "gone", Num4: 1})[0].Addr.Addr()); err != nil {
			t.Fatal(err)
		}
		// Empty the second block (10.0.0.64/26): handle full holds one address there.
		if err := a.ReleaseIP(ctx, netipAddr("10.0.0.64")); err != nil {
			t.Fatal(err)
		}
		deleted, err := a.ReleaseNode(ctx, "gone")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"10.0.0.64/26"}, prefixStrings(deleted)); diff != "" {
			t.Errorf("deleted blocks (-want +got):\n%s", diff)
		}
		affs, _ := s.Affinities().List(ctx)
		if len(affs) != 0 {
			t.Errorf("affinities left: %d", len(affs))
		}
		b, err := s.Blocks().Get(ctx, "10-0-0-0-26")
		if err != nil || b.Spec.Affinity != nil || inUse(b) != 64 {
			t.Fatalf("block with addresses: %v, affinity %v, in use %d; want kept, no affinity, 64", err, b.Spec.Affinity, inUse(b))
		}
		r := mustCheckClean(t, a, nil)
		if r.Blocks != 1 {
			t.Errorf("blocks = %d, want 1", r.Blocks)
		}
		// A new node claims a fresh block; the unaffine block is not its own.
		got := mustAssign(t, a, AssignArgs{Handle: "new", Node: "n2", Num4: 1})
		if got[0].Block.String() != "10.0.0.64/26" {
			t.Errorf("new node got %v, want the first free block 10.0.0.64/26", got)
		}
	})
}

func prefixStrings[T interface{ String() string }](ps []T) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}
