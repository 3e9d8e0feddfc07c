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

func runSpeaker(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var cfg speakerConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("parsing %s: %w", path, err)
	}
	log, _ := zap.NewDevelopment()
	h, err := netlink.NewHandle()
	if err != nil {
		return err
	}
	r := router.New(routes.NewSyncer(h, log), true, log)
	var remotes []routes.RemoteNode
	var local bgp.Node
	for _, n := range cfg.Nodes {
		if n.Name == cfg.Name {
			local = n
			continue
		}
		remotes = append(remotes, routes.RemoteNode{Name: n.Name, IP: n.IP})
	}
	in := routes.Input{Local: routes.LocalNode{Name: cfg.Name, Address: cfg.Address, Interface: cfg.Interface},
		Pools: cfg.Pools, Blocks: cfg.Blocks, Nodes: remotes}
	r.SetInput(in)
	if err := r.Sync(); err != nil {
		return fmt.Errorf("initial route sync: %w", err)
	}
	runCtx, stopRouter := context.WithCancel(context.Background())
	defer stopRouter()
	go r.Run(runCtx, 30*time.Second)
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
	var own []netip.Prefix
	for _, b := range cfg.Blocks {
		if b.Node == cfg.Name {
			own = append(own, b.CIDR)
		}
	}
	if err := s.SetAdvertised(ctx, own); err != nil {
		return err
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return nil
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
