package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	v3 "github.com/palisadenet/palisade/api/v3"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ErrNotAllocated: ReleaseIP was given an address nobody holds.
var ErrNotAllocated = errors.New("address not allocated")

// adjustHandle adds delta (block CIDR → count, negative to subtract) to the handle,
// creating it when missing and deleting it when it ends up holding nothing.
func (a *Allocator) adjustHandle(ctx context.Context, handle string, delta map[string]int) error {
	name := HandleName(handle)
	if created, err := a.createHandle(ctx, handle, delta); created || err != nil {
		return err
	}
	return a.retry(ctx, "updating handle "+handle, func() error {
		h, err := a.store.Handles().Get(ctx, name)
		if errors.Is(err, ErrNotFound) {
			h = &v3.IPAMHandle{
				TypeMeta:   metav1.TypeMeta{APIVersion: v3.SchemeGroupVersion.String(), Kind: v3.KindIPAMHandle},
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec:       v3.IPAMHandleSpec{HandleID: handle, Block: map[string]int{}},
			}
		} else if err != nil {
			return err
		}
		if h.Spec.Block == nil {
			h.Spec.Block = map[string]int{}
		}
		changed := false
		for cidr, d := range delta {
			if d == 0 {
				continue
			}
			n := h.Spec.Block[cidr] + d
			if n > 0 {
				h.Spec.Block[cidr] = n
			} else {
				delete(h.Spec.Block, cidr)
			}
			changed = true
		}
		switch {
		case !changed:
			return nil
		case h.ResourceVersion == "" && len(h.Spec.Block) == 0:
			return nil
		case h.ResourceVersion == "":
			_, err = a.store.Handles().Create(ctx, h)
		case len(h.Spec.Block) == 0:
			err = a.store.Handles().Delete(ctx, name, h.ResourceVersion)
			if errors.Is(err, ErrNotFound) {
				err = nil
			}
		default:
			_, err = a.store.Handles().Update(ctx, h)
		}
		return err
	})
}

// createHandle tries the common case first: a new handle gaining addresses, one
// request. created is false when the handle exists (or delta is not all gains).
func (a *Allocator) createHandle(ctx context.Context, handle string, delta map[string]int) (created bool, err error) {
	blocks := map[string]int{}
	for cidr, d := range delta {
		if d < 0 {
			return false, nil
		}
		if d > 0 {
			blocks[cidr] = d
		}
	}
	if len(blocks) == 0 {
		return false, nil
	}
	h := &v3.IPAMHandle{
		TypeMeta:   metav1.TypeMeta{APIVersion: v3.SchemeGroupVersion.String(), Kind: v3.KindIPAMHandle},
		ObjectMeta: metav1.ObjectMeta{Name: HandleName(handle)},
		Spec:       v3.IPAMHandleSpec{HandleID: handle, Block: blocks},
	}
	_, err = a.store.Handles().Create(ctx, h)
	if errors.Is(err, ErrConflict) {
		return false, nil
	}
	return err == nil, err
}

// ReleaseByHandle frees every address held by handle and deletes the handle. An
// unknown handle is not an error (CNI DEL must be idempotent). When the handle object is
// missing, the blocks are searched for the handle, so allocations whose handle record
// was lost are still found.
func (a *Allocator) ReleaseByHandle(ctx context.Context, handle string) error {
	if handle == "" {
		return errors.New("release: no handle given")
	}
	name := HandleName(handle)
	return a.retry(ctx, "releasing handle "+handle, func() error {
		h, err := a.store.Handles().Get(ctx, name)
		if errors.Is(err, ErrNotFound) {
			return a.releaseHandleEverywhere(ctx, handle)
		}
		if err != nil {
			return fmt.Errorf("reading handle %s: %w", handle, err)
		}
		for cidrText := range h.Spec.Block {
			cidr, err := netip.ParsePrefix(cidrText)
			if err != nil {
				a.log.Warn("handle lists an invalid block", zap.String("handle", handle), zap.String("block", cidrText))
				continue
			}
			if _, err := a.releaseHandleInBlock(ctx, handle, cidr); err != nil {
				return err
			}
		}
		err = a.store.Handles().Delete(ctx, name, h.ResourceVersion)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err // ErrConflict: the handle grew meanwhile; go round again
	})
}

// releaseHandleEverywhere scans all blocks for handle (the slow path).
func (a *Allocator) releaseHandleEverywhere(ctx context.Context, handle string) error {
	blocks, err := a.store.Blocks().List(ctx)
	if err != nil {
		return fmt.Errorf("listing blocks: %w", err)
	}
	for _, b := range blocks {
		cidr, err := parseBlock(b)
		if err != nil || len(ordinalsOfHandle(b, handle)) == 0 {
			continue
		}
		if _, err := a.releaseHandleInBlock(ctx, handle, cidr); err != nil {
			return err
		}
	}
	return nil
}

// releaseHandleInBlock frees the handle's ordinals in one block.
func (a *Allocator) releaseHandleInBlock(ctx context.Context, handle string, cidr netip.Prefix) (int, error) {
	freed := 0
	err := a.retry(ctx, "releasing "+handle+" in block "+cidr.String(), func() error {
		b, cached, err := a.readBlock(ctx, BlockName(cidr))
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := parseBlock(b); err != nil {
			a.cache.forgetBlock(b.Name)
			return err
		}
		ords := ordinalsOfHandle(b, handle)
		if len(ords) == 0 {
			if cached { // confirm "nothing held here" on a fresh read
				a.cache.forgetBlock(b.Name)
				return ErrConflict
			}
			return nil
		}
		freed = release(b, ords)
		return a.writeBlock(ctx, b)
	})
	return freed, err
}

// ReleaseIP frees one address, whoever holds it, and takes it off its handle. An address
// nobody holds gives ErrNotAllocated.
func (a *Allocator) ReleaseIP(ctx context.Context, addr netip.Addr) error {
	cfg, err := a.loadConfig(ctx)
	if err != nil {
		return fmt.Errorf("release %s: %w", addr, err)
	}
	if err := a.releaseAddr(ctx, addr, "", cfg.pools); err != nil {
		return fmt.Errorf("release %s: %w", addr, err)
	}
	return nil
}

// releaseAddr frees addr when its holder is onlyHandle (any holder when ""), then
// takes one off that handle's count for the block.
func (a *Allocator) releaseAddr(ctx context.Context, addr netip.Addr, onlyHandle string, pools []Pool) error {
	b, err := a.findBlock(ctx, addr, pools)
	if err != nil {
		return err
	}
	cidr, err := parseBlock(b)
	if err != nil {
		return err
	}
	ord, _ := ordinalOf(cidr, addr)
	var holder string
	err = a.retry(ctx, "releasing "+addr.String(), func() error {
		idx := b.Spec.Allocations[ord]
		if idx == nil {
			return ErrNotAllocated
		}
		holder = handleOf(b.Spec.Attributes[*idx])
		if onlyHandle != "" && holder != onlyHandle {
			return fmt.Errorf("%w by %s (held by %s)", ErrNotAllocated, onlyHandle, holderOf(b, ord))
		}
		release(b, []int{ord})
		err := a.writeBlock(ctx, b)
		if errors.Is(err, ErrConflict) {
			fresh, gerr := a.store.Blocks().Get(ctx, b.Name)
			if gerr != nil {
				return gerr
			}
			if _, perr := parseBlock(fresh); perr != nil {
				return perr
			}
			b = fresh
		}
		return err
	})
	if err != nil || holder == "" {
		return err
	}
	return a.adjustHandle(ctx, holder, map[string]int{cidr.String(): -1})
}

// findBlock returns the block holding addr: by name from the pool's block size first,
// then (blocks of an older block size) by scanning.
func (a *Allocator) findBlock(ctx context.Context, addr netip.Addr, pools []Pool) (*v3.IPAMBlock, error) {
	if p, ok := poolFor(pools, addr); ok {
		b, err := a.store.Blocks().Get(ctx, BlockName(p.blockFor(addr)))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	blocks, err := a.store.Blocks().List(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing blocks: %w", err)
	}
	for _, b := range blocks {
		if cidr, err := netip.ParsePrefix(b.Spec.CIDR); err == nil && cidr.Contains(addr) {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%w: no block holds %s", ErrNotAllocated, addr)
}
