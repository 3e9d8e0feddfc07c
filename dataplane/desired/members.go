package desired

import (
	"net/netip"

	"github.com/palisadenet/palisade/dataplane"
)

// MemberSet is the desired membership of one IP set, kept in canonical form and
// indexed so that a single member change can be turned into kernel operations
// without re-rendering the whole set.
type MemberSet struct {
	kind    dataplane.SetKind
	members map[dataplane.SetMember]struct{}
	// lens counts members per (family, prefix length), to test whether a prefix is
	// covered by a shorter member with one map lookup per length in use.
	lens   map[lenKey]int
	v4, v6 int // members per family
}

type lenKey struct {
	v6   bool
	bits int
}

// NewMemberSet holds the members of s.
func NewMemberSet(s *dataplane.IPSet) *MemberSet {
	m := &MemberSet{kind: s.Kind, members: make(map[dataplane.SetMember]struct{}, len(s.Members)), lens: map[lenKey]int{}}
	for _, x := range s.Members {
		m.Add(x)
	}
	return m
}

// Kind is the set's kind.
func (m *MemberSet) Kind() dataplane.SetKind { return m.kind }

// Len is the number of (canonical) members.
func (m *MemberSet) Len() int { return len(m.members) }

// Normalize gives each member one canonical form: unmapped, masked nets; host
// prefixes for named-port members (their entries hold a single address).
func (m *MemberSet) Normalize(x dataplane.SetMember) dataplane.SetMember {
	a := x.Prefix.Addr().Unmap()
	if m.kind == dataplane.SetKindNamedPort {
		return dataplane.SetMember{Prefix: netip.PrefixFrom(a, a.BitLen()), Protocol: x.Protocol, Port: x.Port}
	}
	return dataplane.SetMember{Prefix: netip.PrefixFrom(a, x.Prefix.Bits()).Masked()}
}

// Add adds x; an invalid prefix is ignored.
func (m *MemberSet) Add(x dataplane.SetMember) {
	x = m.Normalize(x)
	if !x.Prefix.IsValid() {
		return
	}
	if _, ok := m.members[x]; ok {
		return
	}
	m.members[x] = struct{}{}
	m.count(x, 1)
}

// Remove removes x if present.
func (m *MemberSet) Remove(x dataplane.SetMember) {
	x = m.Normalize(x)
	if _, ok := m.members[x]; !ok {
		return
	}
	delete(m.members, x)
	m.count(x, -1)
}

func (m *MemberSet) count(x dataplane.SetMember, d int) {
	v6 := x.Prefix.Addr().Is6()
	if v6 {
		m.v6 += d
	} else {
		m.v4 += d
	}
	k := lenKey{v6, x.Prefix.Bits()}
	if m.lens[k] += d; m.lens[k] == 0 {
		delete(m.lens, k)
	}
}

// Has reports whether x (in canonical form) is a member.
func (m *MemberSet) Has(x dataplane.SetMember) bool {
	_, ok := m.members[m.Normalize(x)]
	return ok
}

// Covered reports whether a shorter member contains the canonical prefix p.
func (m *MemberSet) Covered(p netip.Prefix) bool {
	for k := range m.lens {
		if k.v6 != p.Addr().Is6() || k.bits >= p.Bits() {
			continue
		}
		if _, ok := m.members[dataplane.SetMember{Prefix: netip.PrefixFrom(p.Addr(), k.bits).Masked()}]; ok {
			return true
		}
	}
	return false
}

// Candidates is every member whose kernel entry may change when x is added or
// removed: x itself (canonical) and, for a net, the members inside it.
func (m *MemberSet) Candidates(x dataplane.SetMember) []dataplane.SetMember {
	x = m.Normalize(x)
	out := []dataplane.SetMember{x}
	if m.kind == dataplane.SetKindNamedPort || x.Prefix.IsSingleIP() {
		return out
	}
	for y := range m.members {
		if y.Prefix.Bits() > x.Prefix.Bits() && x.Prefix.Contains(y.Prefix.Addr()) {
			out = append(out, y)
		}
	}
	return out
}

// Info is what rendering needs to know about the set.
func (m *MemberSet) Info() SetInfo {
	return SetInfo{Kind: m.kind, HasV4: m.v4 > 0, HasV6: m.v6 > 0}
}

// ToIPSet is the set with its canonical members, in no particular order.
func (m *MemberSet) ToIPSet(id string) *dataplane.IPSet {
	s := &dataplane.IPSet{ID: id, Kind: m.kind, Members: make([]dataplane.SetMember, 0, len(m.members))}
	for x := range m.members {
		s.Members = append(s.Members, x)
	}
	return s
}
