package crds

import (
	"strings"
	"testing"

	"github.com/palisadenet/palisade/manifests/crds/crdtest"
)

// TestBadObjectsRejected checks every shared bad object against both manifest sets and
// asserts the error names the field and says what is wrong.
func TestBadObjectsRejected(t *testing.T) {
	bad := crdtest.BadObjects()
	if len(bad) < 12 {
		t.Fatalf("only %d bad objects; the issue asks for at least 12", len(bad))
	}
	for _, set := range []Set{SetV3, SetLegacy} {
		crds := loadSet(t, set)
		for _, tc := range bad {
			t.Run(string(set)+"/"+tc.Name, func(t *testing.T) {
				if tc.Admission {
					t.Skip("rejected by the admission policy, not the schema")
				}
				obj := decodeObject(t, tc.YAML)
				crd, ok := crds[obj["kind"].(string)]
				if !ok {
					t.Fatalf("no CRD for kind %v", obj["kind"])
				}
				errs, _ := newSchemaChecker(t, crd).check(obj)
				if len(errs) == 0 {
					t.Fatalf("accepted; want an error on %s", tc.Field)
				}
				for _, e := range errs {
					if e.Field == tc.Field && strings.Contains(e.Error(), tc.Message) {
						return
					}
				}
				t.Errorf("no error on %s containing %q; got:%s", tc.Field, tc.Message, errorsText(errs))
			})
		}
	}
}
