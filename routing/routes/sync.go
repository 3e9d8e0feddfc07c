package routes

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// Protocol is the route protocol number every route we install carries (see
// `ip route show proto 80`). It is what makes a route ours: the Syncer lists, replaces
// and deletes only routes with this number, so routes of the user, of DHCP, of
// kube-proxy or of another routing daemon are never touched. 80 is the number Calico's
// Felix uses, so a node that swaps calico-node for palisade-node reconciles Felix's
// leftover routes instead of keeping stale ones.
const Protocol netlink.RouteProtocol = 80

// Stats counts what one Apply changed.
type Stats struct {
	RoutesAdded, RoutesReplaced, RoutesDeleted int
	NeighborsSet, NeighborsDeleted             int
}

// Syncer reconciles the main routing table of one network namespace with a Plan.
type Syncer struct {
	h   *netlink.Handle
	log *zap.Logger
}

// NewSyncer works through h, a handle into the target namespace
// (netlink.NewHandleAt), or the current namespace for a zero netlink.Handle.
func NewSyncer(h *netlink.Handle, log *zap.Logger) *Syncer {
	return &Syncer{h: h, log: log}
}

// Apply makes the kernel hold exactly plan's routes among the routes with our
// Protocol, and exactly plan's neighbour and FDB entries on the VXLAN device when it
// exists. It carries on past individual failures and returns them joined.
func (s *Syncer) Apply(plan Plan) (Stats, error) {
	return s.apply(plan, false)
}

// ApplyKeepingStale is Apply without deletions: our routes and entries that the plan
// no longer names stay. The agent uses it after a restart until BGP has re-learned
// its routes, so the routes of the previous run keep carrying traffic meanwhile.
func (s *Syncer) ApplyKeepingStale(plan Plan) (Stats, error) {
	return s.apply(plan, true)
}

func (s *Syncer) apply(plan Plan, keepStale bool) (Stats, error) {
	var st Stats
	// VXLAN neighbour and FDB entries go in before the routes that need them (a
	// route via a tunnel endpoint without its entries drops packets while the kernel
	// tries to resolve it), and stale ones go only after the routes moved away.
	errAdd := s.syncVXLANPeers(plan.Neighbors, plan.FDB, true, &st)
	errRoutes := s.syncRoutes(plan.Routes, keepStale, &st)
	var errNeigh error
	if !keepStale {
		errNeigh = s.syncVXLANPeers(plan.Neighbors, plan.FDB, false, &st)
	}
	return st, errors.Join(errAdd, errRoutes, errNeigh)
}

// ListOwn returns the routes with our protocol in the main table.
func (s *Syncer) ListOwn() ([]netlink.Route, error) {
	filter := &netlink.Route{Table: unix.RT_TABLE_MAIN, Protocol: Protocol}
	rs, err := s.h.RouteListFiltered(netlink.FAMILY_ALL, filter, netlink.RT_FILTER_TABLE|netlink.RT_FILTER_PROTOCOL)
	if err != nil {
		return nil, fmt.Errorf("listing routes with protocol %d: %w", Protocol, err)
	}
	return rs, nil
}

func (s *Syncer) syncRoutes(want []Route, keepStale bool, st *Stats) error {
	have, err := s.ListOwn()
	if err != nil {
		return err
	}
	links := map[string]int{}
	var errs []error
	haveByDst := make(map[netip.Prefix]netlink.Route, len(have))
	for _, r := range have {
		haveByDst[dstOf(r)] = r
	}
	wantByDst := make(map[netip.Prefix]bool, len(want))
	for _, w := range want {
		wantByDst[w.Dst] = true
		nr, err := s.toNetlink(w, links)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cur, exists := haveByDst[w.Dst]
		switch {
		case !exists:
			// Add, never replace: a route of someone else's at this destination
			// must fail loudly rather than be overwritten.
			if err := s.h.RouteAdd(nr); err != nil {
				errs = append(errs, fmt.Errorf("adding route %s: %w", w, err))
				continue
			}
			st.RoutesAdded++
		case !sameRoute(&cur, nr, w.Device != ""):
			if err := s.h.RouteReplace(nr); err != nil {
				errs = append(errs, fmt.Errorf("replacing route %s: %w", w, err))
				continue
			}
			st.RoutesReplaced++
		}
	}
	for dst, r := range haveByDst {
		if wantByDst[dst] || keepStale {
			continue
		}
		if err := s.h.RouteDel(&r); err != nil {
			errs = append(errs, fmt.Errorf("deleting stale route %s: %w", dst, err))
			continue
		}
		st.RoutesDeleted++
	}
	if len(errs) > 0 {
		s.log.Warn("route sync incomplete", zap.Int("errors", len(errs)), zap.Error(errs[0]))
	}
	return errors.Join(errs...)
}

func (s *Syncer) toNetlink(r Route, links map[string]int) (*netlink.Route, error) {
	nr := &netlink.Route{
		Dst:      ipNet(r.Dst),
		Table:    unix.RT_TABLE_MAIN,
		Protocol: Protocol,
		Type:     unix.RTN_UNICAST,
	}
	if r.Kind == KindBlackhole {
		nr.Type = unix.RTN_BLACKHOLE
		return nr, nil
	}
	if r.Device != "" {
		idx, err := s.linkIndex(r.Device, links)
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", r, err)
		}
		nr.LinkIndex = idx
	}
	nr.Gw = r.Gateway.AsSlice()
	if r.OnLink {
		nr.Flags = int(netlink.FLAG_ONLINK)
	}
	return nr, nil
}

func (s *Syncer) linkIndex(name string, cache map[string]int) (int, error) {
	if idx, ok := cache[name]; ok {
		return idx, nil
	}
	l, err := s.h.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("finding device %s: %w", name, err)
	}
	cache[name] = l.Attrs().Index
	return l.Attrs().Index, nil
}

// sameRoute compares what we set; checkLink is false when the kernel chose the device.
func sameRoute(cur, want *netlink.Route, checkLink bool) bool {
	return cur.Type == want.Type &&
		cur.Gw.Equal(want.Gw) &&
		(!checkLink || cur.LinkIndex == want.LinkIndex) &&
		cur.Flags&int(netlink.FLAG_ONLINK) == want.Flags&int(netlink.FLAG_ONLINK)
}

func dstOf(r netlink.Route) netip.Prefix {
	if r.Dst == nil {
		if r.Family == unix.AF_INET6 {
			return netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		}
		return netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	}
	a, _ := netip.AddrFromSlice(r.Dst.IP)
	ones, _ := r.Dst.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
