package cni

import (
	"context"
	"fmt"
	"os"

	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/palisadenet/palisade/routing/ipam"
)

// OpenDatastore builds the Datastore conf names: the file store under datastore_dir
// or the API server through kubernetes.kubeconfig.
func OpenDatastore(_ context.Context, conf *NetConf, log *zap.Logger) (Datastore, error) {
	switch conf.DatastoreType {
	case DatastoreFile:
		// The directory must exist: opening the store would create it anywhere.
		if fi, err := os.Stat(conf.DatastoreDir); err != nil {
			return nil, fmt.Errorf("datastore_dir: %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("datastore_dir %s is not a directory", conf.DatastoreDir)
		}
		store, err := ipam.NewFileStore(conf.DatastoreDir, log)
		if err != nil {
			return nil, fmt.Errorf("opening IPAM store in %s: %w", conf.DatastoreDir, err)
		}
		return &fileDatastore{ipamBackend: ipamBackend{alloc: ipam.New(store, log), store: store}, dir: conf.DatastoreDir, log: log}, nil
	case DatastoreKubernetes:
		cfg, err := clientcmd.BuildConfigFromFlags("", conf.Kubernetes.Kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("loading kubeconfig %s: %w", conf.Kubernetes.Kubeconfig, err)
		}
		cfg.UserAgent = "palisade-cni"
		client, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("building the Kubernetes client: %w", err)
		}
		store, err := ipam.NewKubernetesStore(cfg, log)
		if err != nil {
			return nil, fmt.Errorf("opening IPAM store in the API server: %w", err)
		}
		return &kubeDatastore{ipamBackend: ipamBackend{alloc: ipam.New(store, log), store: store}, client: client, log: log}, nil
	}
	return nil, fmt.Errorf("datastore_type %q: want %q or %q", conf.DatastoreType, DatastoreKubernetes, DatastoreFile)
}
