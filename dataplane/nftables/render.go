package nftables

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/dataplane/desired"
)

// Base chain priorities, relative to the standard filter priority (0). They run after
// iptables-nft's and kube-proxy's filter chains (priority 0 and below), so those keep
// their own ordering and side effects (counters, marks, REJECTs for services without
// endpoints) and we see packets after DNAT. Any table's drop is final, and our accept
// only ends our own base chain, so the numbers only decide order, never override.
// Egress runs one step before ingress so a forwarded packet is checked against the
// source's egress policy first, then (as a separate base chain on the same hook) the
// destination's ingress policy: an egress accept can never skip ingress.
const (
	PriorityEgress  int32 = 10
	PriorityIngress int32 = 11
)

// DefaultPassMark is the packet-mark bit used to carry a policy's Pass verdict back to
// the endpoint chain (skip the rest of the tier). It is set and cleared within one
// chain walk and never survives it. Chosen outside kube-proxy's 0x4000/0x8000 bits.
const DefaultPassMark uint32 = 0x00200000

// Names of the fixed objects of the table.
const (
	ChainForwardEgress  = "forward-egress"
	ChainForwardIngress = "forward-ingress"
	ChainInput          = "input"
	ChainOutput         = "output"
	MapFromWorkload     = "from-wl" // iifname -> that endpoint's egress chain
	MapToWorkload       = "to-wl"   // oifname -> that endpoint's ingress chain
	WorkloadIfacePrefix = "cali"
)

// Options tunes rendering.
type Options struct {
	// PassMark is the mark bit carrying Pass; DefaultPassMark when zero.
	PassMark uint32
	// FailsafeInbound and FailsafeOutbound are the ports host endpoints always allow
	// (destination ports); nil means DefaultFailsafeInbound/Outbound, empty means none.
	// A Config update's non-nil lists (FelixConfiguration) replace them.
	FailsafeInbound, FailsafeOutbound []ProtoPort
}

func (o Options) passMark() uint32 {
	if o.PassMark == 0 {
		return DefaultPassMark
	}
	return o.PassMark
}

// State is the full desired state, keyed as the Update stream keys it.
type State = desired.Objects

// Render renders the whole desired state. Problems that fail objects closed (a
// policy referring to an unknown set, an unsupported endpoint) do not stop rendering;
// they are returned joined in the error next to a usable table.
func Render(s *State, opt Options) (*Table, error) {
	t := &Table{}
	var errs []error
	for _, id := range desired.SortedKeys(s.Sets) {
		t.Sets = append(t.Sets, RenderSet(s.Sets[id])...)
	}
	lookup := s.SetInfo
	for _, id := range desired.SortedPolicyIDs(s.Policies) {
		chains, err := RenderPolicy(s.Policies[id], lookup, opt)
		t.Chains = append(t.Chains, chains...)
		errs = append(errs, err)
	}
	for _, id := range desired.SortedKeys(s.Profiles) {
		chains, err := RenderProfile(s.Profiles[id], lookup, opt)
		t.Chains = append(t.Chains, chains...)
		errs = append(errs, err)
	}
	maps := AllMaps()
	byName := map[string]*Set{}
	for _, m := range maps {
		byName[m.Name] = m
	}
	for _, key := range desired.SortedKeys(s.Endpoints) {
		r, err := RenderEndpoint(s.Endpoints[key], s.PolicyKnown, s.ProfileKnown, opt)
		errs = append(errs, err)
		if r == nil {
			continue
		}
		t.Chains = append(t.Chains, r.Chains...)
		byName[r.FromMap].Elements = append(byName[r.FromMap].Elements, r.FromElement)
		byName[r.ToMap].Elements = append(byName[r.ToMap].Elements, r.ToElement)
	}
	t.Sets = append(t.Sets, maps...)
	t.Chains = append(t.Chains, hostChains(opt.withConfig(s.Config))...)
	t.Chains = append(t.Chains, BaseChains(s.Config)...)
	t.Chains = append(t.Chains, NATChains(s.NAT)...)
	return t, errors.Join(errs...)
}

// shortHash is a stable 16-hex-digit name component; names stay far below nft's limits
// (and the 31 characters older kernels allowed for sets) whatever the ID's length.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// PolicyChainName is the chain holding one direction of a policy's rules.
func PolicyChainName(id dataplane.PolicyID, inbound bool) string {
	if inbound {
		return "pi-" + shortHash(id.String())
	}
	return "po-" + shortHash(id.String())
}

// ProfileChainName is the chain holding one direction of a profile's rules.
func ProfileChainName(id string, inbound bool) string {
	if inbound {
		return "ri-" + shortHash(id)
	}
	return "ro-" + shortHash(id)
}

// SetName is the name of one family's half of an IP set.
func SetName(id string, kind dataplane.SetKind, fam Family) string {
	p := "s"
	if kind == dataplane.SetKindNamedPort {
		p = "n"
	}
	return fmt.Sprintf("%s%d-%s", p, fam, shortHash(id))
}

// EndpointChainName is the endpoint's egress (from) or ingress (to) chain.
func EndpointChainName(iface string, ingress bool) string {
	if ingress {
		return "to-" + iface
	}
	return "from-" + iface
}

// AllMaps returns the workload and host-endpoint verdict maps, without elements.
func AllMaps() []*Set {
	from, to := DispatchMaps()
	hto, hfrom := hostMaps()
	return []*Set{from, to, hto, hfrom}
}

// DispatchMaps returns the two workload interface-name verdict maps, without elements.
func DispatchMaps() (from, to *Set) {
	return &Set{Name: MapFromWorkload, Type: SetIfaceVmap, Comment: "workload interface to its egress chain"},
		&Set{Name: MapToWorkload, Type: SetIfaceVmap, Comment: "workload interface to its ingress chain"}
}

// workloadOnly lets every packet that does not touch a workload interface leave our
// chain at once: the host's own traffic is never judged (not even invalid-state drops)
// by this table.
func workloadOnly(iface IfaceKind) Rule {
	return Rule{Matches: []Match{IfaceMatch{Iface: iface, Name: WorkloadIfacePrefix, Prefix: true, Negate: true}},
		Verdict: Verdict{Kind: VerdictAccept}, Comment: "not a workload interface"}
}

// conntrackRules accept established/related flows first and drop invalid ones, so
// policy only ever sees new flows and a re-applied policy never cuts a live flow.
func conntrackRules() []Rule {
	return []Rule{
		{Matches: []Match{CtStateMatch{States: CtEstablished | CtRelated}}, Verdict: Verdict{Kind: VerdictAccept}},
		{Matches: []Match{CtStateMatch{States: CtInvalid}}, Verdict: Verdict{Kind: VerdictDrop}},
	}
}

// workloadChain: skip non-workload traffic, conntrack, then dispatch by interface to
// the endpoint's chain; a cali* interface missing from the map is dropped.
func workloadChain(iface IfaceKind, m string) []Rule {
	rules := append([]Rule{workloadOnly(iface)}, conntrackRules()...)
	return append(rules,
		Rule{Verdict: Verdict{Kind: VerdictMap, Map: m, MapKey: iface}},
		Rule{Verdict: Verdict{Kind: VerdictDrop}, Comment: "unknown workload interface"})
}

// BaseChains renders the hooked chains. Pod-to-host traffic (input hook) runs the
// pod's egress policy, then Config.EndpointToHostAction. In nftables an accept never
// skips other tables, so "Return" (hand over to the host's own INPUT rules) behaves as
// Accept. Host-to-workload traffic (output hook) is accepted, as Kubernetes requires
// for kubelet probes; the output chain is where host endpoints will hook in.
func BaseChains(cfg dataplane.Config) []*Chain {
	fwdOut := &Chain{Name: ChainForwardEgress, Hook: &Hook{Name: "forward", Priority: PriorityEgress},
		Comment: "egress policy of the sending workload", Rules: workloadChain(IIFName, MapFromWorkload)}
	fwdIn := &Chain{Name: ChainForwardIngress, Hook: &Hook{Name: "forward", Priority: PriorityIngress},
		Comment: "ingress policy of the receiving workload", Rules: workloadChain(OIFName, MapToWorkload)}
	// Neighbor discovery and MLD to the host are not policy: without them a pod cannot
	// resolve its IPv6 gateway (or answer the host), whatever its egress policy says.
	nd := Rule{Matches: []Match{NFProtoMatch{Family: IPv6}, L4ProtoMatch{Protos: []uint8{protoICMPv6}},
		ICMPTypesMatch{Family: IPv6, Types: []uint8{130, 131, 132, 133, 135, 136, 143}}},
		Verdict: Verdict{Kind: VerdictAccept}, Comment: "IPv6 neighbor discovery and MLD"}
	toHost := Rule{Matches: []Match{IfaceMatch{Iface: IIFName, Name: WorkloadIfacePrefix, Prefix: true, Negate: true}},
		Verdict: Verdict{Kind: VerdictGoto, Chain: ChainHostInput}, Comment: "not a workload interface: host endpoints"}
	in := &Chain{Name: ChainInput, Hook: &Hook{Name: "input", Priority: PriorityEgress},
		Comment: "workload to its own host", Rules: []Rule{toHost, nd}}
	in.Rules = append(in.Rules, conntrackRules()...)
	if cfg.EndpointToHostAction == dataplane.ActionDeny {
		in.Rules = append(in.Rules, Rule{Verdict: Verdict{Kind: VerdictDrop}, Comment: "endpoint to host: Drop"})
	} else {
		in.Rules = append(in.Rules,
			Rule{Verdict: Verdict{Kind: VerdictMap, Map: MapFromWorkload, MapKey: IIFName}},
			Rule{Verdict: Verdict{Kind: VerdictDrop}, Comment: "unknown workload interface"})
	}
	out := &Chain{Name: ChainOutput, Hook: &Hook{Name: "output", Priority: PriorityEgress},
		Comment: "host to its workloads",
		Rules: []Rule{{Matches: []Match{IfaceMatch{Iface: OIFName, Name: WorkloadIfacePrefix, Prefix: true}},
			Verdict: Verdict{Kind: VerdictAccept}, Comment: "host to local workloads is always allowed"},
			{Verdict: Verdict{Kind: VerdictGoto, Chain: ChainHostOutput}, Comment: "host endpoints"}}}
	return []*Chain{fwdOut, fwdIn, in, out}
}

// SetInfo is what rendering needs to know about a referenced set (see desired.SetInfo).
type SetInfo = desired.SetInfo

// SetKindLookup describes a known set.
type SetKindLookup = desired.SetKindLookup

// RenderPolicy renders a policy's inbound and outbound chains. A rule that cannot be
// rendered (unknown set) makes that direction's chain a single drop: the endpoints
// using the policy fail closed and nothing else is affected.
func RenderPolicy(p *dataplane.Policy, sets SetKindLookup, opt Options) ([]*Chain, error) {
	name := "policy " + p.ID.String()
	in, errIn := renderRuleChain(PolicyChainName(p.ID, true), name+" inbound", p.Inbound, sets, opt)
	out, errOut := renderRuleChain(PolicyChainName(p.ID, false), name+" outbound", p.Outbound, sets, opt)
	return []*Chain{in, out}, errors.Join(errIn, errOut)
}

// RenderProfile renders a profile's inbound and outbound chains.
func RenderProfile(p *dataplane.Profile, sets SetKindLookup, opt Options) ([]*Chain, error) {
	name := "profile " + p.ID
	in, errIn := renderRuleChain(ProfileChainName(p.ID, true), name+" inbound", p.Inbound, sets, opt)
	out, errOut := renderRuleChain(ProfileChainName(p.ID, false), name+" outbound", p.Outbound, sets, opt)
	return []*Chain{in, out}, errors.Join(errIn, errOut)
}

func renderRuleChain(chain, comment string, rules []dataplane.Rule, sets SetKindLookup, opt Options) (*Chain, error) {
	c := &Chain{Name: chain, Comment: comment}
	for i := range rules {
		rendered, err := renderRule(&rules[i], sets, opt)
		if err != nil {
			err = fmt.Errorf("%s rule %d (%s): %w", comment, i, rules[i].ID, err)
			c.Rules = []Rule{{Verdict: Verdict{Kind: VerdictDrop}, Comment: truncate("fail closed: " + err.Error())}}
			return c, err
		}
		c.Rules = append(c.Rules, rendered...)
	}
	return c, nil
}

// EndpointRender is what one endpoint adds: its two chains and its map entries, with
// the maps they go in (the workload maps, or the host-endpoint maps).
type EndpointRender struct {
	Chains                 []*Chain
	FromElement, ToElement Element
	FromMap, ToMap         string
}

// RenderEndpoint renders a workload's egress (from-<iface>) and ingress (to-<iface>)
// chains: tiers in order, then the profiles. Unknown policies fail closed.
func RenderEndpoint(ep *dataplane.Endpoint, policyKnown func(dataplane.PolicyID) bool, profileKnown func(string) bool, opt Options) (*EndpointRender, error) {
	if ep.Kind == dataplane.EndpointHost {
		return renderHostEndpoint(ep, policyKnown, profileKnown, opt)
	}
	if ep.Kind != dataplane.EndpointWorkload {
		return nil, fmt.Errorf("endpoint %s: unknown endpoint kind %d", ep.Key, ep.Kind)
	}
	if err := validIface(ep.Iface); err != nil {
		return nil, fmt.Errorf("endpoint %s: %w", ep.Key, err)
	}
	from := endpointChain(ep, false, policyKnown, profileKnown, opt)
	to := endpointChain(ep, true, policyKnown, profileKnown, opt)
	return &EndpointRender{
		Chains:      []*Chain{from, to},
		FromElement: Element{Iface: ep.Iface, Chain: from.Name}, FromMap: MapFromWorkload,
		ToElement: Element{Iface: ep.Iface, Chain: to.Name}, ToMap: MapToWorkload,
	}, nil
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

func endpointChain(ep *dataplane.Endpoint, ingress bool, policyKnown func(dataplane.PolicyID) bool, profileKnown func(string) bool, opt Options) *Chain {
	dir := "egress"
	if ingress {
		dir = "ingress"
	}
	c := &Chain{Name: EndpointChainName(ep.Iface, ingress), Comment: dir + " of " + ep.Key}
	pass := opt.passMark()
	notPassed := MarkMatch{Mask: pass, Zero: true}
	for _, tier := range ep.Tiers {
		ids := tier.EgressPolicies
		if ingress {
			ids = tier.IngressPolicies
		}
		if len(ids) == 0 {
			continue
		}
		c.Rules = append(c.Rules, Rule{MarkClear: pass, Comment: truncate("tier " + tier.Name)})
		for _, id := range ids {
			r := Rule{Matches: []Match{notPassed}, Verdict: Verdict{Kind: VerdictJump, Chain: PolicyChainName(id, ingress)}}
			if !policyKnown(id) {
				r.Verdict, r.Comment = Verdict{Kind: VerdictDrop}, truncate("fail closed: unknown policy "+id.String())
			}
			c.Rules = append(c.Rules, r)
		}
		if tier.DefaultAction != dataplane.ActionPass {
			c.Rules = append(c.Rules, Rule{Matches: []Match{notPassed}, Verdict: Verdict{Kind: VerdictDrop},
				Comment: truncate("end of tier " + tier.Name)})
		}
	}
	// Reached when no tier applied in this direction, or every tier passed.
	c.Rules = append(c.Rules, Rule{MarkClear: pass, Comment: "profiles"})
	for _, id := range ep.ProfileIDs {
		if profileKnown(id) {
			c.Rules = append(c.Rules, Rule{Verdict: Verdict{Kind: VerdictJump, Chain: ProfileChainName(id, ingress)},
				Comment: truncate("profile " + id)})
		}
	}
	c.Rules = append(c.Rules, Rule{Verdict: Verdict{Kind: VerdictDrop}, Comment: "no policy or profile allowed"})
	return c
}

// truncate keeps comments within nft's 128-byte limit.
func truncate(s string) string {
	if len(s) > 127 {
		return s[:124] + "..."
	}
	return s
}
