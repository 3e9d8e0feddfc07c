package iptables

import (
	"strings"
)

// Rule is one iptables rule of one of our chains, as iptables-restore arguments.
type Rule struct {
	// Match is the match part, e.g. "-i cali+ -p tcp -m multiport --dports 80"; empty
	// matches every packet.
	Match string
	// Target is the target part, e.g. "-j DROP" or "-g cali-fw-cali1234".
	Target string
	// Comment is shown after the rule's hash in its comment (optional).
	Comment string
}

// Chain is one of our chains with its rules in order.
type Chain struct {
	Name  string
	Rules []Rule

	lines, hashes []string // computed once by fingerprint
}

// maxComment keeps a comment within xt_comment's 256 bytes (with the hash prefix).
const maxComment = 200

// sanitizeComment keeps comment text printable and free of quotes, which
// iptables-restore would otherwise split or reject.
func sanitizeComment(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '"' || r == '\\':
			return '\''
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
	if len(s) > maxComment {
		s = s[:maxComment-3] + "..."
	}
	return s
}

func (c *Chain) fingerprint() {
	if c.hashes != nil {
		return // non-nil, even for an empty chain: nil means "missing" to callers
	}
	c.lines = make([]string, len(c.Rules))
	c.hashes = make([]string, len(c.Rules))
	prev := ""
	var b strings.Builder
	for i, r := range c.Rules {
		body := r.Match + "\x00" + r.Target + "\x00" + r.Comment
		h := ruleHash(prev, c.Name, body)
		prev = h
		b.Reset()
		b.WriteString("-A ")
		b.WriteString(c.Name)
		if r.Match != "" {
			b.WriteByte(' ')
			b.WriteString(r.Match)
		}
		b.WriteString(` -m comment --comment "`)
		b.WriteString(CommentPrefix)
		b.WriteString(h)
		if r.Comment != "" {
			b.WriteByte(' ')
			b.WriteString(sanitizeComment(r.Comment))
		}
		b.WriteString(`" `)
		b.WriteString(r.Target)
		c.lines[i], c.hashes[i] = b.String(), h
	}
}

// Lines is the chain's rules as iptables-restore lines ("-A <chain> ...").
func (c *Chain) Lines() []string {
	c.fingerprint()
	return c.lines
}

// Hashes is the list of the rules' hashes, in order: the chain's fingerprint.
func (c *Chain) Hashes() []string {
	c.fingerprint()
	return c.hashes
}

// sameHashes reports whether a chain in the kernel (its hash list) equals c.
func (c *Chain) sameHashes(kernel []string) bool {
	h := c.Hashes()
	if len(h) != len(kernel) {
		return false
	}
	for i := range h {
		if h[i] != kernel[i] {
			return false
		}
	}
	return true
}

// jumpRule is our jump from a built-in chain, as inserted at position 1.
func jumpRule(j jumpSpec) string {
	return "-I " + j.Builtin + ` 1 -m comment --comment "` + JumpComment + `" -j ` + j.Chain
}

// RestoreText prints chains as iptables-restore --noflush input, one section per
// table: declarations (which create or flush), rules, and with jumps our jumps at the
// top of the built-in chains. It is the golden files' format and what a cold start
// writes.
func RestoreText(chains []*Chain, jumps bool) string {
	var b strings.Builder
	hasNAT := false
	for _, c := range chains {
		hasNAT = hasNAT || chainTable(c.Name) == "nat"
	}
	for _, table := range tables {
		var in []*Chain
		for _, c := range chains {
			if chainTable(c.Name) == table {
				in = append(in, c)
			}
		}
		if len(in) == 0 {
			continue
		}
		b.WriteString("*" + table + "\n")
		for _, c := range in {
			b.WriteString(":" + c.Name + " - [0:0]\n")
		}
		for _, c := range in {
			for _, l := range c.Lines() {
				b.WriteString(l)
				b.WriteByte('\n')
			}
		}
		if jumps {
			for _, j := range jumpsFor(hasNAT) {
				if j.Table == table {
					b.WriteString(jumpRule(j) + "\n")
				}
			}
		}
		b.WriteString("COMMIT\n")
	}
	return b.String()
}
