// Package policy is the internal model of network policy and the conversions into it.
//
// In: projectcalico.org/v3 NetworkPolicy and GlobalNetworkPolicy (package api/v3) and
// Kubernetes networking.k8s.io/v1 NetworkPolicy objects, plus Tiers, NetworkSets and
// GlobalNetworkSets.
//
// Out: validated *Policy values (tier, order, the endpoints the policy applies to as
// one combined selector, the policy types and the ordered ingress and egress rules),
// Tier and NetworkSet values, the label set of an endpoint or network set
// (EndpointLabels, NetworkSetLabels), and the evaluation order of policies
// (SortTiers, SortPolicies). Invalid input gives a *ValidationError whose entries name
// the field path, for example
//
//	spec.ingress[0].destination.ports[1]: port 70000 out of range
//
// Scoping is resolved at conversion time: Policy.Endpoints selects the endpoints a
// policy applies to, and EntityRule.Peer / EntityRule.NotPeer are the rule's
// selectors combined with its namespaceSelector, serviceAccounts and the policy's
// namespace, written over the synthesized labels of EndpointLabels and
// NetworkSetLabels. The calc graph turns each of those into one IP set; the reference
// evaluator (package policy/eval) evaluates them on label maps.
//
// The package is pure: no kernel, network or clock.
package policy

import (
	"net/netip"

	"github.com/palisadenet/palisade/policy/selector"
)

// Kind says which API object a Policy was converted from.
type Kind uint8

const (
	// KindNetworkPolicy is a namespaced projectcalico.org/v3 NetworkPolicy.
	KindNetworkPolicy Kind = iota + 1
	// KindGlobalNetworkPolicy is a projectcalico.org/v3 GlobalNetworkPolicy.
	KindGlobalNetworkPolicy
	// KindKubernetesNetworkPolicy is a networking.k8s.io/v1 NetworkPolicy.
	KindKubernetesNetworkPolicy
)

func (k Kind) String() string {
	switch k {
	case KindNetworkPolicy:
		return "NetworkPolicy"
	case KindGlobalNetworkPolicy:
		return "GlobalNetworkPolicy"
	case KindKubernetesNetworkPolicy:
		return "KubernetesNetworkPolicy"
	}
	return "Unknown"
}

// Direction is the direction of traffic relative to the endpoint a policy applies to.
type Direction uint8

const (
	// Ingress is traffic arriving at the endpoint.
	Ingress Direction = iota + 1
	// Egress is traffic the endpoint sends.
	Egress
)

func (d Direction) String() string {
	switch d {
	case Ingress:
		return "ingress"
	case Egress:
		return "egress"
	}
	return "unknown"
}

// Action is what a rule does with the traffic it matches.
type Action string

const (
	// Allow accepts the traffic: no later rule, policy or tier is consulted.
	Allow Action = "Allow"
	// Deny drops the traffic.
	Deny Action = "Deny"
	// Log records the traffic and continues with the next rule.
	Log Action = "Log"
	// Pass skips the rest of the tier and continues with the next tier (or the
	// profile after the last tier).
	Pass Action = "Pass"
)

// DefaultTierName is the tier of policies that name none, and of all converted
// Kubernetes NetworkPolicies.
const DefaultTierName = "default"

// DefaultTierOrder is the order of the default tier when no Tier object gives one.
const DefaultTierOrder = 1_000_000

// KubernetesPolicyOrder is the order given to converted Kubernetes NetworkPolicies.
const KubernetesPolicyOrder = 1000

// Policy is one policy of the model, in either API's flavour.
type Policy struct {
	Kind Kind
	Tier string
	// Name is the name shown to users: metadata.name for v3 policies,
	// "knp.default.<name>" for Kubernetes policies.
	Name string
	// Namespace is empty for GlobalNetworkPolicy.
	Namespace string
	// Order: lower goes first; nil sorts after every number.
	Order *float64

	// Selector, NamespaceSelector and ServiceAccountSelector are the spec's selectors
	// as written (Kubernetes podSelector written in selector syntax).
	Selector               string
	NamespaceSelector      string
	ServiceAccountSelector string
	// Endpoints is the combined selector over endpoint labels (EndpointLabels) that
	// picks the endpoints this policy applies to, including namespace scoping.
	Endpoints *selector.Selector

	// Types lists the directions the policy applies to, Ingress before Egress.
	Types   []Direction
	Ingress []Rule
	Egress  []Rule

	// Kept for HostEndpoints; workloads ignore them.
	DoNotTrack     bool
	PreDNAT        bool
	ApplyOnForward bool
}

// Key is the policy's unique name within its tier: "namespace/name" for namespaced
// policies and "name" for global ones. Ties in order break by Key.
func (p *Policy) Key() string {
	if p.Namespace == "" {
		return p.Name
	}
	return p.Namespace + "/" + p.Name
}

// HasType reports whether the policy applies in direction d.
func (p *Policy) HasType(d Direction) bool {
	for _, t := range p.Types {
		if t == d {
			return true
		}
	}
	return false
}

// Rules returns the rules for direction d.
func (p *Policy) Rules(d Direction) []Rule {
	if d == Ingress {
		return p.Ingress
	}
	return p.Egress
}

// Rule is one rule. Every constraint that is set must match (AND).
type Rule struct {
	Action Action
	// IPVersion is 0 (both), 4 or 6.
	IPVersion   int
	Protocol    *Protocol
	NotProtocol *Protocol
	Source      EntityRule
	Destination EntityRule
	ICMP        *ICMPMatch
	NotICMP     *ICMPMatch
	// Annotations are the rule's metadata.annotations: kept, never enforced.
	Annotations map[string]string
	// Origin is the field path the rule came from, e.g. "spec.ingress[0]" or, for a
	// Kubernetes rule split per peer and protocol, "spec.ingress[0].from[1]".
	Origin string
}

// EntityRule is the source or destination half of a rule.
type EntityRule struct {
	// Selector, NotSelector and NamespaceSelector as written.
	Selector          string
	NotSelector       string
	NamespaceSelector string
	ServiceAccounts   *ServiceAccountMatch

	Nets    []netip.Prefix // the address is in any of these (when non-empty)
	NotNets []netip.Prefix // the address is in none of these
	// Ports match the port on this side (source port for Source, destination
	// port for Destination): any of them. Named ports resolve against the pod on
	// this side.
	Ports    []Port
	NotPorts []Port

	// Peer combines Selector, NamespaceSelector, ServiceAccounts and the policy's
	// namespace into one selector over endpoint and network-set labels; nil when
	// the entity rule does not constrain labels. The address matches when it
	// belongs to an endpoint or network set whose labels match Peer.
	Peer *selector.Selector
	// NotPeer is NotSelector, cluster-wide: the address must not belong to an
	// endpoint or network set whose labels match it. Nil when absent.
	NotPeer *selector.Selector
}

// ServiceAccountMatch matches endpoints by their service account's name or labels.
// Both set means both must match.
type ServiceAccountMatch struct {
	Names    []string
	Selector string
}

// ICMPMatch matches ICMP (or ICMPv6) type and, when Code is set, code.
type ICMPMatch struct {
	Type uint8
	Code *uint8
}

// Matches reports whether ICMP type t and code c match.
func (m *ICMPMatch) Matches(t, c uint8) bool {
	return m.Type == t && (m.Code == nil || *m.Code == c)
}

// Tier is a tier of policies.
type Tier struct {
	Name string
	// Order: lower goes first; nil sorts last.
	Order *float64
	// DefaultAction applies when a policy of the tier selected the endpoint and
	// nothing in the tier decided: Deny (the default) or Pass.
	DefaultAction Action
}

// DefaultTier is the tier "default" as it exists when no Tier object defines it.
func DefaultTier() Tier {
	order := float64(DefaultTierOrder)
	return Tier{Name: DefaultTierName, Order: &order, DefaultAction: Deny}
}

// NetworkSet is a NetworkSet (Namespace set) or GlobalNetworkSet (Namespace empty):
// labelled CIDRs that rule selectors can match.
type NetworkSet struct {
	Name      string
	Namespace string
	Labels    map[string]string
	Nets      []netip.Prefix
}

// Key is "namespace/name" or, for global sets, "name".
func (s *NetworkSet) Key() string {
	if s.Namespace == "" {
		return s.Name
	}
	return s.Namespace + "/" + s.Name
}
