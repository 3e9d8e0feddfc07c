// Command palisade-controllers runs cluster-wide housekeeping in one leader-elected
// replica: IPAM garbage collection (package controllers). It is configured by the
// environment; see `palisade-controllers --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/clock"

	"github.com/palisadenet/palisade/controllers"
	"github.com/palisadenet/palisade/internal/version"
	"github.com/palisadenet/palisade/routing/ipam"
)

const help = `palisade-controllers garbage-collects IPAM: addresses of pods (and tunnel addresses
of nodes) that are gone, and empty blocks and affinities of deleted nodes. One replica
works at a time (a Lease named palisade-controllers). Configuration:

  KUBECONFIG                 kubeconfig file (default: in-cluster)
  LEADER_ELECTION_NAMESPACE  namespace of the Lease (default: the pod's, else kube-system)
  POD_NAME                   this replica's identity in the Lease (default: hostname)
  IPAM_GC_GRACE              how long an owner must be missing first (default 15m)
  IPAM_GC_PERIOD             time between scans (default 5m)
  LOG_LEVEL                  debug, info (default), warn, error
  HEALTH_ADDR                /healthz listen address (default :9094; off disables)
`

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "version", "--version":
			fmt.Println("palisade-controllers", version.Version)
			return
		case "help", "--help", "-h":
			fmt.Print(help)
			return
		default:
			fmt.Fprintf(os.Stderr, "palisade-controllers: unknown argument %q (configuration is by environment; see --help)\n", os.Args[1])
			os.Exit(2)
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "palisade-controllers:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, err := controllers.OSConfig()
	if err != nil {
		return err
	}
	zcfg := zap.NewProductionConfig()
	zcfg.Level = zap.NewAtomicLevelAt(cfg.LogLevel)
	log, err := zcfg.Build()
	if err != nil {
		return fmt.Errorf("building logger: %w", err)
	}
	defer func() { _ = log.Sync() }()
	log = log.With(zap.String("identity", cfg.Identity))

	rc, err := restConfig(cfg.Kubeconfig)
	if err != nil {
		return err
	}
	rc.UserAgent = "palisade-controllers/" + version.Version
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes client: %w", err)
	}
	md, err := metadata.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("kubernetes metadata client: %w", err)
	}
	store, err := ipam.NewKubernetesStore(rc, log.Named("ipam"))
	if err != nil {
		return err
	}
	clk := clock.RealClock{}
	gc, err := controllers.NewGC(store, ipam.New(store, log.Named("ipam")), controllers.NewKubeCluster(md), clk,
		log.Named("ipam-gc"), controllers.GCOptions{Grace: cfg.GCGrace, Period: cfg.GCPeriod})
	if err != nil {
		return err
	}
	health := controllers.NewHealth(gc, clk, 3*cfg.GCPeriod+time.Minute)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if cfg.HealthAddr != "" {
		srv := &http.Server{Addr: cfg.HealthAddr, Handler: healthMux(health), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("health server stopped", zap.Error(err))
				stop()
			}
		}()
		defer srv.Close()
	}
	log.Info("starting", zap.String("version", version.Version), zap.Duration("gcGrace", cfg.GCGrace),
		zap.Duration("gcPeriod", cfg.GCPeriod), zap.String("leaseNamespace", cfg.Namespace))
	err = controllers.RunLeaderElected(ctx, client, controllers.LeaderOptions{Namespace: cfg.Namespace, Identity: cfg.Identity}, log,
		func(ctx context.Context) {
			health.SetLeading(true)
			defer health.SetLeading(false)
			_ = gc.Run(ctx) // returns when leadership or the process ends
		})
	if errors.Is(err, context.Canceled) {
		log.Info("stopped")
		return nil
	}
	return err
}

func healthMux(h http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/healthz", h)
	return mux
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no KUBECONFIG and not in a cluster: %w", err)
		}
		return rc, nil
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
	}
	return rc, nil
}
