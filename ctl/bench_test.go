package ctl

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkApplyUnchanged200 re-applies 200 policies that the file datastore already
// holds: validation of every document, one directory walk, no writes.
func BenchmarkApplyUnchanged200(b *testing.B) {
	var doc strings.Builder
	for i := range 200 {
		fmt.Fprintf(&doc, "---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: p%d, namespace: prod}\nspec:\n  selector: app == 'a%d'\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination: {ports: [%d]}\n", i, i, 1000+i)
	}
	input := filepath.Join(b.TempDir(), "policies.yaml")
	if err := os.WriteFile(input, []byte(doc.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	env := envOf(map[string]string{"DATASTORE_TYPE": "file", "DATASTORE_DIR": dir})
	if code := MainWithEnv([]string{"apply", "-f", input}, nil, io.Discard, os.Stderr, env); code != 0 {
		b.Fatal("first apply failed")
	}
	b.ReportAllocs()
	for b.Loop() {
		if code := MainWithEnv([]string{"apply", "-f", input}, nil, io.Discard, os.Stderr, env); code != 0 {
			b.Fatal("apply failed")
		}
	}
}
