package ipam

import (
	"context"
	"net/netip"
	"sync"
	"time"

	v3 "github.com/palisadenet/palisade/api/v3"
)

// allocatorCache remembers what this allocator last read or wrote, to spare requests
// on the hot path. It is only ever a first guess: a write made from a cached block
// carries the cached resourceVersion, so a stale entry costs one conflict and a
// re-read, never a wrong allocation; and "nothing to do here" is never decided from a
// cached copy (see takeFromBlock).
type allocatorCache struct {
	mu         sync.Mutex
	nodeLocks  map[string]*sync.Mutex
	affine     map[string][]netip.Prefix // node → its affine blocks, as last listed
	blocks     map[string]*v3.IPAMBlock  // block name → last copy seen
	config     config                    // pools and reservations (Options.ConfigTTL)
	configRead time.Time
}

func newAllocatorCache() *allocatorCache {
	return &allocatorCache{nodeLocks: map[string]*sync.Mutex{}, affine: map[string][]netip.Prefix{},
		blocks: map[string]*v3.IPAMBlock{}}
}

// lockNode serialises this allocator's requests for one node, as Calico's CNI plugin
// does with its host-wide IPAM lock: requests of one node would otherwise fight over
// the same block and mostly produce conflicts.
func (c *allocatorCache) lockNode(node string) func() {
	c.mu.Lock()
	l := c.nodeLocks[node]
	if l == nil {
		l = &sync.Mutex{}
		c.nodeLocks[node] = l
	}
	c.mu.Unlock()
	l.Lock()
	return l.Unlock
}

func (c *allocatorCache) cachedConfig(now time.Time, ttl time.Duration) (config, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.configRead.IsZero() || now.Sub(c.configRead) >= ttl || now.Before(c.configRead) {
		return config{}, false
	}
	return c.config, true
}

func (c *allocatorCache) setConfig(cfg config, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.config, c.configRead = cfg, at
}

func (c *allocatorCache) affineOf(node string) ([]netip.Prefix, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cidrs, ok := c.affine[node]
	return cidrs, ok
}

func (c *allocatorCache) setAffine(node string, cidrs []netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.affine[node] = cidrs
}

func (c *allocatorCache) addAffine(node string, cidr netip.Prefix) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cidrs, ok := c.affine[node]; ok {
		c.affine[node] = append(cidrs[:len(cidrs):len(cidrs)], cidr)
	}
}

func (c *allocatorCache) block(name string) *v3.IPAMBlock {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.blocks[name]; b != nil {
		return b.DeepCopy()
	}
	return nil
}

func (c *allocatorCache) rememberBlock(b *v3.IPAMBlock) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blocks[b.Name] = b
}

func (c *allocatorCache) forgetBlock(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.blocks, name)
}

// readBlock returns a block from the cache (cached=true) or the store.
func (a *Allocator) readBlock(ctx context.Context, name string) (b *v3.IPAMBlock, cached bool, err error) {
	if b := a.cache.block(name); b != nil {
		return b, true, nil
	}
	b, err = a.store.Blocks().Get(ctx, name)
	if err == nil {
		a.cache.rememberBlock(b.DeepCopy())
	}
	return b, false, err
}

// writeBlock updates b with compare-and-swap and keeps the cache in step.
func (a *Allocator) writeBlock(ctx context.Context, b *v3.IPAMBlock) error {
	out, err := a.store.Blocks().Update(ctx, b)
	if err != nil {
		a.cache.forgetBlock(b.Name)
		return err
	}
	a.cache.rememberBlock(out)
	return nil
}
