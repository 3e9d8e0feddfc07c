package resource

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// Location says where an object (or an error) came from.
type Location struct {
	// File is the path as the caller gave it ("-" or "<stdin>" for standard input).
	File string
	// Document is the 1-based index of the document in File (0 when unknown).
	Document int
	// Item is the 1-based index inside a `kind: List` document (0 when not in a List).
	Item int
	// APIVersion and Kind as written in the document (before normalisation).
	APIVersion string
	Kind       string
	// Namespace and Name from metadata, when known.
	Namespace string
	Name      string
}

// String renders the location as `file: document N (Kind ns/name)`.
func (l Location) String() string {
	var b strings.Builder
	b.WriteString(l.File)
	if l.Document > 0 {
		fmt.Fprintf(&b, ": document %d", l.Document)
	}
	if l.Item > 0 {
		fmt.Fprintf(&b, " item %d", l.Item)
	}
	if id := l.describe(); id != "" {
		b.WriteString(" (" + id + ")")
	}
	return b.String()
}

func (l Location) describe() string {
	name := l.Name
	if l.Namespace != "" && name != "" {
		name = l.Namespace + "/" + name
	}
	switch {
	case l.Kind != "" && name != "":
		return l.Kind + " " + name
	case l.Kind != "":
		return l.Kind
	default:
		return name
	}
}

// Object is one decoded object and where it came from.
type Object struct {
	Source Location
	Obj    runtime.Object
}

// Error is a decoding or validation error at a location and field path.
type Error struct {
	Source Location
	// Path is the field path inside the object (e.g. "spec.ingress[0].action"); empty
	// when the error concerns the whole document.
	Path string
	Err  error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Source.String() + ": " + e.Err.Error()
	}
	return e.Source.String() + ": " + e.Path + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }
