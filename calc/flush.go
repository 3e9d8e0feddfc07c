package calc

import (
	"cmp"
	"reflect"
	"slices"

	"github.com/palisadenet/palisade/calc/desired"
	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/policy"
)

// emitter remembers what changed during a batch and what was last emitted, so a
// flush sends only real changes, in a safe order.
type emitter struct {
	dirtySets      map[string]struct{}
	dirtyPolicies  map[dataplane.PolicyID]struct{}
	dirtyEndpoints map[string]*podState
	dirtyProfiles  map[string]struct{}
	configDirty    bool

	policies  map[dataplane.PolicyID]*dataplane.Policy
	endpoints map[string]*dataplane.Endpoint
	profiles  map[string]*dataplane.Profile
	config    *dataplane.Config
}

func (e *emitter) init() {
	e.dirtySets = map[string]struct{}{}
	e.dirtyPolicies = map[dataplane.PolicyID]struct{}{}
	e.dirtyEndpoints = map[string]*podState{}
	e.dirtyProfiles = map[string]struct{}{}
	e.policies = map[dataplane.PolicyID]*dataplane.Policy{}
	e.endpoints = map[string]*dataplane.Endpoint{}
	e.profiles = map[string]*dataplane.Profile{}
}

// flush turns the batch's changes into ordered updates: config; set creations and
// deltas; profile and policy updates; endpoint updates; then endpoint, policy,
// profile and set removals.
func (g *Graph) flush() []dataplane.Update {
	var out, removals []dataplane.Update
	out = g.flushConfig(out)
	setIDs := sortedKeys(g.out.dirtySets, cmp.Compare[string])
	out = g.flushSets(out, setIDs)
	profiles := sortedKeys(g.out.dirtyProfiles, cmp.Compare[string])
	for _, id := range profiles {
		out = g.flushProfile(out, id)
	}
	policyIDs := sortedKeys(g.out.dirtyPolicies, func(a, b dataplane.PolicyID) int { return cmp.Compare(a.String(), b.String()) })
	for _, id := range policyIDs {
		out = g.flushPolicy(out, id)
	}
	epKeys := sortedKeys(g.out.dirtyEndpoints, cmp.Compare[string])
	for _, key := range epKeys {
		out, removals = g.flushEndpoint(out, removals, key)
	}
	out = append(out, removals...)
	for _, id := range policyIDs {
		if _, live := g.active[id]; !live && g.out.policies[id] != nil {
			delete(g.out.policies, id)
			out = append(out, dataplane.Update{PolicyRemove: &id})
		}
	}
	for _, id := range profiles {
		if g.profileRefs[id] == 0 && g.out.profiles[id] != nil {
			delete(g.out.profiles, id)
			out = append(out, dataplane.Update{ProfileRemove: id})
		}
	}
	for _, id := range setIDs {
		if s := g.sets[id]; !s.live {
			if s.emitted {
				out = append(out, dataplane.Update{SetRemove: id})
			}
			delete(g.sets, id)
		}
	}
	clear(g.out.dirtySets)
	clear(g.out.dirtyPolicies)
	clear(g.out.dirtyEndpoints)
	clear(g.out.dirtyProfiles)
	return out
}

func (g *Graph) flushConfig(out []dataplane.Update) []dataplane.Update {
	if !g.out.configDirty {
		return out
	}
	g.out.configDirty = false
	c := g.effectiveConfig()
	// DeepEqual tells a nil failsafe list (the default) from an empty one (none).
	if g.out.config != nil && reflect.DeepEqual(g.out.config, c) {
		return out
	}
	copied := *c
	g.out.config = &copied
	return append(out, dataplane.Update{ConfigUpdate: &copied})
}

// flushProfile emits profile id if a local endpoint names it and its content
// changed (a service account appearing or going away changes its ksa.* profile).
func (g *Graph) flushProfile(out []dataplane.Update, id string) []dataplane.Update {
	if g.profileRefs[id] == 0 {
		return out
	}
	p := g.profile(id)
	if prev := g.out.profiles[id]; prev != nil && reflect.DeepEqual(prev, p) {
		return out
	}
	g.out.profiles[id] = p
	return append(out, dataplane.Update{ProfileUpdate: p})
}

func (g *Graph) flushSets(out []dataplane.Update, ids []string) []dataplane.Update {
	for _, id := range ids {
		s := g.sets[id]
		switch {
		case !s.live:
		case !s.emitted:
			set := &dataplane.IPSet{ID: id, Kind: s.kind, Members: make([]dataplane.SetMember, 0, len(s.members))}
			for m := range s.members {
				set.Members = append(set.Members, m)
			}
			desired.SortMembers(set.Members)
			s.emitted = true
			out = append(out, dataplane.Update{SetUpdate: set})
		case len(s.pending) > 0:
			d := &dataplane.SetDelta{ID: id}
			for m, n := range s.pending {
				if n > 0 {
					d.Added = append(d.Added, m)
				} else {
					d.Removed = append(d.Removed, m)
				}
			}
			desired.SortMembers(d.Added)
			desired.SortMembers(d.Removed)
			s.pending = nil
			out = append(out, dataplane.Update{SetDeltaUpdate: d})
		}
	}
	return out
}

func (g *Graph) flushPolicy(out []dataplane.Update, id dataplane.PolicyID) []dataplane.Update {
	ps := g.active[id]
	if ps == nil {
		return out
	}
	if prev := g.out.policies[id]; prev != nil && reflect.DeepEqual(prev, ps.dp) {
		return out
	}
	g.out.policies[id] = ps.dp
	return append(out, dataplane.Update{PolicyUpdate: ps.dp})
}

func (g *Graph) flushEndpoint(out, removals []dataplane.Update, key string) ([]dataplane.Update, []dataplane.Update) {
	p := g.pods[key]
	if p == nil {
		p = g.hosts[key]
	}
	if p == nil || !p.local {
		if g.out.endpoints[key] != nil {
			delete(g.out.endpoints, key)
			removals = append(removals, dataplane.Update{EndpointRemove: key})
		}
		return out, removals
	}
	ep := g.endpoint(p)
	if prev := g.out.endpoints[key]; prev != nil && reflect.DeepEqual(prev, ep) {
		return out, removals
	}
	g.out.endpoints[key] = ep
	return append(out, dataplane.Update{EndpointUpdate: ep}), removals
}

// endpoint builds the dataplane endpoint of local pod p.
func (g *Graph) endpoint(p *podState) *dataplane.Endpoint {
	byTier := map[string][]*policy.Policy{}
	for ps := range g.policyIndex.matching(p) {
		byTier[ps.pol.Tier] = append(byTier[ps.pol.Tier], ps.pol)
	}
	tiers := make([]policy.Tier, 0, len(byTier))
	for name := range byTier {
		tiers = append(tiers, g.tier(name))
	}
	ep := &dataplane.Endpoint{
		Key:        p.key,
		Kind:       dataplane.EndpointWorkload,
		Iface:      p.iface,
		Addrs:      slices.Clone(p.m.addrs),
		Tiers:      TierPolicies(tiers, byTier),
		ProfileIDs: []string{NamespaceProfilePrefix + p.namespace},
	}
	if p.host {
		ep.Kind, ep.ProfileIDs = dataplane.EndpointHost, slices.Clone(p.profiles)
	}
	return ep
}

// TierPolicies orders the policies selecting one endpoint into dataplane tiers:
// tiers by order then name, policies by order then key, each direction listing the
// policies of that type; tiers with no policy in either direction are left out.
func TierPolicies(tiers []policy.Tier, byTier map[string][]*policy.Policy) []dataplane.TierPolicies {
	policy.SortTiers(tiers)
	var out []dataplane.TierPolicies
	for _, t := range tiers {
		pols := byTier[t.Name]
		slices.SortFunc(pols, policy.ComparePolicies)
		tp := dataplane.TierPolicies{Name: t.Name, DefaultAction: dataplane.ActionDeny}
		if t.DefaultAction == policy.Pass {
			tp.DefaultAction = dataplane.ActionPass
		}
		for _, p := range pols {
			if p.HasType(policy.Ingress) {
				tp.IngressPolicies = append(tp.IngressPolicies, PolicyID(p))
			}
			if p.HasType(policy.Egress) {
				tp.EgressPolicies = append(tp.EgressPolicies, PolicyID(p))
			}
		}
		if len(tp.IngressPolicies)+len(tp.EgressPolicies) > 0 {
			out = append(out, tp)
		}
	}
	return out
}

// NamespaceProfile is the profile the graph emits for namespace ns: allow all.
func NamespaceProfile(ns string) *dataplane.Profile {
	return ruleProfile(NamespaceProfilePrefix+ns, dataplane.ActionAllow)
}

func sortedKeys[K comparable, V any](m map[K]V, compare func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, compare)
	return keys
}
