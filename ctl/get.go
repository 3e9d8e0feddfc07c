package ctl

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/palisadenet/palisade/ctl/client"
	"github.com/palisadenet/palisade/resource"
)

// target is what get and delete work on: KIND [NAME...] or the objects of -f files.
type target struct {
	files         []string
	namespace     string
	allNamespaces bool
}

func (t *target) register(cmd *cobra.Command, verb string, withAll bool) {
	cmd.Flags().StringArrayVarP(&t.files, "filename", "f", nil, "file or directory naming the resources to "+verb+" (repeatable; - reads stdin)")
	cmd.Flags().StringVarP(&t.namespace, "namespace", "n", "", "namespace of namespaced resources (default \"default\")")
	if withAll {
		cmd.Flags().BoolVarP(&t.allNamespaces, "all-namespaces", "A", false, "list namespaced resources of every namespace")
	}
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	cmd.ValidArgsFunction = completeKinds
}

// ref is one object to look up.
type ref struct {
	kind      *client.Kind
	namespace string
	name      string
	source    *resource.Location // set when named by a file
}

func (r ref) String() string {
	if r.source != nil {
		return r.source.String()
	}
	return client.Key(r.kind, r.namespace, r.name)
}

// refs resolves the arguments: -f files, or KIND NAME... (names may be empty for get).
func (t *target) refs(a *app, cmd *cobra.Command, args []string) (*client.Kind, []ref, error) {
	if len(t.files) > 0 {
		if len(args) > 0 {
			return nil, nil, errors.New("give either -f or KIND [NAME...], not both")
		}
		objs, err := loadInput(loadOptions{files: t.files, namespace: t.namespace}, a.stdin, cmd.ErrOrStderr())
		if err != nil {
			return nil, nil, err
		}
		out := make([]ref, len(objs))
		for i, o := range objs {
			k, err := client.KindOf(o.Obj)
			if err != nil {
				return nil, nil, err
			}
			m, _ := meta.Accessor(o.Obj)
			src := o.Source
			out[i] = ref{kind: k, namespace: m.GetNamespace(), name: m.GetName(), source: &src}
		}
		return nil, out, nil
	}
	if len(args) == 0 {
		return nil, nil, errors.New("name a resource type (e.g. ippool) or give -f FILE")
	}
	kind, err := client.LookupKind(args[0])
	if err != nil {
		return nil, nil, err
	}
	ns := t.namespace
	if ns == "" {
		ns = resource.DefaultNamespace
	}
	if !kind.Namespaced {
		ns = ""
	}
	var out []ref
	for _, name := range args[1:] {
		out = append(out, ref{kind: kind, namespace: ns, name: name})
	}
	return kind, out, nil
}

func newGetCommand(a *app) *cobra.Command {
	var t target
	var output string
	cmd := &cobra.Command{
		Use:   "get (KIND [NAME...] | -f FILENAME) [-o yaml|json|wide|name|custom-columns=...]",
		Short: "Show resources",
		Long: `Show projectcalico.org/v3 resources, listed by kind or named one by one or by the
documents of -f files. The default table shows calicoctl's columns (IPPool: NAME CIDR
SELECTOR); -o wide adds more. -o yaml and -o json print one resource as itself and
several as a kind: List, which apply -f reads back.

Kinds: ` + kindList() + `.`,
		Example: `  palisadectl get ippools
  palisadectl get ippool default-ipv4-ippool -o yaml
  palisadectl get networkpolicy -A -o wide
  palisadectl get gnp -o custom-columns=NAME:.metadata.name,ORDER:.spec.order
  palisadectl get -f pool.yaml -o name`,
		RunE: func(cmd *cobra.Command, args []string) error {
			format, err := parseOutput(output)
			if err != nil {
				return err
			}
			kind, refs, err := t.refs(a, cmd, args)
			if err != nil {
				return err
			}
			c, err := a.open()
			if err != nil {
				return err
			}
			defer a.warnings(cmd)
			p := printer{format: format}
			if kind != nil && len(refs) == 0 {
				ns := t.namespace
				if ns == "" {
					ns = resource.DefaultNamespace
				}
				if t.allNamespaces {
					ns = ""
				}
				p.allNamespaces = t.allNamespaces
				objs, err := c.List(cmd.Context(), kind, ns)
				if err != nil {
					return err
				}
				return printList(cmd, p, kind, objs)
			}
			p.single = len(refs) == 1
			objs, err := getAll(cmd.Context(), c, refs)
			if len(objs) > 0 {
				if perr := p.print(cmd.OutOrStdout(), objs); perr != nil {
					return perr
				}
			}
			return err
		},
	}
	t.register(cmd, "show", true)
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: yaml, json, wide, name or custom-columns=HEADER:.json.path,...")
	_ = cmd.RegisterFlagCompletionFunc("output", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return []string{"yaml", "json", "wide", "name", "custom-columns="}, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	})
	return cmd
}

// printList prints a listing; an empty table still shows its header, as calicoctl does.
func printList(cmd *cobra.Command, p printer, kind *client.Kind, objs []runtime.Object) error {
	if len(objs) == 0 && (p.format.kind == "table" || p.format.kind == "wide") {
		return p.printHeader(cmd.OutOrStdout(), kind.New())
	}
	return p.print(cmd.OutOrStdout(), objs)
}

// getAll fetches refs in order; missing ones are reported together after the rest.
func getAll(ctx context.Context, c client.Client, refs []ref) ([]runtime.Object, error) {
	var objs []runtime.Object
	var errs []error
	for _, r := range refs {
		obj, err := c.Get(ctx, r.kind, r.namespace, r.name)
		if err != nil {
			if r.source != nil {
				err = fmt.Errorf("%s: %w", r.source, err)
			}
			errs = append(errs, err)
			continue
		}
		objs = append(objs, obj)
	}
	return objs, errors.Join(errs...)
}
