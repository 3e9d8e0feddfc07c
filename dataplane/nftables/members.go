package nftables

import (
	"net/netip"

	"github.com/palisadenet/palisade/dataplane"
)

// memberSet is the desired membership of one IP set, indexed so that a single member
// change can be turned into element operations without re-rendering the whole set.
type memberSet struct {
	kind    dataplane.SetKind
	members map[dataplane.SetMember]struct{}
	// lens counts members per (family, prefix length), to test whether a prefix is
	// covered by a shorter member with one map lookup per length in use.
	lens map[lenKey]int
}

type lenKey struct {
	v6   bool
	bits int
}

func newMemberSet(s *dataplane.IPSet) *memberSet {
	m := &memberSet{kind: s.Kind, members: make(map[dataplane.SetMember]struct{}, len(s.Members)), lens: map[lenKey]int{}}
	for _, x := range s.Members {
		m.add(x)
	}
	return m
}

// normalize gives each member one canonical form: masked nets, host prefixes for
// named-port members (their elements hold a single address).
func (m *memberSet) normalize(x dataplane.SetMember) dataplane.SetMember {
	if m.kind == dataplane.SetKindNamedPort {
		a := x.Prefix.Addr().Unmap()
		return dataplane.SetMember{Prefix: netip.PrefixFrom(a, a.BitLen()), Protocol: x.Protocol, Port: x.Port}
	}
	return dataplane.SetMember{Prefix: netip.PrefixFrom(x.Prefix.Addr().Unmap(), x.Prefix.Bits()).Masked()}
}

func (m *memberSet) add(x dataplane.SetMember) {
	x = m.normalize(x)
	if !x.Prefix.IsValid() {
		return
	}
	if _, ok := m.members[x]; ok {
		return
	}
	m.members[x] = struct{}{}
	m.lens[lenKey{x.Prefix.Addr().Is6(), x.Prefix.Bits()}]++
}

func (m *memberSet) remove(x dataplane.SetMember) {
	x = m.normalize(x)
	if _, ok := m.members[x]; !ok {
		return
	}
	delete(m.members, x)
	k := lenKey{x.Prefix.Addr().Is6(), x.Prefix.Bits()}
	if m.lens[k]--; m.lens[k] == 0 {
		delete(m.lens, k)
	}
}

// covered reports whether a shorter member contains p (then p has no element).
func (m *memberSet) covered(p netip.Prefix) bool {
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

// element is the element a member maps to, and whether the set should hold it now.
func (m *memberSet) element(x dataplane.SetMember) (Element, bool) {
	x = m.normalize(x)
	_, present := m.members[x]
	if m.kind == dataplane.SetKindNamedPort {
		return NamedPortElement(x), present
	}
	return PrefixElement(x.Prefix), present && !m.covered(x.Prefix)
}

// candidates is every member whose element may change when x is added or removed:
// x itself and, for a net, the members inside it.
func (m *memberSet) candidates(x dataplane.SetMember) []dataplane.SetMember {
	x = m.normalize(x)
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

// has reports whether the set has members of family f.
func (m *memberSet) has(f Family) bool {
	for k := range m.lens {
		if k.v6 == (f == IPv6) {
			return true
		}
	}
	return false
}

func (m *memberSet) info() SetInfo {
	return SetInfo{Kind: m.kind, HasV4: m.has(IPv4), HasV6: m.has(IPv6)}
}

func (m *memberSet) toIPSet(id string) *dataplane.IPSet {
	s := &dataplane.IPSet{ID: id, Kind: m.kind, Members: make([]dataplane.SetMember, 0, len(m.members))}
	for x := range m.members {
		s.Members = append(s.Members, x)
	}
	return s
}
