package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisadenet/palisade/calc/ifacename"
	"github.com/palisadenet/palisade/internal/netnstest"
	"github.com/palisadenet/palisade/routing/ipam"
)

// The pools and pods of the test's file datastore.
const (
	poolA4 = "10.244.0.0/24"
	poolA6 = "fd00:244::/64"
	poolB4 = "10.245.0.0/24"
)

const manifests = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pool-a}
spec: {cidr: ` + poolA4 + `, blockSize: 28, nodeSelector: all()}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pool-a6}
spec: {cidr: "` + poolA6 + `", nodeSelector: all()}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pool-b}
spec: {cidr: ` + poolB4 + `, blockSize: 28, nodeSelector: all()}
---
apiVersion: projectcalico.org/v3
kind: IPPool
metadata: {name: pool-one}
spec: {cidr: 10.250.0.0/32, blockSize: 32, nodeSelector: all()}
---
apiVersion: v1
kind: Pod
metadata:
  name: pod-one-1
  annotations: {cni.projectcalico.org/ipv4pools: '["pool-one"]'}
---
apiVersion: v1
kind: Pod
metadata:
  name: pod-one-2
  annotations: {cni.projectcalico.org/ipv4pools: '["pool-one"]'}
---
apiVersion: v1
kind: Pod
metadata:
  name: pod-b
  namespace: default
  annotations: {cni.projectcalico.org/ipv4pools: '["pool-b"]'}
---
apiVersion: v1
kind: Pod
metadata:
  name: pod-missing-pool
  namespace: default
  annotations: {cni.projectcalico.org/ipv4pools: '["no-such-pool"]'}
`

// nodeAddr is on the node namespace's loopback; pods ping it.
var nodeAddr = netip.MustParseAddr("10.99.0.1")

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// pluginBinary builds palisade-cni once per test process, the binary the runtime
// runs (TestMain removes it).
func pluginBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "palisade-cni-bin")
		if err != nil {
			buildErr = err
			return
		}
		binDir, binPath = dir, filepath.Join(dir, "palisade-cni")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// env is one test node: a node namespace, a datastore directory and the plugin.
type env struct {
	t    testing.TB
	bin  string
	dir  string
	node *netnstest.NS
}

func newEnv(t testing.TB) *env {
	netnstest.Require(t)
	e := &env{t: t, bin: pluginBinary(t), dir: t.TempDir(), node: netnstest.New(t, "node")}
	if err := os.WriteFile(filepath.Join(e.dir, "cluster.yaml"), []byte(manifests), 0o644); err != nil {
		t.Fatal(err)
	}
	e.node.MustRun(t, "ip", "addr", "add", nodeAddr.String()+"/32", "dev", "lo")
	return e
}

// conf is the plugin's entry of the conflist as the runtime passes it on stdin
// (name and cniVersion copied in from the list).
func (e *env) conf(extra string) []byte {
	return []byte(`{"cniVersion":"1.1.0","name":"k8s-pod-network","type":"palisade-cni",
		"datastore_type":"file","datastore_dir":"` + e.dir + `","nodename":"node-1","mtu":1450,
		"log_level":"debug",
		"ipam":{"type":"palisade-ipam","assign_ipv4":"true","assign_ipv6":"true","ipv6_pools":["pool-a6"]}` + extra + `}`)
}

type call struct {
	command, containerID, netns, pod string
	stdin                            []byte
}

type outcome struct {
	stdout, stderr string
	exit           int
}

// run executes the plugin inside the node namespace with the environment a
// container runtime sets for the kubelet.
func (e *env) run(c call) outcome {
	e.t.Helper()
	cmd := exec.Command("ip", "netns", "exec", e.node.Name, e.bin)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"CNI_COMMAND=" + c.command,
		"CNI_CONTAINERID=" + c.containerID,
		"CNI_NETNS=" + c.netns,
		"CNI_IFNAME=eth0",
		"CNI_PATH=" + filepath.Dir(e.bin),
		"CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=" + c.pod +
			";K8S_POD_INFRA_CONTAINER_ID=" + c.containerID + ";K8S_POD_UID=uid-" + c.pod,
	}
	cmd.Stdin = bytes.NewReader(c.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	o := outcome{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		o.exit = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("running the plugin: %v", err)
	}
	return o
}

type addResult struct {
	CNIVersion string `json:"cniVersion"`
	Interfaces []struct {
		Name, Mac, Sandbox string
		Mtu                int
	} `json:"interfaces"`
	IPs []struct {
		Address   string `json:"address"`
		Gateway   string `json:"gateway"`
		Interface int    `json:"interface"`
	} `json:"ips"`
	Routes []struct{ Dst, GW string } `json:"routes"`
}

func (e *env) add(pod *netnstest.NS, name, cid string) (addResult, string) {
	e.t.Helper()
	o := e.run(call{"ADD", cid, pod.Path(), name, e.conf("")})
	if o.exit != 0 {
		e.t.Fatalf("ADD %s: exit %d\nstdout: %s\nstderr: %s", name, o.exit, o.stdout, o.stderr)
	}
	var r addResult
	if err := json.Unmarshal([]byte(o.stdout), &r); err != nil {
		e.t.Fatalf("ADD %s result %q: %v", name, o.stdout, err)
	}
	return r, o.stdout
}

func (e *env) mustOK(what string, o outcome) {
	e.t.Helper()
	if o.exit != 0 {
		e.t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, o.exit, o.stdout, o.stderr)
	}
}

// cniError decodes the spec's error JSON from a failed call.
func (e *env) cniError(what string, o outcome) (code int, msg string) {
	e.t.Helper()
	if o.exit == 0 {
		e.t.Fatalf("%s succeeded, want a CNI error\nstdout: %s", what, o.stdout)
	}
	var ej struct {
		CNIVersion string `json:"cniVersion"`
		Code       int    `json:"code"`
		Msg        string `json:"msg"`
	}
	if err := json.Unmarshal([]byte(o.stdout), &ej); err != nil || ej.Code == 0 || ej.Msg == "" {
		e.t.Fatalf("%s: stdout %q is not the spec's error JSON (%v)", what, o.stdout, err)
	}
	return ej.Code, ej.Msg
}

// allocations lists the handles holding addresses in the file datastore.
func (e *env) allocations() map[string]int {
	e.t.Helper()
	store, err := ipam.NewFileStore(e.dir, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	defer store.Close()
	blocks, err := store.Blocks().List(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	held := map[string]int{}
	for _, b := range blocks {
		for _, idx := range b.Spec.Allocations {
			if idx != nil && b.Spec.Attributes[*idx].HandleID != nil {
				held[*b.Spec.Attributes[*idx].HandleID]++
			}
		}
	}
	return held
}

func (e *env) caliLinks() string {
	e.t.Helper()
	var names []string
	for _, line := range strings.Split(e.node.MustRun(e.t, "ip", "-o", "link", "show"), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], "cali") {
			names = append(names, strings.TrimSuffix(strings.Split(f[1], "@")[0], ":"))
		}
	}
	return strings.Join(names, " ")
}

func mustPrefix(t testing.TB, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAddCheckDelThroughBinary(t *testing.T) {
	e := newEnv(t)
	podA, podB := netnstest.New(t, "pa"), netnstest.New(t, "pb")
	resA, rawA := e.add(podA, "pod-a", "cid-a")
	resB, _ := e.add(podB, "pod-b", "cid-b")

	hostA := ifacename.Workload("default", "pod-a")
	if len(resA.Interfaces) != 2 || resA.Interfaces[0].Name != hostA || resA.Interfaces[0].Mac != "ee:ee:ee:ee:ee:ee" ||
		resA.Interfaces[1].Name != "eth0" || resA.Interfaces[1].Sandbox != podA.Path() || resA.Interfaces[1].Mtu != 1450 {
		t.Errorf("ADD interfaces = %+v, want %s (ee:ee:ee:ee:ee:ee) and eth0 in %s with MTU 1450", resA.Interfaces, hostA, podA.Path())
	}
	if len(resA.IPs) != 2 || len(resA.Routes) != 2 {
		t.Fatalf("ADD pod-a: %d IPs, %d routes; want a dual-stack result:\n%s", len(resA.IPs), len(resA.Routes), rawA)
	}
	a4, a6 := mustPrefix(t, resA.IPs[0].Address), mustPrefix(t, resA.IPs[1].Address)
	b4, b6 := mustPrefix(t, resB.IPs[0].Address), mustPrefix(t, resB.IPs[1].Address)
	for _, c := range []struct {
		addr netip.Prefix
		pool string
	}{{a4, poolA4}, {a6, poolA6}, {b4, poolB4}, {b6, poolA6}} {
		if !netip.MustParsePrefix(c.pool).Contains(c.addr.Addr()) || c.addr.Bits() != c.addr.Addr().BitLen() {
			t.Errorf("address %s: want a host prefix from %s", c.addr, c.pool)
		}
	}
	if resA.IPs[0].Interface != 1 || resA.IPs[0].Gateway != "169.254.1.1" || resA.IPs[1].Gateway != "fe80::ecee:eeff:feee:eeee" {
		t.Errorf("ADD ips = %+v, want interface 1 with Calico's gateways", resA.IPs)
	}

	// The kernel state the result describes.
	if got := e.node.MustRun(t, "ip", "route", "show", a4.String()); !strings.Contains(got, "dev "+hostA+" proto 81 scope link") {
		t.Errorf("node route to %s = %q, want dev %s proto 81 scope link", a4, got, hostA)
	}
	if got := e.node.MustRun(t, "sysctl", "-n", "net.ipv4.conf."+hostA+".proxy_arp", "net.ipv4.conf."+hostA+".forwarding", "net.ipv6.conf."+hostA+".forwarding"); strings.Fields(got)[0] != "1" || strings.Join(strings.Fields(got), "") != "111" {
		t.Errorf("host sysctls proxy_arp/forwarding/forwarding6 = %q, want 1 1 1", got)
	}
	if got := podA.MustRun(t, "ip", "route", "show", "default"); !strings.Contains(got, "default via 169.254.1.1 dev eth0") {
		t.Errorf("pod default route = %q", got)
	}
	if got := podA.MustRun(t, "ip", "link", "show", "eth0"); !strings.Contains(got, "mtu 1450") {
		t.Errorf("pod eth0 = %q, want mtu 1450", got)
	}

	// Traffic: the node, and the other pod through the node's routes, both families.
	for _, dst := range []netip.Addr{nodeAddr, b4.Addr(), b6.Addr()} {
		if err := podA.Ping(dst, 2*time.Second); err != nil {
			t.Errorf("pod-a → %s: %v", dst, err)
		}
	}

	checkConf := bytes.TrimSuffix(e.conf(`,"prevResult":`+rawA), []byte("}"))
	checkConf = append(checkConf, '}')
	e.mustOK("CHECK pod-a", e.run(call{"CHECK", "cid-a", podA.Path(), "pod-a", checkConf}))
	podA.MustRun(t, "ip", "addr", "del", a4.String(), "dev", "eth0")
	if code, msg := e.cniError("CHECK after removing the pod's address", e.run(call{"CHECK", "cid-a", podA.Path(), "pod-a", checkConf})); code != 104 || !strings.Contains(msg, "lacks address "+a4.String()) {
		t.Errorf("CHECK after damage = %d %q, want 104 naming the missing address", code, msg)
	}

	for i := range 2 {
		e.mustOK(fmt.Sprintf("DEL pod-a #%d", i+1), e.run(call{"DEL", "cid-a", podA.Path(), "pod-a", e.conf("")}))
	}
	if held := e.allocations(); held["k8s-pod-network.cid-a"] != 0 || held["k8s-pod-network.cid-b"] != 2 {
		t.Errorf("allocations after DEL pod-a = %v, want only cid-b's two", held)
	}
	if links := e.caliLinks(); strings.Contains(links, hostA) {
		t.Errorf("host interface %s left after DEL: %s", hostA, links)
	}
	// DEL of an unknown container in a namespace that no longer exists succeeds.
	e.mustOK("DEL unknown", e.run(call{"DEL", "cid-unknown", "/var/run/netns/palisade-gone", "pod-gone", e.conf("")}))
}

func TestBadInputReturnsCNIErrorsAndChangesNothing(t *testing.T) {
	e := newEnv(t)
	pod := netnstest.New(t, "p")
	// pool-one has a single address; pod-one-1 takes it, so pod-one-2 finds it exhausted.
	e.add(netnstest.New(t, "one"), "pod-one-1", "cid-one")
	before := e.allocations()
	beforeLinks := e.caliLinks()
	for _, tc := range []struct {
		name string
		c    call
		code int
		msg  string
	}{
		{"malformed config", call{"ADD", "cid-1", pod.Path(), "pod-a", []byte(`{"cniVersion":"1.0.0","name":`)}, 6, "unmarshal"},
		{"bad mtu", call{"ADD", "cid-1", pod.Path(), "pod-a", e.conf(`,"mtu":20`)}, 7, "mtu 20 out of range"},
		{"unknown pool", call{"ADD", "cid-1", pod.Path(), "pod-missing-pool", e.conf("")}, 100, "no-such-pool"},
		{"exhausted pool", call{"ADD", "cid-1", pod.Path(), "pod-one-2", e.conf("")}, 100, "pool-one"},
		{"invalid netns", call{"ADD", "cid-1", "/var/run/netns/palisade-no-such", "pod-a", e.conf("")}, 8, "palisade-no-such"},
		{"container id shape", call{"ADD", "bad/id", pod.Path(), "pod-a", e.conf("")}, 4, "invalid characters in containerID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, msg := e.cniError(tc.name, e.run(tc.c))
			t.Logf("code %d: %s", code, msg)
			if code != tc.code || !strings.Contains(msg, tc.msg) {
				t.Errorf("error %d %q, want code %d containing %q", code, msg, tc.code, tc.msg)
			}
			if held := e.allocations(); !maps.Equal(held, before) {
				t.Errorf("allocations after a failed ADD: %v, want %v", held, before)
			}
			if links := e.caliLinks(); links != beforeLinks {
				t.Errorf("host interfaces after a failed ADD: %q, want %q", links, beforeLinks)
			}
		})
	}
}

func TestOccupiedPodInterfaceChangesNothing(t *testing.T) {
	e := newEnv(t)
	// A repeated ADD for a running pod is refused and leaves the pod working.
	podA := netnstest.New(t, "pa")
	resA, _ := e.add(podA, "pod-a", "cid-a")
	code, msg := e.cniError("second ADD", e.run(call{"ADD", "cid-a", podA.Path(), "pod-a", e.conf("")}))
	if code != 103 || !strings.Contains(msg, "eth0 already exists") {
		t.Errorf("second ADD: %d %q, want 103 eth0 already exists", code, msg)
	}
	if held := e.allocations(); held["k8s-pod-network.cid-a"] != 2 || len(held) != 1 {
		t.Errorf("allocations after the refused ADD = %v, want cid-a's two only", held)
	}
	if err := podA.Ping(nodeAddr, 2*time.Second); err != nil {
		t.Errorf("pod-a lost connectivity after the refused ADD (%s): %v", resA.IPs[0].Address, err)
	}

	// A foreign eth0 in a fresh pod: nothing assigned, nothing created.
	pod := netnstest.New(t, "p")
	pod.MustRun(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "squat0")
	code, msg = e.cniError("ADD into an occupied eth0", e.run(call{"ADD", "cid-1", pod.Path(), "pod-x", e.conf("")}))
	if code != 103 || !strings.Contains(msg, "already exists") {
		t.Errorf("error %d %q, want 103 already exists", code, msg)
	}
	if held := e.allocations(); held["k8s-pod-network.cid-1"] != 0 {
		t.Errorf("allocations after the failed ADD: %v", held)
	}
	if links := e.caliLinks(); strings.Contains(links, ifacename.Workload("default", "pod-x")) {
		t.Errorf("host interface of pod-x after the failed ADD: %s", links)
	}
}

func TestVersionStatusGCThroughBinary(t *testing.T) {
	e := newEnv(t)
	o := e.run(call{command: "VERSION", stdin: []byte(`{"cniVersion":"1.1.0"}`)})
	e.mustOK("VERSION", o)
	var v struct {
		Supported []string `json:"supportedVersions"`
	}
	if err := json.Unmarshal([]byte(o.stdout), &v); err != nil || !strings.Contains(strings.Join(v.Supported, ","), "1.1.0") {
		t.Errorf("VERSION = %q (%v), want 1.1.0 among the supported versions", o.stdout, err)
	}
	e.mustOK("STATUS", e.run(call{command: "STATUS", stdin: e.conf("")}))
	bad := bytes.ReplaceAll(e.conf(""), []byte(e.dir), []byte("/var/run/palisade-test-no-such-dir"))
	if code, _ := e.cniError("STATUS without a datastore", e.run(call{command: "STATUS", stdin: bad})); code != 50 {
		t.Errorf("STATUS without a datastore: code %d, want 50", code)
	}

	podA, podB := netnstest.New(t, "pa"), netnstest.New(t, "pb")
	e.add(podA, "pod-a", "cid-a")
	e.add(podB, "pod-b", "cid-b")
	e.mustOK("GC", e.run(call{command: "GC", stdin: e.conf(`,"cni.dev/valid-attachments":[{"containerID":"cid-a","ifname":"eth0"}]`)}))
	if held := e.allocations(); held["k8s-pod-network.cid-a"] != 2 || held["k8s-pod-network.cid-b"] != 0 {
		t.Errorf("allocations after GC = %v, want cid-a kept and cid-b released", held)
	}
}

func TestIPAMPluginThroughLink(t *testing.T) {
	e := newEnv(t)
	link := filepath.Join(t.TempDir(), "palisade-ipam")
	if err := os.Symlink(e.bin, link); err != nil {
		t.Fatal(err)
	}
	e.bin = link
	pod := netnstest.New(t, "p")
	bridgeConf := []byte(`{"cniVersion":"1.0.0","name":"k8s-pod-network","type":"bridge","bridge":"cni0",
		"datastore_type":"file","datastore_dir":"` + e.dir + `","nodename":"node-1",
		"ipam":{"type":"palisade-ipam","ipv4_pools":["pool-b"]}}`)
	o := e.run(call{"ADD", "cid-i", pod.Path(), "pod-a", bridgeConf})
	e.mustOK("IPAM ADD", o)
	var res addResult
	if err := json.Unmarshal([]byte(o.stdout), &res); err != nil || len(res.IPs) != 1 || len(res.Interfaces) != 0 {
		t.Fatalf("IPAM ADD result %q (%v), want one IP, no interfaces", o.stdout, err)
	}
	if a := mustPrefix(t, res.IPs[0].Address); !netip.MustParsePrefix(poolB4).Contains(a.Addr()) {
		t.Errorf("IPAM ADD gave %s, want an address from pool-b", a)
	}
	if links := e.caliLinks(); links != "" {
		t.Errorf("IPAM mode created interfaces: %s", links)
	}
	for range 2 {
		e.mustOK("IPAM DEL", e.run(call{"DEL", "cid-i", pod.Path(), "pod-a", bridgeConf}))
	}
	if held := e.allocations(); len(held) != 0 {
		t.Errorf("allocations after IPAM DEL: %v", held)
	}
}
