package ipam

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
	"testing"

	v3 "github.com/palisadenet/palisade/api/v3"
)

// TestConcurrentNodesWithBorrowing runs eight nodes, each its own Allocator (as separate
// processes would be), against one small pool: 8 blocks of 8 addresses for up to 96
// live addresses, so nodes run out of blocks and borrow from each other while others
// release. At no moment may two live handles hold one address.
func TestConcurrentNodesWithBorrowing(t *testing.T) {
	for _, k := range storeKinds {
		t.Run(k.name, func(t *testing.T) {
			s := k.make(t, []v3.IPPool{testPool("p", "10.0.0.0/26", 29)}, nil)
			ops := 150
			if k.name == "file" || testing.Short() {
				ops = 40
			}
			var mu sync.Mutex
			live := map[netip.Addr]string{}
			var wg sync.WaitGroup
			for n := range 8 {
				wg.Go(func() {
					a := New(s, nil)
					rng := rand.New(rand.NewPCG(uint64(n), 1))
					var mine []string
					for i := range ops {
						if len(mine) > 0 && rng.IntN(3) == 0 {
							h := mine[0]
							mine = mine[1:]
							mu.Lock()
							for addr, holder := range live {
								if holder == h {
									delete(live, addr)
								}
							}
							mu.Unlock()
							if err := a.ReleaseByHandle(context.Background(), h); err != nil {
								t.Errorf("release: %v", err)
								return
							}
							continue
						}
						h := fmt.Sprintf("n%d-%d", n, i)
						got, err := a.Assign(context.Background(), AssignArgs{Handle: h, Node: fmt.Sprintf("node-%d", n), Num4: 1 + rng.IntN(2)})
						if errors.Is(err, ErrExhausted) {
							continue
						}
						if err != nil {
							t.Errorf("assign: %v", err)
							return
						}
						mine = append(mine, h)
						mu.Lock()
						for _, as := range got {
							if prev, held := live[as.Addr.Addr()]; held {
								t.Errorf("%s handed to %s while %s holds it", as.Addr, h, prev)
							}
							live[as.Addr.Addr()] = h
						}
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			got := allocations(t, s)
			if len(got) != len(live) {
				t.Errorf("store holds %d addresses, the nodes hold %d", len(got), len(live))
			}
			for addr, h := range live {
				if got[addr] != h {
					t.Errorf("%s: store says %q, node says %q", addr, got[addr], h)
				}
			}
			mustCheckClean(t, New(s, nil), nil)
		})
	}
}
