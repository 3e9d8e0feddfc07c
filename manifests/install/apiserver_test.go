package install

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/palisadenet/palisade/test/controlplane"
)

// TestApplyToAPIServer installs the CRDs of manifests/palisade.yaml for real, then
// creates every other object with dryRun=All so the apiserver validates each one
// (schemas, defaulting, the priority classes, admission) without running anything.
// It then really creates the accounts and RBAC and asks the apiserver what each
// account may do.
func TestApplyToAPIServer(t *testing.T) {
	data, err := os.ReadFile(manifestPath)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Objects(data)
	if err != nil {
		t.Fatal(err)
	}
	cp := controlplane.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	others := installCRDs(ctx, t, cp, objs)
	dyn, mapper := dynamicClient(t, cp)
	for _, u := range others {
		if err := create(ctx, dyn, mapper, u, true); err != nil {
			t.Errorf("dry-run create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}

	t.Run("kubectl apply --dry-run=server", func(t *testing.T) {
		controlplane.RequireKubectl(t)
		out, err := cp.Kubectl(ctx, nil, "apply", "--dry-run=server", "-f", manifestPath)
		if err != nil {
			t.Fatalf("%v", err)
		}
		if n := strings.Count(out, "(server dry run)"); n != len(objs) {
			t.Errorf("kubectl reported %d objects, want %d:\n%s", n, len(objs), out)
		}
	})

	t.Run("RBAC", func(t *testing.T) {
		for _, u := range others {
			switch u.GetKind() {
			case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
				if err := create(ctx, dyn, mapper, u, false); err != nil {
					t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
				}
			}
		}
		checkAccess(ctx, t, cp)
		checkNodeWorks(ctx, t, cp)
	})

	// The pod templates are validated as pods only when a controller creates them:
	// create one pod of each template with dryRun (after the service accounts exist),
	// which also checks the priority class and the service account.
	t.Run("pod templates", func(t *testing.T) {
		client, err := kubernetes.NewForConfig(cp.Config)
		if err != nil {
			t.Fatal(err)
		}
		m := parse(t, data)
		for name, tmpl := range map[string]corev1.PodTemplateSpec{
			"palisade-node":        m.daemonSet.Spec.Template,
			"palisade-controllers": m.deployment.Spec.Template,
		} {
			pod := &corev1.Pod{ObjectMeta: tmpl.ObjectMeta, Spec: tmpl.Spec}
			pod.Name, pod.Namespace = name+"-dry-run", "kube-system"
			pod.Spec.NodeName = "node-1"
			_, err := client.CoreV1().Pods("kube-system").Create(ctx, pod,
				metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldValidation: "Strict"})
			if err != nil {
				t.Errorf("a pod of the %s template is refused: %v", name, err)
			}
		}
	})
}

func installCRDs(ctx context.Context, t *testing.T, cp *controlplane.ControlPlane, objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	t.Helper()
	client, err := apiextensionsclient.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var others []*unstructured.Unstructured
	for _, u := range objs {
		if u.GetKind() != "CustomResourceDefinition" {
			others = append(others, u)
			continue
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, crd); err != nil {
			t.Fatalf("CRD %s: %v", u.GetName(), err)
		}
		if _, err := client.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating CRD %s: %v", crd.Name, err)
		}
		names = append(names, crd.Name)
	}
	if err := cp.WaitEstablished(ctx, names...); err != nil {
		t.Fatal(err)
	}
	return others
}

func dynamicClient(t *testing.T, cp *controlplane.ControlPlane) (dynamic.Interface, *restmapper.DeferredDiscoveryRESTMapper) {
	t.Helper()
	dyn, err := dynamic.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	return dyn, restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
}

func create(ctx context.Context, dyn dynamic.Interface, mapper *restmapper.DeferredDiscoveryRESTMapper, u *unstructured.Unstructured, dryRun bool) error {
	gvk := u.GroupVersionKind()
	mapping, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	opts := metav1.CreateOptions{FieldValidation: "Strict"}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	res := dyn.Resource(mapping.Resource)
	if u.GetNamespace() != "" {
		_, err = res.Namespace(u.GetNamespace()).Create(ctx, u.DeepCopy(), opts)
	} else {
		_, err = res.Create(ctx, u.DeepCopy(), opts)
	}
	return err
}

// access is one question to the apiserver's authorizer.
type access struct {
	verb, group, resource, namespace, name string
	allowed                                bool
}

// checkAccess asks, through SubjectAccessReviews, what the two service accounts may do:
// what the code needs is allowed, a sample of what it does not need is refused.
func checkAccess(ctx context.Context, t *testing.T, cp *controlplane.ControlPlane) {
	t.Helper()
	client, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	const calico = "projectcalico.org"
	cases := map[string][]access{
		"palisade-node": {
			{"watch", "", "pods", "", "", true},
			{"list", "", "namespaces", "", "", true},
			{"list", "", "serviceaccounts", "", "", true},
			{"watch", "", "nodes", "", "", true},
			{"watch", "networking.k8s.io", "networkpolicies", "", "", true},
			{"patch", "", "nodes", "", "node-1", true},
			{"patch", "", "pods", "default", "web", true},
			{"watch", calico, "globalnetworkpolicies", "", "", true},
			{"list", calico, "felixconfigurations", "", "", true},
			{"create", calico, "ippools", "", "", true},
			{"update", calico, "ipamblocks", "", "", true},
			{"create", calico, "blockaffinities", "", "", true},
			{"delete", calico, "ipamhandles", "", "", true},
			{"get", "", "secrets", "kube-system", "", false},
			{"delete", "", "pods", "default", "web", false},
			{"create", "", "pods", "default", "", false},
			{"update", calico, "networkpolicies", "default", "", false},
			{"delete", calico, "ippools", "", "", false},
			{"delete", "", "nodes", "", "node-1", false},
		},
		"palisade-controllers": {
			{"list", "", "pods", "", "", true},
			{"get", "", "pods", "default", "web", true},
			{"list", "", "nodes", "", "", true},
			{"list", calico, "ippools", "", "", true},
			{"update", calico, "ipamblocks", "", "", true},
			{"delete", calico, "ipamblocks", "", "", true},
			{"delete", calico, "blockaffinities", "", "", true},
			{"delete", calico, "ipamhandles", "", "", true},
			{"create", "coordination.k8s.io", "leases", "kube-system", "", true},
			{"update", "coordination.k8s.io", "leases", "kube-system", "palisade-controllers", true},
			{"update", "coordination.k8s.io", "leases", "kube-system", "kube-scheduler", false},
			{"create", "coordination.k8s.io", "leases", "default", "", false},
			{"create", calico, "ipamblocks", "", "", false},
			{"delete", "", "pods", "default", "web", false},
			{"patch", "", "nodes", "", "node-1", false},
			{"list", "", "secrets", "", "", false},
		},
	}
	for sa, list := range cases {
		user := "system:serviceaccount:kube-system:" + sa
		for _, a := range list {
			review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:   user,
				Groups: []string{"system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"},
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Verb: a.verb, Group: a.group, Resource: a.resource, Namespace: a.namespace, Name: a.name,
				},
			}}
			got, err := client.AuthorizationV1().SubjectAccessReviews().Create(ctx, review, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("SubjectAccessReview: %v", err)
			}
			if got.Status.Allowed != a.allowed {
				t.Errorf("%s %s %s.%s ns=%q name=%q: allowed=%v, want %v (%s)", sa, a.verb, a.resource, a.group,
					a.namespace, a.name, got.Status.Allowed, a.allowed, got.Status.Reason)
			}
		}
	}
}
