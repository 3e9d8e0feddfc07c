package selector

import (
	"container/list"
	"sync"
)

// DefaultCacheSize is the capacity NewCache uses when given zero or less.
const DefaultCacheSize = 4096

// Cache maps selector text to parsed selectors, keeping the most recently used
// entries up to a fixed capacity. It is safe for concurrent use. Parse errors
// are not cached. Cached *Selector values are shared and immutable.
type Cache struct {
	mu       sync.Mutex
	capacity int
	entries  map[string]*list.Element // value: *cacheEntry
	order    *list.List               // front = most recently used
}

type cacheEntry struct {
	expr string
	sel  *Selector
}

// NewCache returns a cache holding at most capacity selectors
// (DefaultCacheSize if capacity <= 0).
func NewCache(capacity int) *Cache {
	if capacity <= 0 {
		capacity = DefaultCacheSize
	}
	return &Cache{capacity: capacity, entries: make(map[string]*list.Element), order: list.New()}
}

// Get returns the parsed form of expr, parsing it on a miss.
func (c *Cache) Get(expr string) (*Selector, error) {
	c.mu.Lock()
	if el, ok := c.entries[expr]; ok {
		c.order.MoveToFront(el)
		sel := el.Value.(*cacheEntry).sel
		c.mu.Unlock()
		return sel, nil
	}
	c.mu.Unlock()

	// Parse outside the lock so one slow parse does not block other readers.
	sel, err := Parse(expr)
	if err != nil {
		return nil, err
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[expr]; ok { // another goroutine won the race
		c.order.MoveToFront(el)
		return el.Value.(*cacheEntry).sel, nil
	}
	c.entries[expr] = c.order.PushFront(&cacheEntry{expr: expr, sel: sel})
	for c.order.Len() > c.capacity {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).expr)
	}
	return sel, nil
}

// Len returns the number of cached selectors.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
