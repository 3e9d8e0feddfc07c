package iptables

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

func quarantinedChains(in, out string, err error) []*Chain {
	r := []Rule{{Target: "-j DROP", Comment: "fail closed: rejected by iptables: " + err.Error()}}
	return []*Chain{{Name: in, Rules: r}, {Name: out, Rules: r}}
}

// restoreError is a rejected iptables-restore run, with the chain of the failing
// line when the error names one.
type restoreError struct {
	fam   Family
	chain string
	err   error
}

func (e *restoreError) Error() string {
	if e.chain != "" {
		return fmt.Sprintf("ip%stables-restore rejected chain %s: %v", map[Family]string{IPv4: "", IPv6: "6"}[e.fam], e.chain, e.err)
	}
	return fmt.Sprintf("ip%stables-restore: %v", map[Family]string{IPv4: "", IPv6: "6"}[e.fam], e.err)
}

func (e *restoreError) Unwrap() error { return e.err }

var (
	lineRe  = regexp.MustCompile(`line:? (\d+)`)
	chainRe = regexp.MustCompile(`rule in chain (\S+)`)
)

// culpritChain finds the chain a restore error points at: iptables-nft names it, both
// name the input line.
func culpritChain(err error, lineChain map[int]string) string {
	msg := err.Error()
	if m := chainRe.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	if m := lineRe.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return lineChain[n]
	}
	return ""
}

// quarantineCulprit puts the policy or profile owning the rejected chain into
// quarantine (programmed as a drop) and reports whether a retry can help.
func (d *Dataplane) quarantineCulprit(err error) bool {
	var re *restoreError
	if !errors.As(err, &re) || re.chain == "" {
		return false
	}
	owners := make([]string, 0, len(d.owner))
	for o := range d.owner {
		owners = append(owners, o)
	}
	sort.Strings(owners)
	for _, o := range owners {
		if !strings.HasPrefix(o, "policy ") && !strings.HasPrefix(o, "profile ") {
			continue
		}
		for _, name := range d.owner[o] {
			if name != re.chain {
				continue
			}
			if _, already := d.state.Quarantine[o]; already {
				return false
			}
			d.state.Quarantine[o] = fmt.Errorf("%s: %w", o, re.err)
			d.markOwnerDirty(o)
			return true
		}
	}
	return false
}

func (d *Dataplane) markOwnerDirty(owner string) {
	for id := range d.state.Policies {
		if policyOwner(id) == owner {
			d.state.Dirty.Policies[id] = true
		}
	}
	for id := range d.state.Profiles {
		if profileOwner(id) == owner {
			d.state.Dirty.Profiles[id] = true
		}
	}
}
