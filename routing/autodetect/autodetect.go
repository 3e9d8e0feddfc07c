// Package autodetect finds the node's IPv4 address the way calico-node does.
//
// In: the IP and IP_AUTODETECTION_METHOD settings, the host's interfaces (name, up,
// addresses with prefix length, in kernel index order) and, for can-reach, a route
// lookup that returns the source address the kernel would use. Out: the node address
// with its subnet prefix and the interface that holds it. Detect is pure; list.go
// reads the real interfaces and routes over netlink.
package autodetect

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// Interface is one host interface as Detect sees it.
type Interface struct {
	Name  string
	Up    bool
	Addrs []netip.Prefix
}

// Result is the detected node address.
type Result struct {
	Address   netip.Prefix // e.g. 192.168.40.112/24
	Interface string       // "" when IP was given and no interface holds it
}

// RouteSource returns the source address the kernel picks for traffic to dst. It must
// look the route up, not send anything.
type RouteSource func(dst netip.Addr) (netip.Addr, error)

// ErrDisabled is returned for IP=none: the node runs without an IPv4 address.
var ErrDisabled = errors.New("IPv4 address autodetection disabled (IP=none)")

// defaultSkip names interfaces that never carry the node address: container bridges,
// pod veths, our own tunnels, kube-proxy's dummy and loopback.
var defaultSkip = compileAll([]string{
	`^docker.*`, `^cbr.*`, `^dummy.*`, `^virbr.*`, `^lxcbr.*`, `^veth.*`, `^lo$`, `^cali.*`,
	`^tunl.*`, `^flannel.*`, `^kube-ipvs.*`, `^cni.*`, `^vxlan\.calico.*`, `^vxlan-v6\.calico.*`,
	`^br-.*`, `^wireguard\.cali.*`, `^nodelocaldns.*`,
})

// Detect applies the IP setting (an address, an address/prefix, "autodetect" or "",
// or "none") and, when detection is needed, the method: "first-found" (the default),
// "interface=REGEX[,REGEX]", "skip-interface=REGEX[,REGEX]", "can-reach=IP" or
// "cidr=CIDR[,CIDR]". As in Calico, interface= and cidr= consider every interface,
// including the names first-found skips; skip-interface= adds to those skips.
func Detect(ip, method string, ifaces []Interface, lookup RouteSource) (Result, error) {
	switch strings.TrimSpace(ip) {
	case "", "autodetect":
		return detectBy(strings.TrimSpace(method), ifaces, lookup)
	case "none":
		return Result{}, ErrDisabled
	}
	return fromSetting(strings.TrimSpace(ip), ifaces)
}

// fromSetting honours an explicit IP; without a prefix length the subnet is taken
// from the interface that holds the address, or /32 when none does.
func fromSetting(ip string, ifaces []Interface) (Result, error) {
	if p, err := netip.ParsePrefix(ip); err == nil && p.Addr().Is4() {
		name, _ := holder(ifaces, p.Addr())
		return Result{Address: p, Interface: name}, nil
	}
	a, err := netip.ParseAddr(ip)
	if err != nil || !a.Is4() {
		return Result{}, fmt.Errorf("IP=%q is not an IPv4 address, address/prefix, \"autodetect\" or \"none\"", ip)
	}
	if name, p := holder(ifaces, a); name != "" {
		return Result{Address: p, Interface: name}, nil
	}
	return Result{Address: netip.PrefixFrom(a, 32)}, nil
}

func detectBy(method string, ifaces []Interface, lookup RouteSource) (Result, error) {
	kind, arg, _ := strings.Cut(method, "=")
	switch kind {
	case "", "first-found":
		return firstMatching(ifaces, defaultSkip, nil, nil, method)
	case "interface":
		include, err := compileList(arg, method)
		if err != nil {
			return Result{}, err
		}
		return firstMatching(ifaces, nil, include, nil, method)
	case "skip-interface":
		skip, err := compileList(arg, method)
		if err != nil {
			return Result{}, err
		}
		return firstMatching(ifaces, append(skip, defaultSkip...), nil, nil, method)
	case "cidr":
		cidrs, err := parseCIDRs(arg, method)
		if err != nil {
			return Result{}, err
		}
		return firstMatching(ifaces, nil, nil, cidrs, method)
	case "can-reach":
		return canReach(arg, ifaces, lookup)
	}
	return Result{}, fmt.Errorf("IP_AUTODETECTION_METHOD=%q: unknown method (want first-found, interface=, skip-interface=, can-reach= or cidr=)", method)
}

// firstMatching returns the first usable IPv4 address on an up interface whose name
// matches no skip pattern and, when include is given, some include pattern, and
// whose address lies in one of cidrs when cidrs is given.
func firstMatching(ifaces []Interface, skip, include []*regexp.Regexp, cidrs []netip.Prefix, method string) (Result, error) {
	for _, ifc := range ifaces {
		if !ifc.Up || matchesAny(skip, ifc.Name) || (include != nil && !matchesAny(include, ifc.Name)) {
			continue
		}
		for _, a := range ifc.Addrs {
			if usable(a.Addr()) && (cidrs == nil || inAny(cidrs, a.Addr())) {
				return Result{Address: a, Interface: ifc.Name}, nil
			}
		}
	}
	if method == "" {
		method = "first-found"
	}
	return Result{}, fmt.Errorf("IP_AUTODETECTION_METHOD=%s: no up interface has a matching IPv4 address", method)
}

func canReach(arg string, ifaces []Interface, lookup RouteSource) (Result, error) {
	dst, err := netip.ParseAddr(arg)
	if err != nil || !dst.Is4() {
		return Result{}, fmt.Errorf("IP_AUTODETECTION_METHOD=can-reach=%s: want an IPv4 address", arg)
	}
	if lookup == nil {
		return Result{}, fmt.Errorf("can-reach=%s: no route lookup available", arg)
	}
	src, err := lookup(dst)
	if err != nil {
		return Result{}, fmt.Errorf("can-reach=%s: looking up the route: %w", arg, err)
	}
	name, p := holder(ifaces, src)
	if name == "" {
		return Result{}, fmt.Errorf("can-reach=%s: source address %s is on no interface", arg, src)
	}
	return Result{Address: p, Interface: name}, nil
}

// holder finds the interface and prefix that hold a.
func holder(ifaces []Interface, a netip.Addr) (string, netip.Prefix) {
	for _, ifc := range ifaces {
		for _, p := range ifc.Addrs {
			if p.Addr() == a {
				return ifc.Name, p
			}
		}
	}
	return "", netip.Prefix{}
}

func usable(a netip.Addr) bool {
	return a.Is4() && a.IsGlobalUnicast() && !a.IsLinkLocalUnicast()
}

func inAny(cidrs []netip.Prefix, a netip.Addr) bool {
	for _, c := range cidrs {
		if c.Contains(a) {
			return true
		}
	}
	return false
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func compileList(arg, method string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, s := range strings.Split(arg, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("IP_AUTODETECTION_METHOD=%s: %w", method, err)
		}
		out = append(out, re)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("IP_AUTODETECTION_METHOD=%s: no interface pattern given", method)
	}
	return out, nil
}

func parseCIDRs(arg, method string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range strings.Split(arg, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, fmt.Errorf("IP_AUTODETECTION_METHOD=%s: %w", method, err)
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("IP_AUTODETECTION_METHOD=%s: no CIDR given", method)
	}
	return out, nil
}

func compileAll(patterns []string) []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		out[i] = regexp.MustCompile(p)
	}
	return out
}
