package controllers

import (
	"fmt"
	"net/http"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Health answers /healthz: healthy while standing by, and while leading as long as a
// scan has succeeded within maxAge (a leader whose scans keep failing is restarted).
type Health struct {
	gc     *GC
	clock  clock.PassiveClock
	maxAge time.Duration

	mu           sync.Mutex
	leadingSince time.Time // zero while not leading
}

// NewHealth watches gc; maxAge is typically a few scan periods.
func NewHealth(gc *GC, clk clock.PassiveClock, maxAge time.Duration) *Health {
	return &Health{gc: gc, clock: clk, maxAge: maxAge}
}

// SetLeading records whether this replica leads now.
func (h *Health) SetLeading(leading bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.leadingSince = time.Time{}
	if leading {
		h.leadingSince = h.clock.Now()
	}
}

// Check returns why this replica is unhealthy, or nil.
func (h *Health) Check() error {
	h.mu.Lock()
	since := h.leadingSince
	h.mu.Unlock()
	if since.IsZero() {
		return nil
	}
	now := h.clock.Now()
	last := h.gc.LastScan()
	if last.Before(since) {
		last = since
	}
	if age := now.Sub(last); age > h.maxAge {
		return fmt.Errorf("leading, but no IPAM scan has succeeded for %s", age.Round(time.Second))
	}
	return nil
}

func (h *Health) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	if err := h.Check(); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}
