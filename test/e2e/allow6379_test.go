package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/palisadenet/palisade/resource"
)

// The allow-tcp-6379 world: namespace production, the database on node-1, frontends
// on every node (the same node as the database and the others), and pods of another
// role on two nodes. Every pod serves TCP and UDP on 6379 and 80.
var production = []struct {
	name, role string
	node       int
}{
	{"database", "database", 0},
	{"frontend-1", "frontend", 0},
	{"frontend-2", "frontend", 1},
	{"frontend-3", "frontend", 2},
	{"other-1", "other", 1},
	{"other-2", "other", 0},
}

// Propagation must stay under this bound (issue 9: within 1 s of kubectl returning).
const maxPropagation = time.Second

// policyCycles is how many apply/delete cycles are measured.
const policyCycles = 5

func (c *cluster) testAllowTCP6379(t *testing.T) {
	policyFile := c.examplePolicy(t)
	c.ensureNamespace("production", nil)
	role := map[*pod]string{}
	var pods []*pod
	for _, p := range production {
		pd := c.addPod(podSpec{namespace: "production", name: p.name, node: c.nodes[p.node],
			labels: map[string]string{"role": p.role}, ports: []uint16{6379, 80}})
		role[pd] = p.role
		pods = append(pods, pd)
	}
	var probes []probe
	for _, src := range pods {
		for _, dst := range pods {
			if src != dst {
				probes = append(probes, probe{src, dst, TCP, 6379}, probe{src, dst, TCP, 80}, probe{src, dst, UDP, 6379})
			}
		}
	}
	// What a user reads the policy to mean, written independently of the evaluator:
	// only frontends reach the database, only on TCP 6379; the database's egress and
	// every other pod stay open.
	byHand := func(withPolicy bool) []bool {
		out := make([]bool, len(probes))
		for i, pr := range probes {
			out[i] = !withPolicy || role[pr.dst] != "database" ||
				(role[pr.src] == "frontend" && pr.proto == TCP && pr.port == 6379)
		}
		return out
	}
	// Timed after each change: every source to the database on TCP 6379 and 80 (the
	// verdicts the policy decides) and the database to every pod on TCP 80 (its
	// egress, which must stay open). A lighter probe set keeps the probing itself
	// from starving the agents of the machine's two cores.
	var timed []probe
	for _, pr := range probes {
		if (role[pr.dst] == "database" && pr.proto == TCP) || (role[pr.src] == "database" && pr.proto == TCP && pr.port == 80) {
			timed = append(timed, pr)
		}
	}

	c.checkMatrix(t, "no policy (namespace default)", probes, byHand(false), 60*time.Second)
	// The timed probes' verdicts before and after, from the evaluator, computed ahead
	// so that nothing but probing runs between kubectl returning and convergence.
	without, err := c.clusterObjects()
	if err != nil {
		t.Fatal(err)
	}
	policyObjs, err := resource.LoadPaths([]string{policyFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantWithout, err := verdicts(without, timed)
	if err != nil {
		t.Fatal(err)
	}
	wantWith, err := verdicts(append(slices.Clone(without), policyObjs...), timed)
	if err != nil {
		t.Fatal(err)
	}
	var applyTimes, deleteTimes []time.Duration
	for cycle := 1; cycle <= policyCycles; cycle++ {
		if _, err := c.kubectl(nil, "apply", "-f", policyFile); err != nil {
			t.Fatal(err)
		}
		applyTimes = append(applyTimes, timeChange(t, "apply", timed, wantWith, time.Now()))
		c.checkMatrix(t, "allow-tcp-6379 applied", probes, byHand(true), 5*time.Second)

		if _, err := c.kubectl(nil, "delete", "-f", policyFile); err != nil {
			t.Fatal(err)
		}
		deleteTimes = append(deleteTimes, timeChange(t, "delete", timed, wantWithout, time.Now()))
		c.checkMatrix(t, "allow-tcp-6379 deleted", probes, byHand(false), 5*time.Second)
	}
	t.Logf("propagation, kubectl returning → every probe reflects the change (%d cycles, %d timed probes across 3 nodes):", policyCycles, len(timed))
	t.Logf("  apply:  %s", summarize(applyTimes))
	t.Logf("  delete: %s", summarize(deleteTimes))
	for _, d := range append(applyTimes, deleteTimes...) {
		if d > maxPropagation {
			t.Errorf("a policy change took %s to take effect, want under %s", d, maxPropagation)
		}
	}
}

// examplePolicy is the seed's allow-tcp-6379.yaml beside the checkout, else the
// demo's copy of it.
func (c *cluster) examplePolicy(t *testing.T) string {
	for _, p := range []string{
		filepath.Join(c.root, "..", "shared", "examples", "allow-tcp-6379.yaml"),
		filepath.Join(c.root, "demo", "allow-tcp-6379.yaml"),
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("allow-tcp-6379.yaml found neither in ../shared/examples nor in demo/")
	return ""
}

// checkMatrix asks the evaluator for the verdicts, requires them to equal what the
// test wrote by hand, and waits until every probe agrees.
func (c *cluster) checkMatrix(t *testing.T, what string, probes []probe, byHand []bool, timeout time.Duration) {
	t.Helper()
	want, err := c.expected(probes)
	if err != nil {
		t.Fatal(err)
	}
	if wrong := mismatches(probes, want, byHand); len(wrong) > 0 {
		t.Fatalf("%s: the reference evaluator disagrees with the expected verdicts (got = evaluator):\n  %s", what, join(wrong))
	}
	wrong, rounds := waitForVerdicts(probes, want, 300*time.Millisecond, timeout)
	if len(wrong) > 0 {
		t.Fatalf("%s: after %s (%d rounds) %d of %d probes disagree with the evaluator:\n  %s",
			what, timeout, rounds, len(wrong), len(probes), join(wrong))
	}
	t.Logf("%s: all %d probes agree with the evaluator", what, len(probes))
}

// timeChange measures how long after since the probes settle on want.
func timeChange(t *testing.T, what string, probes []probe, want []bool, since time.Time) time.Duration {
	t.Helper()
	took, wrong, err := measureConvergence(probes, want, since, 20*time.Millisecond, 200*time.Millisecond, 500*time.Millisecond, 10*time.Second)
	if err != nil {
		t.Fatalf("%s: %v; last wrong probes:\n  %s", what, err, join(wrong))
	}
	t.Logf("%s: in force on every node %s after kubectl returned", what, took.Round(10*time.Microsecond))
	if len(wrong) > 0 {
		t.Logf("  the last wrong %s", join(wrong))
	}
	return took
}

func summarize(ds []time.Duration) string {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	out := ""
	for i, d := range ds {
		if i > 0 {
			out += ", "
		}
		out += d.Round(10 * time.Microsecond).String()
	}
	return out + " (max " + s[len(s)-1].Round(10*time.Microsecond).String() + ")"
}
