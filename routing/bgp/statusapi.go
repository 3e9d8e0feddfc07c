package bgp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"syscall"
)

// The agent serves its BGP status on a local Unix socket; `palisadectl node status`
// fetches it and prints RenderNodeStatus. A CLI that cannot connect reports the
// process as not running, as calicoctl does.

// DefaultStatusSocket is where palisade-node serves its status.
const DefaultStatusSocket = "/var/run/palisade/status.sock"

// StatusPath is the HTTP path of the status document.
const StatusPath = "/bgp/status"

// StatusSource returns the current peer rows; Speaker.Status fits.
type StatusSource func(ctx context.Context) ([]PeerStatus, error)

// StatusHandler serves GET StatusPath as a JSON NodeStatus.
func StatusHandler(src StatusSource) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+StatusPath, func(w http.ResponseWriter, r *http.Request) {
		rows, err := src(r.Context())
		if err != nil {
			http.Error(w, fmt.Sprintf("reading BGP status: %v", err), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(NodeStatus{Running: true, Peers: rows})
	})
	return mux
}

// FetchStatus asks the agent listening on socket. When nothing listens there the
// result is NodeStatus{Running: false} and no error.
func FetchStatus(ctx context.Context, socket string) (NodeStatus, error) {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://palisade-node"+StatusPath, nil)
	if err != nil {
		return NodeStatus{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return NodeStatus{Running: false}, nil
		}
		return NodeStatus{}, fmt.Errorf("asking %s for BGP status: %w", socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return NodeStatus{}, fmt.Errorf("asking %s for BGP status: %s", socket, resp.Status)
	}
	var st NodeStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return NodeStatus{}, fmt.Errorf("decoding BGP status from %s: %w", socket, err)
	}
	return st, nil
}
