package selector

import (
	"fmt"
	"sync"
	"testing"
)

func TestCacheReturnsSharedSelector(t *testing.T) {
	c := NewCache(10)
	a, err := c.Get(`has(a)`)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Get(`has(a)`)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("second Get returned a different *Selector; want the cached one")
	}
	if a.String() != "has(a)" || c.Len() != 1 {
		t.Errorf("cached %q, Len %d; want has(a), 1", a, c.Len())
	}
}

func TestCacheDoesNotCacheErrors(t *testing.T) {
	c := NewCache(10)
	for range 2 {
		if _, err := c.Get(`has(`); err == nil {
			t.Fatal("Get of invalid selector returned no error")
		}
	}
	if c.Len() != 0 {
		t.Errorf("Len = %d after only errors, want 0", c.Len())
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := NewCache(2)
	first, _ := c.Get(`has(a)`)
	c.Get(`has(b)`)
	c.Get(`has(a)`) // a is now most recent, b least
	c.Get(`has(c)`) // evicts b
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want capacity 2", c.Len())
	}
	if again, _ := c.Get(`has(a)`); again != first {
		t.Errorf("recently used has(a) was evicted")
	}
	c.mu.Lock()
	_, bCached := c.entries[`has(b)`]
	c.mu.Unlock()
	if bCached {
		t.Errorf("least recently used has(b) still cached")
	}
}

func TestCacheDefaultCapacity(t *testing.T) {
	if c := NewCache(0); c.capacity != DefaultCacheSize {
		t.Errorf("NewCache(0) capacity %d, want %d", c.capacity, DefaultCacheSize)
	}
}

// TestCacheConcurrent is meaningful under -race.
func TestCacheConcurrent(t *testing.T) {
	c := NewCache(16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				expr := fmt.Sprintf(`k%d == "v"`, (i+g)%32)
				s, err := c.Get(expr)
				if err != nil {
					t.Error(err)
					return
				}
				if !s.Evaluate(map[string]string{fmt.Sprintf("k%d", (i+g)%32): "v"}) {
					t.Errorf("%q did not match its own label", s)
				}
			}
		}()
	}
	wg.Wait()
	if c.Len() > 16 {
		t.Errorf("Len = %d exceeds capacity 16", c.Len())
	}
}
