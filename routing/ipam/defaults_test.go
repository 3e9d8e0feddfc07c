package ipam

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
)

func envOf(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

// poolSummary is what a user sees of a default pool.
type poolSummary struct {
	Name, CIDR, IPIP, VXLAN, Selector string
	BlockSize                         int
	NAT                               bool
}

func summarize(pools []v3.IPPool) []poolSummary {
	var out []poolSummary
	for _, p := range pools {
		out = append(out, poolSummary{p.Name, p.Spec.CIDR, string(p.Spec.IPIPMode), string(p.Spec.VXLANMode),
			p.Spec.NodeSelector, p.Spec.BlockSize, p.Spec.NATOutgoingEnabled()})
	}
	slices.SortFunc(out, func(a, b poolSummary) int { return strings.Compare(a.CIDR, b.CIDR) })
	return out
}

func TestEnsureDefaultPools(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		existing []v3.IPPool
		want     []poolSummary
		wantErr  []string
	}{
		{name: "nothing set", want: []poolSummary{{"default-ipv4-ippool", "192.168.0.0/16", "Never", "Never", "all()", 26, true}}},
		{name: "everything set", env: map[string]string{
			"CALICO_IPV4POOL_CIDR": "10.244.0.0/16", "CALICO_IPV4POOL_BLOCK_SIZE": "24", "CALICO_IPV4POOL_IPIP": "CrossSubnet",
			"CALICO_IPV4POOL_NAT_OUTGOING": "false", "CALICO_IPV4POOL_NODE_SELECTOR": "zone == 'a'",
			"CALICO_IPV6POOL_CIDR": "fd00:10:244::/48", "CALICO_IPV6POOL_VXLAN": "Always", "CALICO_IPV6POOL_NAT_OUTGOING": "true"},
			want: []poolSummary{
				{"default-ipv4-ippool", "10.244.0.0/16", "CrossSubnet", "Never", "zone == 'a'", 24, false},
				{"default-ipv6-ippool", "fd00:10:244::/48", "Never", "Always", "all()", 122, true},
			}},
		{name: "legacy spelling", env: map[string]string{"CALICO_IPV4POOL_IPIP": "cross-subnet"},
			want: []poolSummary{{"default-ipv4-ippool", "192.168.0.0/16", "CrossSubnet", "Never", "all()", 26, true}}},
		{name: "an IPv4 pool exists", env: map[string]string{"CALICO_IPV6POOL_CIDR": "fd00::/64"},
			existing: []v3.IPPool{testPool("mine", "10.0.0.0/16", 0)},
			want: []poolSummary{{"mine", "10.0.0.0/16", "", "", "", 0, false},
				{"default-ipv6-ippool", "fd00::/64", "Never", "Never", "all()", 122, false}}},
		{name: "NO_DEFAULT_POOLS", env: map[string]string{"NO_DEFAULT_POOLS": "true"}},
		{name: "invalid values are all reported", env: map[string]string{
			"CALICO_IPV4POOL_CIDR": "10.244.0.1/16", "CALICO_IPV4POOL_BLOCK_SIZE": "abc", "CALICO_IPV4POOL_VXLAN": "sometimes",
			"CALICO_IPV4POOL_NAT_OUTGOING": "yes please"},
			wantErr: []string{`CALICO_IPV4POOL_CIDR="10.244.0.1/16" has host bits set (did you mean 10.244.0.0/16?)`,
				`CALICO_IPV4POOL_BLOCK_SIZE="abc" is not a number`, `CALICO_IPV4POOL_VXLAN="sometimes": use Always, CrossSubnet or Never`,
				`CALICO_IPV4POOL_NAT_OUTGOING="yes please" is not true or false`}},
		{name: "block size out of range", env: map[string]string{"CALICO_IPV4POOL_BLOCK_SIZE": "33"},
			wantErr: []string{"CALICO_IPV4POOL_BLOCK_SIZE: blockSize 33 out of range 20-32"}},
		{name: "both encapsulations", env: map[string]string{"CALICO_IPV4POOL_IPIP": "Always", "CALICO_IPV4POOL_VXLAN": "Always"},
			wantErr: []string{"enable at most one encapsulation"}},
		{name: "IPv6 with IPIP", env: map[string]string{"CALICO_IPV6POOL_CIDR": "fd00::/64", "CALICO_IPV6POOL_IPIP": "Always"},
			wantErr: []string{"IPIP carries only IPv4"}},
		{name: "IPv4 CIDR given as IPv6", env: map[string]string{"CALICO_IPV4POOL_CIDR": "fd00::/64"},
			wantErr: []string{"is not an IPv4 CIDR"}},
		{name: "bad selector", env: map[string]string{"CALICO_IPV4POOL_NODE_SELECTOR": "a =="},
			wantErr: []string{"CALICO_IPV4POOL_NODE_SELECTOR"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, k := range storeKinds {
				s := k.make(t, tc.existing, nil)
				a := New(s, nil)
				err := a.EnsureDefaultPools(context.Background(), envOf(tc.env))
				pools, lerr := s.Pools(context.Background())
				if lerr != nil {
					t.Fatal(lerr)
				}
				if len(tc.wantErr) > 0 {
					for _, w := range tc.wantErr {
						if err == nil || !strings.Contains(err.Error(), w) {
							t.Errorf("%s: err = %v, want it to contain %q", k.name, err, w)
						}
					}
					if len(pools) != len(tc.existing) {
						t.Errorf("%s: invalid environment still created pools: %v", k.name, summarize(pools))
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", k.name, err)
				}
				if diff := cmp.Diff(tc.want, summarize(pools)); diff != "" {
					t.Errorf("%s: pools (-want +got):\n%s", k.name, diff)
				}
				// A second run (another node starting) changes nothing.
				if err := a.EnsureDefaultPools(context.Background(), envOf(tc.env)); err != nil {
					t.Errorf("%s: second run: %v", k.name, err)
				}
				again, _ := s.Pools(context.Background())
				if len(again) != len(pools) {
					t.Errorf("%s: second run created more pools: %v", k.name, summarize(again))
				}
			}
		})
	}
}

func TestDefaultPoolIsUsableAtOnce(t *testing.T) {
	for _, k := range storeKinds {
		s := k.make(t, nil, nil)
		a := New(s, nil)
		if err := a.EnsureDefaultPools(context.Background(), envOf(nil)); err != nil {
			t.Fatal(err)
		}
		got := mustAssign(t, a, AssignArgs{Handle: "h", Node: "n", Num4: 1})
		if got[0].Addr.String() != "192.168.0.0/32" || got[0].Pool != DefaultIPv4PoolName {
			t.Errorf("%s: got %v, want 192.168.0.0/32 from %s", k.name, got, DefaultIPv4PoolName)
		}
	}
}
