#!/usr/bin/env bash
# Builds the Kubernetes test control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, kwok) from Go modules, once, into a cache outside the repo (issue 7).
#
# Usage: test/k8s/cluster/build.sh            build if needed; prints the bin dir as the last stdout line
#        test/k8s/cluster/build.sh --bin-dir  print the bin dir only, build nothing
#
# Progress goes to stderr. Versions can be overridden for trying another combination:
#   RUNLET_K8S_VERSION (v1.36.3), RUNLET_ETCD_VERSION (v3.6.8), RUNLET_KWOK_VERSION (v0.8.0),
#   RUNLET_K8S_CACHE (${XDG_CACHE_HOME:-$HOME/.cache}/runlet/k8s).
# Go's module and build caches stay where `go env` puts them.
# etcd is built from go.etcd.io/etcd/server/v3 at the version Kubernetes' own go.mod pins,
# inside the same wrapper module, so it shares the dependency graph the apiserver was tested with.
set -Eeuo pipefail

K8S_VERSION="${RUNLET_K8S_VERSION:-v1.36.3}"
KWOK_VERSION="${RUNLET_KWOK_VERSION:-v0.8.0}"
# The etcd server version pinned by k8s.io/kubernetes ${K8S_VERSION}; checked against its go.mod below.
ETCD_VERSION="${RUNLET_ETCD_VERSION:-v3.6.8}"
CACHE_ROOT="${RUNLET_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/runlet/k8s}"
KEY="${K8S_VERSION}-etcd${ETCD_VERSION}-kwok${KWOK_VERSION}"
OUT="${CACHE_ROOT}/${KEY}"
BIN="${OUT}/bin"
BINARIES=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)

if [[ "${1:-}" == "--bin-dir" ]]; then
  echo "$BIN"
  exit 0
fi

complete() {
  [[ -f "$BIN/.complete" ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
}

if complete; then
  echo "$BIN"
  exit 0
fi

LOG_TAG=k8s-build
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
BUILD=(build -p 2 -trimpath)
PARTIAL="${OUT}/bin.partial"
mkdir -p "$PARTIAL" "$OUT/k8s" "$OUT/kwok"

# --- wrapper module for k8s.io/kubernetes -------------------------------------------------
step "resolve k8s.io/kubernetes ${K8S_VERSION}"
cd "$OUT/k8s"
k8s_wrapper_module "$K8S_VERSION" runlet.local/k8sbin
pinned_etcd="$(awk '$1 == "go.etcd.io/etcd/server/v3" { print $2 }' "$K8S_GOMOD")"
if [[ "$pinned_etcd" != "$ETCD_VERSION" ]]; then
  log "note: k8s.io/kubernetes ${K8S_VERSION} pins etcd server ${pinned_etcd:-nothing}; building ${ETCD_VERSION}"
fi

step "download modules for Kubernetes and etcd"
P=k8s.io/kubernetes/cmd
quiet_get "$P/kube-apiserver@${K8S_VERSION}" "$P/kube-controller-manager@${K8S_VERSION}" \
  "$P/kube-scheduler@${K8S_VERSION}" "$P/kubectl@${K8S_VERSION}" "go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
LDFLAGS="$(k8s_ldflags "$K8S_VERSION")"

build_one() { # name package ldflags
  local name="$1" pkg="$2" ld="$3" t0=$SECONDS
  if have "$name"; then
    log "$name: already built in an earlier, unfinished run"
    return 0
  fi
  step "build $name"
  "${GO[@]}" "${BUILD[@]}" -ldflags "$ld" -o "$PARTIAL/$name.tmp" "$pkg"
  mv "$PARTIAL/$name.tmp" "$PARTIAL/$name"
  log "$name: built in $((SECONDS - t0))s ($(du -h "$PARTIAL/$name" | cut -f1))"
}

build_one kube-apiserver "$P/kube-apiserver" "$LDFLAGS"
build_one kube-controller-manager "$P/kube-controller-manager" "$LDFLAGS"
build_one kube-scheduler "$P/kube-scheduler" "$LDFLAGS"
build_one kubectl "$P/kubectl" "$LDFLAGS"
# etcd's own go.mod has relative replaces, so `go install` refuses it; this wrapper has none.
build_one etcd "go.etcd.io/etcd/server/v3" "-s -w"

# --- kwok: a module without replaces, built in its own wrapper ---------------------------
step "resolve sigs.k8s.io/kwok ${KWOK_VERSION}"
cd "$OUT/kwok"
if [[ ! -f go.mod ]]; then
  printf '// Throwaway wrapper module for kwok.\nmodule runlet.local/kwokbin\n\ngo 1.26.0\n' >go.mod
fi
quiet_get "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
build_one kwok "sigs.k8s.io/kwok/cmd/kwok" "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION}"

step "check binaries"
"$PARTIAL/kube-apiserver" --version >&2
"$PARTIAL/etcd" --version >&2
"$PARTIAL/kwok" --version >&2

publish
echo "$BIN"
