package nftables

import (
	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/desired"
)

// element is the element member x of ms maps to, and whether the set should hold it
// now: a net inside a shorter member has no element of its own.
func element(ms *desired.MemberSet, x dataplane.SetMember) (Element, bool) {
	x = ms.Normalize(x)
	present := ms.Has(x)
	if ms.Kind() == dataplane.SetKindNamedPort {
		return NamedPortElement(x), present
	}
	return PrefixElement(x.Prefix), present && !ms.Covered(x.Prefix)
}
