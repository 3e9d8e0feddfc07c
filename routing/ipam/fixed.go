package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"go.uber.org/zap"
)

// ErrAddressInUse: a fixed address is held by someone else.
var ErrAddressInUse = errors.New("address in use")

// assignFixed assigns the exact addresses of args.Fixed. Each must lie in an enabled
// pool and outside every reservation. When its block does not exist yet, the node
// claims it; when another node holds the block, the address is taken from it anyway
// (the pod asked for that address).
func (a *Allocator) assignFixed(ctx context.Context, req *request) error {
	for _, addr := range req.args.Fixed {
		addr = addr.Unmap()
		pool, ok := poolFor(req.cfg.pools, addr)
		switch {
		case !ok:
			return fmt.Errorf("%w: fixed address %s is in no IP pool (pools: %s)", ErrNoPool, addr, poolNames(req.cfg.pools))
		case pool.Disabled:
			return fmt.Errorf("%w: fixed address %s is in IP pool %s, which is disabled", ErrNoPool, addr, pool.Name)
		case req.cfg.isReserved(addr):
			return fmt.Errorf("fixed address %s is reserved by an IPReservation", addr)
		}
		if err := a.takeFixed(ctx, req, pool, addr); err != nil {
			return err
		}
	}
	return nil
}

func (a *Allocator) takeFixed(ctx context.Context, req *request, pool Pool, addr netip.Addr) error {
	cidr := pool.blockFor(addr)
	name := BlockName(cidr)
	return a.retry(ctx, "assigning "+addr.String(), func() error {
		b, err := a.store.Blocks().Get(ctx, name)
		if errors.Is(err, ErrNotFound) {
			if err := a.claim(ctx, req.args.Node, cidr); err != nil {
				return err // ErrConflict: someone created it meanwhile; read it again
			}
			b, err = a.store.Blocks().Get(ctx, name)
		}
		if err != nil {
			return err
		}
		if _, err := parseBlock(b); err != nil {
			return err
		}
		if b.Spec.Deleted {
			return fmt.Errorf("block %s of %s is being deleted", cidr, addr)
		}
		ord, _ := ordinalOf(cidr, addr)
		if err := a.register(ctx, req, cidr, 1); err != nil {
			return err
		}
		if err := allocateOrdinal(b, ord, req.attr); err != nil {
			return fmt.Errorf("%w: %s %v", ErrAddressInUse, addr, err)
		}
		if err := a.writeBlock(ctx, b); err != nil {
			return err
		}
		req.allocated[cidr]++
		req.out = append(req.out, Assignment{Addr: netip.PrefixFrom(addr, addr.BitLen()), Pool: pool.Name, Block: cidr})
		if owner := blockNode(b); owner != req.args.Node {
			a.log.Info("fixed address from another node's block", zap.Stringer("addr", addr), zap.String("owner", owner))
		}
		return nil
	})
}
