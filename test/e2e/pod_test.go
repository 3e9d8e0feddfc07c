package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/palisadenet/palisade/internal/netnstest"
)

// pod is one simulated pod: an API object bound to a node and a namespace plumbed
// by palisade-cni.
type pod struct {
	namespace, name string
	node            *node
	ns              *netnstest.NS
	ip              netip.Addr
	ports           []uint16 // where its echo servers listen
}

func (p *pod) key() string { return p.namespace + "/" + p.name }

// podSpec says what to create.
type podSpec struct {
	namespace, name string
	labels          map[string]string
	node            *node
	ports           []uint16 // TCP and UDP echo listeners, named serve-<port>-<proto>
}

var containerSeq atomic.Uint32

// ensureNamespace creates a namespace with labels and its default ServiceAccount (the
// controller manager's job; the ServiceAccount admission plugin needs it for pods).
func (c *cluster) ensureNamespace(name string, labels map[string]string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.client.CoreV1().Namespaces().Create(ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		c.t.Fatalf("creating namespace %s: %v", name, err)
	}
	_, err = c.client.CoreV1().ServiceAccounts(name).Create(ctx,
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		c.t.Fatalf("creating service account %s/default: %v", name, err)
	}
}

// addPod does what the scheduler, kubelet and container runtime do for a pod: create
// it bound to the node, create its network namespace, run palisade-cni ADD, start
// the pod's servers and report the pod Running with its IP.
func (c *cluster) addPod(spec podSpec) *pod {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var ports []corev1.ContainerPort
	for _, port := range spec.ports {
		ports = append(ports,
			corev1.ContainerPort{Name: fmt.Sprintf("serve-%d-tcp", port), ContainerPort: int32(port), Protocol: corev1.ProtocolTCP},
			corev1.ContainerPort{Name: fmt.Sprintf("serve-%d-udp", port), ContainerPort: int32(port), Protocol: corev1.ProtocolUDP})
	}
	obj := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: spec.name, Namespace: spec.namespace, Labels: spec.labels},
		Spec: corev1.PodSpec{
			NodeName:                      spec.node.name,
			TerminationGracePeriodSeconds: ptr(int64(0)),
			Containers:                    []corev1.Container{{Name: "app", Image: "registry.invalid/e2e-echo", Ports: ports}},
		},
	}
	created, err := c.client.CoreV1().Pods(spec.namespace).Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatalf("creating pod %s/%s: %v", spec.namespace, spec.name, err)
	}
	p := &pod{namespace: spec.namespace, name: spec.name, node: spec.node,
		ns: netnstest.New(c.t, "pod"), ports: spec.ports}
	containerID := fmt.Sprintf("%08x%056x", os.Getpid(), containerSeq.Add(1))
	result, err := c.cni(ctx, "ADD", p, containerID, string(created.UID))
	if err != nil {
		c.t.Fatal(err)
	}
	if p.ip, err = resultIPv4(result); err != nil {
		c.t.Fatalf("palisade-cni ADD for %s: %v", p.key(), err)
	}
	for _, port := range spec.ports {
		p.ns.Listen(c.t, port)
	}
	c.reportRunning(ctx, created, p.ip)
	c.pods[p.key()] = p
	return p
}

func ptr[T any](v T) *T { return &v }

// cniConf is the plugin's entry of manifests/cni/10-palisade.conflist as a runtime
// passes it: the list's name and cniVersion copied in, with this node's name, the
// kubeconfig and a log file filled in the way the installer does. The MTU
// stays the conflist's (1450), which also fits VXLAN.
func (c *cluster) cniConf(n *node) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(c.root, "manifests", "cni", "10-palisade.conflist"))
	if err != nil {
		return nil, fmt.Errorf("reading the conflist: %w", err)
	}
	var list struct {
		Name       string           `json:"name"`
		CNIVersion string           `json:"cniVersion"`
		Plugins    []map[string]any `json:"plugins"`
	}
	if err := json.Unmarshal(raw, &list); err != nil || len(list.Plugins) == 0 {
		return nil, fmt.Errorf("decoding the conflist: %v (%d plugins)", err, len(list.Plugins))
	}
	conf := list.Plugins[0]
	conf["name"], conf["cniVersion"] = list.Name, list.CNIVersion
	conf["nodename"] = n.name
	conf["kubernetes"] = map[string]any{"kubeconfig": c.cp.Kubeconfig}
	conf["log_file_path"] = filepath.Join(c.work, "cni-"+n.name+".log")
	return json.Marshal(conf)
}

// cni runs palisade-cni in the node's namespace exactly as kubelet's runtime does.
func (c *cluster) cni(ctx context.Context, command string, p *pod, containerID, uid string) ([]byte, error) {
	conf, err := c.cniConf(p.node)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", p.node.ns.Name, filepath.Join(c.bin, "palisade-cni"))
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"CNI_COMMAND=" + command,
		"CNI_CONTAINERID=" + containerID,
		"CNI_NETNS=" + p.ns.Path(),
		"CNI_IFNAME=eth0",
		"CNI_PATH=" + c.bin,
		fmt.Sprintf("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_INFRA_CONTAINER_ID=%s;K8S_POD_UID=%s",
			p.namespace, p.name, containerID, uid),
	}
	cmd.Stdin = bytes.NewReader(conf)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("palisade-cni %s for %s on %s: %w\nstdout: %s\nstderr: %s",
			command, p.key(), p.node.name, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}

// resultIPv4 reads the first IPv4 address of a CNI result.
func resultIPv4(out []byte) (netip.Addr, error) {
	var result struct {
		IPs []struct {
			Address string `json:"address"`
		} `json:"ips"`
	}
	if err := json.Unmarshal(out, &result); err != nil {
		return netip.Addr{}, fmt.Errorf("decoding result %q: %w", out, err)
	}
	for _, ip := range result.IPs {
		pfx, err := netip.ParsePrefix(ip.Address)
		if err == nil && pfx.Addr().Is4() {
			return pfx.Addr(), nil
		}
	}
	return netip.Addr{}, fmt.Errorf("no IPv4 address in result %s", strings.TrimSpace(string(out)))
}

// reportRunning writes the pod's status as the kubelet does once its sandbox is up.
func (c *cluster) reportRunning(ctx context.Context, obj *corev1.Pod, ip netip.Addr) {
	c.t.Helper()
	for attempt := 0; ; attempt++ {
		cur, err := c.client.CoreV1().Pods(obj.Namespace).Get(ctx, obj.Name, metav1.GetOptions{})
		if err != nil {
			c.t.Fatalf("reading pod %s/%s: %v", obj.Namespace, obj.Name, err)
		}
		now := metav1.Now()
		cur.Status = corev1.PodStatus{
			Phase:     corev1.PodRunning,
			HostIP:    nodeIP(c, obj.Spec.NodeName),
			PodIP:     ip.String(),
			PodIPs:    []corev1.PodIP{{IP: ip.String()}},
			StartTime: &now,
			Conditions: []corev1.PodCondition{
				{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
				{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
			},
		}
		_, err = c.client.CoreV1().Pods(obj.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil {
			return
		}
		// The CNI's annotation patch may race with our read: retry a conflict.
		if !apierrors.IsConflict(err) || attempt == 5 {
			c.t.Fatalf("reporting pod %s/%s running: %v", obj.Namespace, obj.Name, err)
		}
	}
}

func nodeIP(c *cluster, name string) string {
	for _, n := range c.nodes {
		if n.name == name {
			return n.addr.Addr().String()
		}
	}
	return ""
}
