package agent

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"
)

// Config is the agent's start-up configuration, read from the environment variables
// users already set in calico.yaml. Settings that change at run time
// (FelixConfiguration, BGPConfiguration) come from the datastore instead.
type Config struct {
	NodeName string
	// DatastoreType is "kubernetes" or "file" (DATASTORE_TYPE).
	DatastoreType string
	// DatastoreDir is the manifest directory of the file datastore (DATASTORE_DIR).
	DatastoreDir string
	// Kubeconfig is used with the kubernetes datastore; empty means in-cluster.
	Kubeconfig string
	// Namespace is where the agent runs and reads BGP password Secrets from
	// (POD_NAMESPACE, default kube-system).
	Namespace string
	// CalicoAPIGroup forces "projectcalico.org" or "crd.projectcalico.org" (CALICO_API_GROUP).
	CalicoAPIGroup string

	// IP is "autodetect" (default), "none" or an address with prefix length (IP).
	IP                    string
	IPAutodetectionMethod string
	// NetworkingBackend is "bird" (BGP, the default), "vxlan" (no BGP) or "none"
	// (policy only) as in CALICO_NETWORKING_BACKEND.
	NetworkingBackend string
	BGPListenPort     int32 // PALISADE_BGP_PORT, default 179

	// FirewallBackend is "nftables" (default), "iptables" or "auto" (FELIX_DATAPLANE
	// style setting PALISADE_FIREWALL_BACKEND, or FELIX_NFTABLESMODE=Disabled).
	FirewallBackend string
	// IptablesMode is FELIX_IPTABLESBACKEND: Auto (follow the host), Legacy or NFT.
	IptablesMode string
	LogLevel     zapcore.Level
	// HealthAddr and MetricsAddr are where /liveness, /readiness and /metrics are
	// served; empty disables.
	HealthAddr  string
	MetricsAddr string
	// StatusSocket is the Unix socket `palisadectl node status` reads.
	StatusSocket string

	// poolEnv reads the CALICO_IPV4POOL_* / CALICO_IPV6POOL_* / NO_DEFAULT_POOLS
	// variables captured at start, for the default pools.
	poolEnv func(string) string

	FirewallResync time.Duration // FELIX_IPTABLESREFRESHINTERVAL (seconds)
	RouteResync    time.Duration // FELIX_ROUTEREFRESHINTERVAL (seconds)
}

// BGPEnabled says whether this node runs a BGP speaker.
func (c *Config) BGPEnabled() bool { return c.NetworkingBackend == "bird" }

// RoutingEnabled says whether this node programs pod routes at all.
func (c *Config) RoutingEnabled() bool { return c.NetworkingBackend != "none" }

// felixSettings are the FELIX_* variables the agent understands. Others are reported
// as ignored at start, so a typo is visible rather than silently without effect.
var felixSettings = map[string]bool{
	"FELIX_LOGSEVERITYSCREEN": true, "FELIX_HEALTHENABLED": true, "FELIX_HEALTHHOST": true,
	"FELIX_HEALTHPORT": true, "FELIX_PROMETHEUSMETRICSENABLED": true, "FELIX_PROMETHEUSMETRICSHOST": true,
	"FELIX_PROMETHEUSMETRICSPORT": true, "FELIX_IPTABLESREFRESHINTERVAL": true,
	"FELIX_ROUTEREFRESHINTERVAL": true, "FELIX_IPTABLESBACKEND": true, "FELIX_NFTABLESMODE": true,
	// Read from FelixConfiguration by the calculation graph; accepted here so
	// calico.yaml's env does not produce warnings.
	"FELIX_DEFAULTENDPOINTTOHOSTACTION": true, "FELIX_IPV6SUPPORT": true,
}

// ConfigError lists every invalid setting at once, so one restart fixes them all.
type ConfigError struct{ Problems []string }

func (e *ConfigError) Error() string {
	return "invalid configuration:\n  " + strings.Join(e.Problems, "\n  ")
}

// ConfigFromEnv reads the configuration. environ is the full environment (os.Environ
// form), used to find unknown FELIX_* settings; getenv reads one variable. It returns
// warnings for settings it ignores and a *ConfigError for invalid ones.
func ConfigFromEnv(getenv func(string) string, environ []string) (Config, []string, error) {
	var problems, warnings []string
	bad := func(name, value, why string) {
		problems = append(problems, fmt.Sprintf("%s=%q: %s", name, value, why))
	}
	oneOf := func(name, def string, allowed ...string) string {
		v := getenv(name)
		if v == "" {
			return def
		}
		for _, a := range allowed {
			if strings.EqualFold(v, a) {
				return a
			}
		}
		bad(name, v, "must be one of "+strings.Join(allowed, ", "))
		return def
	}
	seconds := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			bad(name, v, "must be a positive number of seconds")
			return def
		}
		return time.Duration(f * float64(time.Second))
	}
	port := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			bad(name, v, "must be a port number 1-65535")
			return def
		}
		return p
	}
	enabled := func(name string, def bool) bool {
		v := getenv(name)
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad(name, v, "must be true or false")
			return def
		}
		return b
	}

	c := Config{
		NodeName:              firstNonEmpty(getenv("NODENAME"), getenv("KUBERNETES_NODE_NAME")),
		DatastoreType:         oneOf("DATASTORE_TYPE", "kubernetes", "kubernetes", "file"),
		DatastoreDir:          getenv("DATASTORE_DIR"),
		Kubeconfig:            firstNonEmpty(getenv("KUBECONFIG"), getenv("CALICO_KUBECONFIG")),
		Namespace:             firstNonEmpty(getenv("POD_NAMESPACE"), "kube-system"),
		CalicoAPIGroup:        oneOf("CALICO_API_GROUP", "", "projectcalico.org", "crd.projectcalico.org"),
		IP:                    firstNonEmpty(getenv("IP"), "autodetect"),
		IPAutodetectionMethod: getenv("IP_AUTODETECTION_METHOD"),
		NetworkingBackend:     oneOf("CALICO_NETWORKING_BACKEND", "bird", "bird", "vxlan", "none"),
		StatusSocket:          firstNonEmpty(getenv("PALISADE_STATUS_SOCKET"), "/var/run/palisade/status.sock"),
		FirewallResync:        seconds("FELIX_IPTABLESREFRESHINTERVAL", 10*time.Second),
		RouteResync:           seconds("FELIX_ROUTEREFRESHINTERVAL", 90*time.Second),
	}
	poolVars := map[string]string{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "CALICO_IPV4POOL_") || strings.HasPrefix(name, "CALICO_IPV6POOL_") || name == "NO_DEFAULT_POOLS" {
			poolVars[name] = value
		}
	}
	c.poolEnv = func(name string) string { return poolVars[name] }
	if c.NodeName == "" {
		if h, err := os.Hostname(); err == nil {
			c.NodeName = strings.ToLower(h)
		}
	}
	if c.NodeName == "" {
		problems = append(problems, "NODENAME is not set and the hostname is unknown")
	}
	if c.DatastoreType == "file" && c.DatastoreDir == "" {
		problems = append(problems, "DATASTORE_TYPE=file needs DATASTORE_DIR (the manifest directory)")
	}
	c.BGPListenPort = int32(port("PALISADE_BGP_PORT", 179))

	c.FirewallBackend = oneOf("PALISADE_FIREWALL_BACKEND", "nftables", "nftables", "iptables", "auto")
	if getenv("PALISADE_FIREWALL_BACKEND") == "" {
		switch oneOf("FELIX_NFTABLESMODE", "Enabled", "Enabled", "Disabled", "Auto") {
		case "Disabled":
			c.FirewallBackend = "iptables"
		case "Auto":
			c.FirewallBackend = "auto"
		}
	}
	c.IptablesMode = oneOf("FELIX_IPTABLESBACKEND", "Auto", "Auto", "Legacy", "NFT")

	levelName := firstNonEmpty(getenv("FELIX_LOGSEVERITYSCREEN"), getenv("PALISADE_LOG_LEVEL"), "info")
	if err := c.LogLevel.UnmarshalText([]byte(strings.ToLower(normalizeLevel(levelName)))); err != nil {
		bad("FELIX_LOGSEVERITYSCREEN", levelName, "must be Debug, Info, Warning, Error or Fatal")
	}

	if enabled("FELIX_HEALTHENABLED", true) {
		c.HealthAddr = fmt.Sprintf("%s:%d", firstNonEmpty(getenv("FELIX_HEALTHHOST"), "localhost"), port("FELIX_HEALTHPORT", 9099))
	}
	if enabled("FELIX_PROMETHEUSMETRICSENABLED", true) {
		c.MetricsAddr = fmt.Sprintf("%s:%d", firstNonEmpty(getenv("FELIX_PROMETHEUSMETRICSHOST"), "localhost"), port("FELIX_PROMETHEUSMETRICSPORT", 9091))
	}
	if c.IP != "autodetect" && c.IP != "none" && !strings.Contains(c.IP, "/") {
		bad("IP", c.IP, `must be "autodetect", "none" or an address with prefix length, e.g. 10.0.0.5/24`)
	}

	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "FELIX_") && !felixSettings[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		warnings = append(warnings, name+" is not a setting palisade-node supports; ignored")
	}
	if len(problems) > 0 {
		return c, warnings, &ConfigError{Problems: problems}
	}
	return c, warnings, nil
}

// normalizeLevel maps Felix's severities onto zap's level names.
func normalizeLevel(s string) string {
	switch strings.ToLower(s) {
	case "warning":
		return "warn"
	case "critical":
		return "fatal"
	}
	return s
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
