package ipam

import (
	"context"
	"errors"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
)

func TestAssignHandsOutEveryAddressOfTheNodesBlockInOrder(t *testing.T) {
	pools := []v3.IPPool{testPool("p", "10.0.0.0/24", 30)}
	forEachStore(t, pools, nil, func(t *testing.T, s Store, a *Allocator) {
		var got []string
		for i := range 5 {
			as := mustAssign(t, a, AssignArgs{Handle: "h" + string(rune('a'+i)), Node: "n1", Num4: 1})
			got = append(got, addrsOf(as)...)
			if as[0].Pool != "p" {
				t.Errorf("pool = %q, want p", as[0].Pool)
			}
		}
		// A /30 block hands out all four addresses, .0 and .3 included; the fifth
		// comes from the next block the node claims.
		want := []string{"10.0.0.0/32", "10.0.0.1/32", "10.0.0.2/32", "10.0.0.3/32", "10.0.0.4/32"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("addresses (-want +got):\n%s", diff)
		}
		affs, err := s.Affinities().List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		var states []string
		for _, aff := range affs {
			states = append(states, aff.Name+" "+aff.Spec.Node+" "+aff.Spec.CIDR+" "+aff.Spec.State)
		}
		wantAffs := []string{"n1-10-0-0-0-30 n1 10.0.0.0/30 confirmed", "n1-10-0-0-4-30 n1 10.0.0.4/30 confirmed"}
		if diff := cmp.Diff(wantAffs, states); diff != "" {
			t.Errorf("affinities (-want +got):\n%s", diff)
		}
		mustCheckClean(t, a, nil)
	})
}

func TestNodesGetTheirOwnBlocks(t *testing.T) {
	pools := []v3.IPPool{testPool("p", "10.0.0.0/24", 0)}
	forEachStore(t, pools, nil, func(t *testing.T, s Store, a *Allocator) {
		a1 := mustAssign(t, a, AssignArgs{Handle: "a", Node: "n1", Num4: 1})
		b1 := mustAssign(t, a, AssignArgs{Handle: "b", Node: "n2", Num4: 1})
		a2 := mustAssign(t, a, AssignArgs{Handle: "c", Node: "n1", Num4: 1})
		got := [][]Assignment{a1, b1, a2}
		want := [][]Assignment{
			{{Addr: netip.MustParsePrefix("10.0.0.0/32"), Pool: "p", Block: netip.MustParsePrefix("10.0.0.0/26")}},
			{{Addr: netip.MustParsePrefix("10.0.0.64/32"), Pool: "p", Block: netip.MustParsePrefix("10.0.0.64/26")}},
			{{Addr: netip.MustParsePrefix("10.0.0.1/32"), Pool: "p", Block: netip.MustParsePrefix("10.0.0.0/26")}},
		}
		if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })); diff != "" {
			t.Errorf("assignments (-want +got):\n%s", diff)
		}
	})
}

func TestBorrowingAndStrictAffinity(t *testing.T) {
	// Two /28 blocks in the pool: n1 and n2 claim one each, n3 can claim none.
	pools := []v3.IPPool{testPool("p", "10.0.0.0/27", 28)}
	for _, strict := range []bool{false, true} {
		for _, k := range storeKinds {
			t.Run(k.name, func(t *testing.T) {
				s := k.make(t, pools, nil)
				a := NewWithOptions(s, nil, Options{StrictAffinity: strict})
				mustAssign(t, a, AssignArgs{Handle: "a", Node: "n1", Num4: 1})
				mustAssign(t, a, AssignArgs{Handle: "b", Node: "n2", Num4: 1})
				got, err := a.Assign(context.Background(), AssignArgs{Handle: "c", Node: "n3", Num4: 1})
				if strict {
					if !errors.Is(err, ErrExhausted) {
						t.Fatalf("strict affinity: got %v, %v; want ErrExhausted", got, err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if want := "10.0.0.1/32"; got[0].Addr.String() != want || got[0].Block.String() != "10.0.0.0/28" {
					t.Errorf("borrowed %v, want %s from n1's block 10.0.0.0/28", got, want)
				}
				mustCheckClean(t, a, nil)
			})
		}
	}
}

func TestReservedAddressesAreNeverHandedOut(t *testing.T) {
	pools := []v3.IPPool{testPool("p", "10.0.0.0/28", 29)}
	res := []v3.IPReservation{testReservation("r", "10.0.0.0/30", "10.0.0.5", "10.0.0.8/29")}
	forEachStore(t, pools, res, func(t *testing.T, s Store, a *Allocator) {
		got := mustAssign(t, a, AssignArgs{Handle: "h", Node: "n1", Num4: 3})
		want := []string{"10.0.0.4/32", "10.0.0.6/32", "10.0.0.7/32"}
		if diff := cmp.Diff(want, addrsOf(got)); diff != "" {
			t.Errorf("addresses (-want +got):\n%s", diff)
		}
		// The second block is wholly reserved: it is never claimed, so the pool is full.
		if _, err := a.Assign(context.Background(), AssignArgs{Handle: "h2", Node: "n1", Num4: 1}); !errors.Is(err, ErrExhausted) {
			t.Errorf("pool with only reserved addresses left: err = %v, want ErrExhausted", err)
		}
		if _, err := a.Assign(context.Background(), AssignArgs{Handle: "h3", Node: "n1", Fixed: []netip.Addr{netip.MustParseAddr("10.0.0.5")}}); err == nil {
			t.Error("fixed reserved address was assigned")
		}
	})
}
