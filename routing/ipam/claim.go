package ipam

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	v3 "github.com/palisadenet/palisade/api/v3"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// affineBlocks lists the blocks node holds an affinity for inside pools, in pool
// preference order, then address order. Affinities being deleted are left out. Unless
// refresh is set, the list last read is used.
func (a *Allocator) affineBlocks(ctx context.Context, node string, pools []Pool, refresh bool) ([]netip.Prefix, error) {
	all, ok := a.cache.affineOf(node)
	if refresh || !ok {
		var err error
		if all, err = a.listAffine(ctx, node); err != nil {
			return nil, err
		}
		a.cache.setAffine(node, all)
	}
	type ranked struct {
		cidr netip.Prefix
		pool int
	}
	var out []ranked
	for _, cidr := range all {
		if i := slices.IndexFunc(pools, func(p Pool) bool { return blockInPool(cidr, p) }); i >= 0 {
			out = append(out, ranked{cidr, i})
		}
	}
	slices.SortFunc(out, func(x, y ranked) int {
		return cmp.Or(cmp.Compare(x.pool, y.pool), x.cidr.Addr().Compare(y.cidr.Addr()))
	})
	cidrs := make([]netip.Prefix, len(out))
	for i, r := range out {
		cidrs[i] = r.cidr
	}
	return cidrs, nil
}

// listAffine reads the CIDRs of node's live affinities from the store.
func (a *Allocator) listAffine(ctx context.Context, node string) ([]netip.Prefix, error) {
	affs, err := a.store.Affinities().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing block affinities: %w", err)
	}
	var out []netip.Prefix
	for _, aff := range affs {
		if aff.Spec.Node != node || aff.Spec.Deleted == "true" || aff.Spec.State == v3.BlockAffinityPendingDeletion {
			continue
		}
		cidr, err := netip.ParsePrefix(aff.Spec.CIDR)
		if err != nil {
			a.log.Warn("skipping block affinity with an invalid cidr", zap.String("affinity", aff.Name), zap.Error(err))
			continue
		}
		out = append(out, cidr.Masked())
	}
	return out, nil
}

// claimNewBlock claims the first free block of the first pool that has one. It returns
// false when no pool has a free block left.
func (a *Allocator) claimNewBlock(ctx context.Context, req *request, pools []Pool) (netip.Prefix, bool, error) {
	blocks, err := a.store.Blocks().List(ctx)
	if err != nil {
		return netip.Prefix{}, false, fmt.Errorf("listing blocks: %w", err)
	}
	existing := make(map[netip.Prefix]bool, len(blocks))
	for _, b := range blocks {
		if cidr, err := netip.ParsePrefix(b.Spec.CIDR); err == nil {
			existing[cidr.Masked()] = true
		}
	}
	for attempt := 0; attempt < a.opts.MaxRetries; attempt++ {
		cidr, found := netip.Prefix{}, false
		for _, p := range pools {
			if cidr, found = nextFreeBlock(p, existing, req.cfg.reserved); found {
				break
			}
		}
		if !found {
			return netip.Prefix{}, false, nil
		}
		err := a.claim(ctx, req.args.Node, cidr)
		if errors.Is(err, ErrConflict) {
			existing[cidr] = true // another node was quicker; try the next block
			continue
		}
		if err != nil {
			return netip.Prefix{}, false, err
		}
		return cidr, true, nil
	}
	return netip.Prefix{}, false, fmt.Errorf("claiming a block: lost %d races in a row: %w", a.opts.MaxRetries, ErrConflict)
}

// claim makes node the owner of a new block cidr in two steps, as Calico does: a
// pending BlockAffinity, then the block itself (whose creation is the point where two
// claimants are decided: only one create succeeds), then the affinity is confirmed.
// ErrConflict means another node holds the block.
func (a *Allocator) claim(ctx context.Context, node string, cidr netip.Prefix) error {
	aff, err := a.pendingAffinity(ctx, node, cidr)
	if err != nil {
		return err
	}
	blk := newBlock(cidr, node, a.opts.StrictAffinity, a.opts.Now())
	if _, err := a.store.Blocks().Create(ctx, blk); err != nil {
		if errors.Is(err, ErrConflict) {
			if owner, ok := a.blockOwner(ctx, cidr); ok && owner == node {
				return a.confirmAffinity(ctx, aff) // our own earlier claim, interrupted
			}
			a.dropAffinity(ctx, aff)
		}
		return fmt.Errorf("creating block %s: %w", cidr, err)
	}
	a.log.Info("claimed block", zap.String("node", node), zap.Stringer("block", cidr))
	if err := a.confirmAffinity(ctx, aff); err != nil {
		return err
	}
	a.cache.addAffine(node, cidr)
	return nil
}

func (a *Allocator) pendingAffinity(ctx context.Context, node string, cidr netip.Prefix) (*v3.BlockAffinity, error) {
	aff := &v3.BlockAffinity{
		TypeMeta:   metav1.TypeMeta{APIVersion: v3.SchemeGroupVersion.String(), Kind: v3.KindBlockAffinity},
		ObjectMeta: metav1.ObjectMeta{Name: AffinityName(node, cidr)},
		Spec:       v3.BlockAffinitySpec{State: v3.BlockAffinityPending, Node: node, Type: "host", CIDR: cidr.String(), Deleted: "false"},
	}
	created, err := a.store.Affinities().Create(ctx, aff)
	if errors.Is(err, ErrConflict) { // left over from an interrupted claim of ours
		created, err = a.store.Affinities().Get(ctx, aff.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("creating affinity of %s for %s: %w", node, cidr, err)
	}
	return created, nil
}

func (a *Allocator) confirmAffinity(ctx context.Context, aff *v3.BlockAffinity) error {
	return a.retry(ctx, "confirming affinity "+aff.Name, func() error {
		if aff.Spec.State == v3.BlockAffinityConfirmed {
			return nil
		}
		aff.Spec.State = v3.BlockAffinityConfirmed
		_, err := a.store.Affinities().Update(ctx, aff)
		if errors.Is(err, ErrConflict) {
			if fresh, gerr := a.store.Affinities().Get(ctx, aff.Name); gerr == nil {
				*aff = *fresh
			}
		}
		return err
	})
}

// dropAffinity removes a pending affinity whose claim was lost (best effort: a
// leftover pending affinity is ignored by everyone and reported by Check).
func (a *Allocator) dropAffinity(ctx context.Context, aff *v3.BlockAffinity) {
	if err := a.store.Affinities().Delete(ctx, aff.Name, aff.ResourceVersion); err != nil && !errors.Is(err, ErrNotFound) {
		a.log.Warn("could not remove the affinity of a lost claim", zap.String("affinity", aff.Name), zap.Error(err))
	}
}

func (a *Allocator) blockOwner(ctx context.Context, cidr netip.Prefix) (string, bool) {
	b, err := a.store.Blocks().Get(ctx, BlockName(cidr))
	if err != nil {
		return "", false
	}
	return blockNode(b), true
}

// borrow takes single addresses from blocks of pools that other nodes (or nobody) hold,
// when this node can claim no new block. Blocks marked strict are not lent from.
func (a *Allocator) borrow(ctx context.Context, req *request, pools []Pool, need int) (int, error) {
	blocks, err := a.store.Blocks().List(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing blocks: %w", err)
	}
	slices.SortFunc(blocks, func(x, y *v3.IPAMBlock) int { return cmp.Compare(x.Name, y.Name) })
	took := 0
	for _, b := range blocks {
		if took == need {
			break
		}
		cidr, err := parseBlock(b)
		if err != nil || b.Spec.Deleted || !borrowable(req.args.Node)(b) ||
			!slices.ContainsFunc(pools, func(p Pool) bool { return blockInPool(cidr, p) }) ||
			freeCount(b, cidr, req.cfg.isReserved) == 0 {
			continue
		}
		got, err := a.takeFromBlock(ctx, req, cidr, need-took, pools, borrowable(req.args.Node), false)
		if err != nil {
			return took, err
		}
		if got > 0 {
			a.log.Info("borrowed addresses", zap.String("node", req.args.Node), zap.Stringer("block", cidr),
				zap.String("owner", blockNode(b)), zap.Int("count", got))
		}
		took += got
	}
	return took, nil
}
