// Command gen writes manifests/palisade.yaml from package manifests/install.
//
//	go run ./manifests/install/gen [-o manifests/palisade.yaml] [-image ref]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/palisadenet/palisade/manifests/install"
)

func main() {
	out := flag.String("o", "manifests/palisade.yaml", "file to write ('-' for stdout)")
	image := flag.String("image", "", "image of every container (default "+install.ImageRepository+":"+install.Version+")")
	flag.Parse()
	data, err := install.Render(install.Options{Image: *image})
	if err == nil {
		if *out == "-" {
			_, err = os.Stdout.Write(data)
		} else {
			err = os.WriteFile(*out, data, 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
