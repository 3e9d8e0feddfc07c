package cni

import (
	"errors"
	"testing"

	"github.com/containernetworking/cni/pkg/types"
)

// FuzzParseConfig: whatever the runtime hands over, ParseConfig returns a config or a
// *types.Error with a code and a message, never a panic.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		testConf,
		`{"cniVersion":"1.1.0","name":"n","ipam":{"type":"palisade-ipam","assign_ipv6":"true","ipv6_pools":["fd00::/64"]}}`,
		`{"cniVersion":"1.0.0","name":"n","mtu":-1,"ipam":{"type":"palisade-ipam","assign_ipv4":false}}`,
		`{"ipam":{"ipv4_pools":[""]}}`, `[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		conf, err := ParseConfig(data, testEnv)
		if err == nil {
			if conf.Name == "" || conf.MTU < 68 || conf.Nodename == "" || (!conf.IPAM.WantV4() && !conf.IPAM.WantV6()) {
				t.Fatalf("accepted an invalid config: %+v", conf)
			}
			return
		}
		var cerr *types.Error
		if !errors.As(err, &cerr) || cerr.Code == 0 || cerr.Msg == "" {
			t.Fatalf("error %v is not a CNI error with a code and a message", err)
		}
	})
}

// FuzzParseAnnotations: malformed annotations are errors, never panics, and accepted
// fixed addresses are valid.
func FuzzParseAnnotations(f *testing.F) {
	f.Add(`["10.0.0.1"]`, `["pool-a"]`, `["fd00::/64"]`)
	f.Add(`[`, `{}`, `[1]`)
	f.Fuzz(func(t *testing.T, addrs, pools4, pools6 string) {
		ann := map[string]string{AnnotationIPv4Pools: pools4, AnnotationIPv6Pools: pools6}
		if addrs != "" {
			ann[AnnotationIPAddrs] = addrs
		}
		req, err := ParseAnnotations(ann, nil, nil)
		if err != nil {
			return
		}
		for _, a := range req.Fixed {
			if !a.IsValid() {
				t.Fatalf("accepted an invalid fixed address from %q", addrs)
			}
		}
	})
}
