// Command palisadectl is the user's CLI (calicoctl's verbs). The commands live in
// package ctl; this main only runs them and maps errors to the exit code.
package main

import (
	"os"

	"github.com/palisadenet/palisade/ctl"
)

func main() {
	os.Exit(ctl.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
