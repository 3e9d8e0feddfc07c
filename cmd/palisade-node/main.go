// Command palisade-node is the per-node agent (package agent). It is configured by
// the environment, as calico-node is: see `palisade-node --help`.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/palisadenet/palisade/agent"
	"github.com/palisadenet/palisade/internal/version"
)

const help = `palisade-node keeps this node's firewall (nftables), routes and BGP sessions equal
to the datastore. It is configured by environment variables, as calico-node is:

  NODENAME                   this node's name (default: hostname)
  DATASTORE_TYPE             kubernetes (default) or file
  DATASTORE_DIR              manifest directory for DATASTORE_TYPE=file
  KUBECONFIG                 kubeconfig for DATASTORE_TYPE=kubernetes (default: in-cluster)
  IP                         autodetect (default), none, or address/prefix, e.g. 10.0.0.5/24
  IP_AUTODETECTION_METHOD    first-found, interface=REGEX, skip-interface=REGEX,
                             can-reach=IP, cidr=CIDR
  CALICO_NETWORKING_BACKEND  bird (BGP, default), vxlan or none
  PALISADE_BGP_PORT          BGP listen port (default 179)
  FELIX_LOGSEVERITYSCREEN    Debug, Info (default), Warning, Error
  FELIX_HEALTHHOST/PORT      /liveness and /readiness (default localhost:9099)
  FELIX_PROMETHEUSMETRICSHOST/PORT   /metrics (default localhost:9091)
  FELIX_IPTABLESREFRESHINTERVAL      firewall resync seconds (default 10)
  FELIX_ROUTEREFRESHINTERVAL         route resync seconds (default 90)
  PALISADE_STATUS_SOCKET     socket for 'palisadectl node status'
                             (default /var/run/palisade/status.sock)

SIGTERM stops the agent and leaves the firewall and routes in place.
`

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "version", "--version":
			fmt.Println("palisade-node", version.Version)
			return
		case "help", "--help", "-h":
			fmt.Print(help)
			return
		default:
			fmt.Fprintf(os.Stderr, "palisade-node: unknown argument %q (configuration is by environment; see --help)\n", os.Args[1])
			os.Exit(2)
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "palisade-node:", err)
		os.Exit(1)
	}
}

func run() error {
	cfg, warnings, err := agent.ConfigFromEnv(os.Getenv, os.Environ())
	var cfgErr *agent.ConfigError
	if errors.As(err, &cfgErr) {
		return err
	}
	zcfg := zap.NewProductionConfig()
	zcfg.Level = zap.NewAtomicLevelAt(cfg.LogLevel)
	zcfg.Sampling = nil
	log, err := zcfg.Build()
	if err != nil {
		return fmt.Errorf("building logger: %w", err)
	}
	defer func() { _ = log.Sync() }()
	for _, w := range warnings {
		log.Warn(w)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return agent.New(cfg, log.With(zap.String("node", cfg.NodeName)), time.Now).Run(ctx)
}
