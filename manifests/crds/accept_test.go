package crds

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// goodDocs returns the Calico documents of the api/v3 testdata and the shared examples.
func goodDocs(t *testing.T) map[string]string {
	t.Helper()
	var files []string
	for _, g := range []string{"../../api/v3/testdata/*.yaml", "../../api/v3/testdata/examples/*.yaml"} {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no testdata found under api/v3/testdata")
	}
	docs := map[string]string{}
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
			obj := decodeObject(t, string(doc))
			if v, _ := obj["apiVersion"].(string); v == "projectcalico.org/v3" || v == "crd.projectcalico.org/v1" {
				docs[filepath.Base(f)+"#"+strconv.Itoa(i)] = string(doc)
			}
		}
	}
	return docs
}

// TestGoodObjectsAccepted checks that every example the Go types round-trip is also
// accepted by the CRD schema of its group, unchanged: no error, no field pruned, no
// default filled in. This is what keeps the schema and the Go types in step.
func TestGoodObjectsAccepted(t *testing.T) {
	v3 := loadSet(t, SetV3)
	legacy := loadSet(t, SetLegacy)
	for name, doc := range goodDocs(t) {
		t.Run(name, func(t *testing.T) {
			obj := decodeObject(t, doc)
			crds := v3
			if obj["apiVersion"] == "crd.projectcalico.org/v1" {
				crds = legacy
			}
			crd, ok := crds[obj["kind"].(string)]
			if !ok {
				t.Fatalf("no CRD for kind %v", obj["kind"])
			}
			before := decodeObject(t, doc)
			errs, pruned := newSchemaChecker(t, crd).check(obj)
			if len(errs) > 0 {
				t.Errorf("rejected:%s", errorsText(errs))
			}
			if len(pruned) > 0 {
				t.Errorf("schema would drop fields: %v", pruned)
			}
			if diff := cmp.Diff(before, obj); diff != "" {
				t.Errorf("apiserver would change the object (-sent +stored):\n%s", diff)
			}
		})
	}
}
