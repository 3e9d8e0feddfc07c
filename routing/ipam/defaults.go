package ipam

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/policy/selector"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Names and defaults of the pools EnsureDefaultPools creates.
const (
	DefaultIPv4PoolName = "default-ipv4-ippool"
	DefaultIPv6PoolName = "default-ipv6-ippool"
	DefaultIPv4PoolCIDR = "192.168.0.0/16"
)

// EnsureDefaultPools creates default-ipv4-ippool (and default-ipv6-ippool when
// CALICO_IPV6POOL_CIDR is set) the way calico-node does at first start, from:
//
//	CALICO_IPV4POOL_CIDR (default 192.168.0.0/16), CALICO_IPV4POOL_BLOCK_SIZE (26),
//	CALICO_IPV4POOL_IPIP and CALICO_IPV4POOL_VXLAN (Always, CrossSubnet or Never;
//	default Never), CALICO_IPV4POOL_NAT_OUTGOING (default true),
//	CALICO_IPV4POOL_NODE_SELECTOR (default all()), CALICO_IPV4POOL_DISABLE_BGP_EXPORT,
//	and the CALICO_IPV6POOL_* equivalents (block size 122, NAT default false, no IPIP).
//
// A family's pool is created only when no pool of that family exists; NO_DEFAULT_POOLS
// =true creates none. Invalid values are an error that names the variable; nothing is
// created then. A pool created meanwhile by another node is not an error.
func (a *Allocator) EnsureDefaultPools(ctx context.Context, getenv func(string) string) error {
	if getenv == nil {
		return errors.New("default pools: no environment given")
	}
	if skip, err := envBool(getenv, "NO_DEFAULT_POOLS", false); err != nil || skip {
		return err
	}
	want, err := defaultPoolsFromEnv(getenv)
	if err != nil {
		return fmt.Errorf("default pools: %w", err)
	}
	existing, err := a.store.Pools(ctx)
	if err != nil {
		return fmt.Errorf("default pools: listing pools: %w", err)
	}
	for _, pool := range want {
		family := 4
		if strings.Contains(pool.Spec.CIDR, ":") {
			family = 6
		}
		if hasPoolOfFamily(existing, family) {
			continue
		}
		err := a.store.CreatePool(ctx, pool)
		if errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return fmt.Errorf("default pools: %w", err)
		}
		a.log.Info("created default IP pool", zap.String("name", pool.Name), zap.String("cidr", pool.Spec.CIDR))
	}
	return nil
}

func hasPoolOfFamily(pools []v3.IPPool, family int) bool {
	for _, p := range pools {
		cidr, err := netip.ParsePrefix(p.Spec.CIDR)
		if err == nil && (cidr.Addr().Is4() == (family == 4)) {
			return true
		}
	}
	return false
}

// defaultPoolsFromEnv builds the default pools and checks every variable, reporting
// all invalid ones at once.
func defaultPoolsFromEnv(getenv func(string) string) ([]*v3.IPPool, error) {
	v4, err4 := poolFromEnv(getenv, "CALICO_IPV4POOL_", DefaultIPv4PoolName, DefaultIPv4PoolCIDR, 4)
	if cidr := getenv("CALICO_IPV6POOL_CIDR"); cidr == "" {
		return []*v3.IPPool{v4}, err4
	}
	v6, err6 := poolFromEnv(getenv, "CALICO_IPV6POOL_", DefaultIPv6PoolName, "", 6)
	return []*v3.IPPool{v4, v6}, errors.Join(err4, err6)
}

func poolFromEnv(getenv func(string) string, prefix, name, defCIDR string, family int) (*v3.IPPool, error) {
	var errs []error
	note := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	cidrText := getenv(prefix + "CIDR")
	if cidrText == "" {
		cidrText = defCIDR
	}
	cidr, err := netip.ParsePrefix(strings.TrimSpace(cidrText))
	switch {
	case err != nil:
		note(fmt.Errorf("%sCIDR=%q is not a CIDR such as %s", prefix, cidrText, map[int]string{4: "10.244.0.0/16", 6: "fd00:10:244::/48"}[family]))
	case cidr.Addr().Is4() != (family == 4):
		note(fmt.Errorf("%sCIDR=%q is not an IPv%d CIDR", prefix, cidrText, family))
	case cidr != cidr.Masked():
		note(fmt.Errorf("%sCIDR=%q has host bits set (did you mean %s?)", prefix, cidrText, cidr.Masked()))
	}
	blockSize, err := envInt(getenv, prefix+"BLOCK_SIZE")
	note(err)
	if err == nil && cidr.IsValid() {
		if _, err := checkBlockSize(cidr, blockSize); err != nil {
			note(fmt.Errorf("%sBLOCK_SIZE: %w", prefix, err))
		}
	}
	ipip, err := envEncap(getenv, prefix+"IPIP")
	note(err)
	vxlan, err := envEncap(getenv, prefix+"VXLAN")
	note(err)
	if family == 6 && ipip != v3.EncapNever {
		note(fmt.Errorf("%sIPIP=%q: IPIP carries only IPv4; use VXLAN for IPv6", prefix, getenv(prefix+"IPIP")))
	}
	if ipip != v3.EncapNever && vxlan != v3.EncapNever {
		note(fmt.Errorf("%sIPIP=%s and %sVXLAN=%s: enable at most one encapsulation", prefix, ipip, prefix, vxlan))
	}
	nat, err := envBool(getenv, prefix+"NAT_OUTGOING", family == 4)
	note(err)
	noExport, err := envBool(getenv, prefix+"DISABLE_BGP_EXPORT", false)
	note(err)
	nodeSelector := getenv(prefix + "NODE_SELECTOR")
	if nodeSelector == "" {
		nodeSelector = "all()"
	}
	if _, err := selector.Parse(nodeSelector); err != nil {
		note(fmt.Errorf("%sNODE_SELECTOR=%q: %w", prefix, nodeSelector, err))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if blockSize == 0 {
		blockSize = map[int]int{4: v3.DefaultBlockSizeIPv4, 6: v3.DefaultBlockSizeIPv6}[family]
	}
	disabled := false
	return &v3.IPPool{
		TypeMeta:   metav1.TypeMeta{APIVersion: v3.SchemeGroupVersion.String(), Kind: v3.KindIPPool},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v3.IPPoolSpec{
			CIDR: cidr.String(), BlockSize: blockSize, IPIPMode: ipip, VXLANMode: vxlan,
			NATOutgoing: &nat, DisableBGPExport: &noExport, Disabled: &disabled, NodeSelector: nodeSelector,
		},
	}, nil
}

func envInt(getenv func(string) string, name string) (int, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s=%q is not a number", name, v)
	}
	return n, nil
}

func envBool(getenv func(string) string, name string, def bool) (bool, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(strings.ToLower(v))
	if err != nil {
		return def, fmt.Errorf("%s=%q is not true or false", name, v)
	}
	return b, nil
}

// envEncap reads an IPIP/VXLAN mode; Calico's older spellings are accepted too.
func envEncap(getenv func(string) string, name string) (v3.EncapMode, error) {
	v := strings.TrimSpace(getenv(name))
	switch strings.ToLower(v) {
	case "", "never", "off", "false":
		return v3.EncapNever, nil
	case "always", "true":
		return v3.EncapAlways, nil
	case "crosssubnet", "cross-subnet":
		return v3.EncapCrossSubnet, nil
	}
	return "", fmt.Errorf("%s=%q: use Always, CrossSubnet or Never", name, v)
}
