package autodetect

import (
	"fmt"
	"net"
	"net/netip"
	"slices"

	"github.com/vishvananda/netlink"
)

// List reads the interfaces of the namespace h points into, in kernel index order,
// with their IPv4 addresses.
func List(h *netlink.Handle) ([]Interface, error) {
	links, err := h.LinkList()
	if err != nil {
		return nil, fmt.Errorf("listing interfaces: %w", err)
	}
	slices.SortFunc(links, func(a, b netlink.Link) int { return a.Attrs().Index - b.Attrs().Index })
	out := make([]Interface, 0, len(links))
	for _, l := range links {
		attrs := l.Attrs()
		addrs, err := h.AddrList(l, netlink.FAMILY_V4)
		if err != nil {
			return nil, fmt.Errorf("listing addresses of %s: %w", attrs.Name, err)
		}
		ifc := Interface{Name: attrs.Name, Up: attrs.Flags&net.FlagUp != 0}
		for _, a := range addrs {
			ip, ok := netip.AddrFromSlice(a.IP)
			if !ok {
				continue
			}
			ones, _ := a.Mask.Size()
			ifc.Addrs = append(ifc.Addrs, netip.PrefixFrom(ip.Unmap(), ones))
		}
		out = append(out, ifc)
	}
	return out, nil
}

// KernelRouteSource asks the kernel of h's namespace which source address it would
// use towards dst (like `ip route get`); no packet is sent.
func KernelRouteSource(h *netlink.Handle) RouteSource {
	return func(dst netip.Addr) (netip.Addr, error) {
		rs, err := h.RouteGet(dst.AsSlice())
		if err != nil {
			return netip.Addr{}, fmt.Errorf("route get %s: %w", dst, err)
		}
		for _, r := range rs {
			if src, ok := netip.AddrFromSlice(r.Src); ok {
				return src.Unmap(), nil
			}
		}
		return netip.Addr{}, fmt.Errorf("route to %s has no source address", dst)
	}
}

// DetectIn runs Detect against the real interfaces and routes of h's namespace.
func DetectIn(h *netlink.Handle, ip, method string) (Result, error) {
	ifaces, err := List(h)
	if err != nil {
		return Result{}, err
	}
	return Detect(ip, method, ifaces, KernelRouteSource(h))
}
