package backendtest

import (
	"net/netip"

	"github.com/palisadenet/palisade/dataplane"
)

// Pfx parses a prefix; it panics on a malformed literal (test input only).
func Pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// Workload is a workload endpoint with profile kns.ns, the given tiers and addresses.
func Workload(key, iface string, tiers []dataplane.TierPolicies, addrs ...string) *dataplane.Endpoint {
	ep := WL(key, iface, tiers...)
	for _, a := range addrs {
		ep.Addrs = append(ep.Addrs, Pfx(a))
	}
	return ep
}
