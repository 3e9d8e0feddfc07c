package k8s

import (
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The transforms run before objects enter the informer caches, so only what the
// agent reads is kept in memory: at 100k pods a full Pod (managed fields, env,
// volumes, conditions, container statuses) is several kilobytes, a slim one a few
// hundred bytes. Objects the transform does not know (tombstones) pass unchanged.

// slimMeta keeps identity, labels and the resource version.
func slimMeta(m metav1.ObjectMeta) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Labels: m.Labels, DeletionTimestamp: m.DeletionTimestamp,
	}
}

// TransformPod keeps labels, node, service account, host networking, named
// container ports, IPs and phase.
func TransformPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Pod{TypeMeta: pod.TypeMeta, ObjectMeta: slimMeta(pod.ObjectMeta)}
	slim.Spec.NodeName = pod.Spec.NodeName
	slim.Spec.ServiceAccountName = pod.Spec.ServiceAccountName
	slim.Spec.HostNetwork = pod.Spec.HostNetwork
	for _, c := range pod.Spec.Containers {
		var ports []corev1.ContainerPort
		for _, p := range c.Ports {
			if p.Name != "" {
				ports = append(ports, corev1.ContainerPort{Name: p.Name, ContainerPort: p.ContainerPort, Protocol: p.Protocol})
			}
		}
		if len(ports) > 0 {
			slim.Spec.Containers = append(slim.Spec.Containers, corev1.Container{Name: c.Name, Ports: ports})
		}
	}
	// The CNI plugin's address annotations are the only annotations the graph reads.
	for _, k := range []string{"cni.projectcalico.org/podIPs", "cni.projectcalico.org/podIP"} {
		if v, ok := pod.Annotations[k]; ok {
			if slim.Annotations == nil {
				slim.Annotations = map[string]string{}
			}
			slim.Annotations[k] = v
		}
	}
	slim.Status.Phase = pod.Status.Phase
	slim.Status.PodIP = pod.Status.PodIP
	slim.Status.PodIPs = pod.Status.PodIPs
	return slim, nil
}

// TransformLabelsOnly keeps the metadata of Namespaces and ServiceAccounts.
func TransformLabelsOnly(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Namespace:
		return &corev1.Namespace{TypeMeta: o.TypeMeta, ObjectMeta: slimMeta(o.ObjectMeta)}, nil
	case *corev1.ServiceAccount:
		return &corev1.ServiceAccount{TypeMeta: o.TypeMeta, ObjectMeta: slimMeta(o.ObjectMeta)}, nil
	}
	return obj, nil
}

// TransformNode keeps labels, annotations (Calico keeps BGP addresses there), pod
// CIDRs and addresses.
func TransformNode(obj any) (any, error) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return obj, nil
	}
	slim := &corev1.Node{TypeMeta: n.TypeMeta, ObjectMeta: slimMeta(n.ObjectMeta)}
	slim.Annotations = n.Annotations
	slim.Spec.PodCIDR, slim.Spec.PodCIDRs = n.Spec.PodCIDR, n.Spec.PodCIDRs
	slim.Status.Addresses = n.Status.Addresses
	return slim, nil
}

// TransformStripManaged drops managed fields and the last-applied annotation
// (a full copy of the object) from policies and unstructured Calico objects.
func TransformStripManaged(obj any) (any, error) {
	switch o := obj.(type) {
	case *networkingv1.NetworkPolicy:
		o.ManagedFields = nil
		delete(o.Annotations, corev1.LastAppliedConfigAnnotation)
	case *unstructured.Unstructured:
		o.SetManagedFields(nil)
		if a := o.GetAnnotations(); a != nil {
			delete(a, corev1.LastAppliedConfigAnnotation)
			o.SetAnnotations(a)
		}
	}
	return obj, nil
}
