package cni

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestExampleConflists parses every shipped conflist's palisade entry the way the
// runtime hands it over: the list's name and cniVersion copied into the entry.
func TestExampleConflists(t *testing.T) {
	files, err := filepath.Glob("../manifests/cni/*.conflist")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example conflists found (%v)", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var list struct {
			Name       string                       `json:"name"`
			CNIVersion string                       `json:"cniVersion"`
			Plugins    []map[string]json.RawMessage `json:"plugins"`
		}
		if err := json.Unmarshal(data, &list); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		found := false
		for _, p := range list.Plugins {
			if string(p["type"]) != `"palisade-cni"` {
				continue
			}
			found = true
			p["name"], _ = json.Marshal(list.Name)
			p["cniVersion"], _ = json.Marshal(list.CNIVersion)
			entry, _ := json.Marshal(p)
			conf, err := ParseConfig(entry, testEnv)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			if HandleID(conf.Name, "c") != "k8s-pod-network.c" {
				t.Errorf("%s: handles would be %q, want Calico's k8s-pod-network.<containerID>", f, HandleID(conf.Name, "c"))
			}
		}
		if !found {
			t.Errorf("%s has no palisade-cni entry", f)
		}
	}
}
