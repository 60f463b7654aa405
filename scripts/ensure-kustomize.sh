#!/usr/bin/env bash
# Install the pinned kustomize into ${CARBON_CACHE:-$HOME/.cache/carbon-bureau}/bin and print its
# path. Built from source through the Go module proxy (`go install module@version`: go.sum and the
# checksum database make the build reproducible); a no-op when that version is already there.
# Cold: about 30 s on 2 cores (downloads ~40 modules, compiles). Needs a Go toolchain >= 1.26.
# The manifest tests (tests/deploy) fail without it; the Makefile runs this before pytest.
set -euo pipefail

# v5.8.3 declares `go 1.27`; bump together with the Go toolchain.
KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.8.2}"
CACHE="${CARBON_CACHE:-$HOME/.cache/carbon-bureau}"
BIN_DIR="$CACHE/bin"
BIN="$BIN_DIR/kustomize"

if [[ -x "$BIN" ]] && [[ "$("$BIN" version 2>/dev/null)" == "$KUSTOMIZE_VERSION" ]]; then
    echo "$BIN"
    exit 0
fi

if ! command -v go >/dev/null 2>&1; then
    echo "ensure-kustomize: 'go' not found; install a Go toolchain (>= 1.26) to build kustomize" >&2
    exit 1
fi

mkdir -p "$BIN_DIR"
# Build into a private directory and move into place, so concurrent runs never see half a binary.
STAGE="$(mktemp -d "$BIN_DIR/.kustomize.XXXXXX")"
trap 'rm -rf "$STAGE"' EXIT
echo "ensure-kustomize: building kustomize $KUSTOMIZE_VERSION (go install, ~30 s cold)" >&2
GOBIN="$STAGE" GOTOOLCHAIN=local GOFLAGS="-buildvcs=false -trimpath" CGO_ENABLED=0 \
    go install "sigs.k8s.io/kustomize/kustomize/v5@${KUSTOMIZE_VERSION}"
mv -f "$STAGE/kustomize" "$BIN"

got="$("$BIN" version)"
if [[ "$got" != "$KUSTOMIZE_VERSION" ]]; then
    echo "ensure-kustomize: built $got, expected $KUSTOMIZE_VERSION" >&2
    exit 1
fi
echo "$BIN"
