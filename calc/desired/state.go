// Package desired holds a node's desired dataplane state as plain maps, built by
// applying a stream of dataplane.Updates, and checks that the stream obeys the
// ordering contract on the way: a set exists before a rule refers to it and is
// removed only after the last reference is gone, a policy exists before an endpoint
// lists it, set deltas add only absent members and remove only present ones.
//
// In: dataplane.Updates (from the calculation graph). Out: a State that tests compare
// with a from-scratch computation, and that tools can print. Pure.
package desired

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/palisadenet/palisade/dataplane"
)

// State is the desired state. Set members are kept sorted (SortMembers).
type State struct {
	Sets      map[string]dataplane.IPSet
	Policies  map[dataplane.PolicyID]dataplane.Policy
	Profiles  map[string]dataplane.Profile
	Endpoints map[string]dataplane.Endpoint
	Config    *dataplane.Config
	InSync    bool
}

// New returns an empty State.
func New() *State {
	return &State{
		Sets:      map[string]dataplane.IPSet{},
		Policies:  map[dataplane.PolicyID]dataplane.Policy{},
		Profiles:  map[string]dataplane.Profile{},
		Endpoints: map[string]dataplane.Endpoint{},
	}
}

// ApplyAll applies updates in order and stops at the first violation.
func (s *State) ApplyAll(updates []dataplane.Update) error {
	for i := range updates {
		if err := s.Apply(updates[i]); err != nil {
			return fmt.Errorf("update %d: %w", i, err)
		}
	}
	return nil
}

// Apply applies one update, or returns why it breaks the ordering contract.
func (s *State) Apply(u dataplane.Update) error {
	switch {
	case u.SetUpdate != nil:
		set := *u.SetUpdate
		set.Members = slices.Clone(set.Members)
		SortMembers(set.Members)
		if i := dupMember(set.Members); i >= 0 {
			return fmt.Errorf("set %s: duplicate member %v", set.ID, set.Members[i])
		}
		s.Sets[set.ID] = set
	case u.SetDeltaUpdate != nil:
		return s.applyDelta(u.SetDeltaUpdate)
	case u.SetRemove != "":
		if _, ok := s.Sets[u.SetRemove]; !ok {
			return fmt.Errorf("removing unknown set %s", u.SetRemove)
		}
		if user := s.setUser(u.SetRemove); user != "" {
			return fmt.Errorf("removing set %s still used by %s", u.SetRemove, user)
		}
		delete(s.Sets, u.SetRemove)
	case u.PolicyUpdate != nil:
		if err := s.checkRules(u.PolicyUpdate.Inbound, u.PolicyUpdate.Outbound); err != nil {
			return fmt.Errorf("policy %s: %w", u.PolicyUpdate.ID, err)
		}
		s.Policies[u.PolicyUpdate.ID] = *u.PolicyUpdate
	case u.PolicyRemove != nil:
		return s.removePolicy(*u.PolicyRemove)
	case u.ProfileUpdate != nil:
		if err := s.checkRules(u.ProfileUpdate.Inbound, u.ProfileUpdate.Outbound); err != nil {
			return fmt.Errorf("profile %s: %w", u.ProfileUpdate.ID, err)
		}
		s.Profiles[u.ProfileUpdate.ID] = *u.ProfileUpdate
	case u.ProfileRemove != "":
		return s.removeProfile(u.ProfileRemove)
	case u.EndpointUpdate != nil:
		if err := s.checkEndpoint(u.EndpointUpdate); err != nil {
			return fmt.Errorf("endpoint %s: %w", u.EndpointUpdate.Key, err)
		}
		s.Endpoints[u.EndpointUpdate.Key] = *u.EndpointUpdate
	case u.EndpointRemove != "":
		if _, ok := s.Endpoints[u.EndpointRemove]; !ok {
			return fmt.Errorf("removing unknown endpoint %s", u.EndpointRemove)
		}
		delete(s.Endpoints, u.EndpointRemove)
	case u.ConfigUpdate != nil:
		c := *u.ConfigUpdate
		s.Config = &c
	case u.InSync:
		s.InSync = true
	default:
		return fmt.Errorf("empty update")
	}
	return nil
}

func (s *State) applyDelta(d *dataplane.SetDelta) error {
	set, ok := s.Sets[d.ID]
	if !ok {
		return fmt.Errorf("delta for unknown set %s", d.ID)
	}
	members := make(map[dataplane.SetMember]bool, len(set.Members))
	for _, m := range set.Members {
		members[m] = true
	}
	for _, m := range d.Removed {
		if !members[m] {
			return fmt.Errorf("set %s: removing absent member %v", d.ID, m)
		}
		delete(members, m)
	}
	for _, m := range d.Added {
		if members[m] {
			return fmt.Errorf("set %s: adding present member %v", d.ID, m)
		}
		members[m] = true
	}
	set.Members = make([]dataplane.SetMember, 0, len(members))
	for m := range members {
		set.Members = append(set.Members, m)
	}
	SortMembers(set.Members)
	s.Sets[d.ID] = set
	return nil
}

func (s *State) removePolicy(id dataplane.PolicyID) error {
	if _, ok := s.Policies[id]; !ok {
		return fmt.Errorf("removing unknown policy %s", id)
	}
	for _, ep := range s.Endpoints {
		for _, t := range ep.Tiers {
			if slices.Contains(t.IngressPolicies, id) || slices.Contains(t.EgressPolicies, id) {
				return fmt.Errorf("removing policy %s still used by endpoint %s", id, ep.Key)
			}
		}
	}
	delete(s.Policies, id)
	return nil
}

func (s *State) removeProfile(id string) error {
	if _, ok := s.Profiles[id]; !ok {
		return fmt.Errorf("removing unknown profile %s", id)
	}
	for _, ep := range s.Endpoints {
		if slices.Contains(ep.ProfileIDs, id) {
			return fmt.Errorf("removing profile %s still used by endpoint %s", id, ep.Key)
		}
	}
	delete(s.Profiles, id)
	return nil
}

// checkRules reports a rule that refers to a set not (yet) present.
func (s *State) checkRules(lists ...[]dataplane.Rule) error {
	for _, rules := range lists {
		for i := range rules {
			for _, id := range ruleSetIDs(&rules[i]) {
				if _, ok := s.Sets[id]; !ok {
					return fmt.Errorf("rule %s refers to unknown set %s", rules[i].ID, id)
				}
			}
		}
	}
	return nil
}

func (s *State) checkEndpoint(ep *dataplane.Endpoint) error {
	for _, t := range ep.Tiers {
		for _, ids := range [][]dataplane.PolicyID{t.IngressPolicies, t.EgressPolicies} {
			for _, id := range ids {
				if _, ok := s.Policies[id]; !ok {
					return fmt.Errorf("tier %s lists unknown policy %s", t.Name, id)
				}
			}
		}
	}
	for _, id := range ep.ProfileIDs {
		if _, ok := s.Profiles[id]; !ok {
			return fmt.Errorf("unknown profile %s", id)
		}
	}
	return nil
}

// setUser names a policy or profile that refers to set id, or "".
func (s *State) setUser(id string) string {
	for pid, p := range s.Policies {
		for _, rules := range [][]dataplane.Rule{p.Inbound, p.Outbound} {
			for i := range rules {
				if slices.Contains(ruleSetIDs(&rules[i]), id) {
					return "policy " + pid.String()
				}
			}
		}
	}
	return ""
}

// ruleSetIDs lists every set a rule refers to.
func ruleSetIDs(r *dataplane.Rule) []string {
	var ids []string
	for _, m := range []*dataplane.EndpointMatch{&r.Source, &r.Destination} {
		ids = append(ids, m.SetIDs...)
		ids = append(ids, m.NotSetIDs...)
		ids = append(ids, m.NamedPortSetIDs...)
		ids = append(ids, m.NotNamedPortSetIDs...)
	}
	return ids
}

// SortMembers sorts set members by prefix, protocol and port.
func SortMembers(ms []dataplane.SetMember) {
	slices.SortFunc(ms, CompareMembers)
}

// CompareMembers orders set members by prefix, protocol and port.
func CompareMembers(a, b dataplane.SetMember) int {
	if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Prefix.Bits(), b.Prefix.Bits()); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Protocol, b.Protocol); c != 0 {
		return c
	}
	return cmp.Compare(a.Port, b.Port)
}

func dupMember(sorted []dataplane.SetMember) int {
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			return i
		}
	}
	return -1
}
