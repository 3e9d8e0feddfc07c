package crds

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const repoRoot = "../.."

// generatedPaths are the outputs of hack/generate.sh, relative to the repository root.
var generatedPaths = []string{"api/v3/zz_generated.deepcopy.go", "manifests/crds/v3", "manifests/crds/legacy", "manifests/crds/admission"}

// offline matches what `go run pkg@version` prints when the module proxy cannot be reached.
var offline = regexp.MustCompile(`dial tcp|no such host|connection refused|i/o timeout|network is unreachable|proxy.golang.org.*(403|404|410|5\d\d)|GOPROXY=off|GOFLAGS=-mod=vendor`)

func controllerGenVersion(t *testing.T) string {
	t.Helper()
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^CONTROLLER_GEN_VERSION \?= (\S+)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile sets no CONTROLLER_GEN_VERSION")
	}
	return string(m[1])
}

// requireControllerGen skips the test when controller-gen cannot be fetched.
func requireControllerGen(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping generation (fetches and builds controller-gen)")
	}
	cmd := exec.Command("go", "run", "sigs.k8s.io/controller-tools/cmd/controller-gen@"+controllerGenVersion(t), "--version")
	cmd.Dir = repoRoot
	out, err := cmd.CombinedOutput()
	if err != nil {
		if offline.Match(out) {
			t.Skipf("controller-gen cannot be fetched from the module proxy: %s", strings.TrimSpace(string(out)))
		}
		t.Fatalf("running controller-gen: %v\n%s", err, out)
	}
}

func generateInto(t *testing.T, dir string) {
	t.Helper()
	cmd := exec.Command("sh", "hack/generate.sh", dir)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/generate.sh %s: %v\n%s", dir, err, out)
	}
}

// snapshot reads every generated file under root.
func snapshot(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	for _, p := range generatedPaths {
		err := filepath.WalkDir(filepath.Join(root, p), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if d.Name() != "zz_generated.deepcopy.go" && filepath.Ext(d.Name()) != ".yaml" {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			files[rel] = b
			return nil
		})
		if err != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
	}
	return files
}

func diffSnapshots(t *testing.T, what string, want, got map[string][]byte) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		switch {
		case !ok:
			t.Errorf("%s: %s missing", what, name)
		case !bytes.Equal(w, g):
			t.Errorf("%s: %s differs", what, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s: unexpected %s", what, name)
		}
	}
}

// TestGeneratedFilesUpToDate regenerates deepcopy and CRDs into a temporary directory
// and fails if the committed files differ: run `make generate` and commit the result.
func TestGeneratedFilesUpToDate(t *testing.T) {
	requireControllerGen(t)
	tmp := t.TempDir()
	generateInto(t, tmp)
	got := snapshot(t, tmp)
	if len(got) != 32 {
		t.Errorf("generator wrote %d files, want 32 (deepcopy, 15 v3 and 15 legacy CRDs, admission policy)", len(got))
	}
	diffSnapshots(t, "committed files are stale; run make generate", got, snapshot(t, repoRoot))
}

// TestGenerateIdempotent runs the generator twice over the same output and expects no
// change the second time.
func TestGenerateIdempotent(t *testing.T) {
	requireControllerGen(t)
	tmp := t.TempDir()
	generateInto(t, tmp)
	first := snapshot(t, tmp)
	generateInto(t, tmp)
	diffSnapshots(t, "second run changed output", first, snapshot(t, tmp))
}
