package controllers

import (
	"fmt"
	"os"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
)

// Config is palisade-controllers' configuration, from the environment.
type Config struct {
	// Kubeconfig is KUBECONFIG; empty means in-cluster.
	Kubeconfig string
	// Namespace holds the leader Lease (LEADER_ELECTION_NAMESPACE, else the pod's own
	// namespace, else kube-system).
	Namespace string
	// Identity is this replica's name in the Lease (POD_NAME, else the hostname).
	Identity string
	// GCGrace and GCPeriod: IPAM_GC_GRACE (default 15m) and IPAM_GC_PERIOD (default 5m),
	// Go durations such as 90s or 10m.
	GCGrace, GCPeriod time.Duration
	LogLevel          zapcore.Level
	// HealthAddr serves /healthz (HEALTH_ADDR, default :9094; "off" disables).
	HealthAddr string
}

// inClusterNamespaceFile is where Kubernetes puts the pod's namespace.
const inClusterNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// ConfigFromEnv reads the configuration; every invalid setting is reported at once.
// readFile and hostname are injected for tests (os.ReadFile, os.Hostname).
func ConfigFromEnv(getenv func(string) string, readFile func(string) ([]byte, error), hostname func() (string, error)) (Config, error) {
	var problems []string
	duration := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			problems = append(problems, fmt.Sprintf("%s=%q: must be a positive duration such as 90s or 15m", name, v))
			return def
		}
		return d
	}
	c := Config{
		Kubeconfig: getenv("KUBECONFIG"),
		Namespace:  getenv("LEADER_ELECTION_NAMESPACE"),
		Identity:   getenv("POD_NAME"),
		GCGrace:    duration("IPAM_GC_GRACE", 15*time.Minute),
		GCPeriod:   duration("IPAM_GC_PERIOD", 5*time.Minute),
		HealthAddr: getenv("HEALTH_ADDR"),
	}
	if c.Namespace == "" {
		c.Namespace = "kube-system"
		if b, err := readFile(inClusterNamespaceFile); err == nil && strings.TrimSpace(string(b)) != "" {
			c.Namespace = strings.TrimSpace(string(b))
		}
	}
	if c.Identity == "" {
		h, err := hostname()
		if err != nil || h == "" {
			problems = append(problems, "POD_NAME is not set and the hostname is unknown")
		}
		c.Identity = h
	}
	switch c.HealthAddr {
	case "":
		c.HealthAddr = ":9094"
	case "off":
		c.HealthAddr = ""
	}
	level := getenv("LOG_LEVEL")
	if level == "" {
		level = "info"
	}
	if err := c.LogLevel.UnmarshalText([]byte(strings.ToLower(level))); err != nil {
		problems = append(problems, fmt.Sprintf("LOG_LEVEL=%q: must be debug, info, warn or error", level))
	}
	if len(problems) > 0 {
		return c, fmt.Errorf("invalid configuration:\n  %s", strings.Join(problems, "\n  "))
	}
	return c, nil
}

// OSConfig reads the process environment.
func OSConfig() (Config, error) { return ConfigFromEnv(os.Getenv, os.ReadFile, os.Hostname) }
