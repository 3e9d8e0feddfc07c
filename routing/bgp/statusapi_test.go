package bgp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestStatusOverUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "status.sock")
	ctx := context.Background()

	st, err := FetchStatus(ctx, sock)
	if err != nil || st.Running {
		t.Fatalf("no agent: status %+v err %v, want not running", st, err)
	}

	since := time.Date(2026, 11, 22, 2, 5, 49, 0, time.UTC)
	rows := []PeerStatus{{Address: netip.MustParseAddr("192.168.40.112"), Type: TypeMesh, State: "up", Since: since, Info: "Established"}}
	var fail atomic.Bool
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: StatusHandler(func(context.Context) ([]PeerStatus, error) {
		if fail.Load() {
			return nil, errors.New("speaker stopped")
		}
		return rows, nil
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })

	st, err = FetchStatus(ctx, sock)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(NodeStatus{Running: true, Peers: rows}, st, ipCmp); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
	out := RenderNodeStatus(st, since)
	if !strings.Contains(out, "| 192.168.40.112 | node-to-node mesh | up    | 02:05:49 | Established |") {
		t.Errorf("rendered:\n%s", out)
	}

	fail.Store(true)
	if _, err := FetchStatus(ctx, sock); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("failing source: err = %v", err)
	}
}
