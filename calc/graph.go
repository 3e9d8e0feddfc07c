package calc

import (
	"fmt"
	"slices"
	"strings"

	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/selector"
	"go.uber.org/zap"
)

// Graph is the calculation graph of one node. Create it with New.
type Graph struct {
	log  *zap.Logger
	node string

	namespaces map[string]*namespaceState
	pods       map[string]*podState // "namespace/name"
	hosts      map[string]*podState // HostEndpoints by name
	netSets    map[datastore.Key]*member
	saLabels   map[string]map[string]string
	tiers      map[string]policy.Tier
	policies   map[datastore.Key]*policyState
	config     map[string]*felixSettings // FelixConfiguration by name

	// ruleIndex matches rule selectors against every endpoint and network set.
	ruleIndex *labelIndex[*member, *ruleSelector]
	ruleSels  map[string]*ruleSelector // by selector ID
	sets      map[string]*ipSet        // live sets, and dead ones until flushed

	// policyIndex matches policy endpoint selectors against local endpoints.
	policyIndex *labelIndex[*podState, *policyState]
	active      map[dataplane.PolicyID]*policyState
	profileRefs map[string]int // profile ID -> local endpoints naming it

	invalid map[datastore.Key][]string
	out     emitter
}

// New returns an empty graph for the node named node. log must not be nil.
func New(log *zap.Logger, node string) *Graph {
	g := &Graph{
		log:         log,
		node:        node,
		namespaces:  map[string]*namespaceState{},
		pods:        map[string]*podState{},
		hosts:       map[string]*podState{},
		netSets:     map[datastore.Key]*member{},
		saLabels:    map[string]map[string]string{},
		tiers:       map[string]policy.Tier{},
		policies:    map[datastore.Key]*policyState{},
		config:      map[string]*felixSettings{},
		ruleSels:    map[string]*ruleSelector{},
		sets:        map[string]*ipSet{},
		active:      map[dataplane.PolicyID]*policyState{},
		profileRefs: map[string]int{},
		invalid:     map[datastore.Key][]string{},
	}
	g.ruleIndex = newLabelIndex(g.ruleMatched, g.ruleUnmatched)
	g.policyIndex = newLabelIndex(g.policyMatched, g.policyUnmatched)
	g.out.init()
	return g
}

// Apply applies one batch of datastore updates and returns the dataplane updates
// that bring the previous desired state to the new one.
func (g *Graph) Apply(updates []datastore.Update) []dataplane.Update {
	for _, u := range updates {
		g.apply(u)
	}
	return g.flush()
}

// InSync returns the mark that the initial snapshot is complete; call it after
// applying the datastore's in-sync event.
func (g *Graph) InSync() []dataplane.Update {
	return []dataplane.Update{{InSync: true}}
}

func (g *Graph) apply(u datastore.Update) {
	var err error
	switch u.Key.Kind {
	case datastore.KindPod:
		err = g.onPod(u)
	case datastore.KindNamespace:
		err = g.onNamespace(u)
	case datastore.KindServiceAccount:
		err = g.onServiceAccount(u)
	case datastore.KindKubernetesNetworkPolicy, datastore.KindNetworkPolicy, datastore.KindGlobalNetworkPolicy:
		err = g.onPolicy(u)
	case datastore.KindTier:
		err = g.onTier(u)
	case datastore.KindNetworkSet, datastore.KindGlobalNetworkSet:
		err = g.onNetworkSet(u)
	case datastore.KindFelixConfiguration:
		err = g.onFelixConfiguration(u)
	case datastore.KindHostEndpoint:
		err = g.onHostEndpoint(u)
	default:
		return // kinds the policy dataplane does not use (Node, IPPool, BGP...)
	}
	if err != nil {
		// A wrong Go type for a kind is a bug in the datastore adapter, not bad
		// user input; log it and keep going.
		g.log.Error("ignoring datastore update", zap.Stringer("object", u.Key), zap.Error(err))
	}
}

// setInvalid records (or, with no problems, clears) the validation problems of key.
func (g *Graph) setInvalid(key datastore.Key, problems []string) {
	if len(problems) == 0 {
		delete(g.invalid, key)
		return
	}
	g.invalid[key] = problems
	g.log.Warn("invalid object", zap.Stringer("object", key), zap.Strings("problems", problems))
}

// Status is what the graph can tell an operator.
type Status struct {
	// Invalid lists objects that failed validation, sorted by key.
	Invalid []InvalidObject
	// Counts of what the graph holds.
	Pods, LocalEndpoints, Policies, ActivePolicies, Selectors, Sets int
}

// InvalidObject is one object that failed validation and its problems (field path
// and detail).
type InvalidObject struct {
	Key      datastore.Key
	Problems []string
}

// Status reports the invalid objects and the size of the state.
func (g *Graph) Status() Status {
	st := Status{
		Pods: len(g.pods), Policies: len(g.policies), ActivePolicies: len(g.active),
		Selectors: len(g.ruleSels), Sets: len(g.sets),
	}
	for _, eps := range []map[string]*podState{g.pods, g.hosts} {
		for _, p := range eps {
			if p.local {
				st.LocalEndpoints++
			}
		}
	}
	for k, problems := range g.invalid {
		st.Invalid = append(st.Invalid, InvalidObject{Key: k, Problems: slices.Clone(problems)})
	}
	slices.SortFunc(st.Invalid, func(a, b InvalidObject) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return st
}

// problemsOf turns a conversion error into one line per field problem.
func problemsOf(err error) []string {
	if err == nil {
		return nil
	}
	var out []string
	if ve, ok := err.(*policy.ValidationError); ok {
		for _, fe := range ve.Errors {
			out = append(out, fe.Error())
		}
		return out
	}
	return []string{err.Error()}
}

func typeError(u datastore.Update, want string) error {
	return fmt.Errorf("%s: object is %T, want %s", u.Key, u.Object, want)
}

// allSelector is all(), used for named ports whose rule side has no selector.
var allSelector = selector.MustParse("all()")
