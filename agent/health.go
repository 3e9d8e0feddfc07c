package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
)

// health holds what /liveness and /readiness report. The DaemonSet's probes call
// them: liveness fails when the main loop stopped turning, readiness until the
// dataplane is in sync and, with BGP, every session is established.
type health struct {
	mu           sync.Mutex
	now          func() time.Time
	lastLoop     time.Time
	dataplaneOK  bool
	dataplaneErr string
	bgpEnabled   bool
	bgpNotUp     []string // peers not Established
	bgpKnown     bool     // the speaker has reported at least once
}

// loopStall is how long the main loop may go without a tick before liveness fails.
const loopStall = 60 * time.Second

func (h *health) tick() {
	h.mu.Lock()
	h.lastLoop = h.now()
	h.mu.Unlock()
}

func (h *health) setDataplane(ok bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dataplaneOK = ok
	h.dataplaneErr = ""
	if err != nil {
		h.dataplaneErr = err.Error()
	}
}

func (h *health) setBGP(notUp []string) {
	h.mu.Lock()
	h.bgpNotUp = notUp
	h.bgpKnown = true
	h.mu.Unlock()
}

// live returns nil when the agent is alive.
func (h *health) live() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if since := h.now().Sub(h.lastLoop); since > loopStall {
		return fmt.Errorf("main loop has not run for %s", since.Round(time.Second))
	}
	return nil
}

// ready returns nil when the node can take pods.
func (h *health) ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var why []string
	if !h.dataplaneOK {
		msg := "dataplane not in sync"
		if h.dataplaneErr != "" {
			msg += ": " + h.dataplaneErr
		}
		why = append(why, msg)
	}
	if h.bgpEnabled {
		switch {
		case !h.bgpKnown:
			why = append(why, "BGP not started")
		case len(h.bgpNotUp) > 0:
			why = append(why, "BGP not established with "+strings.Join(h.bgpNotUp, ", "))
		}
	}
	if len(why) > 0 {
		return errors.New(strings.Join(why, "; "))
	}
	return nil
}

func (h *health) handler() http.Handler {
	mux := http.NewServeMux()
	serve := func(check func() error) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			if err := check(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		}
	}
	mux.Handle("/liveness", serve(h.live))
	mux.Handle("/readiness", serve(h.ready))
	return mux
}

// metrics are the agent's Prometheus series, on their own registry so tests can
// create several agents in one process.
type metrics struct {
	reg          *prometheus.Registry
	applySeconds prometheus.Histogram
	policies     prometheus.Gauge
	endpoints    prometheus.Gauge
	sets         prometheus.Gauge
	invalid      prometheus.Gauge
	bgpSessions  *prometheus.GaugeVec
	errors       *prometheus.CounterVec
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		applySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "palisade_dataplane_apply_seconds", Help: "Time to apply one batch of updates to the firewall backend.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		policies:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "palisade_active_policies", Help: "Policies that select at least one local endpoint."}),
		endpoints: prometheus.NewGauge(prometheus.GaugeOpts{Name: "palisade_local_endpoints", Help: "Workload and host endpoints on this node."}),
		sets:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "palisade_ip_sets", Help: "IP sets referenced by active policies."}),
		invalid:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "palisade_invalid_objects", Help: "Policies and other objects rejected as invalid (they fail closed)."}),
		bgpSessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "palisade_bgp_sessions", Help: "BGP sessions by state.",
		}, []string{"state"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "palisade_errors_total", Help: "Errors by kind.",
		}, []string{"kind"}),
	}
	m.reg.MustRegister(m.applySeconds, m.policies, m.endpoints, m.sets, m.invalid, m.bgpSessions, m.errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	// Profiles for memory and CPU investigations; the listener is bound to
	// localhost unless the operator says otherwise.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	return mux
}

// serveHTTP serves h on addr (TCP host:port, or a path for a Unix socket) until ctx
// ends. It returns once the listener is open, so callers know the port is taken.
func serveHTTP(ctx context.Context, addr string, h http.Handler, log *zap.Logger) error {
	network := "tcp"
	if strings.HasPrefix(addr, "/") {
		network = "unix"
	}
	ln, err := net.Listen(network, addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server stopped", zap.String("addr", addr), zap.Error(err))
		}
	}()
	return nil
}
