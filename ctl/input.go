package ctl

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"k8s.io/apimachinery/pkg/api/meta"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/ctl/client"
	"github.com/palisadenet/palisade/resource"
)

// loadOptions say how -f input is read.
type loadOptions struct {
	files []string
	// namespace is -n when given ("" otherwise): it fills objects that name none and
	// must agree with those that do.
	namespace string
	// validate checks every object against its CRD schema (writes); reads and deletes
	// only need objects that decode.
	validate bool
	// skipInvalid drops invalid documents with a warning instead of failing.
	skipInvalid bool
}

// loadInput reads and checks every document of the -f paths. It returns the valid
// objects, and an error naming file, document and field for each problem unless
// skipInvalid (then the problems are written to warn). Nothing is written here: the
// callers write only after every document passed.
func loadInput(opts loadOptions, stdin io.Reader, warn io.Writer) ([]resource.Object, error) {
	objs, err := resource.LoadPaths(opts.files, stdin)
	problems, fatal := splitErrors(err)
	if fatal != nil {
		return nil, fatal
	}
	seen := map[string]resource.Location{}
	var good []resource.Object
	for _, o := range objs {
		errs := checkObject(&o, opts)
		if len(errs) == 0 {
			key := client.KeyOf(o.Obj)
			if first, dup := seen[key]; dup {
				errs = append(errs, &resource.Error{Source: o.Source, Err: fmt.Errorf("%s given twice (first at %s)", key, first)})
			} else {
				seen[key] = o.Source
			}
		}
		if len(errs) > 0 {
			problems = append(problems, errs...)
			continue
		}
		good = append(good, o)
	}
	sortProblems(problems)
	if len(problems) > 0 {
		if !opts.skipInvalid {
			return nil, errors.Join(problems...)
		}
		for _, p := range problems {
			fmt.Fprintln(warn, "Warning: skipping invalid input:", p)
		}
	}
	if len(good) == 0 && len(problems) == 0 {
		return nil, fmt.Errorf("no resources found in %v", opts.files)
	}
	return good, nil
}

// splitErrors flattens a joined loading error into per-document problems, and
// returns separately any error that is not about a document (a missing file), which
// --skip-invalid must not hide.
func splitErrors(err error) (problems []error, fatal error) {
	if err == nil {
		return nil, nil
	}
	var walk func(error)
	var others []error
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, inner := range j.Unwrap() {
				walk(inner)
			}
			return
		}
		var re *resource.Error
		if errors.As(e, &re) {
			problems = append(problems, e)
			return
		}
		others = append(others, e)
	}
	walk(err)
	return problems, errors.Join(others...)
}

// checkObject keeps only projectcalico.org/v3 kinds, applies -n and validates.
func checkObject(o *resource.Object, opts loadOptions) []error {
	at := func(path string, err error) error { return &resource.Error{Source: o.Source, Path: path, Err: err} }
	gvk := o.Obj.GetObjectKind().GroupVersionKind()
	if gvk.Group != v3.GroupName {
		return []error{at("kind", fmt.Errorf("%s %s is not a Calico resource (palisadectl manages %s and %s kinds; use kubectl for this one)",
			o.Source.APIVersion, o.Source.Kind, v3.SchemeGroupVersion, v3.LegacyGroupVersion))}
	}
	kind, err := client.KindOf(o.Obj)
	if err != nil {
		return []error{at("kind", err)}
	}
	m, err := meta.Accessor(o.Obj)
	if err != nil {
		return []error{at("metadata", err)}
	}
	if kind.Namespaced && opts.namespace != "" {
		switch {
		case o.Source.Namespace == "":
			m.SetNamespace(opts.namespace)
		case o.Source.Namespace != opts.namespace:
			return []error{at("metadata.namespace", fmt.Errorf("%q does not match -n %q", o.Source.Namespace, opts.namespace))}
		}
	}
	if !kind.Namespaced && o.Source.Namespace != "" {
		return []error{at("metadata.namespace", fmt.Errorf("%s is cluster-scoped: remove the namespace %q", kind.Kind, o.Source.Namespace))}
	}
	if !opts.validate {
		return nil
	}
	fieldErrs, err := client.Validate(o.Obj)
	if err != nil {
		return []error{at("", err)}
	}
	var errs []error
	for _, fe := range fieldErrs {
		errs = append(errs, at(fe.Path, fe.Err))
	}
	return errs
}

// sortProblems orders per-document errors by file (in the order files were first
// named), then document and List item, so the report reads top to bottom.
func sortProblems(problems []error) {
	rank := map[string]int{}
	loc := func(e error) resource.Location {
		var re *resource.Error
		if errors.As(e, &re) {
			return re.Source
		}
		return resource.Location{}
	}
	for _, p := range problems {
		if f := loc(p).File; f != "" {
			if _, ok := rank[f]; !ok {
				rank[f] = len(rank)
			}
		}
	}
	sort.SliceStable(problems, func(i, j int) bool {
		a, b := loc(problems[i]), loc(problems[j])
		if rank[a.File] != rank[b.File] {
			return rank[a.File] < rank[b.File]
		}
		if a.Document != b.Document {
			return a.Document < b.Document
		}
		return a.Item < b.Item
	})
}
