package agent

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/palisadenet/palisade/agent/statusapi"
	"github.com/palisadenet/palisade/calc"
	"github.com/palisadenet/palisade/routing/bgp"
)

// PolicyStatus and InvalidObject are the policy status document (statusapi).
type (
	PolicyStatus  = statusapi.PolicyStatus
	InvalidObject = statusapi.InvalidObject
)

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
	mux.HandleFunc("GET "+statusapi.PolicyStatusPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a.board.get())
	})
	return mux
}
