package ctl

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/palisadenet/palisade/calc/datastore"
	filestore "github.com/palisadenet/palisade/calc/datastore/file"
	"github.com/palisadenet/palisade/ctl/client"
	"github.com/palisadenet/palisade/resource"
)

// examplesDir holds the repository's copy of ../shared/examples (api/v3 keeps it in
// step with the shared directory).
const examplesDir = "../api/v3/testdata/examples"

// example is one Calico document of the shared examples.
type example struct {
	file string // base name
	path string
	obj  runtime.Object
	kind *client.Kind
	ns   string
	name string
}

func examples(t *testing.T) []example {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(examplesDir, "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no examples in %s: %v", examplesDir, err)
	}
	var out []example
	for _, p := range paths {
		objs, err := resource.LoadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(objs) != 1 {
			t.Fatalf("%s: want one object, got %d", p, len(objs))
		}
		kind, err := client.KindOf(objs[0].Obj)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := meta.Accessor(objs[0].Obj)
		out = append(out, example{file: filepath.Base(p), path: p, obj: objs[0].Obj, kind: kind, ns: m.GetNamespace(), name: m.GetName()})
	}
	return out
}

// getArgs names the example on the command line.
func (e example) getArgs(extra ...string) []string {
	args := []string{"get", e.kind.Singular, e.name}
	if e.kind.Namespaced {
		args = append(args, "-n", e.ns)
	}
	return append(args, extra...)
}

// specJSON is the spec of an object as JSON, for comparisons that ignore metadata.
func specJSON(t *testing.T, obj runtime.Object) string {
	t.Helper()
	js, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatal(err)
	}
	spec, _ := json.Marshal(m["spec"])
	return string(spec)
}

// decodeOne decodes palisadectl's YAML or JSON output strictly, as apply -f would.
func decodeOne(t *testing.T, out string) runtime.Object {
	t.Helper()
	objs, err := resource.Decode("output", []byte(out))
	if err != nil || len(objs) != 1 {
		t.Fatalf("output does not decode to one object (%v):\n%s", err, out)
	}
	return objs[0].Obj
}

// TestRoundTripFile runs every verb over every shared example against the file
// backend, and checks what the file datastore (calc/datastore/file) then sees.
func TestRoundTripFile(t *testing.T) {
	for _, ex := range examples(t) {
		t.Run(ex.file, func(t *testing.T) {
			h := fileHarness(t)
			roundTrip(t, h, ex)
		})
	}
}

// TestKubernetesBackend runs the round trips, the listings and the bad inputs against a
// real kube-apiserver, once with the projectcalico.org/v3 CRDs and once with only the
// legacy crd.projectcalico.org/v1 ones. It skips where no control plane can start.
func TestKubernetesBackend(t *testing.T) {
	for _, set := range []string{"v3", "legacy"} {
		t.Run(set, func(t *testing.T) {
			h := kubeHarness(t, set)
			t.Run("roundtrip", func(t *testing.T) {
				for _, ex := range examples(t) {
					t.Run(ex.file, func(t *testing.T) {
						hh := *h
						hh.t = t
						roundTrip(t, &hh, ex)
						checkStoredGroup(t, &hh, set, ex)
					})
				}
			})
			t.Run("version", func(t *testing.T) {
				hh := *h
				hh.t = t
				group := "projectcalico.org/v3"
				if set == "legacy" {
					group = "crd.projectcalico.org/v1"
				}
				checkVersionKubernetes(t, &hh, group)
			})
			t.Run("bad input", func(t *testing.T) {
				hh := *h
				hh.t = t
				checkBadInput(t, &hh)
			})
			t.Run("tables", func(t *testing.T) {
				hh := *h
				hh.t = t
				checkTablesKubernetes(t, &hh)
			})
			if set == "v3" { // routing/ipam's KubernetesStore speaks projectcalico.org/v3
				t.Run("ipam", func(t *testing.T) {
					hh := *h
					hh.t = t
					checkIPAMKubernetes(t, &hh)
				})
			}
			t.Run("policy", func(t *testing.T) {
				hh := *h
				hh.t = t
				checkPolicyKubernetes(t, &hh)
			})
		})
	}
}

func roundTrip(t *testing.T, h *harness, ex example) {
	want := func(r result, code int, stdout string) {
		t.Helper()
		if r.code != code || (stdout != "" && r.stdout != stdout) {
			t.Fatalf("want exit %d and stdout %q, got %s", code, stdout, r)
		}
	}
	inputSpec := specJSON(t, ex.obj)

	want(h.run("", "create", "-f", ex.path), 0, "Successfully created 1 '"+ex.kind.Kind+"' resource(s)\n")
	got := h.mustRun(ex.getArgs("-o", "yaml")...)
	if h.dir != "" {
		checkGolden(t, "roundtrip-"+ex.file, got)
		checkFileDatastore(t, h.dir, ex, inputSpec)
		wantPath := strings.ToLower(ex.kind.Kind) + "/" + ex.name + ".yaml"
		if ex.kind.Namespaced {
			wantPath = strings.ToLower(ex.kind.Kind) + "/" + ex.ns + "." + ex.name + ".yaml"
		}
		if diff := cmp.Diff([]string{wantPath}, h.manifestFiles()); diff != "" {
			t.Errorf("files in the datastore (-want +got):\n%s", diff)
		}
	} else {
		wantText := readGolden(t, "roundtrip-"+ex.file)
		if diff := cmp.Diff(normalise(wantText), normalise(got)); diff != "" {
			t.Errorf("get -o yaml differs from the file backend's golden (-want +got):\n%s", diff)
		}
	}
	if s := specJSON(t, decodeOne(t, got)); s != inputSpec {
		t.Errorf("spec after create+get:\n got %s\nwant %s", s, inputSpec)
	}

	// What get prints applies back unchanged (server metadata and all).
	if r := h.run(got, "apply", "-f", "-"); r.code != 0 {
		t.Errorf("apply -f - of get -o yaml: %s", r)
	}
	r := h.run("", "create", "-f", ex.path)
	if r.code != 1 || !strings.Contains(r.stderr, "nothing was created") || !strings.Contains(r.stderr, "already exists") {
		t.Errorf("second create: want exit 1, nothing was created, already exists; got %s", r)
	}
	want(h.run("", "apply", "-f", ex.path), 0, "Successfully applied 1 '"+ex.kind.Kind+"' resource(s)\n")
	want(h.run("", "replace", "-f", ex.path), 0, "Successfully replaced 1 '"+ex.kind.Kind+"' resource(s)\n")

	labelArgs := []string{"label", ex.kind.Singular, ex.name, "tested=yes"}
	patchArgs := []string{"patch", ex.kind.Singular, ex.name, "-p", `{"metadata":{"annotations":{"example.org/patched":"true"}}}`}
	if ex.kind.Namespaced {
		labelArgs = append(labelArgs, "-n", ex.ns)
		patchArgs = append(patchArgs, "-n", ex.ns)
	}
	want(h.run("", labelArgs...), 0, "Successfully set label tested on "+strings.ToLower(ex.kind.Kind)+" "+ex.name+"\n")
	want(h.run("", patchArgs...), 0, "Successfully patched 1 '"+ex.kind.Kind+"' resource\n")
	after := decodeOne(t, h.mustRun(ex.getArgs("-o", "json")...))
	m, _ := meta.Accessor(after)
	if m.GetLabels()["tested"] != "yes" || m.GetAnnotations()["example.org/patched"] != "true" {
		t.Errorf("after label and patch: labels %v, annotations %v", m.GetLabels(), m.GetAnnotations())
	}
	if s := specJSON(t, after); s != inputSpec {
		t.Errorf("label/patch changed the spec:\n got %s\nwant %s", s, inputSpec)
	}
	// replace with the file again drops the label: the file is the whole truth.
	want(h.run("", "replace", "-f", ex.path), 0, "")
	if m, _ := meta.Accessor(decodeOne(t, h.mustRun(ex.getArgs("-o", "yaml")...))); len(m.GetLabels()) != 0 {
		t.Errorf("replace kept labels %v", m.GetLabels())
	}

	want(h.run("", "delete", "-f", ex.path), 0, "Successfully deleted 1 '"+ex.kind.Kind+"' resource(s)\n")
	r = h.run("", ex.getArgs()...)
	if r.code != 1 || !strings.Contains(r.stderr, "resource does not exist") {
		t.Errorf("get after delete: want exit 1 and 'resource does not exist', got %s", r)
	}
	r = h.run("", "delete", "-f", ex.path)
	if r.code != 1 || !strings.Contains(r.stderr, "nothing was deleted") {
		t.Errorf("second delete: want exit 1 and 'nothing was deleted', got %s", r)
	}
	if h.dir != "" {
		if files := h.manifestFiles(); len(files) != 0 {
			t.Errorf("files left after delete: %v", files)
		}
	}
}

// checkFileDatastore scans dir with the agent's file datastore and checks that it sees
// the example with the same spec.
func checkFileDatastore(t *testing.T, dir string, ex example, wantSpec string) {
	t.Helper()
	ds := filestore.New(dir, zap.NewNop(), filestore.Options{NoWatch: true})
	ev, err := ds.Scan()
	if err != nil || len(ev.Errors) > 0 {
		t.Fatalf("file datastore scan: %v %v", err, ev.Errors)
	}
	key := datastore.Key{Kind: datastore.Kind(ex.kind.Kind), Namespace: ex.ns, Name: ex.name}
	for _, u := range ev.Updates {
		if u.Key == key {
			if s := specJSON(t, u.Object); s != wantSpec {
				t.Errorf("file datastore sees spec %s, want %s", s, wantSpec)
			}
			return
		}
	}
	t.Errorf("file datastore does not see %v (updates: %v)", key, ev.Updates)
}

var _ = context.Background

// TestGetOutputAppliesBack: what get -o yaml and -o json print (a kind: List) is input
// that apply -f - reads, into another datastore, giving the same objects.
func TestGetOutputAppliesBack(t *testing.T) {
	from := fileHarness(t)
	from.mustRun("apply", "-f", examplesDir)
	for _, format := range []string{"yaml", "json"} {
		t.Run(format, func(t *testing.T) {
			list := from.mustRun("get", "ippools", "-o", format)
			to := fileHarness(t)
			if r := to.run(list, "apply", "-f", "-"); r.code != 0 || r.stdout != "Successfully applied 3 'IPPool' resource(s)\n" {
				t.Fatalf("apply -f - of get -o %s: %s", format, r)
			}
			if diff := cmp.Diff(from.mustRun("get", "ippools", "-o", "wide"), to.mustRun("get", "ippools", "-o", "wide")); diff != "" {
				t.Errorf("pools differ after the copy (-from +to):\n%s", diff)
			}
		})
	}
}
