package workload

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/containernetworking/plugins/pkg/ns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Interface describes one end of the veth pair after Setup.
type Interface struct {
	Name  string
	MAC   net.HardwareAddr
	Index int // in its own namespace
	MTU   int
}

// Result is what Setup created.
type Result struct {
	Host Interface // in the node namespace
	Pod  Interface // in the pod namespace
}

// Setup creates the veth pair and everything PlanFor(spec) lists. A host interface of
// the same name left over from an earlier sandbox of the same pod is replaced. On
// error nothing of what Setup created remains.
func Setup(spec Spec) (res Result, err error) {
	if err := spec.Validate(); err != nil {
		return Result{}, err
	}
	podNS, err := ns.GetNS(spec.NetNSPath)
	if err != nil {
		return Result{}, fmt.Errorf("opening pod network namespace %s: %w", spec.NetNSPath, err)
	}
	defer podNS.Close()
	if err := deleteLink(spec.HostIface); err != nil {
		return Result{}, fmt.Errorf("removing stale host interface: %w", err)
	}
	hostLink, err := createVeth(spec, podNS)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		if err != nil { // deleting one end deletes both, and the host routes with them
			_ = netlink.LinkDel(hostLink)
		}
	}()
	plan := PlanFor(spec)
	// Sysctls first: accept_dad must be off before the link-local address appears.
	if err := writeSysctls(plan.HostSysctls); err != nil {
		return Result{}, err
	}
	if err := netlink.LinkSetUp(hostLink); err != nil {
		return Result{}, fmt.Errorf("setting %s up: %w", spec.HostIface, err)
	}
	var pod Interface
	err = podNS.Do(func(ns.NetNS) error {
		var perr error
		pod, perr = setupPodSide(spec, plan)
		return perr
	})
	if err != nil {
		return Result{}, err
	}
	for _, r := range plan.HostRoutes {
		if err := netlink.RouteReplace(hostRoute(r, hostLink.Attrs().Index)); err != nil {
			return Result{}, fmt.Errorf("adding host route %s dev %s: %w", r.Dst, r.Dev, err)
		}
	}
	return Result{Host: ifaceOf(hostLink), Pod: pod}, nil
}

// createVeth makes the pair with the host end here and the pod end directly in podNS,
// so the pod end's name never meets the node's own eth0.
func createVeth(spec Spec, podNS ns.NetNS) (netlink.Link, error) {
	attrs := netlink.NewLinkAttrs()
	attrs.Name = spec.HostIface
	attrs.MTU = spec.MTU
	attrs.HardwareAddr = HostMAC
	veth := netlink.NewVeth(attrs)
	veth.PeerName = spec.PodIface
	veth.PeerMTU = uint32(spec.MTU)
	veth.PeerNamespace = netlink.NsFd(int(podNS.Fd()))
	if err := netlink.LinkAdd(veth); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("creating veth %s (pod side %s): %s already exists in the pod namespace: %w", spec.HostIface, spec.PodIface, spec.PodIface, err)
		}
		return nil, fmt.Errorf("creating veth %s (pod side %s): %w", spec.HostIface, spec.PodIface, err)
	}
	link, err := netlink.LinkByName(spec.HostIface)
	if err != nil {
		_ = netlink.LinkDel(veth)
		return nil, fmt.Errorf("finding new veth %s: %w", spec.HostIface, err)
	}
	return link, nil
}

// setupPodSide runs inside the pod namespace.
func setupPodSide(spec Spec, plan Plan) (Interface, error) {
	link, err := netlink.LinkByName(spec.PodIface)
	if err != nil {
		return Interface{}, fmt.Errorf("finding %s in the pod namespace: %w", spec.PodIface, err)
	}
	if err := writeSysctls(plan.PodSysctls); err != nil {
		return Interface{}, err
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return Interface{}, fmt.Errorf("setting pod %s up: %w", spec.PodIface, err)
	}
	for _, a := range plan.PodAddrs {
		addr := &netlink.Addr{IPNet: ipNet(a)}
		if a.Addr().Is6() {
			addr.Flags = unix.IFA_F_NODAD
		}
		if err := netlink.AddrAdd(link, addr); err != nil {
			return Interface{}, fmt.Errorf("adding address %s to pod %s: %w", a, spec.PodIface, err)
		}
	}
	idx := link.Attrs().Index
	for _, n := range plan.PodNeighbours {
		if err := netlink.NeighSet(&netlink.Neigh{
			LinkIndex: idx, Family: family(n.Addr), State: netlink.NUD_PERMANENT,
			IP: n.Addr.AsSlice(), HardwareAddr: n.MAC,
		}); err != nil {
			return Interface{}, fmt.Errorf("adding neighbour %s to pod %s: %w", n.Addr, spec.PodIface, err)
		}
	}
	for _, r := range plan.PodRoutes {
		if err := netlink.RouteReplace(podRoute(r, idx)); err != nil {
			return Interface{}, fmt.Errorf("adding pod route %s via %v: %w", r.Dst, r.Gateway, err)
		}
	}
	// Re-read: the MAC the kernel chose is only known now.
	link, err = netlink.LinkByName(spec.PodIface)
	if err != nil {
		return Interface{}, fmt.Errorf("re-reading pod %s: %w", spec.PodIface, err)
	}
	return ifaceOf(link), nil
}

// Teardown removes a pod's attachment: the host interface by name and, when the pod
// namespace still exists, the pod interface (deleting either end removes both and
// every route through them). Anything already gone is not an error, so Teardown can
// run any number of times.
func Teardown(netnsPath, podIface, hostIface string) error {
	var errs []error
	if hostIface != "" {
		if err := deleteLink(hostIface); err != nil {
			errs = append(errs, err)
		}
	}
	if netnsPath != "" && podIface != "" {
		podNS, err := ns.GetNS(netnsPath)
		switch {
		case err == nil:
			err = podNS.Do(func(ns.NetNS) error { return deleteVethIfPresent(podIface) })
			podNS.Close()
			if err != nil {
				errs = append(errs, fmt.Errorf("in pod namespace %s: %w", netnsPath, err))
			}
		case isGone(err):
			// The runtime removed the namespace; the veth went with it.
		default:
			errs = append(errs, fmt.Errorf("opening pod network namespace %s: %w", netnsPath, err))
		}
	}
	return errors.Join(errs...)
}

func isGone(err error) bool {
	var notExist ns.NSPathNotExistErr
	var notNS ns.NSPathNotNSErr
	return errors.As(err, &notExist) || errors.As(err, &notNS) || errors.Is(err, os.ErrNotExist)
}

func deleteLink(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("looking up %s: %w", name, err)
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}

// deleteVethIfPresent deletes name only when it is a veth: a pod interface of another
// kind was not made by us.
func deleteVethIfPresent(name string) error {
	link, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("looking up %s: %w", name, err)
	}
	if link.Type() != "veth" {
		return nil
	}
	if err := netlink.LinkDel(link); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}

func writeSysctls(sysctls []Sysctl) error {
	for _, s := range sysctls {
		path := filepath.Join("/proc/sys", s.Key)
		if err := os.WriteFile(path, []byte(s.Value), 0o644); err != nil {
			return fmt.Errorf("setting sysctl %s=%s: %w", s.Key, s.Value, err)
		}
	}
	return nil
}

func readSysctl(key string) (string, error) {
	b, err := os.ReadFile(filepath.Join("/proc/sys", key))
	if err != nil {
		return "", fmt.Errorf("reading sysctl %s: %w", key, err)
	}
	return string(trimNewline(b)), nil
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

func hostRoute(r Route, linkIndex int) *netlink.Route {
	nr := &netlink.Route{LinkIndex: linkIndex, Dst: ipNet(r.Dst), Protocol: RouteProtocol}
	if r.OnLink {
		nr.Scope = netlink.SCOPE_LINK
	}
	return nr
}

func podRoute(r Route, linkIndex int) *netlink.Route {
	nr := &netlink.Route{LinkIndex: linkIndex, Family: family(r.Dst.Addr())}
	if r.Dst.Bits() > 0 {
		nr.Dst = ipNet(r.Dst)
	}
	if r.Gateway.IsValid() {
		nr.Gw = r.Gateway.AsSlice()
	}
	if r.OnLink {
		nr.Scope = netlink.SCOPE_LINK
	}
	return nr
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func family(a netip.Addr) int {
	if a.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func ifaceOf(l netlink.Link) Interface {
	a := l.Attrs()
	return Interface{Name: a.Name, MAC: a.HardwareAddr, Index: a.Index, MTU: a.MTU}
}

// PodIfaceExists says whether the pod namespace already has an interface named
// podIface. An error means the namespace cannot be opened (not a namespace, gone).
func PodIfaceExists(netnsPath, podIface string) (bool, error) {
	podNS, err := ns.GetNS(netnsPath)
	if err != nil {
		return false, fmt.Errorf("opening pod network namespace %s: %w", netnsPath, err)
	}
	defer podNS.Close()
	exists := false
	err = podNS.Do(func(ns.NetNS) error {
		_, lerr := netlink.LinkByName(podIface)
		var nf netlink.LinkNotFoundError
		switch {
		case lerr == nil:
			exists = true
		case !errors.As(lerr, &nf):
			return fmt.Errorf("looking up %s: %w", podIface, lerr)
		}
		return nil
	})
	return exists, err
}
