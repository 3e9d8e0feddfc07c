package agent

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
)

func envFrom(m map[string]string) (func(string) string, []string) {
	var environ []string
	for k, v := range m {
		environ = append(environ, k+"="+v)
	}
	return func(k string) string { return m[k] }, environ
}

func TestConfigFromCalicoEnv(t *testing.T) {
	getenv, environ := envFrom(map[string]string{
		"NODENAME": "worker-1", "DATASTORE_TYPE": "kubernetes", "IP": "10.0.0.5/24",
		"IP_AUTODETECTION_METHOD": "interface=eth.*", "CALICO_NETWORKING_BACKEND": "vxlan",
		"FELIX_LOGSEVERITYSCREEN": "Warning", "FELIX_HEALTHPORT": "9199", "FELIX_PROMETHEUSMETRICSENABLED": "false",
		"FELIX_IPTABLESREFRESHINTERVAL": "2.5", "FELIX_NFTABLESMODE": "Disabled",
	})
	cfg, warnings, err := ConfigFromEnv(getenv, environ)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("ConfigFromEnv: err %v, warnings %q", err, warnings)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"NodeName", cfg.NodeName, "worker-1"},
		{"IP", cfg.IP, "10.0.0.5/24"},
		{"method", cfg.IPAutodetectionMethod, "interface=eth.*"},
		{"BGPEnabled", cfg.BGPEnabled(), false},
		{"RoutingEnabled", cfg.RoutingEnabled(), true},
		{"LogLevel", cfg.LogLevel, zapcore.WarnLevel},
		{"HealthAddr", cfg.HealthAddr, "localhost:9199"},
		{"MetricsAddr", cfg.MetricsAddr, ""},
		{"FirewallResync", cfg.FirewallResync, 2500 * time.Millisecond},
		{"FirewallBackend", cfg.FirewallBackend, "iptables"},
		{"RouteResync", cfg.RouteResync, 90 * time.Second},
		{"BGPListenPort", cfg.BGPListenPort, int32(179)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

// Every invalid setting is named in one error, so a single restart fixes them all.
func TestConfigReportsEveryProblem(t *testing.T) {
	getenv, environ := envFrom(map[string]string{
		"NODENAME": "n", "DATASTORE_TYPE": "etcdv3", "IP": "10.0.0.5", "FELIX_HEALTHPORT": "70000",
		"FELIX_LOGSEVERITYSCREEN": "Chatty", "CALICO_NETWORKING_BACKEND": "gobgp", "FELIX_ROUTEREFRESHINTERVAL": "-1",
	})
	_, _, err := ConfigFromEnv(getenv, environ)
	var cfgErr *ConfigError
	if !errors.As(err, &cfgErr) {
		t.Fatalf("want a ConfigError, got %v", err)
	}
	for _, name := range []string{"DATASTORE_TYPE", "IP=", "FELIX_HEALTHPORT", "FELIX_LOGSEVERITYSCREEN", "CALICO_NETWORKING_BACKEND", "FELIX_ROUTEREFRESHINTERVAL"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error does not name %s:\n%v", name, err)
		}
	}
	if len(cfgErr.Problems) != 6 {
		t.Errorf("want 6 problems, got %d: %q", len(cfgErr.Problems), cfgErr.Problems)
	}
}

func TestConfigWarnsAboutUnknownFelixSettings(t *testing.T) {
	getenv, environ := envFrom(map[string]string{"NODENAME": "n", "FELIX_WIREGUARDENABLED": "true", "FELIX_LOGSEVERITYSCREEN": "info"})
	_, warnings, err := ConfigFromEnv(getenv, environ)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "FELIX_WIREGUARDENABLED") {
		t.Errorf("warnings = %q, want one naming FELIX_WIREGUARDENABLED", warnings)
	}
}

func TestConfigFileDatastoreNeedsDir(t *testing.T) {
	getenv, environ := envFrom(map[string]string{"NODENAME": "n", "DATASTORE_TYPE": "file"})
	if _, _, err := ConfigFromEnv(getenv, environ); err == nil || !strings.Contains(err.Error(), "DATASTORE_DIR") {
		t.Errorf("want an error naming DATASTORE_DIR, got %v", err)
	}
}
