package dataplane

import "net/netip"

// NATOutgoing is the node's source NAT for pod traffic leaving the IP pools (IPPool
// natOutgoing): traffic from an address in a Masquerade pool to an address outside
// every pool is masqueraded to the node's address on the outgoing interface. Traffic
// between pods (inside AllPools) keeps its source address. Both lists may mix IPv4 and
// IPv6; an empty Masquerade list means no NAT at all.
type NATOutgoing struct {
	Masquerade []netip.Prefix // CIDRs of the enabled pools with natOutgoing
	AllPools   []netip.Prefix // CIDRs of every pool, natOutgoing or not
}
