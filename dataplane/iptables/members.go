package iptables

import (
	"net/netip"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/desired"
)

// wantsEntry reports whether some member of ms still produces entry e (of member x):
// only a /0 and its /1 halves share entries.
func wantsEntry(ms *desired.MemberSet, x dataplane.SetMember, e entry) bool {
	if ms.Has(x) {
		return true
	}
	if ms.Kind() != dataplane.SetKindNets {
		return false
	}
	zero := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	if e.fam == IPv6 {
		zero = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	if ms.Has(dataplane.SetMember{Prefix: zero}) {
		return true
	}
	p, err := netip.ParsePrefix(e.text)
	if err != nil {
		return false
	}
	return ms.Has(dataplane.SetMember{Prefix: p})
}
