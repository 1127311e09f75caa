#!/usr/bin/env bash
# Builds what a real Kubernetes node of the test cluster runs (issue 15), from Go modules and one
# C file, once, into a cache beside the control plane's (test/k8s/cluster/build.sh):
#   runc, containerd + containerd-shim-runc-v2 + ctr, the CNI plugins bridge, host-local,
#   loopback and portmap (in cni/), crictl, kubelet and kube-proxy at the control plane's
#   Kubernetes version, CoreDNS, and pause (static, from pause.c beside this script).
#
# Usage: test/k8s/node/build.sh            build if needed; prints the bin dir as the last stdout line
#        test/k8s/node/build.sh --bin-dir  print the bin dir only, build nothing
#
# Progress goes to stderr. Versions can be overridden for trying another combination:
#   RUNLET_K8S_VERSION (v1.36.3, shared with the control plane), RUNLET_CONTAINERD_VERSION
#   (v2.4.2), RUNLET_RUNC_VERSION (v1.5.3), RUNLET_CNI_VERSION (v1.10.0), RUNLET_CRICTL_VERSION
#   (v1.37.0), RUNLET_COREDNS_VERSION (v1.15.0); the cache root with RUNLET_K8S_CACHE.
# Needs go >= 1.26, flock, gcc with a static libc (pause, and runc's nsenter, which is C);
# runc gets seccomp support when libseccomp's headers are installed (libseccomp-dev).
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
K8S_VERSION="${RUNLET_K8S_VERSION:-v1.36.3}"
CONTAINERD_VERSION="${RUNLET_CONTAINERD_VERSION:-v2.4.2}"
RUNC_VERSION="${RUNLET_RUNC_VERSION:-v1.5.3}"
CNI_VERSION="${RUNLET_CNI_VERSION:-v1.10.0}"
CRICTL_VERSION="${RUNLET_CRICTL_VERSION:-v1.37.0}"
COREDNS_VERSION="${RUNLET_COREDNS_VERSION:-v1.15.0}"
CACHE_ROOT="${RUNLET_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/runlet/k8s}"
# runc's seccomp support depends on what the machine has, so the key says which was built.
if pkg-config --exists libseccomp 2>/dev/null; then SECCOMP=seccomp; else SECCOMP=noseccomp; fi
KEY="node-${K8S_VERSION}-containerd${CONTAINERD_VERSION}-runc${RUNC_VERSION}-${SECCOMP}-cni${CNI_VERSION}-crictl${CRICTL_VERSION}-coredns${COREDNS_VERSION}"
OUT="${CACHE_ROOT}/${KEY}"
BIN="${OUT}/bin"
BINARIES=(runc containerd containerd-shim-runc-v2 ctr crictl kubelet kube-proxy coredns
  cni/bridge cni/host-local cni/loopback cni/portmap pause)
PAUSE_SOURCE="$HERE/pause.c"

if [[ "${1:-}" == "--bin-dir" ]]; then
  echo "$BIN"
  exit 0
fi

complete() {
  [[ -f "$BIN/.complete" ]] || return 1
  local b
  for b in "${BINARIES[@]}"; do [[ -x "$BIN/$b" ]] || return 1; done
}

# pause is built from the repo's own file, so a change to it must reach the cache even when
# every Go binary is there: its hash is kept beside it, and it is rebuilt (well under a
# second) when the file changed.
pause_current() { # dir
  [[ -x "$1/pause" && "$(cat "$1/pause.sha256" 2>/dev/null)" == "$(sha256sum <"$PAUSE_SOURCE")" ]]
}
build_pause() { # dir
  gcc -Os -static -Wall -Werror -o "$1/pause.tmp" "$PAUSE_SOURCE"
  strip "$1/pause.tmp"
  mv "$1/pause.tmp" "$1/pause"
  sha256sum <"$PAUSE_SOURCE" >"$1/pause.sha256"
}

if complete && pause_current "$BIN"; then
  echo "$BIN"
  exit 0
fi

LOG_TAG=node-build
# shellcheck source=../go-build.sh
source "$HERE/../go-build.sh"
trap on_error ERR
require_tools go flock gcc
take_lock "$CACHE_ROOT"
if complete; then
  if ! pause_current "$BIN"; then
    step "rebuild pause (pause.c changed)"
    build_pause "$BIN"
  fi
  echo "$BIN"
  exit 0
fi

log "building ${KEY} into ${OUT} ($(go version))"
export GOTOOLCHAIN=local GOFLAGS="-buildvcs=false"
# Be a good neighbour on a small machine: low priority, at most two compile jobs.
GO=(nice -n 10 go)
PARTIAL="${OUT}/bin.partial"
mkdir -p "$PARTIAL/cni" "$OUT/k8s" "$OUT/gobin"

# go_install STEP CGO DEST_SUBDIR FLAGS... -- PACKAGE@VERSION...: `go install` into a scratch
# GOBIN, then move the results into $PARTIAL (or a sub dir), so only finished binaries land.
go_install() {
  local name="$1" cgo="$2" dest="$PARTIAL/$3" t0=$SECONDS
  shift 3
  local flags=()
  while [[ "$1" != "--" ]]; do
    flags+=("$1")
    shift
  done
  shift
  step "build $name"
  rm -rf "$OUT/gobin"
  mkdir -p "$OUT/gobin"
  CGO_ENABLED="$cgo" GOBIN="$OUT/gobin" "${GO[@]}" install -p 2 -trimpath "${flags[@]}" "$@"
  mv "$OUT/gobin/"* "$dest/"
  log "$name: built in $((SECONDS - t0))s"
}

if ! pause_current "$PARTIAL"; then
  step "build pause"
  build_pause "$PARTIAL"
fi

# runc's nsenter is C, so runc alone needs cgo.
RUNC_TAGS="urfave_cli_no_docs"
if [[ "$SECCOMP" == seccomp ]]; then
  RUNC_TAGS+=" seccomp"
else
  log "runc: no libseccomp-dev, building it without seccomp"
fi
if ! have runc; then
  go_install runc 1 . -tags "$RUNC_TAGS" -ldflags "-X main.version=${RUNC_VERSION#v}" -- \
    "github.com/opencontainers/runc@${RUNC_VERSION}"
fi

C=github.com/containerd/containerd/v2
if ! have containerd ctr containerd-shim-runc-v2; then
  go_install containerd 0 . -tags "no_btrfs no_devmapper no_zfs urfave_cli_no_docs" \
    -ldflags "-s -w -X ${C}/version.Version=${CONTAINERD_VERSION}" -- \
    "${C}/cmd/containerd@${CONTAINERD_VERSION}" "${C}/cmd/ctr@${CONTAINERD_VERSION}" \
    "${C}/cmd/containerd-shim-runc-v2@${CONTAINERD_VERSION}"
fi

P=github.com/containernetworking/plugins/plugins
if ! have cni/bridge cni/host-local cni/loopback cni/portmap; then
  go_install "CNI plugins" 0 cni -ldflags "-s -w" -- \
    "${P}/main/bridge@${CNI_VERSION}" "${P}/main/loopback@${CNI_VERSION}" \
    "${P}/ipam/host-local@${CNI_VERSION}" "${P}/meta/portmap@${CNI_VERSION}"
fi

if ! have crictl; then
  go_install crictl 0 . -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=${CRICTL_VERSION}" -- \
    "sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}"
fi

# kubelet and kube-proxy: the same wrapper module as the control plane's, so with the same
# module graph most of their packages come from the Go build cache the control plane filled.
if ! have kubelet kube-proxy; then
  step "resolve k8s.io/kubernetes ${K8S_VERSION}"
  cd "$OUT/k8s"
  export GOFLAGS="-mod=mod -buildvcs=false"
  k8s_wrapper_module "$K8S_VERSION" runlet.local/k8snodebin
  quiet_get "k8s.io/kubernetes/cmd/kubelet@${K8S_VERSION}" "k8s.io/kubernetes/cmd/kube-proxy@${K8S_VERSION}"
  LDFLAGS="$(k8s_ldflags "$K8S_VERSION")"
  for b in kubelet kube-proxy; do
    if have "$b"; then continue; fi
    step "build $b"
    t0=$SECONDS
    CGO_ENABLED=0 "${GO[@]}" build -p 2 -trimpath -ldflags "$LDFLAGS" -o "$PARTIAL/$b.tmp" "k8s.io/kubernetes/cmd/$b"
    mv "$PARTIAL/$b.tmp" "$PARTIAL/$b"
    log "$b: built in $((SECONDS - t0))s"
  done
  cd "$OUT"
  export GOFLAGS="-buildvcs=false"
fi

if ! have coredns; then
  go_install coredns 0 . -ldflags "-s -w" -- "github.com/coredns/coredns@${COREDNS_VERSION}"
fi

step "check binaries"
"$PARTIAL/runc" --version >&2
"$PARTIAL/containerd" --version >&2
"$PARTIAL/crictl" --version >&2
"$PARTIAL/kubelet" --version >&2
"$PARTIAL/kube-proxy" --version >&2
"$PARTIAL/coredns" -version >&2
rm -rf "$OUT/gobin"
publish
echo "$BIN"
