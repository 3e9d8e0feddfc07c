package calc

import (
	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/selector"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// policyState is one policy object: its model (the converted policy, or its
// fail-closed stand-in when invalid), and while it selects a local endpoint, its
// translation and the set references the translation holds.
type policyState struct {
	key  datastore.Key
	pol  *policy.Policy
	id   dataplane.PolicyID
	dp   *dataplane.Policy // set while active
	refs []setRef
}

// setRef is one reference a translated policy holds: a selector's address set
// (portName == "") or a named-port set.
type setRef struct {
	sel      *selector.Selector
	portName string
}

func (g *Graph) onPolicy(u datastore.Update) error {
	old := g.policies[u.Key]
	if u.Object == nil {
		if old != nil {
			g.policyIndex.removeSelector(old)
			delete(g.policies, u.Key)
		}
		delete(g.invalid, u.Key)
		return nil
	}
	pol, problems, err := convertPolicy(u)
	if err != nil {
		return err
	}
	g.setInvalid(u.Key, problems)
	ps := &policyState{key: u.Key, pol: pol, id: dataplane.PolicyID{Tier: pol.Tier, Name: pol.Key()}}
	// Add the new version before removing the old, so the sets both use stay open
	// and the change becomes a delta, not a removal and re-creation.
	g.policies[u.Key] = ps
	g.policyIndex.addSelector(ps, endpointsSelector(pol))
	if old != nil {
		g.policyIndex.removeSelector(old)
	}
	return nil
}

func endpointsSelector(p *policy.Policy) *selector.Selector {
	if p.Endpoints == nil {
		return allSelector
	}
	return p.Endpoints
}

// convertPolicy converts a policy object; for an invalid one it returns the
// fail-closed stand-in and the problems.
func convertPolicy(u datastore.Update) (*policy.Policy, []string, error) {
	switch obj := u.Object.(type) {
	case *networkingv1.NetworkPolicy:
		p, err := policy.FromKubernetes(obj)
		if err == nil {
			return p, nil, nil
		}
		return failClosed(kubernetesShell(obj)), problemsOf(err), nil
	case *v3.NetworkPolicy:
		p, err := policy.FromNetworkPolicy(obj)
		if err == nil {
			return p, nil, nil
		}
		return failClosed(p), problemsOf(err), nil
	case *v3.GlobalNetworkPolicy:
		p, err := policy.FromGlobalNetworkPolicy(obj)
		if err == nil {
			return p, nil, nil
		}
		return failClosed(p), problemsOf(err), nil
	}
	return nil, nil, typeError(u, "a NetworkPolicy or GlobalNetworkPolicy")
}

// kubernetesShell is what is known of an invalid Kubernetes policy without its
// conversion: name, namespace, tier, order and declared types.
func kubernetesShell(np *networkingv1.NetworkPolicy) *policy.Policy {
	order := float64(policy.KubernetesPolicyOrder)
	p := &policy.Policy{
		Kind: policy.KindKubernetesNetworkPolicy, Tier: policy.DefaultTierName,
		Name: policy.KubernetesPolicyPrefix + np.Name, Namespace: np.Namespace, Order: &order,
	}
	for _, t := range np.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.Types = append(p.Types, policy.Ingress)
		case networkingv1.PolicyTypeEgress:
			p.Types = append(p.Types, policy.Egress)
		}
	}
	if len(np.Spec.PolicyTypes) == 0 {
		p.Types = []policy.Direction{policy.Ingress}
		if len(np.Spec.Egress) > 0 {
			p.Types = append(p.Types, policy.Egress)
		}
	}
	return p
}

// failClosed turns what is known of an invalid policy into a policy that denies
// everything in its directions (both when unknown), for the endpoints its selector
// picks, or every endpoint of its namespace (of the cluster when global) when the
// selector is unusable. It keeps tier, order and name, so it sits where the broken
// policy would: policies before it still decide first.
func failClosed(p *policy.Policy) *policy.Policy {
	fc := &policy.Policy{
		Kind: p.Kind, Tier: p.Tier, Name: p.Name, Namespace: p.Namespace, Order: p.Order,
		Endpoints: p.Endpoints,
	}
	if fc.Tier == "" {
		fc.Tier = policy.DefaultTierName
	}
	if fc.Endpoints == nil {
		fc.Endpoints = allSelector
		if p.Namespace != "" {
			if sel, err := selector.Parse(policy.LabelNamespace + " == " + quoteValue(p.Namespace)); err == nil {
				fc.Endpoints = sel
			}
		}
	}
	fc.Types = p.Types
	if len(fc.Types) == 0 {
		fc.Types = []policy.Direction{policy.Ingress, policy.Egress}
	}
	deny := []policy.Rule{{Action: policy.Deny, Origin: field.NewPath("invalid").String()}}
	for _, d := range fc.Types {
		if d == policy.Ingress {
			fc.Ingress = deny
		} else {
			fc.Egress = deny
		}
	}
	return fc
}

// quoteValue writes a namespace name (a DNS label, so no quotes) as a selector value.
func quoteValue(v string) string { return `"` + v + `"` }

// policyMatched and policyUnmatched follow which local endpoints a policy selects:
// the first one activates the policy, losing the last one deactivates it.
func (g *Graph) policyMatched(ps *policyState, ep *podState) {
	g.out.dirtyEndpoints[ep.key] = ep
	if ps.dp == nil {
		g.activate(ps)
	}
}

func (g *Graph) policyUnmatched(ps *policyState, ep *podState) {
	g.out.dirtyEndpoints[ep.key] = ep
	if len(g.policyIndex.members(ps)) == 0 && ps.dp != nil {
		g.deactivate(ps)
	}
}

func (g *Graph) activate(ps *policyState) {
	ps.dp, ps.refs = g.translatePolicy(ps.pol, ps.id)
	g.active[ps.id] = ps
	g.out.dirtyPolicies[ps.id] = struct{}{}
}

func (g *Graph) deactivate(ps *policyState) {
	for _, r := range ps.refs {
		if r.portName == "" {
			g.releaseSelectorSet(r.sel)
		} else {
			g.releaseNamedPortSet(r.sel, r.portName)
		}
	}
	ps.dp, ps.refs = nil, nil
	if g.active[ps.id] == ps {
		delete(g.active, ps.id)
	}
	g.out.dirtyPolicies[ps.id] = struct{}{}
}
