// Package crds embeds the CustomResourceDefinitions generated from api/v3 (make generate)
// so tests and installers can apply them without locating files on disk.
//
// In: the YAML files under v3/ (projectcalico.org/v3), legacy/ (crd.projectcalico.org/v1)
// and admission/ (a ValidatingAdmissionPolicy for the one check the schemas cannot make on
// apiservers before 1.34: port ranges "min:max" with min > max in policy rules).
// Out: decoded apiextensions/v1 CRD objects, one per kind, in file-name order, and the
// admission policy's YAML (a policy and its binding; install after the CRDs).
package crds

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

//go:embed v3/*.yaml legacy/*.yaml admission/*.yaml
var files embed.FS

// Set names a manifest set.
type Set string

// The two manifest sets.
const (
	SetV3     Set = "v3"     // projectcalico.org/v3
	SetLegacy Set = "legacy" // crd.projectcalico.org/v1
)

// Files returns the raw YAML of every CRD in a set, keyed by file name.
func Files(set Set) (map[string][]byte, error) {
	entries, err := fs.ReadDir(files, string(set))
	if err != nil {
		return nil, fmt.Errorf("reading CRD set %q: %w", set, err)
	}
	out := make(map[string][]byte, len(entries))
	for _, e := range entries {
		b, err := files.ReadFile(path.Join(string(set), e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", e.Name(), err)
		}
		out[e.Name()] = b
	}
	return out, nil
}

// Load decodes every CRD in a set, sorted by name.
func Load(set Set) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	raw, err := Files(set)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(raw))
	for n := range raw {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*apiextensionsv1.CustomResourceDefinition, 0, len(names))
	for _, n := range names {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(raw[n], crd); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", n, err)
		}
		out = append(out, crd)
	}
	return out, nil
}

// AdmissionPolicy returns the YAML of the port-range ValidatingAdmissionPolicy and its
// binding (two documents), to apply after the CRDs.
func AdmissionPolicy() []byte {
	b, err := files.ReadFile("admission/port-ranges.yaml")
	if err != nil {
		panic("manifests/crds: admission policy not embedded: " + err.Error())
	}
	return b
}
