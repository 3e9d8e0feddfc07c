package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/palisadenet/palisade/calc"
	"github.com/palisadenet/palisade/routing/bgp"
)

// PolicyStatusPath is where the status socket serves the policy status: what the
// graph holds and the objects it rejected (they fail closed), for the CLI.
const PolicyStatusPath = "/policy/status"

// PolicyStatus is the JSON document at PolicyStatusPath.
type PolicyStatus struct {
	InSync         bool            `json:"inSync"`
	LocalEndpoints int             `json:"localEndpoints"`
	ActivePolicies int             `json:"activePolicies"`
	Sets           int             `json:"sets"`
	Invalid        []InvalidObject `json:"invalid,omitempty"`
}

// InvalidObject is one rejected object with its field problems.
type InvalidObject struct {
	Object   string   `json:"object"`
	Problems []string `json:"problems"`
}

// statusBoard is the latest PolicyStatus, written by the main loop and read by the
// socket's handlers.
type statusBoard struct {
	mu sync.Mutex
	st PolicyStatus
}

func (b *statusBoard) set(inSync bool, st calc.Status) {
	ps := PolicyStatus{InSync: inSync, LocalEndpoints: st.LocalEndpoints, ActivePolicies: st.ActivePolicies, Sets: st.Sets}
	for _, inv := range st.Invalid {
		ps.Invalid = append(ps.Invalid, InvalidObject{Object: inv.Key.String(), Problems: inv.Problems})
	}
	b.mu.Lock()
	b.st = ps
	b.mu.Unlock()
}

func (b *statusBoard) get() PolicyStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.st
}

// statusHandler serves the BGP status (bgp.StatusPath) and the policy status.
func (a *Agent) statusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle(bgp.StatusPath, bgp.StatusHandler(a.bgpStatus))
	mux.HandleFunc("GET "+PolicyStatusPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a.board.get())
	})
	return mux
}

// FetchPolicyStatus asks the agent listening on socket for its policy status.
func FetchPolicyStatus(ctx context.Context, socket string) (PolicyStatus, error) {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://palisade-node"+PolicyStatusPath, nil)
	if err != nil {
		return PolicyStatus{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return PolicyStatus{}, fmt.Errorf("asking %s for the policy status: %w", socket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return PolicyStatus{}, fmt.Errorf("asking %s for the policy status: %s", socket, resp.Status)
	}
	var st PolicyStatus
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return PolicyStatus{}, fmt.Errorf("decoding the policy status from %s: %w", socket, err)
	}
	return st, nil
}
