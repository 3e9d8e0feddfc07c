package truthtable

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/palisadenet/palisade/ctl"
)

// TestScenariosThroughCLI runs some scenarios through `palisadectl policy matrix -o
// json` and compares its exact output with JSON written from the expected grid.
func TestScenariosThroughCLI(t *testing.T) {
	all := slices.Concat(kubernetesIngressScenarios, kubernetesPortScenarios, kubernetesEgressScenarios,
		calicoRuleScenarios, calicoGlobalScenarios, calicoTierScenarios)
	picked := []string{
		"no policies",
		"namespaceSelector and podSelector in two peers is OR",
		"named UDP port",
		"egress and ingress must both allow",
		"tier Pass then default tier",
		"GlobalNetworkSet in a selector",
	}
	for _, name := range picked {
		i := slices.IndexFunc(all, func(sc scenario) bool { return sc.name == name })
		if i < 0 {
			t.Fatalf("no scenario %q", name)
		}
		sc := all[i]
		t.Run(name, func(t *testing.T) {
			args := []string{"policy", "matrix", "-f", worldFile}
			if sc.yaml != "" {
				path := filepath.Join(t.TempDir(), "policies.yaml")
				if err := os.WriteFile(path, []byte(sc.yaml), 0o600); err != nil {
					t.Fatal(err)
				}
				args = append(args, "-f", path)
			}
			for _, c := range sc.checks {
				want, err := parseGrid(c.want)
				if err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				cargs := append(slices.Clone(args), "--port", strconv.Itoa(int(c.port)), "--protocol", c.proto.String(), "-o", "json")
				if code := ctl.Main(cargs, nil, &stdout, &stderr); code != 0 {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				if wantJSON := gridJSON(want, c.port, c.proto.String()); stdout.String() != wantJSON {
					t.Errorf("%s/%d\n got: %s\nwant: %s", c.proto, c.port, stdout.String(), wantJSON)
				}
			}
		})
	}
}

// gridJSON writes the documented JSON form by hand (not with encoding/json), so the
// test pins the exact bytes other tools consume.
func gridJSON(g grid, port uint16, proto string) string {
	var b strings.Builder
	b.WriteString(`{"port":` + strconv.Itoa(int(port)) + `,"protocol":"` + proto + `","pods":[`)
	for i, p := range pods {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + p + `"`)
	}
	b.WriteString(`],"allowed":{`)
	for i, src := range pods {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + src + `":{`)
		for j, dst := range pods {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`"` + dst + `":` + strconv.FormatBool(g[i][j]))
		}
		b.WriteByte('}')
	}
	b.WriteString("}}\n")
	return b.String()
}

// TestCLIRejectsBadInput: bad YAML, unknown kinds and invalid fields exit 1 with an
// error naming file, document and field, and print nothing on stdout.
func TestCLIRejectsBadInput(t *testing.T) {
	tests := []struct{ name, yaml, want string }{{
		name: "bad YAML",
		yaml: "apiVersion: v1\nkind: Namespace\nmetadata: {name: q\n",
		want: "policies.yaml: document 1: invalid YAML: yaml: line 3:",
	}, {
		name: "unknown kind",
		yaml: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: ok, namespace: \"x\"}\nspec: {podSelector: {}}\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolcy\nmetadata: {name: typo, namespace: \"x\"}\n",
		want: `policies.yaml: document 2 (NetworkPolcy x/typo): kind: unknown kind "NetworkPolcy" in apiVersion "networking.k8s.io/v1"`,
	}, {
		name: "invalid field",
		yaml: "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: allow-tcp-6379, namespace: production}\nspec:\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {ports: [70000]}\n",
		want: "policies.yaml: document 1 (NetworkPolicy production/allow-tcp-6379): spec.ingress[0].destination.ports[0]: port 70000 out of range",
	}, {
		name: "unknown field",
		yaml: "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: \"x\"}\nspec:\n  podSelector: {}\n  ingress: [{form: []}]\n",
		want: "policies.yaml: document 1 (NetworkPolicy x/p): spec.ingress[0].form: unknown field",
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "policies.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, sub := range [][]string{
				{"policy", "matrix", "-f", worldFile, "-f", path, "--port", "80"},
				{"policy", "trace", "-f", worldFile, "-f", path, "--port", "80", "--from", "x/a", "--to", "y/a"},
			} {
				var stdout, stderr bytes.Buffer
				code := ctl.Main(sub, nil, &stdout, &stderr)
				if code != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), filepath.Dir(path)+"/"+tc.want) {
					t.Errorf("%s: exit %d, stdout %q, stderr:\n%s\nwant exit 1 and an error containing %q", sub[1], code, stdout.String(), stderr.String(), tc.want)
				}
			}
		})
	}
}
