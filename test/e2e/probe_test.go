package e2e

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/palisadenet/palisade/ctl/offline"
	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
	"github.com/palisadenet/palisade/resource"
)

// Short names for the probes' protocols.
const (
	TCP = policy.ProtocolTCP
	UDP = policy.ProtocolUDP
)

// probe is one connection attempt: a TCP connect plus echo, or a UDP datagram and
// its echo, from one pod's namespace to another pod's address.
type probe struct {
	src, dst *pod
	proto    policy.Protocol
	port     uint16
}

func (pr probe) String() string {
	return fmt.Sprintf("%s→%s %s/%d", pr.src.key(), pr.dst.key(), pr.proto, pr.port)
}

// run reports whether the echo came back within timeout: the connection was allowed
// in both directions. A dropped SYN or datagram and a reset both read as denied.
func (pr probe) run(timeout time.Duration) bool {
	dst := netip.AddrPortFrom(pr.dst.ip, pr.port)
	if pr.proto == UDP {
		return pr.src.ns.ProbeUDP(dst, timeout) == nil
	}
	return pr.src.ns.ProbeTCP(dst, timeout) == nil
}

// probeParallelism bounds the probes in flight: each holds a thread while it enters
// a namespace, and the machine has two cores.
const probeParallelism = 48

// probeAll runs the probes, at most probeParallelism at a time, and returns their
// outcomes in order.
func probeAll(probes []probe, timeout time.Duration) []bool {
	out := make([]bool, len(probes))
	sem := make(chan struct{}, probeParallelism)
	var wg sync.WaitGroup
	for i, pr := range probes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			out[i] = pr.run(timeout)
			<-sem
		}()
	}
	wg.Wait()
	return out
}

// clusterObjects reads what the cluster holds (namespaces, service accounts, pods
// with their IPs, every policy kind) back from the apiserver with kubectl, so the
// evaluator judges the objects the agents see, not the test's idea of them.
func (c *cluster) clusterObjects() ([]resource.Object, error) {
	out, err := c.kubectl(nil, "get", "-A", "-o", "yaml",
		"namespaces,serviceaccounts,pods,networkpolicies.networking.k8s.io,"+
			"networkpolicies.projectcalico.org,globalnetworkpolicies.projectcalico.org,tiers.projectcalico.org")
	if err != nil {
		return nil, err
	}
	objs, err := resource.Decode("kubectl-get.yaml", []byte(out))
	if err != nil {
		return nil, fmt.Errorf("decoding the cluster's objects: %w", err)
	}
	return objs, nil
}

// expected asks the reference evaluator for every probe's verdict on what the
// cluster holds now.
func (c *cluster) expected(probes []probe) ([]bool, error) {
	objs, err := c.clusterObjects()
	if err != nil {
		return nil, err
	}
	return verdicts(objs, probes)
}

// verdicts builds the evaluator's World from objs and evaluates every probe.
func verdicts(objs []resource.Object, probes []probe) ([]bool, error) {
	w, warnings, err := offline.BuildWorld(objs)
	if err != nil {
		return nil, fmt.Errorf("building the evaluator world: %w", err)
	}
	if len(warnings) > 0 {
		return nil, fmt.Errorf("building the evaluator world: %s", strings.Join(warnings, "; "))
	}
	out := make([]bool, len(probes))
	for i, pr := range probes {
		v, err := eval.Evaluate(w, eval.Flow{
			Source:      eval.PodPeer(pr.src.namespace, pr.src.name),
			Destination: eval.PodPeer(pr.dst.namespace, pr.dst.name),
			Protocol:    pr.proto, Port: pr.port,
		})
		if err != nil {
			return nil, fmt.Errorf("evaluating %s: %w", pr, err)
		}
		out[i] = v.Allowed
	}
	return out, nil
}

// mismatches lists the probes whose outcome differs from want.
func mismatches(probes []probe, got, want []bool) []string {
	var wrong []string
	for i, pr := range probes {
		if got[i] != want[i] {
			wrong = append(wrong, fmt.Sprintf("%s: got %s, evaluator says %s", pr, verdictWord(got[i]), verdictWord(want[i])))
		}
	}
	sort.Strings(wrong)
	return wrong
}

func verdictWord(allowed bool) string {
	if allowed {
		return "allowed"
	}
	return "denied"
}

// waitForVerdicts probes until every outcome equals want or timeout passes; it
// returns the mismatches of the last round (none on success) and the rounds run.
func waitForVerdicts(probes []probe, want []bool, probeTimeout, timeout time.Duration) ([]string, int) {
	deadline := time.Now().Add(timeout)
	for round := 1; ; round++ {
		wrong := mismatches(probes, probeAll(probes, probeTimeout), want)
		if len(wrong) == 0 || time.Now().After(deadline) {
			return wrong, round
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// roundResult is one round of probes and when it started.
type roundResult struct {
	started time.Time
	correct bool
}

// measureConvergence starts a full round of probes every interval, each round in
// parallel with the ones still running, until a correct round is followed by
// correct rounds covering stableFor. It returns how long after since the first of
// those correct rounds started: the change was in force in every node's dataplane
// by then. The first round starts at once, so a change already in force when
// kubectl returned measures as a few microseconds; the resolution is interval. A dropped probe takes the whole probe timeout to read as denied, so
// overlapping rounds keep the resolution at interval, not at the timeout.
//
// The wrong probes of the last incorrect round are returned with the round's start
// (relative to since) in front, also on success, to show what held the change up.
func measureConvergence(probes []probe, want []bool, since time.Time, interval, probeTimeout, stableFor, timeout time.Duration) (time.Duration, []string, error) {
	var (
		mu      sync.Mutex
		results []roundResult
		lastBad []string
		lastAt  time.Time
		wg      sync.WaitGroup
	)
	defer wg.Wait()
	stable := func() (time.Time, bool) {
		mu.Lock()
		defer mu.Unlock()
		return firstStable(results, stableFor)
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		started := time.Now()
		wg.Add(1)
		go func() {
			defer wg.Done()
			wrong := mismatches(probes, probeAll(probes, probeTimeout), want)
			mu.Lock()
			defer mu.Unlock()
			results = append(results, roundResult{started: started, correct: len(wrong) == 0})
			if len(wrong) > 0 && !started.Before(lastAt) {
				lastAt = started
				lastBad = append([]string{fmt.Sprintf("round started %s after the change:", started.Sub(since).Round(time.Millisecond))}, wrong...)
			}
		}()
		if _, ok := stable(); ok {
			// Rounds still in flight may yet spoil it: decide on complete data.
			wg.Wait()
			if first, ok := stable(); ok {
				mu.Lock()
				defer mu.Unlock()
				return first.Sub(since), lastBad, nil
			}
		}
		if time.Now().After(since.Add(timeout)) {
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			return 0, lastBad, fmt.Errorf("no stable convergence within %s", timeout)
		}
		<-ticker.C
	}
}

// firstStable finds the earliest correct round after which every round (by start
// time) is correct, provided rounds cover at least stableFor after it.
func firstStable(results []roundResult, stableFor time.Duration) (time.Time, bool) {
	rs := append([]roundResult(nil), results...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].started.Before(rs[j].started) })
	firstGood := -1
	for i, r := range rs {
		switch {
		case !r.correct:
			firstGood = -1
		case firstGood < 0:
			firstGood = i
		}
	}
	if firstGood < 0 {
		return time.Time{}, false
	}
	if rs[len(rs)-1].started.Sub(rs[firstGood].started) < stableFor {
		return time.Time{}, false
	}
	return rs[firstGood].started, true
}

// join lists lines for a failure message, at most 40 of them.
func join(lines []string) string {
	if len(lines) > 40 {
		lines = append(lines[:40:40], fmt.Sprintf("... and %d more", len(lines)-40))
	}
	return strings.Join(lines, "\n  ")
}
