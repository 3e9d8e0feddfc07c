package cni

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/palisadenet/palisade/routing/ipam"
)

// ipamBackend is the Datastore's IPAM half over routing/ipam, shared by both modes.
type ipamBackend struct {
	alloc *ipam.Allocator
	store ipam.Store
}

func (b ipamBackend) Assign(ctx context.Context, req AssignRequest) ([]netip.Prefix, error) {
	got, err := b.alloc.Assign(ctx, ipam.AssignArgs{
		Handle: req.Handle, Node: req.Node, Num4: req.Num4, Num6: req.Num6,
		Pools4: req.Pools4, Pools6: req.Pools6, Fixed: req.Fixed,
		Attrs: req.Attrs, NodeLabels: req.NodeLabels,
	})
	if err != nil {
		return nil, err
	}
	out := make([]netip.Prefix, len(got))
	for i, a := range got {
		out[i] = a.Addr
	}
	return out, nil
}

func (b ipamBackend) ReleaseByHandle(ctx context.Context, handle string) error {
	return b.alloc.ReleaseByHandle(ctx, handle)
}

// HandlesOnNode reads the blocks: an allocation's attribute carries its handle and
// the node it was made for, which is what GC needs (a handle object does not say).
func (b ipamBackend) HandlesOnNode(ctx context.Context, node, prefix string) ([]string, error) {
	blocks, err := b.store.Blocks().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing IPAM blocks: %w", err)
	}
	seen := map[string]bool{}
	for _, blk := range blocks {
		for _, attr := range blk.Spec.Attributes {
			if attr.HandleID == nil || !strings.HasPrefix(*attr.HandleID, prefix) || attr.Secondary[ipam.AttrNode] != node {
				continue
			}
			seen[*attr.HandleID] = true
		}
	}
	out := make([]string, 0, len(seen))
	for h := range seen {
		out = append(out, h)
	}
	sort.Strings(out)
	return out, nil
}
