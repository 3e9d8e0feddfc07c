package ctl

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/palisadenet/palisade/ctl/client"
	"github.com/palisadenet/palisade/resource"
)

// fileFlags are -f, -n and --skip-invalid of the writing verbs.
type fileFlags struct {
	files       []string
	namespace   string
	skipInvalid bool
}

func (f *fileFlags) register(cmd *cobra.Command, what string) {
	cmd.Flags().StringArrayVarP(&f.files, "filename", "f", nil,
		"file or directory of YAML/JSON manifests "+what+" (repeatable; directories are read recursively; - reads stdin)")
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "namespace for namespaced resources that name none (must match those that do)")
	cmd.Flags().BoolVar(&f.skipInvalid, "skip-invalid", false, "skip invalid documents (with a warning) instead of refusing the whole input")
	_ = cmd.MarkFlagRequired("filename")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
}

func (f *fileFlags) load(a *app, cmd *cobra.Command, validate bool) ([]resource.Object, error) {
	return loadInput(loadOptions{files: f.files, namespace: f.namespace, validate: validate, skipInvalid: f.skipInvalid},
		a.stdin, cmd.ErrOrStderr())
}

// writeVerb describes create, apply and replace.
type writeVerb struct {
	name, past string
	short      string
	long       string
	example    string
	// precheck fails an object before anything is written (exists for create, missing
	// for replace); nil: no check.
	precheck func(exists bool) error
	// write stores one object.
	write func(ctx context.Context, c client.Client, obj runtime.Object, exists bool) error
}

func newWriteCommand(a *app, v writeVerb, extra func(*cobra.Command, *bool)) *cobra.Command {
	var flags fileFlags
	var skipChecked bool
	cmd := &cobra.Command{
		Use:     v.name + " -f FILENAME",
		Short:   v.short,
		Long:    v.long,
		Example: v.example,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			objs, err := flags.load(a, cmd, true)
			if err != nil {
				return fmt.Errorf("nothing was %s:\n%w", v.past, err)
			}
			c, err := a.open()
			if err != nil {
				return err
			}
			defer a.warnings(cmd)
			var written []resource.Object
			err = client.InBatch(c, func() error {
				var err error
				written, err = writeAll(cmd, c, v, objs, skipChecked)
				return err
			})
			if err != nil {
				return err
			}
			successLine(cmd.OutOrStdout(), v.past, written)
			return nil
		},
	}
	flags.register(cmd, "to "+v.name)
	if extra != nil {
		extra(cmd, &skipChecked)
	}
	return cmd
}

// writeAll checks every object against the verb's precondition, then writes them
// all; nothing is written when a check fails (unless skipChecked skips that object).
func writeAll(cmd *cobra.Command, c client.Client, v writeVerb, objs []resource.Object, skipChecked bool) ([]resource.Object, error) {
	ctx := cmd.Context()
	exists, err := existing(ctx, c, objs)
	if err != nil {
		return nil, err
	}
	var todo []resource.Object
	var todoExists []bool
	var problems []error
	for i, o := range objs {
		if v.precheck != nil {
			if err := v.precheck(exists[i]); err != nil {
				if skipChecked {
					fmt.Fprintf(cmd.ErrOrStderr(), "Skipping %s: %v\n", client.KeyOf(o.Obj), err)
					continue
				}
				problems = append(problems, &resource.Error{Source: o.Source, Err: fmt.Errorf("%s: %w", client.KeyOf(o.Obj), err)})
				continue
			}
		}
		todo = append(todo, o)
		todoExists = append(todoExists, exists[i])
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("nothing was %s:\n%w", v.past, errors.Join(problems...))
	}
	for i, o := range todo {
		if err := v.write(ctx, c, o.Obj, todoExists[i]); err != nil {
			return nil, fmt.Errorf("%s: %s %s: %w (%d of %d written before it)", o.Source, v.name, client.KeyOf(o.Obj), err, i, len(todo))
		}
	}
	return todo, nil
}

// existing reports, per object, whether the datastore holds it.
func existing(ctx context.Context, c client.Client, objs []resource.Object) ([]bool, error) {
	out := make([]bool, len(objs))
	for i, o := range objs {
		kind, err := client.KindOf(o.Obj)
		if err != nil {
			return nil, err
		}
		m, _ := meta.Accessor(o.Obj)
		_, err = c.Get(ctx, kind, m.GetNamespace(), m.GetName())
		switch {
		case err == nil:
			out[i] = true
		case errors.Is(err, client.ErrNotFound):
		default:
			return nil, fmt.Errorf("%s: %w", o.Source, err)
		}
	}
	return out, nil
}

// successLine prints calicoctl's summary: "Successfully applied 2 'IPPool' resource(s)".
func successLine(w io.Writer, past string, objs []resource.Object) {
	kinds := map[string]bool{}
	var kind string
	for _, o := range objs {
		kind = o.Obj.GetObjectKind().GroupVersionKind().Kind
		kinds[kind] = true
	}
	if len(kinds) == 1 {
		fmt.Fprintf(w, "Successfully %s %d '%s' resource(s)\n", past, len(objs), kind)
		return
	}
	fmt.Fprintf(w, "Successfully %s %d resource(s)\n", past, len(objs))
}

func newCreateCommand(a *app) *cobra.Command {
	return newWriteCommand(a, writeVerb{
		name: "create", past: "created",
		short: "Create resources from files; fails if any already exists",
		long: `Create every resource in the given files. Every document is decoded and validated
first (unknown kinds or fields, invalid selectors, CIDRs, ports...); if any is invalid,
or any resource already exists, nothing is written. crd.projectcalico.org/v1 documents
are accepted and stored as projectcalico.org/v3.`,
		example: `  palisadectl create -f ippool.yaml
  palisadectl create -f policies/ --skip-exists
  cat pool.yaml | palisadectl create -f -`,
		precheck: func(exists bool) error {
			if exists {
				return client.ErrAlreadyExists
			}
			return nil
		},
		write: func(ctx context.Context, c client.Client, obj runtime.Object, _ bool) error {
			_, err := c.Create(ctx, obj)
			return err
		},
	}, func(cmd *cobra.Command, skip *bool) {
		cmd.Flags().BoolVar(skip, "skip-exists", false, "skip resources that already exist instead of failing")
	})
}

func newApplyCommand(a *app) *cobra.Command {
	return newWriteCommand(a, writeVerb{
		name: "apply", past: "applied",
		short: "Create or replace resources from files",
		long: `Create the resources in the given files that do not exist and replace those that
do. Every document is validated first; if any is invalid nothing is written (unless
--skip-invalid).`,
		example: `  palisadectl apply -f allow-tcp-6379.yaml
  palisadectl apply -f manifests/ -n production
  kubectl get ippools.crd.projectcalico.org -o yaml | palisadectl apply -f -`,
		write: func(ctx context.Context, c client.Client, obj runtime.Object, exists bool) error {
			// apply is last-writer-wins: a resourceVersion in the input (a file saved
			// from get -o yaml) is not a precondition here, as it is for replace.
			if m, err := meta.Accessor(obj); err == nil {
				m.SetResourceVersion("")
			}
			var err error
			if exists {
				_, err = c.Update(ctx, obj)
			} else {
				_, err = c.Create(ctx, obj)
			}
			return err
		},
	}, nil)
}

func newReplaceCommand(a *app) *cobra.Command {
	return newWriteCommand(a, writeVerb{
		name: "replace", past: "replaced",
		short: "Replace existing resources with the content of files",
		long: `Replace every resource in the given files; each must already exist. Every document
is validated, and every resource checked to exist, before anything is written.`,
		example: `  palisadectl get ippool pool1 -o yaml > pool1.yaml
  # edit pool1.yaml, then
  palisadectl replace -f pool1.yaml`,
		precheck: func(exists bool) error {
			if !exists {
				return client.ErrNotFound
			}
			return nil
		},
		write: func(ctx context.Context, c client.Client, obj runtime.Object, _ bool) error {
			_, err := c.Update(ctx, obj)
			return err
		},
	}, nil)
}
