package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"go.uber.org/zap"
)

// ReleaseNode gives up every block affinity of node (for the controllers when a node is
// deleted, or `ipam release --node`): empty blocks are deleted, blocks still holding
// addresses lose their affinity and stay (other nodes may then borrow from them, and
// their addresses are released as their pods go). It returns the blocks it deleted.
func (a *Allocator) ReleaseNode(ctx context.Context, node string) ([]netip.Prefix, error) {
	cidrs, err := a.listAffine(ctx, node)
	if err != nil {
		return nil, fmt.Errorf("release node %s: %w", node, err)
	}
	var deleted []netip.Prefix
	for _, cidr := range cidrs {
		gone, err := a.releaseBlockOf(ctx, node, cidr)
		if err != nil {
			return deleted, fmt.Errorf("release node %s: block %s: %w", node, cidr, err)
		}
		if gone {
			deleted = append(deleted, cidr)
		}
		if err := a.deleteAffinity(ctx, node, cidr); err != nil {
			return deleted, fmt.Errorf("release node %s: %w", node, err)
		}
	}
	a.cache.setAffine(node, nil)
	return deleted, nil
}

// releaseBlockOf deletes node's block cidr when empty, else clears its affinity.
func (a *Allocator) releaseBlockOf(ctx context.Context, node string, cidr netip.Prefix) (deleted bool, err error) {
	name := BlockName(cidr)
	err = a.retry(ctx, "releasing block "+cidr.String(), func() error {
		deleted = false
		b, err := a.store.Blocks().Get(ctx, name)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if blockNode(b) != node {
			return nil // someone else's now
		}
		if _, perr := parseBlock(b); perr == nil && inUse(b) == 0 {
			a.cache.forgetBlock(name)
			if err := a.store.Blocks().Delete(ctx, name, b.ResourceVersion); err != nil {
				return err
			}
			deleted = true
			return nil
		}
		b.Spec.Affinity, b.Spec.AffinityClaimTime = nil, nil
		return a.writeBlock(ctx, b)
	})
	if err == nil && !deleted {
		a.log.Info("block keeps addresses of the released node; affinity cleared", zap.String("node", node), zap.Stringer("block", cidr))
	}
	return deleted, err
}

func (a *Allocator) deleteAffinity(ctx context.Context, node string, cidr netip.Prefix) error {
	err := a.store.Affinities().Delete(ctx, AffinityName(node, cidr), "")
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("deleting affinity of %s for %s: %w", node, cidr, err)
	}
	return nil
}
