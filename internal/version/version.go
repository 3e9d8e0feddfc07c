// Package version carries the build's version string, set at link time by the Makefile
// (-X github.com/palisadenet/palisade/internal/version.Version=...).
package version

// Version is the release or git description of this build; "dev" when not stamped.
var Version = "dev"
