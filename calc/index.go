package calc

import (
	"github.com/palisadenet/palisade/policy/selector"
)

// labelIndex keeps the exact match relation between labelled items and selectors,
// and calls onMatch / onUnmatch when a pair starts or stops matching. It avoids
// O(items x selectors) work:
//
//   - A selector with a top-level conjunct `key == "value"` (requiredEquality) is
//     bucketed under that pair; only items carrying the pair can match it. Other
//     selectors are unbucketed and are checked against every item that changes.
//   - Items are indexed by value for every key some bucket uses, so a new selector
//     looks only at the items of its bucket.
//   - An item whose labels change is re-checked only against the selectors it
//     matched before and the candidates of its new labels.
//
// Callbacks must not modify the index they are called from.
type labelIndex[I comparable, S comparable] struct {
	items      map[I]*indexedItem[S]
	sels       map[S]*indexedSel[I]
	buckets    map[labelPair]map[S]struct{}
	unbucketed map[S]struct{}
	// byKey[key][value] lists items carrying key=value, for keys in keyRefs.
	byKey   map[string]map[string]map[I]struct{}
	keyRefs map[string]int

	onMatch, onUnmatch func(S, I)
	// evaluations counts selector evaluations, for tests that pin the work an
	// event does.
	evaluations int
}

type labelPair struct{ key, value string }

type indexedItem[S comparable] struct {
	labels map[string]string
	sels   map[S]struct{} // selectors this item matches
}

type indexedSel[I comparable] struct {
	sel      *selector.Selector
	bucket   labelPair
	bucketed bool
	members  map[I]struct{}
}

func newLabelIndex[I comparable, S comparable](onMatch, onUnmatch func(S, I)) *labelIndex[I, S] {
	return &labelIndex[I, S]{
		items:      map[I]*indexedItem[S]{},
		sels:       map[S]*indexedSel[I]{},
		buckets:    map[labelPair]map[S]struct{}{},
		unbucketed: map[S]struct{}{},
		byKey:      map[string]map[string]map[I]struct{}{},
		keyRefs:    map[string]int{},
		onMatch:    onMatch,
		onUnmatch:  onUnmatch,
	}
}

// members returns the items matching selector s (nil when s is unknown). The caller
// must not modify the map.
func (x *labelIndex[I, S]) members(s S) map[I]struct{} {
	if is, ok := x.sels[s]; ok {
		return is.members
	}
	return nil
}

// matching returns the selectors item i matches. The caller must not modify the map.
func (x *labelIndex[I, S]) matching(i I) map[S]struct{} {
	if it, ok := x.items[i]; ok {
		return it.sels
	}
	return nil
}

// updateItem adds item i or replaces its labels. labels must not be modified later.
func (x *labelIndex[I, S]) updateItem(i I, labels map[string]string) {
	it, ok := x.items[i]
	if !ok {
		it = &indexedItem[S]{labels: labels}
		x.items[i] = it
		x.indexItem(i, labels)
		x.forCandidates(labels, func(s S, is *indexedSel[I]) {
			if x.eval(is.sel, labels) {
				x.link(s, is, i, it)
			}
		})
		return
	}
	old := it.labels
	x.reindexItem(i, old, labels)
	it.labels = labels
	for s := range it.sels {
		is := x.sels[s]
		if !x.eval(is.sel, labels) {
			x.unlink(s, is, i, it)
		}
	}
	x.forCandidates(labels, func(s S, is *indexedSel[I]) {
		if _, member := it.sels[s]; !member && x.eval(is.sel, labels) {
			x.link(s, is, i, it)
		}
	})
}

// removeItem removes item i and every match it had.
func (x *labelIndex[I, S]) removeItem(i I) {
	it, ok := x.items[i]
	if !ok {
		return
	}
	for s := range it.sels {
		x.unlink(s, x.sels[s], i, it)
	}
	x.reindexItem(i, it.labels, nil)
	delete(x.items, i)
}

// addSelector adds selector s (which must be new) and matches it against the items.
func (x *labelIndex[I, S]) addSelector(s S, sel *selector.Selector) {
	is := &indexedSel[I]{sel: sel, members: map[I]struct{}{}}
	x.sels[s] = is
	if key, value, ok := requiredEquality(sel); ok {
		is.bucket, is.bucketed = labelPair{key, value}, true
		bucket := x.buckets[is.bucket]
		if bucket == nil {
			bucket = map[S]struct{}{}
			x.buckets[is.bucket] = bucket
		}
		bucket[s] = struct{}{}
		x.refKey(key)
		for i := range x.byKey[key][value] {
			if it := x.items[i]; x.eval(sel, it.labels) {
				x.link(s, is, i, it)
			}
		}
		return
	}
	x.unbucketed[s] = struct{}{}
	for i, it := range x.items {
		if x.eval(sel, it.labels) {
			x.link(s, is, i, it)
		}
	}
}

// removeSelector removes selector s and every match it had.
func (x *labelIndex[I, S]) removeSelector(s S) {
	is, ok := x.sels[s]
	if !ok {
		return
	}
	for i := range is.members {
		x.unlink(s, is, i, x.items[i])
	}
	if is.bucketed {
		bucket := x.buckets[is.bucket]
		delete(bucket, s)
		if len(bucket) == 0 {
			delete(x.buckets, is.bucket)
		}
		x.unrefKey(is.bucket.key)
	} else {
		delete(x.unbucketed, s)
	}
	delete(x.sels, s)
}

func (x *labelIndex[I, S]) link(s S, is *indexedSel[I], i I, it *indexedItem[S]) {
	is.members[i] = struct{}{}
	if it.sels == nil {
		it.sels = map[S]struct{}{}
	}
	it.sels[s] = struct{}{}
	x.onMatch(s, i)
}

func (x *labelIndex[I, S]) unlink(s S, is *indexedSel[I], i I, it *indexedItem[S]) {
	delete(is.members, i)
	delete(it.sels, s)
	x.onUnmatch(s, i)
}

// forCandidates calls f for every selector that could match labels.
func (x *labelIndex[I, S]) forCandidates(labels map[string]string, f func(S, *indexedSel[I])) {
	for s := range x.unbucketed {
		f(s, x.sels[s])
	}
	if len(x.buckets) == 0 {
		return
	}
	for k, v := range labels {
		for s := range x.buckets[labelPair{k, v}] {
			f(s, x.sels[s])
		}
	}
}

// refKey starts (or keeps) indexing items by key; the first reference scans every
// item once.
func (x *labelIndex[I, S]) refKey(key string) {
	x.keyRefs[key]++
	if x.keyRefs[key] > 1 {
		return
	}
	byValue := map[string]map[I]struct{}{}
	for i, it := range x.items {
		if v, ok := it.labels[key]; ok {
			addToValue(byValue, v, i)
		}
	}
	x.byKey[key] = byValue
}

func (x *labelIndex[I, S]) unrefKey(key string) {
	x.keyRefs[key]--
	if x.keyRefs[key] <= 0 {
		delete(x.keyRefs, key)
		delete(x.byKey, key)
	}
}

func (x *labelIndex[I, S]) indexItem(i I, labels map[string]string) {
	for key, byValue := range x.byKey {
		if v, ok := labels[key]; ok {
			addToValue(byValue, v, i)
		}
	}
}

// reindexItem moves item i between value lists for the indexed keys whose value
// changed from old to new (nil new: remove).
func (x *labelIndex[I, S]) reindexItem(i I, old, new map[string]string) {
	for key, byValue := range x.byKey {
		ov, hadOld := old[key]
		nv, hasNew := new[key]
		if hadOld == hasNew && ov == nv {
			continue
		}
		if hadOld {
			removeFromValue(byValue, ov, i)
		}
		if hasNew {
			addToValue(byValue, nv, i)
		}
	}
}

func addToValue[I comparable](byValue map[string]map[I]struct{}, v string, i I) {
	set := byValue[v]
	if set == nil {
		set = map[I]struct{}{}
		byValue[v] = set
	}
	set[i] = struct{}{}
}

func removeFromValue[I comparable](byValue map[string]map[I]struct{}, v string, i I) {
	set := byValue[v]
	delete(set, i)
	if len(set) == 0 {
		delete(byValue, v)
	}
}

func (x *labelIndex[I, S]) eval(sel *selector.Selector, labels map[string]string) bool {
	x.evaluations++
	return sel.Evaluate(labels)
}
