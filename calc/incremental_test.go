package calc

import (
	"testing"

	"github.com/palisadenet/palisade/calc/datastore"
)

// TestPodEventWorkDoesNotGrowWithCluster pins "nothing is O(cluster) per event":
// a remote pod's label change, a new pod and a pod deletion evaluate the same
// number of selectors in a cluster of 10 namespaces as in one of 200.
func TestPodEventWorkDoesNotGrowWithCluster(t *testing.T) {
	work := func(pods int) (relabel, add, remove int) {
		c := buildCluster(pods)
		g, _ := coldStart(c)
		measure := func(u datastore.Update) int {
			before := g.ruleIndex.evaluations + g.policyIndex.evaluations
			g.Apply([]datastore.Update{u})
			return g.ruleIndex.evaluations + g.policyIndex.evaluations - before
		}
		relabel = measure(mustUpdate(benchPod(1, c.nodes, "a7")))
		extra := benchPod(pods-1, c.nodes) // in the last namespace, with its labels
		extra.Name = "extra"
		extra.Status.PodIP = "10.250.0.1"
		add = measure(mustUpdate(extra))
		remove = measure(datastore.Update{Key: datastore.Key{Kind: datastore.KindPod, Namespace: "ns0", Name: "pod2"}})
		return
	}
	r1, a1, d1 := work(1_000)
	r2, a2, d2 := work(20_000)
	t.Logf("selector evaluations at 1k pods: relabel %d, add %d, remove %d; at 20k: %d, %d, %d", r1, a1, d1, r2, a2, d2)
	for _, c := range []struct {
		what       string
		small, big int
	}{{"relabel", r1, r2}, {"add", a1, a2}, {"remove", d1, d2}} {
		if c.big > c.small+5 {
			t.Errorf("%s: %d selector evaluations at 20k pods vs %d at 1k: work grows with the cluster", c.what, c.big, c.small)
		}
	}
	if r2 > 100 {
		t.Errorf("relabel evaluated %d selectors; want a handful (its buckets and unbucketed ones)", r2)
	}
}
