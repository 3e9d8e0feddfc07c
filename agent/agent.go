// Package agent is palisade-node: one process per node that keeps the node's
// firewall and routes equal to what the datastore says.
//
// In: a Config (environment, see ConfigFromEnv) and the datastore's event stream
// (Kubernetes API or a manifest directory). Out: the firewall backend's ruleset
// (nftables by default), kernel routes and BGP sessions (GoBGP), this node's routing
// facts published as Node annotations, and local endpoints: /liveness and
// /readiness, Prometheus /metrics and the BGP status socket `palisadectl node
// status` reads.
//
// The flow is one loop: each datastore Event goes through the calculation graph
// (package calc) into one firewall Apply, and through the routing view into the
// router (kernel routes) and the BGP speaker (peers and advertisements).
package agent

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"sort"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisadenet/palisade/calc"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/dataplane"
	"github.com/palisadenet/palisade/routing/autodetect"
	"github.com/palisadenet/palisade/routing/bgp"
	"github.com/palisadenet/palisade/routing/ipam"
	"github.com/palisadenet/palisade/routing/router"
	"github.com/palisadenet/palisade/routing/routes"
)

// Firewall is what the agent needs from a firewall backend.
type Firewall interface {
	Apply([]dataplane.Update) error
	RunResync(ctx context.Context, interval time.Duration)
}

// Agent is one running palisade-node.
type Agent struct {
	cfg     Config
	log     *zap.Logger
	now     func() time.Time
	health  *health
	metrics *metrics
	board   statusBoard

	store    *backendStore
	graph    *calc.Graph
	firewall Firewall
	// otherBackendCleanup removes the previous backend's rules after the first full
	// programming (nil once done).
	otherBackendCleanup func() error
	view                *routingView

	local   routes.LocalNode
	netlink *netlink.Handle
	ipam    *ipam.Allocator
	vtep    netip.Addr // this node's VXLAN tunnel address once set up
	router  *router.Router
	speaker *bgp.Speaker
	// advertised is what the speaker was last told to announce.
	advertised []netip.Prefix
	inSync     bool
	// statusStale: events arrived since the policy status was last computed.
	statusStale bool
	nat         dataplane.NATOutgoing // last sent to the firewall
}

// New prepares an agent; Run starts it. now is the clock (time.Now in production).
func New(cfg Config, log *zap.Logger, now func() time.Time) *Agent {
	return &Agent{cfg: cfg, log: log, now: now, metrics: newMetrics(),
		health: &health{now: now, lastLoop: now(), bgpEnabled: cfg.BGPEnabled()}, view: newRoutingView()}
}

// Run runs the agent until ctx ends. On the way out it leaves the firewall and the
// routes in place: pods keep their policy and connectivity while the agent
// restarts or is upgraded, and the next agent adopts the state.
func (a *Agent) Run(ctx context.Context) error {
	a.log.Info("palisade-node starting", zap.String("node", a.cfg.NodeName), zap.String("datastore", a.cfg.DatastoreType),
		zap.String("firewall", a.cfg.FirewallBackend), zap.String("networking", a.cfg.NetworkingBackend))
	var err error
	if a.store, err = openDatastore(&a.cfg, a.log); err != nil {
		return err
	}
	if a.firewall, a.otherBackendCleanup, err = newFirewall(a.cfg.FirewallBackend, a.cfg.IptablesMode, a.log.Named("firewall")); err != nil {
		return err
	}
	a.graph = calc.New(a.log.Named("calc"), a.cfg.NodeName)
	if err := a.startEndpoints(ctx); err != nil {
		return err
	}
	if a.cfg.RoutingEnabled() {
		if err := a.startRouting(ctx); err != nil {
			return err
		}
	}
	go a.firewall.RunResync(ctx, a.cfg.FirewallResync)

	events := make(chan datastore.Event, 16)
	dsErr := make(chan error, 1)
	go func() { dsErr <- a.store.source.Run(ctx, events) }()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		a.health.tick()
		select {
		case <-ctx.Done():
			// The BGP speaker is deliberately not stopped: GoBGP's Stop sends every
			// peer a Cease NOTIFICATION ("peer de-configured"), on which peers drop
			// our routes at once, graceful restart or not. Exiting without it closes
			// the sessions like a crash: peers keep our routes as stale for the
			// graceful-restart time, so pod traffic flows while the agent restarts.
			a.log.Info("palisade-node stopping; the dataplane and BGP routes stay in place")
			return nil
		case err := <-dsErr:
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("datastore stopped: %w", err)
		case ev := <-events:
			a.handle(ctx, ev)
		case <-tick.C:
			a.refreshBGPStatus(ctx)
			a.refreshPolicyStatus()
		}
	}
}

// handle applies one datastore Event.
func (a *Agent) handle(ctx context.Context, ev datastore.Event) {
	for _, e := range ev.Errors {
		a.metrics.errors.WithLabelValues("datastore").Inc()
		a.log.Error("datastore input rejected; the previous valid state stays in force", zap.Error(e))
	}
	updates := a.graph.Apply(ev.Updates)
	routingChanged := a.view.apply(ev.Updates)
	if routingChanged {
		if nat := a.view.natOutgoing(); !reflect.DeepEqual(nat, a.nat) {
			a.nat = nat
			updates = append(updates, dataplane.Update{NATUpdate: &nat})
		}
	}
	if ev.InSync {
		updates = append(updates, a.graph.InSync()...)
		a.inSync = true
		// The initial snapshot's decoding garbage is gone for good: return it to
		// the OS now rather than holding the start-up peak as resident memory.
		defer debug.FreeOSMemory()
	}
	if len(updates) > 0 {
		start := a.now()
		err := a.firewall.Apply(updates)
		a.metrics.applySeconds.Observe(a.now().Sub(start).Seconds())
		if err != nil {
			a.metrics.errors.WithLabelValues("dataplane").Inc()
			a.log.Error("firewall update failed; the periodic resync retries", zap.Error(err))
		}
		a.health.setDataplane(a.inSync && err == nil, err)
		if a.inSync && err == nil && a.otherBackendCleanup != nil {
			if cerr := a.otherBackendCleanup(); cerr != nil {
				a.log.Warn("removing the other firewall backend's rules", zap.Error(cerr))
			}
			a.otherBackendCleanup = nil
		}
	}
	a.statusStale = true
	if a.cfg.RoutingEnabled() && routingChanged {
		a.updateRouting(ctx)
	}
}

// refreshPolicyStatus updates the policy gauges and the status socket's document
// when events arrived since the last tick. Graph.Status walks every endpoint of the
// cluster, so it runs once a second at most, not once per event.
func (a *Agent) refreshPolicyStatus() {
	if !a.statusStale {
		return
	}
	a.statusStale = false
	st := a.graph.Status()
	a.metrics.policies.Set(float64(st.ActivePolicies))
	a.metrics.endpoints.Set(float64(st.LocalEndpoints))
	a.metrics.sets.Set(float64(st.Sets))
	a.metrics.invalid.Set(float64(len(st.Invalid)))
	a.board.set(a.inSync, st)
}

// startEndpoints opens the status socket, health and metrics listeners.
func (a *Agent) startEndpoints(ctx context.Context) error {
	if a.cfg.StatusSocket != "" {
		if err := os.MkdirAll(filepath.Dir(a.cfg.StatusSocket), 0o755); err != nil {
			return fmt.Errorf("creating status socket directory: %w", err)
		}
		_ = os.Remove(a.cfg.StatusSocket) // a previous run's socket; nothing listens on it
		if err := serveHTTP(ctx, a.cfg.StatusSocket, a.statusHandler(), a.log); err != nil {
			return err
		}
	}
	if a.cfg.HealthAddr != "" {
		if err := serveHTTP(ctx, a.cfg.HealthAddr, a.health.handler(), a.log); err != nil {
			return err
		}
	}
	if a.cfg.MetricsAddr != "" {
		if err := serveHTTP(ctx, a.cfg.MetricsAddr, a.metrics.handler(), a.log); err != nil {
			return err
		}
	}
	return nil
}

// bgpStatus feeds the status socket; with BGP off there are no peers to show.
func (a *Agent) bgpStatus(ctx context.Context) ([]bgp.PeerStatus, error) {
	if a.speaker == nil {
		return nil, nil
	}
	return a.speaker.Status(ctx)
}

// startRouting detects the node address, publishes it, and starts the router and
// (with BGP) the speaker. Routes already in the kernel from a previous run stay
// until BGP has re-learned what its peers hold.
func (a *Agent) startRouting(ctx context.Context) error {
	h, err := netlink.NewHandle()
	if err != nil {
		return fmt.Errorf("opening netlink: %w", err)
	}
	addr, err := autodetect.DetectIn(h, a.cfg.IP, a.cfg.IPAutodetectionMethod)
	if err != nil {
		return fmt.Errorf("detecting the node address (IP=%s, IP_AUTODETECTION_METHOD=%s): %w", a.cfg.IP, a.cfg.IPAutodetectionMethod, err)
	}
	a.netlink = h
	if err := a.openIPAM(ctx); err != nil {
		return err
	}
	a.local = routes.LocalNode{Name: a.cfg.NodeName, Address: addr.Address, Interface: addr.Interface}
	a.log.Info("node address", zap.Stringer("address", addr.Address), zap.String("interface", addr.Interface))
	if err := a.store.publishNode(ctx, map[string]string{AnnotationIPv4Address: addr.Address.String()}); err != nil {
		return fmt.Errorf("publishing the node address: %w", err)
	}
	if err := enableForwarding(); err != nil {
		return err
	}
	a.router = router.New(routes.NewSyncer(h, a.log.Named("routes")), a.cfg.BGPEnabled(), a.log.Named("router"))
	go a.router.Run(ctx, a.cfg.RouteResync)
	if !a.cfg.BGPEnabled() {
		return nil
	}
	a.speaker, err = bgp.Start(bgp.Options{
		RouterID: addr.Address.Addr(), ListenPort: a.cfg.BGPListenPort,
		GracefulRestart: bgp.GracefulRestart{Enabled: true},
		ConnectRetry:    time.Second, Logger: a.log.Named("bgp"), Now: a.now, OnRoute: a.router.OnRoute,
	})
	if err != nil {
		return fmt.Errorf("starting BGP: %w", err)
	}
	// Until every peer has sent its routes (or this deadline passes), the router
	// adds and replaces routes but deletes none.
	time.AfterFunc(bgpSettleTimeout, a.router.BGPSettled)
	return nil
}

// enableForwarding turns on IP forwarding, without which no pod traffic crosses the
// node (Felix does the same at start).
func enableForwarding() error {
	for _, path := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"} {
		if err := os.WriteFile(path, []byte("1"), 0o644); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("enabling forwarding (%s): %w", path, err)
		}
	}
	return nil
}

// bgpSettleTimeout bounds how long stale routes from a previous run are kept.
const bgpSettleTimeout = 20 * time.Second

// updateRouting pushes the routing view to the router and the speaker.
func (a *Agent) updateRouting(ctx context.Context) {
	in, problems := a.view.routeInput(a.local)
	for _, p := range problems {
		a.metrics.errors.WithLabelValues("routing").Inc()
		a.log.Warn("routing input ignored", zap.String("problem", p))
	}
	if err := a.ensureVXLAN(ctx); err != nil {
		a.metrics.errors.WithLabelValues("routing").Inc()
		a.log.Error("VXLAN tunnel endpoint not ready; VXLAN routes wait for it", zap.Error(err))
	}
	a.router.SetInput(in)
	if a.speaker == nil {
		return
	}
	peerIn, problems := a.view.peerInput(a.cfg.NodeName, matchSelector, a.readSecret)
	for _, p := range problems {
		a.metrics.errors.WithLabelValues("bgp").Inc()
		a.log.Warn("BGP input ignored", zap.String("problem", p))
	}
	// Our AS may come from BGPConfiguration or our own node's override; the
	// speaker was started with the default and is corrected here.
	peers, errs := bgp.ComputePeers(peerIn)
	for _, e := range errs {
		a.metrics.errors.WithLabelValues("bgp").Inc()
		a.log.Warn("BGP peer ignored", zap.Error(e))
	}
	if err := a.speaker.SetPeers(ctx, peers); err != nil {
		a.log.Error("setting BGP peers", zap.Error(err))
	}
	adv := append(a.view.ownBlocks(a.cfg.NodeName), a.view.borrowedHere(a.cfg.NodeName)...)
	services, problems := a.view.serviceAdvertisements()
	for _, p := range problems {
		a.metrics.errors.WithLabelValues("bgp").Inc()
		a.log.Warn("service range not advertised", zap.String("problem", p))
	}
	adv = append(adv, services...)
	if !samePrefixes(adv, a.advertised) {
		if err := a.speaker.SetAdvertised(ctx, adv); err != nil {
			a.log.Error("setting BGP advertisements", zap.Error(err))
		} else {
			a.advertised = adv
		}
	}
}

// readSecret resolves a BGPPeer password from a Secret in the agent's namespace (the
// Kubernetes datastore only; the file datastore has no secrets).
func (a *Agent) readSecret(name, key string) (string, error) {
	if a.store.client == nil {
		return "", fmt.Errorf("reading Secret %s key %s: the %s datastore has no secrets", name, key, a.cfg.DatastoreType)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sec, err := a.store.client.CoreV1().Secrets(a.cfg.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading Secret %s/%s: %w", a.cfg.Namespace, name, err)
	}
	v, ok := sec.Data[key]
	if !ok {
		return "", fmt.Errorf("reading Secret %s/%s: no key %q", a.cfg.Namespace, name, key)
	}
	return string(v), nil
}

// refreshBGPStatus updates readiness and the session gauge.
func (a *Agent) refreshBGPStatus(ctx context.Context) {
	if a.speaker == nil {
		return
	}
	rows, err := a.speaker.Status(ctx)
	if err != nil {
		a.log.Warn("reading BGP status", zap.Error(err))
		return
	}
	counts := map[string]int{}
	var notUp []string
	for _, r := range rows {
		counts[r.State]++
		if r.Info != "Established" {
			notUp = append(notUp, r.Address.String())
		}
	}
	a.metrics.bgpSessions.Reset()
	for state, n := range counts {
		a.metrics.bgpSessions.WithLabelValues(state).Set(float64(n))
	}
	sort.Strings(notUp)
	a.health.setBGP(notUp)
}

// ErrNoBackend is returned when the requested firewall backend is unavailable.
var ErrNoBackend = errors.New("firewall backend not available")
