package iptables

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/palisadenet/palisade/dataplane"
)

// IANA protocol numbers used by the renderer.
const (
	protoICMP   uint8 = 1
	protoTCP    uint8 = 6
	protoUDP    uint8 = 17
	protoICMPv6 uint8 = 58
	protoSCTP   uint8 = 132
)

// portProtos are the protocols whose ports multiport can match; a port match without
// a protocol expands to one rule per protocol (multiport needs -p).
var portProtos = []uint8{protoTCP, protoUDP, protoSCTP}

// multiportMax is how many ports (a range counts twice) one multiport match takes.
const multiportMax = 15

func protoName(p uint8) string {
	switch p {
	case protoICMP:
		return "icmp"
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	case protoICMPv6:
		return "ipv6-icmp"
	case protoSCTP:
		return "sctp"
	}
	return strconv.Itoa(int(p))
}

// SetInfo is what rendering needs to know about a referenced set.
type SetInfo struct {
	Kind dataplane.SetKind
	// HasV4 and HasV6 say whether the set has members of that family. A rule needing
	// membership of a set empty in a family is left out for that family.
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

// renderRule turns one policy rule into iptables rules of one family. Alternatives
// (nets, port ranges, named-port sets, protocols for a port match) that the model
// ORs expand into one rule each, all with the same action.
func renderRule(r *dataplane.Rule, fam Family, sets SetKindLookup, opt Options) ([]Rule, error) {
	if err := checkRule(r, sets); err != nil {
		return nil, err
	}
	if !familyApplies(r, fam) {
		return nil, nil
	}
	common, ok := commonMatches(r, fam, sets)
	if !ok {
		return nil, nil
	}
	groups := [][]string{protoAlternatives(r, fam)}
	for _, side := range []struct {
		m   *dataplane.EndpointMatch
		src bool
	}{{&r.Source, true}, {&r.Destination, false}} {
		groups = append(groups, netAlternatives(side.m.Nets, fam, side.src),
			portAlternatives(side.m, side.src, fam, sets))
	}
	alts := cross(groups)
	if len(alts) == 0 {
		return nil, nil
	}
	return withAction(alts, common, r, opt), nil
}

func checkRule(r *dataplane.Rule, sets SetKindLookup) error {
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

// familyApplies: the rule's ipVersion, narrowed by protocol icmp (IPv4 only) or
// icmpv6 (IPv6 only).
func familyApplies(r *dataplane.Rule, fam Family) bool {
	switch {
	case r.IPVersion != 0:
		return Family(r.IPVersion) == fam
	case r.Protocol != nil && *r.Protocol == protoICMP:
		return fam == IPv4
	case r.Protocol != nil && *r.Protocol == protoICMPv6:
		return fam == IPv6
	}
	return true
}

// commonMatches are the AND-ed matches every expansion carries (sets, negations,
// ICMP). ok is false when the rule cannot match in this family.
func commonMatches(r *dataplane.Rule, fam Family, sets SetKindLookup) ([]string, bool) {
	var ms []string
	for _, side := range []struct {
		m   *dataplane.EndpointMatch
		src bool
	}{{&r.Source, true}, {&r.Destination, false}} {
		m, dir := side.m, dirWord(side.src)
		for _, n := range netsOfFamily(m.NotNets, fam) {
			ms = append(ms, fmt.Sprintf("-m iprange ! --%s-range %s-%s", dir, n.Addr(), lastAddr(n)))
		}
		for _, id := range m.SetIDs {
			if info, _ := sets(id); !info.Has(fam) {
				return nil, false // needs membership of a set empty in this family
			}
			ms = append(ms, "-m set --match-set "+SetName(id, dataplane.SetKindNets, fam)+" "+dir)
		}
		for _, id := range m.NotSetIDs {
			ms = append(ms, "-m set ! --match-set "+SetName(id, dataplane.SetKindNets, fam)+" "+dir)
		}
		for _, chunk := range portChunks(m.NotPorts) {
			ms = append(ms, fmt.Sprintf("-m multiport ! --%sports %s", dir[:1], chunk))
		}
		for _, id := range m.NotNamedPortSetIDs {
			ms = append(ms, "-m set ! --match-set "+SetName(id, dataplane.SetKindNamedPort, fam)+" "+dir+","+dir)
		}
	}
	if r.ICMP != nil {
		ms = append(ms, icmpMatch(fam, r.ICMP, false))
	}
	if r.NotICMP != nil {
		ms = append(ms, icmpMatch(fam, r.NotICMP, true))
	}
	return ms, true
}

func dirWord(src bool) string {
	if src {
		return "src"
	}
	return "dst"
}

// icmpMatch: "! --icmp-type T/C" is "not (type T and code C)", as the model means.
func icmpMatch(fam Family, m *dataplane.ICMPMatch, negate bool) string {
	mod, opt := "-m icmp", "--icmp-type"
	if fam == IPv6 {
		mod, opt = "-m icmp6", "--icmpv6-type"
	}
	v := strconv.Itoa(int(m.Type))
	if m.Code != nil {
		v += "/" + strconv.Itoa(int(*m.Code))
	}
	if negate {
		return mod + " ! " + opt + " " + v
	}
	return mod + " " + opt + " " + v
}

// protoAlternatives is the -p part: the rule's protocol, the port protocols when ports
// are matched without one, ICMP's protocol for an ICMP match; each intersected with
// the others and without NotProtocol. None left means the rule cannot match.
func protoAlternatives(r *dataplane.Rule, fam Family) []string {
	var allowed []uint8 // nil: unconstrained
	constrain := func(ps []uint8) {
		if allowed == nil {
			allowed = slices.Clone(ps)
			return
		}
		allowed = slices.DeleteFunc(allowed, func(p uint8) bool { return !slices.Contains(ps, p) })
	}
	if r.Protocol != nil {
		constrain([]uint8{*r.Protocol})
	}
	if usesPortNumbers(r) {
		constrain(portProtos)
	}
	if r.ICMP != nil || r.NotICMP != nil {
		icmp := protoICMP
		if fam == IPv6 {
			icmp = protoICMPv6
		}
		constrain([]uint8{icmp})
	}
	if allowed == nil {
		if r.NotProtocol != nil {
			return []string{"! -p " + protoName(*r.NotProtocol)}
		}
		return []string{""}
	}
	var out []string
	for _, p := range allowed {
		if r.NotProtocol == nil || *r.NotProtocol != p {
			out = append(out, "-p "+protoName(p))
		}
	}
	return out
}

// usesPortNumbers: multiport needs -p; named-port sets carry their protocol.
func usesPortNumbers(r *dataplane.Rule) bool {
	return len(r.Source.Ports)+len(r.Source.NotPorts)+len(r.Destination.Ports)+len(r.Destination.NotPorts) > 0
}

// netAlternatives ORs a side's nets: one -s/-d per net; no net of this family in a
// non-empty list means no alternative (the rule cannot match).
func netAlternatives(nets []netip.Prefix, fam Family, src bool) []string {
	if len(nets) == 0 {
		return []string{""}
	}
	flag := "-d "
	if src {
		flag = "-s "
	}
	var out []string
	for _, n := range netsOfFamily(nets, fam) {
		out = append(out, flag+n.String())
	}
	return out
}

// portAlternatives ORs port ranges (in multiport chunks) and named-port sets; a
// named-port set empty in this family is no alternative.
func portAlternatives(m *dataplane.EndpointMatch, src bool, fam Family, sets SetKindLookup) []string {
	if len(m.Ports) == 0 && len(m.NamedPortSetIDs) == 0 {
		return []string{""}
	}
	dir := dirWord(src)
	var out []string
	for _, chunk := range portChunks(m.Ports) {
		out = append(out, fmt.Sprintf("-m multiport --%sports %s", dir[:1], chunk))
	}
	for _, id := range m.NamedPortSetIDs {
		if info, _ := sets(id); !info.Has(fam) {
			continue
		}
		out = append(out, "-m set --match-set "+SetName(id, dataplane.SetKindNamedPort, fam)+" "+dir+","+dir)
	}
	return out
}

// portChunks merges port ranges and splits them into multiport lists of at most 15
// ports (a range counts as two).
func portChunks(in []dataplane.PortRange) []string {
	if len(in) == 0 {
		return nil
	}
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
	var chunks []string
	var cur []string
	used := 0
	for _, p := range merged {
		item, cost := strconv.Itoa(int(p.First)), 1
		if p.Last != p.First {
			item, cost = item+":"+strconv.Itoa(int(p.Last)), 2
		}
		if used+cost > multiportMax {
			chunks = append(chunks, strings.Join(cur, ","))
			cur, used = nil, 0
		}
		cur, used = append(cur, item), used+cost
	}
	return append(chunks, strings.Join(cur, ","))
}

// cross is the cartesian product of the groups, each alternative a space-joined match.
func cross(groups [][]string) []string {
	out := []string{""}
	for _, g := range groups {
		var next []string
		for _, prefix := range out {
			for _, alt := range g {
				next = append(next, joinMatch(prefix, alt))
			}
		}
		out = next
	}
	return out
}

func joinMatch(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " " + b
}

// withAction gives every expansion the rule's action. Allow and Pass set their mark
// bit (a MARK target does not end the chain), then one rule returns if it is set:
// the first matching rule decides, as the model requires.
func withAction(alts, common []string, r *dataplane.Rule, opt Options) []Rule {
	c := strings.Join(common, " ")
	var target, markCheck string
	switch r.Action {
	case dataplane.ActionAllow:
		target, markCheck = setMark(opt.acceptMark()), hasMark(opt.acceptMark())
	case dataplane.ActionPass:
		target, markCheck = setMark(opt.passMark()), hasMark(opt.passMark())
	case dataplane.ActionDeny:
		target = "-j DROP"
	case dataplane.ActionLog:
		target = `-j LOG --log-prefix "` + logPrefix(r.LogPrefix) + `"`
	}
	out := make([]Rule, 0, len(alts)+1)
	for _, alt := range alts {
		out = append(out, Rule{Match: joinMatch(alt, c), Target: target, Comment: r.ID})
	}
	if markCheck != "" {
		out = append(out, Rule{Match: markCheck, Target: "-j RETURN"})
	}
	return out
}

// logPrefix fits the LOG target's 29 characters and keeps it quote-free; a space ends
// it so the kernel's log line stays readable.
func logPrefix(p string) string {
	if p == "" {
		p = "palisade"
	}
	p = strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '"' || r == '\\' {
			return '_'
		}
		return r
	}, p)
	if len(p) > 28 {
		p = p[:28]
	}
	return p + " "
}

func setMark(bit uint32) string { return fmt.Sprintf("-j MARK --set-xmark %#x/%#x", bit, bit) }
func clearMark(bits uint32) string {
	return fmt.Sprintf("-j MARK --set-xmark 0x0/%#x", bits)
}
func hasMark(bit uint32) string { return fmt.Sprintf("-m mark --mark %#x/%#x", bit, bit) }
func notMark(bit uint32) string { return fmt.Sprintf("-m mark --mark 0x0/%#x", bit) }

// netsOfFamily: the masked nets of one family, without those inside another one.
func netsOfFamily(nets []netip.Prefix, fam Family) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range nets {
		if p.Addr().Unmap().Is4() == (fam == IPv4) {
			out = append(out, netip.PrefixFrom(p.Addr().Unmap(), p.Bits()).Masked())
		}
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	kept := out[:0]
	for _, p := range out {
		if n := len(kept); n > 0 && kept[n-1].Contains(p.Addr()) {
			continue
		}
		kept = append(kept, p)
	}
	return kept
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
