// Package selector implements Calico's label-selector language: parsing,
// evaluation against a label map, a canonical text form, a stable short ID
// and a concurrent parse cache.
//
// In: selector text such as `role == "db" && env in {"prod", "stage"}`.
// Out: an immutable *Selector that answers Evaluate(labels) without
// allocating, prints its canonical String(), lists the LabelKeys it reads and
// names itself with ID() (a hash of the canonical form, usable in nft set and
// ipset names). The package is pure: no kernel, network, clock or logging.
//
// Grammar (lowest precedence first):
//
//	selector := [ or ]                      empty means all()
//	or       := and { "||" and }
//	and      := unary { "&&" unary }
//	unary    := "!" unary | primary          "!" stacks: !!has(a)
//	primary  := "(" or ")"
//	          | "all" "(" ")" | "global" "(" ")" | "has" "(" key ")"
//	          | key ( "==" | "!=" | "contains" | "starts with" | "ends with" ) value
//	          | key ( "in" | "not in" ) "{" [ value { "," value } ] "}"
//	key      := 1*( A-Z a-z 0-9 _ . / - )
//	value    := '"' { any byte but '"' } '"' | "'" { any byte but "'" } "'"
//
// The older spellings notin, startswith and endswith are accepted. Whitespace
// is optional wherever it cannot join two words (`a in{"b"}`, `has( a )`).
//
// Semantics: `k == v`, `contains`, `starts with`, `ends with`, `in` and has()
// need the label to be present; `k != v` and `not in` are true when it is
// absent. An empty set is allowed: `k in {}` never matches and `k not in {}`
// always does.
//
// global(): like Calico, the expression global() matches every label map, so
// Evaluate treats it as all(). Its meaning lives in the caller: a rule whose
// namespaceSelector is global() (IsGlobal reports this) widens the rule's
// selector to non-namespaced resources (GlobalNetworkSets, host endpoints)
// instead of pods in selected namespaces.
package selector
