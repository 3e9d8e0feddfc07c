package selector

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// genExpr is a randomly generated selector: its text (written with random
// spacing, quoting, spellings and redundant parentheses) and an independent
// reference meaning.
type genExpr struct {
	text string
	eval func(labels) bool
	prec int // 1 = ||, 2 = &&, 3 = unary/primary
}

type generator struct {
	r      *rand.Rand
	keys   []string
	values []string
}

func (g *generator) pick(list []string) string { return list[g.r.IntN(len(list))] }

func (g *generator) space() string {
	return []string{"", "", " ", "  ", "\t", "\n"}[g.r.IntN(6)]
}

// quote writes v with a quote that v does not contain.
func (g *generator) quote(v string) string {
	if strings.Contains(v, `"`) || (!strings.Contains(v, `'`) && g.r.IntN(2) == 0) {
		return "'" + v + "'"
	}
	return `"` + v + `"`
}

func (g *generator) leaf() genExpr {
	k, v := g.pick(g.keys), g.pick(g.values)
	sp := g.space
	switch g.r.IntN(11) {
	case 0:
		return genExpr{"has(" + sp() + k + sp() + ")", func(l labels) bool { _, ok := l[k]; return ok }, 3}
	case 1:
		return genExpr{k + sp() + "==" + sp() + g.quote(v), func(l labels) bool { x, ok := l[k]; return ok && x == v }, 3}
	case 2:
		return genExpr{k + sp() + "!=" + sp() + g.quote(v), func(l labels) bool { x, ok := l[k]; return !ok || x != v }, 3}
	case 3, 4:
		var members []string
		for range g.r.IntN(4) {
			members = append(members, g.pick(g.values))
		}
		var quoted []string
		for _, m := range members {
			quoted = append(quoted, g.quote(m))
		}
		set := "{" + sp() + strings.Join(quoted, sp()+","+sp()) + sp() + "}"
		in := func(l labels) bool { x, ok := l[k]; return ok && slices.Contains(members, x) }
		if g.r.IntN(2) == 0 {
			return genExpr{k + " in" + sp() + set, in, 3}
		}
		op := []string{" not in", " notin", " not  in"}[g.r.IntN(3)]
		return genExpr{k + op + sp() + set, func(l labels) bool { return !in(l) }, 3}
	case 5:
		return genExpr{k + " contains" + sp() + g.quote(v), func(l labels) bool { x, ok := l[k]; return ok && strings.Contains(x, v) }, 3}
	case 6:
		op := []string{" starts with ", " startswith ", " starts  with"}[g.r.IntN(3)]
		return genExpr{k + op + g.quote(v), func(l labels) bool { x, ok := l[k]; return ok && strings.HasPrefix(x, v) }, 3}
	case 7:
		op := []string{" ends with ", " endswith ", " ends\twith"}[g.r.IntN(3)]
		return genExpr{k + op + g.quote(v), func(l labels) bool { x, ok := l[k]; return ok && strings.HasSuffix(x, v) }, 3}
	case 8:
		return genExpr{"all(" + sp() + ")", func(labels) bool { return true }, 3}
	case 9:
		return genExpr{"global()", func(labels) bool { return true }, 3}
	default:
		return genExpr{"!" + sp() + "has(" + k + ")", func(l labels) bool { _, ok := l[k]; return !ok }, 3}
	}
}

func (g *generator) expr(depth int) genExpr {
	if depth <= 0 || g.r.IntN(3) == 0 {
		return g.leaf()
	}
	switch g.r.IntN(4) {
	case 0:
		c := g.expr(depth - 1)
		return genExpr{"!" + g.space() + g.paren(c, 3), func(l labels) bool { return !c.eval(l) }, 3}
	case 1:
		a, b := g.expr(depth-1), g.expr(depth-1)
		return genExpr{g.paren(a, 2) + g.space() + "&&" + g.space() + g.paren(b, 2),
			func(l labels) bool { return a.eval(l) && b.eval(l) }, 2}
	case 2:
		a, b := g.expr(depth-1), g.expr(depth-1)
		return genExpr{g.paren(a, 1) + g.space() + "||" + g.space() + g.paren(b, 1),
			func(l labels) bool { return a.eval(l) || b.eval(l) }, 1}
	default:
		c := g.expr(depth - 1)
		return genExpr{"(" + g.space() + c.text + g.space() + ")", c.eval, 3}
	}
}

// paren wraps e when its precedence is lower than the context needs, and
// sometimes when it is not, to exercise redundant parentheses.
func (g *generator) paren(e genExpr, need int) string {
	if e.prec < need || g.r.IntN(5) == 0 {
		return "(" + e.text + ")"
	}
	return e.text
}

func (g *generator) labelMap() labels {
	l := labels{}
	for _, k := range g.keys {
		if g.r.IntN(3) > 0 {
			l[k] = g.pick(g.values)
		}
	}
	return l
}

func newGenerator(seed uint64) *generator {
	return &generator{
		r:      rand.New(rand.NewPCG(seed, 1)),
		keys:   []string{"a", "b", "app", "projectcalico.org/namespace", "x-y_z.w", "has", "in"},
		values: []string{"", "v", "va", "av", "a", `q"t`, "it's", "x y", "prod"},
	}
}

// TestGeneratedSelectors checks, over many random selectors, that Evaluate
// agrees with an independent reference meaning and that the canonical form
// is a fixed point that keeps that meaning.
func TestGeneratedSelectors(t *testing.T) {
	g := newGenerator(42)
	for i := range 3000 {
		e := g.expr(4)
		s, err := Parse(e.text)
		if err != nil {
			t.Fatalf("case %d: Parse(%q): %v", i, e.text, err)
		}
		canon, err := Parse(s.String())
		if err != nil {
			t.Fatalf("case %d: Parse(String()=%q) of %q: %v", i, s.String(), e.text, err)
		}
		if canon.String() != s.String() {
			t.Fatalf("case %d: canonical form not a fixed point: %q -> %q -> %q", i, e.text, s.String(), canon.String())
		}
		if canon.ID() != s.ID() {
			t.Fatalf("case %d: ID changed across re-parse of %q", i, s.String())
		}
		for range 8 {
			l := g.labelMap()
			want := e.eval(l)
			if got := s.Evaluate(l); got != want {
				t.Fatalf("case %d: Parse(%q).Evaluate(%v) = %v, reference says %v", i, e.text, l, got, want)
			}
			if got := canon.Evaluate(l); got != want {
				t.Fatalf("case %d: canonical %q Evaluate(%v) = %v, reference says %v", i, s.String(), l, got, want)
			}
		}
	}
}
