package policy

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/palisadenet/palisade/policy/selector"
)

// This file turns a policy's selectors, together with where the policy lives, into
// single selectors over the synthesized labels of EndpointLabels and
// NetworkSetLabels:
//
//   - A namespaced policy selects endpoints of its own namespace only, and its rule
//     selectors (and serviceAccounts) without a namespaceSelector match endpoints and
//     NetworkSets of its own namespace only.
//   - A namespaceSelector matches namespaced endpoints and NetworkSets whose
//     namespace's labels match (its keys are rewritten to the "pcns." prefix);
//     global() instead matches only non-namespaced resources (GlobalNetworkSets).
//   - GlobalNetworkPolicy rule selectors are cluster-wide; its spec.namespaceSelector
//     narrows the endpoints it applies to.
//   - Kubernetes podSelector/namespaceSelector peers and policy selectors match pods
//     only (projectcalico.org/orchestrator == "k8s"), never network sets.
//   - serviceAccounts.names match projectcalico.org/serviceaccount, and
//     serviceAccounts.selector matches the "pcsa."-prefixed service-account labels.

// scopeInput is what a combined selector is built from.
type scopeInput struct {
	// Namespace of the policy; empty for global policies.
	Namespace         string
	Selector          string
	NamespaceSelector string
	ServiceAccounts   *ServiceAccountMatch
	// PodsOnly restricts the match to pods (projectcalico.org/orchestrator ==
	// "k8s"), leaving out network sets: Kubernetes peers and policy selectors.
	PodsOnly bool
}

// combinedSelector builds the selector for in, or nil when nothing constrains labels.
// Errors name the offending part ("namespaceSelector: ...") for the caller to place
// under a field path.
func combinedSelector(in scopeInput) (*selector.Selector, error) {
	var terms []string
	hasSelector := in.Selector != ""
	if hasSelector {
		s, err := selector.Parse(in.Selector)
		if err != nil {
			return nil, &partError{"selector", err}
		}
		if !s.IsAll() {
			terms = append(terms, "("+s.String()+")")
		}
	}
	sa := in.ServiceAccounts
	if sa != nil && len(sa.Names) == 0 && sa.Selector == "" {
		sa = nil
	}
	switch {
	case in.NamespaceSelector != "":
		t, err := namespaceTerm(in.NamespaceSelector)
		if err != nil {
			return nil, &partError{"namespaceSelector", err}
		}
		terms = append(terms, t)
	case in.Namespace != "" && (hasSelector || sa != nil):
		q, err := quote(in.Namespace)
		if err != nil {
			return nil, &partError{"namespace", err}
		}
		terms = append(terms, LabelNamespace+" == "+q)
	}
	if sa != nil {
		t, err := serviceAccountTerms(sa)
		if err != nil {
			return nil, err
		}
		terms = append(terms, t...)
	}
	if in.PodsOnly && len(terms) > 0 {
		terms = append(terms, LabelOrchestrator+` == "`+OrchestratorKubernetes+`"`)
	}
	if len(terms) == 0 {
		if hasSelector {
			return selector.Parse("all()")
		}
		return nil, nil
	}
	s, err := selector.Parse(strings.Join(terms, " && "))
	if err != nil {
		// Every term was parsed or quoted above, so this is a bug, not bad input.
		return nil, fmt.Errorf("combining selectors: %w", err)
	}
	return s, nil
}

// partError says which input selector was wrong.
type partError struct {
	part string
	err  error
}

func (e *partError) Error() string { return e.err.Error() }
func (e *partError) Unwrap() error { return e.err }

// errPart returns the part name of a partError, or "".
func errPart(err error) string {
	var pe *partError
	if errors.As(err, &pe) {
		return pe.part
	}
	return ""
}

// namespaceTerm rewrites a namespaceSelector into a term over endpoint labels.
func namespaceTerm(expr string) (string, error) {
	s, err := selector.Parse(expr)
	if err != nil {
		return "", err
	}
	canon := s.String()
	prefixed, hasGlobal := prefixKeys(canon, NamespaceLabelPrefix)
	switch {
	case canon == "global()":
		return "!has(" + LabelNamespace + ")", nil
	case hasGlobal:
		return "", fmt.Errorf("global() cannot be combined with other terms in a namespaceSelector")
	case canon == "all()":
		return "has(" + LabelNamespace + ")", nil
	}
	return "has(" + LabelNamespace + ") && (" + prefixed + ")", nil
}

// serviceAccountTerms rewrites serviceAccounts into terms over endpoint labels.
func serviceAccountTerms(sa *ServiceAccountMatch) ([]string, error) {
	var terms []string
	if len(sa.Names) > 0 {
		names := slices.Clone(sa.Names)
		slices.Sort(names)
		names = slices.Compact(names)
		quoted := make([]string, len(names))
		for i, n := range names {
			q, err := quote(n)
			if err != nil {
				return nil, &partError{"serviceAccounts.names", err}
			}
			quoted[i] = q
		}
		terms = append(terms, LabelServiceAccount+" in {"+strings.Join(quoted, ", ")+"}")
	}
	if sa.Selector != "" {
		s, err := selector.Parse(sa.Selector)
		if err != nil {
			return nil, &partError{"serviceAccounts.selector", err}
		}
		canon := s.String()
		prefixed, hasGlobal := prefixKeys(canon, ServiceAccountLabelPrefix)
		if hasGlobal {
			return nil, &partError{"serviceAccounts.selector", fmt.Errorf("global() is not allowed in a service-account selector")}
		}
		terms = append(terms, "has("+LabelServiceAccount+") && ("+prefixed+")")
	}
	return terms, nil
}

// quote writes v as a selector value.
func quote(v string) (string, error) {
	switch {
	case !strings.Contains(v, `"`):
		return `"` + v + `"`, nil
	case !strings.Contains(v, `'`):
		return `'` + v + `'`, nil
	}
	return "", fmt.Errorf("value %q holds both quote characters and cannot be written in a selector", v)
}

// prefixKeys prefixes every label key of a selector in canonical form with prefix,
// and reports whether the selector uses global(). It relies on the canonical form:
// values are always quoted, and a label key is exactly a word that is not followed
// by "(" and follows the start, "(", "!", "&&" or "||".
func prefixKeys(canon, prefix string) (string, bool) {
	var b strings.Builder
	hasGlobal := false
	prev := byte(0) // last non-space byte written
	for i := 0; i < len(canon); {
		c := canon[i]
		switch {
		case c == '"' || c == '\'':
			end := strings.IndexByte(canon[i+1:], c)
			if end < 0 { // cannot happen in canonical form
				end = len(canon) - i - 2
			}
			b.WriteString(canon[i : i+end+2])
			i += end + 2
			prev = c
		case isKeyByte(c):
			j := i
			for j < len(canon) && isKeyByte(canon[j]) {
				j++
			}
			word := canon[i:j]
			nextParen := j < len(canon) && canon[j] == '('
			if nextParen && word == "global" {
				hasGlobal = true
			}
			if !nextParen && (prev == 0 || prev == '(' || prev == '!' || prev == '&' || prev == '|') {
				b.WriteString(prefix)
			}
			b.WriteString(word)
			i = j
			prev = 'w'
		default:
			b.WriteByte(c)
			if c != ' ' {
				prev = c
			}
			i++
		}
	}
	return b.String(), hasGlobal
}

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == '/' || c == '-'
}
