package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// InstallCRDs installs every CustomResourceDefinition in the *.yaml/*.yml files of dir
// and waits until all are Established. It fails t on any error and returns the CRD names.
func (cp *ControlPlane) InstallCRDs(t testing.TB, dir string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	names, err := cp.ApplyCRDs(ctx, dir)
	if err != nil {
		t.Fatalf("controlplane: %v", err)
	}
	t.Logf("controlplane: %d CRDs from %s established in %s", len(names), dir,
		time.Since(start).Round(10*time.Millisecond))
	return names
}

// ApplyCRDs creates (or updates) the CRDs found in dir and waits for them to be
// Established. Documents of any other kind are an error: a CRD directory holds only CRDs.
func (cp *ControlPlane) ApplyCRDs(ctx context.Context, dir string) ([]string, error) {
	crds, err := ReadCRDs(dir)
	if err != nil {
		return nil, err
	}
	if len(crds) == 0 {
		return nil, fmt.Errorf("no CRDs in %s", dir)
	}
	client, err := apiextensionsclient.NewForConfig(cp.Config)
	if err != nil {
		return nil, fmt.Errorf("apiextensions client: %w", err)
	}
	api := client.ApiextensionsV1().CustomResourceDefinitions()
	names := make([]string, 0, len(crds))
	for _, crd := range crds {
		if err := createOrUpdateCRD(ctx, api, crd); err != nil {
			return nil, err
		}
		names = append(names, crd.Name)
	}
	return names, cp.WaitEstablished(ctx, names...)
}

type crdAPI interface {
	Create(context.Context, *apiextensionsv1.CustomResourceDefinition, metav1.CreateOptions) (*apiextensionsv1.CustomResourceDefinition, error)
	Update(context.Context, *apiextensionsv1.CustomResourceDefinition, metav1.UpdateOptions) (*apiextensionsv1.CustomResourceDefinition, error)
	Get(context.Context, string, metav1.GetOptions) (*apiextensionsv1.CustomResourceDefinition, error)
}

func createOrUpdateCRD(ctx context.Context, api crdAPI, crd *apiextensionsv1.CustomResourceDefinition) error {
	_, err := api.Create(ctx, crd, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, getErr := api.Get(ctx, crd.Name, metav1.GetOptions{})
		if getErr != nil {
			return fmt.Errorf("reading CRD %s: %w", crd.Name, getErr)
		}
		crd.ResourceVersion = existing.ResourceVersion
		_, err = api.Update(ctx, crd, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("installing CRD %s: %w", crd.Name, err)
	}
	return nil
}

// ReadCRDs decodes all CRDs from the YAML files (multi-document allowed) in dir, in file
// name order.
func ReadCRDs(dir string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading CRD dir: %w", err)
	}
	var files []string
	for _, e := range entries {
		if ext := filepath.Ext(e.Name()); !e.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(files)
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		fromFile, err := readCRDFile(f)
		if err != nil {
			return nil, err
		}
		crds = append(crds, fromFile...)
	}
	return crds, nil
}

func readCRDFile(path string) ([]*apiextensionsv1.CustomResourceDefinition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var crds []*apiextensionsv1.CustomResourceDefinition
	for {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		err := dec.Decode(crd)
		if errors.Is(err, io.EOF) {
			return crds, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		if crd.Kind == "" && crd.Name == "" { // empty document
			continue
		}
		if crd.Kind != "CustomResourceDefinition" {
			return nil, fmt.Errorf("%s: document %q has kind %q, want CustomResourceDefinition",
				path, crd.Name, crd.Kind)
		}
		crds = append(crds, crd)
	}
}

// WaitEstablished waits until each named CRD has condition Established=True, or reports
// the CRDs still pending (with their conditions) when ctx ends.
func (cp *ControlPlane) WaitEstablished(ctx context.Context, names ...string) error {
	client, err := apiextensionsclient.NewForConfig(cp.Config)
	if err != nil {
		return fmt.Errorf("apiextensions client: %w", err)
	}
	api := client.ApiextensionsV1().CustomResourceDefinitions()
	pending := append([]string(nil), names...)
	status := map[string]string{}
	for {
		var still []string
		for _, name := range pending {
			crd, err := api.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				status[name] = err.Error()
				still = append(still, name)
				continue
			}
			if ok, why := established(crd); !ok {
				status[name] = why
				still = append(still, name)
			}
		}
		if len(still) == 0 {
			return nil
		}
		pending = still
		select {
		case <-ctx.Done():
			var b strings.Builder
			for _, name := range pending {
				fmt.Fprintf(&b, "\n  %s: %s", name, status[name])
			}
			return fmt.Errorf("CRDs not established: %w%s", ctx.Err(), b.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// established reports whether crd is Established, else its conditions as the reason.
func established(crd *apiextensionsv1.CustomResourceDefinition) (bool, string) {
	var conds []string
	for _, c := range crd.Status.Conditions {
		if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
			return true, ""
		}
		conds = append(conds, fmt.Sprintf("%s=%s (%s)", c.Type, c.Status, c.Message))
	}
	if len(conds) == 0 {
		return false, "no conditions yet"
	}
	return false, strings.Join(conds, "; ")
}
