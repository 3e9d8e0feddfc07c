package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
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

// AddressesByHandle lists the addresses handle holds (for CNI CHECK, and so an ADD
// retried with the same handle can return what it already has instead of taking
// more). An unknown handle holds nothing. Like ReleaseByHandle it falls back to
// scanning the blocks when the handle object is missing.
func (a *Allocator) AddressesByHandle(ctx context.Context, handle string) ([]Assignment, error) {
	cfg, err := a.loadConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("addresses of %s: %w", handle, err)
	}
	var cidrs []netip.Prefix
	h, err := a.store.Handles().Get(ctx, HandleName(handle))
	switch {
	case errors.Is(err, ErrNotFound):
		blocks, err := a.store.Blocks().List(ctx)
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: listing blocks: %w", handle, err)
		}
		for _, b := range blocks {
			if cidr, err := parseBlock(b); err == nil && len(ordinalsOfHandle(b, handle)) > 0 {
				cidrs = append(cidrs, cidr)
			}
		}
	case err != nil:
		return nil, fmt.Errorf("addresses of %s: %w", handle, err)
	default:
		for text := range h.Spec.Block {
			if cidr, err := netip.ParsePrefix(text); err == nil {
				cidrs = append(cidrs, cidr)
			}
		}
	}
	slices.SortFunc(cidrs, func(x, y netip.Prefix) int { return x.Addr().Compare(y.Addr()) })
	var out []Assignment
	for _, cidr := range cidrs {
		b, err := a.store.Blocks().Get(ctx, BlockName(cidr))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", handle, err)
		}
		if _, err := parseBlock(b); err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", handle, err)
		}
		pool, _ := poolFor(cfg.pools, cidr.Addr())
		for _, ord := range ordinalsOfHandle(b, handle) {
			addr := addrAt(cidr, ord)
			out = append(out, Assignment{Addr: netip.PrefixFrom(addr, addr.BitLen()), Pool: pool.Name, Block: cidr})
		}
	}
	return out, nil
}
