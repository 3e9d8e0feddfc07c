package calc

import (
	"maps"
	"net/netip"
	"slices"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/policy"
)

func (g *Graph) onNetworkSet(u datastore.Update) error {
	ns := g.namespace(u.Key.Namespace)
	old := ns.sets[u.Key]
	if u.Object == nil {
		if old != nil {
			g.ruleIndex.removeItem(old.m)
			delete(ns.sets, u.Key)
			delete(g.netSets, u.Key)
		}
		delete(g.invalid, u.Key)
		return nil
	}
	var set policy.NetworkSet
	var err error
	switch obj := u.Object.(type) {
	case *v3.NetworkSet:
		set, err = policy.FromNetworkSet(obj)
	case *v3.GlobalNetworkSet:
		set, err = policy.FromGlobalNetworkSet(obj)
	default:
		return typeError(u, "*v3.NetworkSet or *v3.GlobalNetworkSet")
	}
	// Invalid nets are dropped by the conversion; the valid ones stay in force.
	g.setInvalid(u.Key, problemsOf(err))
	set.Labels = maps.Clone(set.Labels)
	nets := slices.Clone(set.Nets)
	for i, n := range nets {
		nets[i] = n.Masked()
	}
	slices.SortFunc(nets, func(a, b netip.Prefix) int { return comparePrefix(a, b) })
	nets = slices.Compact(nets)
	if old == nil {
		s := &networkSetState{set: set, m: &member{addrs: nets}}
		ns.sets[u.Key] = s
		g.netSets[u.Key] = s.m
		s.m.labels = policy.NetworkSetLabels(&s.set, ns.labels)
		g.ruleIndex.updateItem(s.m, s.m.labels)
		return nil
	}
	old.set = set
	if !slices.Equal(old.m.addrs, nets) {
		g.replaceContribution(old.m, nets, nil)
	}
	g.relabelNetworkSet(old)
	return nil
}

func (g *Graph) relabelNetworkSet(s *networkSetState) {
	labels := policy.NetworkSetLabels(&s.set, g.namespace(s.set.Namespace).labels)
	if maps.Equal(labels, s.m.labels) {
		return
	}
	s.m.labels = labels
	g.ruleIndex.updateItem(s.m, labels)
}

func (g *Graph) onTier(u datastore.Update) error {
	if u.Object == nil {
		delete(g.tiers, u.Key.Name)
		delete(g.invalid, u.Key)
	} else {
		obj, ok := u.Object.(*v3.Tier)
		if !ok {
			return typeError(u, "*v3.Tier")
		}
		t, err := policy.FromTier(obj)
		g.setInvalid(u.Key, problemsOf(err))
		if err != nil {
			// A broken tier keeps ordering and drops at its end: fail closed.
			t = policy.Tier{Name: u.Key.Name, Order: obj.Spec.Order, DefaultAction: policy.Deny}
		}
		g.tiers[u.Key.Name] = t
	}
	// Endpoints with a policy of this tier re-sort their tiers.
	for _, ps := range g.active {
		if ps.pol.Tier != u.Key.Name {
			continue
		}
		for ep := range g.policyIndex.members(ps) {
			g.out.dirtyEndpoints[ep.key] = ep
		}
	}
	return nil
}

// tier returns the named tier: the Tier object, the built-in default tier, or an
// implicit tier (order unset, default action Deny) for a name nothing defines.
func (g *Graph) tier(name string) policy.Tier {
	if t, ok := g.tiers[name]; ok {
		return t
	}
	if name == policy.DefaultTierName {
		return policy.DefaultTier()
	}
	return policy.Tier{Name: name, DefaultAction: policy.Deny}
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}
