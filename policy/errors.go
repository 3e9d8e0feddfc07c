package policy

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// FieldError is one problem at one field path.
type FieldError struct {
	Path   *field.Path
	Detail string
}

// Error is "path: detail", e.g. "spec.ingress[0].destination.ports[1]: port 70000
// out of range".
func (e FieldError) Error() string {
	if e.Path == nil || e.Path.String() == "" {
		return e.Detail
	}
	return e.Path.String() + ": " + e.Detail
}

// ValidationError lists every problem found in one object, in field order.
type ValidationError struct {
	Errors []FieldError
}

// Error joins the problems with "; ".
func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		parts[i] = fe.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap exposes each FieldError to errors.As / errors.Is.
func (e *ValidationError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, fe := range e.Errors {
		out[i] = fe
	}
	return out
}

// errs collects field errors during a conversion.
type errs struct{ list []FieldError }

func (e *errs) add(p *field.Path, format string, args ...any) {
	e.list = append(e.list, FieldError{Path: p, Detail: fmt.Sprintf(format, args...)})
}

func (e *errs) addErr(p *field.Path, err error) {
	e.list = append(e.list, FieldError{Path: p, Detail: err.Error()})
}

// err returns nil when nothing was collected.
func (e *errs) err() error {
	if len(e.list) == 0 {
		return nil
	}
	return &ValidationError{Errors: e.list}
}
