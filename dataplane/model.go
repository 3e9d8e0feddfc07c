// Package dataplane defines the backend-neutral desired state of one node's policy
// dataplane: IP sets, policies (rules that refer to sets by ID), namespace profiles and
// local endpoints with their ordered tiers. The calculation graph (package calc) produces
// it as a stream of Updates; the firewall backends (dataplane/nftables,
// dataplane/iptables) consume those Updates, render them into rules and apply them to
// the kernel. Nothing in this package touches the kernel.
package dataplane

import "net/netip"

// SetKind says what the members of an IP set are.
type SetKind uint8

const (
	// SetKindNets holds addresses and CIDRs (endpoint /32 and /128s, NetworkSet nets).
	// Renderers use interval sets (nft) or hash:net (ipset).
	SetKindNets SetKind = iota
	// SetKindNamedPort holds (address, protocol, port) triples: the endpoints matching
	// a selector that expose a container port of a given name.
	SetKindNamedPort
)

// SetMember is one member of an IP set. Protocol and Port are set only for
// SetKindNamedPort sets. A set may mix IPv4 and IPv6 members; renderers split them by
// family.
type SetMember struct {
	Prefix   netip.Prefix
	Protocol uint8 // IANA protocol number (6 TCP, 17 UDP, 132 SCTP)
	Port     uint16
}

// IPSet is a set referenced by rules. ID is stable and unique (derived from the
// selector's canonical form or the named-port key) and safe to use in kernel names
// after the renderer's own prefixing/hashing.
type IPSet struct {
	ID      string
	Kind    SetKind
	Members []SetMember
}

// Action is what a rule does with a matching packet.
type Action uint8

const (
	ActionAllow Action = iota + 1
	ActionDeny
	ActionPass // skip the rest of this tier and go to the next tier
	ActionLog  // log and continue with the next rule
)

func (a Action) String() string {
	switch a {
	case ActionAllow:
		return "Allow"
	case ActionDeny:
		return "Deny"
	case ActionPass:
		return "Pass"
	case ActionLog:
		return "Log"
	}
	return "Unknown"
}

// PortRange is an inclusive port range; a single port has First == Last.
type PortRange struct {
	First, Last uint16
}

// ICMPMatch matches ICMP (IPv4) or ICMPv6 (IPv6, chosen by the rule's IPVersion) by
// type and, optionally, code.
type ICMPMatch struct {
	Type uint8
	Code *uint8
}

// EndpointMatch is the source or destination half of a rule. Every non-empty field
// must match (AND). Within Ports and NamedPortSetIDs the match is OR: the port matches
// if it is in any range, or (address, protocol, port) is in any named-port set.
type EndpointMatch struct {
	Nets    []netip.Prefix // address in any of these
	NotNets []netip.Prefix // address in none of these
	// SetIDs: address is a member of every one of these sets (selector sets).
	SetIDs []string
	// NotSetIDs: address is a member of none of these sets.
	NotSetIDs []string

	Ports              []PortRange
	NamedPortSetIDs    []string
	NotPorts           []PortRange
	NotNamedPortSetIDs []string
}

// IsEmpty reports whether the match matches every packet.
func (m *EndpointMatch) IsEmpty() bool {
	return len(m.Nets) == 0 && len(m.NotNets) == 0 && len(m.SetIDs) == 0 &&
		len(m.NotSetIDs) == 0 && len(m.Ports) == 0 && len(m.NamedPortSetIDs) == 0 &&
		len(m.NotPorts) == 0 && len(m.NotNamedPortSetIDs) == 0
}

// Rule is one rule of a policy, with selectors already resolved to set IDs.
type Rule struct {
	// ID identifies the rule for comments, logs and errors, e.g.
	// "default/production/allow-tcp-6379/ingress/0".
	ID        string
	Action    Action
	IPVersion uint8 // 0 both, 4 or 6
	// Protocol and NotProtocol are IANA numbers; nil means not constrained.
	Protocol    *uint8
	NotProtocol *uint8
	Source      EndpointMatch
	Destination EndpointMatch
	ICMP        *ICMPMatch
	NotICMP     *ICMPMatch
	// LogPrefix is used by ActionLog rules.
	LogPrefix string
}

// PolicyID names a policy uniquely on a node. Name carries the namespace for
// namespaced policies ("production/allow-tcp-6379"), and Kubernetes policies are
// prefixed "knp.default." as Calico shows them.
type PolicyID struct {
	Tier string
	Name string
}

func (id PolicyID) String() string { return id.Tier + "/" + id.Name }

// Policy is a policy's rules for both directions. Inbound rules apply to traffic
// arriving at a selected endpoint (ingress), Outbound to traffic it sends (egress).
type Policy struct {
	ID       PolicyID
	Inbound  []Rule
	Outbound []Rule
}

// Profile is a fallback applied when no policy selects an endpoint in a direction:
// its rules run in order, then the endpoint's next profile; an endpoint no profile
// allows drops. Kubernetes namespace profiles ("kns.<namespace>") allow everything;
// host endpoints name theirs in spec.profiles (see calc for the ones supported).
type Profile struct {
	ID       string // "kns.<namespace>", or a host endpoint's profile name
	Inbound  []Rule
	Outbound []Rule
}

// TierPolicies is one tier as it applies to one endpoint: the policies of that tier
// that select the endpoint, in evaluation order. A tier with no policies for a
// direction is omitted from that direction. If no policy in the tier decides, the
// tier's DefaultAction applies (Deny, or Pass).
type TierPolicies struct {
	Name            string
	IngressPolicies []PolicyID
	EgressPolicies  []PolicyID
	DefaultAction   Action
}

// EndpointKind says what an endpoint is.
type EndpointKind uint8

const (
	// EndpointWorkload is a pod behind a cali* veth.
	EndpointWorkload EndpointKind = iota
	// EndpointHost is a HostEndpoint (an interface of the node itself).
	EndpointHost
)

// Endpoint is one local endpoint: its interface, addresses, and the tiers that apply.
// The direction whose Tiers list no policy falls back to the profiles in ProfileIDs.
type Endpoint struct {
	Key        string // "namespace/pod" for workloads, the HostEndpoint name for hosts
	Kind       EndpointKind
	Iface      string
	Addrs      []netip.Prefix
	Tiers      []TierPolicies
	ProfileIDs []string
}

// Config is node-wide dataplane configuration (from FelixConfiguration).
type Config struct {
	// EndpointToHostAction is applied after a pod's egress policy to traffic from the
	// pod to its own host: ActionAllow (default), ActionDeny or ActionPass ("Return":
	// hand over to the host's own INPUT rules).
	EndpointToHostAction Action
	// FailsafeInbound and FailsafeOutbound are the ports a host endpoint always
	// accepts (traffic to the host) and may always use (traffic from the host),
	// whatever its policy says (FelixConfiguration failsafeInboundHostPorts and
	// failsafeOutboundHostPorts). nil means the backend's default (Felix's defaults:
	// DefaultFailsafeInbound and DefaultFailsafeOutbound unless the backend was
	// configured otherwise); an empty, non-nil list means no failsafe ports at all.
	FailsafeInbound, FailsafeOutbound []FailsafePort
}

// FailsafePort is one failsafe port of host endpoints: the destination port of new
// flows, optionally limited to a peer network.
type FailsafePort struct {
	Protocol uint8 // IANA number: 6 TCP, 17 UDP, 132 SCTP
	Port     uint16
	// Net, when valid, limits the port to one peer network: the source of inbound
	// traffic, the destination of outbound traffic. The zero Prefix means any peer.
	Net netip.Prefix
}

// Felix's default failsafe ports: in, SSH, DHCP, BGP, etcd, Typha and the
// Kubernetes API server; out, DNS, DHCP, BGP, etcd, Typha and the API server.
var (
	DefaultFailsafeInbound = []FailsafePort{{Protocol: 6, Port: 22}, {Protocol: 17, Port: 68},
		{Protocol: 6, Port: 179}, {Protocol: 6, Port: 2379}, {Protocol: 6, Port: 2380},
		{Protocol: 6, Port: 5473}, {Protocol: 6, Port: 6443}, {Protocol: 6, Port: 6666},
		{Protocol: 6, Port: 6667}}
	DefaultFailsafeOutbound = []FailsafePort{{Protocol: 17, Port: 53}, {Protocol: 17, Port: 67},
		{Protocol: 6, Port: 179}, {Protocol: 6, Port: 2379}, {Protocol: 6, Port: 2380},
		{Protocol: 6, Port: 5473}, {Protocol: 6, Port: 6443}, {Protocol: 6, Port: 6666},
		{Protocol: 6, Port: 6667}}
)

// Update is one change to the desired state. Exactly one field is set. The calculation
// graph emits Updates in an order safe to apply: sets before the rules that reference
// them, removals after the last reference is gone.
type Update struct {
	SetUpdate      *IPSet // create or replace a whole set
	SetDeltaUpdate *SetDelta
	SetRemove      string
	PolicyUpdate   *Policy
	PolicyRemove   *PolicyID
	ProfileUpdate  *Profile
	ProfileRemove  string
	EndpointUpdate *Endpoint
	EndpointRemove string
	ConfigUpdate   *Config
	NATUpdate      *NATOutgoing // replace the node's outgoing NAT (nat.go)
	InSync         bool         // the initial snapshot is complete
}

// SetDelta adds and removes members of an existing set.
type SetDelta struct {
	ID      string
	Added   []SetMember
	Removed []SetMember
}
