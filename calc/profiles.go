package calc

import (
	"fmt"
	"strings"

	"github.com/palisadenet/palisade/dataplane"
)

// Profiles are the fallback of an endpoint in a direction no policy selects it in.
// There is no Profile kind in api/v3, so the graph knows only the profiles Calico
// derives or ships itself, and resolves every other name as Calico resolves a
// profile that does not exist: to deny-all rules, so the endpoint fails closed.
//
//   - kns.<namespace>: the namespace profile every pod gets; allows everything. It
//     is treated as existing whether or not the Namespace object is present, as for
//     the pods of that namespace.
//   - ksa.<namespace>.<serviceaccount>: the service-account profile; no rules (its
//     only job in Calico is the pcsa.* labels, which the graph synthesizes for pods
//     directly), so evaluation goes on with the endpoint's next profile. While the
//     ServiceAccount does not exist it denies, as a missing profile does in Calico.
//   - projectcalico-default-allow: Calico's built-in allow-all profile, used on host
//     endpoints that should stay open.
//
// Not supported: user-defined Profile objects, and the labels a profile applies to
// the endpoints that name it (labelsToApply); a host endpoint's labels are its own.
const (
	// DefaultAllowProfile is Calico's built-in allow-all profile.
	DefaultAllowProfile = "projectcalico-default-allow"
	// NamespaceProfilePrefix and ServiceAccountProfilePrefix start the IDs of the
	// Kubernetes-derived profiles.
	NamespaceProfilePrefix      = "kns."
	ServiceAccountProfilePrefix = "ksa."
)

type profileKind uint8

const (
	profileUnknown profileKind = iota
	profileDefaultAllow
	profileNamespace
	profileServiceAccount
)

// parseProfileID says which built-in profile id is; for a service-account profile
// it also returns the namespace and service account. Namespaces are DNS labels (no
// dots), so the first dot after the prefix ends the namespace.
func parseProfileID(id string) (kind profileKind, ns, sa string) {
	switch {
	case id == DefaultAllowProfile:
		return profileDefaultAllow, "", ""
	case strings.HasPrefix(id, NamespaceProfilePrefix) && len(id) > len(NamespaceProfilePrefix):
		return profileNamespace, id[len(NamespaceProfilePrefix):], ""
	case strings.HasPrefix(id, ServiceAccountProfilePrefix):
		ns, sa, ok := strings.Cut(id[len(ServiceAccountProfilePrefix):], ".")
		if ok && ns != "" && sa != "" {
			return profileServiceAccount, ns, sa
		}
	}
	return profileUnknown, "", ""
}

// BuiltinProfile is the profile id resolves to; serviceAccountExists says whether
// the ServiceAccount of a ksa.* profile is in the datastore.
func BuiltinProfile(id string, serviceAccountExists func(namespace, name string) bool) *dataplane.Profile {
	switch kind, ns, sa := parseProfileID(id); kind {
	case profileDefaultAllow, profileNamespace:
		return ruleProfile(id, dataplane.ActionAllow)
	case profileServiceAccount:
		if serviceAccountExists(ns, sa) {
			return &dataplane.Profile{ID: id}
		}
	}
	return ruleProfile(id, dataplane.ActionDeny)
}

// ruleProfile is a profile of one rule per direction that matches everything.
func ruleProfile(id string, a dataplane.Action) *dataplane.Profile {
	return &dataplane.Profile{
		ID:       id,
		Inbound:  []dataplane.Rule{{ID: id + "/ingress/0", Action: a}},
		Outbound: []dataplane.Rule{{ID: id + "/egress/0", Action: a}},
	}
}

// profileProblems reports the names in a host endpoint's spec.profiles that the
// graph does not know (they deny).
func profileProblems(ids []string) []string {
	var out []string
	for i, id := range ids {
		if kind, _, _ := parseProfileID(id); kind == profileUnknown {
			out = append(out, fmt.Sprintf("spec.profiles[%d]: profile %q is not known (supported: %s, %s<namespace>, %s<namespace>.<serviceaccount>); it denies all traffic, as a missing profile does",
				i, id, DefaultAllowProfile, NamespaceProfilePrefix, ServiceAccountProfilePrefix))
		}
	}
	return out
}

// profile is the current content of profile id.
func (g *Graph) profile(id string) *dataplane.Profile {
	return BuiltinProfile(id, func(ns, sa string) bool {
		_, ok := g.saLabels[ns+"/"+sa]
		return ok
	})
}

// acquireProfiles and releaseProfiles count the local endpoints naming each
// profile; a profile is emitted while one does.
func (g *Graph) acquireProfiles(ids []string) {
	for _, id := range ids {
		g.profileRefs[id]++
		if g.profileRefs[id] == 1 {
			g.out.dirtyProfiles[id] = struct{}{}
		}
	}
}

func (g *Graph) releaseProfiles(ids []string) {
	for _, id := range ids {
		g.profileRefs[id]--
		if g.profileRefs[id] == 0 {
			delete(g.profileRefs, id)
			g.out.dirtyProfiles[id] = struct{}{}
		}
	}
}

// serviceAccountChanged re-resolves the profile of a service account that appeared
// or went away, if a local endpoint names it.
func (g *Graph) serviceAccountChanged(ns, name string) {
	id := ServiceAccountProfilePrefix + ns + "." + name
	if g.profileRefs[id] > 0 {
		g.out.dirtyProfiles[id] = struct{}{}
	}
}
