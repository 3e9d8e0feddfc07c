package bgp

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestRenderNodeStatus(t *testing.T) {
	now := time.Date(2026, 11, 22, 9, 30, 0, 0, time.UTC)
	cases := map[string]NodeStatus{
		// The example of ../shared/examples/node-status.txt.
		"node-status-one-peer.txt": {Running: true, Peers: []PeerStatus{
			{Address: netip.MustParseAddr("192.168.40.112"), Type: TypeMesh, State: "up",
				Since: time.Date(2026, 11, 22, 2, 5, 49, 0, time.UTC), Info: "Established"},
		}},
		"node-status-mixed.txt": {Running: true, Peers: []PeerStatus{
			{Address: netip.MustParseAddr("10.0.0.2"), Type: TypeMesh, State: "up",
				Since: time.Date(2026, 11, 22, 2, 5, 49, 0, time.UTC), Info: "Established"},
			{Address: netip.MustParseAddr("192.168.200.254"), Type: TypeGlobal, State: "start",
				Since: time.Date(2026, 11, 20, 23, 0, 0, 0, time.UTC), Info: "Active"},
			{Address: netip.MustParseAddr("fd00:10::3"), Type: TypeNodeSpecific, State: "start", Info: "Idle"},
		}},
		"node-status-no-peers.txt":    {Running: true},
		"node-status-not-running.txt": {Running: false},
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) { golden(t, name, RenderNodeStatus(s, now)) })
	}
}
