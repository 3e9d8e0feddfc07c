package calc

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
)

// onHostEndpoint tracks a HostEndpoint: cluster-wide its expected IPs and named
// ports are set members like a pod's (its labels are its own, with no namespace);
// on this node it is a local endpoint of kind Host on its interface ("*" for all)
// with the profiles of spec.profiles (profiles.go). Without a policy or a profile
// that allows, a host endpoint denies all but the failsafe ports in that direction.
func (g *Graph) onHostEndpoint(u datastore.Update) error {
	name := u.Key.Name
	if u.Object == nil {
		if h := g.hosts[name]; h != nil {
			g.setEndpoint(h, false, false)
			delete(g.hosts, name)
		}
		delete(g.invalid, u.Key)
		return nil
	}
	obj, ok := u.Object.(*v3.HostEndpoint)
	if !ok {
		return typeError(u, "*v3.HostEndpoint")
	}
	addrs, ports, problems := hostEndpointMembers(obj)
	g.setInvalid(u.Key, append(problems, profileProblems(obj.Spec.Profiles)...))
	h := g.hosts[name]
	if h == nil {
		h = &podState{name: name, key: name, host: true}
		g.hosts[name] = h
	}
	if !slices.Equal(addrs, h.m.addrs) || !slices.Equal(ports, h.m.ports) {
		g.replaceContribution(&h.m, addrs, ports)
		if h.local {
			g.out.dirtyEndpoints[h.key] = h
		}
	}
	if h.iface != obj.Spec.InterfaceName {
		h.iface = obj.Spec.InterfaceName
		g.out.dirtyEndpoints[h.key] = h
	}
	if !slices.Equal(h.profiles, obj.Spec.Profiles) {
		profiles := slices.Clone(obj.Spec.Profiles)
		if h.local {
			// Take the new references first so a profile in both lists stays.
			g.acquireProfiles(profiles)
			g.releaseProfiles(h.profiles)
			g.out.dirtyEndpoints[h.key] = h
		}
		h.profiles = profiles
	}
	labels := maps.Clone(obj.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	if h.m.labels == nil || !maps.Equal(h.m.labels, labels) {
		h.m.labels = labels
		if h.endpoint {
			g.ruleIndex.updateItem(&h.m, labels)
		}
		if h.local {
			g.policyIndex.updateItem(h, labels)
		}
	}
	g.setEndpoint(h, len(addrs) > 0, obj.Spec.Node == g.node)
	return nil
}

// hostEndpointMembers reads expectedIPs as host prefixes and spec.ports as named
// ports; bad entries are skipped and reported.
func hostEndpointMembers(obj *v3.HostEndpoint) ([]netip.Prefix, []namedPort, []string) {
	var addrs []netip.Prefix
	var problems []string
	for i, s := range obj.Spec.ExpectedIPs {
		a, err := netip.ParseAddr(s)
		if err != nil {
			problems = append(problems, fmt.Sprintf("spec.expectedIPs[%d]: invalid IP address %q", i, s))
			continue
		}
		a = a.Unmap()
		addrs = append(addrs, netip.PrefixFrom(a, a.BitLen()))
	}
	slices.SortFunc(addrs, comparePrefix)
	addrs = slices.Compact(addrs)
	var ports []namedPort
	for i, p := range obj.Spec.Ports {
		proto, err := p.Protocol.Number()
		if err != nil || p.Port == 0 {
			problems = append(problems, fmt.Sprintf("spec.ports[%d]: invalid protocol or port", i))
			continue
		}
		ports = append(ports, namedPort{name: p.Name, protocol: proto, port: p.Port})
	}
	return addrs, ports, problems
}
