package v3

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// sharedExamples is the project's shared example directory, outside the repository;
// testdata/examples holds a copy so a fresh clone tests them too.
const sharedExamples = "../../../shared/examples"

// calicoDocs returns every projectcalico.org/v3 or crd.projectcalico.org/v1 document in
// the YAML files matched by glob, keyed by "file#index".
func calicoDocs(t *testing.T, glob string) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			u := unstructuredOf(t, doc)
			if u == nil {
				continue
			}
			if v, _ := u["apiVersion"].(string); v == "projectcalico.org/v3" || v == "crd.projectcalico.org/v1" {
				out[filepath.Base(f)+"#"+strconv.Itoa(i)] = doc
			}
		}
	}
	return out
}

// unstructuredOf decodes YAML the way the apiserver does (integers as int64).
func unstructuredOf(t *testing.T, doc []byte) map[string]any {
	t.Helper()
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatalf("YAML: %v", err)
	}
	var u map[string]any
	if err := utiljson.Unmarshal(j, &u); err != nil {
		t.Fatalf("JSON: %v", err)
	}
	return u
}

func assertRoundTrip(t *testing.T, doc []byte) {
	t.Helper()
	want := unstructuredOf(t, doc)
	obj, err := Decode(doc)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	enc, err := json.Marshal(obj)
	if err != nil {
		t.Fatalf("encoding: %v", err)
	}
	var got map[string]any
	if err := utiljson.Unmarshal(enc, &got); err != nil {
		t.Fatalf("re-decoding: %v", err)
	}
	if want["apiVersion"] == "crd.projectcalico.org/v1" {
		// Legacy objects come back in projectcalico.org/v3 and without the
		// default-tier name prefix; everything else must be unchanged.
		want["apiVersion"] = "projectcalico.org/v3"
		md := want["metadata"].(map[string]any)
		md["name"] = strings.TrimPrefix(md["name"].(string), "default.")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip changed the object (-read +written):\n%s", diff)
	}
	// And the typed object survives a deep copy unchanged.
	if diff := cmp.Diff(obj, obj.DeepCopyObject()); diff != "" {
		t.Errorf("DeepCopy differs:\n%s", diff)
	}
}

func TestRoundTripSharedExamples(t *testing.T) {
	if _, err := os.Stat(sharedExamples); err != nil {
		t.Skipf("shared examples directory %s not present (%v); testdata/examples holds a copy", sharedExamples, err)
	}
	docs := calicoDocs(t, filepath.Join(sharedExamples, "*.yaml"))
	if len(docs) == 0 {
		t.Fatal("no Calico documents in the shared examples")
	}
	for name, doc := range docs {
		t.Run(name, func(t *testing.T) { assertRoundTrip(t, doc) })
	}
}

func TestRoundTripTestdata(t *testing.T) {
	docs := calicoDocs(t, "testdata/*.yaml")
	for k, v := range calicoDocs(t, "testdata/examples/*.yaml") {
		docs["examples/"+k] = v
	}
	kinds := map[string]bool{}
	for name, doc := range docs {
		kinds[unstructuredOf(t, doc)["kind"].(string)] = true
		t.Run(name, func(t *testing.T) { assertRoundTrip(t, doc) })
	}
	for kind := range AllKinds() {
		if !kinds[kind] {
			t.Errorf("no testdata example of kind %s", kind)
		}
	}
}
