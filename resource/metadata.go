package resource

import (
	"errors"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// DefaultNamespace is given to namespaced objects that name none, as kubectl does.
const DefaultNamespace = "default"

// checkMetadata requires a name and defaults the namespace of namespaced kinds.
func checkMetadata(loc Location, obj runtime.Object, namespaced bool) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return &Error{Source: loc, Path: "metadata", Err: err}
	}
	if m.GetName() == "" {
		return &Error{Source: loc, Path: "metadata.name", Err: errors.New("required")}
	}
	if namespaced && m.GetNamespace() == "" {
		m.SetNamespace(DefaultNamespace)
	}
	return nil
}
