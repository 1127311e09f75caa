#!/usr/bin/env bash
# Builds one of the install tools from its Go module, once, into a cache outside the repo:
# nats-server (the NATS image, the JetStream call queue's tests) and helm (the chart's tests).
#
# Usage: test/k8s/tools/build.sh TOOL            build if needed; prints the bin dir as the last stdout line
#        test/k8s/tools/build.sh TOOL --bin-dir  print the bin dir only, build nothing
# TOOL is nats-server or helm; each has its own cache entry, so a quick nats-server build
# never waits on a helm build.
#
# Progress goes to stderr. Versions can be overridden for trying another one:
#   RUNLET_NATS_SERVER_VERSION (v2.15.3), RUNLET_HELM_VERSION (v4.3.2),
#   RUNLET_K8S_CACHE (${XDG_CACHE_HOME:-$HOME/.cache}/runlet/k8s).
# Go's module and build caches stay where `go env` puts them.
set -Eeuo pipefail

TOOL="${1:-}"
NATS_SERVER_VERSION="${RUNLET_NATS_SERVER_VERSION:-v2.15.3}"
HELM_VERSION="${RUNLET_HELM_VERSION:-v4.3.2}"
CACHE_ROOT="${RUNLET_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/runlet/k8s}"

case "$TOOL" in
  nats-server)
    VERSION="$NATS_SERVER_VERSION"
    MODULE="github.com/nats-io/nats-server/v2"
    PACKAGE="$MODULE"
    CHECK=(--version)
    # The server reports this in `--version` and in its INFO (server.VERSION is a var).
    LDFLAGS="-s -w -X github.com/nats-io/nats-server/v2/server.gitCommit=release-${VERSION}"
    ;;
  helm)
    VERSION="$HELM_VERSION"
    MODULE="helm.sh/helm/v4"
    PACKAGE="$MODULE/cmd/helm"
    CHECK=(version --short)
    # Without these, `helm version` says v4.0+unreleased and charts' kubeVersion checks see it.
    LDFLAGS="-s -w -X helm.sh/helm/v4/internal/version.version=${VERSION} -X helm.sh/helm/v4/internal/version.gitTreeState=clean"
    ;;
  *)
    echo "usage: $0 nats-server|helm [--bin-dir]" >&2
    exit 2
    ;;
esac

KEY="${TOOL}-${VERSION}"
OUT="${CACHE_ROOT}/${KEY}"
BIN="${OUT}/bin"

if [[ "${2:-}" == "--bin-dir" ]]; then
  echo "$BIN"
  exit 0
fi

complete() { [[ -f "$BIN/.complete" && -x "$BIN/$TOOL" ]]; }

if complete; then
  echo "$BIN"
  exit 0
fi

LOG_TAG="${TOOL}-build"
# shellcheck source=../go-build.sh
source "$(dirname "${BASH_SOURCE[0]}")/../go-build.sh"
trap on_error ERR
require_tools go flock
take_lock "$CACHE_ROOT"
if complete; then
  log "built by a concurrent run"
  echo "$BIN"
  exit 0
fi

log "building ${KEY} into ${OUT} ($(go version))"
export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false"
# Be a good neighbour on a small machine: low priority, at most two compile jobs.
GO=(nice -n 10 go)
PARTIAL="${OUT}/bin.partial"
mkdir -p "$PARTIAL" "$OUT/module"

# A throwaway wrapper module, as for kwok: `go get` resolves the tool's own requirements, and
# the build uses them as its release did.
step "resolve ${MODULE} ${VERSION}"
cd "$OUT/module"
if [[ ! -f go.mod ]]; then
  printf '// Throwaway wrapper module for %s.\nmodule runlet.local/%sbin\n\ngo 1.26.0\n' "$TOOL" "$TOOL" >go.mod
fi
quiet_get "${PACKAGE}@${VERSION}"

if have "$TOOL"; then
  log "$TOOL: already built in an earlier, unfinished run"
else
  step "build $TOOL"
  t0=$SECONDS
  "${GO[@]}" build -p 2 -trimpath -ldflags "$LDFLAGS" -o "$PARTIAL/$TOOL.tmp" "$PACKAGE"
  mv "$PARTIAL/$TOOL.tmp" "$PARTIAL/$TOOL"
  log "$TOOL: built in $((SECONDS - t0))s ($(du -h "$PARTIAL/$TOOL" | cut -f1))"
fi

step "check $TOOL"
"$PARTIAL/$TOOL" "${CHECK[@]}" >&2

publish
echo "$BIN"
