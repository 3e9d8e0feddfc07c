package resource

import (
	"fmt"
	"net/netip"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Group names this package understands besides the Kubernetes ones.
const (
	CalicoGroup       = "projectcalico.org"     // the user-facing API group, version v3
	LegacyCalicoGroup = "crd.projectcalico.org" // the CRD group existing clusters hold, version v1
)

// fieldError is one validation finding inside an object.
type fieldError struct {
	Path string
	Err  error
}

// kindInfo says how to build and check one kind.
type kindInfo struct {
	newObject  func() runtime.Object
	namespaced bool
	// target is the GroupVersionKind the decoded object is normalised to.
	target schema.GroupVersionKind
	// validate returns the object's semantic errors with field paths (optional).
	validate func(runtime.Object) []fieldError
}

// registry maps every accepted apiVersion+kind to how it decodes.
var registry = map[schema.GroupVersionKind]kindInfo{}

func register(gvk schema.GroupVersionKind, info kindInfo) {
	if info.target.Empty() {
		info.target = gvk
	}
	registry[gvk] = info
}

func init() {
	core := func(kind string, namespaced bool, newObject func() runtime.Object, validate func(runtime.Object) []fieldError) {
		register(schema.GroupVersionKind{Version: "v1", Kind: kind}, kindInfo{newObject: newObject, namespaced: namespaced, validate: validate})
	}
	core("Namespace", false, func() runtime.Object { return &corev1.Namespace{} }, nil)
	core("Pod", true, func() runtime.Object { return &corev1.Pod{} }, validatePod)
	core("ServiceAccount", true, func() runtime.Object { return &corev1.ServiceAccount{} }, nil)
	core("Node", false, func() runtime.Object { return &corev1.Node{} }, nil)
	register(networkingv1.SchemeGroupVersion.WithKind("NetworkPolicy"), kindInfo{
		newObject:  func() runtime.Object { return &networkingv1.NetworkPolicy{} },
		namespaced: true,
		validate:   validateK8sNetworkPolicy,
	})
}

// registerCalico registers a projectcalico.org/v3 kind and its crd.projectcalico.org/v1 twin.
func registerCalico(kind string, namespaced bool, newObject func() runtime.Object, validate func(runtime.Object) []fieldError) {
	v3 := schema.GroupVersionKind{Group: CalicoGroup, Version: "v3", Kind: kind}
	info := kindInfo{newObject: newObject, namespaced: namespaced, target: v3, validate: validate}
	register(v3, info)
	register(schema.GroupVersionKind{Group: LegacyCalicoGroup, Version: "v1", Kind: kind}, info)
}

// Kinds lists every accepted apiVersion/kind pair, sorted, for help texts and tests.
func Kinds() []string {
	out := make([]string, 0, len(registry))
	for gvk := range registry {
		out = append(out, gvk.GroupVersion().String()+" "+gvk.Kind)
	}
	sort.Strings(out)
	return out
}

func validatePod(obj runtime.Object) []fieldError {
	pod := obj.(*corev1.Pod)
	var errs []fieldError
	if ip := pod.Status.PodIP; ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			errs = append(errs, fieldError{"status.podIP", fmt.Errorf("invalid IP address %q", ip)})
		}
	}
	for i, pip := range pod.Status.PodIPs {
		if _, err := netip.ParseAddr(pip.IP); err != nil {
			errs = append(errs, fieldError{fmt.Sprintf("status.podIPs[%d].ip", i), fmt.Errorf("invalid IP address %q", pip.IP)})
		}
	}
	for i, c := range pod.Spec.Containers {
		for j, p := range c.Ports {
			path := fmt.Sprintf("spec.containers[%d].ports[%d]", i, j)
			if p.ContainerPort < 1 || p.ContainerPort > 65535 {
				errs = append(errs, fieldError{path + ".containerPort", fmt.Errorf("port %d out of range 1-65535", p.ContainerPort)})
			}
			switch p.Protocol {
			case "", corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
			default:
				errs = append(errs, fieldError{path + ".protocol", fmt.Errorf("unsupported protocol %q (want TCP, UDP or SCTP)", p.Protocol)})
			}
		}
	}
	return errs
}
