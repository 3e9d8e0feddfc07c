package resource

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// summary is what the tests compare for each decoded object.
type summary struct {
	Loc  string
	Type string
}

func summarize(objs []Object) []summary {
	out := make([]summary, len(objs))
	for i, o := range objs {
		gvk := o.Obj.GetObjectKind().GroupVersionKind()
		out[i] = summary{Loc: o.Source.String(), Type: gvk.GroupVersion().String() + "/" + gvk.Kind}
	}
	return out
}

const mixedYAML = `# leading comment
apiVersion: v1
kind: Namespace
metadata:
  name: x
  labels: {ns: x}
---
---
# empty documents (the one above, comment-only ones) are not counted
apiVersion: v1
kind: Pod
metadata:
  name: a
  namespace: x
  labels: {pod: a}
spec:
  serviceAccountName: robot
  containers:
  - name: web
    image: nginx
    ports:
    - {name: http, containerPort: 80}
status:
  podIP: 10.0.0.1
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: deny
spec:
  podSelector: {}
`

func TestDecodeMixedYAML(t *testing.T) {
	objs, err := Decode("mixed.yaml", []byte(mixedYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := []summary{
		{"mixed.yaml: document 1 (Namespace x)", "v1/Namespace"},
		{"mixed.yaml: document 2 (Pod x/a)", "v1/Pod"},
		{"mixed.yaml: document 3 (NetworkPolicy deny)", "networking.k8s.io/v1/NetworkPolicy"},
	}
	if diff := cmp.Diff(want, summarize(objs)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	pod := objs[1].Obj.(*corev1.Pod)
	if pod.Status.PodIP != "10.0.0.1" || pod.Spec.Containers[0].Ports[0].Name != "http" || pod.Spec.ServiceAccountName != "robot" {
		t.Errorf("pod fields lost: %+v", pod)
	}
	np := objs[2].Obj.(*networkingv1.NetworkPolicy)
	if np.Namespace != DefaultNamespace {
		t.Errorf("namespace of a namespaced object without one = %q, want %q", np.Namespace, DefaultNamespace)
	}
}

func TestDecodeListAndJSONStream(t *testing.T) {
	list := `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: "y"}  # unquoted y is a YAML boolean
- apiVersion: v1
  kind: Node
  metadata: {name: node1}
`
	objs, err := Decode("list.yaml", []byte(list))
	if err != nil {
		t.Fatal(err)
	}
	want := []summary{
		{"list.yaml: document 1 item 1 (Namespace y)", "v1/Namespace"},
		{"list.yaml: document 1 item 2 (Node node1)", "v1/Node"},
	}
	if diff := cmp.Diff(want, summarize(objs)); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}

	stream := `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"p"}}
  {"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"q"}}]}`
	objs, err = Decode("s.json", []byte(stream))
	if err != nil {
		t.Fatal(err)
	}
	want = []summary{
		{"s.json: document 1 (Namespace p)", "v1/Namespace"},
		{"s.json: document 2 item 1 (Namespace q)", "v1/Namespace"},
	}
	if diff := cmp.Diff(want, summarize(objs)); diff != "" {
		t.Errorf("JSON stream (-want +got):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string // each must appear as one line of the error
	}{{
		name: "unknown kind",
		in:   "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\napiVersion: v1\nkind: Nampsace\nmetadata: {name: x}\n",
		want: []string{`f.yaml: document 2 (Nampsace x): kind: unknown kind "Nampsace" in apiVersion "v1"`},
	}, {
		name: "unknown group",
		in:   "apiVersion: example.com/v1\nkind: Namespace\nmetadata: {name: x}\n",
		want: []string{`f.yaml: document 1 (Namespace x): kind: unknown kind "Namespace" in apiVersion "example.com/v1"`},
	}, {
		name: "unknown fields, all reported with paths",
		in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x, lables: {a: b}}\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: 80, nmae: http}]\n",
		want: []string{
			`f.yaml: document 1 (Pod x/a): metadata.lables: unknown field`,
			`f.yaml: document 1 (Pod x/a): spec.containers[0].ports[0].nmae: unknown field`,
		},
	}, {
		name: "field names are case-sensitive",
		in:   "apiVersion: v1\nkind: Namespace\nmetadata: {Name: x}\n",
		want: []string{`f.yaml: document 1 (Namespace x): metadata.Name: unknown field`},
	}, {
		name: "duplicate key",
		in:   "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  name: y\n",
		want: []string{`f.yaml: document 1: invalid YAML: yaml: unmarshal errors:`},
	}, {
		name: "wrong type names the field",
		in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers:\n  - name: c\n  - name: d\n    ports: [{containerPort: 80}, {containerPort: eighty}]\n",
		want: []string{`f.yaml: document 1 (Pod a): spec.containers[1].ports[1].containerPort: cannot decode JSON string into int32`},
	}, {
		name: "YAML 1.1 boolean where a string is expected",
		in:   "apiVersion: v1\nkind: Namespace\nmetadata: {name: y}\n",
		want: []string{`f.yaml: document 1 (Namespace): metadata.name: cannot decode JSON bool into string (YAML reads unquoted y, n, yes, no, on and off as booleans, as kubectl does: quote the value)`},
	}, {
		name: "bad YAML",
		in:   "apiVersion: v1\nkind: Namespace\nmetadata: {name: x\n",
		want: []string{`f.yaml: document 1: invalid YAML: yaml: line 3: did not find expected ',' or '}'`},
	}, {
		name: "not an object",
		in:   "- a\n- b\n",
		want: []string{`f.yaml: document 1: document is not an object (want a mapping with apiVersion and kind)`},
	}, {
		name: "missing kind",
		in:   "apiVersion: v1\nmetadata: {name: x}\n",
		want: []string{`f.yaml: document 1 (x): kind: required`},
	}, {
		name: "missing name",
		in:   "apiVersion: v1\nkind: Namespace\nmetadata: {labels: {a: b}}\n",
		want: []string{`f.yaml: document 1 (Namespace): metadata.name: required`},
	}, {
		name: "bad pod IP and port",
		in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: x}\nspec:\n  containers:\n  - name: c\n    ports: [{containerPort: 70000, protocol: ICMP}]\nstatus: {podIP: 10.0.0.300}\n",
		want: []string{
			`f.yaml: document 1 (Pod x/a): status.podIP: invalid IP address "10.0.0.300"`,
			`f.yaml: document 1 (Pod x/a): spec.containers[0].ports[0].containerPort: port 70000 out of range 1-65535`,
			`f.yaml: document 1 (Pod x/a): spec.containers[0].ports[0].protocol: unsupported protocol "ICMP" (want TCP, UDP or SCTP)`,
		},
	}, {
		name: "bad item in a List",
		in:   "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: ok}}\n- {apiVersion: v1, kind: Namespace, metadata: {name: bad}, spec: {finalizers: 3}}\n",
		want: []string{`f.yaml: document 1 item 2 (Namespace bad): spec.finalizers: cannot decode JSON number into []v1.FinalizerName`},
	}, {
		name: "bad JSON stream",
		in:   `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x"}} {"apiVersion":`,
		want: []string{`f.yaml: document 2: invalid JSON: unexpected EOF`},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("f.yaml", []byte(tc.in))
			if err == nil {
				t.Fatal("Decode succeeded, want an error")
			}
			lines := strings.Split(err.Error(), "\n")
			for _, w := range tc.want {
				if !containsPrefix(lines, w) {
					t.Errorf("error lacks line %q; got:\n%s", w, err)
				}
			}
		})
	}
}

func containsPrefix(lines []string, want string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, want) {
			return true
		}
	}
	return false
}

func TestLoadPaths(t *testing.T) {
	stdin := strings.NewReader("apiVersion: v1\nkind: Namespace\nmetadata: {name: from-stdin}\n")
	objs, err := LoadPaths([]string{"testdata/tree", "-", "testdata/tree/b.yaml"}, stdin)
	if err != nil {
		t.Fatal(err)
	}
	want := []summary{
		{filepath.Join("testdata", "tree", "a.yml") + ": document 1 (Namespace a)", "v1/Namespace"},
		{filepath.Join("testdata", "tree", "b.yaml") + ": document 1 (Namespace b)", "v1/Namespace"},
		{filepath.Join("testdata", "tree", "sub", "c.json") + ": document 1 (Namespace c)", "v1/Namespace"},
		{filepath.Join("testdata", "tree", "sub", "c.json") + ": document 2 (ServiceAccount c/sa)", "v1/ServiceAccount"},
		{"-: document 1 (Namespace from-stdin)", "v1/Namespace"},
		{"testdata/tree/b.yaml: document 1 (Namespace b)", "v1/Namespace"},
	}
	if diff := cmp.Diff(want, summarize(objs)); diff != "" {
		t.Errorf("LoadPaths (-want +got):\n%s", diff)
	}
}

func TestLoadPathsErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\nkind: Widget\napiVersion: v1\nmetadata: {name: w}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	objs, err := LoadPaths([]string{filepath.Join(dir, "missing.yaml"), bad, "-", "-"}, strings.NewReader(""))
	if err == nil {
		t.Fatal("want errors")
	}
	for _, w := range []string{
		"reading " + filepath.Join(dir, "missing.yaml") + ": ",
		bad + `: document 2 (Widget w): kind: unknown kind "Widget" in apiVersion "v1"`,
		"stdin (-) given more than once",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q; got:\n%s", w, err)
		}
	}
	if len(objs) != 1 {
		t.Errorf("got %d good objects, want the 1 valid document still returned", len(objs))
	}
}

func TestIndexedPath(t *testing.T) {
	js := []byte(`{"spec":{"ingress":[{"ports":[{"port":80}]},{"ports":[{"port":80},{"port":true}]}],"tags":[1,[2]]}}`)
	tests := []struct{ dotted, typ, want string }{
		{"spec.ingress.ports.port", "bool", "spec.ingress[1].ports[1].port"},
		{"spec.ingress.ports.port", "number 80", "spec.ingress[0].ports[0].port"},
		{"spec.tags", "array", "spec.tags[1]"},
		{"spec.missing", "string", "spec.missing"},
		{"spec.ingress", "", "spec.ingress"},
	}
	for _, tc := range tests {
		if got := strings.TrimPrefix(indexedPath(js, tc.dotted, tc.typ), "."); got != tc.want {
			t.Errorf("indexedPath(%q, %q) = %q, want %q", tc.dotted, tc.typ, got, tc.want)
		}
	}
}
