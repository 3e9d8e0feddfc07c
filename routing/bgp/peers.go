// Package bgp is the node's BGP speaker: GoBGP used as a library, layered as
//
//   - peers.go: pure peer computation. In: the cluster's nodes (IP, AS, route
//     reflector cluster ID, labels), the BGP configuration and BGPPeer-like specs.
//     Out: the sessions this node should have.
//   - speaker.go: one goroutine owns the GoBGP server and the desired state; peers and
//     advertised prefixes are changed by difference; learned best paths come out as
//     RouteEvents (prefix, next hop, withdraw) for the kernel route sync; peer states
//     come out as status rows.
//   - adapter.go: conversion between our values and GoBGP's API messages.
//   - status.go: the pure renderer of `palisadectl node status`.
//
// The package does not know the projectcalico.org/v3 types; the agent maps
// BGPConfiguration, BGPPeer and Node objects to Config, PeerSpec and Node.
package bgp

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
)

// DefaultASNumber is the cluster AS when neither the node nor the configuration
// sets one (Calico's default).
const DefaultASNumber uint32 = 64512

// PeerType says where a session comes from; the strings are what `node status` shows.
type PeerType string

const (
	TypeMesh         PeerType = "node-to-node mesh"
	TypeGlobal       PeerType = "global"
	TypeNodeSpecific PeerType = "node specific"
)

// Config is the cluster-wide BGP configuration.
type Config struct {
	// NodeToNodeMesh is nodeToNodeMeshEnabled; nil means enabled.
	NodeToNodeMesh *bool
	// ASNumber is the default AS of nodes; 0 means DefaultASNumber.
	ASNumber uint32
}

// Node is a cluster node as peering sees it.
type Node struct {
	Name string
	IP   netip.Addr // IPv4 BGP address; nodes without one take part in no session
	// ASNumber overrides Config.ASNumber for this node when non-zero.
	ASNumber uint32
	// RouteReflectorClusterID makes the node a route reflector.
	RouteReflectorClusterID string
	Labels                  map[string]string
}

// PeerSpec is one BGPPeer resource. With neither Node nor NodeSelector it is global
// (every node peers); otherwise it applies to the named node or to nodes matching
// NodeSelector. The remote side is PeerIP, or every node matching PeerSelector.
type PeerSpec struct {
	Name         string
	Node         string
	NodeSelector string
	PeerIP       netip.Addr
	PeerPort     uint16 // 0 means 179
	PeerSelector string
	ASNumber     uint32 // for PeerIP peers; 0 means our own AS (iBGP)
	// Password is the resolved MD5 secret (the agent reads the Secret).
	Password            string
	KeepOriginalNextHop bool
	// TTLSecurity is the number of hops for GTSM (RFC 5082); 0 disables it.
	TTLSecurity uint8
	// EBGPMultihopTTL allows eBGP peers that far away; 0 means directly connected.
	EBGPMultihopTTL uint8
}

// Matcher evaluates a Calico selector against labels. The agent passes
// policy/selector's evaluator; tests pass a fake.
type Matcher func(selector string, labels map[string]string) (bool, error)

// Peer is one session this node should hold.
type Peer struct {
	Address  netip.Addr
	Port     uint16 // 0 means 179
	ASNumber uint32
	Type     PeerType
	// Source names what asked for the session: the peer node or the BGPPeer.
	Source               string
	RouteReflectorClient bool
	// Passive: wait for the peer to connect. Between two cluster nodes only the one
	// with the lower address connects, so simultaneous opens cannot collide and
	// lock both sides into retrying in step.
	Passive             bool
	Password            string
	KeepOriginalNextHop bool
	TTLSecurity         uint8
	EBGPMultihopTTL     uint8
}

// PeerInput is everything ComputePeers needs.
type PeerInput struct {
	Local  string // this node's name
	Config Config
	Nodes  []Node
	Specs  []PeerSpec
	Match  Matcher
}

// LocalAS returns the AS this node speaks.
func LocalAS(cfg Config, n Node) uint32 {
	if n.ASNumber != 0 {
		return n.ASNumber
	}
	if cfg.ASNumber != 0 {
		return cfg.ASNumber
	}
	return DefaultASNumber
}

// ComputePeers returns this node's sessions sorted by address, and the problems met
// (an unknown local node, a bad selector, a spec without a remote side). Problems
// drop only the affected spec.
//
// Topology: with the mesh enabled and no route reflector in the cluster, every node
// peers with every other node. When some nodes carry a route reflector cluster ID,
// the mesh is replaced: reflectors peer with all nodes (nodes outside their cluster
// as clients) and other nodes peer with the reflectors only. BGPPeer specs add to
// that; when several sources name one address, node specific beats global beats mesh.
func ComputePeers(in PeerInput) ([]Peer, []error) {
	var errs []error
	local, ok := findNode(in.Nodes, in.Local)
	if !ok {
		return nil, []error{fmt.Errorf("local node %q is not among the nodes", in.Local)}
	}
	localAS := LocalAS(in.Config, local)
	chosen := map[netip.Addr]Peer{}
	offer := func(p Peer) {
		if !p.Address.IsValid() || p.Address == local.IP {
			return
		}
		if cur, ok := chosen[p.Address]; ok && rank(cur.Type) >= rank(p.Type) {
			return
		}
		chosen[p.Address] = p
	}
	for _, p := range meshPeers(in, local, localAS) {
		offer(p)
	}
	for _, spec := range in.Specs {
		peers, err := specPeers(in, spec, local, localAS)
		if err != nil {
			errs = append(errs, fmt.Errorf("BGP peer %q: %w", spec.Name, err))
			continue
		}
		for _, p := range peers {
			offer(p)
		}
	}
	out := make([]Peer, 0, len(chosen))
	for _, p := range chosen {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Peer) int { return a.Address.Compare(b.Address) })
	return out, errs
}

func rank(t PeerType) int {
	switch t {
	case TypeNodeSpecific:
		return 3
	case TypeGlobal:
		return 2
	}
	return 1
}

// meshPeers is the automatic topology: full mesh, or reflectors and clients.
func meshPeers(in PeerInput, local Node, localAS uint32) []Peer {
	if in.Config.NodeToNodeMesh != nil && !*in.Config.NodeToNodeMesh {
		return nil
	}
	reflectors := slices.ContainsFunc(in.Nodes, func(n Node) bool { return n.RouteReflectorClusterID != "" })
	var out []Peer
	for _, n := range in.Nodes {
		if n.Name == local.Name || !n.IP.IsValid() {
			continue
		}
		p := Peer{Address: n.IP, ASNumber: LocalAS(in.Config, n), Type: TypeMesh, Source: n.Name, Passive: passive(local, n)}
		if reflectors {
			if local.RouteReflectorClusterID == "" && n.RouteReflectorClusterID == "" {
				continue // clients do not peer with each other
			}
			p.Type = TypeGlobal
			p.RouteReflectorClient = isClient(local, n, localAS, p.ASNumber)
		}
		out = append(out, p)
	}
	return out
}

// isClient: a reflector treats iBGP peers outside its cluster as its clients.
func isClient(local, remote Node, localAS, remoteAS uint32) bool {
	return local.RouteReflectorClusterID != "" && localAS == remoteAS &&
		remote.RouteReflectorClusterID != local.RouteReflectorClusterID
}

// passive reports whether local waits for remote to connect (see Peer.Passive).
func passive(local, remote Node) bool { return local.IP.Compare(remote.IP) > 0 }

func specPeers(in PeerInput, spec PeerSpec, local Node, localAS uint32) ([]Peer, error) {
	typ, applies, err := specApplies(in.Match, spec, local)
	if err != nil || !applies {
		return nil, err
	}
	base := Peer{Type: typ, Source: spec.Name, Port: spec.PeerPort, Password: spec.Password,
		KeepOriginalNextHop: spec.KeepOriginalNextHop, TTLSecurity: spec.TTLSecurity, EBGPMultihopTTL: spec.EBGPMultihopTTL}
	switch {
	case spec.PeerIP.IsValid() && spec.PeerSelector != "":
		return nil, fmt.Errorf("peerIP and peerSelector are mutually exclusive")
	case spec.PeerIP.IsValid():
		p := base
		p.Address, p.ASNumber = spec.PeerIP, cmp.Or(spec.ASNumber, localAS)
		return []Peer{p}, nil
	case spec.PeerSelector != "":
		if in.Match == nil {
			return nil, fmt.Errorf("peerSelector %q needs a selector matcher", spec.PeerSelector)
		}
		var out []Peer
		for _, n := range in.Nodes {
			if n.Name == local.Name || !n.IP.IsValid() {
				continue
			}
			ok, err := in.Match(spec.PeerSelector, n.Labels)
			if err != nil {
				return nil, fmt.Errorf("peerSelector %q: %w", spec.PeerSelector, err)
			}
			if ok {
				p := base
				p.Address, p.ASNumber, p.Source = n.IP, LocalAS(in.Config, n), n.Name
				p.RouteReflectorClient = isClient(local, n, localAS, p.ASNumber)
				p.Passive = passive(local, n)
				out = append(out, p)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("neither peerIP nor peerSelector is set")
}

func specApplies(match Matcher, spec PeerSpec, local Node) (PeerType, bool, error) {
	switch {
	case spec.Node != "" && spec.NodeSelector != "":
		return "", false, fmt.Errorf("node and nodeSelector are mutually exclusive")
	case spec.Node != "":
		return TypeNodeSpecific, spec.Node == local.Name, nil
	case spec.NodeSelector != "":
		if match == nil {
			return "", false, fmt.Errorf("nodeSelector %q needs a selector matcher", spec.NodeSelector)
		}
		ok, err := match(spec.NodeSelector, local.Labels)
		if err != nil {
			return "", false, fmt.Errorf("nodeSelector %q: %w", spec.NodeSelector, err)
		}
		return TypeNodeSpecific, ok, nil
	}
	return TypeGlobal, true, nil
}

func findNode(nodes []Node, name string) (Node, bool) {
	for _, n := range nodes {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}
