package iptables

import (
	"net/netip"

	"github.com/palisadenet/palisade/dataplane"
)

func u8(v uint8) *uint8 { return &v }

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func netsSet(id string, members ...string) *dataplane.IPSet {
	s := &dataplane.IPSet{ID: id, Kind: dataplane.SetKindNets}
	for _, m := range members {
		s.Members = append(s.Members, dataplane.SetMember{Prefix: pfx(m)})
	}
	return s
}

func namedPortSet(id string, port uint16, proto uint8, addrs ...string) *dataplane.IPSet {
	s := &dataplane.IPSet{ID: id, Kind: dataplane.SetKindNamedPort}
	for _, a := range addrs {
		s.Members = append(s.Members, dataplane.SetMember{Prefix: pfx(a), Protocol: proto, Port: port})
	}
	return s
}

func newState() *State {
	return &State{
		Sets:      map[string]*dataplane.IPSet{},
		Policies:  map[dataplane.PolicyID]*dataplane.Policy{},
		Profiles:  map[string]*dataplane.Profile{},
		Endpoints: map[string]*dataplane.Endpoint{},
	}
}

func (s *State) add(objs ...any) *State {
	for _, o := range objs {
		switch o := o.(type) {
		case *dataplane.IPSet:
			s.Sets[o.ID] = o
		case *dataplane.Policy:
			s.Policies[o.ID] = o
		case *dataplane.Profile:
			s.Profiles[o.ID] = o
		case *dataplane.Endpoint:
			s.Endpoints[o.Key] = o
		case dataplane.Config:
			s.Config = o
		}
	}
	return s
}

func allowProfile(ns string) *dataplane.Profile {
	return &dataplane.Profile{ID: "kns." + ns,
		Inbound:  []dataplane.Rule{{ID: "kns." + ns + "/in/0", Action: dataplane.ActionAllow}},
		Outbound: []dataplane.Rule{{ID: "kns." + ns + "/out/0", Action: dataplane.ActionAllow}}}
}

func workload(key, iface string, tiers []dataplane.TierPolicies, addrs ...string) *dataplane.Endpoint {
	ep := &dataplane.Endpoint{Key: key, Kind: dataplane.EndpointWorkload, Iface: iface, Tiers: tiers,
		ProfileIDs: []string{"kns.ns"}}
	for _, a := range addrs {
		ep.Addrs = append(ep.Addrs, pfx(a))
	}
	return ep
}

func pid(tier, name string) dataplane.PolicyID { return dataplane.PolicyID{Tier: tier, Name: name} }

// policyWithRule is a policy with one inbound rule.
func policyWithRule(name string, r dataplane.Rule) *dataplane.Policy {
	r.ID = "default/" + name + "/ingress/0"
	return &dataplane.Policy{ID: pid("default", name), Inbound: []dataplane.Rule{r}}
}
