// Package bench holds the end-to-end benchmarks of the built agent: palisade-node
// runs as a real process in a fresh network namespace against a file datastore of
// internal/benchcluster's synthetic cluster, and the benchmark reports the time
// until /readiness answers (everything read, calculated and programmed into
// nftables) and the process's resident memory.
package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containernetworking/plugins/pkg/ns"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/palisadenet/palisade/internal/benchcluster"
)

// benchPods is the cluster size: PALISADE_BENCH_PODS, default 100,000.
func benchPods() int {
	if v, err := strconv.Atoi(os.Getenv("PALISADE_BENCH_PODS")); err == nil && v > 0 {
		return v
	}
	return 100_000
}

var (
	datasetOnce sync.Once
	datasetDir  string
	datasetErr  error
	agentOnce   sync.Once
	agentBin    string
	agentErr    error
)

// writeDataset writes the cluster as multi-document manifests, 1,000 objects a file.
func writeDataset(dir string, pods int) error {
	c := benchcluster.Build(pods)
	objs := c.Others
	for _, p := range c.Pods {
		objs = append(objs, p)
	}
	for start := 0; start < len(objs); start += 1000 {
		var b strings.Builder
		for _, o := range objs[start:min(start+1000, len(objs))] {
			if err := writeDoc(&b, o); err != nil {
				return err
			}
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("objects-%06d.yaml", start)), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func writeDoc(b *strings.Builder, o runtime.Object) error {
	t := reflect.TypeOf(o).Elem()
	apiVersion := map[string]string{
		"k8s.io/api/core/v1":                     "v1",
		"k8s.io/api/networking/v1":               "networking.k8s.io/v1",
		"github.com/palisadenet/palisade/api/v3": "projectcalico.org/v3",
	}[t.PkgPath()]
	if apiVersion == "" {
		return fmt.Errorf("no apiVersion known for %s", t)
	}
	o.GetObjectKind().SetGroupVersionKind(schema.FromAPIVersionAndKind(apiVersion, t.Name()))
	raw, err := yaml.Marshal(o)
	if err != nil {
		return err
	}
	b.WriteString("---\n")
	b.Write(raw)
	return nil
}

func requireRoot(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root: runs palisade-node in a network namespace")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("needs %s", tool)
		}
	}
}

// BenchmarkAgentColdStart starts palisade-node (policy only, no routing) on node0
// of the cluster and waits for readiness.
func BenchmarkAgentColdStart(b *testing.B) {
	requireRoot(b)
	pods := benchPods()
	datasetOnce.Do(func() {
		datasetDir, datasetErr = os.MkdirTemp("", "palisade-bench-ds-")
		if datasetErr == nil {
			datasetErr = writeDataset(datasetDir, pods)
		}
	})
	agentOnce.Do(func() {
		agentBin = filepath.Join(os.TempDir(), fmt.Sprintf("palisade-node-bench-%d", os.Getpid()))
		if out, err := exec.Command("go", "build", "-buildvcs=false", "-o", agentBin, "../../cmd/palisade-node").CombinedOutput(); err != nil {
			agentErr = fmt.Errorf("building palisade-node: %v\n%s", err, out)
		}
	})
	if datasetErr != nil || agentErr != nil {
		b.Fatal(datasetErr, agentErr)
	}
	b.Logf("cluster: %d pods, %d policies, node %s holds %d", pods, pods/benchcluster.PodsPerNS*benchcluster.PoliciesPerNS, benchcluster.Node, benchcluster.LocalPods)
	var ready, rss, peak float64
	for i := 0; i < b.N; i++ {
		r, cur, hwm := runAgentOnce(b, datasetDir)
		ready, rss, peak = ready+r.Seconds(), rss+cur, peak+hwm
	}
	b.ReportMetric(ready/float64(b.N), "s-to-ready")
	b.ReportMetric(rss/float64(b.N), "MB-rss")
	b.ReportMetric(peak/float64(b.N), "MB-peak-rss")
}

// runAgentOnce runs one agent to readiness and returns the time it took and its
// current and peak RSS in MB 5 s after it became ready.
func runAgentOnce(b *testing.B, dir string) (time.Duration, float64, float64) {
	nsName := fmt.Sprintf("pal-bench-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", nsName).CombinedOutput(); err != nil {
		b.Fatalf("ip netns add: %v %s", err, out)
	}
	defer exec.Command("ip", "netns", "delete", nsName).Run()
	_ = exec.Command("ip", "-n", nsName, "link", "set", "lo", "up").Run()
	logFile, err := os.CreateTemp("", "palisade-bench-agent-*.log")
	if err != nil {
		b.Fatal(err)
	}
	defer os.Remove(logFile.Name())
	defer logFile.Close()
	cmd := exec.Command("ip", "netns", "exec", nsName, agentBin)
	cmd.Env = append(os.Environ(), "NODENAME="+benchcluster.Node, "DATASTORE_TYPE=file", "DATASTORE_DIR="+dir,
		"CALICO_NETWORKING_BACKEND=none", "FELIX_HEALTHHOST=127.0.0.1", "FELIX_PROMETHEUSMETRICSENABLED=false",
		"PALISADE_STATUS_SOCKET="+filepath.Join(os.TempDir(), nsName+".sock"), "FELIX_LOGSEVERITYSCREEN=Warning")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	b.ResetTimer()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	client := netnsHTTPClient("/var/run/netns/" + nsName)
	deadline := start.Add(5 * time.Minute)
	for {
		resp, err := client.Get("http://127.0.0.1:9099/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logFile.Name())
			b.Fatalf("agent not ready after 5 minutes; log:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	b.StopTimer()
	time.Sleep(5 * time.Second) // the agent returns its start-up garbage to the OS after the sync
	cur, peak := procMemory(b, cmd.Process.Pid)
	return took, cur, peak
}

// netnsHTTPClient dials from inside the namespace at path.
func netnsHTTPClient(path string) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		err := ns.WithNetNSPath(path, func(ns.NetNS) error {
			var err error
			conn, err = (&net.Dialer{Timeout: time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return conn, err
	}
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

// procMemory reads VmRSS and VmHWM (peak) in MB.
func procMemory(b *testing.B, pid int) (float64, float64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	var rss, hwm float64
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			hwm = kb / 1024
		}
	}
	return rss, hwm
}

// TestMain removes the generated dataset and binary after the benchmarks.
func TestMain(m *testing.M) {
	code := m.Run()
	if datasetDir != "" {
		_ = os.RemoveAll(datasetDir)
	}
	if agentBin != "" {
		_ = os.Remove(agentBin)
	}
	os.Exit(code)
}
