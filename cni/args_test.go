package cni

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParsePodRef(t *testing.T) {
	ref, err := ParsePodRef("IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u1;OTHER=x", true)
	if err != nil || ref != (PodRef{"prod", "web-0"}) {
		t.Errorf("ParsePodRef = %v, %v; want prod/web-0", ref, err)
	}
	if _, err := ParsePodRef("K8S_POD_NAMESPACE=prod", true); err == nil || !strings.Contains(err.Error(), "K8S_POD_NAME") {
		t.Errorf("missing name: %v, want an error naming K8S_POD_NAME", err)
	}
	if ref, err := ParsePodRef("", false); err != nil || ref != (PodRef{}) {
		t.Errorf("DEL without args: %v %v, want empty and no error", ref, err)
	}
	if _, err := ParsePodRef("K8S_POD_NAME", false); err == nil {
		t.Error("malformed CNI_ARGS accepted")
	}
}

func TestParseAnnotations(t *testing.T) {
	def4 := []string{"default-ipv4-ippool"}
	for _, tc := range []struct {
		name string
		ann  map[string]string
		want PodRequest
		err  string
	}{
		{name: "none", ann: nil, want: PodRequest{Pools4: def4}},
		{name: "fixed", ann: map[string]string{AnnotationIPAddrs: `["10.1.2.3","fd00::5"]`, AnnotationIPv4Pools: `["ignored"]`},
			want: PodRequest{Fixed: []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("fd00::5")}}},
		{name: "pools", ann: map[string]string{AnnotationIPv4Pools: `["pool-a","10.9.0.0/16"]`, AnnotationIPv6Pools: `["fd00::/48"]`},
			want: PodRequest{Pools4: []string{"pool-a", "10.9.0.0/16"}, Pools6: []string{"fd00::/48"}}},
		{name: "fixed not json", ann: map[string]string{AnnotationIPAddrs: `10.1.2.3`}, err: "want a JSON list of addresses"},
		{name: "fixed not ip", ann: map[string]string{AnnotationIPAddrs: `["10.1.2"]`}, err: `"10.1.2" is not an IP address`},
		{name: "fixed empty", ann: map[string]string{AnnotationIPAddrs: `[]`}, err: "lists no address"},
		{name: "pools not json", ann: map[string]string{AnnotationIPv4Pools: `pool-a`}, err: "want a JSON list of pool names"},
		{name: "pool wrong family", ann: map[string]string{AnnotationIPv6Pools: `["10.0.0.0/8"]`}, err: "wrong IP family"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseAnnotations(tc.ann, def4, nil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestHandleAndPodIPAnnotations(t *testing.T) {
	if got := HandleID("k8s-pod-network", "abc123"); got != "k8s-pod-network.abc123" {
		t.Errorf("HandleID = %q", got)
	}
	if got := HandleID("", "abc123"); got != "k8s-pod-network.abc123" {
		t.Errorf("HandleID without a network name = %q", got)
	}
	got := PodIPAnnotations("cid", []netip.Prefix{netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("fd00::1/128")})
	want := map[string]string{
		"cni.projectcalico.org/podIP":       "10.0.0.1/32",
		"cni.projectcalico.org/podIPs":      "10.0.0.1/32,fd00::1/128",
		"cni.projectcalico.org/containerID": "cid",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PodIPAnnotations (-want +got):\n%s", diff)
	}
}
