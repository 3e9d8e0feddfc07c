// Package offline answers policy questions from manifest files, with no cluster: it
// turns decoded objects into the reference evaluator's World and asks it for a
// connectivity matrix or one flow's trace.
//
// In: []resource.Object (package resource; Namespaces, Pods, ServiceAccounts,
// Kubernetes NetworkPolicies and the projectcalico.org/v3 policy kinds: NetworkPolicy,
// GlobalNetworkPolicy, Tier, NetworkSet, GlobalNetworkSet; other kinds are ignored),
// a protocol and a port.
//
// Out: an *eval.World (BuildWorld), a Matrix of allowed pod pairs with its JSON and
// table renderings, and a trace text explaining one flow's egress and ingress
// decisions. `palisadectl policy matrix|trace` and the truth-table suite both use it.
// Pure: no kernel, network or clock.
package offline

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
	"github.com/palisadenet/palisade/resource"
)

// DefaultServiceAccount is the service account of a pod that names none, as the
// Kubernetes admission chain sets it.
const DefaultServiceAccount = "default"

// Load reads paths (see resource.LoadPaths) and builds the World. Warnings are
// things skipped that the user may want to know about.
func Load(paths []string, stdin io.Reader) (w *eval.World, warnings []string, err error) {
	objs, err := resource.LoadPaths(paths, stdin)
	if err != nil {
		return nil, nil, err
	}
	return BuildWorld(objs)
}

// builder accumulates a World and remembers where each object came from, so that
// duplicates are reported with both locations.
type builder struct {
	w        eval.World
	seen     map[string]resource.Location
	warnings []string
	errs     []error
}

// BuildWorld converts objects into an evaluator World. Pods without an IP address are
// skipped with a warning (the evaluator needs addresses for ipBlock and nets rules).
// The same object twice, or an object the policy package rejects, is an error.
func BuildWorld(objs []resource.Object) (*eval.World, []string, error) {
	b := &builder{seen: map[string]resource.Location{}}
	for _, o := range objs {
		b.add(o)
	}
	if err := errors.Join(b.errs...); err != nil {
		return nil, b.warnings, err
	}
	sortWorld(&b.w)
	return &b.w, b.warnings, nil
}

func (b *builder) add(o resource.Object) {
	switch obj := o.Obj.(type) {
	case *corev1.Namespace:
		if b.unique(o, "Namespace", obj.Name) {
			b.w.Namespaces = append(b.w.Namespaces, eval.Namespace{Name: obj.Name, Labels: obj.Labels})
		}
	case *corev1.Pod:
		if b.unique(o, "Pod", obj.Namespace+"/"+obj.Name) {
			b.addPod(o.Source, obj)
		}
	case *corev1.ServiceAccount:
		if b.unique(o, "ServiceAccount", obj.Namespace+"/"+obj.Name) {
			b.w.ServiceAccounts = append(b.w.ServiceAccounts, eval.ServiceAccount{Namespace: obj.Namespace, Name: obj.Name, Labels: obj.Labels})
		}
	case *networkingv1.NetworkPolicy:
		b.addPolicy(o, "networking.k8s.io/NetworkPolicy", obj.Namespace+"/"+obj.Name, func() (*policy.Policy, error) { return policy.FromKubernetes(obj) })
	case *v3.NetworkPolicy:
		b.addPolicy(o, "NetworkPolicy", obj.Namespace+"/"+obj.Name, func() (*policy.Policy, error) { return policy.FromNetworkPolicy(obj) })
	case *v3.GlobalNetworkPolicy:
		b.addPolicy(o, "GlobalNetworkPolicy", obj.Name, func() (*policy.Policy, error) { return policy.FromGlobalNetworkPolicy(obj) })
	case *v3.Tier:
		if t, err := policy.FromTier(obj); err != nil {
			b.fail(o.Source, err)
		} else if b.unique(o, "Tier", obj.Name) {
			b.w.Tiers = append(b.w.Tiers, t)
		}
	case *v3.NetworkSet:
		b.addSet(o, "NetworkSet", obj.Namespace+"/"+obj.Name, func() (policy.NetworkSet, error) { return policy.FromNetworkSet(obj) })
	case *v3.GlobalNetworkSet:
		b.addSet(o, "GlobalNetworkSet", obj.Name, func() (policy.NetworkSet, error) { return policy.FromGlobalNetworkSet(obj) })
	}
}

// unique records kind/key and reports false (with an error) when it was seen before.
func (b *builder) unique(o resource.Object, kind, key string) bool {
	id := kind + " " + key
	if first, dup := b.seen[id]; dup {
		b.errs = append(b.errs, &resource.Error{Source: o.Source, Err: fmt.Errorf("duplicate %s (first defined at %s)", id, first)})
		return false
	}
	b.seen[id] = o.Source
	return true
}

func (b *builder) fail(loc resource.Location, err error) {
	b.errs = append(b.errs, &resource.Error{Source: loc, Err: err})
}

func (b *builder) addPolicy(o resource.Object, kind, key string, convert func() (*policy.Policy, error)) {
	p, err := convert()
	if err != nil {
		b.fail(o.Source, err)
		return
	}
	if b.unique(o, kind, key) {
		b.w.Policies = append(b.w.Policies, p)
	}
}

func (b *builder) addSet(o resource.Object, kind, key string, convert func() (policy.NetworkSet, error)) {
	s, err := convert()
	if err != nil {
		b.fail(o.Source, err)
		return
	}
	if b.unique(o, kind, key) {
		b.w.NetworkSets = append(b.w.NetworkSets, s)
	}
}

func (b *builder) addPod(loc resource.Location, pod *corev1.Pod) {
	ips, err := podIPs(pod)
	if err != nil {
		b.fail(loc, err)
		return
	}
	if len(ips) == 0 {
		b.warnings = append(b.warnings, fmt.Sprintf("%s: pod has no status.podIP; skipped", loc))
		return
	}
	sa := pod.Spec.ServiceAccountName
	if sa == "" {
		sa = DefaultServiceAccount
	}
	b.w.Pods = append(b.w.Pods, eval.Pod{
		Namespace:      pod.Namespace,
		Name:           pod.Name,
		Labels:         pod.Labels,
		IPs:            ips,
		Ports:          containerPorts(pod),
		ServiceAccount: sa,
		Node:           pod.Spec.NodeName,
	})
}

// podIPs returns status.podIPs, or status.podIP when podIPs is empty, without
// duplicates.
func podIPs(pod *corev1.Pod) ([]netip.Addr, error) {
	raw := make([]string, 0, len(pod.Status.PodIPs)+1)
	for _, p := range pod.Status.PodIPs {
		raw = append(raw, p.IP)
	}
	if len(raw) == 0 && pod.Status.PodIP != "" {
		raw = append(raw, pod.Status.PodIP)
	}
	var out []netip.Addr
	for _, s := range raw {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("status.podIPs: invalid IP address %q", s)
		}
		ip = ip.Unmap()
		if !containsAddr(out, ip) {
			out = append(out, ip)
		}
	}
	return out, nil
}

func containsAddr(list []netip.Addr, ip netip.Addr) bool {
	for _, a := range list {
		if a == ip {
			return true
		}
	}
	return false
}

// containerPorts lists every container's ports; a port without protocol is TCP.
func containerPorts(pod *corev1.Pod) []eval.ContainerPort {
	var out []eval.ContainerPort
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			proto := policy.ProtocolTCP
			if p.Protocol != "" {
				if parsed, err := policy.ParseProtocol(string(p.Protocol)); err == nil {
					proto = parsed
				}
			}
			out = append(out, eval.ContainerPort{Name: p.Name, Protocol: proto, Port: uint16(p.ContainerPort)})
		}
	}
	return out
}

// sortWorld orders the World's lists so every output is independent of file order
// (policy order itself is decided by tier, order and name in the evaluator).
func sortWorld(w *eval.World) {
	sort.Slice(w.Namespaces, func(i, j int) bool { return w.Namespaces[i].Name < w.Namespaces[j].Name })
	sort.Slice(w.Pods, func(i, j int) bool { return w.Pods[i].Key() < w.Pods[j].Key() })
}
