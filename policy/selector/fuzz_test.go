package selector

import (
	"errors"
	"testing"
)

// FuzzParse checks that Parse never panics, that failures are *SyntaxError
// with an offset inside the input, and that a successful parse has a
// canonical form that re-parses to itself with the same meaning.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		``, `all()`, `global()`, `has(a)`, `!has(a)`, `!!has(a)`,
		`a == "b"`, `a != 'b'`, `a in {"d", "a", "b"}`, `a not in {}`, `a notin {'x'}`,
		`a contains "c"`, `a starts with "s"`, `a startswith 's'`, `a ends with "e"`, `a endswith "e"`,
		`a in{"b"} && has( c ) || !has(d)`, `!(has(b) || !has(a))`, `(a == "x" || b != "y") && c in {"1","2"}`,
		`pcns.projectcalico.org/name == "default" && projectcalico.org/namespace != "kube-system"`,
		`a == 'say "hi"'`, `(has(a)`, `has(a))`, `a in`, `a == "b`, `()`, `has(a) &&`, `a$b == "c"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) returned %T, want *SyntaxError", expr, err)
			}
			if se.Offset < 0 || se.Offset > len(expr) {
				t.Fatalf("Parse(%q) error offset %d outside input of %d bytes", expr, se.Offset, len(expr))
			}
			return
		}
		canon, err := Parse(s.String())
		if err != nil {
			t.Fatalf("Parse(%q) ok, but its String() %q does not parse: %v", expr, s.String(), err)
		}
		if canon.String() != s.String() {
			t.Fatalf("canonical form of %q not stable: %q -> %q", expr, s.String(), canon.String())
		}
		for _, l := range fuzzLabelMaps(s) {
			if s.Evaluate(l) != canon.Evaluate(l) {
				t.Fatalf("%q and its canonical form %q disagree on %v", expr, s.String(), l)
			}
		}
	})
}

// fuzzLabelMaps builds a few label maps over the keys a selector reads, so
// the evaluation comparison exercises present, absent and varied values.
func fuzzLabelMaps(s *Selector) []map[string]string {
	keys := s.LabelKeys()
	maps := []map[string]string{nil, {}, {}, {}, {}}
	for i, k := range keys {
		maps[1][k] = ""
		maps[2][k] = k
		maps[3][k] = "a"
		if i%2 == 0 {
			maps[4][k] = "b"
		}
	}
	return maps
}
