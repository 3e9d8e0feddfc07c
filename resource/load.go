package resource

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// StdinName is the path that means standard input, and the name its errors carry.
const StdinName = "-"

// maxInputBytes bounds one file or stdin, so a wrong path (a disk image, /dev/zero)
// gives an error instead of exhausting memory.
const maxInputBytes = 64 << 20

// LoadPaths decodes every object in paths, in order. A directory is walked recursively
// and its *.yaml, *.yml and *.json files are read in lexical order; a file named
// explicitly is read whatever its extension; "-" reads stdin (at most once). It returns
// all objects that decoded cleanly and every error, joined.
func LoadPaths(paths []string, stdin io.Reader) ([]Object, error) {
	var objs []Object
	var errs []error
	stdinRead := false
	for _, p := range paths {
		if p == StdinName {
			if stdinRead {
				errs = append(errs, errors.New("stdin (-) given more than once"))
				continue
			}
			stdinRead = true
			got, err := loadReader(StdinName, stdin)
			objs, errs = append(objs, got...), appendErr(errs, err)
			continue
		}
		files, err := expandPath(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			got, err := LoadFile(f)
			objs, errs = append(objs, got...), appendErr(errs, err)
		}
	}
	return objs, errors.Join(errs...)
}

// LoadFile decodes every object in one file.
func LoadFile(path string) ([]Object, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	defer f.Close()
	return loadReader(path, f)
}

func loadReader(name string, r io.Reader) ([]Object, error) {
	if r == nil {
		return nil, fmt.Errorf("reading %s: no input stream", name)
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInputBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > maxInputBytes {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", name, maxInputBytes)
	}
	return Decode(name, data)
}

// expandPath returns p itself when it is a file, or the manifest files below it.
func expandPath(p string) ([]string, error) {
	info, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", p, err)
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	var files []string
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && isManifestName(path) {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking %s: %w", p, err)
	}
	return files, nil // WalkDir visits entries in lexical order
}

func isManifestName(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func appendErr(errs []error, err error) []error {
	if err != nil {
		return append(errs, err)
	}
	return errs
}
