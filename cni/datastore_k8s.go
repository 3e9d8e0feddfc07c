package cni

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// kubeDatastore serves kubernetes mode: pods and nodes from the API server, IPAM in
// projectcalico.org/v3 custom resources.
type kubeDatastore struct {
	ipamBackend
	client kubernetes.Interface
	log    *zap.Logger
}

func (d *kubeDatastore) PodAnnotations(ctx context.Context, pod PodRef) (map[string]string, bool, error) {
	p, err := d.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return p.Annotations, true, nil
}

func (d *kubeDatastore) NodeLabels(ctx context.Context, node string) (map[string]string, error) {
	n, err := d.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		d.log.Warn("node not found; pools with a nodeSelector other than all() will not match", zap.String("node", node))
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return n.Labels, nil
}

// RecordPodIPs writes Calico's podIP/podIPs/containerID annotations with a merge
// patch (only those keys change). A pod deleted meanwhile is no error: the runtime
// will DEL it.
func (d *kubeDatastore) RecordPodIPs(ctx context.Context, pod PodRef, containerID string, addrs []netip.Prefix) error {
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": PodIPAnnotations(containerID, addrs)}})
	if err != nil {
		return fmt.Errorf("encoding annotation patch: %w", err)
	}
	_, err = d.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, k8stypes.MergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		d.log.Info("pod gone before its addresses could be recorded", zap.Stringer("pod", pod))
		return nil
	}
	return err
}

// ForgetPodIPs removes the three annotations with a JSON patch whose first operation
// tests that containerID is still the recorded one, so the check and the removal are
// one atomic step on the API server.
func (d *kubeDatastore) ForgetPodIPs(ctx context.Context, pod PodRef, containerID string) error {
	path := func(key string) string {
		return "/metadata/annotations/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(key)
	}
	patch, err := json.Marshal([]map[string]any{
		{"op": "test", "path": path(AnnotationContainerID), "value": containerID},
		{"op": "remove", "path": path(AnnotationContainerID)},
		{"op": "remove", "path": path(AnnotationPodIP)},
		{"op": "remove", "path": path(AnnotationPodIPs)},
	})
	if err != nil {
		return fmt.Errorf("encoding annotation patch: %w", err)
	}
	_, err = d.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, k8stypes.JSONPatchType, patch, metav1.PatchOptions{})
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return nil
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		// The test failed (another sandbox's record, or none): nothing of ours to remove.
		d.log.Debug("pod addresses not ours to forget", zap.Stringer("pod", pod), zap.Error(err))
		return nil
	}
	return err
}

func (d *kubeDatastore) Ready(ctx context.Context) error {
	if _, err := d.client.Discovery().ServerVersion(); err != nil {
		return fmt.Errorf("asking the API server for its version: %w", err)
	}
	return ctx.Err()
}
