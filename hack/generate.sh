#!/bin/sh
# Regenerates everything derived from the Go types in api/:
#   api/v3/zz_generated.deepcopy.go      (controller-gen object)
#   manifests/crds/v3/*.yaml             (controller-gen crd, then hack/crdgen fix-ups)
#   manifests/crds/legacy/*.yaml         (same CRDs for crd.projectcalico.org/v1)
#   manifests/crds/admission/*.yaml      (port-range ValidatingAdmissionPolicy)
# Usage: hack/generate.sh [OUTPUT_ROOT]   (default: the repository root). The staleness
# test passes a temporary directory and compares the result with the committed files.
set -eu
cd "$(dirname "$0")/.."
GO=${GO:-go}
CONTROLLER_GEN_VERSION=${CONTROLLER_GEN_VERSION:-v0.23.0}
OUT=${1:-.}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

$GO run sigs.k8s.io/controller-tools/cmd/controller-gen@"$CONTROLLER_GEN_VERSION" \
	object paths=./api/v3/... output:object:dir="$TMP/object" \
	crd:crdVersions=v1,allowDangerousTypes=true output:crd:dir="$TMP/crd"

mkdir -p "$OUT/api/v3" "$OUT/manifests/crds/v3" "$OUT/manifests/crds/legacy" "$OUT/manifests/crds/admission"
cp "$TMP/object/zz_generated.deepcopy.go" "$OUT/api/v3/zz_generated.deepcopy.go"
rm -f "$OUT"/manifests/crds/v3/*.yaml "$OUT"/manifests/crds/legacy/*.yaml
$GO run ./hack/crdgen -in "$TMP/crd" -v3 "$OUT/manifests/crds/v3" -legacy "$OUT/manifests/crds/legacy" \
	-admission "$OUT/manifests/crds/admission/port-ranges.yaml"
