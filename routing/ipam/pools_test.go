package ipam

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
)

func TestPoolChoice(t *testing.T) {
	pools := []v3.IPPool{
		testPool("a", "10.1.0.0/24", 0),
		testPool("b", "10.2.0.0/24", 0),
		testPool("off", "10.3.0.0/24", 0, disabled),
		testPool("gpu", "10.4.0.0/24", 0, nodeSelector("gpu == 'true'")),
		testPool("v6", "fd00::/120", 0),
	}
	tests := []struct {
		name    string
		args    AssignArgs
		want    []string
		wantErr string // substring; "" = success
	}{
		{name: "automatic takes the first enabled pool by name",
			args: AssignArgs{Num4: 1}, want: []string{"10.1.0.0/32"}},
		{name: "by name", args: AssignArgs{Num4: 1, Pools4: []string{"b"}}, want: []string{"10.2.0.0/32"}},
		{name: "by CIDR", args: AssignArgs{Num4: 1, Pools4: []string{"10.2.0.0/24"}}, want: []string{"10.2.0.0/32"}},
		{name: "selector matching the node's labels",
			args: AssignArgs{Num4: 1, Pools4: []string{"gpu"}, NodeLabels: map[string]string{"gpu": "true"}}, want: []string{"10.4.0.0/32"}},
		{name: "selector not matching", args: AssignArgs{Num4: 1, Pools4: []string{"gpu"}},
			wantErr: `IP pool gpu does not select this node (nodeSelector gpu == "true")`},
		{name: "unknown pool", args: AssignArgs{Num4: 1, Pools4: []string{"nope"}}, wantErr: `unknown IP pool "nope"`},
		{name: "disabled pool asked for", args: AssignArgs{Num4: 1, Pools4: []string{"off"}}, wantErr: "IP pool off is disabled"},
		{name: "IPv6 pool asked for IPv4", args: AssignArgs{Num4: 1, Pools4: []string{"v6"}}, wantErr: "is IPv6, asked for IPv4"},
		{name: "dual stack", args: AssignArgs{Num4: 1, Num6: 1}, want: []string{"10.1.0.0/32", "fd00::/128"}},
		{name: "fixed address in a disabled pool", args: AssignArgs{Fixed: []netip.Addr{netip.MustParseAddr("10.3.0.9")}},
			wantErr: "IP pool off, which is disabled"},
		{name: "fixed address outside every pool", args: AssignArgs{Fixed: []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
			wantErr: "fixed address 192.0.2.1 is in no IP pool"},
		{name: "fixed addresses", args: AssignArgs{Num4: 5, Fixed: []netip.Addr{netip.MustParseAddr("10.2.0.77"), netip.MustParseAddr("fd00::9")}},
			want: []string{"10.2.0.77/32", "fd00::9/128"}},
		{name: "no handle", args: AssignArgs{Handle: "-", Num4: 1}, wantErr: "no handle given"},
		{name: "nothing asked", args: AssignArgs{}, wantErr: "asked for no address"},
		{name: "too many", args: AssignArgs{Num4: 257}, wantErr: "each must be 0-256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewMemoryStore(pools, nil)
			a := New(s, nil)
			args := tc.args
			args.Node = "n1"
			switch args.Handle {
			case "":
				args.Handle = "h"
			case "-":
				args.Handle = ""
			}
			got, err := a.Assign(context.Background(), args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if n := len(allocations(t, s)); n != 0 {
					t.Errorf("a failed Assign left %d allocations", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, addrsOf(got)); diff != "" {
				t.Errorf("addresses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDisabledPoolGivesNothingNewButKeepsWhatIsHeld(t *testing.T) {
	s := NewMemoryStore([]v3.IPPool{testPool("old", "10.1.0.0/24", 0), testPool("new", "10.2.0.0/24", 0)}, nil)
	a := New(s, nil)
	first := mustAssign(t, a, AssignArgs{Handle: "a", Node: "n1", Num4: 1})
	if first[0].Pool != "new" {
		t.Fatalf("first pool by name is new, got %s", first[0].Pool)
	}
	s.SetPools([]v3.IPPool{testPool("old", "10.1.0.0/24", 0), testPool("new", "10.2.0.0/24", 0, disabled)})
	second := mustAssign(t, a, AssignArgs{Handle: "b", Node: "n1", Num4: 1})
	if second[0].Pool != "old" {
		t.Errorf("after disabling pool new (where n1 has a block), got %v; want an address from old", second)
	}
	if h := allocations(t, s)[first[0].Addr.Addr()]; h != "a" {
		t.Errorf("address of the disabled pool lost its holder: %q", h)
	}
}

func TestPoolExhaustionIsAllOrNothing(t *testing.T) {
	pools := []v3.IPPool{testPool("p", "10.0.0.0/30", 30)}
	forEachStore(t, pools, nil, func(t *testing.T, s Store, a *Allocator) {
		mustAssign(t, a, AssignArgs{Handle: "a", Node: "n1", Num4: 2})
		_, err := a.Assign(context.Background(), AssignArgs{Handle: "b", Node: "n1", Num4: 3})
		if !errors.Is(err, ErrExhausted) || !strings.Contains(err.Error(), "2 of 3 IPv4 addresses free") {
			t.Fatalf("err = %v, want ErrExhausted saying 2 of 3 free", err)
		}
		if got := allocations(t, s); len(got) != 2 {
			t.Errorf("after a failed request %d addresses are held, want the 2 of handle a: %v", len(got), got)
		}
		if _, err := s.Handles().Get(context.Background(), HandleName("b")); !errors.Is(err, ErrNotFound) {
			t.Errorf("handle of the failed request still exists (err %v)", err)
		}
		mustCheckClean(t, a, nil)
	})
}

func TestParsePoolErrors(t *testing.T) {
	tests := []struct {
		pool v3.IPPool
		want string
	}{
		{testPool("x", "10.0.0.1/24", 0), "has host bits set (did you mean 10.0.0.0/24?)"},
		{testPool("x", "banana", 0), `cidr "banana"`},
		{testPool("x", "10.0.0.0/24", 19), "blockSize 19 out of range 20-32"},
		{testPool("x", "10.0.0.0/28", 26), "blockSize 26 is larger than the pool 10.0.0.0/28"},
		{testPool("x", "fd00::/64", 26), "out of range 116-128"},
		{testPool("x", "10.0.0.0/24", 0, nodeSelector("a ==")), "nodeSelector"},
	}
	for _, tc := range tests {
		_, err := ParsePool(tc.pool)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParsePool(%s, %d, %q) = %v, want an error containing %q", tc.pool.Spec.CIDR, tc.pool.Spec.BlockSize, tc.pool.Spec.NodeSelector, err, tc.want)
		}
	}
	p, err := ParsePool(testPool("v6", "fd00::/48", 0))
	if err != nil || p.BlockSize != 122 {
		t.Errorf("IPv6 default block size: %v, %v; want 122", p.BlockSize, err)
	}
}

func TestInvalidPoolDoesNotStopTheOthers(t *testing.T) {
	s := NewMemoryStore([]v3.IPPool{testPool("bad", "10.0.0.1/8", 0), testPool("good", "10.1.0.0/24", 0)}, nil)
	got := mustAssign(t, New(s, nil), AssignArgs{Handle: "h", Node: "n", Num4: 1})
	if got[0].Pool != "good" {
		t.Errorf("got %v, want an address from pool good", got)
	}
}

func TestConfigTTL(t *testing.T) {
	s := NewMemoryStore([]v3.IPPool{testPool("a", "10.1.0.0/24", 0)}, nil)
	now := time.Unix(1000, 0)
	a := NewWithOptions(s, nil, Options{ConfigTTL: 2 * time.Second, Now: func() time.Time { return now }})
	mustAssign(t, a, AssignArgs{Handle: "h1", Node: "n", Num4: 1})
	s.SetPools([]v3.IPPool{testPool("a", "10.1.0.0/24", 0, disabled)})
	now = now.Add(time.Second)
	if _, err := a.Assign(context.Background(), AssignArgs{Handle: "h2", Node: "n", Num4: 1}); err != nil {
		t.Errorf("within the TTL the pools read before are used: %v", err)
	}
	now = now.Add(time.Second)
	if _, err := a.Assign(context.Background(), AssignArgs{Handle: "h3", Node: "n", Num4: 1}); !errors.Is(err, ErrNoPool) {
		t.Errorf("after the TTL the disabled pool must give nothing: err = %v", err)
	}
	// Without a TTL every request reads the pools.
	b := New(s, nil)
	if _, err := b.Assign(context.Background(), AssignArgs{Handle: "h4", Node: "n", Num4: 1}); !errors.Is(err, ErrNoPool) {
		t.Errorf("default allocator used a disabled pool: %v", err)
	}
}
