package selector

import (
	"fmt"
	"slices"
	"strings"
)

// maxDepth bounds nesting of "(" and "!" so hostile input cannot exhaust the
// stack.
const maxDepth = 256

// SyntaxError reports where and why a selector failed to parse.
type SyntaxError struct {
	Expr   string // the full input
	Offset int    // byte offset into Expr where the problem was found
	Msg    string // what was expected and what was found
}

func (e *SyntaxError) Error() string {
	expr := e.Expr
	if len(expr) > 200 {
		expr = expr[:200] + "..."
	}
	return fmt.Sprintf("invalid selector %q: at byte %d: %s", expr, e.Offset, e.Msg)
}

const termExpected = `a label key, "!", "(", "has(", "all()" or "global()"`

type parser struct {
	src string
	pos int
	// nodes and strs are scratch stacks shared by every group and set being
	// built, so each finished list is allocated once at its exact size.
	nodes []node
	strs  []string
	// leaves hands out leafNodes from blocks, one allocation per block.
	leaves []leafNode

	nodeScratch [16]node
	strScratch  [16]string
	// out is scratch space for rendering the canonical form.
	out [256]byte
}

// leaf returns a new leafNode from the current block. The first block is
// sized for every operand the input can hold (one more than its "&&" and "||"
// operators; more if quoted values contain them), so a valid selector usually
// needs one block.
func (p *parser) leaf(op leafOp, key string) *leafNode {
	if len(p.leaves) == cap(p.leaves) {
		size := 4
		if p.leaves == nil {
			size = 1 + strings.Count(p.src, "&&") + strings.Count(p.src, "||")
		}
		p.leaves = make([]leafNode, 0, size)
	}
	p.leaves = append(p.leaves, leafNode{op: op, key: key})
	return &p.leaves[len(p.leaves)-1]
}

func (p *parser) errorf(at int, format string, args ...any) error {
	return &SyntaxError{Expr: p.src, Offset: at, Msg: fmt.Sprintf(format, args...)}
}

// found describes the input at position at, for error messages.
func (p *parser) found(at int) string {
	if at >= len(p.src) {
		return "end of input"
	}
	if end := scanKey(p.src, at); end > at {
		return fmt.Sprintf("%q", p.src[at:min(end, at+40)])
	}
	r := []rune(p.src[at:min(len(p.src), at+4)])
	return fmt.Sprintf("%q", string(r[0]))
}

func (p *parser) skipSpace() {
	for p.pos < len(p.src) {
		switch p.src[p.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *parser) parse() (node, error) {
	src := p.src
	p.nodes, p.strs = p.nodeScratch[:0], p.strScratch[:0]
	p.skipSpace()
	if p.pos == len(src) {
		return allNode{}, nil
	}
	root, err := p.parseOr(0)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos < len(src) {
		if src[p.pos] == ')' {
			return nil, p.errorf(p.pos, `unexpected ")" with no matching "("`)
		}
		return nil, p.errorf(p.pos, `expected "&&", "||" or end of input, found %s`, p.found(p.pos))
	}
	return root, nil
}

func (p *parser) parseOr(depth int) (node, error) {
	return p.parseChain(depth, "||", (*parser).parseAnd, func(c []node) node { return &orNode{children: c} })
}

func (p *parser) parseAnd(depth int) (node, error) {
	return p.parseChain(depth, "&&", (*parser).parseUnary, func(c []node) node { return &andNode{children: c} })
}

// parseChain parses operand { op operand }. A single operand is returned as
// is; two or more become one group, with operands that are themselves the
// same kind of group spliced in: (a && b) && c is a && b && c.
func (p *parser) parseChain(depth int, op string, operand func(*parser, int) (node, error), group func([]node) node) (node, error) {
	first, err := operand(p, depth)
	if err != nil {
		return nil, err
	}
	base := len(p.nodes)
	for {
		p.skipSpace()
		if !strings.HasPrefix(p.src[p.pos:], op) {
			break
		}
		p.pos += 2
		next, err := operand(p, depth)
		if err != nil {
			p.nodes = p.nodes[:base]
			return nil, err
		}
		if len(p.nodes) == base {
			p.pushFlat(op, first)
		}
		p.pushFlat(op, next)
	}
	if len(p.nodes) == base {
		return first, nil
	}
	children := slices.Clone(p.nodes[base:])
	clear(p.nodes[base:]) // let the scratch stack drop its references
	p.nodes = p.nodes[:base]
	return group(children), nil
}

func (p *parser) pushFlat(op string, n node) {
	switch g := n.(type) {
	case *andNode:
		if op == "&&" {
			p.nodes = append(p.nodes, g.children...)
			return
		}
	case *orNode:
		if op == "||" {
			p.nodes = append(p.nodes, g.children...)
			return
		}
	}
	p.nodes = append(p.nodes, n)
}

func (p *parser) parseUnary(depth int) (node, error) {
	p.skipSpace()
	if p.peek() != '!' {
		return p.parsePrimary(depth)
	}
	if depth >= maxDepth {
		return nil, p.errorf(p.pos, "nesting deeper than %d levels", maxDepth)
	}
	p.pos++
	child, err := p.parseUnary(depth + 1)
	if err != nil {
		return nil, err
	}
	return &notNode{child: child}, nil
}

func (p *parser) parsePrimary(depth int) (node, error) {
	p.skipSpace()
	start := p.pos
	if p.peek() == '(' {
		return p.parseGroup(depth)
	}
	end := scanKey(p.src, p.pos)
	if end == start {
		return nil, p.errorf(start, "expected %s, found %s", termExpected, p.found(start))
	}
	word := p.src[start:end]
	p.pos = end
	switch word {
	case "all", "global", "has":
		p.skipSpace()
		if p.peek() == '(' {
			p.pos++
			return p.parseFunction(word, start)
		}
		p.pos = end // a label that happens to be spelled like a function
	}
	return p.parseComparison(word, start)
}

func (p *parser) parseGroup(depth int) (node, error) {
	open := p.pos
	if depth >= maxDepth {
		return nil, p.errorf(open, "nesting deeper than %d levels", maxDepth)
	}
	p.pos++
	p.skipSpace()
	if p.peek() == ')' {
		return nil, p.errorf(p.pos, "empty parentheses: expected %s inside \"()\"", termExpected)
	}
	inner, err := p.parseOr(depth + 1)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.peek() != ')' {
		return nil, p.errorf(p.pos, `expected ")" to close "(" at byte %d, found %s`, open, p.found(p.pos))
	}
	p.pos++
	return inner, nil
}

// parseFunction parses the rest of all(), global() or has(key) after "(".
func (p *parser) parseFunction(name string, start int) (node, error) {
	p.skipSpace()
	var n node
	switch name {
	case "all":
		n = allNode{}
	case "global":
		n = globalNode{}
	default:
		key, err := p.parseKey("has(")
		if err != nil {
			return nil, err
		}
		n = p.leaf(opHas, key)
		p.skipSpace()
	}
	if p.peek() != ')' {
		if name != "has" {
			return nil, p.errorf(p.pos, `expected ")" after "%s(" (it takes no argument), found %s`, name, p.found(p.pos))
		}
		return nil, p.errorf(p.pos, `expected ")" to close "has(" at byte %d, found %s`, start, p.found(p.pos))
	}
	p.pos++
	return n, nil
}

// parseKey reads a label key at the current position.
func (p *parser) parseKey(after string) (string, error) {
	start := p.pos
	end := scanKey(p.src, start)
	if end == start {
		return "", p.errorf(start, `expected a label key after %q, found %s`, after, p.found(start))
	}
	p.pos = end
	if err := p.checkKeyEnd(); err != nil {
		return "", err
	}
	return p.src[start:end], nil
}

// checkKeyEnd rejects a key that runs straight into a character no key or
// operator can hold, such as `a$b`, with a message naming the key.
func (p *parser) checkKeyEnd() error {
	if p.pos >= len(p.src) {
		return nil
	}
	switch c := p.src[p.pos]; c {
	case ' ', '\t', '\n', '\r', '\f', '\v', ')', '=', '!', '&', '|':
		return nil
	default:
		return p.errorf(p.pos, "invalid character %s in label key (allowed: A-Z a-z 0-9 _ . / -)", p.found(p.pos))
	}
}

const opExpected = `an operator ("==", "!=", "in", "not in", "contains", "starts with", "ends with")`

func (p *parser) parseComparison(key string, keyStart int) (node, error) {
	if err := p.checkKeyEnd(); err != nil {
		return nil, err
	}
	p.skipSpace()
	opStart := p.pos
	rest := p.src[p.pos:]
	switch {
	case strings.HasPrefix(rest, "=="):
		p.pos += 2
		return p.cmp(opEq, key, "==")
	case strings.HasPrefix(rest, "!="):
		p.pos += 2
		return p.cmp(opNe, key, "!=")
	}
	word := p.readWord()
	switch word {
	case "in":
		return p.set(key, opIn, "in", "in {")
	case "notin":
		return p.set(key, opNotIn, "notin", "notin {")
	case "contains":
		return p.cmp(opContains, key, "contains")
	case "startswith":
		return p.cmp(opStartsWith, key, "startswith")
	case "endswith":
		return p.cmp(opEndsWith, key, "endswith")
	case "not", "starts", "ends":
		second := "with"
		if word == "not" {
			second = "in"
		}
		p.skipSpace()
		at := p.pos
		if w := p.readWord(); w != second {
			return nil, p.errorf(at, `expected %q after %q, found %s`, second, word, p.found(at))
		}
		switch word {
		case "not":
			return p.set(key, opNotIn, "not in", "not in {")
		case "starts":
			return p.cmp(opStartsWith, key, "starts with")
		default:
			return p.cmp(opEndsWith, key, "ends with")
		}
	}
	return nil, p.errorf(opStart, "expected %s after label key %q at byte %d, found %s", opExpected, key, keyStart, p.found(opStart))
}

// readWord consumes a run of ASCII letters (operator words).
func (p *parser) readWord() string {
	start := p.pos
	for p.pos < len(p.src) && isLetter(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start:p.pos]
}

func (p *parser) cmp(op leafOp, key, opText string) (node, error) {
	v, err := p.parseValue(opText)
	if err != nil {
		return nil, err
	}
	n := p.leaf(op, key)
	n.value = v
	return n, nil
}

func (p *parser) parseValue(after string) (string, error) {
	p.skipSpace()
	start := p.pos
	q := p.peek()
	if q != '"' && q != '\'' {
		return "", p.errorf(start, "expected a quoted string after %q, found %s", after, p.found(start))
	}
	end := strings.IndexByte(p.src[start+1:], q)
	if end < 0 {
		return "", p.errorf(start, "unterminated string: no closing %c for the quote at byte %d", q, start)
	}
	p.pos = start + 1 + end + 1
	return p.src[start+1 : start+1+end], nil
}

// set parses "{" [ value { "," value } ] "}". opText and memberText name the
// operator in error messages (constants, so the happy path builds no strings).
func (p *parser) set(key string, op leafOp, opText, memberText string) (node, error) {
	p.skipSpace()
	if p.peek() != '{' {
		return nil, p.errorf(p.pos, `expected "{" to start the set after %q, found %s`, opText, p.found(p.pos))
	}
	open := p.pos
	p.pos++
	p.skipSpace()
	if p.peek() == '}' {
		p.pos++
		return p.leaf(op, key), nil
	}
	base := len(p.strs)
	defer func() { p.strs = p.strs[:base] }()
	for {
		v, err := p.parseValue(memberText)
		if err != nil {
			return nil, err
		}
		p.strs = append(p.strs, v)
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
			continue
		case '}':
			p.pos++
			values := p.strs[base:]
			slices.Sort(values)
			values = slices.Compact(values)
			n := p.leaf(op, key)
			n.values = slices.Clone(values)
			return n, nil
		}
		return nil, p.errorf(p.pos, `expected "," or "}" in the set opened at byte %d, found %s`, open, p.found(p.pos))
	}
}

func isLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

func isKeyChar(c byte) bool {
	return isLetter(c) || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '/' || c == '-'
}

// scanKey returns the end of the run of label-key characters starting at i.
func scanKey(s string, i int) int {
	for i < len(s) && isKeyChar(s[i]) {
		i++
	}
	return i
}
