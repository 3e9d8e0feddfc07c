#!/bin/sh
# Prepares a fresh Debian/Ubuntu machine for `make demo`: root, the system packages the
# demo uses (iproute2 for namespaces, nftables for `nft`), and a Go toolchain.
set -eu
if [ "$(id -u)" != 0 ]; then
  echo "The demo creates network namespaces and nftables tables: run it as root (sudo make demo)." >&2
  exit 1
fi
missing=""
command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
command -v nft >/dev/null 2>&1 || missing="$missing nftables"
if [ -n "$missing" ]; then
  echo "Installing:$missing"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get not found: install$missing with your package manager." >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
if ! command -v go >/dev/null 2>&1 && [ ! -x /usr/local/go/bin/go ]; then
  echo "Installing golang-go (go.mod's toolchain is then fetched from the Go module proxy)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
fi
