package workload

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
)

// Verify checks that the attachment Setup made for spec is still in place: both veth
// ends up, the host side's MAC, the pod's addresses, the pod's routes and neighbours,
// the host routes and sysctls. It returns every difference it finds, joined.
func Verify(spec Spec) error {
	if err := spec.Validate(); err != nil {
		return err
	}
	plan := PlanFor(spec)
	var errs []error
	hostLink, err := netlink.LinkByName(spec.HostIface)
	if err != nil {
		return fmt.Errorf("host interface %s: %w", spec.HostIface, err)
	}
	errs = append(errs, checkLink(hostLink, spec.MTU)...)
	if !bytes.Equal(hostLink.Attrs().HardwareAddr, HostMAC) {
		errs = append(errs, fmt.Errorf("host interface %s has MAC %s, want %s", spec.HostIface, hostLink.Attrs().HardwareAddr, HostMAC))
	}
	errs = append(errs, checkRoutes(plan.HostRoutes, hostLink, true)...)
	errs = append(errs, checkSysctls(plan.HostSysctls)...)

	podNS, err := ns.GetNS(spec.NetNSPath)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("opening pod network namespace %s: %w", spec.NetNSPath, err))...)
	}
	defer podNS.Close()
	err = podNS.Do(func(ns.NetNS) error { return verifyPodSide(spec, plan) })
	return errors.Join(append(errs, err)...)
}

func verifyPodSide(spec Spec, plan Plan) error {
	link, err := netlink.LinkByName(spec.PodIface)
	if err != nil {
		return fmt.Errorf("pod interface %s: %w", spec.PodIface, err)
	}
	errs := checkLink(link, spec.MTU)
	addrs, err := netlink.AddrList(link, netlink.FAMILY_ALL)
	if err != nil {
		return fmt.Errorf("listing addresses of pod %s: %w", spec.PodIface, err)
	}
	have := map[netip.Prefix]bool{}
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			ones, _ := a.Mask.Size()
			have[netip.PrefixFrom(ip.Unmap(), ones)] = true
		}
	}
	for _, want := range plan.PodAddrs {
		if !have[want] {
			errs = append(errs, fmt.Errorf("pod %s lacks address %s", spec.PodIface, want))
		}
	}
	errs = append(errs, checkRoutes(plan.PodRoutes, link, false)...)
	errs = append(errs, checkNeighbours(plan.PodNeighbours, link)...)
	return errors.Join(errs...)
}

func checkLink(link netlink.Link, mtu int) []error {
	var errs []error
	a := link.Attrs()
	if link.Type() != "veth" {
		errs = append(errs, fmt.Errorf("%s is a %s, want a veth", a.Name, link.Type()))
	}
	if a.Flags&net.FlagUp == 0 {
		errs = append(errs, fmt.Errorf("%s is down", a.Name))
	}
	if a.MTU != mtu {
		errs = append(errs, fmt.Errorf("%s has MTU %d, want %d", a.Name, a.MTU, mtu))
	}
	return errs
}

// checkRoutes finds each wanted route among link's routes (main table).
func checkRoutes(want []Route, link netlink.Link, host bool) []error {
	routes, err := listRoutes(link)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, w := range want {
		found := false
		for _, r := range routes {
			if routeMatches(w, r) && (!host || r.Protocol == RouteProtocol) {
				found = true
				break
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("missing route %s via %v dev %s", w.Dst, w.Gateway, w.Dev))
		}
	}
	return errs
}

func listRoutes(link netlink.Link) ([]netlink.Route, error) {
	var err error
	for range 3 { // a dump interrupted by a concurrent change is retried
		var rs []netlink.Route
		rs, err = netlink.RouteList(link, netlink.FAMILY_ALL)
		if err == nil {
			return rs, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return nil, fmt.Errorf("listing routes of %s: %w", link.Attrs().Name, err)
}

func routeMatches(w Route, r netlink.Route) bool {
	dst := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	if w.Dst.Addr().Is6() {
		dst = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
	}
	if r.Dst != nil {
		ip, _ := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		dst = netip.PrefixFrom(ip.Unmap(), ones)
	}
	if dst != w.Dst {
		return false
	}
	gw, _ := netip.AddrFromSlice(r.Gw)
	return gw.Unmap() == w.Gateway
}

func checkNeighbours(want []Neighbour, link netlink.Link) []error {
	neighs, err := netlink.NeighList(link.Attrs().Index, netlink.FAMILY_ALL)
	if err != nil {
		return []error{fmt.Errorf("listing neighbours of %s: %w", link.Attrs().Name, err)}
	}
	var errs []error
	for _, w := range want {
		found := false
		for _, n := range neighs {
			ip, _ := netip.AddrFromSlice(n.IP)
			if ip.Unmap() == w.Addr && bytes.Equal(n.HardwareAddr, w.MAC) && n.State&netlink.NUD_PERMANENT != 0 {
				found = true
				break
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("missing permanent neighbour %s lladdr %s dev %s", w.Addr, w.MAC, w.Dev))
		}
	}
	return errs
}

func checkSysctls(want []Sysctl) []error {
	var errs []error
	for _, s := range want {
		got, err := readSysctl(s.Key)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if got != s.Value {
			errs = append(errs, fmt.Errorf("sysctl %s is %s, want %s", s.Key, got, s.Value))
		}
	}
	return errs
}
