package nftables

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// String prints the table in nft syntax, loadable with `nft -f`. Sets come first and
// regular chains before base chains, so every reference points backwards.
func (t *Table) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table inet %s {\n", TableName)
	sets := append([]*Set(nil), t.Sets...)
	sort.SliceStable(sets, func(i, j int) bool {
		if (sets[i].Type == SetIfaceVmap) != (sets[j].Type == SetIfaceVmap) {
			return sets[j].Type == SetIfaceVmap
		}
		return sets[i].Name < sets[j].Name
	})
	for _, s := range sets {
		if s.Type != SetIfaceVmap {
			writeSet(&b, s)
		}
	}
	// Maps refer to endpoint chains: declare chains first (empty), fill them later.
	chains := orderedChains(t.Chains)
	for _, c := range chains {
		if c.Hook == nil {
			fmt.Fprintf(&b, "\tchain %s {\n\t}\n", c.Name)
		}
	}
	for _, s := range sets {
		if s.Type == SetIfaceVmap {
			writeSet(&b, s)
		}
	}
	for _, c := range chains {
		writeChain(&b, c)
	}
	b.WriteString("}\n")
	return b.String()
}

// orderedChains puts regular chains (by name) before base chains (in given order).
func orderedChains(in []*Chain) []*Chain {
	var regular, base []*Chain
	for _, c := range in {
		if c.Hook == nil {
			regular = append(regular, c)
		} else {
			base = append(base, c)
		}
	}
	sort.SliceStable(regular, func(i, j int) bool { return regular[i].Name < regular[j].Name })
	return append(regular, base...)
}

func writeSet(b *strings.Builder, s *Set) {
	kw := "set"
	if s.Type == SetIfaceVmap {
		kw = "map"
	}
	fmt.Fprintf(b, "\t%s %s {\n\t\ttype %s\n", kw, s.Name, setTypeText(s.Type))
	if s.Type.Interval() {
		b.WriteString("\t\tflags interval\n")
	}
	if s.Comment != "" {
		fmt.Fprintf(b, "\t\tcomment %s\n", quote(s.Comment))
	}
	if len(s.Elements) > 0 {
		parts := make([]string, len(s.Elements))
		for i, e := range s.Elements {
			parts[i] = elementText(s.Type, e)
		}
		fmt.Fprintf(b, "\t\telements = { %s }\n", strings.Join(parts, ",\n\t\t\t     "))
	}
	b.WriteString("\t}\n")
}

func setTypeText(t SetType) string {
	switch t {
	case SetAddr4:
		return "ipv4_addr"
	case SetAddr6:
		return "ipv6_addr"
	case SetNamedPort4:
		return "ipv4_addr . inet_proto . inet_service"
	case SetNamedPort6:
		return "ipv6_addr . inet_proto . inet_service"
	}
	return "ifname : verdict"
}

func elementText(t SetType, e Element) string {
	switch t {
	case SetAddr4, SetAddr6:
		return rangeText(e.Start, e.End)
	case SetNamedPort4, SetNamedPort6:
		return fmt.Sprintf("%s . %s . %d", e.Start, protoText(e.Proto), e.Port)
	}
	return fmt.Sprintf("%s : jump %s", quote(e.Iface), e.Chain)
}

// rangeText prints a range as a prefix when it is one, else as first-last.
func rangeText(start, end netip.Addr) string {
	for bits := 0; bits <= start.BitLen(); bits++ {
		p := netip.PrefixFrom(start, bits)
		if p.Masked().Addr() == start && lastAddr(p) == end {
			if bits == start.BitLen() {
				return start.String()
			}
			return p.String()
		}
	}
	return start.String() + "-" + end.String()
}

func writeChain(b *strings.Builder, c *Chain) {
	fmt.Fprintf(b, "\tchain %s {\n", c.Name)
	switch {
	case c.Hook != nil && c.Hook.NAT:
		fmt.Fprintf(b, "\t\ttype nat hook %s priority srcnat + %d; policy accept;\n", c.Hook.Name, c.Hook.Priority)
	case c.Hook != nil:
		fmt.Fprintf(b, "\t\ttype filter hook %s priority filter + %d; policy accept;\n", c.Hook.Name, c.Hook.Priority)
	}
	if c.Comment != "" {
		fmt.Fprintf(b, "\t\tcomment %s\n", quote(c.Comment))
	}
	for _, r := range c.Rules {
		fmt.Fprintf(b, "\t\t%s\n", r.String())
	}
	b.WriteString("\t}\n")
}

// String prints the rule in nft syntax.
func (r Rule) String() string {
	var parts []string
	for _, m := range r.Matches {
		parts = append(parts, matchText(m))
	}
	if r.MarkClear != 0 {
		parts = append(parts, fmt.Sprintf("meta mark set meta mark & 0x%08x", ^r.MarkClear))
	}
	if r.MarkOr != 0 {
		parts = append(parts, fmt.Sprintf("meta mark set meta mark | 0x%08x", r.MarkOr))
	}
	if r.Log != nil {
		parts = append(parts, "log prefix "+quote(*r.Log))
	}
	if v := verdictText(r.Verdict); v != "" {
		parts = append(parts, v)
	}
	if r.Comment != "" {
		parts = append(parts, "comment "+quote(r.Comment))
	}
	return strings.Join(parts, " ")
}

func verdictText(v Verdict) string {
	switch v.Kind {
	case VerdictAccept:
		return "accept"
	case VerdictDrop:
		return "drop"
	case VerdictReturn:
		return "return"
	case VerdictJump:
		return "jump " + v.Chain
	case VerdictGoto:
		return "goto " + v.Chain
	case VerdictMap:
		return ifaceText(v.MapKey) + " vmap @" + v.Map
	case VerdictMasquerade:
		return "masquerade"
	}
	return ""
}

func ifaceText(k IfaceKind) string {
	if k == OIFName {
		return "oifname"
	}
	return "iifname"
}

func famText(f Family) string {
	if f == IPv6 {
		return "ip6"
	}
	return "ip"
}

func dirText(d Dir, addr bool) string {
	switch {
	case d == Src && addr:
		return "saddr"
	case addr:
		return "daddr"
	case d == Src:
		return "sport"
	}
	return "dport"
}

func op(neg bool) string {
	if neg {
		return "!= "
	}
	return ""
}

func matchText(m Match) string {
	switch m := m.(type) {
	case IfaceMatch:
		name := m.Name
		if m.Prefix {
			name += "*"
		}
		return ifaceText(m.Iface) + " " + op(m.Negate) + quote(name)
	case CtStateMatch:
		return "ct state " + ctStateText(m.States)
	case NFProtoMatch:
		if m.Family == IPv6 {
			return "meta nfproto ipv6"
		}
		return "meta nfproto ipv4"
	case L4ProtoMatch:
		return "meta l4proto " + op(m.Negate) + listText(m.Protos, protoText)
	case AddrSetMatch:
		return fmt.Sprintf("%s %s %s@%s", famText(m.Family), dirText(m.Dir, true), op(m.Negate), m.Set)
	case AddrNetsMatch:
		parts := make([]string, len(m.Nets))
		for i, p := range m.Nets {
			parts[i] = rangeText(PrefixElement(p).Start, PrefixElement(p).End)
		}
		return fmt.Sprintf("%s %s %s{ %s }", famText(m.Family), dirText(m.Dir, true), op(m.Negate), strings.Join(parts, ", "))
	case PortMatch:
		return "th " + dirText(m.Dir, false) + " " + op(m.Negate) + listText(m.Ranges, portRangeText)
	case NamedPortMatch:
		return fmt.Sprintf("%s %s . meta l4proto . th %s %s@%s", famText(m.Family), dirText(m.Dir, true), dirText(m.Dir, false), op(m.Negate), m.Set)
	case ICMPMatch:
		kw := "icmp"
		if m.Family == IPv6 {
			kw = "icmpv6"
		}
		s := fmt.Sprintf("%s type %s%d", kw, op(m.NegateType), m.Type)
		if m.Code != nil && !m.NegateType {
			s += fmt.Sprintf(" %s code %s%d", kw, op(m.NegateCode), *m.Code)
		}
		return s
	case ICMPTypesMatch:
		kw := "icmp"
		if m.Family == IPv6 {
			kw = "icmpv6"
		}
		return kw + " type " + listText(m.Types, func(t uint8) string { return strconv.Itoa(int(t)) })
	case MarkMatch:
		cmp := "!="
		if m.Zero {
			cmp = "=="
		}
		return fmt.Sprintf("meta mark & 0x%08x %s 0x00000000", m.Mask, cmp)
	}
	return fmt.Sprintf("<unknown match %T>", m)
}

func listText[T any](vals []T, f func(T) string) string {
	if len(vals) == 1 {
		return f(vals[0])
	}
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = f(v)
	}
	return "{ " + strings.Join(parts, ", ") + " }"
}

func portRangeText(p PortRange) string {
	if p.First == p.Last {
		return strconv.Itoa(int(p.First))
	}
	return fmt.Sprintf("%d-%d", p.First, p.Last)
}

func protoText(p uint8) string {
	switch p {
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	case protoICMP:
		return "icmp"
	case protoICMPv6:
		return "ipv6-icmp"
	case protoSCTP:
		return "sctp"
	}
	return strconv.Itoa(int(p))
}

func ctStateText(s uint32) string {
	var names []string
	for _, st := range []struct {
		bit  uint32
		name string
	}{{CtInvalid, "invalid"}, {CtEstablished, "established"}, {CtRelated, "related"}, {CtNew, "new"}} {
		if s&st.bit != 0 {
			names = append(names, st.name)
		}
	}
	return strings.Join(names, ",")
}

func quote(s string) string {
	return strconv.Quote(strings.ReplaceAll(s, `"`, `'`))
}
