package crds

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

// schemaChecker validates objects the way the apiserver's CRD handler does on create:
// OpenAPI schema checks, then CEL rules, after pruning and defaulting.
type schemaChecker struct {
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

func internalCRD(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) *apiextensions.CustomResourceDefinition {
	t.Helper()
	out := &apiextensions.CustomResourceDefinition{}
	crd = crd.DeepCopy()
	// The apiserver records the stored version on create; validation insists on it.
	crd.Status.StoredVersions = []string{crd.Spec.Versions[0].Name}
	if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(crd, out, nil); err != nil {
		t.Fatalf("converting %s: %v", crd.Name, err)
	}
	return out
}

func newSchemaChecker(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) *schemaChecker {
	t.Helper()
	in := internalCRD(t, crd)
	schema := in.Spec.Validation
	if schema == nil {
		schema = in.Spec.Versions[0].Schema
	}
	s, err := structuralschema.NewStructural(schema.OpenAPIV3Schema)
	if err != nil {
		t.Fatalf("%s: structural schema: %v", crd.Name, err)
	}
	v, _, err := apiservervalidation.NewSchemaValidator(schema.OpenAPIV3Schema)
	if err != nil {
		t.Fatalf("%s: schema validator: %v", crd.Name, err)
	}
	return &schemaChecker{structural: s, validator: v, cel: cel.NewValidator(s, true, celconfig.PerCallLimit)}
}

// check returns the validation errors for obj and the paths pruning would drop.
func (c *schemaChecker) check(obj map[string]any) (field.ErrorList, []string) {
	pruned := structuralpruning.PruneWithOptions(obj, c.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	structuraldefaulting.Default(obj, c.structural)
	errs := apiservervalidation.ValidateCustomResource(nil, obj, c.validator)
	celErrs, _ := c.cel.Validate(context.Background(), nil, c.structural, obj, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...), pruned
}

func loadSet(t *testing.T, set Set) map[string]*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	list, err := Load(set)
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, crd := range list {
		byKind[crd.Spec.Names.Kind] = crd
	}
	return byKind
}

func decodeObject(t *testing.T, doc string) map[string]any {
	t.Helper()
	// Decode as the apiserver does: integers stay int64, not float64.
	j, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatalf("decoding test object: %v", err)
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(j, &obj); err != nil {
		t.Fatalf("decoding test object: %v", err)
	}
	return obj
}

func errorsText(errs field.ErrorList) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "\n  %s", e.Error())
	}
	return b.String()
}

// TestCRDsAreValid runs the apiserver's own CRD validation: structural schemas, CEL
// compile errors and the CEL cost budget.
func TestCRDsAreValid(t *testing.T) {
	for _, set := range []Set{SetV3, SetLegacy} {
		list, err := Load(set)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 15 {
			t.Errorf("set %s: %d CRDs, want 15", set, len(list))
		}
		for _, crd := range list {
			t.Run(string(set)+"/"+crd.Name, func(t *testing.T) {
				errs := crdvalidation.ValidateCustomResourceDefinition(context.Background(), internalCRD(t, crd))
				if len(errs) > 0 {
					t.Errorf("invalid CRD:%s", errorsText(errs))
				}
			})
		}
	}
}

func TestScopes(t *testing.T) {
	namespaced := map[string]bool{"NetworkPolicy": true, "NetworkSet": true}
	for _, set := range []Set{SetV3, SetLegacy} {
		for kind, crd := range loadSet(t, set) {
			want := apiextensionsv1.ClusterScoped
			if namespaced[kind] {
				want = apiextensionsv1.NamespaceScoped
			}
			if crd.Spec.Scope != want {
				t.Errorf("%s %s: scope %s, want %s", set, kind, crd.Spec.Scope, want)
			}
		}
	}
}

func TestLegacyGroup(t *testing.T) {
	for kind, crd := range loadSet(t, SetLegacy) {
		if crd.Spec.Group != "crd.projectcalico.org" || crd.Spec.Versions[0].Name != "v1" {
			t.Errorf("%s: group/version %s/%s, want crd.projectcalico.org/v1", kind, crd.Spec.Group, crd.Spec.Versions[0].Name)
		}
		if want := crd.Spec.Names.Plural + ".crd.projectcalico.org"; crd.Name != want {
			t.Errorf("%s: name %s, want %s", kind, crd.Name, want)
		}
	}
}

func TestPrinterColumns(t *testing.T) {
	want := map[string][]string{
		"IPPool":              {"CIDR", "Block Size", "IPIP Mode", "VXLAN Mode", "NAT"},
		"NetworkPolicy":       {"Order", "Selector"},
		"GlobalNetworkPolicy": {"Order", "Selector"},
		"BGPPeer":             {"Peer IP", "AS", "Node"},
	}
	crds := loadSet(t, SetV3)
	for kind, cols := range want {
		have := map[string]bool{}
		for _, c := range crds[kind].Spec.Versions[0].AdditionalPrinterColumns {
			have[c.Name] = true
		}
		for _, c := range cols {
			if !have[c] {
				t.Errorf("%s: no printer column %q", kind, c)
			}
		}
	}
}

// TestNoCELOnIntOrString guards installability on apiservers before 1.34, which cost any
// CEL rule on an int-or-string value as if it held megabytes (the 1.37 validation in
// TestCRDsAreValid does not catch this). Such values must use pattern and bounds only.
func TestNoCELOnIntOrString(t *testing.T) {
	var walk func(path string, s *apiextensionsv1.JSONSchemaProps)
	walk = func(path string, s *apiextensionsv1.JSONSchemaProps) {
		if s == nil {
			return
		}
		if s.XIntOrString && len(s.XValidations) > 0 {
			t.Errorf("%s: int-or-string value has CEL rules %v", path, s.XValidations)
		}
		for name, p := range s.Properties {
			walk(path+"."+name, &p)
		}
		if s.Items != nil {
			walk(path+"[]", s.Items.Schema)
		}
		if s.AdditionalProperties != nil {
			walk(path+"{}", s.AdditionalProperties.Schema)
		}
	}
	for _, set := range []Set{SetV3, SetLegacy} {
		for kind, crd := range loadSet(t, set) {
			walk(string(set)+"/"+kind, crd.Spec.Versions[0].Schema.OpenAPIV3Schema)
		}
	}
}

func TestAdmissionPolicyEmbedded(t *testing.T) {
	docs := strings.Split(string(AdmissionPolicy()), "\n---\n")
	var kinds []string
	for _, d := range docs {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(d), &obj); err != nil {
			t.Fatalf("admission policy YAML: %v", err)
		}
		if k, ok := obj["kind"].(string); ok {
			kinds = append(kinds, k)
		}
	}
	if strings.Join(kinds, ",") != "ValidatingAdmissionPolicy,ValidatingAdmissionPolicyBinding" {
		t.Errorf("admission manifest kinds = %v", kinds)
	}
}
