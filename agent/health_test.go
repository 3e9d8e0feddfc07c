package agent

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Readiness is what the DaemonSet's probe sees: not ready until the dataplane is in
// sync and, with BGP, every session is up; liveness fails when the loop stalls.
func TestHealth(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := &health{now: func() time.Time { return now }, lastLoop: now, bgpEnabled: true}
	srv := httptest.NewServer(h.handler())
	defer srv.Close()
	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 512)
		n, _ := resp.Body.Read(buf)
		b.Write(buf[:n])
		return resp.StatusCode, b.String()
	}
	if code, body := get("/readiness"); code != 503 || !strings.Contains(body, "dataplane not in sync") || !strings.Contains(body, "BGP not started") {
		t.Errorf("fresh agent readiness = %d %q", code, body)
	}
	h.setDataplane(true, nil)
	h.setBGP([]string{"10.0.0.2"})
	if code, body := get("/readiness"); code != 503 || !strings.Contains(body, "10.0.0.2") {
		t.Errorf("readiness with a peer down = %d %q", code, body)
	}
	h.setBGP(nil)
	if code, _ := get("/readiness"); code != 200 {
		t.Errorf("readiness in sync with BGP up = %d", code)
	}
	h.setDataplane(false, errors.New("netlink: operation not permitted"))
	if code, body := get("/readiness"); code != 503 || !strings.Contains(body, "operation not permitted") {
		t.Errorf("readiness after a failed apply = %d %q", code, body)
	}
	if code, _ := get("/liveness"); code != 200 {
		t.Errorf("liveness = %d", code)
	}
	now = now.Add(2 * loopStall)
	if code, body := get("/liveness"); code != 503 || !strings.Contains(body, "main loop") {
		t.Errorf("liveness after a stall = %d %q", code, body)
	}
}
