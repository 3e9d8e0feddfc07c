package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	v3 "github.com/palisadenet/palisade/api/v3"
)

// notResources are kinds in the examples that are client configuration, not objects an
// apiserver stores.
var notResources = map[string]bool{"CalicoAPIConfig": true}

// lastApplied is the annotation kubectl apply adds; it is not the user's content.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// exampleDoc is one Kubernetes object from an example file, as generic JSON content.
type exampleDoc struct {
	file   string
	object map[string]any
}

// examplesDir is <repo>/../shared/examples (or $PALISADE_EXAMPLES); the test skips when
// it is absent because it lives outside the repository.
func examplesDir(t *testing.T, root string) string {
	t.Helper()
	dir := os.Getenv("PALISADE_EXAMPLES")
	if dir == "" {
		dir = filepath.Join(root, "..", "shared", "examples")
	}
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("examples directory %s not available: %v", dir, err)
	}
	return dir
}

// loadExamples reads every *.yaml/*.yml file in dir and returns its Kubernetes objects,
// grouped by file in name order. Files without any are not returned.
func loadExamples(t *testing.T, dir string) map[string][]exampleDoc {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.y*ml"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	byFile := map[string][]exampleDoc{}
	for _, f := range files {
		for _, obj := range readYAMLDocs(t, f) {
			kind, _ := obj["kind"].(string)
			if kind == "" || notResources[kind] {
				t.Logf("%s: %q is not a Kubernetes resource, not applied", filepath.Base(f), kind)
				continue
			}
			byFile[f] = append(byFile[f], exampleDoc{file: f, object: obj})
		}
	}
	return byFile
}

// readYAMLDocs decodes each YAML document of path to generic JSON content.
func readYAMLDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []map[string]any
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		jsonDoc, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		var obj map[string]any
		if err := json.Unmarshal(jsonDoc, &obj); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if obj != nil {
			docs = append(docs, obj)
		}
	}
}

// userContent keeps what a user wrote and must get back: every top-level field except
// metadata and status, and metadata's name, labels and annotations (minus kubectl's own).
func userContent(obj map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range obj {
		if k != "metadata" && k != "status" {
			out[k] = v
		}
	}
	meta, _ := obj["metadata"].(map[string]any)
	kept := map[string]any{}
	if name, ok := meta["name"]; ok {
		kept["name"] = name
	}
	if labels, ok := meta["labels"]; ok {
		kept["labels"] = labels
	}
	if annotations, ok := meta["annotations"].(map[string]any); ok {
		userAnnotations := map[string]any{}
		for k, v := range annotations {
			if k != lastApplied {
				userAnnotations[k] = v
			}
		}
		if len(userAnnotations) > 0 {
			kept["annotations"] = userAnnotations
		}
	}
	out["metadata"] = kept
	return out
}

// calicoScheme knows the api/v3 Go types under both API groups.
func calicoScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := v3.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := v3.AddLegacyToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

// throughGoType decodes obj into its api/v3 Go type and encodes it back to generic content.
func throughGoType(t *testing.T, s *runtime.Scheme, obj map[string]any) map[string]any {
	t.Helper()
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		t.Fatalf("apiVersion %q: %v", apiVersion, err)
	}
	typed, err := s.New(gv.WithKind(kind))
	if err != nil {
		t.Fatalf("no api/v3 Go type for %s %s: %v", apiVersion, kind, err)
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // a field the Go type does not know would be lost
	if err := dec.Decode(typed); err != nil {
		t.Fatalf("decoding %s %s into %T: %v", apiVersion, kind, typed, err)
	}
	encoded, err := json.Marshal(typed)
	if err != nil {
		t.Fatalf("encoding %T: %v", typed, err)
	}
	var back map[string]any
	if err := json.Unmarshal(encoded, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// readBack returns the objects `kubectl get -f file -o json` prints, in file order.
func readBack(ctx context.Context, t *testing.T, kubectl func(context.Context, io.Reader, ...string) (string, error), file string) []map[string]any {
	t.Helper()
	out, err := kubectl(ctx, nil, "get", "-f", file, "-o", "json")
	if err != nil {
		t.Fatalf("reading back: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("kubectl get output: %v", err)
	}
	if got["kind"] != "List" {
		return []map[string]any{got}
	}
	items, _ := got["items"].([]any)
	objs := make([]map[string]any, 0, len(items))
	for _, it := range items {
		obj, _ := it.(map[string]any)
		objs = append(objs, obj)
	}
	return objs
}

// TestExamplesApplyAndRoundTrip applies each example file with kubectl, reads it back and
// requires the user's content unchanged from the file, from the apiserver, and after a
// pass through the api/v3 Go types (from the file and from the apiserver's copy).
func TestExamplesApplyAndRoundTrip(t *testing.T) {
	root := repoRoot(t)
	byFile := loadExamples(t, examplesDir(t, root))
	if len(byFile) == 0 {
		t.Fatal("the examples directory holds no Kubernetes objects")
	}
	cp := startWithCRDs(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s := calicoScheme(t)

	files := make([]string, 0, len(byFile))
	for f := range byFile {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, file := range files {
		docs := byFile[file]
		t.Run(filepath.Base(file), func(t *testing.T) {
			for _, d := range docs {
				if ns := namespaceOf(d.object); ns != "" {
					ensureNamespace(ctx, t, cp, ns)
				}
			}
			if out, err := cp.Kubectl(ctx, nil, "apply", "-f", file); err != nil {
				t.Fatalf("kubectl apply -f %s: %v", filepath.Base(file), err)
			} else {
				t.Logf("kubectl apply: %s", strings.TrimSpace(out))
			}
			stored := readBack(ctx, t, cp.Kubectl, file)
			if len(stored) != len(docs) {
				t.Fatalf("read back %d objects, file has %d", len(stored), len(docs))
			}
			for i, d := range docs {
				want := userContent(d.object)
				if diff := cmp.Diff(want, userContent(stored[i])); diff != "" {
					t.Errorf("object %d: apiserver changed it (-file +read back):\n%s", i, diff)
				}
				if diff := cmp.Diff(want, userContent(throughGoType(t, s, d.object))); diff != "" {
					t.Errorf("object %d: Go type loses content from the file (-file +Go):\n%s", i, diff)
				}
				if diff := cmp.Diff(want, userContent(throughGoType(t, s, stored[i]))); diff != "" {
					t.Errorf("object %d: Go type loses content read back (-file +Go):\n%s", i, diff)
				}
			}
		})
	}
}

func namespaceOf(obj map[string]any) string {
	meta, _ := obj["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	return ns
}
