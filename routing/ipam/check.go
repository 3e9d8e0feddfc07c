package ipam

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	v3 "github.com/palisadenet/palisade/api/v3"
)

// CheckOptions say what is alive. A nil map skips the checks that need it.
type CheckOptions struct {
	LivePods  map[string]bool // "namespace/name"
	LiveNodes map[string]bool // node names
}

// CheckReport lists what is inconsistent in the IPAM state. Empty lists mean healthy.
type CheckReport struct {
	Blocks, Affinities, Handles, InUse int

	// Leaked: addresses held for a pod that no longer exists.
	Leaked []LeakedIP
	// DoubleAllocations: addresses that are, or could next be, handed out twice.
	DoubleAllocations []DoubleAllocation
	// OrphanedBlocks: blocks affine to a node that is gone, blocks whose affinity record
	// is missing, empty blocks without an owner.
	OrphanedBlocks []Problem
	// StaleAffinities: affinities whose block is missing or owned by another node, or
	// whose node is gone.
	StaleAffinities []Problem
	// HandleMismatches: handles that do not account for what the blocks hold.
	HandleMismatches []Problem
	// Invalid: objects that do not parse or are internally inconsistent.
	Invalid []Problem
}

// LeakedIP is an address whose pod is gone.
type LeakedIP struct {
	Addr   netip.Addr
	Block  netip.Prefix
	Handle string
	Pod    string // namespace/name
	Node   string
}

// DoubleAllocation is an address at risk of (or in) a second hand-out.
type DoubleAllocation struct {
	Addr   netip.Addr
	Blocks []string
	Reason string
}

// Problem names an object and what is wrong with it.
type Problem struct {
	Object string // e.g. "block 10-0-0-0-26", "handle k8s-pod-network.abc"
	Reason string
}

// OK reports whether nothing is wrong.
func (r CheckReport) OK() bool {
	return len(r.Leaked)+len(r.DoubleAllocations)+len(r.OrphanedBlocks)+len(r.StaleAffinities)+
		len(r.HandleMismatches)+len(r.Invalid) == 0
}

// Check inspects the IPAM state with the given live pods ("namespace/name"; nil skips
// the leak check). See CheckWith for node checks.
func (a *Allocator) Check(ctx context.Context, livePods map[string]bool) (CheckReport, error) {
	return a.CheckWith(ctx, CheckOptions{LivePods: livePods})
}

// CheckWith inspects every block, affinity and handle. It only reads.
func (a *Allocator) CheckWith(ctx context.Context, opts CheckOptions) (CheckReport, error) {
	snap, err := a.snapshot(ctx)
	if err != nil {
		return CheckReport{}, fmt.Errorf("check: %w", err)
	}
	return checkSnapshot(snap, opts), nil
}

// snapshot is every IPAM object read at one time.
type snapshot struct {
	blocks     []*v3.IPAMBlock
	affinities []*v3.BlockAffinity
	handles    []*v3.IPAMHandle
	cfg        config
}

func (a *Allocator) snapshot(ctx context.Context) (snapshot, error) {
	var s snapshot
	var err error
	if s.cfg, err = a.loadConfig(ctx); err != nil {
		return s, err
	}
	if s.blocks, err = a.store.Blocks().List(ctx); err != nil {
		return s, fmt.Errorf("listing blocks: %w", err)
	}
	if s.affinities, err = a.store.Affinities().List(ctx); err != nil {
		return s, fmt.Errorf("listing affinities: %w", err)
	}
	if s.handles, err = a.store.Handles().List(ctx); err != nil {
		return s, fmt.Errorf("listing handles: %w", err)
	}
	slices.SortFunc(s.blocks, func(x, y *v3.IPAMBlock) int { return cmp.Compare(x.Name, y.Name) })
	return s, nil
}

// checkSnapshot is the pure part of Check.
func checkSnapshot(s snapshot, opts CheckOptions) CheckReport {
	r := CheckReport{Blocks: len(s.blocks), Affinities: len(s.affinities), Handles: len(s.handles)}
	held := map[string]map[string]int{} // handle → block → count
	holders := map[netip.Addr][]string{}
	blockByCIDR := map[netip.Prefix]*v3.IPAMBlock{}
	for _, b := range s.blocks {
		cidr, err := parseBlock(b)
		if err != nil {
			r.Invalid = append(r.Invalid, Problem{"block " + b.Name, err.Error()})
			continue
		}
		blockByCIDR[cidr] = b
		r.DoubleAllocations = append(r.DoubleAllocations, freeListProblems(b, cidr)...)
		for ord, idx := range b.Spec.Allocations {
			if idx == nil {
				continue
			}
			r.InUse++
			addr := addrAt(cidr, ord)
			holders[addr] = append(holders[addr], b.Name)
			attr := b.Spec.Attributes[*idx]
			h := handleOf(attr)
			if held[h] == nil {
				held[h] = map[string]int{}
			}
			held[h][cidr.String()]++
			if leak, ok := leakOf(attr, opts.LivePods); ok {
				leak.Addr, leak.Block, leak.Handle = addr, cidr, h
				r.Leaked = append(r.Leaked, leak)
			}
		}
	}
	for addr, blocks := range holders {
		if len(blocks) > 1 {
			r.DoubleAllocations = append(r.DoubleAllocations, DoubleAllocation{addr, blocks, "allocated in overlapping blocks"})
		}
	}
	slices.SortFunc(r.DoubleAllocations, func(x, y DoubleAllocation) int { return x.Addr.Compare(y.Addr) })
	r.OrphanedBlocks = orphanedBlocks(s, blockByCIDR, opts)
	r.StaleAffinities = staleAffinities(s, blockByCIDR, opts)
	r.HandleMismatches = handleMismatches(s.handles, held)
	return r
}

// freeListProblems finds ordinals that could be handed out a second time: allocated
// but also queued as free, or queued twice.
func freeListProblems(b *v3.IPAMBlock, cidr netip.Prefix) []DoubleAllocation {
	var out []DoubleAllocation
	seen := make([]bool, len(b.Spec.Allocations))
	for _, ord := range b.Spec.Unallocated {
		addr := addrAt(cidr, ord)
		switch {
		case seen[ord]:
			out = append(out, DoubleAllocation{addr, []string{b.Name}, "queued as free twice"})
		case b.Spec.Allocations[ord] != nil:
			out = append(out, DoubleAllocation{addr, []string{b.Name}, "allocated and also queued as free"})
		}
		seen[ord] = true
	}
	return out
}

func leakOf(attr v3.AllocationAttribute, livePods map[string]bool) (LeakedIP, bool) {
	pod, ns := attr.Secondary[AttrPod], attr.Secondary[AttrNamespace]
	if livePods == nil || pod == "" {
		return LeakedIP{}, false // no pod to look for (tunnel addresses, for example)
	}
	key := ns + "/" + pod
	if livePods[key] {
		return LeakedIP{}, false
	}
	return LeakedIP{Pod: key, Node: attr.Secondary[AttrNode]}, true
}

func orphanedBlocks(s snapshot, blocks map[netip.Prefix]*v3.IPAMBlock, opts CheckOptions) []Problem {
	affs := map[string]bool{}
	for _, aff := range s.affinities {
		affs[aff.Spec.Node+"|"+aff.Spec.CIDR] = true
	}
	var out []Problem
	for cidr, b := range blocks {
		node := blockNode(b)
		obj := "block " + cidr.String()
		switch {
		case node == "" && inUse(b) == 0:
			out = append(out, Problem{obj, "no affinity and no allocations"})
		case node == "":
		case opts.LiveNodes != nil && !opts.LiveNodes[node]:
			out = append(out, Problem{obj, fmt.Sprintf("affine to node %s, which no longer exists (%d addresses in use)", node, inUse(b))})
		case !affs[node+"|"+cidr.String()]:
			out = append(out, Problem{obj, fmt.Sprintf("affine to node %s, which has no BlockAffinity for it", node)})
		}
	}
	slices.SortFunc(out, func(x, y Problem) int { return cmp.Compare(x.Object, y.Object) })
	return out
}

func staleAffinities(s snapshot, blocks map[netip.Prefix]*v3.IPAMBlock, opts CheckOptions) []Problem {
	var out []Problem
	for _, aff := range s.affinities {
		obj := "affinity " + aff.Name
		cidr, err := netip.ParsePrefix(aff.Spec.CIDR)
		if err != nil {
			out = append(out, Problem{obj, "invalid cidr " + strconv.Quote(aff.Spec.CIDR)})
			continue
		}
		b := blocks[cidr]
		switch {
		case b == nil:
			out = append(out, Problem{obj, fmt.Sprintf("block %s does not exist (state %s)", cidr, aff.Spec.State)})
		case blockNode(b) != aff.Spec.Node:
			out = append(out, Problem{obj, fmt.Sprintf("block %s is affine to %q, not %s", cidr, blockNode(b), aff.Spec.Node)})
		case opts.LiveNodes != nil && !opts.LiveNodes[aff.Spec.Node]:
			out = append(out, Problem{obj, fmt.Sprintf("node %s no longer exists", aff.Spec.Node)})
		}
	}
	return out
}

// handleMismatches compares each handle's per-block counts with what the blocks hold.
// A handle counting fewer than held would make release miss addresses; one counting
// more is left over from an interrupted request.
func handleMismatches(handles []*v3.IPAMHandle, held map[string]map[string]int) []Problem {
	var out []Problem
	known := map[string]bool{}
	for _, h := range handles {
		known[h.Spec.HandleID] = true
		for block, n := range held[h.Spec.HandleID] {
			if c := h.Spec.Block[block]; c < n {
				out = append(out, Problem{"handle " + h.Spec.HandleID, fmt.Sprintf("counts %d in block %s, which holds %d of its addresses", c, block, n)})
			}
		}
		for block, c := range h.Spec.Block {
			if n := held[h.Spec.HandleID][block]; c > n {
				out = append(out, Problem{"handle " + h.Spec.HandleID, fmt.Sprintf("counts %d in block %s, which holds only %d of its addresses", c, block, n)})
			}
		}
	}
	for h := range held {
		if !known[h] {
			out = append(out, Problem{"handle " + h, "holds addresses but has no IPAMHandle object (release finds them by scanning)"})
		}
	}
	slices.SortFunc(out, func(x, y Problem) int {
		return cmp.Or(cmp.Compare(x.Object, y.Object), cmp.Compare(x.Reason, y.Reason))
	})
	return out
}
