package bgp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"go.uber.org/zap"
)

// GracefulRestart configures RFC 4724 for every session: peers keep our routes for
// RestartTime while we restart, and we keep theirs.
type GracefulRestart struct {
	Enabled     bool
	RestartTime time.Duration // default 120 s
}

// Options configure a Speaker.
type Options struct {
	RouterID netip.Addr // the node IPv4 address; also the next hop we advertise
	NextHop6 netip.Addr // next hop for IPv6 prefixes (optional)
	ASNumber uint32     // 0 means DefaultASNumber
	// ListenAddress "" listens on every address; ListenPort 0 means 179 and -1 means
	// do not listen (outgoing sessions only).
	ListenAddress string
	ListenPort    int32
	// ClusterID makes this speaker a route reflector for peers marked as clients.
	ClusterID       string
	GracefulRestart GracefulRestart
	// Timers; zero values mean 90 s hold, 30 s keepalive, 5 s connect retry and
	// 2 s idle hold after a session reset.
	HoldTime, KeepaliveInterval, ConnectRetry, IdleHoldTime time.Duration

	Logger *zap.Logger
	Now    func() time.Time
	// OnRoute receives learned best-path changes, in order, from one goroutine.
	OnRoute func(RouteEvent)
}

// RouteEvent is a change of the best path to a prefix learned from a peer.
type RouteEvent struct {
	Prefix   netip.Prefix
	NextHop  netip.Addr
	Peer     netip.Addr
	Withdraw bool
}

func (o *Options) defaults() error {
	if !o.RouterID.Is4() {
		return fmt.Errorf("router ID %v is not an IPv4 address", o.RouterID)
	}
	if o.ASNumber == 0 {
		o.ASNumber = DefaultASNumber
	}
	if o.ListenPort == 0 {
		o.ListenPort = 179
	}
	if o.GracefulRestart.Enabled && o.GracefulRestart.RestartTime == 0 {
		o.GracefulRestart.RestartTime = 120 * time.Second
	}
	o.HoldTime = cmpOr(o.HoldTime, 90*time.Second)
	o.KeepaliveInterval = cmpOr(o.KeepaliveInterval, 30*time.Second)
	o.ConnectRetry = cmpOr(o.ConnectRetry, 5*time.Second)
	o.IdleHoldTime = cmpOr(o.IdleHoldTime, 2*time.Second)
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnRoute == nil {
		o.OnRoute = func(RouteEvent) {}
	}
	return nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Speaker owns a GoBGP server. One goroutine (run) holds the desired peers, the
// advertised prefixes and the peers' last state changes; the methods hand it work
// and wait for the answer, so no state is shared between goroutines.
type Speaker struct {
	opts   Options
	srv    *server.BgpServer
	cmds   chan func()
	events chan peerChange
	done   chan struct{}
	cancel context.CancelFunc

	// Owned by run.
	peers      map[netip.Addr]Peer
	advertised map[netip.Prefix][]byte // prefix → GoBGP path UUID
	since      map[netip.Addr]time.Time
	keepNH     []netip.Addr // peers under the keepOriginalNextHop policy, sorted
}

type peerChange struct {
	addr netip.Addr
	at   time.Time
}

// Start starts GoBGP with router ID and AS from opts and begins watching sessions and
// best paths. Stop releases everything.
func Start(opts Options) (*Speaker, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	srv := server.NewBgpServer(server.LoggerOption(newZapLogger(opts.Logger)))
	go srv.Serve()
	global := &api.Global{
		Asn:        opts.ASNumber,
		RouterId:   opts.RouterID.String(),
		ListenPort: opts.ListenPort,
	}
	if opts.ListenAddress != "" {
		global.ListenAddresses = []string{opts.ListenAddress}
	}
	if opts.GracefulRestart.Enabled {
		global.GracefulRestart = &api.GracefulRestart{Enabled: true, RestartTime: uint32(opts.GracefulRestart.RestartTime / time.Second)}
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.StartBgp(ctx, &api.StartBgpRequest{Global: global}); err != nil {
		cancel()
		srv.Stop()
		return nil, fmt.Errorf("starting BGP (AS %d, router ID %s, port %d): %w", opts.ASNumber, opts.RouterID, opts.ListenPort, err)
	}
	s := &Speaker{
		opts: opts, srv: srv, cancel: cancel,
		cmds: make(chan func()), events: make(chan peerChange, 64), done: make(chan struct{}),
		peers: map[netip.Addr]Peer{}, advertised: map[netip.Prefix][]byte{}, since: map[netip.Addr]time.Time{},
	}
	w := &pathWatcher{opts: &s.opts, best: map[netip.Prefix]RouteEvent{}}
	req := &api.WatchEventRequest{
		Peer:  &api.WatchEventRequest_Peer{},
		Table: &api.WatchEventRequest_Table{Filters: []*api.WatchEventRequest_Table_Filter{{Type: api.WatchEventRequest_Table_Filter_BEST, Init: true}}},
	}
	err := srv.WatchEvent(ctx, req, func(r *api.WatchEventResponse) {
		if pe := r.GetPeer(); pe != nil {
			s.peerEvent(ctx, pe)
		}
		if te := r.GetTable(); te != nil {
			w.paths(te.Paths)
		}
	})
	if err != nil {
		cancel()
		srv.Stop()
		return nil, fmt.Errorf("watching BGP events: %w", err)
	}
	go s.run(ctx)
	return s, nil
}

func (s *Speaker) peerEvent(ctx context.Context, pe *api.WatchEventResponse_PeerEvent) {
	if pe.Type != api.WatchEventResponse_PeerEvent_STATE || pe.Peer == nil || pe.Peer.State == nil {
		return
	}
	addr, err := netip.ParseAddr(pe.Peer.State.NeighborAddress)
	if err != nil {
		return
	}
	s.opts.Logger.Info("BGP session state", zap.Stringer("peer", addr), zap.Stringer("state", pe.Peer.State.SessionState))
	select {
	case s.events <- peerChange{addr: addr, at: s.opts.Now()}:
	case <-ctx.Done():
	}
}

func (s *Speaker) run(ctx context.Context) {
	defer close(s.done)
	for {
		select {
		case f := <-s.cmds:
			f()
		case ev := <-s.events:
			s.since[ev.addr] = ev.at
		case <-ctx.Done():
			return
		}
	}
}

// do runs f on the owner goroutine and waits for it.
func (s *Speaker) do(ctx context.Context, f func() error) error {
	errc := make(chan error, 1)
	select {
	case s.cmds <- func() { errc <- f() }:
	case <-s.done:
		return errors.New("BGP speaker stopped")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SetPeers makes the sessions equal to peers: removed peers are deleted, new ones
// added, changed ones re-created. It carries on past failures and returns them joined.
func (s *Speaker) SetPeers(ctx context.Context, peers []Peer) error {
	return s.do(ctx, func() error {
		want := make(map[netip.Addr]Peer, len(peers))
		for _, p := range peers {
			want[p.Address] = p
		}
		var errs []error
		for addr, cur := range s.peers {
			if w, ok := want[addr]; ok && w == cur {
				continue
			}
			if err := s.srv.DeletePeer(ctx, &api.DeletePeerRequest{Address: addr.String()}); err != nil {
				errs = append(errs, fmt.Errorf("deleting BGP peer %s: %w", addr, err))
				continue
			}
			delete(s.peers, addr)
			delete(s.since, addr)
		}
		for addr, p := range want {
			if _, ok := s.peers[addr]; ok {
				continue
			}
			if err := s.srv.AddPeer(ctx, &api.AddPeerRequest{Peer: apiPeer(p, &s.opts)}); err != nil {
				errs = append(errs, fmt.Errorf("adding BGP peer %s (%s): %w", addr, p.Type, err))
				continue
			}
			s.peers[addr] = p
			s.since[addr] = s.opts.Now()
		}
		errs = append(errs, s.syncKeepNextHop(ctx))
		return errors.Join(errs...)
	})
}

// SetAdvertised makes the prefixes this node originates equal to prefixes (its
// blocks and borrowed /32s): new ones are announced, missing ones withdrawn.
func (s *Speaker) SetAdvertised(ctx context.Context, prefixes []netip.Prefix) error {
	return s.do(ctx, func() error {
		want := make(map[netip.Prefix]bool, len(prefixes))
		for _, p := range prefixes {
			want[p.Masked()] = true
		}
		var errs []error
		for p, uuid := range s.advertised {
			if want[p] {
				continue
			}
			if err := s.srv.DeletePath(ctx, &api.DeletePathRequest{Family: familyOf(p.Addr()), Uuid: uuid}); err != nil {
				errs = append(errs, fmt.Errorf("withdrawing %s: %w", p, err))
				continue
			}
			delete(s.advertised, p)
		}
		for p := range want {
			if _, ok := s.advertised[p]; ok {
				continue
			}
			uuid, err := s.announce(ctx, p)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			s.advertised[p] = uuid
		}
		return errors.Join(errs...)
	})
}

func (s *Speaker) announce(ctx context.Context, p netip.Prefix) ([]byte, error) {
	nh := s.opts.RouterID
	if p.Addr().Is6() {
		nh = s.opts.NextHop6
	}
	path, err := originPath(p, nh)
	if err != nil {
		return nil, fmt.Errorf("announcing %s: %w", p, err)
	}
	resp, err := s.srv.AddPath(ctx, &api.AddPathRequest{Path: path})
	if err != nil {
		return nil, fmt.Errorf("announcing %s: %w", p, err)
	}
	return resp.Uuid, nil
}

// Status returns one row per configured peer, sorted by address.
func (s *Speaker) Status(ctx context.Context) ([]PeerStatus, error) {
	var rows []PeerStatus
	err := s.do(ctx, func() error {
		states := map[netip.Addr]*api.PeerState{}
		err := s.srv.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
			if a, err := netip.ParseAddr(p.GetState().GetNeighborAddress()); err == nil {
				states[a] = p.State
			}
		})
		if err != nil {
			return fmt.Errorf("listing BGP peers: %w", err)
		}
		for addr, p := range s.peers {
			st := states[addr]
			state, info := sessionRow(st.GetSessionState(), st.GetAdminState())
			rows = append(rows, PeerStatus{Address: addr, Type: p.Type, State: state, Since: s.since[addr], Info: info})
		}
		return nil
	})
	slices.SortFunc(rows, func(a, b PeerStatus) int { return a.Address.Compare(b.Address) })
	return rows, err
}

// Stop shuts GoBGP down: sessions close and peers withdraw our routes (or keep
// them for the restart time when graceful restart is on).
func (s *Speaker) Stop() {
	s.cancel()
	<-s.done
	s.srv.Stop()
}

// pathWatcher turns GoBGP's best-path stream into RouteEvents. It runs on GoBGP's
// watcher goroutine only, so its map needs no lock.
type pathWatcher struct {
	opts *Options
	best map[netip.Prefix]RouteEvent // prefixes whose best path is learned
}

func (w *pathWatcher) paths(paths []*api.Path) {
	for _, p := range paths {
		if p.Family == nil || p.Family.Safi != api.Family_SAFI_UNICAST {
			continue // end-of-RIB markers and other families
		}
		prefix, nh, err := learned(p)
		if err != nil {
			w.opts.Logger.Warn("ignoring BGP path", zap.Error(err))
			continue
		}
		peer, _ := netip.ParseAddr(p.NeighborIp)
		fromPeer := peer.IsValid() && !peer.IsUnspecified()
		prev, had := w.best[prefix]
		switch {
		case p.IsWithdraw || !fromPeer:
			// Gone, or our own origination became best: the learned route must go.
			if had {
				delete(w.best, prefix)
				prev.Withdraw = true
				w.opts.OnRoute(prev)
			}
		default:
			ev := RouteEvent{Prefix: prefix, NextHop: nh, Peer: peer}
			if had && prev == ev {
				continue
			}
			w.best[prefix] = ev
			w.opts.OnRoute(ev)
		}
	}
}
