// Package fromapi maps projectcalico.org/v3 objects onto the routing packages' own
// inputs, so those packages stay independent of the API types.
//
// In: IPPool, IPAMBlock, BGPConfiguration and BGPPeer objects (and a reader for
// Secrets that hold BGP passwords). Out: routes.Pool, routes.Block and
// routes.Borrowed, bgp.Config and bgp.PeerSpec, or an error naming the field at fault.
// Pure: nothing here touches the kernel, network or clock.
package fromapi

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/routing/bgp"
	"github.com/palisadenet/palisade/routing/routes"
)

// Pool maps an IPPool. The deprecated v1 `ipip` field is honoured when ipipMode is
// empty, as Calico does.
func Pool(p *v3.IPPool) (routes.Pool, error) {
	cidr, err := netip.ParsePrefix(p.Spec.CIDR)
	if err != nil {
		return routes.Pool{}, fmt.Errorf("IPPool %s: spec.cidr: %w", p.Name, err)
	}
	ipip := routes.EncapMode(p.Spec.IPIPMode)
	if ipip == "" && p.Spec.IPIP != nil && (p.Spec.IPIP.Enabled == nil || *p.Spec.IPIP.Enabled) {
		switch p.Spec.IPIP.Mode {
		case "cross-subnet":
			ipip = routes.EncapCrossSubnet
		case "always", "":
			ipip = routes.EncapAlways
		}
	}
	vxlan := routes.EncapMode(p.Spec.VXLANMode)
	for field, m := range map[string]routes.EncapMode{"ipipMode": ipip, "vxlanMode": vxlan} {
		if !routes.ValidMode(m) {
			return routes.Pool{}, fmt.Errorf("IPPool %s: spec.%s: %q is not Never, Always or CrossSubnet", p.Name, field, m)
		}
	}
	return routes.Pool{CIDR: cidr.Masked(), IPIPMode: ipip, VXLANMode: vxlan}, nil
}

// Block maps an IPAMBlock to its affinity and the IPs borrowed from it: allocations
// whose attribute names a node other than the block's.
func Block(b *v3.IPAMBlock) (routes.Block, []routes.Borrowed, error) {
	cidr, err := netip.ParsePrefix(b.Spec.CIDR)
	if err != nil {
		return routes.Block{}, nil, fmt.Errorf("IPAMBlock %s: spec.cidr: %w", b.Name, err)
	}
	blk := routes.Block{CIDR: cidr.Masked()}
	if b.Spec.Affinity != nil {
		node, ok := strings.CutPrefix(*b.Spec.Affinity, "host:")
		if !ok {
			return routes.Block{}, nil, fmt.Errorf("IPAMBlock %s: spec.affinity %q does not start with %q", b.Name, *b.Spec.Affinity, "host:")
		}
		blk.Node = node
	}
	var borrowed []routes.Borrowed
	ip := blk.CIDR.Addr()
	for ordinal, attr := range b.Spec.Allocations {
		if ordinal > 0 {
			ip = ip.Next()
		}
		if attr == nil {
			continue
		}
		if *attr < 0 || *attr >= len(b.Spec.Attributes) {
			return routes.Block{}, nil, fmt.Errorf("IPAMBlock %s: spec.allocations[%d]: attribute %d does not exist", b.Name, ordinal, *attr)
		}
		node := b.Spec.Attributes[*attr].Secondary["node"]
		if node != "" && node != blk.Node {
			borrowed = append(borrowed, routes.Borrowed{IP: ip, Node: node})
		}
	}
	return blk, borrowed, nil
}

// Config maps the cluster BGPConfiguration ("default"); nil means all defaults.
func Config(c *v3.BGPConfiguration) (bgp.Config, error) {
	if c == nil {
		return bgp.Config{}, nil
	}
	cfg := bgp.Config{NodeToNodeMesh: c.Spec.NodeToNodeMeshEnabled}
	if c.Spec.ASNumber != nil {
		as, err := c.Spec.ASNumber.Value()
		if err != nil {
			return bgp.Config{}, fmt.Errorf("BGPConfiguration %s: spec.asNumber: %w", c.Name, err)
		}
		cfg.ASNumber = as
	}
	return cfg, nil
}

// SecretReader returns one key of a Secret in the agent's namespace.
type SecretReader func(name, key string) (string, error)

// PeerSpec maps a BGPPeer. secrets may be nil when no peer uses a password.
func PeerSpec(p *v3.BGPPeer, secrets SecretReader) (bgp.PeerSpec, error) {
	s := p.Spec
	out := bgp.PeerSpec{Name: p.Name, Node: s.Node, NodeSelector: s.NodeSelector, PeerSelector: s.PeerSelector}
	if s.PeerIP != "" {
		ip, port, err := parsePeerIP(s.PeerIP)
		if err != nil {
			return bgp.PeerSpec{}, fmt.Errorf("BGPPeer %s: spec.peerIP: %w", p.Name, err)
		}
		out.PeerIP, out.PeerPort = ip, port
	}
	if s.ASNumber != nil {
		as, err := s.ASNumber.Value()
		if err != nil {
			return bgp.PeerSpec{}, fmt.Errorf("BGPPeer %s: spec.asNumber: %w", p.Name, err)
		}
		out.ASNumber = as
	}
	if s.Password != nil && s.Password.SecretKeyRef != nil {
		ref := s.Password.SecretKeyRef
		if secrets == nil {
			return bgp.PeerSpec{}, fmt.Errorf("BGPPeer %s: spec.password: no Secret reader", p.Name)
		}
		pw, err := secrets(ref.Name, ref.Key)
		if err != nil {
			return bgp.PeerSpec{}, fmt.Errorf("BGPPeer %s: spec.password: Secret %s key %s: %w", p.Name, ref.Name, ref.Key, err)
		}
		out.Password = pw
	}
	if s.TTLSecurity != nil {
		if *s.TTLSecurity < 0 || *s.TTLSecurity > 255 {
			return bgp.PeerSpec{}, fmt.Errorf("BGPPeer %s: spec.ttlSecurity: %d is not in 0-255", p.Name, *s.TTLSecurity)
		}
		out.TTLSecurity = uint8(*s.TTLSecurity)
	}
	out.KeepOriginalNextHop = s.KeepOriginalNextHop != nil && *s.KeepOriginalNextHop || s.NextHopMode == "Keep"
	return out, nil
}

// parsePeerIP accepts "10.0.0.1", "10.0.0.1:179", "fd00::1" and "[fd00::1]:179".
func parsePeerIP(s string) (netip.Addr, uint16, error) {
	if ip, err := netip.ParseAddr(s); err == nil {
		return ip, 0, nil
	}
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("%q is not an IP or IP:port", s)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, 0, fmt.Errorf("%q is not an IP or IP:port", s)
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return netip.Addr{}, 0, fmt.Errorf("%q: port %q is not in 1-65535", s, portStr)
	}
	return ip, uint16(port), nil
}
