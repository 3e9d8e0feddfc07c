package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"text/template"
	"time"
)

// The truth-table world is the upstream Kubernetes network-policy model: namespaces
// x, y and z (labels ns=<name>), pods a, b and c in each (labels pod=<name>) serving
// TCP and UDP on 80 and 81. Pods are spread so each namespace has one pod on each
// node and same-named pods sit on different nodes: most probes cross nodes.
var (
	ttNamespaces = []string{"x", "y", "z"}
	ttPods       = []string{"a", "b", "c"}
	ttPorts      = []uint16{80, 81}
)

func (c *cluster) testTruthTable(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "truthtable", "*.yaml"))
	if err != nil || len(files) < 15 {
		t.Fatalf("want at least 15 policies in testdata/truthtable, found %d (%v)", len(files), err)
	}
	sort.Strings(files)
	var pods []*pod
	for i, ns := range ttNamespaces {
		c.ensureNamespace(ns, map[string]string{"ns": ns})
		for j, name := range ttPods {
			p := c.addPod(podSpec{namespace: ns, name: name, node: c.nodes[(i+j)%len(c.nodes)],
				labels: map[string]string{"pod": name}, ports: ttPorts})
			t.Logf("pod %s: %s on %s", p.key(), p.ip, p.node.name)
			pods = append(pods, p)
		}
	}
	var probes []probe
	for _, src := range pods {
		for _, dst := range pods {
			// A pod's traffic to its own address never leaves its namespace, so no
			// policy can apply to it: those pairs are not probed.
			if src == dst {
				continue
			}
			for _, port := range ttPorts {
				probes = append(probes, probe{src, dst, TCP, port}, probe{src, dst, UDP, port})
			}
		}
	}
	vars := template.FuncMap{
		"ip": func(key string) (string, error) {
			p, ok := c.pods[key]
			if !ok {
				return "", fmt.Errorf("no pod %s", key)
			}
			return p.ip.String(), nil
		},
		"pool": func() string { return podPool },
	}
	c.agreeWithEvaluator(t, "no policy", probes, 60*time.Second)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		manifest := renderManifest(t, f, vars)
		t.Run(name, func(t *testing.T) {
			if _, err := c.kubectl(strings.NewReader(manifest), "apply", "-f", "-"); err != nil {
				t.Fatal(err)
			}
			defer func() {
				if _, err := c.kubectl(strings.NewReader(manifest), "delete", "-f", "-"); err != nil {
					t.Fatal(err)
				}
			}()
			c.agreeWithEvaluator(t, name, probes, 15*time.Second)
		})
	}
	c.agreeWithEvaluator(t, "every policy deleted", probes, 15*time.Second)
}

// agreeWithEvaluator waits until every probe agrees with the evaluator's verdict for
// what the cluster holds now, and logs how many the policy denies.
func (c *cluster) agreeWithEvaluator(t *testing.T, what string, probes []probe, timeout time.Duration) {
	t.Helper()
	want, err := c.expected(probes)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	wrong, rounds := waitForVerdicts(probes, want, 400*time.Millisecond, timeout)
	if len(wrong) > 0 {
		t.Errorf("%s: after %s (%d rounds) %d of %d probes disagree with the evaluator:\n  %s\n%s",
			what, timeout, rounds, len(wrong), len(probes), join(wrong), c.saveRulesets(what))
		return
	}
	denied := 0
	for _, w := range want {
		if !w {
			denied++
		}
	}
	t.Logf("%s: %d probes (%d denied) agree with the evaluator after %d round(s), %s",
		what, len(probes), denied, rounds, time.Since(start).Round(10*time.Millisecond))
}

// renderManifest fills the pods' real addresses into a policy template.
func renderManifest(t *testing.T, path string, funcs template.FuncMap) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New(filepath.Base(path)).Funcs(funcs).Parse(string(raw))
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, nil); err != nil {
		t.Fatalf("rendering %s: %v", path, err)
	}
	return b.String()
}
