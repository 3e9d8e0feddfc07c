package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/palisadenet/palisade/calc/datastore"
	filestore "github.com/palisadenet/palisade/calc/datastore/file"
	k8sstore "github.com/palisadenet/palisade/calc/datastore/k8s"
)

// backendStore is the agent's datastore: the event source plus the few writes the
// agent makes (publishing its own node's routing facts).
type backendStore struct {
	source datastore.Datastore
	// publishNode records this node's annotations where the other agents read them.
	publishNode func(ctx context.Context, annotations map[string]string) error
	// restConfig is set for the Kubernetes datastore (IPAM and secrets use it).
	restConfig *rest.Config
	client     kubernetes.Interface
}

func openDatastore(cfg *Config, log *zap.Logger) (*backendStore, error) {
	switch cfg.DatastoreType {
	case "file":
		if st, err := os.Stat(cfg.DatastoreDir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("DATASTORE_DIR %s is not a directory", cfg.DatastoreDir)
		}
		return &backendStore{
			source: filestore.New(cfg.DatastoreDir, log.Named("datastore"), filestore.Options{}),
			publishNode: func(_ context.Context, ann map[string]string) error {
				return writeNodeManifest(cfg.DatastoreDir, cfg.NodeName, ann)
			},
		}, nil
	case "kubernetes":
		rc, err := restConfig(cfg.Kubeconfig)
		if err != nil {
			return nil, err
		}
		client, err := kubernetes.NewForConfig(rc)
		if err != nil {
			return nil, fmt.Errorf("kubernetes client: %w", err)
		}
		dyn, err := dynamic.NewForConfig(rc)
		if err != nil {
			return nil, fmt.Errorf("kubernetes dynamic client: %w", err)
		}
		disc, err := discovery.NewDiscoveryClientForConfig(rc)
		if err != nil {
			return nil, fmt.Errorf("kubernetes discovery client: %w", err)
		}
		src := k8sstore.New(client, dyn, disc, log.Named("datastore"), k8sstore.Options{Group: cfg.CalicoAPIGroup})
		return &backendStore{
			source: src, restConfig: rc, client: client,
			publishNode: func(ctx context.Context, ann map[string]string) error {
				return patchNodeAnnotations(ctx, client, cfg.NodeName, ann)
			},
		}, nil
	}
	return nil, fmt.Errorf("unknown datastore type %q", cfg.DatastoreType)
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		rc, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no KUBECONFIG and not in a cluster: %w", err)
		}
		return rc, nil
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
	}
	return rc, nil
}

// patchNodeAnnotations merges the annotations into this node's Node object (the
// kubelet created it; the agent never creates or deletes nodes).
func patchNodeAnnotations(ctx context.Context, client kubernetes.Interface, node string, ann map[string]string) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": ann}})
	if err != nil {
		return err
	}
	if _, err := client.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("annotating Node %s: %w", node, err)
	}
	return nil
}

// writeNodeManifest records this node in the file datastore as a Node manifest
// under nodes/, keeping labels and annotations someone else wrote there. It writes a
// hidden temporary file and renames it, so watchers never read half a file.
func writeNodeManifest(dir, node string, ann map[string]string) error {
	path := filepath.Join(dir, "nodes", node+".yaml")
	n := &corev1.Node{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Node"}, ObjectMeta: metav1.ObjectMeta{Name: node}}
	if raw, err := os.ReadFile(path); err == nil {
		if err := yaml.UnmarshalStrict(raw, n); err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
	}
	if n.Annotations == nil {
		n.Annotations = map[string]string{}
	}
	for k, v := range ann {
		n.Annotations[k] = v
	}
	out, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+node+".yaml.tmp")
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", tmp, err)
	}
	return nil
}
