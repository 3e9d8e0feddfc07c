package routes

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// syncVXLANPeers makes the permanent ARP and FDB entries on vxlan.calico equal to
// the plan's. The device is ours, so every permanent entry on it is ours too;
// entries the kernel learnt dynamically are left alone. Without the device there is
// nothing to do unless the plan needs entries.
func (s *Syncer) syncVXLANPeers(neighbors []Neighbor, fdb []FDBEntry, keepStale bool, st *Stats) error {
	link, err := s.h.LinkByName(VXLANDevice)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if errors.As(err, &notFound) && len(neighbors) == 0 && len(fdb) == 0 {
			return nil
		}
		return fmt.Errorf("finding %s for neighbour entries: %w", VXLANDevice, err)
	}
	idx := link.Attrs().Index
	want := make(map[string]netlink.Neigh, len(neighbors)+len(fdb))
	var errs []error
	for _, n := range neighbors {
		hw, err := net.ParseMAC(n.MAC)
		if err != nil {
			errs = append(errs, fmt.Errorf("neighbour %s: %w", n.IP, err))
			continue
		}
		e := netlink.Neigh{LinkIndex: idx, Family: unix.AF_INET, State: netlink.NUD_PERMANENT,
			IP: n.IP.AsSlice(), HardwareAddr: hw}
		if n.IP.Is6() {
			e.Family = unix.AF_INET6
		}
		want[neighKey(e)] = e
	}
	for _, f := range fdb {
		hw, err := net.ParseMAC(f.MAC)
		if err != nil {
			errs = append(errs, fmt.Errorf("FDB entry for %s: %w", f.Dst, err))
			continue
		}
		e := netlink.Neigh{LinkIndex: idx, Family: unix.AF_BRIDGE, State: netlink.NUD_PERMANENT,
			Flags: netlink.NTF_SELF, IP: f.Dst.AsSlice(), HardwareAddr: hw}
		want[neighKey(e)] = e
	}
	have, err := s.permanentEntries(idx)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for k, e := range have {
		if _, ok := want[k]; ok || keepStale {
			continue
		}
		if err := s.h.NeighDel(&e); err != nil {
			errs = append(errs, fmt.Errorf("deleting stale entry %s: %w", k, err))
			continue
		}
		st.NeighborsDeleted++
	}
	for k, e := range want {
		if _, ok := have[k]; ok {
			continue
		}
		if err := s.h.NeighSet(&e); err != nil {
			errs = append(errs, fmt.Errorf("setting entry %s: %w", k, err))
			continue
		}
		st.NeighborsSet++
	}
	return errors.Join(errs...)
}

func (s *Syncer) permanentEntries(idx int) (map[string]netlink.Neigh, error) {
	out := map[string]netlink.Neigh{}
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6, unix.AF_BRIDGE} {
		list, err := s.h.NeighList(idx, fam)
		if err != nil {
			return nil, fmt.Errorf("listing neighbours of %s: %w", VXLANDevice, err)
		}
		for _, e := range list {
			if e.State&netlink.NUD_PERMANENT == 0 || e.HardwareAddr == nil {
				continue
			}
			if fam == unix.AF_BRIDGE && len(e.IP) == 0 {
				continue // an FDB entry without a remote is not one of ours
			}
			e.Family = fam
			out[neighKey(e)] = e
		}
	}
	return out, nil
}

func neighKey(e netlink.Neigh) string {
	ip, _ := netip.AddrFromSlice(e.IP)
	kind := "arp"
	if e.Family == unix.AF_BRIDGE {
		kind = "fdb"
	}
	return fmt.Sprintf("%s %s %s", kind, ip.Unmap(), e.HardwareAddr)
}
