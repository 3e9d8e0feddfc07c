package main

import (
	"fmt"
	"os"
	"strings"
)

// The port-range admission policy rejects `"min:max"` port strings with min > max in
// policy rules. The CRD schema cannot: apiservers before 1.34 cost CEL on int-or-string
// values as if each held megabytes, so such a rule on rule/port lists is refused at CRD
// install. An admission policy has no static cost check and a typical object costs little.

const admissionName = "palisade-port-ranges"

// badPort is true for a string "a:b" with a > b.
const badPort = `type(p) == string && p.matches('^[0-9]{1,5}:[0-9]{1,5}$') && int(p.split(':')[0]) > int(p.split(':')[1])`

func admissionPolicy() string {
	var validations strings.Builder
	for _, dir := range []string{"ingress", "egress"} {
		for _, end := range []string{"source", "destination"} {
			for _, list := range []string{"ports", "notPorts"} {
				validations.WriteString(portRangeValidation(dir, end, list))
			}
		}
	}
	return fmt.Sprintf(`apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: %[1]s
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - apiGroups: [projectcalico.org, crd.projectcalico.org]
      apiVersions: ["*"]
      operations: [CREATE, UPDATE]
      resources: [networkpolicies, globalnetworkpolicies]
  validations:
%[2]s---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: %[1]s
spec:
  policyName: %[1]s
  validationActions: [Deny]
`, admissionName, validations.String())
}

// portRangeValidation checks spec.<dir>[*].<end>.<list>[*] and names the first bad entry.
func portRangeValidation(dir, end, list string) string {
	rules := "object.spec." + dir
	hasList := fmt.Sprintf("has(r.%[1]s) && has(r.%[1]s.%[2]s)", end, list)
	badRule := fmt.Sprintf("%s && r.%s.%s.exists(p, %s)", hasList, end, list, badPort)
	firstRule := fmt.Sprintf("%s.filter(r, %s)[0]", rules, badRule)
	firstPort := fmt.Sprintf("%s.%s.%s.filter(p, %s)[0]", firstRule, end, list, badPort)
	expr := fmt.Sprintf("!has(%s) || !%s.exists(r, %s)", rules, rules, badRule)
	msg := fmt.Sprintf(`'spec.%s[' + string(%s.indexOf(%s)) + '].%s.%s[' + string(%s.%s.%s.indexOf(%s)) + ']: port range "' + %s + '" has min > max'`,
		dir, rules, firstRule, end, list, firstRule, end, list, firstPort, firstPort)
	return fmt.Sprintf("  - expression: %s\n    messageExpression: %s\n    reason: Invalid\n", yamlQuote(expr), yamlQuote(msg))
}

// yamlQuote writes s as a single-quoted YAML scalar.
func yamlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func writeAdmission(path string) error {
	if err := os.WriteFile(path, []byte(header+"---\n"+admissionPolicy()), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
