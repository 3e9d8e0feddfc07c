package iptables

import (
	"fmt"
	"net/netip"
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
			entries[name] = append(entries[name], normalizeEntry(strings.Fields(rest)[0]))
		}
	}
	for _, e := range entries {
		slices.Sort(e)
	}
	return names, entries
}

// normalizeEntry gives a kernel entry RenderSet's form: a net with its length, a
// named-port entry as printed.
func normalizeEntry(e string) string {
	if strings.Contains(e, ",") {
		return e
	}
	if !strings.Contains(e, "/") {
		if a, err := netip.ParseAddr(e); err == nil {
			return netip.PrefixFrom(a, a.BitLen()).String()
		}
		return e
	}
	if p, err := netip.ParsePrefix(e); err == nil {
		return p.Masked().String()
	}
	return e
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
