package ipam

import (
	"fmt"
	"maps"
	"net/netip"
	"strconv"
	"time"

	v3 "github.com/palisadenet/palisade/api/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Blocks hand out every address they hold, the first and the last included: a block is
// a unit of routing, not a subnet with a network and a broadcast address (Calico does
// the same on Linux). Only IPReservation ranges are skipped.

const affinityHostPrefix = "host:"

// hostAffinity is the block's spec.affinity for node.
func hostAffinity(node string) string { return affinityHostPrefix + node }

// blockNode returns the node a block is affine to, or "" for none (or a non-host
// affinity such as Calico's "virtual:").
func blockNode(b *v3.IPAMBlock) string {
	if b.Spec.Affinity == nil {
		return ""
	}
	aff := *b.Spec.Affinity
	if len(aff) > len(affinityHostPrefix) && aff[:len(affinityHostPrefix)] == affinityHostPrefix {
		return aff[len(affinityHostPrefix):]
	}
	return ""
}

// newBlock returns an empty block for cidr affine to node (none when node is ""), with
// every ordinal free, in ascending order.
func newBlock(cidr netip.Prefix, node string, strict bool, now time.Time) *v3.IPAMBlock {
	size := blockLen(cidr)
	b := &v3.IPAMBlock{
		TypeMeta:   metav1.TypeMeta{APIVersion: v3.SchemeGroupVersion.String(), Kind: v3.KindIPAMBlock},
		ObjectMeta: metav1.ObjectMeta{Name: BlockName(cidr)},
		Spec: v3.IPAMBlockSpec{
			CIDR:           cidr.String(),
			StrictAffinity: strict,
			Allocations:    make([]*int, size),
			Unallocated:    make([]int, size),
			Attributes:     []v3.AllocationAttribute{},
		},
	}
	for i := range b.Spec.Unallocated {
		b.Spec.Unallocated[i] = i
	}
	if node != "" {
		aff := hostAffinity(node)
		claimed := metav1.NewTime(now.UTC().Truncate(time.Second))
		b.Spec.Affinity, b.Spec.AffinityClaimTime = &aff, &claimed
	}
	return b
}

// blockLen is the number of addresses in cidr (blocks are at most 2^12 long: prefix
// lengths 20-32 and 116-128).
func blockLen(cidr netip.Prefix) int { return 1 << (cidr.Addr().BitLen() - cidr.Bits()) }

// parseBlock reads and checks a stored block: its CIDR and that allocations, unallocated
// and attributes agree, so later code can index without bounds surprises. Garbage from
// the datastore gives an error naming the block, never a panic.
func parseBlock(b *v3.IPAMBlock) (netip.Prefix, error) {
	cidr, err := netip.ParsePrefix(b.Spec.CIDR)
	if err != nil {
		return cidr, fmt.Errorf("block %s: cidr: %w", b.Name, err)
	}
	if cidr != cidr.Masked() {
		return cidr, fmt.Errorf("block %s: cidr %s has host bits set", b.Name, cidr)
	}
	if bits := cidr.Addr().BitLen() - cidr.Bits(); bits > 16 {
		return cidr, fmt.Errorf("block %s: cidr %s is larger than any block size", b.Name, cidr)
	}
	size := blockLen(cidr)
	if len(b.Spec.Allocations) != size {
		return cidr, fmt.Errorf("block %s: %d allocations for %d addresses", b.Name, len(b.Spec.Allocations), size)
	}
	for ord, idx := range b.Spec.Allocations {
		if idx != nil && (*idx < 0 || *idx >= len(b.Spec.Attributes)) {
			return cidr, fmt.Errorf("block %s: ordinal %d refers to attribute %d of %d", b.Name, ord, *idx, len(b.Spec.Attributes))
		}
	}
	for _, ord := range b.Spec.Unallocated {
		if ord < 0 || ord >= size {
			return cidr, fmt.Errorf("block %s: unallocated ordinal %d out of range", b.Name, ord)
		}
	}
	return cidr, nil
}

// addrAt is the address of ordinal ord in cidr.
func addrAt(cidr netip.Prefix, ord int) netip.Addr { return addOffset(cidr.Addr(), uint64(ord)) }

// addOffset adds off to addr (wrapping at the top of the address space).
func addOffset(addr netip.Addr, off uint64) netip.Addr {
	a := addr.AsSlice()
	carry := off
	for i := len(a) - 1; i >= 0 && carry > 0; i-- {
		sum := uint64(a[i]) + carry&0xff
		a[i] = byte(sum)
		carry = carry>>8 + sum>>8
	}
	out, _ := netip.AddrFromSlice(a)
	return out
}

// ordinalOf is addr's position in cidr, or false when cidr does not hold addr.
func ordinalOf(cidr netip.Prefix, addr netip.Addr) (int, bool) {
	if !cidr.Contains(addr) {
		return 0, false
	}
	a, base := addr.AsSlice(), cidr.Addr().AsSlice()
	ord := 0
	for i := len(a) - 4; i < len(a); i++ {
		ord = ord<<8 | int(a[i]^base[i])
	}
	return ord, true
}

// reservedFunc reports whether an address must never be handed out.
type reservedFunc func(netip.Addr) bool

// freeCount is the number of ordinals that could be handed out now.
func freeCount(b *v3.IPAMBlock, cidr netip.Prefix, reserved reservedFunc) int {
	n := 0
	for _, ord := range b.Spec.Unallocated {
		if b.Spec.Allocations[ord] == nil && !reserved(addrAt(cidr, ord)) {
			n++
		}
	}
	return n
}

// allocate hands out up to n ordinals from the head of the unallocated queue (the
// address free the longest goes first), skipping reserved ordinals, which stay queued
// in place. It returns the ordinals taken.
func allocate(b *v3.IPAMBlock, cidr netip.Prefix, n int, attr v3.AllocationAttribute, reserved reservedFunc) []int {
	if n <= 0 {
		return nil
	}
	var taken []int
	kept := b.Spec.Unallocated[:0:0]
	for _, ord := range b.Spec.Unallocated {
		if len(taken) < n && b.Spec.Allocations[ord] == nil && !reserved(addrAt(cidr, ord)) {
			taken = append(taken, ord)
			continue
		}
		kept = append(kept, ord)
	}
	if len(taken) == 0 {
		return nil
	}
	b.Spec.Unallocated = kept
	markAllocated(b, taken, attributeIndex(b, attr))
	return taken
}

// allocateOrdinal takes one specific ordinal (a fixed address). It fails when the
// ordinal is held.
func allocateOrdinal(b *v3.IPAMBlock, ord int, attr v3.AllocationAttribute) error {
	if b.Spec.Allocations[ord] != nil {
		return fmt.Errorf("in use by %s", holderOf(b, ord))
	}
	kept := make([]int, 0, len(b.Spec.Unallocated))
	for _, o := range b.Spec.Unallocated {
		if o != ord {
			kept = append(kept, o)
		}
	}
	b.Spec.Unallocated = kept
	markAllocated(b, []int{ord}, attributeIndex(b, attr))
	return nil
}

func markAllocated(b *v3.IPAMBlock, ords []int, idx int) {
	b.Spec.SequenceNumber++
	if b.Spec.SequenceNumberForAllocation == nil {
		b.Spec.SequenceNumberForAllocation = map[string]uint64{}
	}
	for _, ord := range ords {
		i := idx
		b.Spec.Allocations[ord] = &i
		b.Spec.SequenceNumberForAllocation[strconv.Itoa(ord)] = b.Spec.SequenceNumber
	}
}

// attributeIndex returns the index of an attribute equal to attr, appending it when
// there is none, so one pod's addresses share one attribute.
func attributeIndex(b *v3.IPAMBlock, attr v3.AllocationAttribute) int {
	for i, have := range b.Spec.Attributes {
		if have.ReleasedAt == nil && handleOf(have) == handleOf(attr) && maps.Equal(have.Secondary, attr.Secondary) {
			return i
		}
	}
	b.Spec.Attributes = append(b.Spec.Attributes, attr)
	return len(b.Spec.Attributes) - 1
}

func handleOf(attr v3.AllocationAttribute) string {
	if attr.HandleID == nil {
		return ""
	}
	return *attr.HandleID
}

// holderOf names who holds ordinal ord, for error messages.
func holderOf(b *v3.IPAMBlock, ord int) string {
	idx := b.Spec.Allocations[ord]
	if idx == nil {
		return "nobody"
	}
	attr := b.Spec.Attributes[*idx]
	h := handleOf(attr)
	if pod, ns := attr.Secondary[AttrPod], attr.Secondary[AttrNamespace]; pod != "" {
		return fmt.Sprintf("handle %q (pod %s/%s)", h, ns, pod)
	}
	return fmt.Sprintf("handle %q", h)
}

// ordinalsOfHandle lists the ordinals held by handle.
func ordinalsOfHandle(b *v3.IPAMBlock, handle string) []int {
	var ords []int
	for ord, idx := range b.Spec.Allocations {
		if idx != nil && handleOf(b.Spec.Attributes[*idx]) == handle {
			ords = append(ords, ord)
		}
	}
	return ords
}

// release frees ords, appending them to the tail of the unallocated queue so they are
// the last to be handed out again. Free ordinals are ignored.
func release(b *v3.IPAMBlock, ords []int) int {
	n := 0
	for _, ord := range ords {
		if b.Spec.Allocations[ord] == nil {
			continue
		}
		b.Spec.Allocations[ord] = nil
		delete(b.Spec.SequenceNumberForAllocation, strconv.Itoa(ord))
		b.Spec.Unallocated = append(b.Spec.Unallocated, ord)
		n++
	}
	if n > 0 {
		b.Spec.SequenceNumber++
		dropUnusedAttributes(b)
	}
	return n
}

// dropUnusedAttributes removes attributes no ordinal refers to and renumbers the rest.
func dropUnusedAttributes(b *v3.IPAMBlock) {
	used := make([]bool, len(b.Spec.Attributes))
	for _, idx := range b.Spec.Allocations {
		if idx != nil {
			used[*idx] = true
		}
	}
	newIndex := make([]int, len(used))
	kept := b.Spec.Attributes[:0:0]
	for i, u := range used {
		if u {
			newIndex[i] = len(kept)
			kept = append(kept, b.Spec.Attributes[i])
		}
	}
	if len(kept) == len(used) {
		return
	}
	for ord, idx := range b.Spec.Allocations {
		if idx != nil {
			n := newIndex[*idx]
			b.Spec.Allocations[ord] = &n
		}
	}
	if kept == nil {
		kept = []v3.AllocationAttribute{}
	}
	b.Spec.Attributes = kept
}

// inUse counts the allocated ordinals.
func inUse(b *v3.IPAMBlock) int {
	n := 0
	for _, idx := range b.Spec.Allocations {
		if idx != nil {
			n++
		}
	}
	return n
}
