package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"k8s.io/utils/clock"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/routing/ipam"
)

// Cluster says which pods and nodes exist.
type Cluster interface {
	// Pods returns every pod as "namespace/name".
	Pods(ctx context.Context) (map[string]bool, error)
	Nodes(ctx context.Context) (map[string]bool, error)
	PodExists(ctx context.Context, namespace, name string) (bool, error)
	NodeExists(ctx context.Context, name string) (bool, error)
}

// IPAMState is the part of an ipam.Store the collector reads and writes.
type IPAMState interface {
	Blocks() ipam.Objects[*v3.IPAMBlock]
	Affinities() ipam.Objects[*v3.BlockAffinity]
}

// Releaser frees every address of a handle (ipam.Allocator).
type Releaser interface {
	ReleaseByHandle(ctx context.Context, handle string) error
}

// GCOptions configure a collector.
type GCOptions struct {
	// Grace is how long an owner must have been missing before its addresses are
	// released or its blocks deleted. Must be positive.
	Grace time.Duration
	// Period is the time between scans in Run.
	Period time.Duration
}

// GC is the IPAM garbage collector. Scan and Run must not be called concurrently.
type GC struct {
	state    IPAMState
	releaser Releaser
	cluster  Cluster
	clock    clock.WithTicker
	log      *zap.Logger
	opts     GCOptions
	seen     Sightings

	mu       sync.Mutex
	lastScan time.Time
}

// NewGC builds a collector.
func NewGC(state IPAMState, releaser Releaser, cluster Cluster, clk clock.WithTicker, log *zap.Logger, opts GCOptions) (*GC, error) {
	if opts.Grace <= 0 || opts.Period <= 0 {
		return nil, fmt.Errorf("IPAM GC: grace (%s) and period (%s) must be positive", opts.Grace, opts.Period)
	}
	return &GC{state: state, releaser: releaser, cluster: cluster, clock: clk, log: log, opts: opts, seen: Sightings{}}, nil
}

// Report is what one scan did.
type Report struct {
	Plan Plan
	// Released are the handles released; Spared those whose owner reappeared at
	// the last check.
	Released, Spared                 []HandleRelease
	DeletedBlocks, DeletedAffinities []string
	Errors                           []error
}

// Run scans now and then every Period until ctx ends.
func (g *GC) Run(ctx context.Context) error {
	ticker := g.clock.NewTicker(g.opts.Period)
	defer ticker.Stop()
	for {
		rep, err := g.Scan(ctx)
		if err != nil {
			g.log.Warn("IPAM garbage collection scan failed", zap.Error(err))
		} else {
			g.logReport(rep)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C():
		}
	}
}

// LastScan is when the last scan finished without error (zero before the first).
func (g *GC) LastScan() time.Time {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastScan
}

// Scan reads the IPAM state, then the pods and nodes (in that order; see Inventory),
// plans and executes. An error reading the state aborts the scan before anything is
// decided; errors of single actions are collected in the report.
func (g *GC) Scan(ctx context.Context) (Report, error) {
	var inv Inventory
	var err error
	if inv.Blocks, err = g.state.Blocks().List(ctx); err != nil {
		return Report{}, fmt.Errorf("listing IPAM blocks: %w", err)
	}
	if inv.Affinities, err = g.state.Affinities().List(ctx); err != nil {
		return Report{}, fmt.Errorf("listing block affinities: %w", err)
	}
	if inv.Pods, err = g.cluster.Pods(ctx); err != nil {
		return Report{}, fmt.Errorf("listing pods: %w", err)
	}
	if inv.Nodes, err = g.cluster.Nodes(ctx); err != nil {
		return Report{}, fmt.Errorf("listing nodes: %w", err)
	}
	rep := Report{Plan: PlanGC(inv, g.seen, g.clock.Now(), g.opts.Grace)}
	for _, r := range rep.Plan.Release {
		g.release(ctx, r, &rep)
	}
	for _, d := range rep.Plan.DeleteBlocks {
		g.deleteBlock(ctx, d, &rep)
	}
	for _, a := range rep.Plan.DeleteAffinities {
		g.deleteAffinity(ctx, a, &rep)
	}
	g.mu.Lock()
	g.lastScan = g.clock.Now()
	g.mu.Unlock()
	return rep, nil
}

// stillGone re-checks an owner right before acting on it. An owner found alive is
// forgotten, so its grace period starts over if it goes missing again.
func (g *GC) stillGone(ctx context.Context, o Owner) (bool, error) {
	var exists bool
	var err error
	if ns, name, ok := o.Pod(); ok {
		exists, err = g.cluster.PodExists(ctx, ns, name)
	} else {
		node, _ := o.Node()
		exists, err = g.cluster.NodeExists(ctx, node)
	}
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", o, err)
	}
	if exists {
		delete(g.seen, o)
	}
	return !exists, nil
}

func (g *GC) release(ctx context.Context, r HandleRelease, rep *Report) {
	for _, o := range r.Owners {
		gone, err := g.stillGone(ctx, o)
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Errorf("releasing %s: %w", r.Handle, err))
			return
		}
		if !gone {
			rep.Spared = append(rep.Spared, r)
			return
		}
	}
	if err := g.releaser.ReleaseByHandle(ctx, r.Handle); err != nil {
		rep.Errors = append(rep.Errors, fmt.Errorf("releasing %s: %w", r.Handle, err))
		return
	}
	rep.Released = append(rep.Released, r)
}

// deleteBlock removes an empty block of a gone node as Calico does: its affinities
// are marked pendingDeletion first (allocators stop using the block), then the block
// is deleted only at the version the scan saw empty, then the affinities go. If the
// block changed meanwhile, the affinities are put back.
func (g *GC) deleteBlock(ctx context.Context, d BlockDeletion, rep *Report) {
	fail := func(err error) {
		rep.Errors = append(rep.Errors, fmt.Errorf("deleting block %s of node %s: %w", d.CIDR, d.Node, err))
	}
	if gone, err := g.stillGone(ctx, nodeOwner(d.Node)); err != nil || !gone {
		if err != nil {
			fail(err)
		}
		return
	}
	var marked []*v3.BlockAffinity
	for _, ref := range d.Affinities {
		aff, err := g.setAffinityState(ctx, ref, v3.BlockAffinityPendingDeletion)
		if err != nil {
			g.restoreAffinities(ctx, marked)
			fail(err)
			return
		}
		marked = append(marked, aff)
	}
	err := g.state.Blocks().Delete(ctx, d.Name, d.ResourceVersion)
	if err != nil && !errors.Is(err, ipam.ErrNotFound) {
		g.restoreAffinities(ctx, marked)
		fail(err)
		return
	}
	rep.DeletedBlocks = append(rep.DeletedBlocks, d.CIDR)
	for _, aff := range marked {
		if err := g.state.Affinities().Delete(ctx, aff.Name, aff.ResourceVersion); err != nil && !errors.Is(err, ipam.ErrNotFound) {
			fail(fmt.Errorf("deleting affinity %s: %w", aff.Name, err))
			continue
		}
		rep.DeletedAffinities = append(rep.DeletedAffinities, aff.Name)
	}
}

// setAffinityState updates the affinity at the version the scan read.
func (g *GC) setAffinityState(ctx context.Context, ref AffinityRef, state string) (*v3.BlockAffinity, error) {
	aff, err := g.state.Affinities().Get(ctx, ref.Name)
	if err != nil {
		return nil, fmt.Errorf("reading affinity %s: %w", ref.Name, err)
	}
	if aff.ResourceVersion != ref.ResourceVersion {
		return nil, fmt.Errorf("affinity %s changed since the scan: %w", ref.Name, ipam.ErrConflict)
	}
	aff.Spec.State = state
	updated, err := g.state.Affinities().Update(ctx, aff)
	if err != nil {
		return nil, fmt.Errorf("marking affinity %s %s: %w", ref.Name, state, err)
	}
	return updated, nil
}

func (g *GC) restoreAffinities(ctx context.Context, marked []*v3.BlockAffinity) {
	for _, aff := range marked {
		aff.Spec.State = v3.BlockAffinityConfirmed
		if _, err := g.state.Affinities().Update(ctx, aff); err != nil {
			g.log.Warn("could not restore a block affinity; the node's agent re-claims it", zap.String("affinity", aff.Name), zap.Error(err))
		}
	}
}

func (g *GC) deleteAffinity(ctx context.Context, ref AffinityRef, rep *Report) {
	if gone, err := g.stillGone(ctx, nodeOwner(ref.Node)); err != nil || !gone {
		if err != nil {
			rep.Errors = append(rep.Errors, fmt.Errorf("deleting affinity %s: %w", ref.Name, err))
		}
		return
	}
	err := g.state.Affinities().Delete(ctx, ref.Name, ref.ResourceVersion)
	if err != nil && !errors.Is(err, ipam.ErrNotFound) {
		rep.Errors = append(rep.Errors, fmt.Errorf("deleting affinity %s of node %s: %w", ref.Name, ref.Node, err))
		return
	}
	rep.DeletedAffinities = append(rep.DeletedAffinities, ref.Name)
}

func (g *GC) logReport(rep Report) {
	for _, r := range rep.Released {
		g.log.Info("released addresses of a deleted owner", zap.String("handle", r.Handle),
			zap.Stringers("owners", r.Owners), zap.Stringers("addresses", r.Addrs))
	}
	for _, r := range rep.Spared {
		g.log.Info("owner exists again; addresses kept", zap.String("handle", r.Handle), zap.Stringers("owners", r.Owners))
	}
	for _, b := range rep.DeletedBlocks {
		g.log.Info("deleted empty block of a deleted node", zap.String("block", b))
	}
	for _, k := range rep.Plan.Kept {
		g.log.Warn("block of a deleted node still holds addresses; kept", zap.String("block", k.CIDR),
			zap.String("node", k.Node), zap.Int("inUse", k.InUse), zap.Stringers("owners", k.Owners))
	}
	for _, a := range rep.Plan.Unreleasable {
		g.log.Warn("address of a deleted owner has no handle; release it with palisadectl ipam release",
			zap.Stringer("address", a.Addr), zap.Stringer("owner", a.Owner))
	}
	for _, err := range rep.Errors {
		g.log.Warn("IPAM garbage collection", zap.Error(err))
	}
	g.log.Info("IPAM garbage collection scan", zap.Int("released", len(rep.Released)), zap.Int("waiting", len(rep.Plan.Waiting)),
		zap.Int("deletedBlocks", len(rep.DeletedBlocks)), zap.Int("deletedAffinities", len(rep.DeletedAffinities)),
		zap.Int("keptBlocks", len(rep.Plan.Kept)), zap.Int("errors", len(rep.Errors)))
}

// String makes an Owner a fmt.Stringer for logs.
func (o Owner) String() string { return string(o) }
