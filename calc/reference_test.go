package calc

import (
	"fmt"
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/calc/desired"
	"github.com/palisadenet/palisade/calc/ifacename"
	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/selector"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// world is the content of a datastore: every object by key.
type world map[datastore.Key]runtime.Object

// refEndpoint is an endpoint as the reference computation sees it.
type refEndpoint struct {
	host   bool
	iface  string
	key    string
	ns     string
	node   string
	labels map[string]string
	addrs  []netip.Prefix
	ports  []namedPort
	// profiles: a host endpoint's spec.profiles.
	profiles []string
}

type refNetSet struct {
	labels map[string]string
	nets   []netip.Prefix
}

// referenceState computes the desired state of node from scratch, in the most
// direct way: evaluate every selector over every endpoint and network set. It
// shares the policy conversion (and its fail-closed stand-in) and the rule
// translation with the graph, and nothing of the incremental machinery.
func referenceState(node string, w world) *desired.State {
	nsLabels := map[string]map[string]string{}
	saLabels := map[string]map[string]string{}
	felix := map[string]*v3.FelixConfigurationSpec{}
	for k, o := range w {
		switch k.Kind {
		case datastore.KindNamespace:
			l := maps.Clone(o.(*corev1.Namespace).Labels)
			if l == nil {
				l = map[string]string{}
			}
			l[LabelMetadataName] = k.Name
			nsLabels[k.Name] = l
		case datastore.KindServiceAccount:
			saLabels[k.Namespace+"/"+k.Name] = o.(*corev1.ServiceAccount).Labels
		case datastore.KindFelixConfiguration:
			felix[k.Name] = &o.(*v3.FelixConfiguration).Spec
		}
	}
	saExists := func(ns, name string) bool { _, ok := saLabels[ns+"/"+name]; return ok }
	nsOf := func(ns string) map[string]string {
		if l, ok := nsLabels[ns]; ok {
			return l
		}
		return map[string]string{LabelMetadataName: ns}
	}
	var eps []refEndpoint
	var sets []refNetSet
	tiers := map[string]policy.Tier{}
	var pols []*policy.Policy
	for k, o := range w {
		switch k.Kind {
		case datastore.KindPod:
			pod := o.(*corev1.Pod)
			addrs, _ := podAddrs(pod)
			if len(addrs) == 0 || pod.Spec.HostNetwork || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
				continue
			}
			sa := pod.Spec.ServiceAccountName
			eps = append(eps, refEndpoint{
				key: k.Namespace + "/" + k.Name, ns: k.Namespace, node: pod.Spec.NodeName, addrs: addrs, ports: podPorts(pod),
				labels: policy.EndpointLabels(policy.EndpointIdentity{Namespace: k.Namespace, Labels: pod.Labels,
					NamespaceLabels: nsOf(k.Namespace), ServiceAccount: sa, ServiceAccountLabels: saLabels[k.Namespace+"/"+sa]}),
			})
		case datastore.KindHostEndpoint:
			h := o.(*v3.HostEndpoint)
			addrs, ports, _ := hostEndpointMembers(h)
			labels := maps.Clone(h.Labels)
			if labels == nil {
				labels = map[string]string{}
			}
			eps = append(eps, refEndpoint{host: true, iface: h.Spec.InterfaceName, key: k.Name, node: h.Spec.Node,
				labels: labels, addrs: addrs, ports: ports, profiles: h.Spec.Profiles})
		case datastore.KindNetworkSet, datastore.KindGlobalNetworkSet:
			var s policy.NetworkSet
			if k.Kind == datastore.KindNetworkSet {
				s, _ = policy.FromNetworkSet(o.(*v3.NetworkSet))
			} else {
				s, _ = policy.FromGlobalNetworkSet(o.(*v3.GlobalNetworkSet))
			}
			var nets []netip.Prefix
			for _, n := range s.Nets {
				nets = append(nets, n.Masked())
			}
			sets = append(sets, refNetSet{labels: policy.NetworkSetLabels(&s, nsOf(s.Namespace)), nets: nets})
		case datastore.KindTier:
			t, err := policy.FromTier(o.(*v3.Tier))
			if err != nil {
				t = policy.Tier{Name: k.Name, Order: o.(*v3.Tier).Spec.Order, DefaultAction: policy.Deny}
			}
			tiers[k.Name] = t
		case datastore.KindKubernetesNetworkPolicy, datastore.KindNetworkPolicy, datastore.KindGlobalNetworkPolicy:
			p, _, err := convertPolicy(datastore.Update{Key: k, Object: o})
			if err != nil {
				panic(err)
			}
			pols = append(pols, p)
		}
	}
	tierOf := func(name string) policy.Tier {
		if t, ok := tiers[name]; ok {
			return t
		}
		if name == policy.DefaultTierName {
			return policy.DefaultTier()
		}
		return policy.Tier{Name: name, DefaultAction: policy.Deny}
	}

	st := desired.New()
	st.Config = EffectiveConfig(node, felix)
	for _, ep := range eps {
		if ep.node != node {
			continue
		}
		byTier := map[string][]*policy.Policy{}
		for _, p := range pols {
			if endpointsSelector(p).Evaluate(ep.labels) {
				byTier[p.Tier] = append(byTier[p.Tier], p)
				dp := TranslatePolicy(p)
				st.Policies[dp.ID] = *dp
				addReferencedSets(st, p, eps, sets)
			}
		}
		var ts []policy.Tier
		for name := range byTier {
			ts = append(ts, tierOf(name))
		}
		if ep.host {
			for _, id := range ep.profiles {
				st.Profiles[id] = *BuiltinProfile(id, saExists)
			}
			st.Endpoints[ep.key] = dataplane.Endpoint{Key: ep.key, Kind: dataplane.EndpointHost, Iface: ep.iface,
				Addrs: ep.addrs, Tiers: TierPolicies(ts, byTier), ProfileIDs: slices.Clone(ep.profiles)}
			continue
		}
		prof := NamespaceProfile(ep.ns)
		st.Profiles[prof.ID] = *prof
		st.Endpoints[ep.key] = dataplane.Endpoint{
			Key: ep.key, Kind: dataplane.EndpointWorkload, Iface: ifacename.Workload(ep.ns, strings.SplitN(ep.key, "/", 2)[1]),
			Addrs: ep.addrs, Tiers: TierPolicies(ts, byTier), ProfileIDs: []string{prof.ID},
		}
	}
	return st
}

// addReferencedSets adds every set p's rules use, with members computed directly.
func addReferencedSets(st *desired.State, p *policy.Policy, eps []refEndpoint, sets []refNetSet) {
	forEachEntity(p, func(e *policy.EntityRule) {
		for _, sel := range []*selector.Selector{e.Peer, e.NotPeer} {
			if sel == nil {
				continue
			}
			members := map[dataplane.SetMember]bool{}
			for _, ep := range eps {
				if sel.Evaluate(ep.labels) {
					for _, a := range ep.addrs {
						members[dataplane.SetMember{Prefix: a}] = true
					}
				}
			}
			for _, s := range sets {
				if sel.Evaluate(s.labels) {
					for _, n := range s.nets {
						members[dataplane.SetMember{Prefix: n}] = true
					}
				}
			}
			st.Sets[sel.ID()] = memberSet(sel.ID(), dataplane.SetKindNets, members)
		}
		for _, port := range slices.Concat(e.Ports, e.NotPorts) {
			if !port.IsNamed() {
				continue
			}
			sel := e.Peer
			if sel == nil {
				sel = selector.MustParse("all()")
			}
			members := map[dataplane.SetMember]bool{}
			for _, ep := range eps {
				if !sel.Evaluate(ep.labels) {
					continue
				}
				for _, cp := range ep.ports {
					if cp.name == port.Name {
						for _, a := range ep.addrs {
							members[dataplane.SetMember{Prefix: a, Protocol: cp.protocol, Port: cp.port}] = true
						}
					}
				}
			}
			id := NamedPortSetID(e.Peer, port.Name)
			st.Sets[id] = memberSet(id, dataplane.SetKindNamedPort, members)
		}
	})
}

func forEachEntity(p *policy.Policy, f func(*policy.EntityRule)) {
	for _, d := range p.Types {
		rules := p.Rules(d)
		for i := range rules {
			f(&rules[i].Source)
			f(&rules[i].Destination)
		}
	}
}

func memberSet(id string, kind dataplane.SetKind, members map[dataplane.SetMember]bool) dataplane.IPSet {
	s := dataplane.IPSet{ID: id, Kind: kind, Members: []dataplane.SetMember{}}
	for m := range members {
		s.Members = append(s.Members, m)
	}
	desired.SortMembers(s.Members)
	return s
}

var stateCmpOpts = []cmp.Option{
	cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{}),
	cmpopts.EquateEmpty(),
	cmpopts.IgnoreFields(desired.State{}, "InSync", "Config"),
}

// diffStates is "" when the states are equal. Configs are compared apart, without
// EquateEmpty: a nil failsafe list (the default) and an empty one (none) differ.
func diffStates(want, got *desired.State) string {
	d := cmp.Diff(want, got, stateCmpOpts...)
	if c := cmp.Diff(configOrDefault(want.Config), configOrDefault(got.Config), cmpopts.EquateComparable(netip.Prefix{})); c != "" {
		d += "Config:\n" + c
	}
	return d
}

// configOrDefault is c, or for nil (no Config emitted yet) the default the
// dataplane starts with.
func configOrDefault(c *dataplane.Config) *dataplane.Config {
	if c == nil {
		return &dataplane.Config{EndpointToHostAction: dataplane.ActionAllow}
	}
	return c
}

// summary renders a state as sorted lines that name sets by what they hold, so
// expected states in tests are readable. names maps set IDs to labels.
func summary(st *desired.State, names map[string]string) []string {
	var lines []string
	name := func(id string) string {
		if n, ok := names[id]; ok {
			return n
		}
		return id
	}
	for _, s := range st.Sets {
		var ms []string
		for _, m := range s.Members {
			if s.Kind == dataplane.SetKindNamedPort {
				ms = append(ms, fmt.Sprintf("%s/%d/%d", m.Prefix.Addr(), m.Protocol, m.Port))
			} else if m.Prefix.IsSingleIP() {
				ms = append(ms, m.Prefix.Addr().String())
			} else {
				ms = append(ms, m.Prefix.String())
			}
		}
		lines = append(lines, "set "+name(s.ID)+" = "+strings.Join(ms, " "))
	}
	for id := range st.Policies {
		lines = append(lines, "policy "+id.String())
	}
	for _, ep := range st.Endpoints {
		var tiers []string
		for _, t := range ep.Tiers {
			tiers = append(tiers, fmt.Sprintf("%s(in:%s eg:%s %s)", t.Name, ids(t.IngressPolicies), ids(t.EgressPolicies), t.DefaultAction))
		}
		lines = append(lines, fmt.Sprintf("endpoint %s %s %v tiers=[%s]", ep.Key, ep.Iface[:min(4, len(ep.Iface))], ep.Addrs, strings.Join(tiers, " ")))
	}
	sort.Strings(lines)
	return lines
}

func ids(ps []dataplane.PolicyID) string {
	var s []string
	for _, p := range ps {
		s = append(s, p.Name)
	}
	return strings.Join(s, ",")
}

// setNames names the sets of every policy of w: "sel(<canonical selector>)" and
// "port(<selector>,<name>)".
func setNames(w world) map[string]string {
	names := map[string]string{}
	for k, o := range w {
		switch k.Kind {
		case datastore.KindKubernetesNetworkPolicy, datastore.KindNetworkPolicy, datastore.KindGlobalNetworkPolicy:
		default:
			continue
		}
		p, _, _ := convertPolicy(datastore.Update{Key: k, Object: o})
		forEachEntity(p, func(e *policy.EntityRule) {
			for _, sel := range []*selector.Selector{e.Peer, e.NotPeer} {
				if sel != nil {
					names[sel.ID()] = "sel(" + sel.String() + ")"
				}
			}
			for _, port := range slices.Concat(e.Ports, e.NotPorts) {
				if port.IsNamed() {
					names[NamedPortSetID(e.Peer, port.Name)] = "port(" + e.Peer.String() + "," + port.Name + ")"
				}
			}
		})
	}
	return names
}

// applyOrFail applies updates to st, failing the test on a contract violation.
func applyOrFail(t testing.TB, st *desired.State, updates []dataplane.Update) {
	t.Helper()
	if err := st.ApplyAll(updates); err != nil {
		t.Fatalf("applying graph output: %v", err)
	}
}

// statesEqual is a fast equality for the property tests (cmp.Equal is slow on
// thousands of states): nil and empty slices are made alike, then DeepEqual.
func statesEqual(a, b *desired.State) bool {
	if !reflect.DeepEqual(configOrDefault(a.Config), configOrDefault(b.Config)) {
		return false
	}
	x, y := *a, *b
	x.InSync, y.InSync, x.Config, y.Config = false, false, nil, nil
	va, vb := reflect.ValueOf(&x).Elem(), reflect.ValueOf(&y).Elem()
	nilEmpty(va)
	nilEmpty(vb)
	return reflect.DeepEqual(va.Interface(), vb.Interface())
}

// nilEmpty replaces empty slices by nil everywhere below v (which must be settable
// or a map). Maps are rebuilt since their values are not addressable.
func nilEmpty(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			nilEmpty(v.Elem())
		}
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[netip.Prefix]() || v.Type() == reflect.TypeFor[netip.Addr]() {
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				nilEmpty(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			if v.CanSet() {
				v.SetZero()
			}
			return
		}
		for i := range v.Len() {
			nilEmpty(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			val := reflect.New(v.Type().Elem()).Elem()
			val.Set(iter.Value())
			nilEmpty(val)
			out.SetMapIndex(iter.Key(), val)
		}
		if v.CanSet() {
			v.Set(out)
		}
	}
}
