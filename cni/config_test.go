package cni

import (
	"errors"
	"strings"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
	"github.com/google/go-cmp/cmp"
)

var testEnv = Env{
	Getenv:   func(k string) string { return map[string]string{"NODENAME": "node-env"}[k] },
	Hostname: func() (string, error) { return "host-name", nil },
}

func TestParseConfigDefaults(t *testing.T) {
	conf, err := ParseConfig([]byte(`{"cniVersion":"1.0.0","name":"k8s-pod-network","type":"palisade",
		"ipam":{"type":"palisade-ipam"}}`), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	got := struct {
		DS, Kubeconfig, Node, Log string
		MTU                       int
		V4, V6                    bool
	}{conf.DatastoreType, conf.Kubernetes.Kubeconfig, conf.Nodename, conf.LogLevel, conf.MTU, conf.IPAM.WantV4(), conf.IPAM.WantV6()}
	want := struct {
		DS, Kubeconfig, Node, Log string
		MTU                       int
		V4, V6                    bool
	}{"kubernetes", DefaultKubeconfig, "node-env", "warn", 1450, true, false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
}

func TestParseConfigFields(t *testing.T) {
	conf, err := ParseConfig([]byte(`{"cniVersion":"1.1.0","name":"net","type":"palisade",
		"datastore_type":"file","datastore_dir":"/etc/palisade/manifests","nodename":"n1","mtu":1440,
		"log_level":"debug",
		"ipam":{"type":"calico-ipam","assign_ipv4":"false","assign_ipv6":true,
		        "ipv6_pools":["fd00::/48","v6-pool"]}}`), Env{})
	if err != nil {
		t.Fatal(err)
	}
	if conf.DatastoreDir != "/etc/palisade/manifests" || conf.Nodename != "n1" || conf.MTU != 1440 ||
		conf.IPAM.WantV4() || !conf.IPAM.WantV6() || len(conf.IPAM.IPv6Pools) != 2 {
		t.Errorf("parsed %+v", conf)
	}
}

func TestParseConfigNodenameFromHostname(t *testing.T) {
	conf, err := ParseConfig([]byte(`{"cniVersion":"1.0.0","name":"n","ipam":{"type":"palisade-ipam"}}`),
		Env{Getenv: func(string) string { return "" }, Hostname: testEnv.Hostname})
	if err != nil {
		t.Fatal(err)
	}
	if conf.Nodename != "host-name" {
		t.Errorf("Nodename = %q, want the hostname", conf.Nodename)
	}
}

func TestParseConfigErrors(t *testing.T) {
	const base = `"cniVersion":"1.0.0","name":"n","type":"palisade"`
	for _, tc := range []struct {
		name, in string
		code     uint
		want     string
	}{
		{"not json", `{"cniVersion":`, types.ErrDecodingFailure, "parsing network configuration"},
		{"mtu wrong type", `{` + base + `,"mtu":"big","ipam":{"type":"palisade-ipam"}}`, types.ErrDecodingFailure, "mtu"},
		{"no name", `{"cniVersion":"1.0.0","ipam":{"type":"palisade-ipam"}}`, types.ErrInvalidNetworkConfig, "name is empty"},
		{"unsupported version", `{"cniVersion":"0.2.0","name":"n","ipam":{"type":"palisade-ipam"}}`, types.ErrInvalidNetworkConfig, `cniVersion "0.2.0": want one of`},
		{"bad datastore", `{` + base + `,"datastore_type":"etcdv3","ipam":{"type":"palisade-ipam"}}`, types.ErrInvalidNetworkConfig, `datastore_type "etcdv3"`},
		{"file without dir", `{` + base + `,"datastore_type":"file","ipam":{"type":"palisade-ipam"}}`, types.ErrInvalidNetworkConfig, "needs datastore_dir"},
		{"mtu too small", `{` + base + `,"mtu":40,"ipam":{"type":"palisade-ipam"}}`, types.ErrInvalidNetworkConfig, "mtu 40 out of range"},
		{"mtu below ipv6 min", `{` + base + `,"mtu":1200,"ipam":{"type":"palisade-ipam","assign_ipv6":"true"}}`, types.ErrInvalidNetworkConfig, "below IPv6's minimum"},
		{"no ipam", `{` + base + `}`, types.ErrInvalidNetworkConfig, "ipam.type is empty"},
		{"other ipam", `{` + base + `,"ipam":{"type":"host-local"}}`, types.ErrInvalidNetworkConfig, `ipam.type "host-local" not supported`},
		{"no family", `{` + base + `,"ipam":{"type":"palisade-ipam","assign_ipv4":"false"}}`, types.ErrInvalidNetworkConfig, "both false"},
		{"bad bool", `{` + base + `,"ipam":{"type":"palisade-ipam","assign_ipv4":"yes"}}`, types.ErrDecodingFailure, `want true or false, got "yes"`},
		{"v6 cidr in v4 pools", `{` + base + `,"ipam":{"type":"palisade-ipam","ipv4_pools":["fd00::/64"]}}`, types.ErrInvalidNetworkConfig, "ipam.ipv4_pools[0]: fd00::/64 is the wrong IP family"},
		{"bad cidr", `{` + base + `,"ipam":{"type":"palisade-ipam","ipv4_pools":["10.0.0.0/33"]}}`, types.ErrInvalidNetworkConfig, "neither a pool name nor a CIDR"},
		{"bad log level", `{` + base + `,"log_level":"chatty","ipam":{"type":"palisade-ipam"}}`, types.ErrInvalidNetworkConfig, `log_level "chatty"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.in), testEnv)
			var cerr *types.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("ParseConfig = %v, want a *types.Error", err)
			}
			if cerr.Code != tc.code || !strings.Contains(cerr.Msg, tc.want) {
				t.Errorf("ParseConfig = code %d %q, want code %d containing %q", cerr.Code, cerr.Msg, tc.code, tc.want)
			}
		})
	}
}
