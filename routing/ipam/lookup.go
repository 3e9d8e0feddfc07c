package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
)

// IPInfo says who holds an address, for `ipam show --ip`.
type IPInfo struct {
	Addr      netip.Addr
	Block     netip.Prefix
	BlockNode string // the block's affine node ("" for none)
	Allocated bool
	Reserved  bool // inside an IPReservation
	Handle    string
	Attrs     map[string]string // namespace, pod, node
}

// LookupIP reports whether addr is allocated and to whom. An address in no block gives
// ErrNotAllocated (with Reserved set when a reservation covers it).
func (a *Allocator) LookupIP(ctx context.Context, addr netip.Addr) (IPInfo, error) {
	info := IPInfo{Addr: addr}
	cfg, err := a.loadConfig(ctx)
	if err != nil {
		return info, fmt.Errorf("lookup %s: %w", addr, err)
	}
	info.Reserved = cfg.isReserved(addr)
	b, err := a.findBlock(ctx, addr, cfg.pools)
	if errors.Is(err, ErrNotAllocated) {
		return info, err
	}
	if err != nil {
		return info, fmt.Errorf("lookup %s: %w", addr, err)
	}
	cidr, err := parseBlock(b)
	if err != nil {
		return info, fmt.Errorf("lookup %s: %w", addr, err)
	}
	info.Block, info.BlockNode = cidr, blockNode(b)
	ord, _ := ordinalOf(cidr, addr)
	if idx := b.Spec.Allocations[ord]; idx != nil {
		attr := b.Spec.Attributes[*idx]
		info.Allocated, info.Handle, info.Attrs = true, handleOf(attr), attr.Secondary
	}
	return info, nil
}
