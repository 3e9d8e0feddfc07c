package cni

import (
	"bytes"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/google/go-cmp/cmp"

	"github.com/palisadenet/palisade/dataplane/workload"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

var testWorkload = workload.Result{
	Host: workload.Interface{Name: "calic440f455693", MAC: workload.HostMAC, Index: 7, MTU: 1450},
	Pod:  workload.Interface{Name: "eth0", MAC: net.HardwareAddr{0x02, 0x42, 0xac, 0x11, 0x00, 0x02}, Index: 2, MTU: 1450},
}

var dualStack = []netip.Prefix{netip.MustParsePrefix("192.168.10.5/32"), netip.MustParsePrefix("fd00:10::5/128")}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", path, diff)
	}
}

func TestBuildResultGolden(t *testing.T) {
	for _, tc := range []struct {
		file, version string
		addrs         []netip.Prefix
	}{
		{"result-1.0.0-dualstack.json", "1.0.0", dualStack},
		{"result-1.1.0-v4.json", "1.1.0", dualStack[:1]},
		{"result-0.3.1-v4.json", "0.3.1", dualStack[:1]},
	} {
		t.Run(tc.file, func(t *testing.T) {
			res, err := BuildResult(tc.version, "/var/run/netns/cni-1234", testWorkload, tc.addrs).GetAsVersion(tc.version)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := res.PrintTo(&buf); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, buf.Bytes())
		})
	}
}

func TestAddrsOfResultRoundTrip(t *testing.T) {
	res := BuildResult("1.0.0", "/ns", testWorkload, dualStack)
	if diff := cmp.Diff(dualStack, AddrsOfResult(res, "eth0"), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("AddrsOfResult (-want +got):\n%s", diff)
	}
	if got := AddrsOfResult(res, "net1"); len(got) != 0 {
		t.Errorf("addresses of another interface: %v", got)
	}
	bad := -1
	res.IPs = append(res.IPs, &current.IPConfig{Interface: &bad, Address: net.IPNet{IP: net.IPv4(1, 2, 3, 4), Mask: net.CIDRMask(32, 32)}})
	if got := AddrsOfResult(res, "eth0"); len(got) != 2 {
		t.Errorf("an IP with an invalid interface index was counted: %v", got)
	}
}
