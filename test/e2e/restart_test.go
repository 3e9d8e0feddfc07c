package e2e

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// restarts is how many times the agents are restarted under traffic (issue 9).
const restarts = 5

// The restart world: a client on node-1 talks to a server on node-2; a policy lets
// only the client in, and an intruder on node-3 keeps trying.
const restartPolicy = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: only-client, namespace: restart}
spec:
  podSelector: {matchLabels: {app: server}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: client}}
`

func (c *cluster) testAgentRestart(t *testing.T) {
	c.ensureNamespace("restart", nil)
	client := c.addPod(podSpec{namespace: "restart", name: "client", node: c.nodes[0],
		labels: map[string]string{"app": "client"}, ports: []uint16{7000}})
	server := c.addPod(podSpec{namespace: "restart", name: "server", node: c.nodes[1],
		labels: map[string]string{"app": "server"}, ports: []uint16{7000}})
	intruder := c.addPod(podSpec{namespace: "restart", name: "intruder", node: c.nodes[2],
		labels: map[string]string{"app": "intruder"}, ports: []uint16{7000}})
	c.kubectlApply(restartPolicy)
	t.Cleanup(func() { _, _ = c.kubectl(strings.NewReader(restartPolicy), "delete", "-f", "-") })
	probes := []probe{{client, server, TCP, 7000}, {intruder, server, TCP, 7000}, {server, client, TCP, 7000}}
	want, err := c.expected(probes)
	if err != nil {
		t.Fatal(err)
	}
	if !want[0] || want[1] || !want[2] {
		t.Fatalf("evaluator verdicts %v, want client→server allowed, intruder→server denied, server→client allowed", want)
	}
	if wrong, _ := waitForVerdicts(probes, want, 300*time.Millisecond, 15*time.Second); len(wrong) > 0 {
		t.Fatalf("before the restarts: %s", join(wrong))
	}

	tcp, err := startStream(client, server, 7000, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ping, err := startPinger(client, server.ip, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	stopIntruder := c.keepIntruding(intruder, server.ip, 7000)
	began := time.Now()
	routes := watchRoutes(began, map[*node]*pod{client.node: server, server.node: client})
	var events []string
	event := func(format string, args ...any) {
		events = append(events, fmt.Sprintf("%7.2fs ", time.Since(began).Seconds())+fmt.Sprintf(format, args...))
	}
	// Traffic flows before the first restart.
	time.Sleep(time.Second)

	// Odd restarts take one node's agent down at a time, as a DaemonSet rolling
	// update does (the client's node, then the server's); even ones take both down
	// together, as an update with maxUnavailable above one does. The other agents
	// keep running and see their peers go away and come back.
	var downtimes []time.Duration
	var restartedNames []string
	for i := 1; i <= restarts; i++ {
		restarted := []*node{client.node, server.node}
		if i%2 == 1 {
			restarted = restarted[(i/2)%2 : (i/2)%2+1]
		}
		down := time.Now()
		restartedNames = append(restartedNames, names(restarted))
		event("restart %d: SIGTERM to palisade-node on %s", i, names(restarted))
		c.restartAgents(t, i, restarted)
		downtimes = append(downtimes, time.Since(down))
		event("restart %d: ready", i)
		// Let traffic run on the new agents (and their first resync) for a while.
		time.Sleep(time.Second)
	}

	sent, received, maxGap, streamErr := tcp.finish()
	pings, lost, pingErr := ping.finish()
	attempts, allowed := stopIntruder()
	routeChanges := routes.finish()
	t.Logf("%d restarts of palisade-node (%s; SIGTERM, 0.5 s down, start, ready): %s each",
		restarts, strings.Join(restartedNames, ", "), durations(downtimes))
	t.Logf("TCP stream %s→%s: %d records sent every 10ms, %d echoed in order, longest gap %s",
		client.node.name, server.node.name, sent, received, maxGap.Round(time.Millisecond))
	t.Logf("ping every 10ms: %d sent, %d lost", pings, len(lost))
	t.Logf("intruder on %s: %d connection attempts during the restarts, %d let in", intruder.node.name, attempts, allowed)
	if streamErr != nil {
		t.Errorf("TCP stream broke: %v", streamErr)
	}
	if received != sent {
		t.Errorf("TCP stream: %d records sent, %d echoed", sent, received)
	}
	if pingErr != nil {
		t.Errorf("ping: %v", pingErr)
	}
	if len(lost) > 0 {
		t.Errorf("ping lost %d of %d echoes during the restarts (sequence numbers %v, %s apart)", len(lost), pings, firstN(lost, 20), 10*time.Millisecond)
	}
	if t.Failed() {
		t.Logf("timeline (ping sequence n was sent about n×10ms after 0):\n  %s\nroutes between the pods:\n  %s",
			strings.Join(events, "\n  "), strings.Join(routeChanges, "\n  "))
	}
	if allowed > 0 {
		t.Errorf("the policy opened during the restarts: %d of %d intruder connections got through", allowed, attempts)
	}
	if wrong, _ := waitForVerdicts(probes, want, 300*time.Millisecond, 10*time.Second); len(wrong) > 0 {
		t.Errorf("after the restarts: %s", join(wrong))
	}
}

// restartAgents stops the agents together (SIGTERM), leaves the dataplane alone for
// half a second, starts them again and waits until each is ready.
func (c *cluster) restartAgents(t *testing.T, i int, nodes []*node) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(nodes))
	for j, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[j] = c.stopAgent(n)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	for _, n := range nodes {
		c.startAgent(n)
	}
	for _, n := range nodes {
		if err := c.waitReady(n, 60*time.Second); err != nil {
			t.Fatalf("restart %d: palisade-node on %s: %v\n%s", i, n.name, err, tail(n.logPath, 30))
		}
	}
}

func names(nodes []*node) string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.name)
	}
	return strings.Join(out, " and ")
}

// keepIntruding tries a connection from the intruder every 50 ms until stopped and
// counts the attempts and the ones that got through.
func (c *cluster) keepIntruding(from *pod, to netip.Addr, port uint16) (stop func() (attempts, allowed int64)) {
	var n, ok atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			n.Add(1)
			if from.ns.ProbeTCP(netip.AddrPortFrom(to, port), 200*time.Millisecond) == nil {
				ok.Add(1)
			}
		}
	}()
	return func() (int64, int64) {
		close(done)
		wg.Wait()
		return n.Load(), ok.Load()
	}
}

func durations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Round(10 * time.Millisecond).String()
	}
	return strings.Join(parts, ", ")
}

func firstN(xs []int, n int) string {
	if len(xs) > n {
		return fmt.Sprint(xs[:n]) + "..."
	}
	return fmt.Sprint(xs)
}

// routeWatch samples, every 50 ms, the route each node uses towards a pod and
// records every change with its time, so a loss can be matched to what the kernel
// was doing.
type routeWatch struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex
	changes []string
}

func watchRoutes(start time.Time, pairs map[*node]*pod) *routeWatch {
	w := &routeWatch{stop: make(chan struct{})}
	for n, p := range pairs {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			last := ""
			for {
				out, err := n.ns.Run("ip", "-o", "route", "get", p.ip.String())
				cur := strings.Join(strings.Fields(out), " ")
				if err != nil {
					cur = "error: " + cur
				}
				if cur != last {
					w.mu.Lock()
					w.changes = append(w.changes, fmt.Sprintf("%7.2fs %s → %s: %s", time.Since(start).Seconds(), n.name, p.key(), cur))
					w.mu.Unlock()
					last = cur
				}
				select {
				case <-w.stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		}()
	}
	return w
}

func (w *routeWatch) finish() []string {
	close(w.stop)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.changes
}
