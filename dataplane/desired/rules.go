package desired

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/palisadenet/palisade/dataplane"
)

// Family is an IP family; its value is the IP version.
type Family uint8

// The IP families.
const (
	IPv4 Family = 4
	IPv6 Family = 6
)

// IANA protocol numbers the renderers treat specially.
const (
	ProtoICMP   uint8 = 1
	ProtoTCP    uint8 = 6
	ProtoUDP    uint8 = 17
	ProtoICMPv6 uint8 = 58
	ProtoSCTP   uint8 = 132
)

// ICMPProto is the ICMP protocol of a family.
func ICMPProto(fam Family) uint8 {
	if fam == IPv6 {
		return ProtoICMPv6
	}
	return ProtoICMP
}

// SetInfo is what rendering needs to know about a referenced set.
type SetInfo struct {
	Kind dataplane.SetKind
	// HasV4 and HasV6 say whether the set has members of that family. A rule that
	// needs membership of a set that is empty in a family is left out for that family
	// (it could never match), which halves the rules of single-stack clusters.
	HasV4, HasV6 bool
}

// Has reports whether the set has members of family f.
func (i SetInfo) Has(f Family) bool {
	if f == IPv6 {
		return i.HasV6
	}
	return i.HasV4
}

// SetKindLookup describes a known set.
type SetKindLookup func(id string) (SetInfo, bool)

// CheckRule rejects a rule no backend can render: an unknown action or ipVersion, a
// set that is unknown or of the wrong kind, a reversed port range.
func CheckRule(r *dataplane.Rule, sets SetKindLookup) error {
	switch r.Action {
	case dataplane.ActionAllow, dataplane.ActionDeny, dataplane.ActionPass, dataplane.ActionLog:
	default:
		return fmt.Errorf("unknown action %d", r.Action)
	}
	if r.IPVersion != 0 && r.IPVersion != 4 && r.IPVersion != 6 {
		return fmt.Errorf("ipVersion %d is not 4 or 6", r.IPVersion)
	}
	for _, m := range []*dataplane.EndpointMatch{&r.Source, &r.Destination} {
		for _, ids := range [][]string{m.SetIDs, m.NotSetIDs} {
			if err := checkSets(ids, dataplane.SetKindNets, sets); err != nil {
				return err
			}
		}
		for _, ids := range [][]string{m.NamedPortSetIDs, m.NotNamedPortSetIDs} {
			if err := checkSets(ids, dataplane.SetKindNamedPort, sets); err != nil {
				return err
			}
		}
		for _, pr := range append(slices.Clone(m.Ports), m.NotPorts...) {
			if pr.First > pr.Last {
				return fmt.Errorf("port range %d:%d is reversed", pr.First, pr.Last)
			}
		}
	}
	return nil
}

func checkSets(ids []string, want dataplane.SetKind, sets SetKindLookup) error {
	for _, id := range ids {
		info, ok := sets(id)
		if !ok {
			return fmt.Errorf("unknown IP set %q", id)
		}
		if info.Kind != want {
			return fmt.Errorf("IP set %q has kind %d, rule needs kind %d", id, info.Kind, want)
		}
	}
	return nil
}

// RuleFamilies is where the rule can match: its ipVersion, narrowed by protocol icmp
// (IPv4 only) or icmpv6 (IPv6 only).
func RuleFamilies(r *dataplane.Rule) []Family {
	switch {
	case r.IPVersion == 4:
		return []Family{IPv4}
	case r.IPVersion == 6:
		return []Family{IPv6}
	case r.Protocol != nil && *r.Protocol == ProtoICMP:
		return []Family{IPv4}
	case r.Protocol != nil && *r.Protocol == ProtoICMPv6:
		return []Family{IPv6}
	}
	return []Family{IPv4, IPv6}
}

// UsesPorts reports whether the rule matches port numbers (which need a protocol
// with ports); named-port sets carry their own protocol.
func UsesPorts(r *dataplane.Rule) bool {
	return len(r.Source.Ports)+len(r.Source.NotPorts)+len(r.Destination.Ports)+len(r.Destination.NotPorts) > 0
}

// Cross is the cartesian product of ORed groups: every way of picking one
// alternative from each group, joined left to right starting from empty. A group
// without alternatives leaves no combination (the rule cannot match).
func Cross[T any](groups [][]T, empty T, join func(prefix, alt T) T) []T {
	out := []T{empty}
	for _, g := range groups {
		var next []T
		for _, prefix := range out {
			for _, alt := range g {
				next = append(next, join(prefix, alt))
			}
		}
		out = next
	}
	return out
}

// MergePortRanges sorts port ranges and merges those that overlap or touch (the
// kernel rejects overlapping interval elements; multiport lists stay short). The
// input is not modified.
func MergePortRanges(in []dataplane.PortRange) []dataplane.PortRange {
	ranges := slices.Clone(in)
	slices.SortFunc(ranges, func(a, b dataplane.PortRange) int { return int(a.First) - int(b.First) })
	merged := ranges[:0]
	for _, p := range ranges {
		if n := len(merged); n > 0 && int(p.First) <= int(merged[n-1].Last)+1 {
			merged[n-1].Last = max(merged[n-1].Last, p.Last)
			continue
		}
		merged = append(merged, p)
	}
	return merged
}

// MaximalPrefixes sorts prefixes in place and drops those inside another one (CIDRs
// either nest or are disjoint), so no two results overlap.
func MaximalPrefixes(ps []netip.Prefix) []netip.Prefix {
	slices.SortFunc(ps, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	out := ps[:0]
	for _, p := range ps {
		if n := len(out); n > 0 && out[n-1].Contains(p.Addr()) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// LastAddr is the last address of prefix p.
func LastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
