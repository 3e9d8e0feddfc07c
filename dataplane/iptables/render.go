package iptables

import (
	"errors"
	"fmt"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/desired"
)

// Default mark bits. Allow and Pass are carried back from policy chains in these bits
// of the packet mark; they are cleared before use and never leave our chains with a
// meaning. Chosen outside kube-proxy's 0x4000/0x8000 and equal to the nftables
// backend's pass bit.
const (
	DefaultAcceptMark uint32 = 0x00100000
	DefaultPassMark   uint32 = 0x00200000
)

// Options tunes rendering.
type Options struct {
	AcceptMark, PassMark uint32 // zero: the defaults
	// ReturnAllowed makes allowed workload traffic RETURN from cali-FORWARD (to the
	// rest of FORWARD: other software's rules and the chain policy) instead of
	// ACCEPT, like Calico's IptablesFilterAllowAction=RETURN.
	ReturnAllowed bool
	// RandomFully adds --random-fully to MASQUERADE (set when iptables supports it).
	RandomFully bool
}

func (o Options) acceptMark() uint32 {
	if o.AcceptMark == 0 {
		return DefaultAcceptMark
	}
	return o.AcceptMark
}

func (o Options) passMark() uint32 {
	if o.PassMark == 0 {
		return DefaultPassMark
	}
	return o.PassMark
}

func (o Options) allowTarget() string {
	if o.ReturnAllowed {
		return "-j RETURN"
	}
	return "-j ACCEPT"
}

// State is the full desired state, keyed as the Update stream keys it.
type State = desired.Objects

// Ruleset is a rendered desired state: the filter chains per family and the ipsets.
type Ruleset struct {
	Filter4, Filter6 []*Chain
	Sets             []*Set
}

// Filter returns the chains of one family.
func (r *Ruleset) Filter(fam Family) []*Chain {
	if fam == IPv6 {
		return r.Filter6
	}
	return r.Filter4
}

// Render renders the whole desired state. Problems that fail objects closed (a policy
// referring to an unknown set, an unsupported endpoint) do not stop rendering; they
// are returned joined next to a usable ruleset.
func Render(s *State, opt Options) (*Ruleset, error) {
	rs := &Ruleset{}
	var errs []error
	infos := make(map[string]SetInfo, len(s.Sets))
	for _, id := range desired.SortedKeys(s.Sets) {
		rs.Sets = append(rs.Sets, RenderSet(s.Sets[id])...)
		infos[id], _ = s.SetInfo(id)
	}
	setInfo := func(id string) (SetInfo, bool) { i, ok := infos[id]; return i, ok }
	for _, fam := range Families {
		var chains []*Chain
		for _, id := range desired.SortedPolicyIDs(s.Policies) {
			cs, err := RenderPolicy(s.Policies[id], fam, setInfo, opt)
			chains = append(chains, cs...)
			errs = append(errs, err)
		}
		for _, id := range desired.SortedKeys(s.Profiles) {
			cs, err := RenderProfile(s.Profiles[id], fam, setInfo, opt)
			chains = append(chains, cs...)
			errs = append(errs, err)
		}
		var eps []*dataplane.Endpoint
		for _, key := range desired.SortedKeys(s.Endpoints) {
			ep := s.Endpoints[key]
			cs, err := RenderEndpoint(ep, fam, s.PolicyKnown, s.ProfileKnown, opt)
			if fam == IPv4 {
				errs = append(errs, err)
			}
			if err != nil {
				continue
			}
			chains = append(chains, cs...)
			eps = append(eps, ep)
		}
		chains = append(chains, DispatchChains(eps)...)
		chains = append(chains, BaseChains(fam, s.Config, opt)...)
		if c := NATChain(s.NAT, fam, opt.RandomFully); c != nil {
			chains = append(chains, c)
		}
		if fam == IPv4 {
			rs.Filter4 = chains
		} else {
			rs.Filter6 = chains
		}
	}
	return rs, errors.Join(errs...)
}

// BaseChains renders the chains jumped to from INPUT, FORWARD and OUTPUT, and the
// failsafe chains of host endpoints (from Config).
func BaseChains(fam Family, cfg dataplane.Config, opt Options) []*Chain {
	marks := opt.acceptMark() | opt.passMark()
	conntrack := []Rule{
		{Match: "-m conntrack --ctstate RELATED,ESTABLISHED", Target: opt.allowTarget()},
		{Match: "-m conntrack --ctstate INVALID", Target: "-j DROP"},
	}
	fwd := &Chain{Name: ChainForward, Rules: []Rule{
		{Match: "! -i " + WorkloadIfaceWildcard + " ! -o " + WorkloadIfaceWildcard, Target: "-j RETURN", Comment: "not workload traffic"},
	}}
	fwd.Rules = append(fwd.Rules, conntrack...)
	fwd.Rules = append(fwd.Rules,
		Rule{Target: clearMark(marks)},
		Rule{Match: "-i " + WorkloadIfaceWildcard, Target: "-j " + ChainFromWorkload, Comment: "egress policy of the sender"},
		// The sender's egress allowed (its chain drops otherwise): the receiver's
		// ingress decides afresh.
		Rule{Match: "-o " + WorkloadIfaceWildcard, Target: clearMark(marks)},
		Rule{Match: "-o " + WorkloadIfaceWildcard, Target: "-j " + ChainToWorkload, Comment: "ingress policy of the receiver"},
		Rule{Match: hasMark(opt.acceptMark()), Target: opt.allowTarget(), Comment: "allowed by policy"},
	)

	in := &Chain{Name: ChainInput, Rules: []Rule{
		{Match: "! -i " + WorkloadIfaceWildcard, Target: "-g " + ChainFromHost, Comment: "not from a workload: host endpoints"},
	}}
	if fam == IPv6 {
		// Neighbor discovery and MLD to the host are not policy: without them a pod
		// cannot resolve its IPv6 gateway, whatever its egress policy says.
		for _, typ := range []int{130, 131, 132, 133, 135, 136, 143} {
			in.Rules = append(in.Rules, Rule{Match: fmt.Sprintf("-p ipv6-icmp -m icmp6 --icmpv6-type %d", typ),
				Target: "-j ACCEPT", Comment: "IPv6 neighbor discovery and MLD"})
		}
	}
	in.Rules = append(in.Rules, conntrack...)
	switch cfg.EndpointToHostAction {
	case dataplane.ActionDeny:
		in.Rules = append(in.Rules, Rule{Target: "-j DROP", Comment: "endpoint to host: Drop"})
	case dataplane.ActionPass:
		// Return: the egress policy decides drops; what it allows goes on to the rest
		// of INPUT (the host's own rules and policy).
		in.Rules = append(in.Rules, Rule{Target: clearMark(marks)},
			Rule{Target: "-j " + ChainFromWorkload, Comment: "egress policy of the workload"},
			Rule{Target: "-j RETURN", Comment: "endpoint to host: Return"})
	default:
		in.Rules = append(in.Rules, Rule{Target: clearMark(marks)},
			Rule{Target: "-j " + ChainFromWorkload, Comment: "egress policy of the workload"},
			Rule{Match: hasMark(opt.acceptMark()), Target: "-j ACCEPT", Comment: "endpoint to host: Accept"})
	}
	out := &Chain{Name: ChainOutput, Rules: []Rule{
		{Match: "-o " + WorkloadIfaceWildcard, Target: "-j RETURN", Comment: "host to local workloads is always allowed"},
		{Target: "-g " + ChainToHost, Comment: "host endpoints"},
	}}
	return append([]*Chain{fwd, in, out}, failsafeChains(fam, cfg, opt)...)
}

// DispatchChains renders the interface dispatch chains for the endpoints (in the given
// order). They go to (-g) the endpoint's chain, so its RETURN goes back to the chain
// that called the dispatch; an unknown cali* interface is dropped.
// Host endpoints have their own dispatch chains, without a default: traffic of other
// interfaces returns to INPUT or OUTPUT untouched.
func DispatchChains(eps []*dataplane.Endpoint) []*Chain {
	from := &Chain{Name: ChainFromWorkload}
	to := &Chain{Name: ChainToWorkload}
	fromHost := &Chain{Name: ChainFromHost}
	toHost := &Chain{Name: ChainToHost}
	for _, ep := range eps {
		if ep.Kind == dataplane.EndpointHost {
			fromHost.Rules = append(fromHost.Rules, Rule{Match: "-i " + ep.Iface, Target: "-g " + HostChainName(ep.Iface, true)})
			toHost.Rules = append(toHost.Rules, Rule{Match: "-o " + ep.Iface, Target: "-g " + HostChainName(ep.Iface, false)})
			continue
		}
		from.Rules = append(from.Rules, Rule{Match: "-i " + ep.Iface, Target: "-g " + EndpointChainName(ep.Iface, false)})
		to.Rules = append(to.Rules, Rule{Match: "-o " + ep.Iface, Target: "-g " + EndpointChainName(ep.Iface, true)})
	}
	from.Rules = append(from.Rules, Rule{Target: "-j DROP", Comment: "unknown workload interface"})
	to.Rules = append(to.Rules, Rule{Target: "-j DROP", Comment: "unknown workload interface"})
	return []*Chain{from, to, fromHost, toHost}
}

// RenderPolicy renders a policy's inbound and outbound chains for one family. A rule
// that cannot be rendered (unknown set) makes that direction's chain a single drop:
// the endpoints using the policy fail closed and nothing else is affected.
func RenderPolicy(p *dataplane.Policy, fam Family, sets SetKindLookup, opt Options) ([]*Chain, error) {
	name := "policy " + p.ID.String()
	in, errIn := renderRuleChain(PolicyChainName(p.ID, true), name+" inbound", p.Inbound, fam, sets, opt)
	out, errOut := renderRuleChain(PolicyChainName(p.ID, false), name+" outbound", p.Outbound, fam, sets, opt)
	return []*Chain{in, out}, errors.Join(errIn, errOut)
}

// RenderProfile renders a profile's inbound and outbound chains for one family.
func RenderProfile(p *dataplane.Profile, fam Family, sets SetKindLookup, opt Options) ([]*Chain, error) {
	name := "profile " + p.ID
	in, errIn := renderRuleChain(ProfileChainName(p.ID, true), name+" inbound", p.Inbound, fam, sets, opt)
	out, errOut := renderRuleChain(ProfileChainName(p.ID, false), name+" outbound", p.Outbound, fam, sets, opt)
	return []*Chain{in, out}, errors.Join(errIn, errOut)
}

func renderRuleChain(chain, what string, rules []dataplane.Rule, fam Family, sets SetKindLookup, opt Options) (*Chain, error) {
	c := &Chain{Name: chain}
	for i := range rules {
		rendered, err := renderRule(&rules[i], fam, sets, opt)
		if err != nil {
			err = fmt.Errorf("%s rule %d (%s): %w", what, i, rules[i].ID, err)
			c.Rules = []Rule{{Target: "-j DROP", Comment: "fail closed: " + err.Error()}}
			return c, err
		}
		c.Rules = append(c.Rules, rendered...)
	}
	return c, nil
}

// RenderEndpoint renders an endpoint's chains for one family: a workload's egress
// (cali-fw-) and ingress (cali-tw-) chains, a host endpoint's ingress (cali-fh-) and
// egress (cali-th-) chains (host.go): tiers in order, then the profiles, then drop.
// Unknown policies fail closed.
func RenderEndpoint(ep *dataplane.Endpoint, fam Family, policyKnown func(dataplane.PolicyID) bool, profileKnown func(string) bool, opt Options) ([]*Chain, error) {
	if err := checkEndpoint(ep); err != nil {
		return nil, err
	}
	if ep.Kind == dataplane.EndpointHost {
		return renderHostEndpoint(ep, fam, policyKnown, profileKnown, opt), nil
	}
	returnIfAllowed := Rule{Match: hasMark(opt.acceptMark()), Target: "-j RETURN"} // cali-FORWARD / cali-INPUT accept
	return []*Chain{
		endpointChain(ep, false, returnIfAllowed, policyKnown, profileKnown, opt),
		endpointChain(ep, true, returnIfAllowed, policyKnown, profileKnown, opt),
	}, nil
}

// checkEndpoint rejects an endpoint that cannot be programmed.
func checkEndpoint(ep *dataplane.Endpoint) error {
	switch ep.Kind {
	case dataplane.EndpointWorkload:
		if err := validIface(ep.Iface); err != nil {
			return fmt.Errorf("endpoint %s: %w", ep.Key, err)
		}
		return nil
	case dataplane.EndpointHost:
		return checkHostIface(ep)
	}
	return fmt.Errorf("endpoint %s: unknown kind %d", ep.Key, ep.Kind)
}

func validIface(name string) error {
	if len(name) == 0 || len(name) > 15 {
		return fmt.Errorf("interface name %q must have 1 to 15 characters", name)
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("interface name %q has character %q", name, c)
		}
	}
	return nil
}

// endpointChain is an endpoint's tiers and profiles for one direction; allowed is the
// rule following each policy or profile jump (it matches the accept mark).
func endpointChain(ep *dataplane.Endpoint, ingress bool, allowed Rule, policyKnown func(dataplane.PolicyID) bool, profileKnown func(string) bool, opt Options) *Chain {
	c := &Chain{Name: EndpointChainName(ep.Iface, ingress)}
	pass := opt.passMark()
	for _, tier := range ep.Tiers {
		ids := tier.EgressPolicies
		if ingress {
			ids = tier.IngressPolicies
		}
		if len(ids) == 0 {
			continue
		}
		c.Rules = append(c.Rules, Rule{Target: clearMark(pass), Comment: "tier " + tier.Name})
		for _, id := range ids {
			if !policyKnown(id) {
				c.Rules = append(c.Rules, Rule{Match: notMark(pass), Target: "-j DROP", Comment: "fail closed: unknown policy " + id.String()})
				continue
			}
			c.Rules = append(c.Rules, Rule{Match: notMark(pass), Target: "-j " + PolicyChainName(id, ingress), Comment: "policy " + id.String()}, allowed)
		}
		if tier.DefaultAction != dataplane.ActionPass {
			c.Rules = append(c.Rules, Rule{Match: notMark(pass), Target: "-j DROP", Comment: "end of tier " + tier.Name})
		}
	}
	// Reached when no tier applied in this direction, or every tier passed.
	c.Rules = append(c.Rules, Rule{Target: clearMark(pass), Comment: "profiles"})
	for _, id := range ep.ProfileIDs {
		if profileKnown(id) {
			c.Rules = append(c.Rules, Rule{Target: "-j " + ProfileChainName(id, ingress), Comment: "profile " + id}, allowed)
		}
	}
	c.Rules = append(c.Rules, Rule{Target: "-j DROP", Comment: "no policy or profile allowed"})
	return c
}
