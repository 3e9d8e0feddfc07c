package calc

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/calc/ifacename"
	"github.com/palisadenet/palisade/policy"
	corev1 "k8s.io/api/core/v1"
)

// LabelMetadataName is the label the API server puts on every namespace with its
// name; the graph adds it when a namespace lacks it (file datastore, pods whose
// namespace object is missing), as the reference evaluator does.
const LabelMetadataName = "kubernetes.io/metadata.name"

type namespaceState struct {
	name   string
	labels map[string]string // with LabelMetadataName
	pods   map[string]*podState
	sets   map[datastore.Key]*networkSetState
}

type networkSetState struct {
	set policy.NetworkSet
	m   *member
}

// podState is what the graph keeps of a pod: the fields policy looks at.
type podState struct {
	namespace, name, key string
	ownLabels            map[string]string
	serviceAccount       string
	node                 string
	m                    member
	// endpoint: it has addresses and is neither host-networked nor finished; only
	// endpoints are in the rule index.
	endpoint bool
	// local: an endpoint on this node; only those are in the policy index.
	local bool
	iface string // set while local
	// host: a HostEndpoint (name in name, no namespace), with its spec.profiles
	// (held in profileRefs while local).
	host     bool
	profiles []string
}

func (g *Graph) namespace(name string) *namespaceState {
	ns := g.namespaces[name]
	if ns == nil {
		ns = &namespaceState{
			name: name, labels: map[string]string{LabelMetadataName: name},
			pods: map[string]*podState{}, sets: map[datastore.Key]*networkSetState{},
		}
		g.namespaces[name] = ns
	}
	return ns
}

func (g *Graph) onNamespace(u datastore.Update) error {
	labels := map[string]string{LabelMetadataName: u.Key.Name}
	if u.Object != nil {
		obj, ok := u.Object.(*corev1.Namespace)
		if !ok {
			return typeError(u, "*v1.Namespace")
		}
		for k, v := range obj.Labels {
			labels[k] = v
		}
	}
	ns := g.namespace(u.Key.Name)
	if maps.Equal(ns.labels, labels) {
		return nil
	}
	ns.labels = labels
	for _, p := range ns.pods {
		g.relabelPod(p)
	}
	for _, s := range ns.sets {
		g.relabelNetworkSet(s)
	}
	return nil
}

func (g *Graph) onServiceAccount(u datastore.Update) error {
	key := u.Key.Namespace + "/" + u.Key.Name
	var labels map[string]string
	if u.Object != nil {
		obj, ok := u.Object.(*corev1.ServiceAccount)
		if !ok {
			return typeError(u, "*v1.ServiceAccount")
		}
		labels = obj.Labels
	}
	if old, had := g.saLabels[key]; had == (u.Object != nil) && maps.Equal(old, labels) {
		return nil
	}
	_, existed := g.saLabels[key]
	if u.Object == nil {
		delete(g.saLabels, key)
	} else {
		g.saLabels[key] = maps.Clone(labels)
	}
	if existed != (u.Object != nil) {
		g.serviceAccountChanged(u.Key.Namespace, u.Key.Name)
	}
	for _, p := range g.namespace(u.Key.Namespace).pods {
		if p.serviceAccount == u.Key.Name {
			g.relabelPod(p)
		}
	}
	return nil
}

func (g *Graph) onPod(u datastore.Update) error {
	key := u.Key.Namespace + "/" + u.Key.Name
	if u.Object == nil {
		if p := g.pods[key]; p != nil {
			g.setEndpoint(p, false, false)
			delete(g.namespace(p.namespace).pods, p.name)
			delete(g.pods, key)
		}
		delete(g.invalid, u.Key)
		return nil
	}
	obj, ok := u.Object.(*corev1.Pod)
	if !ok {
		return typeError(u, "*v1.Pod")
	}
	addrs, problems := podAddrs(obj)
	g.setInvalid(u.Key, problems)
	p := g.pods[key]
	if p == nil {
		p = &podState{namespace: u.Key.Namespace, name: u.Key.Name, key: key}
		g.pods[key] = p
		g.namespace(p.namespace).pods[p.name] = p
	}
	ports := podPorts(obj)
	if !slices.Equal(addrs, p.m.addrs) || !slices.Equal(ports, p.m.ports) {
		g.replaceContribution(&p.m, addrs, ports)
		if p.local {
			g.out.dirtyEndpoints[p.key] = p
		}
	}
	p.ownLabels = obj.Labels
	// Admission sets "default" on a pod that names no service account; manifests
	// in the file datastore skip admission, so the graph applies the same default
	// (and the reference evaluator assumes it too).
	p.serviceAccount = obj.Spec.ServiceAccountName
	if p.serviceAccount == "" {
		p.serviceAccount = defaultServiceAccount
	}
	p.node = obj.Spec.NodeName
	isEndpoint := len(addrs) > 0 && !obj.Spec.HostNetwork &&
		obj.Status.Phase != corev1.PodSucceeded && obj.Status.Phase != corev1.PodFailed
	g.relabelPod(p)
	g.setEndpoint(p, isEndpoint, isEndpoint && p.node == g.node)
	return nil
}

// relabelPod recomputes the pod's endpoint labels and updates the indexes.
func (g *Graph) relabelPod(p *podState) {
	labels := policy.EndpointLabels(policy.EndpointIdentity{
		Namespace:            p.namespace,
		Labels:               p.ownLabels,
		NamespaceLabels:      g.namespace(p.namespace).labels,
		ServiceAccount:       p.serviceAccount,
		ServiceAccountLabels: g.saLabels[p.namespace+"/"+p.serviceAccount],
	})
	if p.m.labels != nil && maps.Equal(p.m.labels, labels) {
		return
	}
	p.m.labels = labels
	if p.endpoint {
		g.ruleIndex.updateItem(&p.m, labels)
	}
	if p.local {
		g.policyIndex.updateItem(p, labels)
	}
}

// setEndpoint moves the pod in or out of the rule index (endpoint) and the policy
// index (local endpoint).
func (g *Graph) setEndpoint(p *podState, endpoint, local bool) {
	switch {
	case endpoint && !p.endpoint:
		g.ruleIndex.updateItem(&p.m, p.m.labels)
	case !endpoint && p.endpoint:
		g.ruleIndex.removeItem(&p.m)
	}
	p.endpoint = endpoint
	if local == p.local {
		return
	}
	p.local = local
	g.out.dirtyEndpoints[p.key] = p
	profiles := p.profiles
	if !p.host {
		profiles = []string{NamespaceProfilePrefix + p.namespace}
	}
	if local {
		if !p.host {
			p.iface = ifacename.Workload(p.namespace, p.name)
		}
		g.acquireProfiles(profiles)
		g.policyIndex.updateItem(p, p.m.labels)
		return
	}
	g.policyIndex.removeItem(p)
	g.releaseProfiles(profiles)
}

// defaultServiceAccount is the service account admission gives a pod naming none.
const defaultServiceAccount = "default"

// The CNI plugin records a pod's addresses in these annotations as soon as it has
// plumbed the pod (as Calico's does), so the agent can program policy for the pod
// before the kubelet reports status.podIPs. Values are CIDRs or addresses,
// comma-separated.
const (
	AnnotationPodIPs = "cni.projectcalico.org/podIPs"
	AnnotationPodIP  = "cni.projectcalico.org/podIP"
)

// podAddrs reads the CNI annotations (podIPs, then podIP) or, without them,
// status.podIPs (or status.podIP), as host prefixes, sorted; bad addresses are
// skipped and reported.
func podAddrs(pod *corev1.Pod) ([]netip.Prefix, []string) {
	type source struct{ field, value string }
	var raw []source
	switch {
	case pod.Annotations[AnnotationPodIPs] != "":
		for i, v := range strings.Split(pod.Annotations[AnnotationPodIPs], ",") {
			raw = append(raw, source{fmt.Sprintf("metadata.annotations[%s][%d]", AnnotationPodIPs, i), v})
		}
	case pod.Annotations[AnnotationPodIP] != "":
		raw = append(raw, source{"metadata.annotations[" + AnnotationPodIP + "]", pod.Annotations[AnnotationPodIP]})
	case len(pod.Status.PodIPs) > 0:
		for i, ip := range pod.Status.PodIPs {
			raw = append(raw, source{fmt.Sprintf("status.podIPs[%d].ip", i), ip.IP})
		}
	case pod.Status.PodIP != "":
		raw = append(raw, source{"status.podIP", pod.Status.PodIP})
	}
	var out []netip.Prefix
	var problems []string
	for _, r := range raw {
		a, err := parseHostAddr(strings.TrimSpace(r.value))
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: invalid IP address %q", r.field, r.value))
			continue
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return slices.Compact(out), problems
}

// parseHostAddr accepts "10.0.0.1" or a host prefix "10.0.0.1/32".
func parseHostAddr(s string) (netip.Addr, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Addr{}, err
		}
		if p.Bits() != p.Addr().BitLen() {
			return netip.Addr{}, fmt.Errorf("%s is not a host prefix", s)
		}
		return p.Addr().Unmap(), nil
	}
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err
}

// podPorts lists the named container ports (protocol TCP when unset).
func podPorts(pod *corev1.Pod) []namedPort {
	var out []namedPort
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			if cp.Name == "" || cp.ContainerPort < 1 || cp.ContainerPort > 65535 {
				continue
			}
			proto := uint8(policy.ProtocolTCP)
			switch cp.Protocol {
			case corev1.ProtocolUDP:
				proto = uint8(policy.ProtocolUDP)
			case corev1.ProtocolSCTP:
				proto = uint8(policy.ProtocolSCTP)
			}
			out = append(out, namedPort{name: cp.Name, protocol: proto, port: uint16(cp.ContainerPort)})
		}
	}
	return out
}
