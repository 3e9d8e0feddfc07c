package policy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// KubernetesPolicyPrefix prefixes the names of converted Kubernetes policies.
const KubernetesPolicyPrefix = "knp.default."

// FromKubernetes converts a networking.k8s.io/v1 NetworkPolicy:
//
//   - tier "default", order 1000, name "knp.default.<name>";
//   - it applies to pods of its namespace matching podSelector;
//   - policyTypes, when empty, is Ingress plus Egress when egress rules exist;
//   - each rule becomes one Allow rule per peer and per protocol of its ports
//     (Origin names the source rule and peer); no peers means every source or
//     destination, no ports means every port and protocol;
//   - podSelector alone matches pods of the policy's namespace, namespaceSelector
//     alone any pod in matching namespaces, both together pods matching both;
//     ipBlock gives nets and its except gives notNets;
//   - a port without protocol is TCP, port+endPort is a range, a named port is
//     resolved per destination pod.
//
// With the Ingress type, `ingress: []` (or absent) leaves no rule, so the policy
// denies all ingress to the pods it selects; `ingress: [{}]` is one rule that allows
// everything. The same holds for egress. Errors are a *ValidationError.
func FromKubernetes(np *networkingv1.NetworkPolicy) (*Policy, error) {
	var e errs
	spec := field.NewPath("spec")
	if np.Name == "" {
		e.add(field.NewPath("metadata", "name"), "name is required")
	}
	if np.Namespace == "" {
		e.add(field.NewPath("metadata", "namespace"), "namespace is required")
	}
	order := float64(KubernetesPolicyOrder)
	p := &Policy{
		Kind:      KindKubernetesNetworkPolicy,
		Tier:      DefaultTierName,
		Name:      KubernetesPolicyPrefix + np.Name,
		Namespace: np.Namespace,
		Order:     &order,
	}
	podSel, ok := labelSelectorToSelector(&np.Spec.PodSelector, spec.Child("podSelector"), &e)
	p.Selector = orAll(podSel)
	if np.Namespace != "" && ok {
		var err error
		p.Endpoints, err = combinedSelector(scopeInput{Namespace: np.Namespace, Selector: p.Selector, PodsOnly: true})
		if err != nil {
			e.addErr(spec.Child("podSelector"), err)
		}
	}
	p.Types = kubernetesTypes(np, spec.Child("policyTypes"), &e)
	for i, r := range np.Spec.Ingress {
		p.Ingress = append(p.Ingress, kubernetesRules(np.Namespace, Ingress, r.From, r.Ports, spec.Child("ingress").Index(i), &e)...)
	}
	for i, r := range np.Spec.Egress {
		p.Egress = append(p.Egress, kubernetesRules(np.Namespace, Egress, r.To, r.Ports, spec.Child("egress").Index(i), &e)...)
	}
	if err := e.err(); err != nil {
		return nil, err
	}
	return p, nil
}

func orAll(s string) string {
	if s == "" {
		return "all()"
	}
	return s
}

func kubernetesTypes(np *networkingv1.NetworkPolicy, path *field.Path, e *errs) []Direction {
	if len(np.Spec.PolicyTypes) == 0 {
		types := []Direction{Ingress}
		if len(np.Spec.Egress) > 0 {
			types = append(types, Egress)
		}
		return types
	}
	var ingress, egress bool
	for i, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			ingress = true
		case networkingv1.PolicyTypeEgress:
			egress = true
		default:
			e.add(path.Index(i), "unknown policy type %q (want Ingress or Egress)", string(t))
		}
	}
	return typesOf(ingress, egress)
}

func typesOf(ingress, egress bool) []Direction {
	var types []Direction
	if ingress {
		types = append(types, Ingress)
	}
	if egress {
		types = append(types, Egress)
	}
	return types
}

// kubernetesRules converts one ingress or egress rule into model rules, one per
// peer and protocol.
func kubernetesRules(ns string, dir Direction, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, path *field.Path, e *errs) []Rule {
	peerField := "from"
	if dir == Egress {
		peerField = "to"
	}
	groups := kubernetesPorts(ports, path.Child("ports"), e)
	type peerRule struct {
		entity EntityRule
		origin string
	}
	peerRules := []peerRule{{origin: path.String()}}
	if len(peers) > 0 {
		peerRules = peerRules[:0]
		for i := range peers {
			pp := path.Child(peerField).Index(i)
			er, ok := kubernetesPeer(ns, &peers[i], pp, e)
			if ok {
				peerRules = append(peerRules, peerRule{er, pp.String()})
			}
		}
	}
	var out []Rule
	for _, pr := range peerRules {
		for _, g := range groups {
			r := Rule{Action: Allow, Origin: pr.origin}
			if g.protocol != nil {
				proto := *g.protocol
				r.Protocol = &proto
			}
			peer := pr.entity
			peer.Ports = nil
			r.Destination.Ports = slices.Clone(g.ports)
			if dir == Ingress {
				r.Source = peer
			} else {
				r.Destination = peer
				r.Destination.Ports = slices.Clone(g.ports)
			}
			out = append(out, r)
		}
	}
	return out
}

// portGroup is the ports of one protocol; a nil protocol means every protocol and
// port (a rule with no ports).
type portGroup struct {
	protocol *Protocol
	ports    []Port // empty: every port of the protocol
}

// kubernetesPorts groups a rule's ports by protocol, in order of first appearance.
// A port entry with only a protocol opens every port of that protocol.
func kubernetesPorts(ports []networkingv1.NetworkPolicyPort, path *field.Path, e *errs) []portGroup {
	if len(ports) == 0 {
		return []portGroup{{}}
	}
	var groups []portGroup
	allPorts := map[Protocol]bool{}
	index := map[Protocol]int{}
	for i, np := range ports {
		pp := path.Index(i)
		proto, ok := kubernetesProtocol(np.Protocol, pp.Child("protocol"), e)
		if !ok {
			continue
		}
		gi, seen := index[proto]
		if !seen {
			gi = len(groups)
			index[proto] = gi
			p := proto
			groups = append(groups, portGroup{protocol: &p})
		}
		port, ok := kubernetesPort(&np, pp, e)
		if !ok {
			continue
		}
		if port == nil {
			allPorts[proto] = true
			continue
		}
		groups[gi].ports = append(groups[gi].ports, *port)
	}
	for i, g := range groups {
		if allPorts[*g.protocol] {
			groups[i].ports = nil
		}
	}
	if len(groups) == 0 { // every entry was invalid; errors are recorded
		return []portGroup{{}}
	}
	return groups
}

func kubernetesProtocol(p *corev1.Protocol, path *field.Path, e *errs) (Protocol, bool) {
	if p == nil {
		return ProtocolTCP, true
	}
	switch *p {
	case corev1.ProtocolTCP:
		return ProtocolTCP, true
	case corev1.ProtocolUDP:
		return ProtocolUDP, true
	case corev1.ProtocolSCTP:
		return ProtocolSCTP, true
	}
	e.add(path, "unknown protocol %q (want TCP, UDP or SCTP)", string(*p))
	return 0, false
}

// kubernetesPort returns the port (nil: every port) of one entry.
func kubernetesPort(np *networkingv1.NetworkPolicyPort, path *field.Path, e *errs) (*Port, bool) {
	if np.Port == nil {
		if np.EndPort != nil {
			e.add(path.Child("endPort"), "endPort requires port")
			return nil, false
		}
		return nil, true
	}
	if np.Port.Type == intstr.String {
		if np.EndPort != nil {
			e.add(path.Child("endPort"), "endPort cannot be used with named port %q", np.Port.StrVal)
			return nil, false
		}
		port, err := PortFromName(np.Port.StrVal)
		if err != nil {
			e.addErr(path.Child("port"), err)
			return nil, false
		}
		return &port, true
	}
	port, err := PortFromNumber(int(np.Port.IntVal))
	if err != nil {
		e.addErr(path.Child("port"), err)
		return nil, false
	}
	if np.EndPort != nil {
		end := int(*np.EndPort)
		switch {
		case end < 1 || end > 65535:
			e.add(path.Child("endPort"), "port %d out of range", end)
			return nil, false
		case end < int(port.First):
			e.add(path.Child("endPort"), "endPort %d is below port %d", end, port.First)
			return nil, false
		}
		port.Last = uint16(end)
	}
	return &port, true
}

// kubernetesPeer converts one NetworkPolicyPeer.
func kubernetesPeer(ns string, peer *networkingv1.NetworkPolicyPeer, path *field.Path, e *errs) (EntityRule, bool) {
	var er EntityRule
	hasSelectors := peer.PodSelector != nil || peer.NamespaceSelector != nil
	switch {
	case peer.IPBlock != nil && hasSelectors:
		e.add(path, "ipBlock cannot be combined with podSelector or namespaceSelector")
		return er, false
	case peer.IPBlock != nil:
		return ipBlockPeer(peer.IPBlock, path.Child("ipBlock"), e)
	case !hasSelectors:
		e.add(path, "a peer needs podSelector, namespaceSelector or ipBlock")
		return er, false
	}
	ok := true
	if peer.PodSelector != nil {
		s, good := labelSelectorToSelector(peer.PodSelector, path.Child("podSelector"), e)
		er.Selector = orAll(s)
		ok = ok && good
	}
	if peer.NamespaceSelector != nil {
		s, good := labelSelectorToSelector(peer.NamespaceSelector, path.Child("namespaceSelector"), e)
		er.NamespaceSelector = orAll(s)
		ok = ok && good
	}
	if !ok {
		return er, false
	}
	peerSel, err := combinedSelector(scopeInput{Namespace: ns, Selector: er.Selector, NamespaceSelector: er.NamespaceSelector, PodsOnly: true})
	if err != nil {
		e.addErr(path, err)
		return er, false
	}
	er.Peer = peerSel
	return er, true
}

func ipBlockPeer(b *networkingv1.IPBlock, path *field.Path, e *errs) (EntityRule, bool) {
	var er EntityRule
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		e.add(path.Child("cidr"), "invalid CIDR %q", b.CIDR)
		return er, false
	}
	cidr = cidr.Masked()
	er.Nets = []netip.Prefix{cidr}
	ok := true
	for i, x := range b.Except {
		p, err := netip.ParsePrefix(x)
		switch {
		case err != nil:
			e.add(path.Child("except").Index(i), "invalid CIDR %q", x)
			ok = false
		case p.Addr().Is4() != cidr.Addr().Is4() || p.Bits() <= cidr.Bits() || !cidr.Contains(p.Addr()):
			e.add(path.Child("except").Index(i), "%s is not strictly inside cidr %s", x, cidr)
			ok = false
		default:
			er.NotNets = append(er.NotNets, p.Masked())
		}
	}
	return er, ok
}

// labelSelectorToSelector writes a metav1.LabelSelector in selector syntax: every
// matchLabels entry (sorted by key) and every matchExpressions entry ANDed; In is
// `in`, NotIn `not in`, Exists has() and DoesNotExist !has(). An empty selector
// gives "" (all()). Problems are recorded under path; ok is false when any was found.
func labelSelectorToSelector(ls *metav1.LabelSelector, path *field.Path, e *errs) (expr string, ok bool) {
	n := len(e.list)
	var terms []string
	keys := make([]string, 0, len(ls.MatchLabels))
	for k := range ls.MatchLabels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		kp := path.Child("matchLabels").Key(k)
		if !validLabelKey(k, kp, e) {
			continue
		}
		q, err := quote(ls.MatchLabels[k])
		if err != nil {
			e.addErr(kp, err)
			continue
		}
		terms = append(terms, k+" == "+q)
	}
	for i, req := range ls.MatchExpressions {
		rp := path.Child("matchExpressions").Index(i)
		if !validLabelKey(req.Key, rp.Child("key"), e) {
			continue
		}
		t, err := requirementTerm(req)
		if err != nil {
			e.addErr(rp, err)
			continue
		}
		terms = append(terms, t)
	}
	if len(e.list) > n {
		return "", false
	}
	return strings.Join(terms, " && "), true
}

func validLabelKey(k string, path *field.Path, e *errs) bool {
	if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
		e.add(path, "invalid label key %q: %s", k, strings.Join(msgs, "; "))
		return false
	}
	return true
}

func requirementTerm(req metav1.LabelSelectorRequirement) (string, error) {
	switch req.Operator {
	case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn:
		if len(req.Values) == 0 {
			return "", fmt.Errorf("operator %s needs at least one value", req.Operator)
		}
		quoted := make([]string, len(req.Values))
		for i, v := range req.Values {
			q, err := quote(v)
			if err != nil {
				return "", err
			}
			quoted[i] = q
		}
		op := " in {"
		if req.Operator == metav1.LabelSelectorOpNotIn {
			op = " not in {"
		}
		return req.Key + op + strings.Join(quoted, ", ") + "}", nil
	case metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
		if len(req.Values) > 0 {
			return "", fmt.Errorf("operator %s takes no values", req.Operator)
		}
		if req.Operator == metav1.LabelSelectorOpExists {
			return "has(" + req.Key + ")", nil
		}
		return "!has(" + req.Key + ")", nil
	}
	return "", fmt.Errorf("unknown operator %q (want In, NotIn, Exists or DoesNotExist)", req.Operator)
}
