package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	api "github.com/osrg/gobgp/v3/api"
)

// keepOriginalNextHop: GoBGP has no per-peer "next hop unchanged" switch, so peers
// with KeepOriginalNextHop are put in a neighbour set and a global export policy sets
// the next hop back to the original for them. An empty neighbour set would match every
// peer in GoBGP, so the policy exists only while at least one peer asks for it.

const (
	keepNHSet    = "palisade-keep-next-hop"
	keepNHPolicy = "palisade-keep-next-hop"
)

// syncKeepNextHop rebuilds the policy when the set of peers that want it changes.
// It runs on the owner goroutine.
func (s *Speaker) syncKeepNextHop(ctx context.Context) error {
	var want []netip.Addr
	for addr, p := range s.peers {
		if p.KeepOriginalNextHop {
			want = append(want, addr)
		}
	}
	slices.SortFunc(want, netip.Addr.Compare)
	if slices.Equal(want, s.keepNH) {
		return nil
	}
	var errs []error
	if len(s.keepNH) > 0 {
		errs = append(errs, s.removeKeepNextHop(ctx))
	}
	s.keepNH = nil
	if len(want) > 0 {
		if err := s.addKeepNextHop(ctx, want); err != nil {
			return errors.Join(append(errs, err)...)
		}
		s.keepNH = want
	}
	return errors.Join(errs...)
}

func (s *Speaker) addKeepNextHop(ctx context.Context, addrs []netip.Addr) error {
	list := make([]string, len(addrs))
	for i, a := range addrs {
		list[i] = netip.PrefixFrom(a, a.BitLen()).String()
	}
	if err := s.srv.AddDefinedSet(ctx, &api.AddDefinedSetRequest{DefinedSet: &api.DefinedSet{
		DefinedType: api.DefinedType_NEIGHBOR, Name: keepNHSet, List: list}}); err != nil {
		return fmt.Errorf("adding neighbour set for keepOriginalNextHop: %w", err)
	}
	policy := &api.Policy{Name: keepNHPolicy, Statements: []*api.Statement{{
		Name:       keepNHPolicy,
		Conditions: &api.Conditions{NeighborSet: &api.MatchSet{Type: api.MatchSet_ANY, Name: keepNHSet}},
		Actions:    &api.Actions{Nexthop: &api.NexthopAction{Unchanged: true}},
	}}}
	if err := s.srv.AddPolicy(ctx, &api.AddPolicyRequest{Policy: policy}); err != nil {
		return fmt.Errorf("adding keepOriginalNextHop policy: %w", err)
	}
	if err := s.srv.AddPolicyAssignment(ctx, &api.AddPolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_EXPORT,
		Policies: []*api.Policy{{Name: keepNHPolicy}}, DefaultAction: api.RouteAction_ACCEPT}}); err != nil {
		return fmt.Errorf("assigning keepOriginalNextHop policy: %w", err)
	}
	return nil
}

func (s *Speaker) removeKeepNextHop(ctx context.Context) error {
	var errs []error
	if err := s.srv.DeletePolicyAssignment(ctx, &api.DeletePolicyAssignmentRequest{Assignment: &api.PolicyAssignment{
		Name: "global", Direction: api.PolicyDirection_EXPORT, Policies: []*api.Policy{{Name: keepNHPolicy}}}}); err != nil {
		errs = append(errs, fmt.Errorf("unassigning keepOriginalNextHop policy: %w", err))
	}
	if err := s.srv.DeletePolicy(ctx, &api.DeletePolicyRequest{Policy: &api.Policy{Name: keepNHPolicy}, All: true}); err != nil {
		errs = append(errs, fmt.Errorf("deleting keepOriginalNextHop policy: %w", err))
	}
	if err := s.srv.DeleteDefinedSet(ctx, &api.DeleteDefinedSetRequest{DefinedSet: &api.DefinedSet{
		DefinedType: api.DefinedType_NEIGHBOR, Name: keepNHSet}, All: true}); err != nil {
		errs = append(errs, fmt.Errorf("deleting keepOriginalNextHop neighbour set: %w", err))
	}
	return errors.Join(errs...)
}
