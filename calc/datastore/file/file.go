// Package file is a datastore.Datastore over a directory of YAML or JSON manifests:
// the embedded default for a single host, the demo, and tests without an API
// server.
//
// In: a directory, walked recursively for *.yaml, *.yml and *.json files (hidden
// files and directories, such as editor swap files, are skipped), each holding one
// or more documents of the kinds package resource decodes. Out: datastore.Events:
// the first scan sends every object, then the InSync mark; later scans send the
// objects that appeared or changed (Updates with an Object) and those that went
// away (Updates without one).
//
// A file that fails to decode is reported (resource.Error names file, document and
// field) and its previous valid content stays in force until it is fixed or
// deleted; a new file with errors contributes nothing. When two files define the
// same object, the one whose path sorts last wins.
//
// Changes are noticed through fsnotify when available, and by polling at the
// interval given in Options in any case (the fallback where inotify is missing, and
// a repair for lost events). The poll timer is passed in, so tests drive it.
package file

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/palisadenet/palisade/calc/datastore"
	"github.com/palisadenet/palisade/resource"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/runtime"
)

// Options configures a Datastore.
type Options struct {
	// PollInterval is how often the directory is rescanned (default 2s).
	PollInterval time.Duration
	// After returns a channel that fires after d; time.After when nil. Tests pass a
	// fake to drive polling.
	After func(d time.Duration) <-chan time.Time
	// NoWatch disables fsnotify; only polling notices changes.
	NoWatch bool
}

// Datastore watches one directory. Create it with New; Run it once.
type Datastore struct {
	dir   string
	log   *zap.Logger
	opts  Options
	files map[string]*fileState
	view  map[datastore.Key]runtime.Object // what was last sent
}

type fileState struct {
	size    int64
	modTime time.Time
	sum     [32]byte
	objects map[datastore.Key]runtime.Object // last valid content
}

// New returns a Datastore for dir.
func New(dir string, log *zap.Logger, opts Options) *Datastore {
	if opts.PollInterval <= 0 {
		opts.PollInterval = 2 * time.Second
	}
	if opts.After == nil {
		opts.After = time.After
	}
	return &Datastore{dir: dir, log: log, opts: opts, files: map[string]*fileState{}, view: map[datastore.Key]runtime.Object{}}
}

// Run scans the directory, sends the snapshot and InSync, then sends changes
// until ctx ends. It fails only when the directory cannot be read at start.
func (d *Datastore) Run(ctx context.Context, out chan<- datastore.Event) error {
	// Watch before the first scan, so a change made while scanning is not missed.
	var notify <-chan fsnotify.Event
	var watchErrs <-chan error
	var w *fsnotify.Watcher
	if !d.opts.NoWatch {
		var err error
		if w, err = d.watch(); err != nil {
			d.log.Warn("file datastore: watching failed, polling only", zap.String("dir", d.dir), zap.Error(err))
		} else {
			defer w.Close()
			notify, watchErrs = w.Events, w.Errors
		}
	}
	ev, err := d.Scan()
	if err != nil {
		return err
	}
	if !send(ctx, out, ev) || !send(ctx, out, datastore.Event{InSync: true}) {
		return ctx.Err()
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.opts.After(d.opts.PollInterval):
		case e := <-notify:
			d.log.Debug("file datastore: change", zap.String("path", e.Name), zap.Stringer("op", e.Op))
			d.watchNewDir(w, e)
		case err := <-watchErrs:
			d.log.Warn("file datastore: watch error", zap.Error(err))
		}
		ev, err := d.Scan()
		if err != nil {
			d.log.Warn("file datastore: scan failed, keeping previous content", zap.Error(err))
			continue
		}
		if len(ev.Updates)+len(ev.Errors) > 0 && !send(ctx, out, ev) {
			return ctx.Err()
		}
	}
}

func send(ctx context.Context, out chan<- datastore.Event, ev datastore.Event) bool {
	select {
	case out <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

// watchNewDir adds a newly created subdirectory to the watch.
func (d *Datastore) watchNewDir(w *fsnotify.Watcher, e fsnotify.Event) {
	if !e.Has(fsnotify.Create) || hidden(filepath.Base(e.Name)) {
		return
	}
	if info, err := os.Stat(e.Name); err == nil && info.IsDir() {
		if err := w.Add(e.Name); err != nil {
			d.log.Warn("file datastore: cannot watch new directory, polling covers it", zap.String("dir", e.Name), zap.Error(err))
		}
	}
}

// watch watches the directory and its subdirectories (watchNewDir adds those
// created later; files written into a new directory before it is watched are found
// by the scan that its creation triggers, or by the poll).
func (d *Datastore) watch() (*fsnotify.Watcher, error) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("creating watcher: %w", err)
	}
	err = filepath.WalkDir(d.dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || !e.IsDir() {
			return err
		}
		if path != d.dir && hidden(e.Name()) {
			return filepath.SkipDir
		}
		return w.Add(path)
	})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("watching %s: %w", d.dir, err)
	}
	return w, nil
}

// Scan reads what changed since the last scan and returns the resulting Event
// (no InSync). Files whose size and modification time are unchanged are not read.
func (d *Datastore) Scan() (datastore.Event, error) {
	paths, err := manifestFiles(d.dir)
	if err != nil {
		return datastore.Event{}, err
	}
	var ev datastore.Event
	seen := make(map[string]bool, len(paths))
	for _, p := range paths {
		seen[p] = true
		if err := d.readFile(p); err != nil {
			ev.Errors = append(ev.Errors, err)
			d.log.Warn("file datastore: invalid manifest, previous content stays in force", zap.String("file", p), zap.Error(err))
		}
	}
	for p := range d.files {
		if !seen[p] {
			delete(d.files, p)
		}
	}
	ev.Updates = d.diff(paths)
	return ev, nil
}

// readFile refreshes the state of one file, returning its decoding errors.
func (d *Datastore) readFile(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	fsState := d.files[path]
	if fsState != nil && fsState.size == info.Size() && fsState.modTime.Equal(info.ModTime()) {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	sum := sha256.Sum256(data)
	if fsState == nil {
		fsState = &fileState{}
		d.files[path] = fsState
	} else if fsState.sum == sum {
		fsState.size, fsState.modTime = info.Size(), info.ModTime()
		return nil
	}
	// Remember size and time only once decoded, so a failing file is re-read
	// whenever it changes but its error is reported once per content.
	fsState.size, fsState.modTime, fsState.sum = info.Size(), info.ModTime(), sum
	objs, err := resource.Decode(path, data)
	if err != nil {
		return err
	}
	content := make(map[datastore.Key]runtime.Object, len(objs))
	var errs []error
	for _, o := range objs {
		k, kerr := datastore.KeyOf(o.Obj)
		if kerr != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.Source, kerr))
			continue
		}
		content[k] = o.Obj
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	fsState.objects = content
	return nil
}

// diff merges the files' valid content (later paths win) and returns the updates
// from the last sent view to it, sorted by key.
func (d *Datastore) diff(paths []string) []datastore.Update {
	merged := map[datastore.Key]runtime.Object{}
	for _, p := range paths {
		if fsState := d.files[p]; fsState != nil {
			for k, o := range fsState.objects {
				merged[k] = o
			}
		}
	}
	var ups []datastore.Update
	for k := range d.view {
		if _, ok := merged[k]; !ok {
			ups = append(ups, datastore.Update{Key: k})
		}
	}
	for k, o := range merged {
		if old, ok := d.view[k]; !ok || !reflect.DeepEqual(old, o) {
			ups = append(ups, datastore.Update{Key: k, Object: o})
		}
	}
	d.view = merged
	slices.SortFunc(ups, func(a, b datastore.Update) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	return ups
}

// manifestFiles lists the manifest files below dir, sorted, skipping hidden
// entries.
func manifestFiles(dir string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && hidden(e.Name()) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.IsDir() && isManifest(path) {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scanning %s: %w", dir, err)
	}
	return out, nil
}

func hidden(name string) bool { return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") }

func isManifest(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

var _ datastore.Datastore = (*Datastore)(nil)
