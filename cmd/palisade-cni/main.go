// Command palisade-cni is the CNI plugin (spec 0.3.0 to 1.1.0) the container runtime
// calls for every pod: ADD, DEL, CHECK, STATUS, GC and VERSION, with the network
// configuration on stdin and CNI_* variables in the environment. Invoked under the
// name palisade-ipam (a link), it is the IPAM plugin for other main plugins. The plugin logic is
// package cni; the kernel plumbing is dataplane/workload.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/containernetworking/cni/pkg/skel"

	"github.com/palisadenet/palisade/cni"
	"github.com/palisadenet/palisade/internal/version"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "version" || os.Args[1] == "--version") {
		fmt.Println("palisade-cni", version.Version)
		return
	}
	p := &cni.Plugin{
		Env:           cni.OSEnv(),
		Plumber:       cni.KernelPlumber{},
		OpenDatastore: cni.OpenDatastore,
		Stdout:        os.Stdout,
		Stderr:        os.Stderr,
	}
	// Installed (or linked) as palisade-ipam, the binary is the IPAM plugin for other
	// main plugins, as calico-ipam is.
	if filepath.Base(os.Args[0]) == cni.IPAMType {
		skel.PluginMainFuncs(p.IPAMFuncs(), cni.SupportedVersions, "palisade-ipam "+version.Version+": Palisade's IPAM plugin")
		return
	}
	skel.PluginMainFuncs(p.Funcs(), cni.SupportedVersions, "palisade-cni "+version.Version+": Palisade's CNI plugin")
}
