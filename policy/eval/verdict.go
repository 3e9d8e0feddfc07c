package eval

import (
	"fmt"
	"strings"

	"github.com/palisadenet/palisade/policy"
)

// Outcome says how a direction was decided.
type Outcome uint8

const (
	// OutcomeNotPod: that side of the flow is not a pod, so no policy of ours
	// applies; allowed.
	OutcomeNotPod Outcome = iota + 1
	// OutcomeNoPolicy: no policy selects the pod in this direction; the namespace
	// profile allows.
	OutcomeNoPolicy
	// OutcomeRule: an Allow or Deny rule decided.
	OutcomeRule
	// OutcomeTierEnd: a policy of the tier selected the pod and nothing in the tier
	// decided; the tier's default action Deny dropped the flow.
	OutcomeTierEnd
	// OutcomePassedToProfile: policies selected the pod but every tier passed
	// (by a Pass rule or a Pass default action); the namespace profile allows.
	OutcomePassedToProfile
)

func (o Outcome) String() string {
	switch o {
	case OutcomeNotPod:
		return "NotPod"
	case OutcomeNoPolicy:
		return "NoPolicy"
	case OutcomeRule:
		return "Rule"
	case OutcomeTierEnd:
		return "TierEnd"
	case OutcomePassedToProfile:
		return "PassedToProfile"
	}
	return "Unknown"
}

// RuleRef names one rule of one policy.
type RuleRef struct {
	Tier   string
	Policy string // Policy.Key(): "namespace/name" or "name"
	// Index is the position in the policy's rules of the direction (model rules;
	// a Kubernetes rule with several peers or protocols is several model rules,
	// Origin says which Kubernetes field it came from).
	Index  int
	Action policy.Action
	Origin string
}

func (r RuleRef) String() string {
	s := fmt.Sprintf("tier %s policy %s rule %d (%s", r.Tier, r.Policy, r.Index, r.Action)
	if r.Origin != "" {
		s += ", " + r.Origin
	}
	return s + ")"
}

// Decision is the result of one direction.
type Decision struct {
	Direction policy.Direction
	// Endpoint is the pod whose policy was evaluated ("namespace/name"), or the
	// address when that side is not a pod.
	Endpoint string
	Allowed  bool
	Outcome  Outcome
	// Rule is the deciding rule (OutcomeRule).
	Rule *RuleRef
	// Tier is the tier whose end dropped the flow (OutcomeTierEnd).
	Tier string
	// Profile is the profile that allowed (OutcomeNoPolicy, OutcomePassedToProfile).
	Profile string
	// Logged lists the Log rules that matched on the way, in order.
	Logged []RuleRef
	// Passed lists the tiers that passed the flow on (by a Pass rule or by their
	// default action), in order.
	Passed []string
}

// String explains the decision in one line, e.g.
//
//	ingress y/b: denied by tier default policy y/knp.default.deny rule 0 (Deny, spec.ingress[0])
func (d Decision) String() string {
	verdict := "denied"
	if d.Allowed {
		verdict = "allowed"
	}
	var s string
	switch d.Outcome {
	case OutcomeNotPod:
		s = fmt.Sprintf("%s %s: not a pod, no policy applies: allowed", d.Direction, d.Endpoint)
	case OutcomeNoPolicy:
		s = fmt.Sprintf("%s %s: no policy selects the pod: allowed by profile %s", d.Direction, d.Endpoint, d.Profile)
	case OutcomeRule:
		s = fmt.Sprintf("%s %s: %s by %s", d.Direction, d.Endpoint, verdict, d.Rule)
	case OutcomeTierEnd:
		s = fmt.Sprintf("%s %s: denied at the end of tier %s (a policy in it selects the pod, no rule matched)", d.Direction, d.Endpoint, d.Tier)
	case OutcomePassedToProfile:
		s = fmt.Sprintf("%s %s: passed by every tier: allowed by profile %s", d.Direction, d.Endpoint, d.Profile)
	default:
		s = fmt.Sprintf("%s %s: %s", d.Direction, d.Endpoint, verdict)
	}
	if len(d.Passed) > 0 && d.Outcome != OutcomePassedToProfile {
		s += "; passed tiers " + strings.Join(d.Passed, ", ")
	}
	for _, l := range d.Logged {
		s += "; logged by " + l.String()
	}
	return s
}

// Verdict is the answer for one flow.
type Verdict struct {
	Flow    Flow
	Allowed bool
	Egress  Decision // the source's egress
	Ingress Decision // the destination's ingress
}

// String is three lines: the verdict with the flow, then egress, then ingress.
func (v Verdict) String() string {
	head := "DENY"
	if v.Allowed {
		head = "ALLOW"
	}
	return fmt.Sprintf("%s %s\n  %s\n  %s", head, v.Flow, v.Egress, v.Ingress)
}

// String writes the flow as "x/a -> y/b TCP/80", with ICMP type and code for ICMP.
func (f Flow) String() string {
	s := peerString(f.Source) + " -> " + peerString(f.Destination) + " " + f.Protocol.String()
	switch {
	case f.Protocol.IsICMP():
		s += fmt.Sprintf(" type %d code %d", f.ICMPType, f.ICMPCode)
	case f.Protocol.HasPorts():
		s += fmt.Sprintf("/%d", f.Port)
	}
	return s
}

func peerString(p Peer) string {
	switch {
	case p.Pod != "" && p.IP.IsValid():
		return p.Pod + "(" + p.IP.String() + ")"
	case p.Pod != "":
		return p.Pod
	}
	return p.IP.String()
}
