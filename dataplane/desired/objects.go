package desired

import (
	"sort"

	"github.com/palisadenet/palisade/dataplane"
)

// Objects is the full desired state as plain objects, keyed as the Update stream
// keys it: the input of a backend's whole-state Render.
type Objects struct {
	Sets      map[string]*dataplane.IPSet
	Policies  map[dataplane.PolicyID]*dataplane.Policy
	Profiles  map[string]*dataplane.Profile
	Endpoints map[string]*dataplane.Endpoint
	Config    dataplane.Config
	NAT       *dataplane.NATOutgoing // nil: no outgoing NAT
}

// SetInfo describes set id (a SetKindLookup).
func (o *Objects) SetInfo(id string) (SetInfo, bool) {
	set, ok := o.Sets[id]
	if !ok {
		return SetInfo{}, false
	}
	info := SetInfo{Kind: set.Kind}
	for _, m := range set.Members {
		if m.Prefix.Addr().Unmap().Is4() {
			info.HasV4 = true
		} else {
			info.HasV6 = true
		}
	}
	return info, true
}

// PolicyKnown reports whether policy id exists.
func (o *Objects) PolicyKnown(id dataplane.PolicyID) bool { _, ok := o.Policies[id]; return ok }

// ProfileKnown reports whether profile id exists.
func (o *Objects) ProfileKnown(id string) bool { _, ok := o.Profiles[id]; return ok }

// NewObjects returns an empty Objects.
func NewObjects() *Objects {
	return &Objects{
		Sets:      map[string]*dataplane.IPSet{},
		Policies:  map[dataplane.PolicyID]*dataplane.Policy{},
		Profiles:  map[string]*dataplane.Profile{},
		Endpoints: map[string]*dataplane.Endpoint{},
	}
}

// Add puts objects into o, replacing those with the same key: *dataplane.IPSet,
// *Policy, *Profile, *Endpoint, dataplane.Config and *NATOutgoing; anything else is
// ignored. It returns o.
func (o *Objects) Add(objs ...any) *Objects {
	for _, obj := range objs {
		switch obj := obj.(type) {
		case *dataplane.IPSet:
			o.Sets[obj.ID] = obj
		case *dataplane.Policy:
			o.Policies[obj.ID] = obj
		case *dataplane.Profile:
			o.Profiles[obj.ID] = obj
		case *dataplane.Endpoint:
			o.Endpoints[obj.Key] = obj
		case dataplane.Config:
			o.Config = obj
		case *dataplane.NATOutgoing:
			o.NAT = obj
		}
	}
	return o
}

// SortedKeys are the keys of m in order: renderers emit objects sorted so that the
// same state always renders the same text.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// SortedPolicyIDs are the keys of m ordered by their String form.
func SortedPolicyIDs(m map[dataplane.PolicyID]*dataplane.Policy) []dataplane.PolicyID {
	ids := make([]dataplane.PolicyID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	return ids
}
