package controllers

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zapcore"
)

func TestConfigFromEnv(t *testing.T) {
	noFile := func(string) ([]byte, error) { return nil, errors.New("no file") }
	nsFile := func(string) ([]byte, error) { return []byte("palisade-system\n"), nil }
	host := func() (string, error) { return "host-1", nil }
	cases := []struct {
		name     string
		env      map[string]string
		readFile func(string) ([]byte, error)
		want     Config
		wantErr  []string
	}{{
		name: "defaults outside a cluster", readFile: noFile,
		want: Config{Namespace: "kube-system", Identity: "host-1", GCGrace: 15 * time.Minute, GCPeriod: 5 * time.Minute, LogLevel: zapcore.InfoLevel, HealthAddr: ":9094"},
	}, {
		name: "in a cluster: the pod's namespace", readFile: nsFile, env: map[string]string{"POD_NAME": "pc-1", "HEALTH_ADDR": "off"},
		want: Config{Namespace: "palisade-system", Identity: "pc-1", GCGrace: 15 * time.Minute, GCPeriod: 5 * time.Minute, LogLevel: zapcore.InfoLevel},
	}, {
		name: "everything set", readFile: nsFile,
		env: map[string]string{"KUBECONFIG": "/k", "LEADER_ELECTION_NAMESPACE": "x", "POD_NAME": "p", "IPAM_GC_GRACE": "90s",
			"IPAM_GC_PERIOD": "30s", "LOG_LEVEL": "Debug", "HEALTH_ADDR": "127.0.0.1:1"},
		want: Config{Kubeconfig: "/k", Namespace: "x", Identity: "p", GCGrace: 90 * time.Second, GCPeriod: 30 * time.Second, LogLevel: zapcore.DebugLevel, HealthAddr: "127.0.0.1:1"},
	}, {
		name: "every bad value reported", readFile: noFile,
		env:     map[string]string{"IPAM_GC_GRACE": "15", "IPAM_GC_PERIOD": "-1m", "LOG_LEVEL": "loud"},
		wantErr: []string{`IPAM_GC_GRACE="15"`, `IPAM_GC_PERIOD="-1m"`, `LOG_LEVEL="loud"`},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromEnv(func(n string) string { return tc.env[n] }, tc.readFile, host)
			if len(tc.wantErr) > 0 {
				for _, w := range tc.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("error %v does not mention %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}
