package iptables

import (
	"fmt"
	"slices"
	"strings"

	"github.com/palisadenet/palisade/dataplane/desired"
)

// parseSetSave reads `ipset save` output and keeps our live sets: their names and
// their entries, normalised to the text RenderSet writes and sorted. (ipset prints a
// host entry of a hash:net set without its /32 or /128.)
func parseSetSave(out string) (names map[string]bool, entries map[string][]string) {
	names, entries = map[string]bool{}, map[string][]string{}
	for line := range strings.Lines(out) {
		verb, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		name, rest, _ := strings.Cut(rest, " ")
		if !ownSetName(name) {
			continue
		}
		switch verb {
		case "create":
			names[name] = true
			if _, ok := entries[name]; !ok {
				entries[name] = []string{}
			}
		case "add":
			entry, _, _ := strings.Cut(strings.TrimSpace(rest), " ") // options (timeout, comment) follow
			entries[name] = append(entries[name], normalizeEntry(entry))
		}
	}
	for _, e := range entries {
		slices.Sort(e)
	}
	return names, entries
}

// normalizeEntry gives a kernel entry RenderSet's form: a host entry of a hash:net
// set gets its /32 or /128 back; nets and named-port entries are printed (canonical,
// masked) as we write them.
func normalizeEntry(e string) string {
	if strings.ContainsAny(e, ",/") {
		return e
	}
	if strings.Contains(e, ":") {
		return e + "/128"
	}
	return e + "/32"
}

// staleSets compares each desired set with the kernel (kv read with members): the
// IDs of sets missing in either family or whose entries differ, and a description
// of the first difference ("" when none).
func (d *Dataplane) staleSets(kv *kernelView) (ids []string, why string) {
	for _, id := range desired.SortedKeys(d.state.Sets) {
		for _, s := range RenderSet(d.state.Sets[id].ToIPSet(id)) {
			var problem string
			switch have, ok := kv.members[s.Name]; {
			case !kv.sets[s.Name]:
				problem = "ipset " + s.Name + " missing"
			case kv.members != nil && ok && !slices.Equal(have, s.Entries):
				problem = fmt.Sprintf("ipset %s has %d entries, %s", s.Name, len(have), firstSetDifference(have, s.Entries))
			default:
				continue
			}
			if why == "" {
				why = problem
			}
			ids = append(ids, id)
			break
		}
	}
	return ids, why
}

// firstSetDifference names one entry that is missing or extra (both sorted).
func firstSetDifference(have, want []string) string {
	i, j := 0, 0
	for i < len(have) && j < len(want) && have[i] == want[j] {
		i, j = i+1, j+1
	}
	switch {
	case j < len(want) && (i == len(have) || want[j] < have[i]):
		return "lacks " + want[j]
	case i < len(have):
		return "has stray " + have[i]
	}
	return "differs"
}
