package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/manifests/crds"
	"github.com/palisadenet/palisade/policy/selector"
)

// FieldError is one schema finding: the field path and what is wrong with it.
type FieldError struct {
	Path string
	Err  error
}

func (e FieldError) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

// schemaChecker validates objects of one kind as the API server's CRD handler does:
// OpenAPI schema, then CEL rules.
type schemaChecker struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

var (
	checkersMu sync.Mutex
	checkers   = map[string]*schemaChecker{}
)

// Validate checks obj (a typed api/v3 object) against its embedded CRD schema and
// CEL rules. It returns every finding with its field path ("spec.cidr"), or nil.
func Validate(obj runtime.Object) ([]FieldError, error) {
	kind, err := KindOf(obj)
	if err != nil {
		return nil, err
	}
	c, err := checkerFor(kind.Kind)
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", KeyOf(obj), err)
	}
	var u map[string]any
	// The API server's decoder: whole numbers become int64, as CEL expects.
	if err := utiljson.Unmarshal(js, &u); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", KeyOf(obj), err)
	}
	// The API server prunes metadata it manages before validating.
	structuralpruning.PruneWithOptions(u, c.structural, true, structuralschema.UnknownFieldPathOptions{})
	errs := apiservervalidation.ValidateCustomResource(nil, u, c.validator)
	celErrs, _ := c.cel.Validate(context.Background(), nil, c.structural, u, nil, celconfig.RuntimeCELCostBudget)
	errs = append(errs, celErrs...)
	out := make([]FieldError, 0, len(errs))
	for _, e := range errs {
		out = append(out, fieldErrorOf(e))
	}
	return append(out, checkSelectors(obj)...), nil
}

// fieldErrorOf turns an apiserver field.Error into a FieldError with a plain message.
func fieldErrorOf(e *field.Error) FieldError {
	msg := e.ErrorBody()
	return FieldError{Path: strings.TrimPrefix(e.Field, "<nil>."), Err: errors.New(msg)}
}

func checkerFor(kind string) (*schemaChecker, error) {
	checkersMu.Lock()
	defer checkersMu.Unlock()
	if c, ok := checkers[kind]; ok {
		return c, nil
	}
	list, err := crds.Load(crds.SetV3)
	if err != nil {
		return nil, fmt.Errorf("loading the embedded CRDs: %w", err)
	}
	for _, crd := range list {
		if crd.Spec.Names.Kind != kind {
			continue
		}
		c, err := newSchemaChecker(crd)
		if err != nil {
			return nil, fmt.Errorf("CRD %s: %w", crd.Name, err)
		}
		checkers[kind] = c
		return c, nil
	}
	return nil, fmt.Errorf("no CRD for kind %s", kind)
}

func newSchemaChecker(crd *apiextensionsv1.CustomResourceDefinition) (*schemaChecker, error) {
	if len(crd.Spec.Versions) == 0 || crd.Spec.Versions[0].Schema == nil {
		return nil, errors.New("no schema")
	}
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &internal, nil); err != nil {
		return nil, fmt.Errorf("converting schema: %w", err)
	}
	s, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return nil, fmt.Errorf("structural schema: %w", err)
	}
	v, _, err := apiservervalidation.NewSchemaValidator(&internal)
	if err != nil {
		return nil, fmt.Errorf("schema validator: %w", err)
	}
	return &schemaChecker{structural: s, validator: v, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}, nil
}

// selectorFields lists, per kind, the selector fields the CRD schema cannot check
// (a selector is a small language; the API server would store a broken one).
func selectorFields(obj runtime.Object) map[string]string {
	switch o := obj.(type) {
	case *v3.IPPool:
		return map[string]string{"spec.nodeSelector": o.Spec.NodeSelector}
	case *v3.BGPPeer:
		return map[string]string{"spec.nodeSelector": o.Spec.NodeSelector, "spec.peerSelector": o.Spec.PeerSelector}
	}
	return nil
}

// checkSelectors parses the selector fields of obj.
func checkSelectors(obj runtime.Object) []FieldError {
	var out []FieldError
	fields := selectorFields(obj)
	paths := make([]string, 0, len(fields))
	for p := range fields {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if fields[p] == "" {
			continue
		}
		if _, err := selector.Parse(fields[p]); err != nil {
			out = append(out, FieldError{Path: p, Err: err})
		}
	}
	return out
}
