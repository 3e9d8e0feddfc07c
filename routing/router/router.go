// Package router joins the node's two sources of routes and keeps the kernel in line
// with them.
//
// In: the datastore view (this node, pools, blocks, borrowed IPs, other nodes'
// addresses and VTEPs) through SetInput, and the best paths BGP learned through
// OnRoute. Out: one routes.Plan (blackholes for local blocks, VXLAN routes from the
// datastore, and a route per learned prefix chosen by its pool's modes) applied by a
// routes.Syncer. Changes only mark the plan dirty; Run applies it from one goroutine,
// so a burst of thousands of BGP updates costs a few kernel syncs, not thousands.
package router

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/routing/bgp"
	"github.com/palisadenet/palisade/routing/routes"
)

// Applier is what the router needs from routes.Syncer.
type Applier interface {
	Apply(routes.Plan) (routes.Stats, error)
	ApplyKeepingStale(routes.Plan) (routes.Stats, error)
}

// Router holds the merged desired state. It is safe for concurrent use: BGP events
// and datastore updates arrive on different goroutines.
type Router struct {
	mu      sync.Mutex
	in      routes.Input
	bgp     bool
	learned map[netip.Prefix]netip.Addr // prefix → next hop
	apply   Applier
	log     *zap.Logger
	dirty   chan struct{} // one pending kick is enough: the sync reads the latest state
	settled bool          // BGP has re-learned its routes: stale routes may go
	applyMu sync.Mutex    // one kernel sync at a time
}

// New returns a Router. With bgpEnabled, remote blocks of non-VXLAN pools are routed
// only once a peer announces them; without, every remote block is routed from the
// datastore (VXLAN-only clusters).
func New(apply Applier, bgpEnabled bool, log *zap.Logger) *Router {
	return &Router{bgp: bgpEnabled, learned: map[netip.Prefix]netip.Addr{}, apply: apply, log: log,
		dirty: make(chan struct{}, 1), settled: !bgpEnabled}
}

// BGPSettled says BGP has re-learned what its peers hold (end-of-RIB from every
// peer, or a start-up timeout). Until then, with BGP enabled, syncs add and replace
// routes but delete none, so routes installed before a restart keep traffic flowing.
func (r *Router) BGPSettled() {
	r.mu.Lock()
	r.settled = true
	r.mu.Unlock()
	r.kick()
}

// SetInput replaces the datastore view.
func (r *Router) SetInput(in routes.Input) {
	r.mu.Lock()
	r.in = in
	r.mu.Unlock()
	r.kick()
}

// OnRoute records a learned best-path change; it fits bgp.Options.OnRoute.
func (r *Router) OnRoute(ev bgp.RouteEvent) {
	r.mu.Lock()
	if ev.Withdraw {
		delete(r.learned, ev.Prefix)
	} else {
		r.learned[ev.Prefix] = ev.NextHop
	}
	r.mu.Unlock()
	r.kick()
}

func (r *Router) kick() {
	select {
	case r.dirty <- struct{}{}:
	default:
	}
}

// Run syncs whenever something changed and every resync interval (repairing routes
// someone else removed), until ctx ends.
func (r *Router) Run(ctx context.Context, resync time.Duration) {
	t := time.NewTicker(resync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.dirty:
		case <-t.C:
		}
		if err := r.Sync(); err != nil {
			r.log.Warn("route sync incomplete", zap.Error(err))
		}
	}
}

// Sync applies the current plan now.
func (r *Router) Sync() error {
	r.applyMu.Lock()
	defer r.applyMu.Unlock()
	r.mu.Lock()
	ready, settled := r.in.Local.Address.IsValid(), r.settled
	r.mu.Unlock()
	if !ready {
		// Without the datastore view an empty plan would delete every route we
		// installed before a restart; keep them until the view arrives.
		return nil
	}
	plan, problems := r.Plan()
	for _, p := range problems {
		r.log.Warn("cannot route", zap.Stringer("dst", p.Dst), zap.String("reason", p.Reason))
	}
	apply := r.apply.Apply
	if !settled {
		apply = r.apply.ApplyKeepingStale
	}
	st, err := apply(plan)
	if st != (routes.Stats{}) {
		r.log.Info("routes synced", zap.Int("added", st.RoutesAdded), zap.Int("replaced", st.RoutesReplaced),
			zap.Int("deleted", st.RoutesDeleted), zap.Int("neighbours set", st.NeighborsSet))
	}
	return err
}

// Plan returns the merged plan and what could not be routed.
func (r *Router) Plan() (routes.Plan, []routes.Problem) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.planLocked()
}

func (r *Router) planLocked() (routes.Plan, []routes.Problem) {
	if !r.in.Local.Address.IsValid() {
		return routes.Plan{}, nil // no datastore view yet: change nothing
	}
	plan, problems := routes.Decide(r.in)
	if r.bgp {
		// BGP carries non-VXLAN blocks; keep blackholes and VXLAN routes only.
		kept := plan.Routes[:0]
		for _, rt := range plan.Routes {
			if rt.Kind == routes.KindBlackhole || rt.Kind == routes.KindVXLAN {
				kept = append(kept, rt)
			}
		}
		plan.Routes = kept
	}
	have := make(map[netip.Prefix]bool, len(plan.Routes))
	for _, rt := range plan.Routes {
		have[rt.Dst] = true
	}
	byIP := make(map[netip.Addr]routes.RemoteNode, len(r.in.Nodes))
	for _, n := range r.in.Nodes {
		byIP[n.IP] = n
	}
	for prefix, nh := range r.learned {
		if have[prefix] || nh == r.in.Local.Address.Addr() {
			continue
		}
		node, ok := byIP[nh]
		if !ok {
			node = routes.RemoteNode{Name: nh.String(), IP: nh}
		}
		rt, err := routes.DecideRemoteOrDirect(r.in.Local, r.in.Pools, prefix, node)
		if err != nil {
			problems = append(problems, routes.Problem{Dst: prefix, Reason: err.Error()})
			if rt.Kind == 0 {
				continue
			}
		}
		plan.Routes = append(plan.Routes, rt)
		if rt.Kind == routes.KindVXLAN {
			addVTEP(&plan, node)
		}
	}
	plan.Sort()
	return plan, problems
}

// addVTEP adds the neighbour and FDB entries for node unless the plan has them.
func addVTEP(plan *routes.Plan, node routes.RemoteNode) {
	mac := node.VTEPMAC.String()
	for _, n := range plan.Neighbors {
		if n.IP == node.VTEPIP {
			return
		}
	}
	plan.Neighbors = append(plan.Neighbors, routes.Neighbor{IP: node.VTEPIP, MAC: mac})
	plan.FDB = append(plan.FDB, routes.FDBEntry{MAC: mac, Dst: node.IP})
}
