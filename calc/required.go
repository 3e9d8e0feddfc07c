package calc

import (
	"strings"

	"github.com/palisadenet/palisade/policy"
	"github.com/palisadenet/palisade/policy/selector"
)

// requiredEquality finds a conjunct `key == "value"` at the top level of sel's
// canonical form: every label set sel matches carries key=value, so the label
// index can bucket the selector under that pair. It prefers the namespace label,
// which most scoped selectors carry, so few keys need an item index.
//
// The selector package does not expose its syntax tree, so this reads the
// canonical form (selector.String), whose shape is fixed: binary operators with
// one space on each side, values always quoted, no escapes inside quotes, && and
// || flattened, parentheses only where precedence needs them. A term it does not
// recognise is simply not used; a selector with a top-level || has none.
func requiredEquality(sel *selector.Selector) (key, value string, ok bool) {
	terms, conjunction := topLevelConjuncts(sel.String())
	if !conjunction {
		return "", "", false
	}
	for _, t := range terms {
		k, v, isEq := equalityTerm(t)
		if !isEq {
			continue
		}
		if !ok || k == policy.LabelNamespace {
			key, value, ok = k, v, true
		}
		if k == policy.LabelNamespace {
			break
		}
	}
	return key, value, ok
}

// topLevelConjuncts splits canon on " && " outside quotes, parentheses and braces.
// It reports false when a top-level " || " makes the whole selector a disjunction.
func topLevelConjuncts(canon string) ([]string, bool) {
	var terms []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(canon); i++ {
		c := canon[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(' || c == '{':
			depth++
		case c == ')' || c == '}':
			depth--
		case depth == 0 && strings.HasPrefix(canon[i:], " || "):
			return nil, false
		case depth == 0 && strings.HasPrefix(canon[i:], " && "):
			terms = append(terms, canon[start:i])
			start = i + 4
			i += 3
		}
	}
	return append(terms, canon[start:]), true
}

// equalityTerm recognises `key == "value"` (or single-quoted) exactly.
func equalityTerm(t string) (key, value string, ok bool) {
	k, rest, found := strings.Cut(t, " == ")
	if !found || k == "" || !isLabelKey(k) || len(rest) < 2 {
		return "", "", false
	}
	q := rest[0]
	if (q != '"' && q != '\'') || rest[len(rest)-1] != q {
		return "", "", false
	}
	v := rest[1 : len(rest)-1]
	if strings.IndexByte(v, q) >= 0 {
		return "", "", false
	}
	return k, v, true
}

func isLabelKey(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '.' || c == '/' || c == '-') {
			return false
		}
	}
	return true
}
