package nftables

import (
	"net/netip"

	"github.com/palisadenet/palisade/dataplane/desired"
)

// TableName is the one nftables table Palisade owns (family inet: IPv4 and IPv6).
const TableName = "palisade"

// Table is the rendered, plain-value description of table `inet palisade`.
type Table struct {
	Chains []*Chain
	Sets   []*Set
}

// Hook attaches a base chain to a netfilter hook.
type Hook struct {
	Name string // "forward", "input", "output", "postrouting"
	// NAT makes it a nat chain (type nat) with Priority relative to srcnat (100);
	// otherwise it is a filter chain with Priority relative to filter (0).
	NAT      bool
	Priority int32
}

// Chain is a chain with its rules. Hook is nil for regular chains.
type Chain struct {
	Name    string
	Hook    *Hook
	Comment string
	Rules   []Rule
}

// Rule is: all Matches (AND), then the statements, then the verdict.
type Rule struct {
	Matches []Match
	// Log, when set, logs the packet with this prefix.
	Log *string
	// MarkOr sets these bits of the packet mark; MarkClear clears them.
	MarkOr, MarkClear uint32
	Verdict           Verdict
	Comment           string
}

// VerdictKind is what a rule does at its end.
type VerdictKind uint8

const (
	VerdictNone   VerdictKind = iota // continue with the next rule
	VerdictAccept                    // accept (ends this base chain only)
	VerdictDrop
	VerdictReturn
	VerdictJump // jump Chain
	VerdictGoto // goto Chain
	VerdictMap  // <MapKey> vmap @Map
	// VerdictMasquerade source-NATs to the outgoing interface's address (nat chains).
	VerdictMasquerade
)

// Verdict ends a rule.
type Verdict struct {
	Kind   VerdictKind
	Chain  string    // Jump, Goto
	Map    string    // VerdictMap
	MapKey IfaceKind // VerdictMap: which interface name is the key
}

// IfaceKind picks the input or output interface name.
type IfaceKind uint8

const (
	IIFName IfaceKind = iota
	OIFName
)

// Family is an IP family in rules and sets.
type Family = desired.Family

// The IP families.
const (
	IPv4 = desired.IPv4
	IPv6 = desired.IPv6
)

// Dir picks the source or destination side of a packet.
type Dir uint8

const (
	Src Dir = iota
	Dst
)

// Match is one typed condition of a rule. The concrete types are below.
type Match interface{ isMatch() }

// IfaceMatch: the input/output interface name equals Name, or starts with it when
// Prefix is set (nft's `"cali*"`); Negate inverts it.
type IfaceMatch struct {
	Iface  IfaceKind
	Name   string
	Prefix bool
	Negate bool
}

// CtStateMatch: the conntrack state is any of States (bits below).
type CtStateMatch struct{ States uint32 }

// Conntrack state bits, as the kernel defines them.
const (
	CtInvalid     uint32 = 1
	CtEstablished uint32 = 2
	CtRelated     uint32 = 4
	CtNew         uint32 = 8
)

// NFProtoMatch: the packet is of this IP family.
type NFProtoMatch struct{ Family Family }

// L4ProtoMatch: the transport protocol is one of Protos (or none of them, Negate).
type L4ProtoMatch struct {
	Protos []uint8
	Negate bool
}

// AddrSetMatch: the family's source/destination address is in the named set.
type AddrSetMatch struct {
	Family Family
	Dir    Dir
	Set    string
	Negate bool
}

// AddrNetsMatch: the address is in one of Nets (an anonymous interval set).
type AddrNetsMatch struct {
	Family Family
	Dir    Dir
	Nets   []netip.Prefix
	Negate bool
}

// PortMatch: the transport source/destination port is in one of Ranges.
type PortMatch struct {
	Dir    Dir
	Ranges []PortRange
	Negate bool
}

// PortRange is an inclusive port range.
type PortRange struct{ First, Last uint16 }

// NamedPortMatch: (address, protocol, port) of the given side is in the named set.
type NamedPortMatch struct {
	Family Family
	Dir    Dir
	Set    string
	Negate bool
}

// ICMPMatch: ICMP (IPv4) or ICMPv6 (IPv6) type, and code when Code is set.
type ICMPMatch struct {
	Family Family
	Type   uint8
	Code   *uint8
	// NegateType matches packets whose type differs; NegateCode packets whose type
	// equals Type and whose code differs.
	NegateType, NegateCode bool
}

// ICMPTypesMatch: the ICMP (IPv4) or ICMPv6 (IPv6) type is one of Types.
type ICMPTypesMatch struct {
	Family Family
	Types  []uint8
}

// MarkMatch: packet mark & Mask is zero (Zero) or not.
type MarkMatch struct {
	Mask uint32
	Zero bool
}

func (IfaceMatch) isMatch()     {}
func (CtStateMatch) isMatch()   {}
func (NFProtoMatch) isMatch()   {}
func (L4ProtoMatch) isMatch()   {}
func (AddrSetMatch) isMatch()   {}
func (AddrNetsMatch) isMatch()  {}
func (PortMatch) isMatch()      {}
func (NamedPortMatch) isMatch() {}
func (ICMPMatch) isMatch()      {}
func (MarkMatch) isMatch()      {}
func (ICMPTypesMatch) isMatch() {}

// SetType is the key (and value) type of a named set or map.
type SetType uint8

const (
	SetAddr4      SetType = iota // ipv4_addr, interval
	SetAddr6                     // ipv6_addr, interval
	SetNamedPort4                // ipv4_addr . inet_proto . inet_service
	SetNamedPort6                // ipv6_addr . inet_proto . inet_service
	SetIfaceVmap                 // ifname : verdict
)

// Set is a named set or verdict map of the table.
type Set struct {
	Name     string
	Type     SetType
	Comment  string
	Elements []Element
}

// Element is one member of a set. Which fields are used depends on the set type:
// address sets use Start..End (inclusive), named-port sets Start, Proto and Port,
// verdict maps Iface and Chain (a jump target). The struct is comparable so element
// sets can be diffed with maps.
type Element struct {
	Start, End netip.Addr
	Proto      uint8
	Port       uint16
	Iface      string
	Chain      string
}

// Interval reports whether the set type stores ranges.
func (t SetType) Interval() bool { return t == SetAddr4 || t == SetAddr6 }
