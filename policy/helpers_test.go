package policy

import (
	"net/netip"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/palisadenet/palisade/policy/selector"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// cmpOpts compares models: selectors by canonical form, addresses by value, and
// nil slices equal to empty ones.
var cmpOpts = []cmp.Option{
	cmp.Transformer("selector", func(s *selector.Selector) string {
		if s == nil {
			return "<nil>"
		}
		return s.String()
	}),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
	cmpopts.EquateEmpty(),
}

func sel(s string) *selector.Selector { return selector.MustParse(s) }

func proto(p Protocol) *Protocol { return &p }

func order(f float64) *float64 { return &f }

func nets(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func port(n uint16) Port { return Port{First: n, Last: n} }

func u8(n uint8) *uint8 { return &n }

func metaName(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name} }
