package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs `palisade-demo` the way `sudo make demo` does and checks what a new
// user reads: the probes agree with the evaluator, and with the policy only frontend
// reaches database, and only on 6379.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the demo builds the binaries and runs a two-node cluster")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and nftables tables")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	bin := t.TempDir()
	for pkg, name := range map[string]string{"../cmd/palisade-node": "palisade-node", "../cmd/palisade-cni": "palisade-cni", "../cmd/palisadectl": "palisadectl", ".": "palisade-demo"} {
		out, err := exec.Command("go", "build", "-buildvcs=false", "-o", filepath.Join(bin, name), pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("building %s: %v\n%s", pkg, err, out)
		}
	}
	for _, tc := range []struct{ networking, firewall string }{{"bgp", "nftables"}, {"vxlan", "nftables"}, {"bgp", "iptables"}} {
		t.Run(tc.networking+"-"+tc.firewall, func(t *testing.T) {
			if tc.firewall == "iptables" {
				for _, tool := range []string{"iptables-restore", "ipset"} {
					if _, err := exec.LookPath(tool); err != nil {
						t.Skipf("needs %s", tool)
					}
				}
			}
			checkDemo(t, bin, tc.networking, tc.firewall)
		})
	}
}

func checkDemo(t *testing.T, bin, networking, firewall string) {
	cmd := exec.Command(filepath.Join(bin, "palisade-demo"), "--bin", bin, "--policy", "allow-tcp-6379.yaml",
		"--work", filepath.Join(t.TempDir(), "work"), "--networking", networking, "--firewall", firewall)
	out, err := cmd.CombinedOutput()
	text := string(out)
	t.Logf("demo output:\n%s", text)
	if err != nil {
		t.Fatalf("palisade-demo failed: %v", err)
	}
	if n := strings.Count(text, "agrees with the reference evaluator"); n != 2 {
		t.Errorf("want both matrices to agree with the evaluator, found %d agreeing", n)
	}
	after := text[strings.Index(text, "With allow-tcp-6379"):]
	rows := map[string]*regexp.Regexp{
		// columns: frontend:6379 frontend:80 other:6379 other:80 database:6379 database:80
		"frontend (node1)": regexp.MustCompile(`frontend \(node1\)\s+-\s+-\s+allowed\s+allowed\s+allowed\s+denied\s*\n`),
		"other (node1)":    regexp.MustCompile(`other \(node1\)\s+allowed\s+allowed\s+-\s+-\s+denied\s+denied\s*\n`),
		"database (node2)": regexp.MustCompile(`database \(node2\)\s+allowed\s+allowed\s+allowed\s+allowed\s+-\s+-\s*\n`),
	}
	for row, re := range rows {
		if !re.MatchString(after) {
			t.Errorf("row %q with the policy is not as expected", row)
		}
	}
	if !strings.Contains(text, "is seen from 10.213.0.11 (node1's address)") {
		t.Errorf("natOutgoing: the outside host did not see node1's address")
	}
	switch networking {
	case "bgp":
		if !strings.Contains(text, "| node-to-node mesh | up    |") {
			t.Errorf("node status does not show an established mesh session")
		}
		if !regexp.MustCompile(`192\.168\.\d+\.\d+/26 via 10\.213\.0\.12 dev eth0 proto 80`).MatchString(text) {
			t.Errorf("node1 has no BGP-learned native route to node2's block")
		}
	case "vxlan":
		if !regexp.MustCompile(`192\.168\.\d+\.\d+/26 via 192\.168\.\d+\.\d+ dev vxlan\.calico proto 80 onlink`).MatchString(text) {
			t.Errorf("node1 has no VXLAN route to node2's block")
		}
	}
	if out, _ := exec.Command("ip", "netns", "list").Output(); strings.Contains(string(out), nsPrefix) {
		t.Errorf("the demo left namespaces behind:\n%s", out)
	}
}
