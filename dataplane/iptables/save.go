package iptables

import (
	"github.com/palisadenet/palisade/dataplane/desired"
	"regexp"
	"strconv"
	"strings"
)

// kernelTables is what iptables-save shows, as far as it concerns us: our chains
// (each in its own table) with their rules' hashes, and where our jumps sit in the
// built-in chains.
type kernelTables struct {
	// chains maps every cali- chain to its rules' hashes ("" for a rule without our
	// comment, so a foreign rule makes the chain differ).
	chains map[string][]string
	// jumps maps "table builtin" to the 1-based positions of rules carrying our jump
	// comment, and jumpTarget to where the first of them jumps.
	jumps      map[string][]int
	jumpTarget map[string]string
}

var (
	hashRe       = regexp.MustCompile(`palisade:([0-9a-f]{16})\b`)
	jumpTargetRe = regexp.MustCompile(`-j (\S+)`)
)

func jumpKey(table, builtin string) string { return table + " " + builtin }

// parseSave reads iptables-save output (any tables).
func parseSave(out string) *kernelTables {
	k := &kernelTables{chains: map[string][]string{}, jumps: map[string][]int{}, jumpTarget: map[string]string{}}
	table := ""
	pos := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			table = line[1:]
			continue
		case table == "" || line == "" || line[0] == '#':
			continue
		case line[0] == ':':
			if name := strings.Fields(line[1:])[0]; ours(name, table) {
				k.chains[name] = []string{}
			}
			continue
		case !strings.HasPrefix(line, "-A "):
			continue
		}
		chain := strings.SplitN(line[3:], " ", 2)[0]
		key := jumpKey(table, chain)
		pos[key]++
		if ours(chain, table) {
			h := ""
			if m := hashRe.FindStringSubmatch(line); m != nil {
				h = m[1]
			}
			k.chains[chain] = append(k.chains[chain], h)
			continue
		}
		if strings.Contains(line, JumpComment) {
			if len(k.jumps[key]) == 0 {
				if m := jumpTargetRe.FindStringSubmatch(line); m != nil {
					k.jumpTarget[key] = m[1]
				}
			}
			k.jumps[key] = append(k.jumps[key], pos[key])
		}
	}
	return k
}

// ours reports whether a chain seen in table is one of ours (cali-, in its own table).
func ours(name, table string) bool {
	return strings.HasPrefix(name, ChainPrefix) && chainTable(name) == table
}

// jumpFixes returns, per table, the restore lines that leave exactly our jump at
// position 1 of each built-in chain in want and none of ours elsewhere (deleting from
// the bottom up so positions stay valid); nothing when all is in place.
func (k *kernelTables) jumpFixes(want []jumpSpec) map[string][]string {
	fixes := map[string][]string{}
	wanted := map[string]bool{}
	for _, j := range want {
		key := jumpKey(j.Table, j.Builtin)
		wanted[key] = true
		at := k.jumps[key]
		if len(at) == 1 && at[0] == 1 && k.jumpTarget[key] == j.Chain {
			continue
		}
		fixes[j.Table] = append(fixes[j.Table], deleteLines(j.Builtin, at)...)
		fixes[j.Table] = append(fixes[j.Table], jumpRule(j))
	}
	for _, key := range desired.SortedKeys(k.jumps) {
		if !wanted[key] {
			table, builtin, _ := strings.Cut(key, " ")
			fixes[table] = append(fixes[table], deleteLines(builtin, k.jumps[key])...)
		}
	}
	return fixes
}

func deleteLines(builtin string, at []int) []string {
	var out []string
	for i := len(at) - 1; i >= 0; i-- {
		out = append(out, "-D "+builtin+" "+strconv.Itoa(at[i]))
	}
	return out
}

// settled is the view of the kernel right after writing have with the jumps want.
func settled(have map[string][]string, want []jumpSpec) *kernelTables {
	k := &kernelTables{chains: have, jumps: map[string][]int{}, jumpTarget: map[string]string{}}
	for _, j := range want {
		k.jumps[jumpKey(j.Table, j.Builtin)] = []int{1}
		k.jumpTarget[jumpKey(j.Table, j.Builtin)] = j.Chain
	}
	return k
}

// parseSetNames reads `ipset list -n` output and keeps our set names.
func parseSetNames(out string) map[string]bool {
	names := map[string]bool{}
	for _, n := range strings.Fields(out) {
		if ownSetName(n) {
			names[n] = true
		}
	}
	return names
}
