package ipam

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
)

// TestRandomSequencesNeverDoubleAllocate replays random assign and release sequences
// against a model: after every step the stored allocations must equal the model
// exactly (no address twice, a release frees exactly its handle's addresses, a failed
// request changes nothing), and Check must find nothing wrong.
func TestRandomSequencesNeverDoubleAllocate(t *testing.T) {
	pools := []v3.IPPool{testPool("small", "10.0.0.0/27", 29), testPool("v6", "fd00::/122", 125)}
	res := []v3.IPReservation{testReservation("r", "10.0.0.3", "10.0.0.16/30")}
	seqs, steps := 200, 120
	if testing.Short() {
		seqs = 20
	}
	for _, k := range storeKinds {
		n := seqs
		if k.name == "file" {
			n = max(seqs/40, 2)
		}
		for seq := range n {
			seed := uint64(seq)
			t.Run(fmt.Sprintf("%s/seed=%d", k.name, seed), func(t *testing.T) {
				s := k.make(t, pools, res)
				strict := seq%3 == 0
				a := NewWithOptions(s, nil, Options{StrictAffinity: strict})
				runRandomSequence(t, s, a, randFor(seed), steps)
			})
		}
	}
}

func runRandomSequence(t *testing.T, s Store, a *Allocator, rng *rand.Rand, steps int) {
	ctx := context.Background()
	model := map[netip.Addr]string{}
	handles := []string{}
	for step := range steps {
		var op string
		switch r := rng.IntN(10); {
		case r < 5 || len(handles) == 0:
			h := fmt.Sprintf("h%d", step)
			args := AssignArgs{Handle: h, Node: fmt.Sprintf("n%d", rng.IntN(4)), Num4: rng.IntN(4), Num6: rng.IntN(2)}
			if rng.IntN(5) == 0 {
				args.Fixed = []netip.Addr{netip.AddrFrom4([4]byte{10, 0, 0, byte(rng.IntN(32))})}
			} else if args.Num4+args.Num6 == 0 {
				args.Num4 = 1
			}
			op = fmt.Sprintf("assign %+v", args)
			got, err := a.Assign(ctx, args)
			if err != nil {
				if !errors.Is(err, ErrExhausted) && !errors.Is(err, ErrAddressInUse) && !isReservedErr(err) {
					t.Fatalf("step %d %s: unexpected error %v", step, op, err)
				}
				break
			}
			for _, as := range got {
				if prev, held := model[as.Addr.Addr()]; held {
					t.Fatalf("step %d %s: %s handed out again (held by %s)", step, op, as.Addr, prev)
				}
				model[as.Addr.Addr()] = h
			}
			handles = append(handles, h)
		case r < 8:
			i := rng.IntN(len(handles))
			h := handles[i]
			handles = append(handles[:i], handles[i+1:]...)
			op = "release handle " + h
			if err := a.ReleaseByHandle(ctx, h); err != nil {
				t.Fatalf("step %d %s: %v", step, op, err)
			}
			for addr, holder := range model {
				if holder == h {
					delete(model, addr)
				}
			}
		default:
			var held []netip.Addr
			for addr := range model {
				held = append(held, addr)
			}
			if len(held) == 0 {
				continue
			}
			addr := held[rng.IntN(len(held))]
			op = "release ip " + addr.String()
			if err := a.ReleaseIP(ctx, addr); err != nil {
				t.Fatalf("step %d %s: %v", step, op, err)
			}
			delete(model, addr)
		}
		if diff := cmp.Diff(model, allocations(t, s)); diff != "" {
			t.Fatalf("step %d %s: store differs from model (-model +store):\n%s", step, op, diff)
		}
		for addr := range model {
			if addr.Unmap() == netip.MustParseAddr("10.0.0.3") || netip.MustParsePrefix("10.0.0.16/30").Contains(addr) {
				t.Fatalf("step %d %s: reserved %s handed out", step, op, addr)
			}
		}
	}
	r, err := a.Check(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Handles over-counting is tolerated only transiently; at rest the report is clean.
	if !r.OK() {
		t.Fatalf("Check after the sequence: %+v", r)
	}
	for _, h := range handles {
		if err := a.ReleaseByHandle(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if left := allocations(t, s); len(left) != 0 {
		t.Fatalf("after releasing every handle %d addresses remain: %v", len(left), left)
	}
	if hs, _ := s.Handles().List(ctx); len(hs) != 0 {
		t.Fatalf("after releasing every handle %d handles remain", len(hs))
	}
}

func isReservedErr(err error) bool {
	return err != nil && strings.Contains(err.Error(), "reserved by an IPReservation")
}

func randFor(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 7)) }
