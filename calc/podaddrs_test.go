package calc

import (
	"github.com/palisadenet/palisade/calc/desired"
	"go.uber.org/zap/zaptest"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The CNI plugin's annotations win over status (the kubelet reports status later,
// and a pod's policy must be in place when it starts); bad values are reported,
// not silently dropped.
func TestPodAddrsPrefersCNIAnnotations(t *testing.T) {
	pfx := netip.MustParsePrefix
	cases := []struct {
		name     string
		ann      map[string]string
		status   corev1.PodStatus
		want     []netip.Prefix
		problems int
	}{
		{name: "status only", status: corev1.PodStatus{PodIP: "10.0.0.1"}, want: []netip.Prefix{pfx("10.0.0.1/32")}},
		{name: "status podIPs dual stack", status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "fd00::1"}, {IP: "10.0.0.1"}}},
			want: []netip.Prefix{pfx("10.0.0.1/32"), pfx("fd00::1/128")}},
		{name: "annotation podIPs wins", ann: map[string]string{AnnotationPodIPs: "192.168.1.5/32,fd00::5/128"},
			status: corev1.PodStatus{PodIP: "10.0.0.1"}, want: []netip.Prefix{pfx("192.168.1.5/32"), pfx("fd00::5/128")}},
		{name: "annotation podIP", ann: map[string]string{AnnotationPodIP: "192.168.1.6"}, want: []netip.Prefix{pfx("192.168.1.6/32")}},
		{name: "annotation not a host prefix", ann: map[string]string{AnnotationPodIPs: "192.168.1.0/24,192.168.1.7/32"},
			want: []netip.Prefix{pfx("192.168.1.7/32")}, problems: 1},
		{name: "garbage status", status: corev1.PodStatus{PodIP: "nope"}, problems: 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: tc.ann}, Status: tc.status}
			got, problems := podAddrs(pod)
			if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("addresses (-want +got):\n%s", diff)
			}
			if len(problems) != tc.problems {
				t.Errorf("problems = %q, want %d", problems, tc.problems)
			}
		})
	}
}

// A pod that names no service account gets "default", as admission would give it,
// so serviceAccounts rules match it the same way the reference evaluator does.
func TestPodWithoutServiceAccountIsDefault(t *testing.T) {
	w := decodeWorld(t, "sa", `
apiVersion: v1
kind: Namespace
metadata: {name: prod}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: prod}
spec: {nodeName: node1, containers: [{name: c, image: x}]}
status: {podIP: 10.1.0.1}
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: sa, namespace: prod}
spec:
  selector: all()
  ingress:
  - action: Allow
    source:
      serviceAccounts: {names: [default]}
`)
	g := New(zaptest.NewLogger(t), testNode)
	st := desired.New()
	applyOrFail(t, st, g.Apply(transition(world{}, w)))
	applyOrFail(t, st, g.InSync())
	found := false
	for _, set := range st.Sets {
		for _, m := range set.Members {
			if m.Prefix.Addr().String() == "10.1.0.1" {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("the serviceAccounts: [default] set does not contain the pod without a service account; sets: %+v", st.Sets)
	}
}
