package ipam

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/resource"
	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// Layout of the IPAM state below a file datastore directory.
const (
	FileIPAMDir       = "ipam"
	FileBlocksDir     = "ipam/blocks"
	FileAffinitiesDir = "ipam/affinities"
	FileHandlesDir    = "ipam/handles"
	FilePoolsDir      = "ipam/pools" // default pools written by EnsureDefaultPools
	fileLockName      = "ipam/.lock"
)

// FileStore keeps IPAM state as YAML files (apiVersion projectcalico.org/v3, one object
// per file) under <dir>/ipam/{blocks,affinities,handles}/<name>.yaml. Writes happen
// under an exclusive flock on <dir>/ipam/.lock and replace files atomically (a hidden
// ".tmp" file, fsync, rename), so several processes on one host share one directory
// safely and a watcher of dir only ever sees whole objects. The resourceVersion of an
// object is a number stored in its metadata; an update or delete whose version is not
// the stored one fails with ErrConflict.
//
// IPPools and IPReservations are read from every manifest under dir (except the IPAM
// object directories), re-parsing only files that changed.
type FileStore struct {
	dir  string
	log  *zap.Logger
	mu   sync.Mutex // serialises this process's writers; flock serialises processes
	lock *os.File

	blocks     *fileObjects[v3.IPAMBlock, *v3.IPAMBlock]
	affinities *fileObjects[v3.BlockAffinity, *v3.BlockAffinity]
	handles    *fileObjects[v3.IPAMHandle, *v3.IPAMHandle]

	cacheMu sync.Mutex
	cache   map[string]cachedManifest
}

type cachedManifest struct {
	modTime time.Time
	size    int64
	objs    []resource.Object
	err     error
}

// NewFileStore opens (creating as needed) the IPAM directories below dir.
func NewFileStore(dir string, log *zap.Logger) (*FileStore, error) {
	if log == nil {
		log = zap.NewNop()
	}
	for _, sub := range []string{FileBlocksDir, FileAffinitiesDir, FileHandlesDir} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return nil, fmt.Errorf("file store: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(dir, fileLockName), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("file store: opening lock: %w", err)
	}
	s := &FileStore{dir: dir, log: log, lock: lock, cache: map[string]cachedManifest{}}
	s.blocks = &fileObjects[v3.IPAMBlock, *v3.IPAMBlock]{s: s, sub: FileBlocksDir, kind: v3.KindIPAMBlock}
	s.affinities = &fileObjects[v3.BlockAffinity, *v3.BlockAffinity]{s: s, sub: FileAffinitiesDir, kind: v3.KindBlockAffinity}
	s.handles = &fileObjects[v3.IPAMHandle, *v3.IPAMHandle]{s: s, sub: FileHandlesDir, kind: v3.KindIPAMHandle}
	return s, nil
}

// Close releases the lock file.
func (s *FileStore) Close() error { return s.lock.Close() }

// Dir is the datastore directory.
func (s *FileStore) Dir() string { return s.dir }

// Blocks implements Store.
func (s *FileStore) Blocks() Objects[*v3.IPAMBlock] { return s.blocks }

// Affinities implements Store.
func (s *FileStore) Affinities() Objects[*v3.BlockAffinity] { return s.affinities }

// Handles implements Store.
func (s *FileStore) Handles() Objects[*v3.IPAMHandle] { return s.handles }

// locked runs fn holding both the in-process mutex and the cross-process flock.
func (s *FileStore) locked(fn func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := flock(s.lock, syscall.LOCK_EX); err != nil {
		return fmt.Errorf("locking %s: %w", s.lock.Name(), err)
	}
	defer func() { _ = flock(s.lock, syscall.LOCK_UN) }()
	return fn()
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// Pools implements Store.
func (s *FileStore) Pools(context.Context) ([]v3.IPPool, error) {
	objs, err := s.manifests()
	var out []v3.IPPool
	for _, o := range objs {
		if p, ok := o.Obj.(*v3.IPPool); ok {
			out = append(out, *p)
		}
	}
	return out, err
}

// Reservations implements Store.
func (s *FileStore) Reservations(context.Context) ([]v3.IPReservation, error) {
	objs, err := s.manifests()
	var out []v3.IPReservation
	for _, o := range objs {
		if r, ok := o.Obj.(*v3.IPReservation); ok {
			out = append(out, *r)
		}
	}
	return out, err
}

// CreatePool writes pool to <dir>/ipam/pools/<name>.yaml; ErrConflict when a pool of
// that name exists anywhere in dir.
func (s *FileStore) CreatePool(ctx context.Context, pool *v3.IPPool) error {
	return s.locked(func() error {
		pools, err := s.Pools(ctx)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(pools, func(p v3.IPPool) bool { return p.Name == pool.Name }) {
			return fmt.Errorf("IP pool %s: %w", pool.Name, ErrConflict)
		}
		p := pool.DeepCopy()
		p.APIVersion, p.Kind = v3.SchemeGroupVersion.String(), v3.KindIPPool
		if err := os.MkdirAll(filepath.Join(s.dir, FilePoolsDir), 0o755); err != nil {
			return err
		}
		return writeAtomically(filepath.Join(s.dir, FilePoolsDir, p.Name+".yaml"), p)
	})
}

// manifests decodes the manifests under dir outside the IPAM object directories,
// re-reading only files whose size or modification time changed. A file that does not
// decode is logged (once per change) and skipped: a broken policy manifest must not stop
// pods getting addresses.
func (s *FileStore) manifests() ([]resource.Object, error) {
	var files []string
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(s.dir, path)
			if rel == FileBlocksDir || rel == FileAffinitiesDir || rel == FileHandlesDir {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(d.Name(), ".") && isManifest(d.Name()) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", s.dir, err)
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	var objs []resource.Object
	fresh := make(map[string]cachedManifest, len(files))
	for _, f := range files {
		c := s.loadCached(f)
		fresh[f] = c
		objs = append(objs, c.objs...)
	}
	s.cache = fresh
	return objs, nil
}

func (s *FileStore) loadCached(path string) cachedManifest {
	info, err := os.Stat(path)
	if err != nil {
		return cachedManifest{err: err}
	}
	if c, ok := s.cache[path]; ok && c.modTime.Equal(info.ModTime()) && c.size == info.Size() {
		return c
	}
	objs, err := resource.LoadFile(path)
	if err != nil {
		s.log.Warn("skipping objects of a manifest that does not decode", zap.String("file", path), zap.Error(err))
	}
	return cachedManifest{modTime: info.ModTime(), size: info.Size(), objs: objs, err: err}
}

func isManifest(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// fileObjects is one kind's directory.
type fileObjects[T any, P storedObject[T]] struct {
	s    *FileStore
	sub  string
	kind string
}

func (f *fileObjects[T, P]) path(name string) (string, error) {
	if !validObjectName(name) {
		return "", fmt.Errorf("%s name %q is not a valid object name", f.kind, name)
	}
	return filepath.Join(f.s.dir, f.sub, name+".yaml"), nil
}

func (f *fileObjects[T, P]) List(context.Context) ([]P, error) {
	entries, err := os.ReadDir(filepath.Join(f.s.dir, f.sub))
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", f.sub, err)
	}
	out := make([]P, 0, len(entries))
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".yaml")
		if !ok || strings.HasPrefix(name, ".") || e.IsDir() {
			continue
		}
		obj, err := f.read(filepath.Join(f.s.dir, f.sub, e.Name()))
		if errors.Is(err, ErrNotFound) {
			continue // deleted since ReadDir
		}
		if err != nil {
			return nil, err
		}
		out = append(out, obj)
	}
	return out, nil
}

func (f *fileObjects[T, P]) Get(_ context.Context, name string) (P, error) {
	path, err := f.path(name)
	if err != nil {
		return nil, err
	}
	return f.read(path)
}

func (f *fileObjects[T, P]) read(path string) (P, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s %s: %w", f.kind, filepath.Base(path), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	obj := P(new(T))
	if err := yaml.Unmarshal(data, obj); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	if obj.GetResourceVersion() == "" {
		obj.SetResourceVersion("0") // written by hand
	}
	return obj, nil
}

func (f *fileObjects[T, P]) Create(_ context.Context, obj P) (P, error) {
	path, err := f.path(obj.GetName())
	if err != nil {
		return nil, err
	}
	var out P
	err = f.s.locked(func() error {
		if _, err := os.Stat(path); err == nil {
			return fmt.Errorf("creating %s %s: %w", f.kind, obj.GetName(), ErrConflict)
		}
		obj.SetCreationTimestamp(metav1.NewTime(time.Now().UTC().Truncate(time.Second)))
		out, err = f.write(path, obj, 0)
		return err
	})
	return out, err
}

func (f *fileObjects[T, P]) Update(_ context.Context, obj P) (P, error) {
	path, err := f.path(obj.GetName())
	if err != nil {
		return nil, err
	}
	var out P
	err = f.s.locked(func() error {
		cur, err := f.read(path)
		if err != nil {
			return fmt.Errorf("updating: %w", err)
		}
		if cur.GetResourceVersion() != obj.GetResourceVersion() {
			return fmt.Errorf("updating %s %s: %w", f.kind, obj.GetName(), ErrConflict)
		}
		prev, _ := strconv.ParseInt(cur.GetResourceVersion(), 10, 64)
		out, err = f.write(path, obj, prev)
		return err
	})
	return out, err
}

func (f *fileObjects[T, P]) Delete(_ context.Context, name, rv string) error {
	path, err := f.path(name)
	if err != nil {
		return err
	}
	return f.s.locked(func() error {
		cur, err := f.read(path)
		if err != nil {
			return fmt.Errorf("deleting: %w", err)
		}
		if rv != "" && cur.GetResourceVersion() != rv {
			return fmt.Errorf("deleting %s %s: %w", f.kind, name, ErrConflict)
		}
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("deleting %s: %w", path, err)
		}
		return nil
	})
}

// write stores obj with a new resourceVersion: the wall clock in nanoseconds, or one
// more than prev if the clock is behind, so a version is never reused for a name even
// across a delete and re-create.
func (f *fileObjects[T, P]) write(path string, obj P, prev int64) (P, error) {
	rv := max(time.Now().UnixNano(), prev+1)
	stored := P(obj.DeepCopy())
	stored.SetResourceVersion(strconv.FormatInt(rv, 10))
	if ro, ok := any(stored).(runtime.Object); ok {
		ro.GetObjectKind().SetGroupVersionKind(v3.SchemeGroupVersion.WithKind(f.kind))
	}
	if err := writeAtomically(path, stored); err != nil {
		return nil, err
	}
	obj.SetResourceVersion(stored.GetResourceVersion())
	return stored, nil
}

// writeAtomically writes obj as YAML to a hidden temporary file next to path, syncs it
// and renames it over path.
func writeAtomically(path string, obj any) error {
	data, err := yaml.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	fh, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	_, err = fh.Write(bytes.TrimSpace(append(data, '\n')))
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
