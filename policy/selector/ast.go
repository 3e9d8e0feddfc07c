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

type hasNode struct{ key string }

func (n *hasNode) eval(labels map[string]string) bool {
	_, ok := labels[n.key]
	return ok
}

func (n *hasNode) appendTo(b []byte) []byte {
	b = append(b, "has("...)
	b = append(b, n.key...)
	return append(b, ')')
}

func (n *hasNode) visitKeys(f func(string)) { f(n.key) }

// cmpOp is a binary operator that compares a label with one value.
type cmpOp uint8

const (
	opEq cmpOp = iota
	opNe
	opContains
	opStartsWith
	opEndsWith
)

// canonical spelling of each operator, spaces included.
var cmpOpText = [...]string{
	opEq:         " == ",
	opNe:         " != ",
	opContains:   " contains ",
	opStartsWith: " starts with ",
	opEndsWith:   " ends with ",
}

type cmpNode struct {
	op         cmpOp
	key, value string
}

func (n *cmpNode) eval(labels map[string]string) bool {
	v, ok := labels[n.key]
	switch n.op {
	case opEq:
		return ok && v == n.value
	case opNe:
		return !ok || v != n.value
	case opContains:
		return ok && strings.Contains(v, n.value)
	case opStartsWith:
		return ok && strings.HasPrefix(v, n.value)
	default: // opEndsWith
		return ok && strings.HasSuffix(v, n.value)
	}
}

func (n *cmpNode) appendTo(b []byte) []byte {
	b = append(b, n.key...)
	b = append(b, cmpOpText[n.op]...)
	return appendQuoted(b, n.value)
}

func (n *cmpNode) visitKeys(f func(string)) { f(n.key) }

// setNode is `key in {...}` or, when negate is set, `key not in {...}`.
// values is sorted and free of duplicates (built once at parse time).
type setNode struct {
	key    string
	values []string
	negate bool
}

func (n *setNode) eval(labels map[string]string) bool {
	v, ok := labels[n.key]
	if !ok {
		return n.negate
	}
	return n.contains(v) != n.negate
}

// contains searches the sorted values: a linear scan for small sets (cheaper
// than bisection there), binary search otherwise.
func (n *setNode) contains(v string) bool {
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

func (n *setNode) appendTo(b []byte) []byte {
	b = append(b, n.key...)
	if n.negate {
		b = append(b, " not in {"...)
	} else {
		b = append(b, " in {"...)
	}
	for i, v := range n.values {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendQuoted(b, v)
	}
	return append(b, '}')
}

func (n *setNode) visitKeys(f func(string)) { f(n.key) }

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
