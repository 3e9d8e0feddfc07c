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

// Set is one family's half of an IP set as an ipset.
type Set struct {
	Name   string
	Type   string // "hash:net" or "hash:ip,port"
	Family Family
	// Entries are ipset entries ("10.0.0.0/8", "10.0.0.1,tcp:8080"), sorted.
	Entries []string
}

// setMaxElem is every set's capacity; hash sets grow on demand, so a large limit costs
// nothing until it is used.
const setMaxElem = 1 << 20

func setType(kind dataplane.SetKind) string {
	if kind == dataplane.SetKindNamedPort {
		return "hash:ip,port"
	}
	return "hash:net"
}

// createLine is the ipset restore line creating (or keeping, -exist) a set.
func createLine(name, typ string, fam Family) string {
	f := "inet"
	if fam == IPv6 {
		f = "inet6"
	}
	return fmt.Sprintf("create %s %s family %s maxelem %d -exist", name, typ, f, setMaxElem)
}

// RenderSet renders an IP set as its IPv4 and IPv6 ipsets (both always exist, so rules
// can refer to either).
func RenderSet(s *dataplane.IPSet) []*Set {
	v4 := &Set{Name: SetName(s.ID, s.Kind, IPv4), Type: setType(s.Kind), Family: IPv4}
	v6 := &Set{Name: SetName(s.ID, s.Kind, IPv6), Type: setType(s.Kind), Family: IPv6}
	seen := map[string]bool{}
	for _, m := range s.Members {
		for _, e := range memberEntries(s.Kind, m) {
			if seen[e.text] {
				continue
			}
			seen[e.text] = true
			if e.fam == IPv4 {
				v4.Entries = append(v4.Entries, e.text)
			} else {
				v6.Entries = append(v6.Entries, e.text)
			}
		}
	}
	slices.Sort(v4.Entries)
	slices.Sort(v6.Entries)
	return []*Set{v4, v6}
}

type entry struct {
	fam  Family
	text string
}

// memberEntries is the ipset entries of one member. hash:net takes prefix lengths 1
// to 32 (128), so a /0 becomes its two halves; a named-port member is its address,
// protocol and port. A member ipset cannot hold (a named port of a protocol without
// ports) has none.
func memberEntries(kind dataplane.SetKind, m dataplane.SetMember) []entry {
	addr := m.Prefix.Addr().Unmap()
	if !addr.IsValid() {
		return nil
	}
	fam := IPv6
	if addr.Is4() {
		fam = IPv4
	}
	if kind == dataplane.SetKindNamedPort {
		var proto string
		switch m.Protocol {
		case desired.ProtoTCP, desired.ProtoUDP, desired.ProtoSCTP:
			proto = protoName(m.Protocol)
		default:
			return nil
		}
		return []entry{{fam, addr.String() + "," + proto + ":" + strconv.Itoa(int(m.Port))}}
	}
	p := netip.PrefixFrom(addr, m.Prefix.Bits()).Masked()
	if p.Bits() == 0 {
		half := netip.PrefixFrom(desired.LastAddr(p), 1).Masked() // 128.0.0.0/1 or 8000::/1
		return []entry{{fam, netip.PrefixFrom(p.Addr(), 1).String()}, {fam, half.String()}}
	}
	return []entry{{fam, p.String()}}
}

// SetRestore prints sets as ipset restore input that replaces each set's content
// without a moment where it is empty: fill a temporary set, swap it with the live one
// (created first if missing), destroy the temporary set.
func SetRestore(sets []*Set) string {
	var b strings.Builder
	for _, s := range sets {
		writeSetReplace(&b, s)
	}
	return b.String()
}

func writeSetReplace(b *strings.Builder, s *Set) {
	tmp := tempSetName(s.Name)
	b.WriteString(createLine(tmp, s.Type, s.Family) + "\n")
	b.WriteString("flush " + tmp + "\n")
	for _, e := range s.Entries {
		b.WriteString("add " + tmp + " " + e + "\n")
	}
	b.WriteString(createLine(s.Name, s.Type, s.Family) + "\n")
	b.WriteString("swap " + tmp + " " + s.Name + "\n")
	b.WriteString("destroy " + tmp + "\n")
}
