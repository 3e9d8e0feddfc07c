package calc

import (
	"strconv"

	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/selector"
)

// translatePolicy turns a model policy into its dataplane form, taking a reference
// on every set its rules use; refs lists them for release.
func (g *Graph) translatePolicy(p *policy.Policy, id dataplane.PolicyID) (*dataplane.Policy, []setRef) {
	t := translator{acquireSet: g.acquireSelectorSet, acquireNamedPort: g.acquireNamedPortSet}
	dp := t.policy(p, id)
	return dp, t.refs
}

// TranslatePolicy is the dataplane form of p with set IDs, without taking any
// references; tests and tools use it to build expected states.
func TranslatePolicy(p *policy.Policy) *dataplane.Policy {
	t := translator{
		acquireSet:       func(sel *selector.Selector) string { return sel.ID() },
		acquireNamedPort: namedPortSetID,
	}
	return t.policy(p, PolicyID(p))
}

// PolicyID is the dataplane ID of a model policy: its tier and Key.
func PolicyID(p *policy.Policy) dataplane.PolicyID {
	return dataplane.PolicyID{Tier: p.Tier, Name: p.Key()}
}

// NamedPortSetID is the ID of the set of (address, protocol, port) of endpoints
// matching sel (nil: every endpoint) with a container port called name.
func NamedPortSetID(sel *selector.Selector, name string) string {
	if sel == nil {
		sel = allSelector
	}
	return namedPortSetID(sel, name)
}

type translator struct {
	acquireSet       func(*selector.Selector) string
	acquireNamedPort func(*selector.Selector, string) string
	refs             []setRef
}

func (t *translator) policy(p *policy.Policy, id dataplane.PolicyID) *dataplane.Policy {
	dp := &dataplane.Policy{ID: id}
	prefix := id.String() + "/"
	if p.HasType(policy.Ingress) {
		dp.Inbound = t.rules(p.Ingress, prefix+"ingress/")
	}
	if p.HasType(policy.Egress) {
		dp.Outbound = t.rules(p.Egress, prefix+"egress/")
	}
	return dp
}

func (t *translator) rules(rules []policy.Rule, prefix string) []dataplane.Rule {
	if len(rules) == 0 {
		return nil
	}
	out := make([]dataplane.Rule, len(rules))
	for i := range rules {
		out[i] = t.rule(&rules[i], prefix+strconv.Itoa(i))
	}
	return out
}

func (t *translator) rule(r *policy.Rule, id string) dataplane.Rule {
	out := dataplane.Rule{
		ID:          id,
		Action:      action(r.Action),
		IPVersion:   uint8(r.IPVersion),
		Protocol:    protocol(r.Protocol),
		NotProtocol: protocol(r.NotProtocol),
		Source:      t.entity(&r.Source),
		Destination: t.entity(&r.Destination),
		ICMP:        icmp(r.ICMP),
		NotICMP:     icmp(r.NotICMP),
	}
	if r.Action == policy.Log {
		out.LogPrefix = "palisade " + id
	}
	return out
}

func (t *translator) entity(e *policy.EntityRule) dataplane.EndpointMatch {
	m := dataplane.EndpointMatch{Nets: e.Nets, NotNets: e.NotNets}
	if e.Peer != nil {
		m.SetIDs = []string{t.set(e.Peer)}
	}
	if e.NotPeer != nil {
		m.NotSetIDs = []string{t.set(e.NotPeer)}
	}
	portSel := e.Peer
	if portSel == nil {
		portSel = allSelector
	}
	m.Ports, m.NamedPortSetIDs = t.ports(e.Ports, portSel)
	m.NotPorts, m.NotNamedPortSetIDs = t.ports(e.NotPorts, portSel)
	return m
}

func (t *translator) set(sel *selector.Selector) string {
	t.refs = append(t.refs, setRef{sel: sel})
	return t.acquireSet(sel)
}

func (t *translator) ports(ports []policy.Port, sel *selector.Selector) ([]dataplane.PortRange, []string) {
	var ranges []dataplane.PortRange
	var named []string
	for _, p := range ports {
		if !p.IsNamed() {
			ranges = append(ranges, dataplane.PortRange{First: p.First, Last: p.Last})
			continue
		}
		t.refs = append(t.refs, setRef{sel: sel, portName: p.Name})
		named = append(named, t.acquireNamedPort(sel, p.Name))
	}
	return ranges, named
}

func action(a policy.Action) dataplane.Action {
	switch a {
	case policy.Allow:
		return dataplane.ActionAllow
	case policy.Pass:
		return dataplane.ActionPass
	case policy.Log:
		return dataplane.ActionLog
	}
	return dataplane.ActionDeny
}

func protocol(p *policy.Protocol) *uint8 {
	if p == nil {
		return nil
	}
	n := uint8(*p)
	return &n
}

func icmp(m *policy.ICMPMatch) *dataplane.ICMPMatch {
	if m == nil {
		return nil
	}
	out := &dataplane.ICMPMatch{Type: m.Type}
	if m.Code != nil {
		c := *m.Code
		out.Code = &c
	}
	return out
}
