package calc

import (
	"crypto/sha256"
	"encoding/base32"
	"net/netip"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/policy/selector"
)

// member is one labelled source of set members: an endpoint (its addresses and
// named container ports) or a network set (its CIDRs).
type member struct {
	labels map[string]string
	addrs  []netip.Prefix
	ports  []namedPort
}

// namedPort is a named container port.
type namedPort struct {
	name     string
	protocol uint8
	port     uint16
}

// ruleSelector is a selector some active rule uses, with the sets built from it:
// its address set (while setRefs > 0) and its named-port sets.
type ruleSelector struct {
	sel        *selector.Selector
	setRefs    int
	set        *ipSet
	namedPorts map[string]*namedPortSet
}

type namedPortSet struct {
	refs int
	set  *ipSet
}

// ipSet is one set of the desired state with reference-counted members, and what
// changed since the last flush.
type ipSet struct {
	id      string
	kind    dataplane.SetKind
	members map[dataplane.SetMember]int32
	// pending is the net change per member since the last flush; kept only once
	// the set was emitted (before that, the whole set is sent).
	pending map[dataplane.SetMember]int32
	live    bool
	emitted bool
}

var setIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// namedPortSetID names the set of (address, protocol, port) of endpoints matching
// sel with a container port called name: "n" and 16 base32 characters, the same
// shape as selector IDs.
func namedPortSetID(sel *selector.Selector, name string) string {
	sum := sha256.Sum256([]byte(sel.String() + "\x00" + name))
	return "n" + setIDEncoding.EncodeToString(sum[:10])
}

// acquireSelectorSet takes a reference on sel's address set and returns its ID.
func (g *Graph) acquireSelectorSet(sel *selector.Selector) string {
	rs := g.acquireRuleSelector(sel)
	rs.setRefs++
	if rs.set == nil {
		rs.set = g.openSet(sel.ID(), dataplane.SetKindNets)
		for m := range g.ruleIndex.members(rs) {
			g.addMembers(rs.set, m, "")
		}
	}
	return rs.set.id
}

// releaseSelectorSet drops a reference taken by acquireSelectorSet.
func (g *Graph) releaseSelectorSet(sel *selector.Selector) {
	rs := g.ruleSels[sel.ID()]
	rs.setRefs--
	if rs.setRefs == 0 {
		g.closeSet(rs.set)
		rs.set = nil
	}
	g.maybeDropRuleSelector(rs)
}

// acquireNamedPortSet takes a reference on the named-port set (sel, name).
func (g *Graph) acquireNamedPortSet(sel *selector.Selector, name string) string {
	rs := g.acquireRuleSelector(sel)
	np := rs.namedPorts[name]
	if np == nil {
		np = &namedPortSet{set: g.openSet(namedPortSetID(sel, name), dataplane.SetKindNamedPort)}
		rs.namedPorts[name] = np
		for m := range g.ruleIndex.members(rs) {
			g.addMembers(np.set, m, name)
		}
	}
	np.refs++
	return np.set.id
}

func (g *Graph) releaseNamedPortSet(sel *selector.Selector, name string) {
	rs := g.ruleSels[sel.ID()]
	np := rs.namedPorts[name]
	np.refs--
	if np.refs == 0 {
		g.closeSet(np.set)
		delete(rs.namedPorts, name)
	}
	g.maybeDropRuleSelector(rs)
}

func (g *Graph) acquireRuleSelector(sel *selector.Selector) *ruleSelector {
	rs := g.ruleSels[sel.ID()]
	if rs == nil {
		rs = &ruleSelector{sel: sel, namedPorts: map[string]*namedPortSet{}}
		g.ruleSels[sel.ID()] = rs
		g.ruleIndex.addSelector(rs, sel)
	}
	return rs
}

func (g *Graph) maybeDropRuleSelector(rs *ruleSelector) {
	if rs.setRefs > 0 || len(rs.namedPorts) > 0 {
		return
	}
	// No set is open, so the unmatch callbacks change nothing.
	g.ruleIndex.removeSelector(rs)
	delete(g.ruleSels, rs.sel.ID())
}

// openSet makes set id live (reusing the state of a set closed earlier in this
// batch, so close-then-open coalesces into a delta).
func (g *Graph) openSet(id string, kind dataplane.SetKind) *ipSet {
	s := g.sets[id]
	if s == nil {
		s = &ipSet{id: id, kind: kind, members: map[dataplane.SetMember]int32{}}
		g.sets[id] = s
	}
	s.live = true
	g.out.dirtySets[id] = struct{}{}
	return s
}

// closeSet empties set s and marks it dead; the flush removes it.
func (g *Graph) closeSet(s *ipSet) {
	for m := range s.members {
		s.notePending(m, -1)
	}
	clear(s.members)
	s.live = false
	g.out.dirtySets[s.id] = struct{}{}
}

func (s *ipSet) notePending(m dataplane.SetMember, delta int32) {
	if !s.emitted {
		return
	}
	if s.pending == nil {
		s.pending = map[dataplane.SetMember]int32{}
	}
	if n := s.pending[m] + delta; n == 0 {
		delete(s.pending, m)
	} else {
		s.pending[m] = n
	}
}

func (g *Graph) addMember(s *ipSet, m dataplane.SetMember) {
	s.members[m]++
	if s.members[m] == 1 {
		s.notePending(m, +1)
		g.out.dirtySets[s.id] = struct{}{}
	}
}

func (g *Graph) removeMember(s *ipSet, m dataplane.SetMember) {
	n := s.members[m] - 1
	if n > 0 {
		s.members[m] = n
		return
	}
	delete(s.members, m)
	s.notePending(m, -1)
	g.out.dirtySets[s.id] = struct{}{}
}

// addMembers adds what src contributes to set s: its addresses, or, for a
// named-port set (portName != ""), its (address, protocol, port) triples.
func (g *Graph) addMembers(s *ipSet, src *member, portName string) {
	forContribution(src, portName, func(m dataplane.SetMember) { g.addMember(s, m) })
}

func (g *Graph) removeMembers(s *ipSet, src *member, portName string) {
	forContribution(src, portName, func(m dataplane.SetMember) { g.removeMember(s, m) })
}

func forContribution(src *member, portName string, f func(dataplane.SetMember)) {
	if portName == "" {
		for _, a := range src.addrs {
			f(dataplane.SetMember{Prefix: a})
		}
		return
	}
	for _, p := range src.ports {
		if p.name != portName {
			continue
		}
		for _, a := range src.addrs {
			f(dataplane.SetMember{Prefix: a, Protocol: p.protocol, Port: p.port})
		}
	}
}

// ruleMatched and ruleUnmatched keep a selector's sets in step with its matches.
func (g *Graph) ruleMatched(rs *ruleSelector, m *member) {
	g.contribute(rs, m, g.addMembers)
}

func (g *Graph) ruleUnmatched(rs *ruleSelector, m *member) {
	g.contribute(rs, m, g.removeMembers)
}

func (g *Graph) contribute(rs *ruleSelector, m *member, f func(*ipSet, *member, string)) {
	if rs.set != nil {
		f(rs.set, m, "")
	}
	for name, np := range rs.namedPorts {
		f(np.set, m, name)
	}
}

// replaceContribution changes the addresses and ports of member m in every set it
// belongs to.
func (g *Graph) replaceContribution(m *member, addrs []netip.Prefix, ports []namedPort) {
	sels := g.ruleIndex.matching(m)
	for rs := range sels {
		g.ruleUnmatched(rs, m)
	}
	m.addrs, m.ports = addrs, ports
	for rs := range sels {
		g.ruleMatched(rs, m)
	}
}
