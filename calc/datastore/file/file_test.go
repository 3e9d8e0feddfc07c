package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/resource"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
)

const nsA = `apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: x}}
`

const podsAB = `apiVersion: v1
kind: Pod
metadata: {name: p1, namespace: a}
spec: {containers: [{name: c, image: i}]}
---
apiVersion: v1
kind: Pod
metadata: {name: p2, namespace: a}
spec: {containers: [{name: c, image: i}]}
`

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	// Force a visible change even within one mtime tick.
	later := time.Now().Add(time.Duration(len(content)) * time.Millisecond)
	_ = os.Chtimes(path, later, later)
}

// summarize renders updates as "+Kind ns/name" and "-Kind ns/name".
func summarize(ups []datastore.Update) []string {
	var out []string
	for _, u := range ups {
		sign := "+"
		if u.Object == nil {
			sign = "-"
		}
		out = append(out, sign+u.Key.String())
	}
	return out
}

func scan(t *testing.T, d *Datastore) datastore.Event {
	t.Helper()
	ev, err := d.Scan()
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return ev
}

func TestScanAddEditDelete(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ns.yaml"), nsA)
	write(t, filepath.Join(dir, "sub", "pods.yml"), podsAB)
	write(t, filepath.Join(dir, ".pods.yaml.swp"), "garbage")
	write(t, filepath.Join(dir, "README.md"), "not a manifest")
	d := New(dir, zaptest.NewLogger(t), Options{NoWatch: true})

	steps := []struct {
		name   string
		change func()
		want   []string
	}{
		{"initial snapshot", func() {}, []string{"+Namespace a", "+Pod a/p1", "+Pod a/p2"}},
		{"nothing changed", func() {}, nil},
		{"file rewritten identically", func() { write(t, filepath.Join(dir, "ns.yaml"), nsA) }, nil},
		{"label edited", func() { write(t, filepath.Join(dir, "ns.yaml"), strings.Replace(nsA, "team: x", "team: z", 1)) }, []string{"+Namespace a"}},
		{"document removed from a file", func() { write(t, filepath.Join(dir, "sub", "pods.yml"), strings.SplitN(podsAB, "---\n", 2)[0]) }, []string{"-Pod a/p2"}},
		{"file deleted", func() { os.Remove(filepath.Join(dir, "sub", "pods.yml")) }, []string{"-Pod a/p1"}},
		{"file added", func() {
			write(t, filepath.Join(dir, "more.json"), `{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa","namespace":"a"}}`)
		}, []string{"+ServiceAccount a/sa"}},
	}
	for _, s := range steps {
		s.change()
		ev := scan(t, d)
		if len(ev.Errors) > 0 {
			t.Fatalf("%s: unexpected errors %v", s.name, ev.Errors)
		}
		if diff := cmp.Diff(s.want, summarize(ev.Updates)); diff != "" {
			t.Errorf("%s: updates (-want +got):\n%s", s.name, diff)
		}
	}
	ns := d.view[datastore.Key{Kind: datastore.KindNamespace, Name: "a"}].(*corev1.Namespace)
	if ns.Labels["team"] != "z" {
		t.Errorf("namespace labels = %v, want the edited team: z", ns.Labels)
	}
}

func TestMalformedFileKeepsPreviousContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "pods.yaml")
	write(t, path, podsAB)
	d := New(dir, zaptest.NewLogger(t), Options{NoWatch: true})
	scan(t, d)

	// The second document gets an unknown field: the whole file keeps its
	// previous content, and the error names file, document and field.
	bad := strings.Replace(podsAB, "metadata: {name: p2, namespace: a}", "metadata: {name: p2, namespace: a}\nbogus: 1", 1)
	bad = strings.Replace(bad, "name: p1,", "name: p1-renamed,", 1)
	write(t, path, bad)
	ev := scan(t, d)
	if len(ev.Updates) != 0 {
		t.Errorf("malformed file changed the content: %v", summarize(ev.Updates))
	}
	if len(ev.Errors) != 1 {
		t.Fatalf("errors = %v, want one", ev.Errors)
	}
	var rerr *resource.Error
	if !errors.As(ev.Errors[0], &rerr) {
		t.Fatalf("error %v is not a *resource.Error", ev.Errors[0])
	}
	if rerr.Source.File != path || rerr.Source.Document != 2 || !strings.Contains(rerr.Error(), "bogus") {
		t.Errorf("error %q: want file %s, document 2 and the field bogus", rerr.Error(), path)
	}
	if ev := scan(t, d); len(ev.Errors)+len(ev.Updates) != 0 {
		t.Errorf("unchanged malformed file reported again: %v %v", ev.Errors, summarize(ev.Updates))
	}

	// Fixing it applies the new content.
	write(t, path, strings.Replace(podsAB, "name: p1,", "name: p1-renamed,", 1))
	ev = scan(t, d)
	if diff := cmp.Diff([]string{"-Pod a/p1", "+Pod a/p1-renamed"}, summarize(ev.Updates)); diff != "" || len(ev.Errors) > 0 {
		t.Errorf("after fix: updates (-want +got):\n%s errors %v", diff, ev.Errors)
	}

	// A new malformed file contributes nothing.
	write(t, filepath.Join(dir, "new.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: a}\nspec: {containers: [{name: c, image: i, ports: [{containerPort: 70000}]}]}\n")
	ev = scan(t, d)
	if len(ev.Updates) != 0 || len(ev.Errors) != 1 || !strings.Contains(ev.Errors[0].Error(), "spec.containers[0].ports[0].containerPort") {
		t.Errorf("new malformed file: updates %v errors %v; want no update and an error naming the field", summarize(ev.Updates), ev.Errors)
	}
}

// TestRunWatches runs the datastore with fsnotify and a poll timer that never
// fires, so only the watch can report the change.
func TestRunWatches(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "ns.yaml"), nsA)
	never := make(chan time.Time)
	d := New(dir, zaptest.NewLogger(t), Options{After: func(time.Duration) <-chan time.Time { return never }})
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan datastore.Event, 16)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, out) }()
	t.Cleanup(func() { cancel(); <-done })

	next := func() datastore.Event {
		t.Helper()
		select {
		case ev := <-out:
			return ev
		case <-time.After(10 * time.Second):
			t.Fatal("no event within 10s")
		}
		return datastore.Event{}
	}
	if got := summarize(next().Updates); !cmp.Equal(got, []string{"+Namespace a"}) {
		t.Fatalf("snapshot = %v", got)
	}
	if !next().InSync {
		t.Fatal("second event is not InSync")
	}
	write(t, filepath.Join(dir, "pods.yaml"), podsAB)
	var got []string
	for len(got) < 2 {
		got = append(got, summarize(next().Updates)...)
	}
	if diff := cmp.Diff([]string{"+Pod a/p1", "+Pod a/p2"}, got); diff != "" {
		t.Errorf("after adding a file (-want +got):\n%s", diff)
	}
}

// TestRunPolls disables the watch and fires the poll timer by hand.
func TestRunPolls(t *testing.T) {
	dir := t.TempDir()
	tick := make(chan time.Time)
	d := New(dir, zaptest.NewLogger(t), Options{NoWatch: true, After: func(time.Duration) <-chan time.Time { return tick }})
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan datastore.Event, 16)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, out) }()
	t.Cleanup(func() { cancel(); <-done })
	if ev := <-out; len(ev.Updates) != 0 {
		t.Fatalf("empty dir snapshot = %v", summarize(ev.Updates))
	}
	<-out // InSync
	write(t, filepath.Join(dir, "ns.yaml"), nsA)
	select {
	case ev := <-out:
		t.Fatalf("event %v before the poll fired", summarize(ev.Updates))
	case <-time.After(50 * time.Millisecond):
	}
	tick <- time.Now()
	if ev := <-out; !cmp.Equal(summarize(ev.Updates), []string{"+Namespace a"}) {
		t.Fatalf("after poll = %v", summarize(ev.Updates))
	}
}

// TestRunWatchesNewSubdirectory: a file written into a directory created after
// Run started is noticed without polling.
func TestRunWatchesNewSubdirectory(t *testing.T) {
	dir := t.TempDir()
	never := make(chan time.Time)
	d := New(dir, zaptest.NewLogger(t), Options{After: func(time.Duration) <-chan time.Time { return never }})
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan datastore.Event, 16)
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, out) }()
	t.Cleanup(func() { cancel(); <-done })
	<-out // empty snapshot
	<-out // InSync
	sub := filepath.Join(dir, "team")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // let the watch on the new directory be added
	write(t, filepath.Join(sub, "ns.yaml"), nsA)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-out:
			if cmp.Equal(summarize(ev.Updates), []string{"+Namespace a"}) {
				return
			}
		case <-deadline:
			t.Fatal("file in a new subdirectory not noticed within 10s")
		}
	}
}
