package nftables

import (
	"encoding/binary"
	"fmt"

	nft "github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// This file translates the rendered value into google/nftables objects and
// expressions. It builds messages only; sending is apply.go's job.

// anonSetAdder queues an anonymous set in the current batch (before the rule using it).
type anonSetAdder func(s *nft.Set, elems []nft.SetElement) error

var zero4 = []byte{0, 0, 0, 0}

func ruleExprs(r Rule, table *nft.Table, addAnon anonSetAdder) ([]expr.Any, error) {
	var out []expr.Any
	for _, m := range r.Matches {
		es, err := matchExprs(m, table, addAnon)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	if r.MarkClear != 0 || r.MarkOr != 0 {
		mask := ^(r.MarkClear | r.MarkOr)
		out = append(out,
			&expr.Meta{Key: expr.MetaKeyMARK, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
				Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: binaryutil.NativeEndian.PutUint32(r.MarkOr)},
			&expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1})
	}
	if r.Log != nil {
		out = append(out, &expr.Log{Key: 1 << 2 /* NFTA_LOG_PREFIX */, Data: []byte(*r.Log)})
	}
	switch r.Verdict.Kind {
	case VerdictNone:
	case VerdictMasquerade:
		out = append(out, &expr.Masq{})
	case VerdictMap:
		out = append(out, ifaceLoad(r.Verdict.MapKey),
			&expr.Lookup{SourceRegister: 1, DestRegister: 0, IsDestRegSet: true, SetName: r.Verdict.Map})
	default:
		out = append(out, &expr.Verdict{Kind: verdictKind(r.Verdict.Kind), Chain: r.Verdict.Chain})
	}
	return out, nil
}

func verdictKind(k VerdictKind) expr.VerdictKind {
	switch k {
	case VerdictAccept:
		return expr.VerdictAccept
	case VerdictDrop:
		return expr.VerdictDrop
	case VerdictReturn:
		return expr.VerdictReturn
	case VerdictJump:
		return expr.VerdictJump
	}
	return expr.VerdictGoto
}

func ifaceLoad(k IfaceKind) *expr.Meta {
	if k == OIFName {
		return &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}
	}
	return &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}
}

func cmpOp(neg bool) expr.CmpOp {
	if neg {
		return expr.CmpOpNeq
	}
	return expr.CmpOpEq
}

func matchExprs(m Match, table *nft.Table, addAnon anonSetAdder) ([]expr.Any, error) {
	switch m := m.(type) {
	case IfaceMatch:
		data := []byte(m.Name)
		if !m.Prefix {
			data = ifnameKey(m.Name)
		}
		return []expr.Any{ifaceLoad(m.Iface), &expr.Cmp{Op: cmpOp(m.Negate), Register: 1, Data: data}}, nil
	case CtStateMatch:
		return []expr.Any{&expr.Ct{Register: 1, Key: expr.CtKeySTATE}, bitAnd(m.States),
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: zero4}}, nil
	case MarkMatch:
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyMARK, Register: 1}, bitAnd(m.Mask),
			&expr.Cmp{Op: cmpOp(!m.Zero), Register: 1, Data: zero4}}, nil
	case NFProtoMatch:
		return []expr.Any{&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{nfproto(m.Family)}}}, nil
	case L4ProtoMatch:
		load := &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}
		if len(m.Protos) == 1 {
			return []expr.Any{load, &expr.Cmp{Op: cmpOp(m.Negate), Register: 1, Data: []byte{m.Protos[0]}}}, nil
		}
		elems := make([]nft.SetElement, len(m.Protos))
		for i, p := range m.Protos {
			elems[i] = nft.SetElement{Key: []byte{p}}
		}
		return anonLookup(load, table, nft.TypeInetProto, false, elems, m.Negate, addAnon)
	case AddrSetMatch:
		return []expr.Any{addrLoad(m.Family, m.Dir, 1), &expr.Lookup{SourceRegister: 1, SetName: m.Set, Invert: m.Negate}}, nil
	case AddrNetsMatch:
		var elems []nft.SetElement
		for _, p := range m.Nets {
			elems = append(elems, intervalElements(PrefixElement(p))...)
		}
		keyType := nft.TypeIPAddr
		if m.Family == IPv6 {
			keyType = nft.TypeIP6Addr
		}
		return anonLookup(addrLoad(m.Family, m.Dir, 1), table, keyType, true, elems, m.Negate, addAnon)
	case PortMatch:
		load := portLoad(m.Dir, 1)
		if len(m.Ranges) == 1 && m.Ranges[0].First == m.Ranges[0].Last {
			return []expr.Any{load, &expr.Cmp{Op: cmpOp(m.Negate), Register: 1, Data: be16(m.Ranges[0].First)}}, nil
		}
		var elems []nft.SetElement
		for _, r := range m.Ranges {
			elems = append(elems, nft.SetElement{Key: be16(r.First)})
			if r.Last != 0xffff {
				elems = append(elems, nft.SetElement{Key: be16(r.Last + 1), IntervalEnd: true})
			}
		}
		return anonLookup(load, table, nft.TypeInetService, true, elems, m.Negate, addAnon)
	case NamedPortMatch:
		// Concatenation: address, protocol and port in consecutive 32-bit registers.
		addrWords := uint32(1)
		if m.Family == IPv6 {
			addrWords = 4
		}
		return []expr.Any{
			addrLoad(m.Family, m.Dir, 8),
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 8 + addrWords},
			portLoad(m.Dir, 8+addrWords+1),
			&expr.Lookup{SourceRegister: 8, SetName: m.Set, Invert: m.Negate},
		}, nil
	case ICMPTypesMatch:
		load := &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1}
		keyType := nft.TypeICMPType
		if m.Family == IPv6 {
			keyType = nft.TypeICMP6Type
		}
		elems := make([]nft.SetElement, len(m.Types))
		for i, t := range m.Types {
			elems[i] = nft.SetElement{Key: []byte{t}}
		}
		return anonLookup(load, table, keyType, false, elems, false, addAnon)
	case ICMPMatch:
		out := []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
			&expr.Cmp{Op: cmpOp(m.NegateType), Register: 1, Data: []byte{m.Type}},
		}
		if m.Code != nil && !m.NegateType {
			out = append(out,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 1, Len: 1},
				&expr.Cmp{Op: cmpOp(m.NegateCode), Register: 1, Data: []byte{*m.Code}})
		}
		return out, nil
	}
	return nil, fmt.Errorf("unsupported match %T", m)
}

func bitAnd(mask uint32) *expr.Bitwise {
	return &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
		Mask: binaryutil.NativeEndian.PutUint32(mask), Xor: zero4}
}

func nfproto(f Family) byte {
	if f == IPv6 {
		return 10 // NFPROTO_IPV6
	}
	return 2 // NFPROTO_IPV4
}

func addrLoad(f Family, d Dir, reg uint32) *expr.Payload {
	p := &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseNetworkHeader, Offset: 12, Len: 4}
	if d == Dst {
		p.Offset = 16
	}
	if f == IPv6 {
		p.Offset, p.Len = 8, 16
		if d == Dst {
			p.Offset = 24
		}
	}
	return p
}

func portLoad(d Dir, reg uint32) *expr.Payload {
	p := &expr.Payload{DestRegister: reg, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2}
	if d == Dst {
		p.Offset = 2
	}
	return p
}

func anonLookup(load expr.Any, table *nft.Table, keyType nft.SetDatatype, interval bool, elems []nft.SetElement, neg bool, addAnon anonSetAdder) ([]expr.Any, error) {
	s := &nft.Set{Table: table, Anonymous: true, Constant: true, Interval: interval, KeyType: keyType}
	if err := addAnon(s, elems); err != nil {
		return nil, fmt.Errorf("anonymous set: %w", err)
	}
	return []expr.Any{load, &expr.Lookup{SourceRegister: 1, SetName: s.Name, SetID: s.ID, Invert: neg}}, nil
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// ifnameKey is an interface name as the kernel compares it: 16 bytes, NUL padded.
func ifnameKey(name string) []byte {
	b := make([]byte, 16)
	copy(b, name)
	return b
}

// intervalElements encodes an address range as interval start and (exclusive) end;
// a range reaching the top of the address space has no end element.
func intervalElements(e Element) []nft.SetElement {
	out := []nft.SetElement{{Key: e.Start.AsSlice()}}
	if next := e.End.Next(); next.IsValid() {
		out = append(out, nft.SetElement{Key: next.AsSlice(), IntervalEnd: true})
	}
	return out
}

// setElementsFor encodes rendered elements for a named set or map of type t.
func setElementsFor(t SetType, els []Element) []nft.SetElement {
	out := make([]nft.SetElement, 0, len(els)*2)
	for _, e := range els {
		switch t {
		case SetAddr4, SetAddr6:
			out = append(out, intervalElements(e)...)
		case SetNamedPort4, SetNamedPort6:
			out = append(out, nft.SetElement{Key: namedPortKey(e)})
		case SetIfaceVmap:
			out = append(out, nft.SetElement{Key: ifnameKey(e.Iface),
				VerdictData: &expr.Verdict{Kind: expr.VerdictJump, Chain: e.Chain}})
		}
	}
	return out
}

// namedPortKey packs address . proto . port, each field padded to 4 bytes.
func namedPortKey(e Element) []byte {
	key := append([]byte{}, e.Start.AsSlice()...)
	key = append(key, e.Proto, 0, 0, 0)
	return append(key, byte(e.Port>>8), byte(e.Port), 0, 0)
}

// nftSet is the google/nftables description of a named set or map (no elements).
func nftSet(s *Set, table *nft.Table) *nft.Set {
	ns := &nft.Set{Table: table, Name: s.Name, Comment: s.Comment}
	switch s.Type {
	case SetAddr4:
		ns.KeyType, ns.Interval = nft.TypeIPAddr, true
	case SetAddr6:
		ns.KeyType, ns.Interval = nft.TypeIP6Addr, true
	case SetNamedPort4:
		ns.KeyType, ns.Concatenation = nft.MustConcatSetType(nft.TypeIPAddr, nft.TypeInetProto, nft.TypeInetService), true
	case SetNamedPort6:
		ns.KeyType, ns.Concatenation = nft.MustConcatSetType(nft.TypeIP6Addr, nft.TypeInetProto, nft.TypeInetService), true
	case SetIfaceVmap:
		ns.KeyType, ns.DataType, ns.IsMap = nft.TypeIFName, nft.TypeVerdict, true
		// nft prints ifname keys as host-order strings; without this it shows "".
		ns.KeyByteOrder = binaryutil.NativeEndian
	}
	return ns
}

// nftChain is the google/nftables description of a chain.
func nftChain(c *Chain, table *nft.Table) *nft.Chain {
	ch := &nft.Chain{Name: c.Name, Table: table}
	if c.Hook != nil {
		hook := map[string]*nft.ChainHook{"forward": nft.ChainHookForward, "input": nft.ChainHookInput,
			"output": nft.ChainHookOutput, "postrouting": nft.ChainHookPostrouting}[c.Hook.Name]
		accept := nft.ChainPolicyAccept
		ch.Type, ch.Hooknum, ch.Policy = nft.ChainTypeFilter, hook, &accept
		ch.Priority = nft.ChainPriorityRef(*nft.ChainPriorityFilter + nft.ChainPriority(c.Hook.Priority))
		if c.Hook.NAT {
			ch.Type = nft.ChainTypeNAT
			ch.Priority = nft.ChainPriorityRef(*nft.ChainPriorityNATSource + nft.ChainPriority(c.Hook.Priority))
		}
	}
	return ch
}

// udataFingerprint is our own rule userdata type (nft prints only the comment and
// skips types it does not know): a hash of the rule's text, which lets Resync check
// that the kernel's rules are the ones we wrote without decoding expressions.
const udataFingerprint userdata.Type = 0xc7

// ruleUserData carries the rule's comment (shown by nft) and its fingerprint.
func ruleUserData(r Rule) []byte {
	var b []byte
	if r.Comment != "" {
		b = userdata.AppendString(b, userdata.TypeComment, r.Comment)
	}
	return userdata.AppendUint32(b, udataFingerprint, ruleFingerprint(r.String()))
}

// ruleFingerprint hashes a rule's text (FNV-1a).
func ruleFingerprint(text string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(text); i++ {
		h ^= uint32(text[i])
		h *= 16777619
	}
	return h
}
