package policy

import (
	"cmp"
	"slices"
)

// compareOrder orders two optional orders: lower first, nil after every number.
func compareOrder(a, b *float64) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	return cmp.Compare(*a, *b)
}

// SortTiers sorts tiers into evaluation order: by order (nil last), ties by name.
func SortTiers(tiers []Tier) {
	slices.SortStableFunc(tiers, func(a, b Tier) int {
		if c := compareOrder(a.Order, b.Order); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
}

// ComparePolicies orders two policies of the same tier: by order (nil last), ties by
// Key ("namespace/name" or "name").
func ComparePolicies(a, b *Policy) int {
	if c := compareOrder(a.Order, b.Order); c != 0 {
		return c
	}
	return cmp.Compare(a.Key(), b.Key())
}

// SortPolicies sorts policies into evaluation order: by the position of their tier
// in tiers (as sorted by SortTiers; a tier missing from tiers sorts after the known
// ones, by name), then by ComparePolicies.
func SortPolicies(policies []*Policy, tiers []Tier) {
	sorted := slices.Clone(tiers)
	SortTiers(sorted)
	pos := make(map[string]int, len(sorted))
	for i, t := range sorted {
		pos[t.Name] = i
	}
	tierRank := func(name string) (int, string) {
		if i, ok := pos[name]; ok {
			return i, ""
		}
		return len(sorted), name
	}
	slices.SortStableFunc(policies, func(a, b *Policy) int {
		ra, na := tierRank(a.Tier)
		rb, nb := tierRank(b.Tier)
		if c := cmp.Compare(ra, rb); c != 0 {
			return c
		}
		if c := cmp.Compare(na, nb); c != 0 {
			return c
		}
		return ComparePolicies(a, b)
	})
}
