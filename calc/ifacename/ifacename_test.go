package ifacename

import (
	"crypto/sha1"
	"fmt"
	"testing"
)

func TestWorkload(t *testing.T) {
	for _, tc := range []struct{ ns, pod string }{
		{"default", "nginx"},
		{"kube-system", "coredns-5d78c9869d-abcde"},
		{"a", "b.c"},
	} {
		got := Workload(tc.ns, tc.pod)
		want := fmt.Sprintf("cali%x", sha1.Sum([]byte(tc.ns+"."+tc.pod)))[:15]
		if got != want {
			t.Errorf("Workload(%q, %q) = %q, want %q", tc.ns, tc.pod, got, want)
		}
		if len(got) != 15 {
			t.Errorf("Workload(%q, %q) = %q: length %d, want 15 (IFNAMSIZ-1)", tc.ns, tc.pod, got, len(got))
		}
	}
	// The separator matters: "a.b"/"c" and "a"/"b.c" hash the same input, so they
	// collide as Calico's names do; distinct pods in distinct namespaces must not.
	if Workload("default", "x") == Workload("default", "y") {
		t.Error("different pods got the same interface name")
	}
}

func TestWorkloadKnownValue(t *testing.T) {
	// Computed outside Go: printf default.nginx | sha1sum → c440f455693b69cdd48a...
	if got, want := Workload("default", "nginx"), "calic440f455693"; got != want {
		t.Errorf("Workload(default, nginx) = %q, want %q", got, want)
	}
}
