package iptables

import (
	"regexp"
	"strconv"
	"strings"
)

// kernelFilter is what iptables-save shows of the filter table, as far as it concerns
// us: our chains with their rules' hashes, and where our jumps sit in the built-ins.
type kernelFilter struct {
	// chains maps every cali- chain to its rules' hashes ("" for a rule without our
	// comment, so a foreign rule makes the chain differ).
	chains map[string][]string
	// jumps maps each built-in chain to the 1-based positions of rules carrying our
	// jump comment, and jumpTarget to where the first of them jumps.
	jumps      map[string][]int
	jumpTarget map[string]string
}

var (
	hashRe       = regexp.MustCompile(`palisade:([0-9a-f]{16})\b`)
	jumpTargetRe = regexp.MustCompile(`-j (\S+)`)
)

// parseFilterSave reads the *filter section of iptables-save output.
func parseFilterSave(out string) *kernelFilter {
	k := &kernelFilter{chains: map[string][]string{}, jumps: map[string][]int{}, jumpTarget: map[string]string{}}
	inFilter := false
	pos := map[string]int{}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "*"):
			inFilter = line == "*filter"
			continue
		case !inFilter || line == "" || line[0] == '#':
			continue
		case line[0] == ':':
			if name := strings.Fields(line[1:])[0]; strings.HasPrefix(name, ChainPrefix) {
				k.chains[name] = []string{}
			}
			continue
		case !strings.HasPrefix(line, "-A "):
			continue
		}
		fields := strings.SplitN(line[3:], " ", 2)
		chain := fields[0]
		pos[chain]++
		if strings.HasPrefix(chain, ChainPrefix) {
			h := ""
			if m := hashRe.FindStringSubmatch(line); m != nil {
				h = m[1]
			}
			k.chains[chain] = append(k.chains[chain], h)
			continue
		}
		if strings.Contains(line, JumpComment) {
			if len(k.jumps[chain]) == 0 {
				if m := jumpTargetRe.FindStringSubmatch(line); m != nil {
					k.jumpTarget[chain] = m[1]
				}
			}
			k.jumps[chain] = append(k.jumps[chain], pos[chain])
		}
	}
	return k
}

// jumpFixes returns the restore lines that leave exactly our jump at position 1 of
// each built-in chain (deleting strays from the bottom up so positions stay valid),
// or nothing when they are in place.
func (k *kernelFilter) jumpFixes() []string {
	var lines []string
	for _, j := range builtinJumps {
		at := k.jumps[j.Builtin]
		if len(at) == 1 && at[0] == 1 && k.jumpTarget[j.Builtin] == j.Chain {
			continue
		}
		for i := len(at) - 1; i >= 0; i-- {
			lines = append(lines, "-D "+j.Builtin+" "+strconv.Itoa(at[i]))
		}
		lines = append(lines, jumpRule(j.Builtin, j.Chain))
	}
	return lines
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
