package iptables

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/desired"
)

// portProtos are the protocols whose ports multiport can match; a port match without
// a protocol expands to one rule per protocol (multiport needs -p).
var portProtos = []uint8{desired.ProtoTCP, desired.ProtoUDP, desired.ProtoSCTP}

// multiportMax is how many ports (a range counts twice) one multiport match takes.
const multiportMax = 15

func protoName(p uint8) string {
	switch p {
	case desired.ProtoICMP:
		return "icmp"
	case desired.ProtoTCP:
		return "tcp"
	case desired.ProtoUDP:
		return "udp"
	case desired.ProtoICMPv6:
		return "ipv6-icmp"
	case desired.ProtoSCTP:
		return "sctp"
	}
	return strconv.Itoa(int(p))
}

// SetInfo is what rendering needs to know about a referenced set: its kind and
// whether it has members of each family. A rule needing membership of a set empty in
// a family is left out for that family.
type SetInfo = desired.SetInfo

// SetKindLookup describes a known set.
type SetKindLookup = desired.SetKindLookup

// renderRule turns one policy rule into iptables rules of one family. Alternatives
// (nets, port ranges, named-port sets, protocols for a port match) that the model
// ORs expand into one rule each, all with the same action.
func renderRule(r *dataplane.Rule, fam Family, sets SetKindLookup, opt Options) ([]Rule, error) {
	if err := desired.CheckRule(r, sets); err != nil {
		return nil, err
	}
	if !slices.Contains(desired.RuleFamilies(r), fam) {
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
	alts := desired.Cross(groups, "", joinMatch)
	if len(alts) == 0 {
		return nil, nil
	}
	return withAction(alts, common, r, opt), nil
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
			ms = append(ms, fmt.Sprintf("-m iprange ! --%s-range %s-%s", dir, n.Addr(), desired.LastAddr(n)))
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
	if desired.UsesPorts(r) {
		constrain(portProtos)
	}
	if r.ICMP != nil || r.NotICMP != nil {
		icmp := desired.ProtoICMP
		if fam == IPv6 {
			icmp = desired.ProtoICMPv6
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
	merged := desired.MergePortRanges(in)
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
	return desired.MaximalPrefixes(out)
}
