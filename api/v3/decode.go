package v3

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// ErrNotCalico is returned (wrapped) for objects outside projectcalico.org/v3 and
// crd.projectcalico.org/v1.
var ErrNotCalico = errors.New("not a projectcalico.org/v3 or crd.projectcalico.org/v1 object")

// New returns an empty object of the named kind, or nil if the kind is unknown.
func New(kind string) runtime.Object {
	proto, ok := AllKinds()[kind]
	if !ok {
		return nil
	}
	return reflect.New(reflect.TypeOf(proto).Elem()).Interface().(runtime.Object)
}

// Decode reads one object in YAML or JSON, in projectcalico.org/v3 or
// crd.projectcalico.org/v1, strictly: unknown or duplicate fields and wrong-case field
// names are errors. Legacy objects come back as v3 (see FromLegacy).
func Decode(data []byte) (runtime.Object, error) {
	return decode(data, true)
}

// decode reads one object; strict also rejects unknown fields (duplicates and wrong-case
// names are always rejected, as the apiserver does).
func decode(data []byte, strict bool) (runtime.Object, error) {
	j, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("decoding YAML: %w", err)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(j, &tm); err != nil {
		return nil, fmt.Errorf("reading apiVersion and kind: %w", err)
	}
	gv := tm.APIVersion
	if gv != SchemeGroupVersion.String() && gv != LegacyGroupVersion.String() {
		return nil, fmt.Errorf("%s %q: %w", tm.Kind, gv, ErrNotCalico)
	}
	obj := New(tm.Kind)
	if obj == nil {
		return nil, fmt.Errorf("kind %q in %s: %w", tm.Kind, gv, ErrNotCalico)
	}
	strictErrs, err := sigsjson.UnmarshalStrict(j, obj)
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", tm.Kind, err)
	}
	if strict && len(strictErrs) > 0 {
		return nil, fmt.Errorf("decoding %s: %w", tm.Kind, errors.Join(strictErrs...))
	}
	if gv == LegacyGroupVersion.String() {
		upgradeLegacy(obj)
	}
	return obj, nil
}

// DecodeAll reads a multi-document YAML stream and decodes every Calico object in it.
// Documents of other API groups are skipped; empty documents are ignored.
func DecodeAll(data []byte) ([]runtime.Object, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []runtime.Object
	for i := 0; ; i++ {
		doc, err := reader.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("reading document %d: %w", i, err)
		}
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, err := Decode(doc)
		if errors.Is(err, ErrNotCalico) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		out = append(out, obj)
	}
}

// FromLegacy converts a crd.projectcalico.org/v1 object (as a dynamic client returns it)
// into its v3 Go type. The spec shape is the same; the result carries apiVersion
// projectcalico.org/v3 and, for policies in the default tier, the name without the
// "default." prefix that Calico's CRD backend adds. Unknown fields are ignored rather
// than rejected: a cluster that still runs Calico's own CRDs may hold settings (newer
// FelixConfiguration fields, say) that Palisade does not model, and reading the rest must
// not fail because of them.
func FromLegacy(u *unstructured.Unstructured) (runtime.Object, error) {
	if u.GetAPIVersion() != LegacyGroupVersion.String() {
		return nil, fmt.Errorf("%s %s/%s: want %s", u.GetKind(), u.GetNamespace(), u.GetName(), LegacyGroupVersion)
	}
	j, err := u.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding %s %s: %w", u.GetKind(), u.GetName(), err)
	}
	return decode(j, false)
}

// upgradeLegacy moves a decoded legacy object to projectcalico.org/v3.
func upgradeLegacy(obj runtime.Object) {
	obj.GetObjectKind().SetGroupVersionKind(SchemeGroupVersion.WithKind(obj.GetObjectKind().GroupVersionKind().Kind))
	switch p := obj.(type) {
	case *NetworkPolicy:
		p.Name = stripDefaultTier(p.Name, p.Spec.Tier)
	case *GlobalNetworkPolicy:
		p.Name = stripDefaultTier(p.Name, p.Spec.Tier)
	}
}

func stripDefaultTier(name, tier string) string {
	if tier == "" || tier == "default" {
		return strings.TrimPrefix(name, "default.")
	}
	return name
}

// stripComments drops whole-line YAML comments, so a document of only comments counts
// as empty.
func stripComments(doc []byte) []byte {
	var out bytes.Buffer
	for _, line := range bytes.Split(doc, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] == '#' {
			continue
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	return out.Bytes()
}
