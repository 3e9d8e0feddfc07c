// Package workload plumbs a pod into its node the way Calico users know it
// (DESIGN.md "Workload plumbing"): a veth pair whose host side is a cali* interface
// with the fixed MAC ee:ee:ee:ee:ee:ee and whose pod side is eth0; the pod's /32 and
// /128 addresses on eth0; the pod's default routes via 169.254.1.1 and
// fe80::ecee:eeff:feee:eeee with permanent neighbour entries for both gateways; a host
// route per address to the cali interface; proxy ARP and forwarding on the host side.
// There is no bridge.
//
// In: a Spec (pod netns path, interface names, MTU, host prefixes). Out: the interfaces
// created (Setup), nothing (Teardown, idempotent) or an error naming the first thing
// that differs from the Spec (Verify). Plan is the pure part: it lists the routes,
// neighbours and sysctls a Spec implies, so the kernel code and the tests share one
// definition. Setup, Teardown and Verify run in the caller's network namespace as the
// node (host) namespace and enter the pod's namespace for the pod side.
package workload

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// The fixed values of the pod plumbing. They match Calico so that tooling and habits
// carry over.
var (
	// HostMAC is the MAC of every host-side interface. The pod's neighbour entries
	// for both gateways point at it.
	HostMAC = net.HardwareAddr{0xee, 0xee, 0xee, 0xee, 0xee, 0xee}
	// GatewayV4 is the pod's IPv4 default gateway. No interface holds it: the pod has
	// a permanent neighbour entry for it and the host side answers ARP by proxy.
	GatewayV4 = netip.MustParseAddr("169.254.1.1")
	// GatewayV6 is the link-local address the kernel derives (EUI-64) from HostMAC on
	// the host side; the pod's IPv6 default route points at it.
	GatewayV6 = netip.MustParseAddr("fe80::ecee:eeff:feee:eeee")
)

// RouteProtocol is the protocol number on the host routes to pods. It differs from
// the agent's route protocol (80, routing/routes.Protocol) on purpose: the agent's
// route sync flushes protocol-80 routes it did not plan, and it must never remove a
// pod's route; a clean-up that wants the CNI's routes can still find them by number.
const RouteProtocol = 81

// MinMTU and MaxMTU bound Spec.MTU (IPv4's minimum and the veth driver's maximum).
const (
	MinMTU = 68
	MaxMTU = 65535
)

// Spec is one pod attachment.
type Spec struct {
	NetNSPath string         // the pod's network namespace, e.g. /var/run/netns/cni-...
	HostIface string         // host side, calc/ifacename.Workload(namespace, pod)
	PodIface  string         // pod side, CNI_IFNAME (normally eth0)
	MTU       int            // both ends
	Addrs     []netip.Prefix // the pod's addresses as host prefixes (/32, /128)
}

// Validate reports the first problem that would make Setup fail half way.
func (s Spec) Validate() error {
	if s.NetNSPath == "" {
		return errors.New("pod network namespace path is empty")
	}
	if err := validIfaceName(s.HostIface); err != nil {
		return fmt.Errorf("host interface: %w", err)
	}
	if err := validIfaceName(s.PodIface); err != nil {
		return fmt.Errorf("pod interface: %w", err)
	}
	if s.MTU < MinMTU || s.MTU > MaxMTU {
		return fmt.Errorf("MTU %d out of range %d-%d", s.MTU, MinMTU, MaxMTU)
	}
	if len(s.Addrs) == 0 {
		return errors.New("no addresses to assign")
	}
	for _, p := range s.Addrs {
		if !p.IsValid() || p.Bits() != p.Addr().BitLen() {
			return fmt.Errorf("address %v is not a host prefix (/32 or /128)", p)
		}
	}
	return nil
}

func validIfaceName(name string) error {
	switch {
	case name == "":
		return errors.New("name is empty")
	case len(name) > 15:
		return fmt.Errorf("name %q longer than 15 characters", name)
	case strings.ContainsAny(name, "/: \t\n") || name == "." || name == "..":
		return fmt.Errorf("name %q contains a character the kernel refuses", name)
	}
	return nil
}

// Route is one route the plumbing installs. Dev is an interface name; Gateway is
// invalid for a directly connected route.
type Route struct {
	Dst     netip.Prefix
	Gateway netip.Addr
	Dev     string
	OnLink  bool // scope link: the destination is on the wire, no gateway lookup
}

// Neighbour is a permanent neighbour (ARP/NDP) entry.
type Neighbour struct {
	Addr netip.Addr
	MAC  net.HardwareAddr
	Dev  string
}

// Sysctl is one setting under /proc/sys. Key is the path below /proc/sys with
// slashes (net/ipv4/conf/<iface>/proxy_arp), not dots, because interface names may
// contain dots.
type Sysctl struct {
	Key, Value string
}

// Plan is everything Setup installs for a Spec, apart from the veth pair itself.
type Plan struct {
	PodAddrs      []netip.Prefix
	PodRoutes     []Route // in the pod namespace, in install order
	PodNeighbours []Neighbour
	PodSysctls    []Sysctl
	HostRoutes    []Route // in the node namespace
	HostSysctls   []Sysctl
}

// HasV4 and HasV6 say which families a Spec carries.
func (s Spec) HasV4() bool { return s.has(true) }

// HasV6 is true when the Spec carries an IPv6 address.
func (s Spec) HasV6() bool { return s.has(false) }

func (s Spec) has(v4 bool) bool {
	for _, p := range s.Addrs {
		if p.Addr().Is4() == v4 {
			return true
		}
	}
	return false
}

// PlanFor lists what Setup installs for spec. It does no I/O.
func PlanFor(spec Spec) Plan {
	p := Plan{PodAddrs: spec.Addrs}
	host, pod := spec.HostIface, spec.PodIface
	for _, a := range spec.Addrs {
		p.HostRoutes = append(p.HostRoutes, Route{Dst: a, Dev: host, OnLink: a.Addr().Is4()})
	}
	p.HostSysctls = []Sysctl{
		// Answer the pod's ARP for 169.254.1.1 (and anything else) with our MAC, at once.
		{"net/ipv4/conf/" + host + "/proxy_arp", "1"},
		{"net/ipv4/neigh/" + host + "/proxy_delay", "0"},
		{"net/ipv4/conf/" + host + "/forwarding", "1"},
	}
	if spec.HasV4() {
		p.PodRoutes = append(p.PodRoutes,
			Route{Dst: netip.PrefixFrom(GatewayV4, 32), Dev: pod, OnLink: true},
			Route{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Gateway: GatewayV4, Dev: pod},
		)
		p.PodNeighbours = append(p.PodNeighbours, Neighbour{Addr: GatewayV4, MAC: HostMAC, Dev: pod})
	}
	if spec.HasV6() {
		p.PodRoutes = append(p.PodRoutes,
			Route{Dst: netip.PrefixFrom(netip.IPv6Unspecified(), 0), Gateway: GatewayV6, Dev: pod})
		p.PodNeighbours = append(p.PodNeighbours, Neighbour{Addr: GatewayV6, MAC: HostMAC, Dev: pod})
		p.PodSysctls = []Sysctl{
			{"net/ipv6/conf/" + pod + "/disable_ipv6", "0"},
			{"net/ipv6/conf/" + pod + "/accept_dad", "0"},
		}
		p.HostSysctls = append(p.HostSysctls,
			// The host side's link-local address is the pods' gateway: it must be
			// usable at once (no DAD) and the host must not learn routes from the pod.
			Sysctl{"net/ipv6/conf/" + host + "/disable_ipv6", "0"},
			Sysctl{"net/ipv6/conf/" + host + "/accept_dad", "0"},
			Sysctl{"net/ipv6/conf/" + host + "/accept_ra", "0"},
			Sysctl{"net/ipv6/conf/" + host + "/forwarding", "1"},
		)
	}
	return p
}
