// Command palisade-controllers is a thin main; its behaviour lives in the packages it wires together.
package main

import (
	"fmt"
	"os"

	"github.com/palisadenet/palisade/internal/version"
)

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "version" || os.Args[1] == "--version") {
		fmt.Println("palisade-controllers", version.Version)
		return
	}
	fmt.Fprintln(os.Stderr, "palisade-controllers: not implemented yet (see docs/plan.md)")
	os.Exit(1)
}
