package ctl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisadenet/palisade/manifests/crds/crdtest"
)

// goodPool comes first in every bad file: it must not be written when a later
// document is invalid.
const goodPool = `apiVersion: projectcalico.org/v3
kind: IPPool
metadata:
  name: good-pool
spec:
  cidr: 10.9.0.0/24
`

// badInputs are the mistakes the issue lists, each with the text its error must hold
// after "<file>: document 2 (" (kind and name, field path, message).
var badInputs = []struct {
	name, doc, want string
}{
	{"unknown kind", "apiVersion: projectcalico.org/v3\nkind: IPPoool\nmetadata:\n  name: x\nspec:\n  cidr: 10.0.0.0/24\n",
		`IPPoool x): kind: unknown kind "IPPoool" in apiVersion "projectcalico.org/v3"`},
	{"unknown field", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: x\nspec:\n  cidr: 10.0.0.0/24\n  natOutgoin: true\n",
		`IPPool x): spec.natOutgoin: unknown field`},
	{"invalid policy selector", "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: p\n  namespace: prod\nspec:\n  selector: role == 'db\n",
		`NetworkPolicy prod/p): spec.selector: invalid selector "role == 'db"`},
	{"invalid pool nodeSelector", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: x\nspec:\n  cidr: 10.0.0.0/24\n  nodeSelector: has(\n",
		`IPPool x): spec.nodeSelector: invalid selector "has("`},
	{"invalid CIDR", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: x\nspec:\n  cidr: 10.0.0.0/33\n",
		`IPPool x): spec.cidr: Invalid value: "10.0.0.0/33": cidr must be a valid IPv4 or IPv6 CIDR`},
	{"invalid CIDR in the legacy group", "apiVersion: crd.projectcalico.org/v1\nkind: IPPool\nmetadata:\n  name: x\nspec:\n  cidr: banana\n",
		`IPPool x): spec.cidr: Invalid value: "banana"`},
	{"port 70000", "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: allow-tcp-6379\n  namespace: production\nspec:\n  selector: role == 'database'\n  ingress:\n  - action: Allow\n    protocol: TCP\n    destination:\n      ports: [70000]\n",
		`NetworkPolicy production/allow-tcp-6379): spec.ingress[0].destination.ports[0]: port 70000 out of range`},
	{"not a Calico kind", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n",
		`Namespace x): kind: v1 Namespace is not a Calico resource`},
	{"namespace on a cluster-scoped kind", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata:\n  name: x\n  namespace: prod\nspec:\n  cidr: 10.0.0.0/24\n",
		`IPPool prod/x): metadata.namespace: IPPool is cluster-scoped`},
	{"missing name", "apiVersion: projectcalico.org/v3\nkind: IPPool\nmetadata: {}\nspec:\n  cidr: 10.0.0.0/24\n",
		`IPPool): metadata.name: required`},
}

// writeBad writes the good pool and doc as a two-document file.
func writeBad(t *testing.T, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte(goodPool+"---\n"+doc), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// checkNothingWritten fails unless the datastore holds no IPPool and no policy.
func checkNothingWritten(t *testing.T, h *harness) {
	t.Helper()
	if h.dir != "" {
		if files := h.manifestFiles(); len(files) != 0 {
			t.Errorf("files written despite the error: %v", files)
		}
		return
	}
	for _, kind := range []string{"ippool", "networkpolicy"} {
		r := h.run("", "get", kind, "-A", "-o", "name")
		if r.code != 0 || r.stdout != "" {
			t.Errorf("get %s after the error: %s", kind, r)
		}
	}
}

func TestBadInputFile(t *testing.T) {
	checkBadInput(t, fileHarness(t))
}

func checkBadInput(t *testing.T, h *harness) {
	for _, verb := range []string{"create", "apply", "replace"} {
		for _, tc := range badInputs {
			t.Run(verb+"/"+tc.name, func(t *testing.T) {
				hh := *h
				hh.t = t
				path := writeBad(t, tc.doc)
				r := hh.run("", verb, "-f", path)
				want := path + ": document 2 (" + tc.want
				if r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, want) {
					t.Errorf("want exit 1, no stdout, stderr containing %q; got %s", want, r)
				}
				checkNothingWritten(t, &hh)
			})
		}
	}
	// Every object the CRD schemas reject (the list the API server tests use) is
	// refused before anything is written, naming its field.
	for _, bad := range crdtest.BadObjects() {
		t.Run("schema/"+bad.Name, func(t *testing.T) {
			hh := *h
			hh.t = t
			path := writeBad(t, bad.YAML)
			r := hh.run("", "apply", "-f", path)
			if r.code != 1 || !strings.Contains(r.stderr, path+": document 2 (") || !strings.Contains(r.stderr, bad.Field) {
				t.Errorf("want exit 1 naming %s, document 2 and %s; got %s", path, bad.Field, r)
			}
			checkNothingWritten(t, &hh)
		})
	}
	t.Run("skip-invalid", func(t *testing.T) {
		hh := *h
		hh.t = t
		path := writeBad(t, badInputs[1].doc)
		r := hh.run("", "apply", "--skip-invalid", "-f", path)
		if r.code != 0 || r.stdout != "Successfully applied 1 'IPPool' resource(s)\n" || !strings.Contains(r.stderr, "spec.natOutgoin: unknown field") {
			t.Fatalf("apply --skip-invalid: %s", r)
		}
		if got := hh.mustRun("get", "ippool", "-o", "name"); got != "ippool.projectcalico.org/good-pool\n" {
			t.Errorf("after --skip-invalid the datastore holds %q", got)
		}
		hh.mustRun("delete", "ippool", "good-pool")
	})
}

// TestCommandErrors: mistakes on the command line exit 1 with a clear message.
func TestCommandErrors(t *testing.T) {
	h := fileHarness(t)
	h.mustRun("apply", "-f", filepath.Join(examplesDir, "ippool-v3.yaml"))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown kind", []string{"get", "ipool"}, `unknown resource type "ipool"`},
		{"missing name", []string{"get", "ippool", "nope"}, "IPPool nope: resource does not exist"},
		{"bad -o", []string{"get", "ippool", "-o", "xml"}, `-o "xml": want yaml, json, wide, name or custom-columns`},
		{"bad custom column", []string{"get", "ippool", "-o", "custom-columns=NAME"}, `"NAME": want HEADER:.json.path`},
		{"-f and names", []string{"get", "ippool", "pool1", "-f", examplesDir}, "give either -f or KIND [NAME...], not both"},
		{"delete nothing", []string{"delete", "ippool"}, "name the resources to delete"},
		{"delete missing", []string{"delete", "ippool", "pool1", "nope"}, "nothing was deleted"},
		{"label exists", []string{"label", "ippool", "pool1", "a=b"}, ""},
		{"label again", []string{"label", "ippool", "pool1", "a=c"}, "already has label a=b: use --overwrite"},
		{"label bad key", []string{"label", "ippool", "pool1", "a b=c"}, `invalid label key "a b"`},
		{"label remove missing", []string{"label", "ippool", "pool1", "zz", "--remove"}, `has no label "zz"`},
		{"patch unknown field", []string{"patch", "ippool", "pool1", "-p", `{"spec":{"natOutgoin":true}}`}, "spec.natOutgoin: unknown field"},
		{"patch invalid CIDR", []string{"patch", "ippool", "pool1", "-p", `{"spec":{"cidr":"10.0.0.0/40"}}`}, "spec.cidr: Invalid value"},
		{"patch rename", []string{"patch", "ippool", "pool1", "-p", `{"metadata":{"name":"pool2"}}`}, "cannot change metadata.name"},
		{"patch not JSON", []string{"patch", "ippool", "pool1", "-p", `{`}, "-p: "},
		{"missing file", []string{"apply", "-f", "testdata/nope.yaml"}, "reading testdata/nope.yaml"},
		{"-n disagrees", []string{"apply", "-n", "other", "-f", filepath.Join(examplesDir, "allow-tcp-6379.yaml")}, `metadata.namespace: "production" does not match -n "other"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h.t = t
			r := h.run("", tc.args...)
			if tc.want == "" {
				if r.code != 0 {
					t.Fatalf("%s", r)
				}
				return
			}
			if r.code != 1 || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("want exit 1 and stderr containing %q; got %s", tc.want, r)
			}
		})
	}
	h.t = t
	// None of the failed patches and labels changed the pool.
	got := decodeOne(t, h.mustRun("get", "ippool", "pool1", "-o", "yaml"))
	ex := examples(t)
	for _, e := range ex {
		if e.name == "pool1" && specJSON(t, got) != specJSON(t, e.obj) {
			t.Errorf("pool1 changed by failed commands: %s", specJSON(t, got))
		}
	}
}

// TestBadInputGolden pins the whole error text for a file with every kind of mistake.
func TestBadInputGolden(t *testing.T) {
	h := fileHarness(t)
	for _, verb := range []string{"apply", "create", "replace"} {
		r := h.run("", verb, "-f", "testdata/bad/mixed.yaml")
		if r.code != 1 || r.stdout != "" {
			t.Fatalf("%s: %s", verb, r)
		}
		checkGolden(t, "errors-mixed-"+verb+".txt", r.stderr)
		checkNothingWritten(t, h)
	}
}
