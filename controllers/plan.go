package controllers

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/routing/ipam"
)

// Inventory is what one scan read. Blocks and affinities are read before pods and
// nodes: an address is assigned only to a pod that already exists, so any allocation
// in the block list belongs to a pod that existed before the pod list was read, and a
// pod missing from that list really was deleted (not yet to be created).
type Inventory struct {
	Blocks     []*v3.IPAMBlock
	Affinities []*v3.BlockAffinity
	Pods       map[string]bool // "namespace/name"
	Nodes      map[string]bool
}

// Owner is what an allocation belongs to: a pod ("pod:<ns>/<name>") or, for addresses
// that belong to no pod (tunnel addresses), a node ("node:<name>").
type Owner string

func podOwner(namespace, name string) Owner { return Owner("pod:" + namespace + "/" + name) }
func nodeOwner(name string) Owner           { return Owner("node:" + name) }

// Pod returns the namespace and name of a pod owner.
func (o Owner) Pod() (namespace, name string, ok bool) {
	rest, ok := strings.CutPrefix(string(o), "pod:")
	if !ok {
		return "", "", false
	}
	namespace, name, ok = strings.Cut(rest, "/")
	return namespace, name, ok
}

// Node returns the name of a node owner.
func (o Owner) Node() (string, bool) { return strings.CutPrefix(string(o), "node:") }

// Sightings remembers, per owner, the first scan of an unbroken run of scans that
// found it missing. An owner seen again (or no longer referenced) is forgotten.
type Sightings map[Owner]sighting

type sighting struct {
	first time.Time
	scans int
}

// observe records one scan: missing owners are added or counted, all others dropped.
func (s Sightings) observe(missing map[Owner]bool, now time.Time) {
	for o := range s {
		if !missing[o] {
			delete(s, o)
		}
	}
	for o := range missing {
		seen := s[o]
		if seen.scans == 0 {
			seen.first = now
		}
		seen.scans++
		s[o] = seen
	}
}

// expired: missing in at least two consecutive scans at least grace apart.
func (s Sightings) expired(o Owner, now time.Time, grace time.Duration) bool {
	seen, ok := s[o]
	return ok && seen.scans >= 2 && now.Sub(seen.first) >= grace
}

// Plan is what a scan decided. Every list is sorted so reports and tests are stable.
type Plan struct {
	// Release: handles all of whose addresses belong to owners gone for the grace period.
	Release []HandleRelease
	// Waiting: addresses whose owner is missing but not yet for the grace period.
	Waiting []Allocation
	// DeleteBlocks: empty blocks of nodes gone for the grace period, with their
	// affinities.
	DeleteBlocks []BlockDeletion
	// DeleteAffinities: affinities of gone nodes that hold no block of theirs.
	DeleteAffinities []AffinityRef
	// Kept: blocks of gone nodes that still hold addresses.
	Kept []KeptBlock
	// Unreleasable: addresses of gone owners that carry no handle; release cannot be
	// exact, so they are left to an operator (palisadectl ipam release).
	Unreleasable []Allocation
	// Invalid: blocks that do not parse; nothing in them is touched.
	Invalid []string
}

// Allocation is one allocated address and who holds it.
type Allocation struct {
	Addr   netip.Addr
	Block  string // block CIDR
	Handle string
	Owner  Owner
}

// HandleRelease is one handle to release and the owners that must still be gone.
type HandleRelease struct {
	Handle string
	Owners []Owner
	Addrs  []netip.Addr
}

// AffinityRef names a BlockAffinity at the version the scan read.
type AffinityRef struct {
	Name, Node, CIDR, ResourceVersion string
}

// BlockDeletion is an empty block of a gone node.
type BlockDeletion struct {
	Name, CIDR, Node, ResourceVersion string
	Affinities                        []AffinityRef
}

// KeptBlock is a block of a gone node that is not deleted because it holds addresses.
type KeptBlock struct {
	CIDR, Node string
	InUse      int
	// Owners of the addresses, e.g. pods still running elsewhere with a borrowed
	// address, or pods whose addresses are waiting for release.
	Owners []Owner
}

// PlanGC decides one scan. It updates seen with this scan's missing owners and nodes.
// It reads nothing but its arguments.
func PlanGC(inv Inventory, seen Sightings, now time.Time, grace time.Duration) Plan {
	allocs, invalid := allocations(inv.Blocks)
	missing := map[Owner]bool{}
	for _, a := range allocs {
		if !alive(a.Owner, inv) {
			missing[a.Owner] = true
		}
	}
	for _, n := range nodesReferenced(inv) {
		if !inv.Nodes[n] {
			missing[nodeOwner(n)] = true
		}
	}
	seen.observe(missing, now)

	p := Plan{Invalid: invalid}
	p.Release, p.Waiting, p.Unreleasable = planReleases(allocs, seen, now, grace)
	p.DeleteBlocks, p.DeleteAffinities, p.Kept = planNodeCleanup(inv, allocs, seen, now, grace)
	return p
}

func alive(o Owner, inv Inventory) bool {
	if ns, name, ok := o.Pod(); ok {
		return inv.Pods[ns+"/"+name]
	}
	n, _ := o.Node()
	return inv.Nodes[n]
}

// allocations lists every allocated address that has an owner, in block order.
func allocations(blocks []*v3.IPAMBlock) ([]Allocation, []string) {
	var out []Allocation
	var problems []string
	for _, b := range blocks {
		cidr, err := netip.ParsePrefix(b.Spec.CIDR)
		if err != nil || len(b.Spec.Allocations) != 1<<(cidr.Addr().BitLen()-cidr.Bits()) {
			problems = append(problems, "block "+b.Name+": cidr and allocations do not match")
			continue
		}
		base, key := cidr.Masked().Addr(), cidr.Masked().String()
		for ord, idx := range b.Spec.Allocations {
			if idx == nil {
				continue
			}
			if *idx < 0 || *idx >= len(b.Spec.Attributes) {
				problems = append(problems, "block "+b.Name+": allocation refers to a missing attribute")
				continue
			}
			attr := b.Spec.Attributes[*idx]
			owner, ok := ownerOf(attr)
			if !ok {
				continue // nothing says whose it is: never ours to release
			}
			a := Allocation{Addr: nthAddr(base, ord), Block: key, Owner: owner}
			if attr.HandleID != nil {
				a.Handle = *attr.HandleID
			}
			out = append(out, a)
		}
	}
	return out, problems
}

func ownerOf(attr v3.AllocationAttribute) (Owner, bool) {
	ns, pod, node := attr.Secondary[ipam.AttrNamespace], attr.Secondary[ipam.AttrPod], attr.Secondary[ipam.AttrNode]
	switch {
	case pod != "" && ns != "":
		return podOwner(ns, pod), true
	case pod == "" && node != "":
		return nodeOwner(node), true
	}
	return "", false
}

// nthAddr is base + n (n < 2^12: blocks are at most 4096 addresses).
func nthAddr(base netip.Addr, n int) netip.Addr {
	b := base.As16()
	carry := uint(n)
	for i := 15; i >= 0 && carry > 0; i-- {
		sum := uint(b[i]) + carry&0xff
		b[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	a := netip.AddrFrom16(b)
	if base.Is4() {
		return a.Unmap()
	}
	return a
}

// planReleases groups allocations by handle; a handle is released when every owner
// of its addresses has expired.
func planReleases(allocs []Allocation, seen Sightings, now time.Time, grace time.Duration) (rel []HandleRelease, waiting, unreleasable []Allocation) {
	byHandle := map[string][]Allocation{}
	for _, a := range allocs {
		if _, missing := seen[a.Owner]; !missing {
			continue
		}
		switch {
		case !seen.expired(a.Owner, now, grace):
			waiting = append(waiting, a)
		case a.Handle == "":
			unreleasable = append(unreleasable, a)
		default:
			byHandle[a.Handle] = append(byHandle[a.Handle], a)
		}
	}
	for _, a := range allocs { // a handle that also holds a live owner's address stays
		if held, ok := byHandle[a.Handle]; ok && !seen.expired(a.Owner, now, grace) {
			waiting = append(waiting, held...)
			delete(byHandle, a.Handle)
		}
	}
	for h, list := range byHandle {
		r := HandleRelease{Handle: h}
		for _, a := range list {
			r.Addrs = append(r.Addrs, a.Addr)
			if !slices.Contains(r.Owners, a.Owner) {
				r.Owners = append(r.Owners, a.Owner)
			}
		}
		slices.SortFunc(r.Addrs, netip.Addr.Compare)
		slices.Sort(r.Owners)
		rel = append(rel, r)
	}
	slices.SortFunc(rel, func(x, y HandleRelease) int { return cmp.Compare(x.Handle, y.Handle) })
	sortAllocs(waiting)
	sortAllocs(unreleasable)
	return rel, slices.CompactFunc(waiting, func(x, y Allocation) bool { return x.Addr == y.Addr }), unreleasable
}

func sortAllocs(list []Allocation) {
	slices.SortFunc(list, func(x, y Allocation) int { return x.Addr.Compare(y.Addr) })
}

// planNodeCleanup handles blocks and affinities of nodes gone for the grace period.
func planNodeCleanup(inv Inventory, allocs []Allocation, seen Sightings, now time.Time, grace time.Duration) ([]BlockDeletion, []AffinityRef, []KeptBlock) {
	gone := func(node string) bool {
		return node != "" && !inv.Nodes[node] && seen.expired(nodeOwner(node), now, grace)
	}
	ownersIn := map[string][]Owner{}
	for _, a := range allocs {
		if !slices.Contains(ownersIn[a.Block], a.Owner) {
			ownersIn[a.Block] = append(ownersIn[a.Block], a.Owner)
		}
	}
	blockNodeOf := map[string]string{} // block CIDR → affine node
	var dels []BlockDeletion
	var kept []KeptBlock
	for _, b := range inv.Blocks {
		node := hostOf(b)
		cidr, err := netip.ParsePrefix(b.Spec.CIDR)
		if err != nil {
			continue
		}
		key := cidr.Masked().String()
		blockNodeOf[key] = node
		if !gone(node) {
			continue
		}
		if n := inUse(b); n > 0 {
			owners := slices.Clone(ownersIn[key])
			slices.Sort(owners)
			kept = append(kept, KeptBlock{CIDR: key, Node: node, InUse: n, Owners: owners})
			continue
		}
		d := BlockDeletion{Name: b.Name, CIDR: key, Node: node, ResourceVersion: b.ResourceVersion}
		for _, aff := range inv.Affinities {
			if aff.Spec.Node == node && sameCIDR(aff.Spec.CIDR, key) {
				d.Affinities = append(d.Affinities, affinityRef(aff))
			}
		}
		dels = append(dels, d)
	}
	var affs []AffinityRef
	for _, aff := range inv.Affinities {
		if !gone(aff.Spec.Node) {
			continue
		}
		cidr, err := netip.ParsePrefix(aff.Spec.CIDR)
		if owner, exists := blockNodeOf[cidr.Masked().String()]; err == nil && exists && owner == aff.Spec.Node {
			continue // goes with its block (deleted above when empty, else kept)
		}
		affs = append(affs, affinityRef(aff))
	}
	slices.SortFunc(dels, func(x, y BlockDeletion) int { return cmp.Compare(x.CIDR, y.CIDR) })
	slices.SortFunc(affs, func(x, y AffinityRef) int { return cmp.Compare(x.Name, y.Name) })
	slices.SortFunc(kept, func(x, y KeptBlock) int { return cmp.Compare(x.CIDR, y.CIDR) })
	return dels, affs, kept
}

func affinityRef(aff *v3.BlockAffinity) AffinityRef {
	return AffinityRef{Name: aff.Name, Node: aff.Spec.Node, CIDR: aff.Spec.CIDR, ResourceVersion: aff.ResourceVersion}
}

func sameCIDR(a, b string) bool {
	pa, errA := netip.ParsePrefix(a)
	pb, errB := netip.ParsePrefix(b)
	return errA == nil && errB == nil && pa.Masked() == pb.Masked()
}

// nodesReferenced lists the nodes named by block affinities and BlockAffinities.
func nodesReferenced(inv Inventory) []string {
	set := map[string]bool{}
	for _, b := range inv.Blocks {
		if n := hostOf(b); n != "" {
			set[n] = true
		}
	}
	for _, aff := range inv.Affinities {
		if aff.Spec.Node != "" {
			set[aff.Spec.Node] = true
		}
	}
	out := make([]string, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// hostOf is the node of a block's "host:<node>" affinity, "" for none.
func hostOf(b *v3.IPAMBlock) string {
	if b.Spec.Affinity == nil {
		return ""
	}
	n, _ := strings.CutPrefix(*b.Spec.Affinity, "host:")
	if n == *b.Spec.Affinity {
		return ""
	}
	return n
}

func inUse(b *v3.IPAMBlock) int {
	n := 0
	for _, idx := range b.Spec.Allocations {
		if idx != nil {
			n++
		}
	}
	return n
}
