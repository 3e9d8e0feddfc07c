package ipam

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/policy/selector"
)

// Pool is an IPPool as the allocator uses it: parsed and defaulted.
type Pool struct {
	Name      string
	CIDR      netip.Prefix
	BlockSize int
	Disabled  bool
	Manual    bool // assignmentMode Manual: only when asked for by name or CIDR
	Selector  *selector.Selector
	Uses      []v3.IPPoolAllowedUse
}

// ErrNoPool: no pool can serve the request (none configured, none selects the node,
// or the requested ones are unusable). The message says which and why.
var ErrNoPool = errors.New("no usable IP pool")

// ErrExhausted: the usable pools have no free address left for the request.
var ErrExhausted = errors.New("IP pool exhausted")

// ParsePool checks and defaults one IPPool: the CIDR (host bits are an error), the
// block size (26 / 122 when unset; 20-32 / 116-128 and not shorter than the CIDR), the
// node selector and the allowed uses (Workload and Tunnel when unset).
func ParsePool(p v3.IPPool) (Pool, error) {
	out := Pool{Name: p.Name, Disabled: p.Spec.IsDisabled(), Uses: p.Spec.AllowedUses}
	cidr, err := netip.ParsePrefix(p.Spec.CIDR)
	if err != nil {
		return out, fmt.Errorf("IP pool %s: cidr %q: %w", p.Name, p.Spec.CIDR, err)
	}
	if cidr != cidr.Masked() {
		return out, fmt.Errorf("IP pool %s: cidr %s has host bits set (did you mean %s?)", p.Name, cidr, cidr.Masked())
	}
	out.CIDR = cidr
	out.BlockSize, err = checkBlockSize(cidr, p.Spec.BlockSize)
	if err != nil {
		return out, fmt.Errorf("IP pool %s: %w", p.Name, err)
	}
	out.Selector, err = selector.Parse(p.Spec.NodeSelector)
	if err != nil {
		return out, fmt.Errorf("IP pool %s: nodeSelector: %w", p.Name, err)
	}
	if len(out.Uses) == 0 {
		out.Uses = []v3.IPPoolAllowedUse{v3.AllowedUseWorkload, v3.AllowedUseTunnel}
	}
	out.Manual = p.Spec.AssignmentMode != nil && *p.Spec.AssignmentMode == v3.AssignmentManual
	return out, nil
}

// checkBlockSize returns the pool's block size, defaulted, or why it is invalid.
func checkBlockSize(cidr netip.Prefix, size int) (int, error) {
	lo, hi, def := 20, 32, v3.DefaultBlockSizeIPv4
	if cidr.Addr().Is6() {
		lo, hi, def = 116, 128, v3.DefaultBlockSizeIPv6
	}
	if size == 0 {
		size = def
	}
	if size < lo || size > hi {
		return 0, fmt.Errorf("blockSize %d out of range %d-%d for %s", size, lo, hi, cidr)
	}
	if size < cidr.Bits() {
		return 0, fmt.Errorf("blockSize %d is larger than the pool %s (use a block size of at least %d)", size, cidr, cidr.Bits())
	}
	return size, nil
}

// Family is 4 or 6.
func (p Pool) Family() int {
	if p.CIDR.Addr().Is4() {
		return 4
	}
	return 6
}

func (p Pool) allows(use v3.IPPoolAllowedUse) bool { return slices.Contains(p.Uses, use) }

// blockFor is the block of this pool that holds addr.
func (p Pool) blockFor(addr netip.Addr) netip.Prefix {
	return netip.PrefixFrom(addr, p.BlockSize).Masked()
}

// parsePools parses every pool; invalid ones are returned as errors beside the valid
// ones, so one bad pool does not stop allocation from the others.
func parsePools(pools []v3.IPPool) ([]Pool, []error) {
	var out []Pool
	var errs []error
	for _, p := range pools {
		parsed, err := ParsePool(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, parsed)
	}
	slices.SortFunc(out, func(a, b Pool) int { return strings.Compare(a.Name, b.Name) })
	return out, errs
}

// poolRequest is what decides which pools may serve an auto-assignment.
type poolRequest struct {
	family     int
	requested  []string // names or CIDRs; empty = automatic choice
	nodeLabels map[string]string
	use        v3.IPPoolAllowedUse
}

// choosePools returns the pools that may serve req, in preference order: the order
// asked for, or by name for the automatic choice. A requested pool that is unknown, of
// the other family, disabled, not selecting the node or not allowing the use is an
// error that says so: a pod that asked for a pool must not silently get another.
func choosePools(pools []Pool, req poolRequest) ([]Pool, error) {
	if len(req.requested) > 0 {
		return requestedPools(pools, req)
	}
	var out []Pool
	for _, p := range pools {
		if p.Family() == req.family && !p.Disabled && !p.Manual && p.allows(req.use) && p.Selector.Evaluate(req.nodeLabels) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no enabled IPv%d pool with allowed use %s selects this node (%d pools configured)",
			ErrNoPool, req.family, req.use, len(pools))
	}
	return out, nil
}

func requestedPools(pools []Pool, req poolRequest) ([]Pool, error) {
	var out []Pool
	for _, want := range req.requested {
		p, ok := findPool(pools, want)
		if !ok {
			return nil, fmt.Errorf("%w: unknown IP pool %q (known: %s)", ErrNoPool, want, poolNames(pools))
		}
		var why string
		switch {
		case p.Family() != req.family:
			why = fmt.Sprintf("is IPv%d, asked for IPv%d", p.Family(), req.family)
		case p.Disabled:
			why = "is disabled"
		case !p.allows(req.use):
			why = fmt.Sprintf("does not allow use %s", req.use)
		case !p.Selector.Evaluate(req.nodeLabels):
			why = fmt.Sprintf("does not select this node (nodeSelector %s)", p.Selector)
		}
		if why != "" {
			return nil, fmt.Errorf("%w: IP pool %s %s", ErrNoPool, p.Name, why)
		}
		if !slices.ContainsFunc(out, func(q Pool) bool { return q.Name == p.Name }) {
			out = append(out, p)
		}
	}
	return out, nil
}

// findPool finds a pool by name or by CIDR.
func findPool(pools []Pool, nameOrCIDR string) (Pool, bool) {
	cidr, cidrErr := netip.ParsePrefix(nameOrCIDR)
	for _, p := range pools {
		if p.Name == nameOrCIDR || (cidrErr == nil && p.CIDR == cidr.Masked()) {
			return p, true
		}
	}
	return Pool{}, false
}

// poolFor is the pool containing addr (the most specific one when pools overlap).
func poolFor(pools []Pool, addr netip.Addr) (Pool, bool) {
	best, found := Pool{}, false
	for _, p := range pools {
		if p.CIDR.Contains(addr) && (!found || p.CIDR.Bits() > best.CIDR.Bits()) {
			best, found = p, true
		}
	}
	return best, found
}

func poolNames(pools []Pool) string {
	if len(pools) == 0 {
		return "none"
	}
	names := make([]string, len(pools))
	for i, p := range pools {
		names[i] = p.Name + " " + p.CIDR.String()
	}
	return strings.Join(names, ", ")
}

// parseReservations turns IPReservation objects into prefixes. Entries that do not
// parse are returned as errors and otherwise ignored.
func parseReservations(res []v3.IPReservation) ([]netip.Prefix, []error) {
	var out []netip.Prefix
	var errs []error
	for _, r := range res {
		for _, s := range r.Spec.ReservedCIDRs {
			p, err := parseCIDROrAddr(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("IPReservation %s: %q: %w", r.Name, s, err))
				continue
			}
			out = append(out, p)
		}
	}
	return out, errs
}

func parseCIDROrAddr(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// reservedBy returns a reservedFunc over prefixes.
func reservedBy(prefixes []netip.Prefix) reservedFunc {
	if len(prefixes) == 0 {
		return func(netip.Addr) bool { return false }
	}
	return func(a netip.Addr) bool {
		for _, p := range prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
}
