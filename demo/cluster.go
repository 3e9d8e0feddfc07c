package main

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
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// outsideAddr is a host on the nodes' LAN that is in no IP pool.
var outsideAddr = netip.MustParseAddr("10.213.0.1")

// nsPrefix starts the name of every network namespace the demo creates, so a
// cleanup finds exactly ours and nothing else.
const nsPrefix = "pal-demo-"

// node is one simulated node: a network namespace on the shared bridge, running
// palisade-node.
type node struct {
	name    string
	ns      string
	address netip.Prefix
	agent   *exec.Cmd
	socket  string
	logPath string
	exited  chan struct{} // closed when the agent process ends
}

// agentFailure returns an error with the end of the agent's log when it has exited.
func (n *node) agentFailure() error {
	select {
	case <-n.exited:
	default:
		return nil
	}
	raw, _ := os.ReadFile(n.logPath)
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return fmt.Errorf("palisade-node on %s exited:\n  %s", n.name, strings.Join(lines, "\n  "))
}

// pod is one simulated pod: a network namespace plumbed by palisade-cni.
type pod struct {
	name, namespace string
	node            *node
	labels          map[string]string
	ns              string
	containerID     string
	ip              netip.Addr
}

// cluster is the demo's world and where its files live.
type cluster struct {
	bin      string // directory holding palisade-node and palisade-cni
	work     string
	dsDir    string // the file datastore every agent watches
	nodes    []*node
	pods     []*pod
	vxlan    bool   // VXLAN Always and no BGP, instead of native routing over BGP
	firewall string // the agents' firewall backend
}

func run(args ...string) (string, error) {
	cmd := exec.Command(args[0], args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

func inNS(ns string, args ...string) (string, error) {
	return run(append([]string{"ip", "netns", "exec", ns}, args...)...)
}

// cleanupLeftovers removes every namespace a previous demo run left behind. Deleting
// a namespace removes its interfaces, routes and nftables tables with it; nothing of
// the host's own networking is touched.
func cleanupLeftovers() error {
	out, err := run("ip", "netns", "list")
	if err != nil {
		return err
	}
	killAgentsIn := func(ns string) {
		pids, _ := run("ip", "netns", "pids", ns)
		for _, f := range strings.Fields(pids) {
			var pid int
			if _, err := fmt.Sscan(f, &pid); err == nil {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	for _, line := range strings.Split(out, "\n") {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		if strings.HasPrefix(name, nsPrefix) {
			killAgentsIn(name)
			if _, err := run("ip", "netns", "delete", name); err != nil {
				return err
			}
		}
	}
	return nil
}

// buildNetwork creates the LAN (a bridge in its own namespace) and the node
// namespaces attached to it.
func (c *cluster) buildNetwork() error {
	lan := nsPrefix + "lan"
	steps := [][]string{
		{"ip", "netns", "add", lan},
		{"ip", "-n", lan, "link", "set", "lo", "up"},
		{"ip", "-n", lan, "link", "add", "br0", "type", "bridge"},
		{"ip", "-n", lan, "link", "set", "br0", "up"},
		// The LAN's own address plays a host outside the cluster (natOutgoing).
		{"ip", "-n", lan, "addr", "add", outsideAddr.String() + "/24", "dev", "br0"},
	}
	for i, n := range c.nodes {
		port := fmt.Sprintf("port%d", i+1)
		steps = append(steps,
			[]string{"ip", "netns", "add", n.ns},
			[]string{"ip", "-n", n.ns, "link", "set", "lo", "up"},
			[]string{"ip", "-n", n.ns, "link", "add", "eth0", "type", "veth", "peer", "name", port, "netns", lan},
			[]string{"ip", "-n", n.ns, "addr", "add", n.address.String(), "dev", "eth0"},
			[]string{"ip", "-n", n.ns, "link", "set", "eth0", "up"},
			[]string{"ip", "-n", lan, "link", "set", port, "master", "br0"},
			[]string{"ip", "-n", lan, "link", "set", port, "up"},
		)
	}
	for _, s := range steps {
		if _, err := run(s...); err != nil {
			return err
		}
	}
	return nil
}

// writeDatastore lays out the manifests every agent reads: the namespace and the
// IP pool (native routing by default: the nodes share a LAN, as many bare-metal
// clusters do; or VXLAN Always).
func (c *cluster) writeDatastore() error {
	vxlanMode := "Never"
	if c.vxlan {
		vxlanMode = "Always"
	}
	files := map[string]string{
		"namespaces.yaml": `apiVersion: v1
kind: Namespace
metadata:
  name: production
`,
		"ippool.yaml": `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: default-ipv4-ippool
spec:
  cidr: 192.168.0.0/16
  blockSize: 26
  ipipMode: Never
  vxlanMode: ` + vxlanMode + `
  natOutgoing: true
  nodeSelector: all()
`,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(c.dsDir, name), []byte(content), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

// startAgent runs palisade-node inside the node's namespace, logging to a file.
func (c *cluster) startAgent(n *node) error {
	n.logPath = filepath.Join(c.work, n.name+".log")
	logFile, err := os.OpenFile(n.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("ip", "netns", "exec", n.ns, filepath.Join(c.bin, "palisade-node"))
	cmd.Env = append(os.Environ(),
		"NODENAME="+n.name, "DATASTORE_TYPE=file", "DATASTORE_DIR="+c.dsDir,
		"IP="+n.address.String(), "PALISADE_STATUS_SOCKET="+n.socket,
		"FELIX_IPTABLESREFRESHINTERVAL=10", "FELIX_ROUTEREFRESHINTERVAL=30")
	if c.vxlan {
		cmd.Env = append(cmd.Env, "CALICO_NETWORKING_BACKEND=vxlan")
	}
	if c.firewall != "" {
		cmd.Env = append(cmd.Env, "PALISADE_FIREWALL_BACKEND="+c.firewall)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting palisade-node on %s: %w", n.name, err)
	}
	n.agent = cmd
	n.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); logFile.Close(); close(n.exited) }()
	return nil
}

func (c *cluster) stopAgents() {
	for _, n := range c.nodes {
		if n.agent != nil && n.agent.Process != nil {
			_ = n.agent.Process.Signal(syscall.SIGTERM)
		}
	}
	time.Sleep(300 * time.Millisecond)
}

// cniConfig is the network configuration the demo hands palisade-cni, as a
// container runtime would from /etc/cni/net.d.
func (c *cluster) cniConfig(n *node) []byte {
	conf := map[string]any{
		"cniVersion": "1.0.0", "name": "k8s-pod-network", "type": "palisade-cni",
		"datastore_type": "file", "datastore_dir": c.dsDir, "nodename": n.name, "mtu": 1500,
		"ipam": map[string]any{"type": "palisade-ipam"},
	}
	b, _ := json.Marshal(conf)
	return b
}

// addPod creates the pod's namespace, calls palisade-cni ADD exactly as a runtime
// does, and records the pod (with the address CNI returned) in the datastore, as the
// kubelet would report it.
func (c *cluster) addPod(ctx context.Context, p *pod) error {
	if _, err := run("ip", "netns", "add", p.ns); err != nil {
		return err
	}
	if _, err := run("ip", "-n", p.ns, "link", "set", "lo", "up"); err != nil {
		return err
	}
	out, err := c.cni(ctx, "ADD", p)
	if err != nil {
		return err
	}
	var result struct {
		IPs []struct {
			Address string `json:"address"`
		} `json:"ips"`
	}
	if err := json.Unmarshal(out, &result); err != nil || len(result.IPs) == 0 {
		return fmt.Errorf("palisade-cni ADD for %s returned no address: %s", p.name, out)
	}
	pfx, err := netip.ParsePrefix(result.IPs[0].Address)
	if err != nil {
		return fmt.Errorf("palisade-cni ADD for %s: address %q: %w", p.name, result.IPs[0].Address, err)
	}
	p.ip = pfx.Addr()
	return c.writePod(p)
}

func (c *cluster) cni(ctx context.Context, command string, p *pod) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", p.node.ns, filepath.Join(c.bin, "palisade-cni"))
	cmd.Env = append(os.Environ(),
		"CNI_COMMAND="+command, "CNI_CONTAINERID="+p.containerID, "CNI_NETNS=/var/run/netns/"+p.ns,
		"CNI_IFNAME=eth0", "CNI_PATH="+c.bin,
		fmt.Sprintf("CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=%s;K8S_POD_NAME=%s;K8S_POD_INFRA_CONTAINER_ID=%s", p.namespace, p.name, p.containerID))
	cmd.Stdin = bytes.NewReader(c.cniConfig(p.node))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("palisade-cni %s for %s: %w: %s %s", command, p.name, err, stdout.String(), stderr.String())
	}
	return stdout.Bytes(), nil
}

func (c *cluster) writePod(p *pod) error {
	obj := corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: p.namespace, Labels: p.labels},
		Spec:       corev1.PodSpec{NodeName: p.node.name, Containers: []corev1.Container{{Name: "app", Image: "demo"}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: p.ip.String(), PodIPs: []corev1.PodIP{{IP: p.ip.String()}}},
	}
	raw, err := yaml.Marshal(obj)
	if err != nil {
		return err
	}
	dir := filepath.Join(c.dsDir, "pods")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp := filepath.Join(dir, "."+p.name+".tmp")
	if err := os.WriteFile(tmp, raw, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, p.namespace+"."+p.name+".yaml"))
}
