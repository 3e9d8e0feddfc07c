package k8s

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/calc/datastore"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
)

// collector reads Events until a condition holds.
type collector struct {
	t      *testing.T
	out    chan datastore.Event
	inSync bool
	seen   map[datastore.Key]runtime.Object
	errs   []error
}

func (c *collector) until(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.After(20 * time.Second)
	for !cond() {
		select {
		case ev := <-c.out:
			for _, u := range ev.Updates {
				if u.Object == nil {
					delete(c.seen, u.Key)
				} else {
					c.seen[u.Key] = u.Object
				}
			}
			c.errs = append(c.errs, ev.Errors...)
			c.inSync = c.inSync || ev.InSync
		case <-deadline:
			c.t.Fatalf("timed out waiting for %s; have %v", what, keys(c.seen))
		}
	}
}

func keys(m map[datastore.Key]runtime.Object) []string {
	var out []string
	for k := range m {
		out = append(out, k.String())
	}
	slices.Sort(out)
	return out
}

func start(t *testing.T, d *Datastore) *collector {
	ctx, cancel := context.WithCancel(context.Background())
	c := &collector{t: t, out: make(chan datastore.Event, 64), seen: map[datastore.Key]runtime.Object{}}
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, c.out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && err != context.Canceled {
			t.Errorf("Run: %v", err)
		}
	})
	return c
}

func calicoUnstructured(gv schema.GroupVersion, kind, ns, name string, spec map[string]any) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetAPIVersion(gv.String())
	u.SetKind(kind)
	u.SetNamespace(ns)
	u.SetName(name)
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{Manager: "kubectl"}})
	return u
}

func fakeCluster(t *testing.T, gv schema.GroupVersion, objs ...runtime.Object) (*fake.Clientset, *dynamicfake.FakeDynamicClient) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "a", Labels: map[string]string{"app": "web"},
			Annotations:   map[string]string{"big": strings.Repeat("x", 1000)},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "c", Image: "nginx",
			Env:   []corev1.EnvVar{{Name: "A", Value: "b"}},
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {ContainerPort: 81}}}}},
		Status: corev1.PodStatus{PodIP: "10.0.0.1", Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: "Ready"}}},
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"team": "x"}}}
	client := fake.NewClientset(pod, ns)
	client.Discovery().(*fakediscovery.FakeDiscovery).Resources = []*metav1.APIResourceList{{
		GroupVersion: gv.String(),
		APIResources: []metav1.APIResource{{Name: "networkpolicies", Namespaced: true, Kind: "NetworkPolicy"},
			{Name: "globalnetworksets", Kind: "GlobalNetworkSet"}},
	}}
	listKinds := map[schema.GroupVersionResource]string{
		gv.WithResource("networkpolicies"):   "NetworkPolicyList",
		gv.WithResource("globalnetworksets"): "GlobalNetworkSetList",
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, objs...)
	return client, dyn
}

func TestFakeClusterLegacyGroup(t *testing.T) {
	gv := v3.LegacyGroupVersion
	np := calicoUnstructured(gv, "NetworkPolicy", "a", "allow", map[string]any{
		"selector": "app == 'web'", "ingress": []any{map[string]any{"action": "Allow",
			"destination": map[string]any{"ports": []any{int64(80), "http"}}}},
		"futureField": true, // unknown fields are ignored, not fatal
	})
	client, dyn := fakeCluster(t, gv, np)
	d := New(client, dyn, client.Discovery(), zaptest.NewLogger(t), Options{})
	c := start(t, d)
	c.until("in-sync", func() bool { return c.inSync })
	want := []string{"Namespace a", "NetworkPolicy a/allow", "Pod a/web"}
	if diff := cmp.Diff(want, keys(c.seen)); diff != "" {
		t.Fatalf("snapshot (-want +got):\n%s", diff)
	}
	got := c.seen[datastore.Key{Kind: datastore.KindNetworkPolicy, Namespace: "a", Name: "allow"}].(*v3.NetworkPolicy)
	if got.Spec.Selector != "app == 'web'" || len(got.Spec.Ingress) != 1 || len(got.Spec.Ingress[0].Destination.Ports) != 2 {
		t.Errorf("decoded policy = %+v", got.Spec)
	}
	if got.APIVersion != "projectcalico.org/v3" || len(got.ManagedFields) != 0 {
		t.Errorf("policy apiVersion %q managedFields %v: want projectcalico.org/v3 and none", got.APIVersion, got.ManagedFields)
	}

	// The pod is slimmed: what policy needs stays, the rest is gone.
	pod := c.seen[datastore.Key{Kind: datastore.KindPod, Namespace: "a", Name: "web"}].(*corev1.Pod)
	if pod.Labels["app"] != "web" || pod.Spec.NodeName != "n1" || pod.Status.PodIP != "10.0.0.1" ||
		len(pod.Spec.Containers) != 1 || len(pod.Spec.Containers[0].Ports) != 1 || pod.Spec.Containers[0].Ports[0].Name != "http" {
		t.Errorf("slim pod lost what policy reads: %+v", pod)
	}
	if len(pod.Annotations) != 0 || len(pod.ManagedFields) != 0 || pod.Spec.Containers[0].Image != "" ||
		len(pod.Spec.Containers[0].Env) != 0 || len(pod.Status.Conditions) != 0 {
		t.Errorf("slim pod kept unneeded fields: %+v", pod)
	}

	// Changes and deletions flow through.
	ctx := context.Background()
	pod2 := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "a"}}
	if _, err := client.CoreV1().Pods("a").Create(ctx, pod2, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	gvr := gv.WithResource("networkpolicies")
	if err := dyn.Resource(gvr).Namespace("a").Delete(ctx, "allow", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.until("pod added and policy deleted", func() bool {
		return len(c.seen) == 3 && c.seen[datastore.Key{Kind: datastore.KindPod, Namespace: "a", Name: "db"}] != nil
	})
	if diff := cmp.Diff([]string{"Namespace a", "Pod a/db", "Pod a/web"}, keys(c.seen)); diff != "" {
		t.Errorf("after changes (-want +got):\n%s", diff)
	}
}

func TestGroupSelection(t *testing.T) {
	for _, tc := range []struct {
		name, force string
		served      schema.GroupVersion
		wantErr     bool
	}{
		{"v3 served", "", v3.SchemeGroupVersion, false},
		{"legacy only", "", v3.LegacyGroupVersion, false},
		{"forced legacy but v3 served", v3.LegacyGroupName, v3.SchemeGroupVersion, true},
		{"unknown group", "example.com", v3.SchemeGroupVersion, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, dyn := fakeCluster(t, tc.served)
			d := New(client, dyn, client.Discovery(), zaptest.NewLogger(t), Options{Group: tc.force})
			gv, kinds, err := d.calicoGroup()
			if tc.wantErr {
				if err == nil {
					t.Fatalf("calicoGroup = %v, want an error", gv)
				}
				return
			}
			if err != nil || gv != tc.served || len(kinds) != 2 {
				t.Fatalf("calicoGroup = %v, %d kinds, %v; want %v with 2 kinds", gv, len(kinds), err, tc.served)
			}
		})
	}
}

func TestQueueBatchesAndOrdersInSync(t *testing.T) {
	var q queue
	q.signal = make(chan struct{}, 1)
	for i := range 5 {
		q.push(item{update: datastore.Update{Key: datastore.Key{Kind: datastore.KindPod, Name: string(rune('a' + i))}}})
	}
	q.push(item{inSync: true})
	q.push(item{update: datastore.Update{Key: datastore.Key{Kind: datastore.KindPod, Name: "z"}}})
	evs := q.take(2)
	var shape []string
	for _, ev := range evs {
		switch {
		case ev.InSync:
			shape = append(shape, "sync")
		default:
			var names []string
			for _, u := range ev.Updates {
				names = append(names, u.Key.Name)
			}
			shape = append(shape, strings.Join(names, ""))
		}
	}
	if diff := cmp.Diff([]string{"ab", "cd", "e", "sync", "z"}, shape); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
