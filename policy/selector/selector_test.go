package selector

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type labels = map[string]string

func TestEvaluate(t *testing.T) {
	pod := labels{
		"app":                         "web",
		"tier":                        "frontend",
		"empty":                       "",
		"quote":                       `say "hi"`,
		"projectcalico.org/namespace": "prod",
		"pcns.projectcalico.org/name": "prod",
		"a-b_c.d/e":                   "x",
	}
	tests := []struct {
		expr string
		lbls labels
		want bool
	}{
		// ==
		{`app == "web"`, pod, true},
		{`app == "db"`, pod, false},
		{`missing == "web"`, pod, false},
		{`missing == ""`, pod, false}, // == needs the label present
		{`empty == ""`, pod, true},
		{`app == "WEB"`, pod, false}, // case-sensitive
		// !=
		{`app != "db"`, pod, true},
		{`app != "web"`, pod, false},
		{`missing != "web"`, pod, true}, // true when absent
		{`empty != ""`, pod, false},
		// in / not in / notin
		{`app in {"db", "web"}`, pod, true},
		{`app in {"db"}`, pod, false},
		{`missing in {"web"}`, pod, false},
		{`app in {}`, pod, false},
		{`app not in {"db"}`, pod, true},
		{`app not in {"web", "db"}`, pod, false},
		{`missing not in {"web"}`, pod, true}, // true when absent
		{`app notin {"web"}`, pod, false},
		{`missing notin {"web"}`, pod, true},
		{`app not in {}`, pod, true},
		{`app in {"a","b","c","d","e","f","g","h","i","j","web"}`, pod, true}, // binary-search path
		{`app in {"a","b","c","d","e","f","g","h","i","j","k"}`, pod, false},
		{`app in {"a","b","c","d","e","f","g","h","i","j","z"}`, pod, false},
		// has / !has
		{`has(app)`, pod, true},
		{`has(missing)`, pod, false},
		{`has(empty)`, pod, true}, // present with an empty value
		{`!has(missing)`, pod, true},
		{`!has(app)`, pod, false},
		{`has(projectcalico.org/namespace)`, pod, true},
		{`has(a-b_c.d/e)`, pod, true},
		// contains / starts with / ends with and old spellings
		{`app contains "e"`, pod, true},
		{`app contains "x"`, pod, false},
		{`missing contains ""`, pod, false},
		{`app contains ""`, pod, true},
		{`app starts with "we"`, pod, true},
		{`app starts with "eb"`, pod, false},
		{`app startswith "we"`, pod, true},
		{`missing starts with ""`, pod, false},
		{`app ends with "eb"`, pod, true},
		{`app ends with "we"`, pod, false},
		{`app endswith "eb"`, pod, true},
		{`missing ends with ""`, pod, false},
		// all(), global(), empty
		{`all()`, pod, true},
		{`all()`, nil, true},
		{``, nil, true},
		{"  \t\n ", pod, true},
		{`global()`, pod, true},
		{`global()`, nil, true},
		{`!all()`, pod, false},
		// ! stacks
		{`!!has(app)`, pod, true},
		{`!!!has(app)`, pod, false},
		{`! ! has(missing)`, pod, false},
		{`!app == "web"`, pod, false}, // ! applies to the whole comparison
		// && and || precedence: || is lowest
		{`has(missing) && has(app) || has(tier)`, pod, true},     // (F && T) || T
		{`has(tier) || has(app) && has(missing)`, pod, true},     // T || (T && F)
		{`(has(tier) || has(app)) && has(missing)`, pod, false},  // parentheses override
		{`has(missing) || has(app) && has(missing)`, pod, false}, // F || (T && F)
		{`!has(app) || has(tier)`, pod, true},                    // ! binds tighter than ||
		{`!(has(app) || has(tier))`, pod, false},                 // negated group
		{`!(has(missing) && has(app))`, pod, true},               //
		{`!has(app) && has(tier)`, pod, false},                   // (!T) && T
		{`app == "web" && tier == "frontend" && !has(x)`, pod, true},
		// quoting
		{`app == 'web'`, pod, true},
		{`quote == 'say "hi"'`, pod, true},
		{`app in {'web', "db"}`, pod, true},
		// namespace/serviceaccount label forms
		{`pcns.projectcalico.org/name == "prod"`, pod, true},
		{`projectcalico.org/namespace in {"dev", "prod"}`, pod, true},
		// a label named like a keyword
		{`has == "x"`, labels{"has": "x"}, true},
		{`all == "x"`, labels{"all": "x"}, true},
		{`in == "x"`, labels{"in": "x"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := Parse(tt.expr)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			if got := s.Evaluate(tt.lbls); got != tt.want {
				t.Errorf("Parse(%q).Evaluate(%v) = %v, want %v (canonical %q)", tt.expr, tt.lbls, got, tt.want, s)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{``, `all()`},
		{`   `, `all()`},
		{`all()`, `all()`},
		{`all( )`, `all()`},
		{`global ( )`, `global()`},
		// spacing
		{`a=="b"`, `a == "b"`},
		{`a  !=   'b'`, `a != "b"`},
		{`a in{"b"}`, `a in {"b"}`},
		{`has( a )`, `has(a)`},
		{`has (a)`, `has(a)`},
		{`! has(a)`, `!has(a)`},
		{`!has(a)`, `!has(a)`},
		{"has(a)&&has(b)||has(c)", `has(a) && has(b) || has(c)`},
		{"has(a)\n&&\thas(b)", `has(a) && has(b)`},
		// quoting
		{`a == 'b'`, `a == "b"`},
		{`a == 'say "hi"'`, `a == 'say "hi"'`},
		{`a == "it's"`, `a == "it's"`},
		{`a in {'x"y', 'z'}`, `a in {'x"y', "z"}`},
		// operators and old spellings
		{`a not in {"b"}`, `a not in {"b"}`},
		{`a   not   in {"b"}`, `a not in {"b"}`},
		{`a notin {"b"}`, `a not in {"b"}`},
		{`a contains "b"`, `a contains "b"`},
		{`a starts with "b"`, `a starts with "b"`},
		{`a startswith "b"`, `a starts with "b"`},
		{`a ends   with "b"`, `a ends with "b"`},
		{`a endswith "b"`, `a ends with "b"`},
		{`a contains"b"`, `a contains "b"`},
		// sets: sorted, de-duplicated, empty kept
		{`a in {"d", "a", "b"}`, `a in {"a", "b", "d"}`},
		{`a in {"b","a","b","a"}`, `a in {"a", "b"}`},
		{`a not in { "z" , "y" }`, `a not in {"y", "z"}`},
		{`a in {}`, `a in {}`},
		{`a in { }`, `a in {}`},
		// negation
		{`!!has(a)`, `!!has(a)`},
		{`!(has(b) || !has(a))`, `!(has(b) || !has(a))`},
		{`!(has(a) && has(b))`, `!(has(a) && has(b))`},
		{`!(has(a))`, `!has(a)`},
		{`!(a == "b")`, `!a == "b"`},
		{`!((has(a)))`, `!has(a)`},
		// minimal parentheses
		{`(has(a))`, `has(a)`},
		{`((has(a) && has(b)))`, `has(a) && has(b)`},
		{`(has(a) && has(b)) || has(c)`, `has(a) && has(b) || has(c)`},
		{`has(a) || (has(b) && has(c))`, `has(a) || has(b) && has(c)`},
		{`(has(a) || has(b)) && has(c)`, `(has(a) || has(b)) && has(c)`},
		{`has(a) && (has(b) || has(c))`, `has(a) && (has(b) || has(c))`},
		{`has(a) && (has(b) && has(c))`, `has(a) && has(b) && has(c)`},
		{`(has(a) || has(b)) || has(c)`, `has(a) || has(b) || has(c)`},
		{`!(has(a) || has(b)) && has(c)`, `!(has(a) || has(b)) && has(c)`},
		// keys
		{`pcns.projectcalico.org/name == "x"`, `pcns.projectcalico.org/name == "x"`},
		{`has(example.com/my-key_1)`, `has(example.com/my-key_1)`},
		{`has==""`, `has == ""`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := s.String(); got != tt.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			again, err := Parse(s.String())
			if err != nil {
				t.Fatalf("re-Parse(%q): %v", s.String(), err)
			}
			if again.String() != s.String() {
				t.Errorf("canonical form not stable: %q -> %q", s.String(), again.String())
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		want   string // regexp the message must match
	}{
		// unbalanced parentheses
		{`(has(a)`, 7, `expected "\)" to close "\(" at byte 0, found end of input`},
		{`has(a))`, 6, `unexpected "\)" with no matching "\("`},
		{`)`, 0, `expected a label key.*found "\)"`},
		{`((has(a))`, 9, `to close "\(" at byte 0`},
		{`has(a`, 5, `expected "\)" to close "has\(" at byte 0`},
		// empty parentheses
		{`()`, 1, `empty parentheses`},
		{`has(a) && ( )`, 12, `empty parentheses`},
		{`has()`, 4, `expected a label key after "has\(", found "\)"`},
		{`all(a)`, 4, `expected "\)" after "all\(" \(it takes no argument\)`},
		{`global(x)`, 7, `after "global\("`},
		// unterminated strings
		{`a == "b`, 5, `unterminated string: no closing " for the quote at byte 5`},
		{`a == 'b"`, 5, `unterminated string: no closing '`},
		{`a in {"b", "c}`, 11, `unterminated string`},
		// bad label keys
		{`a$b == "c"`, 1, `invalid character "\$" in label key`},
		{`has(a$b)`, 5, `invalid character "\$" in label key`},
		{`has(a b)`, 6, `expected "\)" to close "has\(".*found "b"`},
		{`has("a")`, 4, `expected a label key after "has\(", found "\\""`},
		{`"a" == "b"`, 0, `expected a label key`},
		{`a:b == "c"`, 1, `invalid character ":" in label key`},
		{`é == "c"`, 0, `expected a label key`},
		// in without a set, bad sets
		{`a in`, 4, `expected "{" to start the set after "in", found end of input`},
		{`a in "b"`, 5, `expected "{" to start the set after "in"`},
		{`a not in ("b")`, 9, `expected "{" to start the set after "not in"`},
		{`a in {"b"`, 9, `expected "," or "}" in the set opened at byte 5, found end of input`},
		{`a in {"b" "c"}`, 10, `expected "," or "}"`},
		{`a in {"b",}`, 10, `expected a quoted string after "in {"`},
		{`a in {b}`, 6, `expected a quoted string`},
		// missing / bad operators and values
		{`a`, 1, `expected an operator .* after label key "a" at byte 0, found end of input`},
		{`a = "b"`, 2, `expected an operator`},
		{`a is "b"`, 2, `expected an operator .* found "is"`},
		{`a not "b"`, 6, `expected "in" after "not"`},
		{`a starts "b"`, 9, `expected "with" after "starts"`},
		{`a ends on "b"`, 7, `expected "with" after "ends", found "on"`},
		{`a == b`, 5, `expected a quoted string after "==", found "b"`},
		{`a !=`, 4, `expected a quoted string after "!="`},
		{`a contains`, 10, `expected a quoted string after "contains"`},
		// trailing and dangling operators
		{`has(a) &&`, 9, `expected a label key.*found end of input`},
		{`has(a) ||`, 9, `expected a label key.*found end of input`},
		{`has(a) && || has(b)`, 10, `expected a label key.*found "\|"`},
		{`has(a) & has(b)`, 7, `expected "&&", "\|\|" or end of input, found "&"`},
		{`has(a) | has(b)`, 7, `expected "&&", "\|\|" or end of input`},
		{`has(a) has(b)`, 7, `expected "&&", "\|\|" or end of input, found "has"`},
		{`!`, 1, `expected a label key`},
		{`has(a) && !`, 11, `expected a label key`},
		{`&& has(a)`, 0, `expected a label key`},
		// nesting bound
		{strings.Repeat("(", maxDepth+1) + "has(a)" + strings.Repeat(")", maxDepth+1), maxDepth, `nesting deeper than`},
		{strings.Repeat("!", maxDepth+1) + "has(a)", maxDepth, `nesting deeper than`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %q, want an error", tt.in, s)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T %v, want *SyntaxError", tt.in, err, err)
			}
			if se.Offset != tt.offset {
				t.Errorf("Parse(%q) offset = %d, want %d (%v)", tt.in, se.Offset, tt.offset, err)
			}
			if !regexp.MustCompile(tt.want).MatchString(se.Msg) {
				t.Errorf("Parse(%q) message %q does not match %q", tt.in, se.Msg, tt.want)
			}
			wantPrefix := "invalid selector "
			if !strings.HasPrefix(err.Error(), wantPrefix) || !strings.Contains(err.Error(), "at byte ") {
				t.Errorf("Error() = %q, want it to start with %q and give the byte offset", err.Error(), wantPrefix)
			}
		})
	}
}

func TestDeepButAllowedNesting(t *testing.T) {
	expr := strings.Repeat("(", maxDepth-1) + "has(a)" + strings.Repeat(")", maxDepth-1)
	s, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse of %d nested parentheses: %v", maxDepth-1, err)
	}
	if s.String() != "has(a)" {
		t.Errorf("String() = %q, want has(a)", s.String())
	}
}

func TestLabelKeys(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{``, nil},
		{`all() || global()`, nil},
		{`has(b) && a == "x" || !(c in {"1"} && b != "y")`, []string{"a", "b", "c"}},
		{`z contains "q" && y starts with "p" && x ends with "e" && w not in {}`, []string{"w", "x", "y", "z"}},
		{`pcns.projectcalico.org/name == "a"`, []string{"pcns.projectcalico.org/name"}},
	}
	for _, tt := range tests {
		got := MustParse(tt.in).LabelKeys()
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("LabelKeys(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestIsAllIsGlobal(t *testing.T) {
	tests := []struct {
		in              string
		isAll, isGlobal bool
	}{
		{``, true, false},
		{`all()`, true, false},
		{` ( all( ) ) `, true, false},
		{`global()`, false, true},
		{`(global())`, false, true},
		{`!all()`, false, false},
		{`all() && has(a)`, false, false},
		{`global() || has(a)`, false, false},
		{`has(a)`, false, false},
	}
	for _, tt := range tests {
		s := MustParse(tt.in)
		if s.IsAll() != tt.isAll || s.IsGlobal() != tt.isGlobal {
			t.Errorf("%q: IsAll=%v IsGlobal=%v, want %v %v", tt.in, s.IsAll(), s.IsGlobal(), tt.isAll, tt.isGlobal)
		}
	}
}

func TestNilSelectorIsAll(t *testing.T) {
	var s *Selector
	if !s.Evaluate(labels{"a": "b"}) || s.String() != "all()" || !s.IsAll() || s.IsGlobal() || s.LabelKeys() != nil {
		t.Errorf("nil selector does not behave as all()")
	}
	if s.ID() != MustParse("").ID() {
		t.Errorf("nil ID %q != all() ID %q", s.ID(), MustParse("").ID())
	}
}

var idPattern = regexp.MustCompile(`^s[a-z2-7]{16}$`)

func TestID(t *testing.T) {
	a := MustParse(`a in {"y", "x"} && has(b)`)
	b := MustParse(`a in{'x','y','x'}&&has( b )`)
	c := MustParse(`a in {"x"} && has(b)`)
	if a.ID() != b.ID() {
		t.Errorf("same canonical form %q, different IDs %q %q", a, a.ID(), b.ID())
	}
	if a.ID() == c.ID() {
		t.Errorf("different selectors %q and %q share ID %q", a, c, a.ID())
	}
	for _, s := range []*Selector{a, c, MustParse(""), MustParse(`x == 'y"'`)} {
		if len(s.ID()) != IDLen || !idPattern.MatchString(s.ID()) {
			t.Errorf("ID %q of %q: want %d chars matching %s", s.ID(), s, IDLen, idPattern)
		}
	}
	// Set names derived from IDs live in the kernel across restarts and
	// upgrades, so the value for a given canonical form must never change.
	if got, want := MustParse(`all()`).ID(), "sewudctcv7zrelfok"; got != want {
		t.Errorf("ID(all()) = %q, want %q (IDs must be stable across versions)", got, want)
	}
}
