package ctl

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/palisadenet/palisade/ctl/client"
	"github.com/palisadenet/palisade/resource"
)

func newDeleteCommand(a *app) *cobra.Command {
	var t target
	var skipNotExists bool
	cmd := &cobra.Command{
		Use:   "delete (KIND NAME... | -f FILENAME)",
		Short: "Delete resources by name or by the documents of files",
		Long: `Delete resources named on the command line or by the documents of -f files. Every
resource is checked to exist before any is deleted (unless --skip-not-exists).`,
		Example: `  palisadectl delete ippool pool1
  palisadectl delete networkpolicy allow-tcp-6379 -n production
  palisadectl delete -f policies/`,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, refs, err := t.refs(a, cmd, args)
			if err != nil {
				return err
			}
			if len(refs) == 0 {
				return errors.New("name the resources to delete: KIND NAME... or -f FILE")
			}
			c, err := a.open()
			if err != nil {
				return err
			}
			defer a.warnings(cmd)
			return client.InBatch(c, func() error { return deleteAll(cmd, c, refs, skipNotExists) })
		},
	}
	t.register(cmd, "delete", false)
	cmd.Flags().BoolVar(&skipNotExists, "skip-not-exists", false, "skip resources that do not exist instead of failing")
	return cmd
}

// deleteAll checks that every ref exists (unless skipNotExists), then deletes them.
func deleteAll(cmd *cobra.Command, c client.Client, refs []ref, skipNotExists bool) error {
	var todo []ref
	var missing []error
	for _, r := range refs {
		_, err := c.Get(cmd.Context(), r.kind, r.namespace, r.name)
		switch {
		case err == nil:
			todo = append(todo, r)
		case errors.Is(err, client.ErrNotFound) && skipNotExists:
			fmt.Fprintf(cmd.ErrOrStderr(), "Skipping %s: %v\n", r, err)
		case r.source != nil:
			missing = append(missing, fmt.Errorf("%s: %w", r.source, err))
		default:
			missing = append(missing, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("nothing was deleted:\n%w", errors.Join(missing...))
	}
	kinds := map[string]bool{}
	for i, r := range todo {
		if _, err := c.Delete(cmd.Context(), r.kind, r.namespace, r.name); err != nil {
			return fmt.Errorf("deleting %s: %w (%d of %d deleted before it)", r, err, i, len(todo))
		}
		kinds[r.kind.Kind] = true
	}
	switch {
	case len(todo) == 0:
		fmt.Fprintln(cmd.OutOrStdout(), "Nothing to delete")
	case len(kinds) == 1:
		fmt.Fprintf(cmd.OutOrStdout(), "Successfully deleted %d '%s' resource(s)\n", len(todo), todo[0].kind.Kind)
	default:
		fmt.Fprintf(cmd.OutOrStdout(), "Successfully deleted %d resource(s)\n", len(todo))
	}
	return nil
}

// editOne reads KIND NAME (in namespace, default "default"), lets change modify it, and
// writes it back, holding the file backend's lock throughout.
func editOne(a *app, cmd *cobra.Command, kindName, name, namespace string, change func(obj runtime.Object) (runtime.Object, error)) (*client.Kind, runtime.Object, error) {
	kind, err := client.LookupKind(kindName)
	if err != nil {
		return nil, nil, err
	}
	if namespace == "" {
		namespace = resource.DefaultNamespace
	}
	if !kind.Namespaced {
		namespace = ""
	}
	c, err := a.open()
	if err != nil {
		return nil, nil, err
	}
	defer a.warnings(cmd)
	var result runtime.Object
	err = client.InBatch(c, func() error {
		obj, err := c.Get(cmd.Context(), kind, namespace, name)
		if err != nil {
			return err
		}
		changed, err := change(obj)
		if err != nil {
			return err
		}
		result, err = c.Update(cmd.Context(), changed)
		return err
	})
	return kind, result, err
}

func newPatchCommand(a *app) *cobra.Command {
	var patch, namespace, patchType string
	cmd := &cobra.Command{
		Use:   "patch KIND NAME -p PATCH",
		Short: "Change fields of a resource with a JSON merge patch",
		Long: `Apply a JSON merge patch (RFC 7386) to one resource: objects merge, other values
replace, null removes a field. The result is validated like any other input before it
is written; the name, namespace and kind cannot be patched.`,
		Example: `  palisadectl patch ippool pool1 -p '{"spec":{"natOutgoing":false}}'
  palisadectl patch networkpolicy allow-tcp-6379 -n production -p '{"spec":{"order":100}}'
  palisadectl patch ippool pool1 -p '{"spec":{"nodeSelector":null}}'`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if patchType != "merge" {
				return fmt.Errorf("--type %q: only merge is supported", patchType)
			}
			kind, _, err := editOne(a, cmd, args[0], args[1], namespace, func(obj runtime.Object) (runtime.Object, error) {
				patched, err := applyMergePatch(obj, patch)
				if err != nil {
					return nil, err
				}
				return patched, sameIdentity(obj, patched)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Successfully patched 1 '%s' resource\n", kind.Kind)
			return nil
		},
	}
	cmd.Flags().StringVarP(&patch, "patch", "p", "", "the patch as JSON (or YAML), e.g. '{\"spec\":{\"natOutgoing\":false}}'")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace of a namespaced resource (default \"default\")")
	cmd.Flags().StringVar(&patchType, "type", "merge", "patch type: merge (JSON merge patch)")
	_ = cmd.MarkFlagRequired("patch")
	cmd.ValidArgsFunction = completeKinds
	return cmd
}

// applyMergePatch patches obj and decodes the result as strictly as -f input: unknown
// fields, bad values and schema violations are errors naming the field.
func applyMergePatch(obj runtime.Object, patch string) (runtime.Object, error) {
	var p any
	if err := yamlOrJSON(patch, &p); err != nil {
		return nil, fmt.Errorf("-p: %w", err)
	}
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(js, &doc); err != nil {
		return nil, err
	}
	merged, err := json.Marshal(mergePatch(doc, p))
	if err != nil {
		return nil, err
	}
	objs, err := resource.Decode("patched "+client.KeyOf(obj), merged)
	if err == nil && len(objs) != 1 {
		err = errors.New("the patch must leave exactly one object")
	}
	if err == nil {
		err = errors.Join(checkObject(&objs[0], loadOptions{validate: true})...)
	}
	if err != nil {
		return nil, fmt.Errorf("nothing was patched:\n%w", err)
	}
	return objs[0].Obj, nil
}

// mergePatch is RFC 7386.
func mergePatch(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergePatch(tm[k], v)
	}
	return tm
}

func sameIdentity(before, after runtime.Object) error {
	b, _ := meta.Accessor(before)
	a, _ := meta.Accessor(after)
	switch {
	case before.GetObjectKind().GroupVersionKind().Kind != after.GetObjectKind().GroupVersionKind().Kind:
		return errors.New("the patch cannot change kind")
	case b.GetName() != a.GetName():
		return errors.New("the patch cannot change metadata.name")
	case b.GetNamespace() != a.GetNamespace():
		return errors.New("the patch cannot change metadata.namespace")
	}
	return nil
}

func newLabelCommand(a *app) *cobra.Command {
	var namespace string
	var overwrite, remove bool
	cmd := &cobra.Command{
		Use:   "label KIND NAME (KEY=VALUE [--overwrite] | KEY --remove | KEY-)",
		Short: "Set or remove a label of a resource",
		Long: `Set a label on one resource (an existing label of that key needs --overwrite), or
remove one with --remove (or kubectl's KEY- form).`,
		Example: `  palisadectl label ippool pool1 zone=east
  palisadectl label ippool pool1 zone=west --overwrite
  palisadectl label networkset office -n production zone --remove`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, value, hasValue := strings.Cut(args[2], "=")
			if !hasValue && strings.HasSuffix(key, "-") && !remove {
				key, remove = strings.TrimSuffix(key, "-"), true
			}
			if remove == hasValue {
				return errors.New("give KEY=VALUE to set a label, or KEY with --remove to remove one")
			}
			if err := checkLabel(key, value, remove); err != nil {
				return err
			}
			kind, obj, err := editOne(a, cmd, args[0], args[1], namespace, func(obj runtime.Object) (runtime.Object, error) {
				return obj, setLabel(obj, key, value, remove, overwrite)
			})
			if err != nil {
				return err
			}
			m, _ := meta.Accessor(obj)
			if remove {
				fmt.Fprintf(cmd.OutOrStdout(), "Successfully removed label %s from %s %s\n", key, strings.ToLower(kind.Kind), m.GetName())
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "Successfully set label %s on %s %s\n", key, strings.ToLower(kind.Kind), m.GetName())
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "namespace of a namespaced resource (default \"default\")")
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "replace the value of an existing label")
	cmd.Flags().BoolVar(&remove, "remove", false, "remove the label KEY")
	cmd.ValidArgsFunction = completeKinds
	return cmd
}

// checkLabel applies Kubernetes' rules for label keys and values.
func checkLabel(key, value string, remove bool) error {
	if errs := validation.IsQualifiedName(key); len(errs) > 0 {
		return fmt.Errorf("metadata.labels: invalid label key %q: %s", key, strings.Join(errs, "; "))
	}
	if remove {
		return nil
	}
	if errs := validation.IsValidLabelValue(value); len(errs) > 0 {
		return fmt.Errorf("metadata.labels[%s]: invalid label value %q: %s", key, value, strings.Join(errs, "; "))
	}
	return nil
}

// yamlOrJSON decodes a flag value written as JSON or YAML.
func yamlOrJSON(s string, v any) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("empty patch")
	}
	return yaml.Unmarshal([]byte(s), v)
}

// setLabel sets or removes one label of obj.
func setLabel(obj runtime.Object, key, value string, remove, overwrite bool) error {
	m, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	labels := m.GetLabels()
	old, had := labels[key]
	switch {
	case remove && !had:
		return fmt.Errorf("%s has no label %q", client.KeyOf(obj), key)
	case remove:
		delete(labels, key)
	case had && old != value && !overwrite:
		return fmt.Errorf("%s already has label %s=%s: use --overwrite to change it", client.KeyOf(obj), key, old)
	default:
		if labels == nil {
			labels = map[string]string{}
		}
		labels[key] = value
	}
	m.SetLabels(labels)
	return nil
}
