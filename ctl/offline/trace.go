package offline

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
)

// Trace evaluates one flow between two pods named "namespace/name".
func Trace(w *eval.World, from, to string, proto policy.Protocol, port uint16) (eval.Verdict, error) {
	for _, p := range []string{from, to} {
		if !strings.Contains(p, "/") {
			return eval.Verdict{}, fmt.Errorf("pod %q: want namespace/name", p)
		}
	}
	v, err := eval.Evaluate(w, podFlow(from, to, proto, port))
	if err != nil {
		return eval.Verdict{}, fmt.Errorf("tracing: %w", err)
	}
	return v, nil
}

// WriteTrace explains a verdict: the overall answer, then the source's egress and
// the destination's ingress decision (which tier, policy and rule decided, that a
// tier's end dropped the flow, or that the namespace profile allowed it).
func WriteTrace(w io.Writer, v eval.Verdict) error {
	verdict := "DENIED"
	if v.Allowed {
		verdict = "ALLOWED"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "flow:    %s\n", v.Flow)
	fmt.Fprintf(&b, "verdict: %s\n", verdict)
	fmt.Fprintf(&b, "  %s\n", v.Egress)
	fmt.Fprintf(&b, "  %s\n", v.Ingress)
	_, err := io.WriteString(w, b.String())
	return err
}

func sortStrings(s []string) { sort.Strings(s) }
