package eval

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/selector"
)

// endpoint is one resolved side of a flow.
type endpoint struct {
	pod    *Pod // nil for a plain address
	ip     netip.Addr
	labels map[string]string // EndpointLabels of pod; nil for a plain address
}

func (e *endpoint) name() string {
	if e.pod != nil {
		return e.pod.Key()
	}
	return e.ip.String()
}

// evaluator holds what one Evaluate call derives from the World.
type evaluator struct {
	w        *World
	nsLabels map[string]map[string]string
	sets     []labelledSet
	tiers    []policy.Tier
	policies []*policy.Policy // sorted
}

type labelledSet struct {
	nets   []netip.Prefix
	labels map[string]string
}

// Evaluate decides one flow. Errors are for flows that name an unknown pod or have
// no usable address; invalid policies are the converter's business and are never
// produced by it.
func Evaluate(w *World, f Flow) (Verdict, error) {
	ev := newEvaluator(w)
	src, dst, err := ev.resolveFlow(f)
	if err != nil {
		return Verdict{}, fmt.Errorf("evaluating %s: %w", f, err)
	}
	v := Verdict{Flow: f}
	v.Egress = ev.direction(policy.Egress, src, f, src, dst)
	v.Ingress = ev.direction(policy.Ingress, dst, f, src, dst)
	v.Allowed = v.Egress.Allowed && v.Ingress.Allowed
	return v, nil
}

func newEvaluator(w *World) *evaluator {
	ev := &evaluator{w: w, nsLabels: map[string]map[string]string{}}
	for _, ns := range w.Namespaces {
		ev.nsLabels[ns.Name] = ns.Labels
	}
	for i := range w.NetworkSets {
		s := &w.NetworkSets[i]
		ev.sets = append(ev.sets, labelledSet{nets: s.Nets, labels: policy.NetworkSetLabels(s, ev.namespaceLabels(s.Namespace))})
	}
	ev.tiers = tiersOf(w)
	ev.policies = slices.Clone(w.Policies)
	policy.SortPolicies(ev.policies, ev.tiers)
	return ev
}

// namespaceLabels returns a namespace's labels with kubernetes.io/metadata.name.
func (ev *evaluator) namespaceLabels(ns string) map[string]string {
	out := map[string]string{LabelMetadataName: ns}
	for k, v := range ev.nsLabels[ns] {
		out[k] = v
	}
	return out
}

// tiersOf lists the World's tiers, the default tier when missing, and an implicit
// tier for every tier a policy names but nothing defines; sorted.
func tiersOf(w *World) []policy.Tier {
	tiers := slices.Clone(w.Tiers)
	known := map[string]bool{}
	for _, t := range tiers {
		known[t.Name] = true
	}
	if !known[policy.DefaultTierName] {
		tiers = append(tiers, policy.DefaultTier())
		known[policy.DefaultTierName] = true
	}
	for _, p := range w.Policies {
		if !known[p.Tier] {
			tiers = append(tiers, policy.Tier{Name: p.Tier, DefaultAction: policy.Deny})
			known[p.Tier] = true
		}
	}
	policy.SortTiers(tiers)
	return tiers
}

func (ev *evaluator) podLabels(p *Pod) map[string]string {
	var saLabels map[string]string
	for _, sa := range ev.w.ServiceAccounts {
		if sa.Namespace == p.Namespace && sa.Name == p.ServiceAccount {
			saLabels = sa.Labels
		}
	}
	return policy.EndpointLabels(policy.EndpointIdentity{
		Namespace:            p.Namespace,
		Labels:               p.Labels,
		NamespaceLabels:      ev.namespaceLabels(p.Namespace),
		ServiceAccount:       p.ServiceAccount,
		ServiceAccountLabels: saLabels,
	})
}

func (ev *evaluator) findPod(key string) *Pod {
	for i := range ev.w.Pods {
		if ev.w.Pods[i].Key() == key {
			return &ev.w.Pods[i]
		}
	}
	return nil
}

func (ev *evaluator) podByIP(ip netip.Addr) *Pod {
	for i := range ev.w.Pods {
		if slices.Contains(ev.w.Pods[i].IPs, ip) {
			return &ev.w.Pods[i]
		}
	}
	return nil
}

// resolveFlow finds the pods and addresses of both sides. A pod without an explicit
// address uses its first address of the other side's family (IPv4 preferred when
// both are pods with both families).
func (ev *evaluator) resolveFlow(f Flow) (src, dst endpoint, err error) {
	if src, err = ev.resolvePeer(f.Source, "source"); err != nil {
		return src, dst, err
	}
	if dst, err = ev.resolvePeer(f.Destination, "destination"); err != nil {
		return src, dst, err
	}
	switch {
	case src.ip.IsValid() && dst.ip.IsValid():
	case src.ip.IsValid():
		dst.ip = pickIP(dst.pod, src.ip.Is4())
	case dst.ip.IsValid():
		src.ip = pickIP(src.pod, dst.ip.Is4())
	default:
		if src.ip, dst.ip = pickIP(src.pod, true), pickIP(dst.pod, true); !src.ip.Is4() || !dst.ip.Is4() {
			src.ip, dst.ip = pickIP(src.pod, false), pickIP(dst.pod, false)
		}
	}
	if !src.ip.IsValid() || !dst.ip.IsValid() || src.ip.Is4() != dst.ip.Is4() {
		return src, dst, fmt.Errorf("no address pair of one IP family for %s and %s", src.name(), dst.name())
	}
	return src, dst, nil
}

func (ev *evaluator) resolvePeer(p Peer, side string) (endpoint, error) {
	var e endpoint
	switch {
	case p.Pod != "":
		if e.pod = ev.findPod(p.Pod); e.pod == nil {
			return e, fmt.Errorf("%s pod %q not found", side, p.Pod)
		}
		e.ip = p.IP
	case p.IP.IsValid():
		e.ip = p.IP.Unmap()
		e.pod = ev.podByIP(e.ip)
	default:
		return e, fmt.Errorf("%s has neither a pod nor an IP", side)
	}
	if e.pod != nil {
		e.labels = ev.podLabels(e.pod)
	}
	return e, nil
}

// pickIP returns the pod's first address of the family, or its first address of
// the other family when it has none.
func pickIP(p *Pod, v4 bool) netip.Addr {
	if p == nil || len(p.IPs) == 0 {
		return netip.Addr{}
	}
	for _, ip := range p.IPs {
		if ip.Is4() == v4 {
			return ip
		}
	}
	return p.IPs[0]
}

// direction evaluates the policies of ep (the source for egress, the destination
// for ingress).
func (ev *evaluator) direction(dir policy.Direction, ep endpoint, f Flow, src, dst endpoint) Decision {
	d := Decision{Direction: dir, Endpoint: ep.name()}
	if ep.pod == nil {
		d.Allowed, d.Outcome = true, OutcomeNotPod
		return d
	}
	selected := false
	for _, tier := range ev.tiers {
		applicable := ev.policiesFor(tier.Name, dir, ep.labels)
		if len(applicable) == 0 {
			continue
		}
		selected = true
		if ev.runTier(tier, applicable, dir, f, src, dst, &d) {
			return d
		}
		d.Passed = append(d.Passed, tier.Name)
	}
	d.Allowed, d.Profile = true, "kns."+ep.pod.Namespace
	d.Outcome = OutcomeNoPolicy
	if selected {
		d.Outcome = OutcomePassedToProfile
	}
	return d
}

// policiesFor lists, in order, the tier's policies that apply to labels in dir.
func (ev *evaluator) policiesFor(tier string, dir policy.Direction, labels map[string]string) []*policy.Policy {
	var out []*policy.Policy
	for _, p := range ev.policies {
		if p.Tier == tier && p.HasType(dir) && p.Endpoints != nil && p.Endpoints.Evaluate(labels) {
			out = append(out, p)
		}
	}
	return out
}

// runTier runs one tier's policies. It returns true when the tier decided (d is
// filled in), false when the flow passes on to the next tier.
func (ev *evaluator) runTier(tier policy.Tier, policies []*policy.Policy, dir policy.Direction, f Flow, src, dst endpoint, d *Decision) bool {
	for _, p := range policies {
		for i := range p.Rules(dir) {
			r := &p.Rules(dir)[i]
			if !ev.ruleMatches(r, f, src, dst) {
				continue
			}
			ref := RuleRef{Tier: tier.Name, Policy: p.Key(), Index: i, Action: r.Action, Origin: r.Origin}
			switch r.Action {
			case policy.Log:
				d.Logged = append(d.Logged, ref)
				continue
			case policy.Pass:
				return false
			}
			d.Outcome, d.Rule = OutcomeRule, &ref
			d.Allowed = r.Action == policy.Allow
			return true
		}
	}
	if tier.DefaultAction == policy.Pass {
		return false
	}
	d.Outcome, d.Tier, d.Allowed = OutcomeTierEnd, tier.Name, false
	return true
}

// ruleMatches reports whether every constraint of r holds for the flow.
func (ev *evaluator) ruleMatches(r *policy.Rule, f Flow, src, dst endpoint) bool {
	switch {
	case r.IPVersion == 4 && !src.ip.Is4(), r.IPVersion == 6 && !src.ip.Is6():
		return false
	case r.Protocol != nil && *r.Protocol != f.Protocol:
		return false
	case r.NotProtocol != nil && *r.NotProtocol == f.Protocol:
		return false
	case r.ICMP != nil && !(f.Protocol.IsICMP() && r.ICMP.Matches(f.ICMPType, f.ICMPCode)):
		return false
	case r.NotICMP != nil && f.Protocol.IsICMP() && r.NotICMP.Matches(f.ICMPType, f.ICMPCode):
		return false
	}
	return ev.entityMatches(&r.Source, src, f.Protocol, f.SourcePort) &&
		ev.entityMatches(&r.Destination, dst, f.Protocol, f.Port)
}

// entityMatches checks one side of a rule against that side of the flow.
func (ev *evaluator) entityMatches(er *policy.EntityRule, ep endpoint, proto policy.Protocol, port uint16) bool {
	if len(er.Nets) > 0 && !inAny(er.Nets, ep.ip) {
		return false
	}
	if inAny(er.NotNets, ep.ip) {
		return false
	}
	if er.Peer != nil && !ev.selectorMatches(er.Peer, ep) {
		return false
	}
	if er.NotPeer != nil && ev.selectorMatches(er.NotPeer, ep) {
		return false
	}
	if len(er.Ports) > 0 && !(proto.HasPorts() && portsMatch(er.Ports, ep, proto, port)) {
		return false
	}
	if len(er.NotPorts) > 0 && proto.HasPorts() && portsMatch(er.NotPorts, ep, proto, port) {
		return false
	}
	return true
}

func inAny(nets []netip.Prefix, ip netip.Addr) bool {
	for _, n := range nets {
		if ip.IsValid() && n.Contains(ip) {
			return true
		}
	}
	return false
}

// selectorMatches reports whether the address of ep is in the selector's IP set:
// it belongs to a pod whose labels match, or lies in a network set whose labels
// match.
func (ev *evaluator) selectorMatches(sel *selector.Selector, ep endpoint) bool {
	if ep.pod != nil && sel.Evaluate(ep.labels) {
		return true
	}
	for _, s := range ev.sets {
		if inAny(s.nets, ep.ip) && sel.Evaluate(s.labels) {
			return true
		}
	}
	return false
}

// portsMatch reports whether port is in any numeric range, or is the number of a
// container port of ep's pod with a listed name and the flow's protocol.
func portsMatch(ports []policy.Port, ep endpoint, proto policy.Protocol, port uint16) bool {
	for _, p := range ports {
		if !p.IsNamed() {
			if p.Contains(port) {
				return true
			}
			continue
		}
		if ep.pod == nil {
			continue
		}
		for _, cp := range ep.pod.Ports {
			if cp.Name == p.Name && cp.Protocol == proto && cp.Port == port {
				return true
			}
		}
	}
	return false
}
