package ctl

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tableCases are the listings users read, each pinned by a golden file.
var tableCases = []struct {
	golden string
	args   []string
}{
	{"get-ippools.txt", []string{"get", "ippools"}},
	{"get-ippools-wide.txt", []string{"get", "ippool", "-o", "wide"}},
	{"get-ippools.yaml", []string{"get", "ippool", "-o", "yaml"}},
	{"get-ippool-default.yaml", []string{"get", "ippool", "default-ipv4-ippool", "-o", "yaml"}},
	{"get-ippools-name.txt", []string{"get", "pools", "-o", "name"}},
	{"get-ippools-custom.txt", []string{"get", "ippool", "-o", "custom-columns=NAME:.metadata.name,CIDR:.spec.cidr,IPIP:.spec.ipipMode,LABEL:.metadata.labels.zone"}},
	{"get-networkpolicies-default-ns.txt", []string{"get", "networkpolicy"}},
	{"get-networkpolicies-all.txt", []string{"get", "networkpolicies", "-A"}},
	{"get-networkpolicies-wide.txt", []string{"get", "policy", "-n", "production", "-o", "wide"}},
	{"get-gnp-wide.txt", []string{"get", "gnp", "-o", "wide"}},
	{"get-tiers.txt", []string{"get", "tiers"}},
	{"get-networksets-wide.txt", []string{"get", "networkset", "-A", "-o", "wide"}},
	{"get-bgppeers.txt", []string{"get", "bgppeer"}},
	{"get-bgpconfig.txt", []string{"get", "bgpconfiguration"}},
	{"get-hostendpoints-wide.txt", []string{"get", "hep", "-o", "wide"}},
	{"get-felixconfig-empty.txt", []string{"get", "felixconfiguration"}},
	{"get-by-file.txt", []string{"get", "-f", examplesDir}},
}

// loadTableFixtures fills a datastore with the examples and testdata/resources.
func loadTableFixtures(t *testing.T, h *harness) {
	t.Helper()
	h.mustRun("apply", "-f", examplesDir)
	h.mustRun("create", "-f", "testdata/resources")
}

func TestTablesFile(t *testing.T) {
	h := fileHarness(t)
	loadTableFixtures(t, h)
	for _, tc := range tableCases {
		t.Run(tc.golden, func(t *testing.T) {
			hh := *h
			hh.t = t
			checkGolden(t, tc.golden, hh.mustRun(tc.args...))
		})
	}
}

// checkTablesKubernetes compares the Kubernetes backend's listings with the file
// backend's goldens (server-assigned metadata aside).
func checkTablesKubernetes(t *testing.T, h *harness) {
	loadTableFixtures(t, h)
	defer func() {
		h.t = t
		if out := h.mustRun("delete", "-f", "testdata/resources", "-f", examplesDir); out != "Successfully deleted 10 resource(s)\n" {
			t.Errorf("deleting the fixtures: %q", out)
		}
	}()
	for _, tc := range tableCases {
		t.Run(tc.golden, func(t *testing.T) {
			hh := *h
			hh.t = t
			got := hh.mustRun(tc.args...)
			if diff := cmp.Diff(normalise(readGolden(t, tc.golden)), normalise(got)); diff != "" {
				t.Errorf("palisadectl %s (-file backend golden +kubernetes):\n%s", strings.Join(tc.args, " "), diff)
			}
		})
	}
}
