package eval_test

import (
	"testing"

	"github.com/palisadenet/palisade/policy/eval"
)

// BenchmarkEvaluate is one flow through a 9-pod world with tiers, network sets and
// Kubernetes and v3 policies. The evaluator is the oracle, not the fast path; this
// only keeps it usable for 9x9 matrices and generated dataplane cases.
func BenchmarkEvaluate(b *testing.B) {
	w := testWorld(b, tiers+"---"+networkSets+"---"+knpDenyAllY)
	f := tcp("x/a", "y/b", 80)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := eval.Evaluate(w, f); err != nil {
			b.Fatal(err)
		}
	}
}
