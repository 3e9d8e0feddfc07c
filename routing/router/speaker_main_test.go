package router_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"go.uber.org/zap"

	"github.com/palisadenet/palisade/routing/bgp"
	"github.com/palisadenet/palisade/routing/router"
	"github.com/palisadenet/palisade/routing/routes"
)

// A Go process's sockets belong to the namespace of the thread that opens them, so
// each test node runs its speaker as a separate process: this test binary,
// re-executed with `ip netns exec <node>` and speakerEnv pointing at its config. In
// that mode TestMain runs a miniature node agent (peers, advertisements, kernel
// routes, status file) instead of the tests.

const speakerEnv = "PALISADE_TEST_SPEAKER_CONFIG"

func TestMain(m *testing.M) {
	if path := os.Getenv(speakerEnv); path != "" {
		if err := runSpeaker(path); err != nil {
			fmt.Fprintln(os.Stderr, "speaker:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// speakerConfig is one node's view of the cluster.
type speakerConfig struct {
	Name            string
	Address         netip.Prefix
	Interface       string
	ListenPort      int32
	ClusterID       string
	MeshDisabled    bool
	GracefulRestart bool
	RestartSeconds  int
	HoldSeconds     int
	Nodes           []bgp.Node
	Specs           []bgp.PeerSpec
	Pools           []routes.Pool
	Blocks          []routes.Block
	StatusFile      string
}

// speakerStatus is what the speaker writes for the test to poll.
type speakerStatus struct {
	Peers []bgp.PeerStatus
	Text  string
}

func loadConfig(path string) (speakerConfig, error) {
	var cfg speakerConfig
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return cfg, fmt.Errorf("parsing %s: %w", path, err)
	}
	return cfg, nil
}

// views splits the config into the route input and this node's own blocks.
func views(cfg speakerConfig) (routes.Input, []netip.Prefix, bgp.Node) {
	in := routes.Input{Local: routes.LocalNode{Name: cfg.Name, Address: cfg.Address, Interface: cfg.Interface},
		Pools: cfg.Pools, Blocks: cfg.Blocks}
	var local bgp.Node
	for _, n := range cfg.Nodes {
		if n.Name == cfg.Name {
			local = n
			continue
		}
		in.Nodes = append(in.Nodes, routes.RemoteNode{Name: n.Name, IP: n.IP})
	}
	var own []netip.Prefix
	for _, b := range cfg.Blocks {
		if b.Node == cfg.Name {
			own = append(own, b.CIDR)
		}
	}
	return in, own, local
}

// runSpeaker is the miniature agent. SIGHUP re-reads the config's blocks (new
// datastore view and advertisements); SIGTERM stops it.
func runSpeaker(path string) error {
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	log, _ := zap.NewDevelopment()
	h, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	r := router.New(routes.NewSyncer(h, log), true, log)
	in, own, local := views(cfg)
	r.SetInput(in)
	if err := r.Sync(); err != nil {
		return fmt.Errorf("initial route sync: %w", err)
	}
	runCtx, stopRouter := context.WithCancel(context.Background())
	defer stopRouter()
	go r.Run(runCtx, 30*time.Second)
	// A real agent waits for end-of-RIB from its peers; a short timer is enough here.
	time.AfterFunc(3*time.Second, r.BGPSettled)
	bgpCfg := bgp.Config{}
	if cfg.MeshDisabled {
		off := false
		bgpCfg.NodeToNodeMesh = &off
	}
	s, err := bgp.Start(bgp.Options{
		RouterID: cfg.Address.Addr(), ASNumber: bgp.LocalAS(bgpCfg, local), ListenPort: cfg.ListenPort,
		ClusterID:       cfg.ClusterID,
		GracefulRestart: bgp.GracefulRestart{Enabled: cfg.GracefulRestart, RestartTime: time.Duration(cfg.RestartSeconds) * time.Second},
		HoldTime:        time.Duration(cfg.HoldSeconds) * time.Second, KeepaliveInterval: time.Duration(cfg.HoldSeconds) * time.Second / 3,
		ConnectRetry: time.Second, Logger: log, OnRoute: r.OnRoute,
	})
	if err != nil {
		return err
	}
	defer s.Stop()
	ctx := context.Background()
	peers, errs := bgp.ComputePeers(bgp.PeerInput{Local: cfg.Name, Config: bgpCfg, Nodes: cfg.Nodes, Specs: cfg.Specs})
	for _, e := range errs {
		log.Warn("peer", zap.Error(e))
	}
	if err := s.SetPeers(ctx, peers); err != nil {
		return err
	}
	if err := s.SetAdvertised(ctx, own); err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				return nil
			}
			if cfg, err = loadConfig(path); err != nil {
				return err
			}
			in, own, _ = views(cfg)
			r.SetInput(in)
			if err := s.SetAdvertised(ctx, own); err != nil {
				log.Warn("advertise", zap.Error(err))
			}
		case <-tick.C:
			if err := writeStatus(ctx, s, cfg.StatusFile); err != nil {
				log.Warn("status", zap.Error(err))
			}
		}
	}
}

func writeStatus(ctx context.Context, s *bgp.Speaker, path string) error {
	rows, err := s.Status(ctx)
	if err != nil {
		return err
	}
	st := speakerStatus{Peers: rows, Text: bgp.RenderNodeStatus(bgp.NodeStatus{Running: true, Peers: rows}, time.Now())}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := os.WriteFile(path+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
