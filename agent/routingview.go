package agent

import (
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sort"
	"strconv"

	corev1 "k8s.io/api/core/v1"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/routing/bgp"
	"github.com/palisadenet/palisade/routing/fromapi"
	"github.com/palisadenet/palisade/routing/routes"
)

// Node annotations through which nodes publish their routing facts, as Calico's
// Kubernetes datastore does; every agent reads the others' from the Node objects.
const (
	AnnotationIPv4Address     = "projectcalico.org/IPv4Address"
	AnnotationASNumber        = "projectcalico.org/ASNumber"
	AnnotationRRClusterID     = "projectcalico.org/RouteReflectorClusterID"
	AnnotationVXLANTunnelAddr = "projectcalico.org/IPv4VXLANTunnelAddr"
	AnnotationVXLANTunnelMAC  = "projectcalico.org/VXLANTunnelMACAddr"
)

// routingView is the datastore as routing sees it: pools, blocks, nodes and the BGP
// resources. It is pure: updates in, routes.Input and bgp.PeerInput out.
type routingView struct {
	pools   map[string]*v3.IPPool
	blocks  map[string]*v3.IPAMBlock
	nodes   map[string]*corev1.Node
	peers   map[string]*v3.BGPPeer
	bgpConf *v3.BGPConfiguration // the "default" one
}

func newRoutingView() *routingView {
	return &routingView{pools: map[string]*v3.IPPool{}, blocks: map[string]*v3.IPAMBlock{},
		nodes: map[string]*corev1.Node{}, peers: map[string]*v3.BGPPeer{}}
}

// apply records the updates routing cares about and reports whether any did.
func (v *routingView) apply(updates []datastore.Update) bool {
	changed := false
	for _, u := range updates {
		name := u.Key.Name
		switch u.Key.Kind {
		case "IPPool":
			changed = true
			setOrDelete(v.pools, name, u.Object)
		case "IPAMBlock":
			changed = true
			setOrDelete(v.blocks, name, u.Object)
		case datastore.KindNode:
			changed = true
			setOrDelete(v.nodes, name, u.Object)
		case "BGPPeer":
			changed = true
			setOrDelete(v.peers, name, u.Object)
		case "BGPConfiguration":
			if name != "default" {
				continue
			}
			changed = true
			v.bgpConf, _ = u.Object.(*v3.BGPConfiguration)
		}
	}
	return changed
}

// setOrDelete stores obj under name, or deletes name when obj is nil or another type.
func setOrDelete[T any](m map[string]*T, name string, obj any) {
	if o, ok := obj.(*T); ok && o != nil {
		m[name] = o
		return
	}
	delete(m, name)
}

// routeInput builds the router's input for the local node. Objects that cannot be
// used are skipped and reported in problems, so one bad pool does not stop routing.
func (v *routingView) routeInput(local routes.LocalNode) (routes.Input, []string) {
	in := routes.Input{Local: local}
	var problems []string
	for _, name := range sortedKeys(v.pools) {
		// Disabled pools keep their routes: they hand out no new addresses, but
		// the pods already in them must stay reachable.
		rp, err := fromapi.Pool(v.pools[name])
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		in.Pools = append(in.Pools, rp)
	}
	for _, name := range sortedKeys(v.blocks) {
		blk, borrowed, err := fromapi.Block(v.blocks[name])
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		in.Blocks = append(in.Blocks, blk)
		in.Borrowed = append(in.Borrowed, borrowed...)
	}
	for _, name := range sortedKeys(v.nodes) {
		if name == local.Name {
			continue
		}
		rn, err := remoteNode(v.nodes[name])
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		if rn.IP.IsValid() {
			in.Nodes = append(in.Nodes, rn)
		}
	}
	return in, problems
}

// ownBlocks lists the blocks affine to this node: what it advertises.
func (v *routingView) ownBlocks(node string) []netip.Prefix {
	var out []netip.Prefix
	for _, name := range sortedKeys(v.blocks) {
		blk, _, err := fromapi.Block(v.blocks[name])
		if err == nil && blk.Node == node {
			out = append(out, blk.CIDR)
		}
	}
	return out
}

// borrowedHere lists /32s this node holds in other nodes' blocks: advertised too,
// so the more specific route wins over the block's owner.
func (v *routingView) borrowedHere(node string) []netip.Prefix {
	var out []netip.Prefix
	for _, name := range sortedKeys(v.blocks) {
		_, borrowed, err := fromapi.Block(v.blocks[name])
		if err != nil {
			continue
		}
		for _, b := range borrowed {
			if b.Node == node {
				out = append(out, netip.PrefixFrom(b.IP, b.IP.BitLen()))
			}
		}
	}
	return out
}

// peerInput builds the BGP peering input; secrets resolves BGPPeer passwords.
func (v *routingView) peerInput(local string, match bgp.Matcher, secrets fromapi.SecretReader) (bgp.PeerInput, []string) {
	var problems []string
	cfg, err := fromapi.Config(v.bgpConf)
	if err != nil {
		problems = append(problems, err.Error())
	}
	in := bgp.PeerInput{Local: local, Config: cfg, Match: match}
	for _, name := range sortedKeys(v.nodes) {
		n, err := bgpNode(v.nodes[name])
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		in.Nodes = append(in.Nodes, n)
	}
	for _, name := range sortedKeys(v.peers) {
		spec, err := fromapi.PeerSpec(v.peers[name], secrets)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		in.Specs = append(in.Specs, spec)
	}
	return in, problems
}

// nodeAddress reads a node's published IPv4 address and subnet.
func nodeAddress(n *corev1.Node) (netip.Prefix, error) {
	raw := n.Annotations[AnnotationIPv4Address]
	if raw == "" {
		return netip.Prefix{}, nil
	}
	p, err := netip.ParsePrefix(raw)
	if err != nil {
		if a, aerr := netip.ParseAddr(raw); aerr == nil {
			return netip.PrefixFrom(a, 32), nil
		}
		return netip.Prefix{}, fmt.Errorf("node %s: metadata.annotations[%s]: %q is not an address/prefix", n.Name, AnnotationIPv4Address, raw)
	}
	return p, nil
}

func remoteNode(n *corev1.Node) (routes.RemoteNode, error) {
	addr, err := nodeAddress(n)
	if err != nil {
		return routes.RemoteNode{}, err
	}
	rn := routes.RemoteNode{Name: n.Name, IP: addr.Addr()}
	if raw := n.Annotations[AnnotationVXLANTunnelAddr]; raw != "" {
		if rn.VTEPIP, err = netip.ParseAddr(raw); err != nil {
			return routes.RemoteNode{}, fmt.Errorf("node %s: metadata.annotations[%s]: %w", n.Name, AnnotationVXLANTunnelAddr, err)
		}
	}
	if raw := n.Annotations[AnnotationVXLANTunnelMAC]; raw != "" {
		if rn.VTEPMAC, err = net.ParseMAC(raw); err != nil {
			return routes.RemoteNode{}, fmt.Errorf("node %s: metadata.annotations[%s]: %w", n.Name, AnnotationVXLANTunnelMAC, err)
		}
	}
	return rn, nil
}

func bgpNode(n *corev1.Node) (bgp.Node, error) {
	addr, err := nodeAddress(n)
	if err != nil {
		return bgp.Node{}, err
	}
	out := bgp.Node{Name: n.Name, IP: addr.Addr(), RouteReflectorClusterID: n.Annotations[AnnotationRRClusterID], Labels: n.Labels}
	if raw := n.Annotations[AnnotationASNumber]; raw != "" {
		as, err := strconv.ParseUint(raw, 10, 32)
		if err != nil {
			return bgp.Node{}, fmt.Errorf("node %s: metadata.annotations[%s]: %q is not an AS number", n.Name, AnnotationASNumber, raw)
		}
		out.ASNumber = uint32(as)
	}
	return out, nil
}

func sortedKeys[T any](m map[string]T) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// samePrefixes compares two prefix lists as sets.
func samePrefixes(a, b []netip.Prefix) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	cmp := func(x, y netip.Prefix) int {
		if c := x.Addr().Compare(y.Addr()); c != 0 {
			return c
		}
		return x.Bits() - y.Bits()
	}
	slices.SortFunc(a, cmp)
	slices.SortFunc(b, cmp)
	return slices.Equal(a, b)
}

// natOutgoing lists the pools whose pods are masqueraded when they leave every pool
// (natOutgoing, whether or not the pool is disabled: its pods still exist), and all
// pools. Pools with an unparsable CIDR are left out (routeInput reports them).
func (v *routingView) natOutgoing() dataplane.NATOutgoing {
	var nat dataplane.NATOutgoing
	for _, name := range sortedKeys(v.pools) {
		p := v.pools[name]
		cidr, err := netip.ParsePrefix(p.Spec.CIDR)
		if err != nil {
			continue
		}
		cidr = cidr.Masked()
		nat.AllPools = append(nat.AllPools, cidr)
		if p.Spec.NATOutgoingEnabled() {
			nat.Masquerade = append(nat.Masquerade, cidr)
		}
	}
	return nat
}

// serviceAdvertisements lists the Service address ranges BGPConfiguration "default"
// asks every node to advertise (serviceClusterIPs, serviceExternalIPs,
// serviceLoadBalancerIPs), as Calico does for externalTrafficPolicy Cluster. Only
// IPv4 ranges are advertised (the speaker has no IPv6 next hop); others and
// unparsable ones are reported.
func (v *routingView) serviceAdvertisements() ([]netip.Prefix, []string) {
	if v.bgpConf == nil {
		return nil, nil
	}
	var out []netip.Prefix
	var problems []string
	lists := []struct {
		field  string
		blocks []v3.ServiceIPBlock
	}{
		{"serviceClusterIPs", v.bgpConf.Spec.ServiceClusterIPs},
		{"serviceExternalIPs", v.bgpConf.Spec.ServiceExternalIPs},
		{"serviceLoadBalancerIPs", v.bgpConf.Spec.ServiceLoadBalancerIPs},
	}
	for _, l := range lists {
		for i, b := range l.blocks {
			p, err := netip.ParsePrefix(b.CIDR)
			if a, aerr := netip.ParseAddr(b.CIDR); err != nil && aerr == nil {
				p, err = netip.PrefixFrom(a, a.BitLen()), nil // a single address
			}
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("BGPConfiguration default: spec.%s[%d].cidr: %v", l.field, i, err))
			case !p.Addr().Is4():
				problems = append(problems, fmt.Sprintf("BGPConfiguration default: spec.%s[%d].cidr: %s: IPv6 service ranges are not advertised yet", l.field, i, p))
			default:
				out = append(out, p.Masked())
			}
		}
	}
	return out, problems
}
