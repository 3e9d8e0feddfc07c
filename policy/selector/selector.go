package selector

import (
	"crypto/sha256"
	"encoding/base32"
	"slices"
)

// IDLen is the length of every ID(): "s" followed by 16 base32 characters
// (80 bits of SHA-256). It fits nft set names and the 31-byte ipset limit with
// room for a prefix.
const IDLen = 17

// Selector is a parsed, immutable selector. It is safe for concurrent use.
// A nil *Selector behaves as all().
type Selector struct {
	root      node
	canonical string
	id        string
}

// Parse compiles expr. An empty or all-whitespace expr is all(). Errors are
// *SyntaxError values that give the byte offset and what was expected.
func Parse(expr string) (*Selector, error) {
	p := &parser{src: expr}
	root, err := p.parse()
	if err != nil {
		return nil, err
	}
	return newSelector(root, p.out[:0]), nil
}

// MustParse is Parse for constants and tests; it panics on invalid input.
func MustParse(expr string) *Selector {
	s, err := Parse(expr)
	if err != nil {
		panic(err)
	}
	return s
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newSelector renders the canonical form and the ID once, so String and ID
// cost nothing later. Both share one string allocation. scratch is reusable
// space for rendering.
func newSelector(root node, scratch []byte) *Selector {
	b := root.appendTo(scratch[:0])
	n := len(b)
	sum := sha256.Sum256(b)
	b = append(b, 's')
	b = idEncoding.AppendEncode(b, sum[:10])
	both := string(b)
	return &Selector{root: root, canonical: both[:n], id: both[n:]}
}

// Evaluate reports whether labels match the selector. It does not allocate.
func (s *Selector) Evaluate(labels map[string]string) bool {
	if s == nil {
		return true
	}
	return s.root.eval(labels)
}

// String returns the canonical form: one space around binary operators, "!"
// without a space, values in double quotes (single quotes when the value holds
// a double quote), sets sorted and de-duplicated, nested && / || flattened and
// only the parentheses precedence needs. Parse(s.String()).String() ==
// s.String().
func (s *Selector) String() string {
	if s == nil {
		return "all()"
	}
	return s.canonical
}

// ID is a stable name for the selector: "s" plus 16 characters of [a-z2-7]
// (IDLen in total) derived from SHA-256 of String(), so selectors that differ
// only in spelling share an ID. It starts with a letter and holds no
// punctuation, so it is usable as-is in nft set and ipset names.
func (s *Selector) ID() string {
	if s == nil {
		return newSelector(allNode{}, nil).id
	}
	return s.id
}

// LabelKeys returns the sorted, de-duplicated label keys the selector reads.
// all() and global() read none. The caller owns the returned slice.
func (s *Selector) LabelKeys() []string {
	if s == nil {
		return nil
	}
	var keys []string
	s.root.visitKeys(func(k string) { keys = append(keys, k) })
	slices.Sort(keys)
	return slices.Compact(keys)
}

// IsAll reports whether the selector is exactly all() (which includes the
// empty selector). It does not try to prove other selectors always match.
func (s *Selector) IsAll() bool {
	if s == nil {
		return true
	}
	_, ok := s.root.(allNode)
	return ok
}

// IsGlobal reports whether the selector is exactly global(). In a rule's
// namespaceSelector this means "non-namespaced resources" (see package doc);
// Evaluate itself treats global() like all().
func (s *Selector) IsGlobal() bool {
	if s == nil {
		return false
	}
	_, ok := s.root.(globalNode)
	return ok
}
