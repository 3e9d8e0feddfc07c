// Package eval is the reference evaluator: the oracle that says whether one flow is
// allowed by the policies of a small world, and why. It is written to be obviously
// correct, not fast: every call walks every tier, policy and rule.
//
// In: a World (namespaces, pods with labels, IPs, named container ports and service
// accounts, service accounts, network sets, tiers and model policies from package
// policy) and a Flow (source and destination, each a pod or an IP address; protocol;
// destination port, source port or ICMP type and code).
//
// Out: a Verdict. Verdict.Allowed is true only when the source pod's egress and the
// destination pod's ingress both allow; a side that is not a pod has no policy of
// ours and allows. Verdict.Egress and Verdict.Ingress are Decisions saying which
// tier, policy and rule decided, that the end of a tier dropped the flow, or that the
// namespace profile allowed it; Verdict.String gives a deterministic explanation.
//
// Usage:
//
//	w := &eval.World{Namespaces: ..., Pods: ..., Policies: ...}
//	v, err := eval.Evaluate(w, eval.Flow{
//		Source:      eval.PodPeer("x", "a"),
//		Destination: eval.PodPeer("y", "b"),
//		Protocol:    policy.ProtocolTCP,
//		Port:        80,
//	})
//	fmt.Println(v.Allowed, v)
//
// Semantics (DESIGN.md "v3 policy"): tiers run in order (SortTiers). Within a tier,
// the policies that select the endpoint and apply in the direction run in order
// (SortPolicies), and their rules in order: Allow and Deny decide, Log records and
// continues, Pass skips to the next tier. If a policy of a tier selected the
// endpoint and nothing in the tier decided, the tier's default action applies (Deny
// drops; Pass continues). After the last tier the namespace profile allows.
//
// Selectors in rules match an address when the pod owning it, or any network set
// whose nets contain it, has labels matching the selector: the same membership the
// dataplane's IP sets hold. Named ports resolve against the container ports (name
// and protocol) of the pod on that side of the rule.
package eval

import (
	"net/netip"

	"github.com/palisadenet/palisade/policy"
)

// LabelMetadataName is the label Kubernetes puts on every namespace with the
// namespace's name; World adds it when a namespace lacks it, as the API server does.
const LabelMetadataName = "kubernetes.io/metadata.name"

// World is everything the evaluator looks at. The evaluator does not modify it.
type World struct {
	Namespaces      []Namespace
	Pods            []Pod
	ServiceAccounts []ServiceAccount
	NetworkSets     []policy.NetworkSet
	// Tiers: the default tier (order 1,000,000, Deny) exists even when absent here;
	// a policy in a tier missing from both gets an implicit tier with nil order
	// and default action Deny.
	Tiers    []policy.Tier
	Policies []*policy.Policy
}

// Namespace is a Kubernetes namespace. A pod whose namespace is not listed is in a
// namespace with no labels besides kubernetes.io/metadata.name.
type Namespace struct {
	Name   string
	Labels map[string]string
}

// Pod is a workload endpoint.
type Pod struct {
	Namespace string
	Name      string
	Labels    map[string]string
	IPs       []netip.Addr
	Ports     []ContainerPort
	// ServiceAccount is the pod's service account name; empty for none.
	ServiceAccount string
	Node           string
}

// Key is "namespace/name".
func (p *Pod) Key() string { return p.Namespace + "/" + p.Name }

// ContainerPort is a named container port, the target of named ports in rules.
type ContainerPort struct {
	Name     string
	Protocol policy.Protocol
	Port     uint16
}

// ServiceAccount gives the labels of a service account.
type ServiceAccount struct {
	Namespace string
	Name      string
	Labels    map[string]string
}

// Peer is one end of a flow: a pod ("namespace/name"), or an IP address. When
// both are given, the IP is the pod's address used for the flow. An IP that belongs
// to a pod of the World stands for that pod.
type Peer struct {
	Pod string
	IP  netip.Addr
}

// PodPeer names a pod.
func PodPeer(namespace, name string) Peer { return Peer{Pod: namespace + "/" + name} }

// IPPeer names an address.
func IPPeer(ip netip.Addr) Peer { return Peer{IP: ip} }

// Flow is one packet's worth of connection: who, to whom, which protocol and port.
type Flow struct {
	Source      Peer
	Destination Peer
	Protocol    policy.Protocol
	// Port is the destination port and SourcePort the source port (TCP, UDP, SCTP,
	// UDPLite).
	Port       uint16
	SourcePort uint16
	// ICMPType and ICMPCode apply to ICMP and ICMPv6 flows.
	ICMPType uint8
	ICMPCode uint8
}
