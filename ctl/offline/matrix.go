package offline

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/eval"
)

// Matrix says, for one protocol and destination port, whether each pod may reach
// each pod (itself included).
type Matrix struct {
	Port     uint16
	Protocol policy.Protocol
	// Pods are "namespace/name", sorted.
	Pods []string
	// Allowed[src][dst] is the evaluator's verdict for src → dst.
	Allowed map[string]map[string]bool
}

// ComputeMatrix evaluates every ordered pair of the World's pods.
func ComputeMatrix(w *eval.World, proto policy.Protocol, port uint16) (*Matrix, error) {
	m := &Matrix{Port: port, Protocol: proto, Pods: []string{}, Allowed: map[string]map[string]bool{}}
	for i := range w.Pods {
		m.Pods = append(m.Pods, w.Pods[i].Key())
	}
	sortStrings(m.Pods)
	for _, src := range m.Pods {
		row := make(map[string]bool, len(m.Pods))
		for _, dst := range m.Pods {
			v, err := eval.Evaluate(w, podFlow(src, dst, proto, port))
			if err != nil {
				return nil, fmt.Errorf("computing the matrix: %w", err)
			}
			row[dst] = v.Allowed
		}
		m.Allowed[src] = row
	}
	return m, nil
}

func podFlow(src, dst string, proto policy.Protocol, port uint16) eval.Flow {
	return eval.Flow{Source: eval.Peer{Pod: src}, Destination: eval.Peer{Pod: dst}, Protocol: proto, Port: port}
}

// matrixJSON fixes the key order of the JSON form: port, protocol, pods, allowed.
// The maps marshal with sorted keys, which is the order of Pods.
type matrixJSON struct {
	Port     uint16                     `json:"port"`
	Protocol string                     `json:"protocol"`
	Pods     []string                   `json:"pods"`
	Allowed  map[string]map[string]bool `json:"allowed"`
}

// JSON is the compact machine form, ending in a newline:
//
//	{"port":80,"protocol":"TCP","pods":["x/a","x/b"],"allowed":{"x/a":{"x/a":true,"x/b":false},...}}
func (m *Matrix) JSON() []byte {
	out, err := json.Marshal(matrixJSON{Port: m.Port, Protocol: m.Protocol.String(), Pods: m.Pods, Allowed: m.Allowed})
	if err != nil { // only strings, bools and numbers: cannot happen
		panic(fmt.Sprintf("marshalling a matrix: %v", err))
	}
	return append(out, '\n')
}

// Symbols of the table form.
const (
	AllowedMark = "."
	DeniedMark  = "X"
)

// WriteTable writes the readable grid: a title, a legend, then one row per source
// and one column per destination.
func (m *Matrix) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s/%d: rows are sources, columns are destinations\n", m.Protocol, m.Port)
	fmt.Fprintf(&b, "legend: %s allowed, %s denied\n\n", AllowedMark, DeniedMark)
	const corner = "from \\ to"
	width := len(corner)
	for _, p := range m.Pods {
		width = max(width, len(p))
	}
	pad := func(s string, n int) string { return s + strings.Repeat(" ", n-len(s)) }
	b.WriteString(pad(corner, width))
	for _, dst := range m.Pods {
		b.WriteString("  " + dst)
	}
	b.WriteString("\n")
	for _, src := range m.Pods {
		b.WriteString(pad(src, width))
		for _, dst := range m.Pods {
			mark := DeniedMark
			if m.Allowed[src][dst] {
				mark = AllowedMark
			}
			// Each column is as wide as its header, the mark under its first letter.
			b.WriteString("  " + pad(mark, len(dst)))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, trimLineEnds(b.String()))
	return err
}

// trimLineEnds drops trailing spaces so golden files and terminals agree.
func trimLineEnds(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
