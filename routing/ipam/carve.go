package ipam

import (
	"net/netip"
)

// maxCarveSteps bounds the walk for a free block, so a pool whose blocks are all
// reserved or taken ends the search instead of spinning over 2^70 IPv6 blocks.
const maxCarveSteps = 1 << 20

// nextFreeBlock returns the first block of pool, in address order, that overlaps no
// existing block and is not wholly reserved. existing holds every stored block's CIDR.
func nextFreeBlock(pool Pool, existing map[netip.Prefix]bool, reserved []netip.Prefix) (netip.Prefix, bool) {
	step := uint64(1) << (pool.CIDR.Addr().BitLen() - pool.BlockSize)
	total := uint64(1) << min(pool.BlockSize-pool.CIDR.Bits(), 62)
	var odd []netip.Prefix // existing blocks of another size inside the pool
	for p := range existing {
		if p.Bits() != pool.BlockSize && p.Overlaps(pool.CIDR) {
			odd = append(odd, p)
		}
	}
	addr := pool.CIDR.Addr()
	for i := uint64(0); i < total && i < maxCarveSteps; i++ {
		cand := netip.PrefixFrom(addr, pool.BlockSize)
		if !existing[cand] && !overlapsAny(cand, odd) && !whollyReserved(cand, reserved) {
			return cand, true
		}
		addr = addOffset(addr, step)
	}
	return netip.Prefix{}, false
}

func overlapsAny(p netip.Prefix, others []netip.Prefix) bool {
	for _, o := range others {
		if p.Overlaps(o) {
			return true
		}
	}
	return false
}

func whollyReserved(block netip.Prefix, reserved []netip.Prefix) bool {
	for _, r := range reserved {
		if r.Bits() <= block.Bits() && r.Contains(block.Addr()) {
			return true
		}
	}
	return false
}

// blockInPool reports whether block lies inside pool.
func blockInPool(block netip.Prefix, pool Pool) bool {
	return pool.CIDR.Bits() <= block.Bits() && pool.CIDR.Contains(block.Addr())
}
