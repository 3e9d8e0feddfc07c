package iptables

import (
	"net/netip"

	"github.com/palisadenet/palisade/dataplane"
)

// memberSet is the desired membership of one IP set.
type memberSet struct {
	kind    dataplane.SetKind
	members map[dataplane.SetMember]struct{}
	v4, v6  int // members per family
}

func newMemberSet(s *dataplane.IPSet) *memberSet {
	m := &memberSet{kind: s.Kind, members: make(map[dataplane.SetMember]struct{}, len(s.Members))}
	for _, x := range s.Members {
		m.add(x)
	}
	return m
}

// normalize gives each member one canonical form: masked nets; named-port members are
// host addresses.
func (m *memberSet) normalize(x dataplane.SetMember) dataplane.SetMember {
	a := x.Prefix.Addr().Unmap()
	if m.kind == dataplane.SetKindNamedPort {
		return dataplane.SetMember{Prefix: netip.PrefixFrom(a, a.BitLen()), Protocol: x.Protocol, Port: x.Port}
	}
	return dataplane.SetMember{Prefix: netip.PrefixFrom(a, x.Prefix.Bits()).Masked()}
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
	m.count(x, 1)
}

func (m *memberSet) remove(x dataplane.SetMember) {
	x = m.normalize(x)
	if _, ok := m.members[x]; !ok {
		return
	}
	delete(m.members, x)
	m.count(x, -1)
}

func (m *memberSet) count(x dataplane.SetMember, d int) {
	if x.Prefix.Addr().Is4() {
		m.v4 += d
	} else {
		m.v6 += d
	}
}

func (m *memberSet) has(x dataplane.SetMember) bool {
	_, ok := m.members[m.normalize(x)]
	return ok
}

func (m *memberSet) info() SetInfo {
	return SetInfo{Kind: m.kind, HasV4: m.v4 > 0, HasV6: m.v6 > 0}
}

// wantsEntry reports whether some member still produces entry e of family fam: only
// a /0 and its /1 halves share entries.
func (m *memberSet) wantsEntry(x dataplane.SetMember, e entry) bool {
	if m.has(x) {
		return true
	}
	if m.kind != dataplane.SetKindNets {
		return false
	}
	zero := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	if e.fam == IPv6 {
		zero = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	if _, ok := m.members[dataplane.SetMember{Prefix: zero}]; ok {
		return true
	}
	p, err := netip.ParsePrefix(e.text)
	if err != nil {
		return false
	}
	_, ok := m.members[dataplane.SetMember{Prefix: p}]
	return ok
}

func (m *memberSet) toIPSet(id string) *dataplane.IPSet {
	s := &dataplane.IPSet{ID: id, Kind: m.kind, Members: make([]dataplane.SetMember, 0, len(m.members))}
	for x := range m.members {
		s.Members = append(s.Members, x)
	}
	return s
}
