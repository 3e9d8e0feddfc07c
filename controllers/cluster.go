package controllers

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/metadata"
)

var (
	podsResource  = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	nodesResource = schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
)

// listPageSize bounds each list response; large clusters are read in pages.
const listPageSize = 1000

// KubeCluster reads pods and nodes from the apiserver as metadata only (names, no
// specs), which is all the collector needs and much less to transfer.
type KubeCluster struct {
	client metadata.Interface
}

// NewKubeCluster wraps a metadata client.
func NewKubeCluster(client metadata.Interface) *KubeCluster { return &KubeCluster{client: client} }

// Pods implements Cluster.
func (k *KubeCluster) Pods(ctx context.Context) (map[string]bool, error) {
	return k.list(ctx, podsResource, func(m metav1.ObjectMeta) string { return m.Namespace + "/" + m.Name })
}

// Nodes implements Cluster.
func (k *KubeCluster) Nodes(ctx context.Context) (map[string]bool, error) {
	return k.list(ctx, nodesResource, func(m metav1.ObjectMeta) string { return m.Name })
}

func (k *KubeCluster) list(ctx context.Context, res schema.GroupVersionResource, key func(metav1.ObjectMeta) string) (map[string]bool, error) {
	out := map[string]bool{}
	opts := metav1.ListOptions{Limit: listPageSize}
	for {
		page, err := k.client.Resource(res).List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", res.Resource, err)
		}
		for _, item := range page.Items {
			out[key(item.ObjectMeta)] = true
		}
		if page.Continue == "" {
			return out, nil
		}
		opts.Continue = page.Continue
	}
}

// PodExists implements Cluster.
func (k *KubeCluster) PodExists(ctx context.Context, namespace, name string) (bool, error) {
	return exists(k.client.Resource(podsResource).Namespace(namespace).Get(ctx, name, metav1.GetOptions{}))
}

// NodeExists implements Cluster.
func (k *KubeCluster) NodeExists(ctx context.Context, name string) (bool, error) {
	return exists(k.client.Resource(nodesResource).Get(ctx, name, metav1.GetOptions{}))
}

func exists(_ *metav1.PartialObjectMetadata, err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case apierrors.IsNotFound(err):
		return false, nil
	}
	return false, err
}
