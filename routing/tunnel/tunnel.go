// Package tunnel creates and updates the node's tunnel devices over netlink: the VXLAN
// device vxlan.calico (VNI 4096, UDP 4789, the node's VTEP address and MAC) and the
// IPIP device tunl0.
//
// In: a netlink handle into the target namespace and the wanted device settings.
// Out: the device in the kernel, up, holding exactly the wanted tunnel address, and the
// device's actual MAC (which the node publishes so peers can build FDB entries).
// Routes, neighbour and FDB entries through the devices belong to package routes.
package tunnel

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/vishvananda/netlink"
)

// Defaults match Calico's, so mixed or migrating clusters interoperate.
const (
	VXLANDevice = "vxlan.calico"
	VXLANVNI    = 4096
	VXLANPort   = 4789
	IPIPDevice  = "tunl0"
)

// ErrIPIPUnsupported means the kernel has no ipip module, so tunl0 cannot exist.
var ErrIPIPUnsupported = errors.New("kernel lacks IPIP support (module ipip)")

// VXLAN describes the wanted VXLAN device.
type VXLAN struct {
	Name string // default VXLANDevice
	VNI  int    // default VXLANVNI
	Port int    // default VXLANPort
	// Parent is the NIC the encapsulated packets leave by; Source is its address.
	Parent string
	Source netip.Addr
	// VTEPIP is the tunnel address (installed as a host route); VTEPMAC is optional
	// and the kernel picks one when empty.
	VTEPIP  netip.Addr
	VTEPMAC net.HardwareAddr
	MTU     int // 0 leaves the kernel's choice (parent MTU - 50)
}

func (v *VXLAN) defaults() {
	if v.Name == "" {
		v.Name = VXLANDevice
	}
	if v.VNI == 0 {
		v.VNI = VXLANVNI
	}
	if v.Port == 0 {
		v.Port = VXLANPort
	}
}

// EnsureVXLAN creates the device or brings an existing one in line; a device with
// the wrong type or identity (VNI, port, parent, source) is recreated. It returns the
// device's MAC.
func EnsureVXLAN(h *netlink.Handle, want VXLAN) (net.HardwareAddr, error) {
	want.defaults()
	if !want.VTEPIP.IsValid() {
		return nil, fmt.Errorf("VXLAN device %s: no VTEP address", want.Name)
	}
	parent, err := h.LinkByName(want.Parent)
	if err != nil {
		return nil, fmt.Errorf("VXLAN device %s: finding parent %q: %w", want.Name, want.Parent, err)
	}
	wanted := &netlink.Vxlan{
		LinkAttrs:    netlink.LinkAttrs{Name: want.Name, MTU: want.MTU, HardwareAddr: want.VTEPMAC},
		VxlanId:      want.VNI,
		VtepDevIndex: parent.Attrs().Index,
		SrcAddr:      want.Source.AsSlice(),
		Port:         want.Port,
		Learning:     false,
	}
	link, err := h.LinkByName(want.Name)
	if err == nil && !sameVXLAN(link, wanted) {
		if err := h.LinkDel(link); err != nil {
			return nil, fmt.Errorf("deleting mismatched %s: %w", want.Name, err)
		}
		err = netlink.LinkNotFoundError{}
	}
	if err != nil {
		if !errors.As(err, &netlink.LinkNotFoundError{}) {
			return nil, fmt.Errorf("looking up %s: %w", want.Name, err)
		}
		if err := h.LinkAdd(wanted); err != nil {
			return nil, fmt.Errorf("creating %s: %w", want.Name, err)
		}
		if link, err = h.LinkByName(want.Name); err != nil {
			return nil, fmt.Errorf("reading back %s: %w", want.Name, err)
		}
	}
	if err := tune(h, link, want.VTEPMAC, want.MTU); err != nil {
		return nil, err
	}
	if err := ensureOnlyAddress(h, link, want.VTEPIP); err != nil {
		return nil, err
	}
	if err := h.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("setting %s up: %w", want.Name, err)
	}
	link, err = h.LinkByName(want.Name)
	if err != nil {
		return nil, fmt.Errorf("reading back %s: %w", want.Name, err)
	}
	return link.Attrs().HardwareAddr, nil
}

func sameVXLAN(l netlink.Link, w *netlink.Vxlan) bool {
	v, ok := l.(*netlink.Vxlan)
	return ok && v.VxlanId == w.VxlanId && v.Port == w.Port &&
		v.VtepDevIndex == w.VtepDevIndex && v.SrcAddr.Equal(w.SrcAddr) && !v.Learning
}

// tune sets the MAC and MTU when asked for and different.
func tune(h *netlink.Handle, link netlink.Link, mac net.HardwareAddr, mtu int) error {
	name := link.Attrs().Name
	if len(mac) > 0 && link.Attrs().HardwareAddr.String() != mac.String() {
		if err := h.LinkSetHardwareAddr(link, mac); err != nil {
			return fmt.Errorf("setting MAC of %s: %w", name, err)
		}
	}
	if mtu > 0 && link.Attrs().MTU != mtu {
		if err := h.LinkSetMTU(link, mtu); err != nil {
			return fmt.Errorf("setting MTU of %s: %w", name, err)
		}
	}
	return nil
}

// ensureOnlyAddress makes ip the device's only address of its family, as a host
// route (/32 or /128) so it does not claim the pool's range.
func ensureOnlyAddress(h *netlink.Handle, link netlink.Link, ip netip.Addr) error {
	name := link.Attrs().Name
	fam := netlink.FAMILY_V4
	if ip.Is6() {
		fam = netlink.FAMILY_V6
	}
	addrs, err := h.AddrList(link, fam)
	if err != nil {
		return fmt.Errorf("listing addresses of %s: %w", name, err)
	}
	found := false
	for _, a := range addrs {
		got, _ := netip.AddrFromSlice(a.IP)
		ones, _ := a.Mask.Size()
		if got.Unmap() == ip && ones == ip.BitLen() {
			found = true
			continue
		}
		if ip.Is6() && got.IsLinkLocalUnicast() {
			continue
		}
		if err := h.AddrDel(link, &a); err != nil {
			return fmt.Errorf("removing stale address %s from %s: %w", a.IPNet, name, err)
		}
	}
	if found {
		return nil
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip.AsSlice(), Mask: net.CIDRMask(ip.BitLen(), ip.BitLen())}}
	if err := h.AddrAdd(link, addr); err != nil {
		return fmt.Errorf("adding %s to %s: %w", ip, name, err)
	}
	return nil
}

// IPIP describes the wanted IPIP device.
type IPIP struct {
	Address netip.Addr // the node's tunnel address (IPv4)
	MTU     int        // 0 leaves the kernel's choice
}

// EnsureIPIP makes tunl0 exist (loading the ipip module creates it as the fallback
// device of every namespace), holding Address, up. It returns ErrIPIPUnsupported
// (wrapped) when the kernel cannot provide it.
func EnsureIPIP(h *netlink.Handle, want IPIP) error {
	if !want.Address.Is4() {
		return fmt.Errorf("IPIP device %s: tunnel address %v is not IPv4", IPIPDevice, want.Address)
	}
	link, err := h.LinkByName(IPIPDevice)
	if err != nil {
		// Asking for an ipip link loads the module if it can; the module then creates
		// tunl0 itself, so "exists" is as good as success.
		addErr := h.LinkAdd(&netlink.Iptun{LinkAttrs: netlink.LinkAttrs{Name: IPIPDevice}})
		switch {
		case addErr == nil, errors.Is(addErr, syscall.EEXIST):
		case errors.Is(addErr, syscall.EOPNOTSUPP), errors.Is(addErr, syscall.ENOTSUP):
			return fmt.Errorf("creating %s: %w: %v", IPIPDevice, ErrIPIPUnsupported, addErr)
		default:
			return fmt.Errorf("creating %s: %w", IPIPDevice, addErr)
		}
		if link, err = h.LinkByName(IPIPDevice); err != nil {
			return fmt.Errorf("reading back %s: %w", IPIPDevice, err)
		}
	}
	if _, ok := link.(*netlink.Iptun); !ok {
		return fmt.Errorf("%s exists but is a %s device, not ipip", IPIPDevice, link.Type())
	}
	if err := tune(h, link, nil, want.MTU); err != nil {
		return err
	}
	if err := ensureOnlyAddress(h, link, want.Address); err != nil {
		return err
	}
	if err := h.LinkSetUp(link); err != nil {
		return fmt.Errorf("setting %s up: %w", IPIPDevice, err)
	}
	return nil
}

// Remove deletes a tunnel device if present (when a pool stops using it).
func Remove(h *netlink.Handle, name string) error {
	link, err := h.LinkByName(name)
	if errors.As(err, &netlink.LinkNotFoundError{}) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up %s: %w", name, err)
	}
	if err := h.LinkDel(link); err != nil {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}
