package nftables

import (
	"net/netip"
	"slices"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/desired"
)

// IANA protocol numbers used by the renderer.
const (
	protoICMP   = desired.ProtoICMP
	protoTCP    = desired.ProtoTCP
	protoUDP    = desired.ProtoUDP
	protoICMPv6 = desired.ProtoICMPv6
	protoSCTP   = desired.ProtoSCTP
)

// portProtos are the protocols whose header has ports; a port match without a
// protocol is limited to them so it never reads bytes of an ICMP header as a port.
var portProtos = []uint8{protoTCP, protoUDP, protoSCTP}

// renderRule turns one policy rule into nft rules. A rule expands per IP family (its
// named sets exist per family) and per port alternative (Ports, each named-port set and
// the NotICMP halves are ORed); every expansion carries the same action, so the first
// matching one decides. Log rules may therefore log a packet more than once.
func renderRule(r *dataplane.Rule, sets SetKindLookup, opt Options) ([]Rule, error) {
	if err := desired.CheckRule(r, sets); err != nil {
		return nil, err
	}
	var out []Rule
	neutral := familyNeutral(r)
	for _, fam := range desired.RuleFamilies(r) {
		common, ok := familyMatches(r, fam, sets)
		if !ok {
			continue // e.g. only IPv4 nets: never matches IPv6
		}
		if neutral {
			common = common[1:] // one rule serves both families: drop the nfproto match
		}
		for _, alt := range crossAlternatives(r, fam, sets) {
			matches := append(slices.Clone(common), alt...)
			out = append(out, withAction(Rule{Matches: matches, Comment: truncate(r.ID)}, r, opt))
		}
		if neutral {
			break
		}
	}
	return out, nil
}

// familyNeutral reports whether the rule matches the same way in both families, so
// one nft rule without a family match serves both.
func familyNeutral(r *dataplane.Rule) bool {
	if r.IPVersion != 0 || r.ICMP != nil || r.NotICMP != nil {
		return false
	}
	for _, m := range []*dataplane.EndpointMatch{&r.Source, &r.Destination} {
		if len(m.Nets)+len(m.NotNets)+len(m.SetIDs)+len(m.NotSetIDs)+len(m.NamedPortSetIDs)+len(m.NotNamedPortSetIDs) > 0 {
			return false
		}
	}
	return true
}

// familyMatches is every AND-ed condition of the rule in one family, except the port
// and NotICMP alternatives. ok is false when the rule cannot match in this family.
func familyMatches(r *dataplane.Rule, fam Family, sets SetKindLookup) ([]Match, bool) {
	ms := []Match{NFProtoMatch{Family: fam}}
	if r.Protocol != nil {
		ms = append(ms, L4ProtoMatch{Protos: []uint8{*r.Protocol}})
	}
	if r.NotProtocol != nil {
		ms = append(ms, L4ProtoMatch{Protos: []uint8{*r.NotProtocol}, Negate: true})
	}
	for _, side := range []struct {
		m   *dataplane.EndpointMatch
		dir Dir
	}{{&r.Source, Src}, {&r.Destination, Dst}} {
		m := side.m
		if len(m.Nets) > 0 {
			nets := netsOfFamily(m.Nets, fam)
			if len(nets) == 0 {
				return nil, false
			}
			ms = append(ms, AddrNetsMatch{Family: fam, Dir: side.dir, Nets: nets})
		}
		if nets := netsOfFamily(m.NotNets, fam); len(nets) > 0 {
			ms = append(ms, AddrNetsMatch{Family: fam, Dir: side.dir, Nets: nets, Negate: true})
		}
		for _, id := range m.SetIDs {
			if info, _ := sets(id); !info.Has(fam) {
				return nil, false // needs membership of a set empty in this family
			}
			ms = append(ms, AddrSetMatch{Family: fam, Dir: side.dir, Set: SetName(id, dataplane.SetKindNets, fam)})
		}
		for _, id := range m.NotSetIDs {
			ms = append(ms, AddrSetMatch{Family: fam, Dir: side.dir, Set: SetName(id, dataplane.SetKindNets, fam), Negate: true})
		}
		if len(m.NotPorts) > 0 {
			ms = append(ms, PortMatch{Dir: side.dir, Ranges: portRanges(m.NotPorts), Negate: true})
		}
		for _, id := range m.NotNamedPortSetIDs {
			ms = append(ms, NamedPortMatch{Family: fam, Dir: side.dir, Set: SetName(id, dataplane.SetKindNamedPort, fam), Negate: true})
		}
	}
	if r.Protocol == nil && desired.UsesPorts(r) {
		ms = append(ms, L4ProtoMatch{Protos: portProtos})
	}
	if r.ICMP != nil || r.NotICMP != nil {
		if r.Protocol == nil {
			ms = append(ms, L4ProtoMatch{Protos: []uint8{desired.ICMPProto(fam)}})
		}
	}
	if r.ICMP != nil {
		ms = append(ms, ICMPMatch{Family: fam, Type: r.ICMP.Type, Code: r.ICMP.Code})
	}
	return ms, true
}

// crossAlternatives ORs the port alternatives of source, destination and NotICMP:
// the rule matches if one alternative of each group matches.
func crossAlternatives(r *dataplane.Rule, fam Family, sets SetKindLookup) [][]Match {
	groups := [][][]Match{
		portAlternatives(&r.Source, Src, fam, sets),
		portAlternatives(&r.Destination, Dst, fam, sets),
		notICMPAlternatives(r.NotICMP, fam),
	}
	return desired.Cross(groups, nil, func(prefix, alt []Match) []Match { return append(slices.Clone(prefix), alt...) })
}

// portAlternatives ORs port ranges and named-port sets; a named-port set empty in
// this family is no alternative (and no alternative left means no match).
func portAlternatives(m *dataplane.EndpointMatch, dir Dir, fam Family, sets SetKindLookup) [][]Match {
	if len(m.Ports) == 0 && len(m.NamedPortSetIDs) == 0 {
		return [][]Match{nil}
	}
	var alts [][]Match
	if len(m.Ports) > 0 {
		alts = append(alts, []Match{PortMatch{Dir: dir, Ranges: portRanges(m.Ports)}})
	}
	for _, id := range m.NamedPortSetIDs {
		if info, _ := sets(id); !info.Has(fam) {
			continue
		}
		alts = append(alts, []Match{NamedPortMatch{Family: fam, Dir: dir, Set: SetName(id, dataplane.SetKindNamedPort, fam)}})
	}
	return alts
}

// notICMPAlternatives: "not (type T and code C)" is "type != T" or "type T, code != C".
func notICMPAlternatives(m *dataplane.ICMPMatch, fam Family) [][]Match {
	if m == nil {
		return [][]Match{nil}
	}
	alts := [][]Match{{ICMPMatch{Family: fam, Type: m.Type, NegateType: true}}}
	if m.Code != nil {
		alts = append(alts, []Match{ICMPMatch{Family: fam, Type: m.Type, Code: m.Code, NegateCode: true}})
	}
	return alts
}

func withAction(rule Rule, r *dataplane.Rule, opt Options) Rule {
	switch r.Action {
	case dataplane.ActionAllow:
		rule.Verdict = Verdict{Kind: VerdictAccept}
	case dataplane.ActionDeny:
		rule.Verdict = Verdict{Kind: VerdictDrop}
	case dataplane.ActionPass:
		rule.MarkOr = opt.passMark()
		rule.Verdict = Verdict{Kind: VerdictReturn}
	case dataplane.ActionLog:
		prefix := r.LogPrefix
		if prefix == "" {
			prefix = "palisade"
		}
		if len(prefix) > 64 {
			prefix = prefix[:64]
		}
		rule.Log = &prefix
	}
	return rule
}

func netsOfFamily(nets []netip.Prefix, fam Family) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range nets {
		if p.Addr().Is4() == (fam == IPv4) {
			out = append(out, p.Masked())
		}
	}
	return desired.MaximalPrefixes(out)
}

func portRanges(in []dataplane.PortRange) []PortRange {
	// Merged: the kernel rejects overlapping interval elements.
	merged := desired.MergePortRanges(in)
	out := make([]PortRange, 0, len(merged))
	for _, p := range merged {
		out = append(out, PortRange{First: p.First, Last: p.Last})
	}
	return out
}

// RenderSet renders an IP set as its IPv4 and IPv6 halves (both always exist, so
// rules can refer to either).
func RenderSet(s *dataplane.IPSet) []*Set {
	v4 := &Set{Type: SetAddr4, Name: SetName(s.ID, s.Kind, IPv4), Comment: truncate(s.ID)}
	v6 := &Set{Type: SetAddr6, Name: SetName(s.ID, s.Kind, IPv6), Comment: truncate(s.ID)}
	if s.Kind == dataplane.SetKindNamedPort {
		v4.Type, v6.Type = SetNamedPort4, SetNamedPort6
	}
	for _, el := range setElements(s) {
		if el.Start.Is4() {
			v4.Elements = append(v4.Elements, el)
		} else {
			v6.Elements = append(v6.Elements, el)
		}
	}
	return []*Set{v4, v6}
}

func setElements(s *dataplane.IPSet) []Element {
	if s.Kind == dataplane.SetKindNamedPort {
		seen := make(map[Element]struct{}, len(s.Members))
		out := make([]Element, 0, len(s.Members))
		for _, m := range s.Members {
			el := NamedPortElement(m)
			if _, dup := seen[el]; !dup {
				seen[el] = struct{}{}
				out = append(out, el)
			}
		}
		slices.SortFunc(out, compareElements)
		return out
	}
	prefixes := make([]netip.Prefix, 0, len(s.Members))
	for _, m := range s.Members {
		prefixes = append(prefixes, m.Prefix.Masked())
	}
	prefixes = desired.MaximalPrefixes(prefixes)
	out := make([]Element, len(prefixes))
	for i, p := range prefixes {
		out[i] = PrefixElement(p)
	}
	return out
}

// NamedPortElement is a named-port set member as an element (the address of its
// prefix: members are endpoint addresses).
func NamedPortElement(m dataplane.SetMember) Element {
	return Element{Start: m.Prefix.Addr().Unmap(), Proto: m.Protocol, Port: m.Port}
}

// PrefixElement is the address range of a prefix.
func PrefixElement(p netip.Prefix) Element {
	p = p.Masked()
	return Element{Start: p.Addr(), End: lastAddr(p)}
}

func lastAddr(p netip.Prefix) netip.Addr { return desired.LastAddr(p) }

func compareElements(a, b Element) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	if a.Proto != b.Proto {
		return int(a.Proto) - int(b.Proto)
	}
	return int(a.Port) - int(b.Port)
}
