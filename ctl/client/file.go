package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/resource"
	"github.com/palisadenet/palisade/routing/ipam"
)

// Options are the file backend's injectable clock and UID source (tests pin both).
type Options struct {
	Now    func() time.Time
	NewUID func() string
}

// File is the file backend: a directory of manifests, read and written the way
// package calc/datastore/file reads it. Each object it creates gets its own file,
// <dir>/<kind in lower case>/<namespace>.<name>.yaml (<name>.yaml when
// cluster-scoped); an object that already lives somewhere is rewritten where it
// lives, in place of its document. Every write goes to a hidden temporary file that is
// renamed over the target, so a watcher sees whole files only, under an flock on
// <dir>/.palisadectl.lock so that two palisadectl runs do not interleave.
type File struct {
	dir   string
	opts  Options
	cache map[string]*fileCache
	warns map[string]string
	// paths are the manifest files of the last directory walk, sorted.
	paths []string
	// batch is set while Batch holds the lock: no other palisadectl writes then, so
	// the walk is not repeated and this client's own writes update the cache.
	batch   bool
	scanned bool
	// ipamUnlock releases routing/ipam's lock when this client holds it.
	ipamUnlock func()
}

type fileCache struct {
	size    int64
	modTime time.Time
	objs    []resource.Object
	err     error
}

// NewFile opens dir, which must exist.
func NewFile(dir string, opts Options) (*File, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("file datastore: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("file datastore: %s is not a directory", dir)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.NewUID == nil {
		opts.NewUID = func() string { return string(uuid.NewUUID()) }
	}
	return &File{dir: dir, opts: opts, cache: map[string]*fileCache{}, warns: map[string]string{}}, nil
}

// located is one Calico object and the file and document that define it.
type located struct {
	path string
	loc  resource.Location
	obj  runtime.Object
}

// scan refreshes the cache and returns every object, files in lexical order. Inside a
// Batch the directory is walked once; later calls reuse the file list.
func (f *File) scan() ([]resource.Object, error) {
	if !f.batch || !f.scanned {
		if err := f.walk(); err != nil {
			return nil, err
		}
		f.scanned = f.batch
	}
	var all []resource.Object
	for _, p := range f.paths {
		c := f.cache[p]
		if c == nil || c.err != nil {
			continue
		}
		all = append(all, c.objs...)
	}
	return all, nil
}

// walk lists the manifest files (skipping hidden ones, as the file datastore does)
// and re-reads those that changed.
func (f *File) walk() error {
	var paths []string
	err := filepath.WalkDir(f.dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != f.dir && hiddenName(e.Name()) {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.IsDir() && manifestName(path) {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scanning %s: %w", f.dir, err)
	}
	seen := map[string]bool{}
	for _, p := range paths {
		seen[p] = true
		if err := f.refresh(p); err != nil {
			return err
		}
	}
	for p := range f.cache {
		if !seen[p] {
			delete(f.cache, p)
			delete(f.warns, p)
		}
	}
	f.paths = paths
	return nil
}

// refresh re-reads one file into the cache and records its warning.
func (f *File) refresh(path string) error {
	c, err := f.read(path)
	if err != nil {
		return err
	}
	if c.err != nil {
		f.warns[path] = fmt.Sprintf("%s is ignored (the file datastore ignores it too): %v", path, c.err)
	} else {
		delete(f.warns, path)
	}
	return nil
}

// wrote updates the cache after this client wrote or removed path.
func (f *File) wrote(path string) error {
	i, found := slices.BinarySearch(f.paths, path)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if found {
			f.paths = slices.Delete(f.paths, i, i+1)
		}
		delete(f.cache, path)
		delete(f.warns, path)
		return nil
	}
	if !found {
		f.paths = slices.Insert(f.paths, i, path)
	}
	delete(f.cache, path) // re-read even if size and time look unchanged
	return f.refresh(path)
}

// Batch runs fn holding the directory's lock, so that what fn checks still holds when
// it writes (no other palisadectl can write in between), and the directory is walked
// once rather than for every call.
func (f *File) Batch(fn func() error) error {
	unlock, err := f.lock()
	if err != nil {
		return err
	}
	defer unlock()
	f.batch, f.scanned = true, false
	defer func() {
		f.releaseIPAMLock()
		f.batch, f.scanned = false, false
	}()
	return fn()
}

// read decodes one file unless its size and modification time are unchanged.
func (f *File) read(path string) (*fileCache, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if c := f.cache[path]; c != nil && c.size == info.Size() && c.modTime.Equal(info.ModTime()) {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	objs, derr := resource.Decode(path, data)
	c := &fileCache{size: info.Size(), modTime: info.ModTime(), objs: objs, err: derr}
	f.cache[path] = c
	return c, nil
}

// find returns where kind/namespace/name is defined, in file order (the last one is
// in force, as in the file datastore).
func (f *File) find(kind *Kind, namespace, name string) ([]located, error) {
	all, err := f.scan()
	if err != nil {
		return nil, err
	}
	var out []located
	for _, o := range all {
		if matches(o.Obj, kind, namespace, name) {
			out = append(out, located{path: o.Source.File, loc: o.Source, obj: o.Obj})
		}
	}
	return out, nil
}

func matches(obj runtime.Object, kind *Kind, namespace, name string) bool {
	gvk := obj.GetObjectKind().GroupVersionKind()
	if gvk.Group != v3.GroupName || gvk.Kind != kind.Kind {
		return false
	}
	m, err := meta.Accessor(obj)
	if err != nil || m.GetName() != name {
		return false
	}
	return !kind.Namespaced || m.GetNamespace() == namespace
}

// Get implements Client.
func (f *File) Get(_ context.Context, kind *Kind, namespace, name string) (runtime.Object, error) {
	found, err := f.find(kind, namespace, name)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, notFound(kind, namespace, name)
	}
	return found[len(found)-1].obj.DeepCopyObject(), nil
}

// List implements Client.
func (f *File) List(_ context.Context, kind *Kind, namespace string) ([]runtime.Object, error) {
	all, err := f.scan()
	if err != nil {
		return nil, err
	}
	byKey := map[string]runtime.Object{}
	for _, o := range all {
		gvk := o.Obj.GetObjectKind().GroupVersionKind()
		if gvk.Group != v3.GroupName || gvk.Kind != kind.Kind {
			continue
		}
		m, _ := meta.Accessor(o.Obj)
		if kind.Namespaced && namespace != "" && m.GetNamespace() != namespace {
			continue
		}
		byKey[m.GetNamespace()+"/"+m.GetName()] = o.Obj // later files win
	}
	out := make([]runtime.Object, 0, len(byKey))
	for _, o := range byKey {
		out = append(out, o.DeepCopyObject())
	}
	sortObjects(out)
	return out, nil
}

// Create implements Client.
func (f *File) Create(_ context.Context, obj runtime.Object) (runtime.Object, error) {
	kind, m, err := f.prepare(obj)
	if err != nil {
		return nil, err
	}
	unlock, err := f.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := f.lockIPAM(kind); err != nil {
		return nil, err
	}
	found, err := f.find(kind, m.GetNamespace(), m.GetName())
	if err != nil {
		return nil, err
	}
	if len(found) > 0 {
		return nil, alreadyExists(kind, m.GetNamespace(), m.GetName())
	}
	if ts := m.GetCreationTimestamp(); ts.IsZero() {
		m.SetCreationTimestamp(metav1.NewTime(f.opts.Now().UTC().Truncate(time.Second)))
	}
	if m.GetUID() == "" {
		m.SetUID(types.UID(f.opts.NewUID()))
	}
	path := f.newPath(kind, m.GetNamespace(), m.GetName())
	if _, err := os.Stat(path); err == nil {
		return nil, fmt.Errorf("creating %s: %s exists and does not define it; move that file away", KeyOf(obj), path)
	}
	data, err := encodeYAML(obj)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	if err := writeAtomic(path, data); err != nil {
		return nil, err
	}
	return obj, f.wrote(path)
}

// Update implements Client.
func (f *File) Update(_ context.Context, obj runtime.Object) (runtime.Object, error) {
	kind, m, err := f.prepare(obj)
	if err != nil {
		return nil, err
	}
	unlock, err := f.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := f.lockIPAM(kind); err != nil {
		return nil, err
	}
	found, err := f.find(kind, m.GetNamespace(), m.GetName())
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, notFound(kind, m.GetNamespace(), m.GetName())
	}
	current := found[len(found)-1]
	old, _ := meta.Accessor(current.obj)
	if ts := m.GetCreationTimestamp(); ts.IsZero() {
		m.SetCreationTimestamp(old.GetCreationTimestamp())
	}
	if m.GetUID() == "" {
		m.SetUID(old.GetUID())
	}
	if err := f.rewrite(current, obj); err != nil {
		return nil, err
	}
	return obj, f.wrote(current.path)
}

// Delete implements Client. Every definition of the object goes, so that no
// earlier file's copy comes back into force.
func (f *File) Delete(_ context.Context, kind *Kind, namespace, name string) (runtime.Object, error) {
	unlock, err := f.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if err := f.lockIPAM(kind); err != nil {
		return nil, err
	}
	found, err := f.find(kind, namespace, name)
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, notFound(kind, namespace, name)
	}
	// Remove from the back so that document indexes of earlier entries in the same
	// file stay valid.
	for i := len(found) - 1; i >= 0; i-- {
		if err := f.rewrite(found[i], nil); err != nil {
			return nil, err
		}
		if err := f.wrote(found[i].path); err != nil {
			return nil, err
		}
	}
	return found[len(found)-1].obj, nil
}

// prepare checks the object and clears what the file backend does not keep.
func (f *File) prepare(obj runtime.Object) (*Kind, metav1.Object, error) {
	kind, err := KindOf(obj)
	if err != nil {
		return nil, nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(v3.SchemeGroupVersion.WithKind(kind.Kind))
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, nil, err
	}
	if m.GetName() == "" {
		return nil, nil, errors.New("metadata.name: required")
	}
	if kind.Namespaced && m.GetNamespace() == "" {
		m.SetNamespace(resource.DefaultNamespace)
	}
	if !kind.Namespaced {
		m.SetNamespace("")
	}
	// A directory has no resource versions; one copied from a cluster means nothing here.
	m.SetResourceVersion("")
	m.SetManagedFields(nil)
	return kind, m, nil
}

// ipamDirs are where package routing/ipam's FileStore keeps the IPAM kinds: objects
// of those kinds created here go there too, so that the allocator sees them.
var ipamDirs = map[string]string{
	v3.KindIPAMBlock:     ipam.FileBlocksDir,
	v3.KindBlockAffinity: ipam.FileAffinitiesDir,
	v3.KindIPAMHandle:    ipam.FileHandlesDir,
}

// newPath is where a new object's file goes.
func (f *File) newPath(kind *Kind, namespace, name string) string {
	base := name + ".yaml"
	if sub, ok := ipamDirs[kind.Kind]; ok {
		return filepath.Join(f.dir, filepath.FromSlash(sub), base)
	}
	if kind.Namespaced {
		base = namespace + "." + base
	}
	return filepath.Join(f.dir, strings.ToLower(kind.Kind), base)
}

// lock takes the directory's flock (a no-op inside Batch, which holds it).
func (f *File) lock() (func(), error) {
	if f.batch {
		return func() {}, nil
	}
	unlock, err := flockFile(filepath.Join(f.dir, ".palisadectl.lock"))
	if err != nil {
		return nil, err
	}
	return func() {
		f.releaseIPAMLock()
		unlock()
	}, nil
}

// ipamLockPath is the lock routing/ipam's FileStore takes around every IPAM write
// (notes/ipam-contract.md: <dir>/ipam/.lock).
const ipamLockPath = "ipam/.lock"

// lockIPAM also takes the IPAM store's lock before an IPAM kind is written, so that an
// allocation on this host never interleaves with the write. It is held until the
// operation (or Batch) ends, and taken only for IPAM kinds, so that applying policies
// never holds up pod start-up.
func (f *File) lockIPAM(kind *Kind) error {
	if _, ok := ipamDirs[kind.Kind]; !ok || f.ipamUnlock != nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Join(f.dir, "ipam"), 0o755); err != nil {
		return fmt.Errorf("locking IPAM: %w", err)
	}
	unlock, err := flockFile(filepath.Join(f.dir, filepath.FromSlash(ipamLockPath)))
	if err != nil {
		return err
	}
	f.ipamUnlock = unlock
	return nil
}

func (f *File) releaseIPAMLock() {
	if f.ipamUnlock != nil {
		f.ipamUnlock()
		f.ipamUnlock = nil
	}
}

// flockFile opens (creating) path and takes an exclusive flock on it.
func flockFile(path string) (func(), error) {
	fd, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(fd.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(fd.Fd()), syscall.LOCK_UN)
		fd.Close()
	}, nil
}

// PolicyObjects implements Client: every object in the directory.
func (f *File) PolicyObjects(context.Context) ([]resource.Object, error) {
	return f.scan()
}

// ClusterInfo implements Client.
func (f *File) ClusterInfo(ctx context.Context) (ClusterInfo, error) {
	info := ClusterInfo{Datastore: "file " + f.dir}
	kind, err := LookupKind(v3.KindClusterInformation)
	if err != nil {
		return info, err
	}
	obj, err := f.Get(ctx, kind, "", "default")
	if errors.Is(err, ErrNotFound) {
		return info, nil
	}
	if err != nil {
		return info, err
	}
	ci := obj.(*v3.ClusterInformation)
	info.CalicoVersion, info.ClusterType = ci.Spec.CalicoVersion, ci.Spec.ClusterType
	return info, nil
}

// Warnings implements Client.
func (f *File) Warnings() []string {
	out := make([]string, 0, len(f.warns))
	for _, w := range f.warns {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

func hiddenName(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~")
}

func manifestName(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

var _ Client = (*File)(nil)
