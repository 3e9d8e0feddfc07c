package cni

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"

	"github.com/palisadenet/palisade/resource"
)

// fileDatastore serves the embedded single-host mode: pools, pods and nodes are
// manifests in a directory, IPAM state lives under its ipam/ subdirectory.
type fileDatastore struct {
	ipamBackend
	dir string
	log *zap.Logger
}

// ipamSubdir holds the file IPAM store's objects; the manifest walk skips it.
const ipamSubdir = "ipam"

func (d *fileDatastore) PodAnnotations(_ context.Context, pod PodRef) (map[string]string, bool, error) {
	var found *corev1.Pod
	err := d.walk(pod.Name, func(obj resource.Object) {
		if p, ok := obj.Obj.(*corev1.Pod); ok && p.Name == pod.Name && p.Namespace == pod.Namespace {
			found = p
		}
	})
	if err != nil || found == nil {
		return nil, false, err
	}
	return found.Annotations, true, nil
}

func (d *fileDatastore) NodeLabels(_ context.Context, node string) (map[string]string, error) {
	var labels map[string]string
	err := d.walk(node, func(obj resource.Object) {
		if n, ok := obj.Obj.(*corev1.Node); ok && n.Name == node {
			labels = n.Labels
		}
	})
	return labels, err
}

// RecordPodIPs does nothing: in file mode the agent learns the pod's addresses from
// the IPAM blocks in the same directory.
func (d *fileDatastore) RecordPodIPs(context.Context, PodRef, string, []netip.Prefix) error {
	return nil
}

// ForgetPodIPs does nothing, like RecordPodIPs.
func (d *fileDatastore) ForgetPodIPs(context.Context, PodRef, string) error { return nil }

func (d *fileDatastore) Ready(context.Context) error {
	if _, err := os.ReadDir(d.dir); err != nil {
		return fmt.Errorf("reading datastore_dir: %w", err)
	}
	return nil
}

// walk decodes the manifests that mention name (a cheap filter: the file defining an
// object contains its name) and calls fn for each object. Files that fail to decode
// are skipped with a log line: another object's broken manifest must not stop pods
// from starting.
func (d *fileDatastore) walk(name string, fn func(resource.Object)) error {
	needle := []byte(name)
	err := filepath.WalkDir(d.dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		base := e.Name()
		if e.IsDir() {
			if path != d.dir && (base == ipamSubdir || strings.HasPrefix(base, ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasPrefix(base, ".") || !isManifest(base) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Contains(data, needle) {
			return nil
		}
		objs, derr := resource.Decode(path, data)
		if derr != nil {
			d.log.Warn("skipping undecodable manifest", zap.String("path", path), zap.Error(derr))
		}
		for _, o := range objs {
			fn(o)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading manifests under %s: %w", d.dir, err)
	}
	return nil
}

func isManifest(name string) bool {
	switch filepath.Ext(name) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}
