package resource

import (
	"errors"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v3 "github.com/palisadenet/palisade/api/v3"
	"github.com/palisadenet/palisade/policy"
)

// namespacedCalicoKinds are the projectcalico.org/v3 kinds that live in a namespace;
// every other v3 kind is cluster-scoped.
var namespacedCalicoKinds = map[string]bool{
	v3.KindNetworkPolicy: true,
	v3.KindNetworkSet:    true,
}

// calicoValidators check the v3 kinds that the policy package converts, with its
// conversion (the same code the agent runs, so what loads here is what enforces).
var calicoValidators = map[string]func(runtime.Object) []fieldError{
	v3.KindNetworkPolicy: func(o runtime.Object) []fieldError {
		_, err := policy.FromNetworkPolicy(o.(*v3.NetworkPolicy))
		return policyFieldErrors(err)
	},
	v3.KindGlobalNetworkPolicy: func(o runtime.Object) []fieldError {
		_, err := policy.FromGlobalNetworkPolicy(o.(*v3.GlobalNetworkPolicy))
		return policyFieldErrors(err)
	},
	v3.KindTier: func(o runtime.Object) []fieldError {
		_, err := policy.FromTier(o.(*v3.Tier))
		return policyFieldErrors(err)
	},
	v3.KindNetworkSet: func(o runtime.Object) []fieldError {
		_, err := policy.FromNetworkSet(o.(*v3.NetworkSet))
		return policyFieldErrors(err)
	},
	v3.KindGlobalNetworkSet: func(o runtime.Object) []fieldError {
		_, err := policy.FromGlobalNetworkSet(o.(*v3.GlobalNetworkSet))
		return policyFieldErrors(err)
	},
}

func init() {
	for kind, sample := range v3.AllKinds() {
		registerCalico(kind, namespacedCalicoKinds[kind], func() runtime.Object {
			return sample.DeepCopyObject()
		}, calicoValidators[kind])
	}
}

// validateK8sNetworkPolicy checks a Kubernetes NetworkPolicy by converting it with
// the policy package, which knows every field's rules.
func validateK8sNetworkPolicy(obj runtime.Object) []fieldError {
	_, err := policy.FromKubernetes(obj.(*networkingv1.NetworkPolicy))
	return policyFieldErrors(err)
}

// policyFieldErrors turns a policy conversion error into field errors.
func policyFieldErrors(err error) []fieldError {
	if err == nil {
		return nil
	}
	var ve *policy.ValidationError
	if !errors.As(err, &ve) {
		return []fieldError{{Err: err}}
	}
	out := make([]fieldError, len(ve.Errors))
	for i, fe := range ve.Errors {
		path := ""
		if fe.Path != nil {
			path = fe.Path.String()
		}
		out[i] = fieldError{Path: path, Err: errors.New(fe.Detail)}
	}
	return out
}
