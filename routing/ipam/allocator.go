package ipam

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"time"

	v3 "github.com/palisadenet/palisade/api/v3"
	"go.uber.org/zap"
)

// Keys of AssignArgs.Attrs (stored in the block's attribute as "secondary" data).
const (
	AttrNamespace = "namespace"
	AttrPod       = "pod"
	AttrNode      = "node"
)

// maxAddressesPerRequest bounds Num4/Num6 so a typo cannot drain a pool.
const maxAddressesPerRequest = 256

// Options tune an Allocator. The zero value is Calico's default behaviour.
type Options struct {
	// StrictAffinity forbids borrowing addresses from blocks affine to other nodes (and
	// marks the blocks this allocator claims as strict, so others do not borrow either).
	StrictAffinity bool
	// Now is the clock (affinity claim times); default time.Now.
	Now func() time.Time
	// MaxRetries bounds compare-and-swap retries per object; default 100.
	MaxRetries int
	// ConfigTTL lets a long-lived allocator reuse the pools and reservations it read
	// for this long (two requests fewer per Assign). Zero, the default, reads them for
	// every request, so a pool disabled a moment ago gives nothing more.
	ConfigTTL time.Duration
}

// Allocator assigns and releases addresses. It keeps no state of its own between calls:
// everything is read from and written to the Store, so any number of allocators (one
// per process, per node) may share one Store. Safe for concurrent use.
type Allocator struct {
	store Store
	log   *zap.Logger
	opts  Options
	cache *allocatorCache
}

// New returns an Allocator over store with default Options.
func New(store Store, log *zap.Logger) *Allocator { return NewWithOptions(store, log, Options{}) }

// NewWithOptions returns an Allocator over store.
func NewWithOptions(store Store, log *zap.Logger, opts Options) *Allocator {
	if log == nil {
		log = zap.NewNop()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxRetries <= 0 {
		opts.MaxRetries = 100
	}
	return &Allocator{store: store, log: log, opts: opts, cache: newAllocatorCache()}
}

// AssignArgs is one request for addresses.
type AssignArgs struct {
	Handle string // e.g. "k8s-pod-network.<containerID>"
	Node   string
	// Num4 and Num6 addresses are auto-assigned (each at most 256).
	Num4, Num6 int
	// Pools4 and Pools6 name pools (by name or CIDR) to take from, in preference order;
	// empty = every enabled pool of the family whose nodeSelector selects Node.
	Pools4, Pools6 []string
	// Fixed addresses (cni.projectcalico.org/ipAddrs). When set, exactly these are
	// assigned and Num4/Num6 are ignored, as Calico does for the annotation.
	Fixed []netip.Addr
	// Attrs are stored with the allocation: AttrNamespace, AttrPod, AttrNode.
	Attrs map[string]string
	// NodeLabels are matched against pools' nodeSelector.
	NodeLabels map[string]string
	// Use is the intended use (pools' allowedUses); default Workload.
	Use v3.IPPoolAllowedUse
}

// Assignment is one assigned address.
type Assignment struct {
	Addr  netip.Prefix // host prefix: /32 or /128
	Pool  string       // IPPool name
	Block netip.Prefix
}

func (args *AssignArgs) check() error {
	switch {
	case args.Handle == "":
		return errors.New("no handle given")
	case args.Node == "":
		return errors.New("no node given")
	case args.Num4 < 0 || args.Num6 < 0 || args.Num4 > maxAddressesPerRequest || args.Num6 > maxAddressesPerRequest:
		return fmt.Errorf("asked for %d IPv4 and %d IPv6 addresses; each must be 0-%d", args.Num4, args.Num6, maxAddressesPerRequest)
	case len(args.Fixed) == 0 && args.Num4 == 0 && args.Num6 == 0:
		return errors.New("asked for no address (Num4, Num6 and Fixed all empty)")
	}
	seen := map[netip.Addr]bool{}
	for _, a := range args.Fixed {
		if !a.IsValid() || a.Zone() != "" {
			return fmt.Errorf("fixed address %q is not a plain IPv4 or IPv6 address", a)
		}
		if seen[a.Unmap()] {
			return fmt.Errorf("fixed address %s given twice", a)
		}
		seen[a.Unmap()] = true
	}
	return nil
}

// config is the pool and reservation view one request works with.
type config struct {
	pools      []Pool
	reserved   []netip.Prefix
	isReserved reservedFunc
}

// loadConfig reads pools and reservations, or reuses the last read while it is younger
// than Options.ConfigTTL.
func (a *Allocator) loadConfig(ctx context.Context) (config, error) {
	now := a.opts.Now()
	if a.opts.ConfigTTL > 0 {
		if cfg, ok := a.cache.cachedConfig(now, a.opts.ConfigTTL); ok {
			return cfg, nil
		}
	}
	cfg, err := a.readConfig(ctx)
	if err == nil && a.opts.ConfigTTL > 0 {
		a.cache.setConfig(cfg, now)
	}
	return cfg, err
}

// readConfig reads pools and reservations in parallel: they are two round trips on
// every CNI ADD.
func (a *Allocator) readConfig(ctx context.Context) (config, error) {
	var rawRes []v3.IPReservation
	var resErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		rawRes, resErr = a.store.Reservations(ctx)
	}()
	rawPools, err := a.store.Pools(ctx)
	<-done
	if err != nil {
		return config{}, fmt.Errorf("listing IP pools: %w", err)
	}
	if resErr != nil {
		return config{}, fmt.Errorf("listing IP reservations: %w", resErr)
	}
	pools, perrs := parsePools(rawPools)
	for _, err := range perrs {
		a.log.Warn("ignoring invalid IP pool", zap.Error(err))
	}
	res, rerrs := parseReservations(rawRes)
	for _, err := range rerrs {
		a.log.Warn("ignoring invalid IP reservation entry", zap.Error(err))
	}
	return config{pools: pools, reserved: res, isReserved: reservedBy(res)}, nil
}

// request is the state of one Assign call: what was registered in the handle and what
// was actually allocated, per block, so the handle can be corrected at the end.
type request struct {
	args       AssignArgs
	cfg        config
	attr       v3.AllocationAttribute
	registered map[netip.Prefix]int
	allocated  map[netip.Prefix]int
	out        []Assignment
}

// Assign hands out addresses for args.Handle on args.Node. It either returns every
// address asked for or none: on error, what it had taken is released again.
func (a *Allocator) Assign(ctx context.Context, args AssignArgs) ([]Assignment, error) {
	if err := args.check(); err != nil {
		return nil, fmt.Errorf("assign: %w", err)
	}
	if args.Use == "" {
		args.Use = v3.AllowedUseWorkload
	}
	cfg, err := a.loadConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("assign: %w", err)
	}
	defer a.cache.lockNode(args.Node)()
	req := &request{args: args, cfg: cfg, attr: attributeFor(args),
		registered: map[netip.Prefix]int{}, allocated: map[netip.Prefix]int{}}
	if len(args.Fixed) > 0 {
		err = a.assignFixed(ctx, req)
	} else {
		err = a.assignFamily(ctx, req, 4, args.Num4, args.Pools4)
		if err == nil {
			err = a.assignFamily(ctx, req, 6, args.Num6, args.Pools6)
		}
	}
	if err != nil {
		a.undo(ctx, req)
		return nil, fmt.Errorf("assigning addresses to %s on node %s: %w", args.Handle, args.Node, err)
	}
	if err := a.settleHandle(ctx, req); err != nil {
		a.log.Warn("handle count not corrected (harmless: release re-checks the blocks)", zap.String("handle", args.Handle), zap.Error(err))
	}
	return req.out, nil
}

func attributeFor(args AssignArgs) v3.AllocationAttribute {
	secondary := maps.Clone(args.Attrs)
	if secondary == nil {
		secondary = map[string]string{}
	}
	if secondary[AttrNode] == "" {
		secondary[AttrNode] = args.Node
	}
	handle := args.Handle
	return v3.AllocationAttribute{HandleID: &handle, Secondary: secondary}
}

// assignFamily auto-assigns n addresses of one family: first from the node's affine
// blocks, then from newly claimed blocks, then (unless strict) borrowed from others.
func (a *Allocator) assignFamily(ctx context.Context, req *request, family, n int, requested []string) error {
	if n == 0 {
		return nil
	}
	pools, err := choosePools(req.cfg.pools, poolRequest{family: family, requested: requested,
		nodeLabels: req.args.NodeLabels, use: req.args.Use})
	if err != nil {
		return err
	}
	need := n
	// First the blocks this allocator knows the node holds, skipping those its cache
	// says are full; when that is not enough, list the affinities again (another
	// process may have claimed blocks for the node) and read every block afresh (one
	// may have been emptied) before claiming a new one. The second pass runs about
	// once per filled block, so the hot path reads no full block.
	for _, fresh := range []bool{false, true} {
		affine, err := a.affineBlocks(ctx, req.args.Node, pools, fresh)
		if err != nil {
			return err
		}
		for _, blk := range affine {
			if need == 0 {
				break
			}
			got, err := a.takeFromBlock(ctx, req, blk, need, pools, ownedBy(req.args.Node), !fresh)
			if err != nil {
				return err
			}
			need -= got
		}
		if need == 0 {
			break
		}
	}
	for need > 0 {
		blk, ok, err := a.claimNewBlock(ctx, req, pools)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		got, err := a.takeFromBlock(ctx, req, blk, need, pools, ownedBy(req.args.Node), false)
		if err != nil {
			return err
		}
		need -= got
	}
	if need > 0 && !a.opts.StrictAffinity {
		got, err := a.borrow(ctx, req, pools, need)
		if err != nil {
			return err
		}
		need -= got
	}
	if need > 0 {
		return fmt.Errorf("%w: %d of %d IPv%d addresses free in pools %s (strict affinity %t)",
			ErrExhausted, n-need, n, family, poolNames(pools), a.opts.StrictAffinity)
	}
	return nil
}

// blockFilter decides whether a request may take addresses from a block.
type blockFilter func(b *v3.IPAMBlock) bool

func ownedBy(node string) blockFilter {
	return func(b *v3.IPAMBlock) bool { return blockNode(b) == node }
}

func borrowable(node string) blockFilter {
	return func(b *v3.IPAMBlock) bool { return !b.Spec.StrictAffinity || blockNode(b) == node }
}

// takeFromBlock allocates up to want addresses from block cidr with compare-and-swap,
// re-reading on conflict. It returns how many it took. With trustFull, a cached copy
// saying the block has nothing for this request is believed; otherwise that is
// confirmed on a fresh read.
func (a *Allocator) takeFromBlock(ctx context.Context, req *request, cidr netip.Prefix, want int, pools []Pool, ok blockFilter, trustFull bool) (int, error) {
	name := BlockName(cidr)
	took := 0
	err := a.retry(ctx, "allocating from block "+cidr.String(), func() error {
		b, cached, err := a.readBlock(ctx, name)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := parseBlock(b); err != nil {
			a.log.Warn("skipping invalid block", zap.Error(err))
			a.cache.forgetBlock(name)
			return nil
		}
		k := 0
		if !b.Spec.Deleted && ok(b) {
			k = min(want, freeCount(b, cidr, req.cfg.isReserved))
		}
		if k == 0 {
			if cached && !trustFull {
				a.cache.forgetBlock(name)
				return ErrConflict
			}
			return nil
		}
		if err := a.register(ctx, req, cidr, k); err != nil {
			return err
		}
		ords := allocate(b, cidr, k, req.attr, req.cfg.isReserved)
		if err := a.writeBlock(ctx, b); err != nil {
			return err
		}
		took = len(ords)
		req.allocated[cidr] += took
		pool, _ := poolFor(pools, cidr.Addr())
		for _, ord := range ords {
			addr := addrAt(cidr, ord)
			req.out = append(req.out, Assignment{Addr: netip.PrefixFrom(addr, addr.BitLen()), Pool: pool.Name, Block: cidr})
		}
		return nil
	})
	return took, err
}

// register records in the handle, before the block is written, that the handle will
// hold k more addresses of cidr. Written first, the handle always lists at least the
// blocks holding its addresses, even when the process dies between the two writes; an
// over-count is corrected at the end of the request and is harmless meanwhile.
func (a *Allocator) register(ctx context.Context, req *request, cidr netip.Prefix, k int) error {
	more := req.allocated[cidr] + k - req.registered[cidr]
	if more <= 0 {
		return nil
	}
	if err := a.adjustHandle(ctx, req.args.Handle, map[string]int{cidr.String(): more}); err != nil {
		return err
	}
	req.registered[cidr] += more
	return nil
}

// settleHandle removes over-registration left by lost compare-and-swaps.
func (a *Allocator) settleHandle(ctx context.Context, req *request) error {
	delta := map[string]int{}
	for cidr, reg := range req.registered {
		if extra := reg - req.allocated[cidr]; extra > 0 {
			delta[cidr.String()] = -extra
		}
	}
	if len(delta) == 0 {
		return nil
	}
	return a.adjustHandle(ctx, req.args.Handle, delta)
}

// undo releases what a failed request took and its handle registrations.
func (a *Allocator) undo(ctx context.Context, req *request) {
	for _, as := range req.out {
		if err := a.releaseAddr(ctx, as.Addr.Addr(), req.args.Handle, req.cfg.pools); err != nil {
			a.log.Error("could not undo a partial assignment; Check will report it", zap.Stringer("addr", as.Addr), zap.Error(err))
		}
	}
	delta := map[string]int{}
	for cidr, reg := range req.registered {
		delta[cidr.String()] = -(reg - req.allocated[cidr])
	}
	if err := a.adjustHandle(ctx, req.args.Handle, delta); err != nil {
		a.log.Warn("handle count not corrected after a failed assignment", zap.String("handle", req.args.Handle), zap.Error(err))
	}
}

// retry runs fn until it returns something other than ErrConflict, at most MaxRetries
// times, backing off briefly once conflicts repeat.
func (a *Allocator) retry(ctx context.Context, what string, fn func() error) error {
	for attempt := 0; attempt < a.opts.MaxRetries; attempt++ {
		err := fn()
		if !errors.Is(err, ErrConflict) {
			return err
		}
		if attempt >= 3 {
			backoff := time.Duration(attempt) * time.Millisecond
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s: %w", what, ctx.Err())
			case <-time.After(backoff):
			}
		}
	}
	return fmt.Errorf("%s: still conflicting after %d attempts: %w", what, a.opts.MaxRetries, ErrConflict)
}
