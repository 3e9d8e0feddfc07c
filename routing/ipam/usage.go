package ipam

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"net/netip"
	"slices"
)

// Usage is what `ipam show` prints: per pool and per block.
type Usage struct {
	Pools  []PoolUsage
	Blocks []BlockUsage
}

// PoolUsage sums one pool.
type PoolUsage struct {
	Name      string
	CIDR      netip.Prefix
	BlockSize int
	Disabled  bool
	Size      *big.Int // addresses in the pool
	Blocks    int      // blocks carved so far
	InUse     int      // addresses allocated
	Free      *big.Int // Size - InUse - reserved addresses inside carved blocks
}

// BlockUsage describes one block.
type BlockUsage struct {
	CIDR     netip.Prefix
	Pool     string // "" when no pool holds the block any more
	Node     string // affine node, "" for none
	Size     int
	InUse    int
	Reserved int // free ordinals inside an IPReservation
	Borrowed int // addresses held for pods on other nodes
}

// Usage reads the pools and blocks and sums them up.
func (a *Allocator) Usage(ctx context.Context) (Usage, error) {
	snap, err := a.snapshot(ctx)
	if err != nil {
		return Usage{}, fmt.Errorf("usage: %w", err)
	}
	return usageOf(snap), nil
}

func usageOf(s snapshot) Usage {
	var u Usage
	for _, b := range s.blocks {
		cidr, err := parseBlock(b)
		if err != nil {
			continue
		}
		bu := BlockUsage{CIDR: cidr, Node: blockNode(b), Size: len(b.Spec.Allocations)}
		if p, ok := poolFor(s.cfg.pools, cidr.Addr()); ok {
			bu.Pool = p.Name
		}
		for ord, idx := range b.Spec.Allocations {
			switch {
			case idx != nil:
				bu.InUse++
				if n := b.Spec.Attributes[*idx].Secondary[AttrNode]; n != "" && n != bu.Node {
					bu.Borrowed++
				}
			case s.cfg.isReserved(addrAt(cidr, ord)):
				bu.Reserved++
			}
		}
		u.Blocks = append(u.Blocks, bu)
	}
	slices.SortFunc(u.Blocks, func(x, y BlockUsage) int {
		return cmp.Or(x.CIDR.Addr().Compare(y.CIDR.Addr()), cmp.Compare(x.CIDR.Bits(), y.CIDR.Bits()))
	})
	for _, p := range s.cfg.pools {
		pu := PoolUsage{Name: p.Name, CIDR: p.CIDR, BlockSize: p.BlockSize, Disabled: p.Disabled,
			Size: new(big.Int).Lsh(big.NewInt(1), uint(p.CIDR.Addr().BitLen()-p.CIDR.Bits()))}
		used := 0
		for _, bu := range u.Blocks {
			if bu.Pool == p.Name {
				pu.Blocks++
				pu.InUse += bu.InUse
				used += bu.InUse + bu.Reserved
			}
		}
		pu.Free = new(big.Int).Sub(pu.Size, big.NewInt(int64(used)))
		u.Pools = append(u.Pools, pu)
	}
	return u
}
