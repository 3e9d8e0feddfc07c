package resource

import (
	"k8s.io/apimachinery/pkg/runtime"
)

// validateK8sNetworkPolicy checks a Kubernetes NetworkPolicy with the policy package's
// conversion rules.
func validateK8sNetworkPolicy(obj runtime.Object) []fieldError {
	return nil
}
