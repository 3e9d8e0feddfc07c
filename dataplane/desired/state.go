// Package desired holds what both firewall backends (dataplane/nftables,
// dataplane/iptables) need to know about the desired state, independent of how they
// render it.
//
// In: the dataplane.Update stream, folded by State.Fold into sets (as MemberSets),
// policies, profiles, endpoints, config and outgoing NAT, with the index of which
// policies use which set. Out: that state plus Dirty, the objects whose rendering may
// have changed since the backend last programmed the kernel, and shared rule
// helpers (CheckRule, RuleFamilies, Cross, ...) for expanding a dataplane.Rule per
// IP family. Objects is the same state as plain objects, the input of the backends'
// whole-state Render, and SortedKeys/SortedPolicyIDs give the order they render in.
// Nothing here touches the kernel.
package desired

import (
	"fmt"
	"slices"

	"github.com/palisadenet/palisade/dataplane"
)

// State is the folded desired state and the work pending for the next batch. It is
// not safe for concurrent use; the backend holds its own lock.
type State struct {
	Sets      map[string]*MemberSet
	Policies  map[dataplane.PolicyID]*dataplane.Policy
	Profiles  map[string]*dataplane.Profile
	Endpoints map[string]*dataplane.Endpoint
	Config    dataplane.Config
	NAT       *dataplane.NATOutgoing // nil: no outgoing NAT
	// InSync is set once an Update with InSync arrived: the state is complete.
	InSync bool
	// Quarantine holds owners (policies and profiles, named by Owners) whose rules the
	// kernel rejected, with the error. The backend programs them as a single drop;
	// new content for the owner removes it from here (it gets another chance).
	Quarantine map[string]error

	Dirty Dirty

	opt      Options
	setUsers map[string]map[dataplane.PolicyID]struct{} // set ID -> policies using it
}

// Dirty is the work for the next batch: what changed since the last one.
type Dirty struct {
	Sets map[string]bool // sets to write whole (or destroy, if gone)
	// Deltas are, per set not in Sets, the members whose kernel entries may differ
	// (see Options.DeltaCandidates).
	Deltas    map[string][]dataplane.SetMember
	Policies  map[dataplane.PolicyID]bool
	Profiles  map[string]bool
	Endpoints map[string]bool
	Base      bool // node-wide config changed
	NAT       bool // outgoing NAT changed
}

// Options are the backend's choices.
type Options struct {
	// PolicyOwner and ProfileOwner name the Quarantine key of a policy or profile.
	PolicyOwner  func(dataplane.PolicyID) string
	ProfileOwner func(string) string
	// DeltaCandidates records for each member a SetDelta adds or removes every member
	// whose entry may change with it (MemberSet.Candidates: the members inside a net
	// are hidden in an interval set while the net is there). Otherwise the delta's
	// members are recorded as given.
	DeltaCandidates bool
}

// New returns an empty State; Config starts with EndpointToHostAction Allow.
func New(opt Options) *State {
	s := &State{
		Sets: map[string]*MemberSet{}, Policies: map[dataplane.PolicyID]*dataplane.Policy{},
		Profiles: map[string]*dataplane.Profile{}, Endpoints: map[string]*dataplane.Endpoint{},
		Config:     dataplane.Config{EndpointToHostAction: dataplane.ActionAllow},
		Quarantine: map[string]error{}, setUsers: map[string]map[dataplane.PolicyID]struct{}{},
		opt: opt,
	}
	s.ResetDirty()
	return s
}

// ResetDirty forgets all pending work (after a successful batch).
func (s *State) ResetDirty() {
	s.Dirty = Dirty{Sets: map[string]bool{}, Deltas: map[string][]dataplane.SetMember{},
		Policies: map[dataplane.PolicyID]bool{}, Profiles: map[string]bool{}, Endpoints: map[string]bool{}}
}

// MarkAllDirty makes the next batch render everything.
func (s *State) MarkAllDirty() {
	s.ResetDirty()
	for id := range s.Sets {
		s.Dirty.Sets[id] = true
	}
	for id := range s.Policies {
		s.Dirty.Policies[id] = true
	}
	for id := range s.Profiles {
		s.Dirty.Profiles[id] = true
	}
	for key := range s.Endpoints {
		s.Dirty.Endpoints[key] = true
	}
	s.Dirty.Base = true
	s.Dirty.NAT = true
}

// FoldAll folds updates in order and reports whether the state is complete (an
// InSync update has arrived, now or before): until then, programming would cut off
// every endpoint the snapshot has not reached yet. It stops at the first error.
func (s *State) FoldAll(updates []dataplane.Update) (inSync bool, err error) {
	for i := range updates {
		if err := s.Fold(&updates[i]); err != nil {
			return false, fmt.Errorf("update %d: %w", i, err)
		}
	}
	return s.InSync, nil
}

// Fold applies one update and marks what it makes dirty: the object itself, the
// policies using a set whose families changed, the endpoints referring to a policy
// or profile that appeared or went away. A delta for an unknown set is an error.
func (s *State) Fold(u *dataplane.Update) error {
	switch {
	case u.SetUpdate != nil:
		id := u.SetUpdate.ID
		old, known := s.Sets[id]
		ms := NewMemberSet(u.SetUpdate)
		s.Sets[id] = ms
		s.markSetWrite(id)
		if !known || old.Info() != ms.Info() {
			s.markSetUsers(id)
		}
	case u.SetDeltaUpdate != nil:
		return s.foldDelta(u.SetDeltaUpdate)
	case u.SetRemove != "":
		delete(s.Sets, u.SetRemove)
		s.markSetWrite(u.SetRemove)
		s.markSetUsers(u.SetRemove)
	case u.PolicyUpdate != nil:
		s.foldPolicy(u.PolicyUpdate.ID, u.PolicyUpdate)
	case u.PolicyRemove != nil:
		s.foldPolicy(*u.PolicyRemove, nil)
	case u.ProfileUpdate != nil:
		s.foldProfile(u.ProfileUpdate.ID, u.ProfileUpdate)
	case u.ProfileRemove != "":
		s.foldProfile(u.ProfileRemove, nil)
	case u.EndpointUpdate != nil:
		s.Endpoints[u.EndpointUpdate.Key] = u.EndpointUpdate
		s.Dirty.Endpoints[u.EndpointUpdate.Key] = true
	case u.EndpointRemove != "":
		delete(s.Endpoints, u.EndpointRemove)
		s.Dirty.Endpoints[u.EndpointRemove] = true
	case u.ConfigUpdate != nil:
		s.Config = *u.ConfigUpdate
		s.Dirty.Base = true
	case u.NATUpdate != nil:
		s.NAT = u.NATUpdate
		s.Dirty.NAT = true
	case u.InSync:
		s.InSync = true
	}
	return nil
}

// markSetWrite: the whole set is written, so its pending deltas are moot.
func (s *State) markSetWrite(id string) {
	s.Dirty.Sets[id] = true
	delete(s.Dirty.Deltas, id)
}

// foldPolicy replaces (p non-nil) or removes policy id. Endpoints are re-rendered
// when the policy appears or goes away: their chains jump to it only while it exists.
func (s *State) foldPolicy(id dataplane.PolicyID, p *dataplane.Policy) {
	_, known := s.Policies[id]
	s.forgetPolicySets(id)
	if len(s.Quarantine) > 0 && s.opt.PolicyOwner != nil { // naming the owner allocates
		delete(s.Quarantine, s.opt.PolicyOwner(id)) // new content: give it another chance
	}
	if p == nil {
		delete(s.Policies, id)
	} else {
		s.Policies[id] = p
		s.indexPolicySets(p)
	}
	s.Dirty.Policies[id] = true
	if p == nil || !known {
		s.markEndpointsUsing(func(ep *dataplane.Endpoint) bool { return endpointUsesPolicy(ep, id) })
	}
}

// foldProfile replaces (p non-nil) or removes profile id, like foldPolicy.
func (s *State) foldProfile(id string, p *dataplane.Profile) {
	_, known := s.Profiles[id]
	if len(s.Quarantine) > 0 && s.opt.ProfileOwner != nil {
		delete(s.Quarantine, s.opt.ProfileOwner(id))
	}
	if p == nil {
		delete(s.Profiles, id)
	} else {
		s.Profiles[id] = p
	}
	s.Dirty.Profiles[id] = true
	if p == nil || !known {
		s.markEndpointsUsing(func(ep *dataplane.Endpoint) bool { return slices.Contains(ep.ProfileIDs, id) })
	}
}

func (s *State) foldDelta(delta *dataplane.SetDelta) error {
	ms, ok := s.Sets[delta.ID]
	if !ok {
		return fmt.Errorf("delta for unknown IP set %q", delta.ID)
	}
	before := ms.Info()
	record := !s.Dirty.Sets[delta.ID] // a whole-set write is pending anyway
	var changed []dataplane.SetMember
	for _, x := range delta.Removed {
		if record {
			changed = append(changed, s.changedWith(ms, x)...)
		}
		ms.Remove(x)
	}
	for _, x := range delta.Added {
		ms.Add(x)
		if record {
			changed = append(changed, s.changedWith(ms, x)...)
		}
	}
	if record {
		s.Dirty.Deltas[delta.ID] = append(s.Dirty.Deltas[delta.ID], changed...)
	}
	// A family gaining its first or losing its last member changes which rules exist
	// (see SetInfo), so the policies using the set are rendered again.
	if ms.Info() != before {
		s.markSetUsers(delta.ID)
	}
	return nil
}

func (s *State) changedWith(ms *MemberSet, x dataplane.SetMember) []dataplane.SetMember {
	if s.opt.DeltaCandidates {
		return ms.Candidates(x)
	}
	return []dataplane.SetMember{x}
}

func endpointUsesPolicy(ep *dataplane.Endpoint, id dataplane.PolicyID) bool {
	for _, t := range ep.Tiers {
		if slices.Contains(t.IngressPolicies, id) || slices.Contains(t.EgressPolicies, id) {
			return true
		}
	}
	return false
}

func (s *State) markEndpointsUsing(uses func(*dataplane.Endpoint) bool) {
	for key, ep := range s.Endpoints {
		if uses(ep) {
			s.Dirty.Endpoints[key] = true
		}
	}
}

func (s *State) markSetUsers(setID string) {
	for id := range s.setUsers[setID] {
		s.Dirty.Policies[id] = true
	}
}

func policySetIDs(p *dataplane.Policy) []string {
	var ids []string
	for _, rules := range [][]dataplane.Rule{p.Inbound, p.Outbound} {
		for _, r := range rules {
			for _, m := range []dataplane.EndpointMatch{r.Source, r.Destination} {
				ids = append(ids, m.SetIDs...)
				ids = append(ids, m.NotSetIDs...)
				ids = append(ids, m.NamedPortSetIDs...)
				ids = append(ids, m.NotNamedPortSetIDs...)
			}
		}
	}
	return ids
}

func (s *State) indexPolicySets(p *dataplane.Policy) {
	for _, sid := range policySetIDs(p) {
		if s.setUsers[sid] == nil {
			s.setUsers[sid] = map[dataplane.PolicyID]struct{}{}
		}
		s.setUsers[sid][p.ID] = struct{}{}
	}
}

func (s *State) forgetPolicySets(id dataplane.PolicyID) {
	if p, ok := s.Policies[id]; ok {
		for _, sid := range policySetIDs(p) {
			delete(s.setUsers[sid], id)
			if len(s.setUsers[sid]) == 0 {
				delete(s.setUsers, sid)
			}
		}
	}
}

// SetInfo describes set id (a SetKindLookup).
func (s *State) SetInfo(id string) (SetInfo, bool) {
	ms, ok := s.Sets[id]
	if !ok {
		return SetInfo{}, false
	}
	return ms.Info(), true
}

// PolicyKnown reports whether policy id exists.
func (s *State) PolicyKnown(id dataplane.PolicyID) bool { _, ok := s.Policies[id]; return ok }

// ProfileKnown reports whether profile id exists.
func (s *State) ProfileKnown(id string) bool { _, ok := s.Profiles[id]; return ok }
