package policy

import (
	"fmt"
	"net/netip"
	"strings"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/policy/selector"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// FromNetworkPolicy validates and converts a projectcalico.org/v3 NetworkPolicy. It
// applies to endpoints of its namespace matching spec.selector (and
// spec.serviceAccountSelector); its rule selectors match in its namespace unless a
// namespaceSelector says otherwise. Errors are a *ValidationError.
func FromNetworkPolicy(np *v3.NetworkPolicy) (*Policy, error) {
	var e errs
	if np.Namespace == "" {
		e.add(field.NewPath("metadata", "namespace"), "namespace is required")
	}
	s := &np.Spec
	p := convertV3(&e, v3Common{
		kind: KindNetworkPolicy, name: np.Name, namespace: np.Namespace,
		tier: s.Tier, order: s.Order, selector: s.Selector,
		saSelector: s.ServiceAccountSelector, types: s.Types,
		ingress: s.Ingress, egress: s.Egress,
	})
	return p, e.err()
}

// FromGlobalNetworkPolicy validates and converts a projectcalico.org/v3
// GlobalNetworkPolicy. It applies cluster-wide to endpoints matching spec.selector,
// narrowed to namespaces matching spec.namespaceSelector when set; its rule
// selectors are cluster-wide. Errors are a *ValidationError.
func FromGlobalNetworkPolicy(gnp *v3.GlobalNetworkPolicy) (*Policy, error) {
	var e errs
	s := &gnp.Spec
	p := convertV3(&e, v3Common{
		kind: KindGlobalNetworkPolicy, name: gnp.Name,
		tier: s.Tier, order: s.Order, selector: s.Selector, nsSelector: s.NamespaceSelector,
		saSelector: s.ServiceAccountSelector, types: s.Types,
		ingress: s.Ingress, egress: s.Egress,
	})
	p.DoNotTrack = deref(s.DoNotTrack)
	p.PreDNAT = deref(s.PreDNAT)
	p.ApplyOnForward = deref(s.ApplyOnForward)
	if p.DoNotTrack && p.PreDNAT {
		e.add(field.NewPath("spec", "preDNAT"), "doNotTrack and preDNAT cannot both be true")
	}
	if p.PreDNAT && len(s.Egress) > 0 {
		e.add(field.NewPath("spec", "egress"), "a preDNAT policy cannot have egress rules")
	}
	return p, e.err()
}

func deref(b *bool) bool { return b != nil && *b }

// v3Common is what NetworkPolicy and GlobalNetworkPolicy share.
type v3Common struct {
	kind                             Kind
	name, namespace, tier            string
	order                            *float64
	selector, nsSelector, saSelector string
	types                            []v3.PolicyType
	ingress, egress                  []v3.Rule
}

func convertV3(e *errs, c v3Common) *Policy {
	spec := field.NewPath("spec")
	if c.name == "" {
		e.add(field.NewPath("metadata", "name"), "name is required")
	}
	p := &Policy{
		Kind: c.kind, Tier: c.tier, Name: c.name, Namespace: c.namespace, Order: c.order,
		Selector: c.selector, NamespaceSelector: c.nsSelector, ServiceAccountSelector: c.saSelector,
	}
	if p.Tier == "" {
		p.Tier = DefaultTierName
	}
	ok := checkSelector(e, spec.Child("selector"), c.selector)
	ok = checkSelector(e, spec.Child("serviceAccountSelector"), c.saSelector) && ok
	ok = checkSelector(e, spec.Child("namespaceSelector"), c.nsSelector) && ok
	if ok {
		endpoints, err := combinedSelector(scopeInput{
			Namespace: c.namespace, Selector: orAll(c.selector), NamespaceSelector: c.nsSelector,
			ServiceAccounts: &ServiceAccountMatch{Selector: c.saSelector},
		})
		if err != nil {
			path := partPath(spec, err)
			if errPart(err) == "serviceAccounts.selector" {
				path = spec.Child("serviceAccountSelector")
			}
			e.addErr(path, err)
		}
		p.Endpoints = endpoints
	}
	p.Types = v3Types(e, spec.Child("types"), c.types, len(c.ingress) > 0, len(c.egress) > 0)
	for i := range c.ingress {
		p.Ingress = append(p.Ingress, convertRule(e, spec.Child("ingress").Index(i), c.namespace, &c.ingress[i]))
	}
	for i := range c.egress {
		p.Egress = append(p.Egress, convertRule(e, spec.Child("egress").Index(i), c.namespace, &c.egress[i]))
	}
	return p
}

// checkSelector records a parse error of a non-empty selector.
func checkSelector(e *errs, path *field.Path, expr string) bool {
	if expr == "" {
		return true
	}
	if _, err := selector.Parse(expr); err != nil {
		e.addErr(path, err)
		return false
	}
	return true
}

// v3Types applies the defaults (Ingress when ingress rules or no rules are present,
// Egress when egress rules are) and checks listed types against the rule lists.
func v3Types(e *errs, path *field.Path, types []v3.PolicyType, hasIngress, hasEgress bool) []Direction {
	if len(types) == 0 {
		return typesOf(hasIngress || !hasEgress, hasEgress)
	}
	var ingress, egress bool
	for i, t := range types {
		seen := false
		switch t {
		case v3.PolicyTypeIngress:
			seen, ingress = ingress, true
		case v3.PolicyTypeEgress:
			seen, egress = egress, true
		default:
			e.add(path.Index(i), "unknown type %q (want Ingress or Egress)", string(t))
			continue
		}
		if seen {
			e.add(path.Index(i), "duplicate type %q", string(t))
		}
	}
	if hasIngress && !ingress {
		e.add(path, "ingress rules are present but types does not list Ingress")
	}
	if hasEgress && !egress {
		e.add(path, "egress rules are present but types does not list Egress")
	}
	return typesOf(ingress, egress)
}

func convertRule(e *errs, path *field.Path, ns string, r *v3.Rule) Rule {
	out := Rule{Action: Action(r.Action), Origin: path.String()}
	switch r.Action {
	case v3.Allow, v3.Deny, v3.Log, v3.Pass:
	case "":
		e.add(path.Child("action"), "action is required")
	default:
		e.add(path.Child("action"), "unknown action %q (want Allow, Deny, Log or Pass)", string(r.Action))
	}
	if r.IPVersion != nil {
		if *r.IPVersion != 4 && *r.IPVersion != 6 {
			e.add(path.Child("ipVersion"), "ipVersion %d is not 4 or 6", *r.IPVersion)
		} else {
			out.IPVersion = *r.IPVersion
		}
	}
	out.Protocol = convertProtocol(e, path.Child("protocol"), r.Protocol)
	out.NotProtocol = convertProtocol(e, path.Child("notProtocol"), r.NotProtocol)
	out.ICMP = convertICMP(e, path.Child("icmp"), r.ICMP, out.Protocol)
	out.NotICMP = convertICMP(e, path.Child("notICMP"), r.NotICMP, out.Protocol)
	if r.HTTP != nil {
		e.add(path.Child("http"), "http matching is not supported")
	}
	if r.Metadata != nil {
		out.Annotations = r.Metadata.Annotations
	}
	out.Source = convertEntity(e, path.Child("source"), ns, &r.Source, out.Protocol, out.IPVersion)
	out.Destination = convertEntity(e, path.Child("destination"), ns, &r.Destination, out.Protocol, out.IPVersion)
	return out
}

func convertProtocol(e *errs, path *field.Path, p *v3.Protocol) *Protocol {
	if p == nil {
		return nil
	}
	var proto Protocol
	var err error
	if p.IsStr {
		proto, err = ParseProtocol(p.Str)
	} else {
		proto, err = ProtocolFromNumber(int(p.Num))
	}
	if err != nil {
		e.addErr(path, err)
		return nil
	}
	return &proto
}

func convertICMP(e *errs, path *field.Path, f *v3.ICMPFields, proto *Protocol) *ICMPMatch {
	if f == nil {
		return nil
	}
	if proto != nil && !proto.IsICMP() {
		e.add(path, "icmp needs protocol ICMP or ICMPv6, not %s", proto)
	}
	ok := true
	if f.Type == nil {
		if f.Code != nil {
			e.add(path.Child("code"), "code needs a type")
			ok = false
		} else {
			e.add(path.Child("type"), "type is required")
			ok = false
		}
	} else if *f.Type < 0 || *f.Type > 254 {
		e.add(path.Child("type"), "ICMP type %d out of range 0-254", *f.Type)
		ok = false
	}
	if f.Code != nil && (*f.Code < 0 || *f.Code > 255) {
		e.add(path.Child("code"), "ICMP code %d out of range 0-255", *f.Code)
		ok = false
	}
	if !ok {
		return nil
	}
	m := &ICMPMatch{Type: uint8(*f.Type)}
	if f.Code != nil {
		c := uint8(*f.Code)
		m.Code = &c
	}
	return m
}

func convertEntity(e *errs, path *field.Path, ns string, er *v3.EntityRule, proto *Protocol, ipVersion int) EntityRule {
	out := EntityRule{
		Selector: er.Selector, NotSelector: er.NotSelector, NamespaceSelector: er.NamespaceSelector,
	}
	if er.ServiceAccounts != nil {
		out.ServiceAccounts = &ServiceAccountMatch{Names: er.ServiceAccounts.Names, Selector: er.ServiceAccounts.Selector}
		for i, n := range er.ServiceAccounts.Names {
			if n == "" {
				e.add(path.Child("serviceAccounts", "names").Index(i), "empty service account name")
			}
		}
	}
	if er.Services != nil {
		e.add(path.Child("services"), "services matching is not supported")
	}
	out.Nets = convertNets(e, path.Child("nets"), er.Nets, ipVersion)
	out.NotNets = convertNets(e, path.Child("notNets"), er.NotNets, ipVersion)
	out.Ports = convertPorts(e, path.Child("ports"), er.Ports, proto)
	out.NotPorts = convertPorts(e, path.Child("notPorts"), er.NotPorts, proto)

	okSel := checkSelector(e, path.Child("selector"), er.Selector)
	okSel = checkSelector(e, path.Child("namespaceSelector"), er.NamespaceSelector) && okSel
	okSel = checkSelector(e, path.Child("notSelector"), er.NotSelector) && okSel
	if er.ServiceAccounts != nil {
		okSel = checkSelector(e, path.Child("serviceAccounts", "selector"), er.ServiceAccounts.Selector) && okSel
	}
	if !okSel {
		return out
	}
	peer, err := combinedSelector(scopeInput{
		Namespace: ns, Selector: er.Selector, NamespaceSelector: er.NamespaceSelector,
		ServiceAccounts: out.ServiceAccounts,
	})
	if err != nil {
		e.addErr(partPath(path, err), err)
		return out
	}
	out.Peer = peer
	if er.NotSelector != "" {
		out.NotPeer, _ = selector.Parse(er.NotSelector) // checked above
	}
	return out
}

// partPath places a combinedSelector error under the field it came from.
func partPath(base *field.Path, err error) *field.Path {
	part := errPart(err)
	switch part {
	case "":
		return base
	case "namespace":
		return field.NewPath("metadata", "namespace")
	}
	p := base
	for _, name := range strings.Split(part, ".") {
		p = p.Child(name)
	}
	return p
}

// ParseNet reads a CIDR or a single address (as a /32 or /128), masked.
func ParseNet(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

func convertNets(e *errs, path *field.Path, nets []string, ipVersion int) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range nets {
		p, err := ParseNet(s)
		if err != nil {
			e.addErr(path.Index(i), err)
			continue
		}
		if ipVersion == 4 && !p.Addr().Is4() || ipVersion == 6 && !p.Addr().Is6() {
			e.add(path.Index(i), "%s does not match ipVersion %d", s, ipVersion)
			continue
		}
		out = append(out, p)
	}
	return out
}

func convertPorts(e *errs, path *field.Path, ports []v3.Port, proto *Protocol) []Port {
	if len(ports) > 0 && (proto == nil || !proto.HasPorts()) {
		e.add(path, "ports need protocol TCP, UDP, SCTP or UDPLite")
	}
	var out []Port
	for i, vp := range ports {
		var p Port
		var err error
		if vp.IsStr {
			p, err = ParsePort(vp.Str)
		} else {
			p, err = portFromInt64(vp.Num)
		}
		if err != nil {
			e.addErr(path.Index(i), err)
			continue
		}
		out = append(out, p)
	}
	return out
}

func portFromInt64(n int64) (Port, error) {
	if n < 1 || n > 65535 {
		return Port{}, fmt.Errorf("port %d out of range", n)
	}
	return PortFromNumber(int(n))
}

// FromTier converts a Tier; DefaultAction defaults to Deny.
func FromTier(t *v3.Tier) (Tier, error) {
	var e errs
	if t.Name == "" {
		e.add(field.NewPath("metadata", "name"), "name is required")
	}
	out := Tier{Name: t.Name, Order: t.Spec.Order, DefaultAction: Deny}
	if a := t.Spec.DefaultAction; a != nil {
		switch *a {
		case v3.Deny, v3.Pass:
			out.DefaultAction = Action(*a)
		default:
			e.add(field.NewPath("spec", "defaultAction"), "defaultAction %q is not Deny or Pass", string(*a))
		}
	}
	return out, e.err()
}

// FromNetworkSet converts a namespaced NetworkSet.
func FromNetworkSet(s *v3.NetworkSet) (NetworkSet, error) {
	var e errs
	if s.Namespace == "" {
		e.add(field.NewPath("metadata", "namespace"), "namespace is required")
	}
	out := networkSet(&e, s.Name, s.Namespace, s.Labels, s.Spec.Nets)
	return out, e.err()
}

// FromGlobalNetworkSet converts a GlobalNetworkSet.
func FromGlobalNetworkSet(s *v3.GlobalNetworkSet) (NetworkSet, error) {
	var e errs
	out := networkSet(&e, s.Name, "", s.Labels, s.Spec.Nets)
	return out, e.err()
}

func networkSet(e *errs, name, ns string, labels map[string]string, nets []string) NetworkSet {
	if name == "" {
		e.add(field.NewPath("metadata", "name"), "name is required")
	}
	return NetworkSet{Name: name, Namespace: ns, Labels: labels, Nets: convertNets(e, field.NewPath("spec", "nets"), nets, 0)}
}
