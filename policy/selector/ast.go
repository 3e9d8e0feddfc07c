package selector

import "strings"

// node is one element of a compiled selector. Nodes are immutable after
// parsing, so a *Selector may be evaluated from many goroutines at once.
type node interface {
	// eval reports whether labels match; it must not allocate.
	eval(labels map[string]string) bool
	// appendTo appends the canonical form of the node.
	appendTo(b []byte) []byte
	// visitKeys calls f for every label key the node reads.
	visitKeys(f func(string))
}

type allNode struct{}

func (allNode) eval(map[string]string) bool { return true }
func (allNode) appendTo(b []byte) []byte    { return append(b, "all()"...) }
func (allNode) visitKeys(func(string))      {}

// globalNode matches everything; see the package doc for what global() means
// to callers.
type globalNode struct{}

func (globalNode) eval(map[string]string) bool { return true }
func (globalNode) appendTo(b []byte) []byte    { return append(b, "global()"...) }
func (globalNode) visitKeys(func(string))      {}

// leafOp is the test a leafNode applies to one label.
type leafOp uint8

const (
	opHas leafOp = iota
	opEq
	opNe
	opContains
	opStartsWith
	opEndsWith
	opIn
	opNotIn
)

// canonical spelling of each binary operator, spaces included.
var leafOpText = [...]string{
	opEq:         " == ",
	opNe:         " != ",
	opContains:   " contains ",
	opStartsWith: " starts with ",
	opEndsWith:   " ends with ",
	opIn:         " in {",
	opNotIn:      " not in {",
}

// leafNode is every test on a single label. One type (instead of one per
// operator) lets the parser allocate leaves in blocks. For opIn and opNotIn,
// values is sorted and free of duplicates (built once at parse time).
type leafNode struct {
	op     leafOp
	key    string
	value  string
	values []string
}

func (n *leafNode) eval(labels map[string]string) bool {
	v, ok := labels[n.key]
	switch n.op {
	case opHas:
		return ok
	case opEq:
		return ok && v == n.value
	case opNe:
		return !ok || v != n.value
	case opContains:
		return ok && strings.Contains(v, n.value)
	case opStartsWith:
		return ok && strings.HasPrefix(v, n.value)
	case opEndsWith:
		return ok && strings.HasSuffix(v, n.value)
	case opIn:
		return ok && n.setContains(v)
	default: // opNotIn: true when the label is absent
		return !ok || !n.setContains(v)
	}
}

// setContains searches the sorted values: a linear scan for small sets
// (cheaper than bisection there), binary search otherwise.
func (n *leafNode) setContains(v string) bool {
	vals := n.values
	if len(vals) <= 8 {
		for _, x := range vals {
			if x == v {
				return true
			}
		}
		return false
	}
	lo, hi := 0, len(vals)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if vals[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(vals) && vals[lo] == v
}

func (n *leafNode) appendTo(b []byte) []byte {
	if n.op == opHas {
		b = append(b, "has("...)
		b = append(b, n.key...)
		return append(b, ')')
	}
	b = append(b, n.key...)
	b = append(b, leafOpText[n.op]...)
	if n.op != opIn && n.op != opNotIn {
		return appendQuoted(b, n.value)
	}
	for i, v := range n.values {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendQuoted(b, v)
	}
	return append(b, '}')
}

func (n *leafNode) visitKeys(f func(string)) { f(n.key) }

type notNode struct{ child node }

func (n *notNode) eval(labels map[string]string) bool { return !n.child.eval(labels) }

func (n *notNode) appendTo(b []byte) []byte {
	b = append(b, '!')
	return appendOperand(b, n.child, isGroup(n.child))
}

func (n *notNode) visitKeys(f func(string)) { n.child.visitKeys(f) }

// andNode holds two or more operands; nested ANDs are flattened at parse time
// so the canonical form needs no parentheses for associativity.
type andNode struct{ children []node }

func (n *andNode) eval(labels map[string]string) bool {
	for _, c := range n.children {
		if !c.eval(labels) {
			return false
		}
	}
	return true
}

func (n *andNode) appendTo(b []byte) []byte {
	for i, c := range n.children {
		if i > 0 {
			b = append(b, " && "...)
		}
		_, isOr := c.(*orNode)
		b = appendOperand(b, c, isOr)
	}
	return b
}

func (n *andNode) visitKeys(f func(string)) {
	for _, c := range n.children {
		c.visitKeys(f)
	}
}

// orNode holds two or more operands, flattened like andNode. || has the
// lowest precedence, so its operands never need parentheses.
type orNode struct{ children []node }

func (n *orNode) eval(labels map[string]string) bool {
	for _, c := range n.children {
		if c.eval(labels) {
			return true
		}
	}
	return false
}

func (n *orNode) appendTo(b []byte) []byte {
	for i, c := range n.children {
		if i > 0 {
			b = append(b, " || "...)
		}
		b = c.appendTo(b)
	}
	return b
}

func (n *orNode) visitKeys(f func(string)) {
	for _, c := range n.children {
		c.visitKeys(f)
	}
}

func isGroup(n node) bool {
	switch n.(type) {
	case *andNode, *orNode:
		return true
	}
	return false
}

func appendOperand(b []byte, n node, paren bool) []byte {
	if !paren {
		return n.appendTo(b)
	}
	b = append(b, '(')
	b = n.appendTo(b)
	return append(b, ')')
}

// appendQuoted writes v in double quotes unless it holds a double quote; the
// language has no escapes, so such a value can only be written in single
// quotes (and a value holding both kinds cannot be written at all).
func appendQuoted(b []byte, v string) []byte {
	q := byte('"')
	if strings.IndexByte(v, '"') >= 0 {
		q = '\''
	}
	b = append(b, q)
	b = append(b, v...)
	return append(b, q)
}
