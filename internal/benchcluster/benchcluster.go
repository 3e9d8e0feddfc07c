// Package benchcluster generates the synthetic cluster the benchmarks share: 100
// pods and 10 policies (5 Kubernetes, 5 Calico v3) per namespace, pods spread over
// nodes so that node "node0" holds 250 of them, plus 100 GlobalNetworkSets. At
// 100,000 pods: 1,000 namespaces, 10,000 policies (100 of the v3 ones
// GlobalNetworkPolicies) and 100,000 selector-set members.
//
// In: a pod count. Out: typed objects (core/v1, networking/v1, api/v3), which the
// calc benchmarks feed to the graph and the agent benchmark writes as manifests.
package benchcluster

import (
	"fmt"

	v3 "github.com/palisadenet/palisade/api/v3"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Shape of the cluster.
const (
	PodsPerNS     = 100
	PoliciesPerNS = 10
	LocalPods     = 250
	Node          = "node0"
)

// Cluster is the generated objects: Others holds namespaces, sets and policies.
type Cluster struct {
	Pods   []*corev1.Pod
	Others []kruntime.Object
	Nodes  int
}

// Build generates a cluster of pods pods (a multiple of PodsPerNS).
func Build(pods int) *Cluster {
	nss := pods / PodsPerNS
	c := &Cluster{Nodes: max(1, pods/LocalPods)}
	for n := range nss {
		ns := fmt.Sprintf("ns%d", n)
		c.Others = append(c.Others, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"team": fmt.Sprintf("t%d", n%20), "env": []string{"prod", "dev", "test"}[n%3]}}})
		for i := range PoliciesPerNS / 2 {
			c.Others = append(c.Others, k8sPolicy(ns, n, i), v3Policy(ns, n, i))
		}
	}
	for i := range 100 {
		c.Others = append(c.Others, &v3.GlobalNetworkSet{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("gns%d", i),
			Labels: map[string]string{"role": fmt.Sprintf("r%d", i%5)}},
			Spec: v3.GlobalNetworkSetSpec{Nets: []string{fmt.Sprintf("172.%d.%d.0/24", 16+i/250, i%250)}}})
	}
	for i := range pods {
		c.Pods = append(c.Pods, Pod(i, c.Nodes))
	}
	return c
}

// Pod is pod i of a cluster with nodes nodes; labelOverride replaces its app label.
func Pod(i, nodes int, labelOverride ...string) *corev1.Pod {
	app := fmt.Sprintf("a%d", (i+i/nodes)%10)
	if len(labelOverride) > 0 {
		app = labelOverride[0]
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{
		Name: fmt.Sprintf("pod%d", i), Namespace: fmt.Sprintf("ns%d", i/PodsPerNS),
		Labels: map[string]string{"app": app, "role": fmt.Sprintf("r%d", i%5), "pod-template-hash": fmt.Sprintf("h%d", i%7)},
	}}
	p.Spec.NodeName = fmt.Sprintf("node%d", i%nodes)
	p.Spec.ServiceAccountName = "default"
	p.Spec.Containers = []corev1.Container{{Name: "c", Ports: []corev1.ContainerPort{
		{Name: "http", ContainerPort: 8080}, {Name: "metrics", ContainerPort: 9090}}}}
	p.Status.PodIP = fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
	p.Status.Phase = corev1.PodRunning
	return p
}

func k8sPolicy(ns string, n, i int) *networkingv1.NetworkPolicy {
	http := intstr.FromString("http")
	p443 := intstr.FromInt32(443)
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("k%d", i), Namespace: ns}}
	np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("a%d", (n+i)%10)}}
	np.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{
		{From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": fmt.Sprintf("a%d", (n+i+1)%10)}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: &http}}},
		{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": fmt.Sprintf("t%d", (n+i)%20)}}}},
			Ports: []networkingv1.NetworkPolicyPort{{Port: &p443}}},
	}
	if i%2 == 0 {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
		np.Spec.Egress = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{
			{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.255.0.0/16"}}}}}}
	}
	return np
}

func v3Policy(ns string, n, i int) kruntime.Object {
	order := float64(100 + i)
	tcp := v3.ProtocolFromName("TCP")
	ingress := []v3.Rule{{Action: v3.Allow, Protocol: &tcp,
		Source:      v3.EntityRule{Selector: fmt.Sprintf("role in {'r%d', 'r%d'}", i%5, (i+1)%5), NamespaceSelector: []string{"env == 'prod'", "team == 't3'", ""}[i%3]},
		Destination: v3.EntityRule{Ports: []v3.Port{v3.PortFromString("http"), v3.PortFromNumber(443)}}}}
	egress := []v3.Rule{{Action: v3.Deny, Destination: v3.EntityRule{Nets: []string{"192.168.0.0/16"}}},
		{Action: v3.Allow, Destination: v3.EntityRule{Selector: fmt.Sprintf("role == 'r%d'", i%5), NotSelector: "app == 'a9'"}}}
	sel := fmt.Sprintf("app == 'a%d' && role != 'r%d'", (n+i)%10, i%5)
	if i == 0 && n%10 == 0 { // 100 GlobalNetworkPolicies at 1,000 namespaces
		return &v3.GlobalNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("g-%s", ns)},
			Spec: v3.GlobalNetworkPolicySpec{Order: &order, Selector: fmt.Sprintf("app == 'a%d'", n%10),
				NamespaceSelector: fmt.Sprintf("team == 't%d'", n%20), Ingress: ingress, Egress: egress}}
	}
	return &v3.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("v%d", i), Namespace: ns},
		Spec: v3.NetworkPolicySpec{Order: &order, Selector: sel, Ingress: ingress, Egress: egress}}
}
