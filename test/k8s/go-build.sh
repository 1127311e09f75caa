# Shared by test/k8s/cluster/build.sh and test/k8s/node/build.sh (sourced, not run): progress
# lines, the cache lock, resumable publishing, and the wrapper module that builds binaries of
# k8s.io/kubernetes from the Go module proxy.
#
# The sourcing script sets LOG_TAG, KEY (the cache key), OUT (the cache entry) before calling
# anything here, and `set -Eeuo pipefail` itself.

START=$SECONDS
STEP="setup"
log() { printf '[%s +%4ds] %s\n' "$LOG_TAG" "$((SECONDS - START))" "$*" >&2; }
step() {
  STEP="$1"
  log "step: ${STEP}"
}
on_error() {
  local rc=$?
  log "FAILED in step '${STEP}' (exit ${rc}); see the output above. Versions: ${KEY}"
  exit "$rc"
}

require_tools() { # command...
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null || {
      STEP="check $c"
      log "$c is not on PATH (Go >= 1.26, flock from util-linux, gcc for the node)"
      exit 1
    }
  done
}

# One build of a key at a time: a second run waits on the lock, then finds the binaries.
# The lock file sits beside the entry, so removing the entry does not race a build in it.
take_lock() { # cache_root
  mkdir -p "$1"
  exec 9>"$1/${KEY}.lock"
  if ! flock -n 9; then
    log "another build of ${KEY} is running; waiting for its lock"
    flock 9
  fi
}

# `go get` names every module it adds; keep only what explains a failure.
quiet_get() {
  "${GO[@]}" get "$@" 2>&1 | { grep -vE '^go: (downloading|added|upgraded|finding) ' >&2 || true; }
}

# Writes a throwaway module in the current directory that can build k8s.io/kubernetes@$1's
# commands. k8s.io/kubernetes requires each of its staging modules at v0.0.0 and maps them to
# ./staging/..., which `go install` refuses; a consumer replaces each with its published v0.Y.Z
# tag. The list comes from Kubernetes' own go.mod, so a new release's new modules are covered.
# Sets K8S_GOMOD (the path of that go.mod) for callers that read more from it.
k8s_wrapper_module() { # k8s_version module_name
  local version="$1" name="$2"
  if [[ ! -f go.mod ]]; then
    printf '// Throwaway wrapper module: builds Kubernetes binaries from the published k8s.io/kubernetes module.\nmodule %s\n\ngo 1.26.0\n' \
      "$name" >go.mod
  fi
  # `go mod download -json` reports a failure in the JSON's "Error" field.
  local info
  info="$("${GO[@]}" mod download -json "k8s.io/kubernetes@${version}" || true)"
  K8S_GOMOD="$(sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
  if [[ ! -f "$K8S_GOMOD" ]]; then
    log "could not download k8s.io/kubernetes@${version}: $(sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"$info")"
    return 1
  fi
  local staging_version="v0.${version#v1.}" staging edits=() m
  staging=($(awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }' "$K8S_GOMOD"))
  [[ ${#staging[@]} -gt 10 ]] || {
    log "found only ${#staging[@]} staging replaces in ${K8S_GOMOD}"
    return 1
  }
  for m in "${staging[@]}"; do edits+=("-replace=${m}=${m}@${staging_version}"); done
  go mod edit "${edits[@]}"
  log "replaced ${#staging[@]} staging modules with ${staging_version}"
}

# -ldflags for Kubernetes binaries: /version reports what these say (k/k hack/lib/version.sh);
# without them it says v0.0.0-master.
k8s_ldflags() { # k8s_version
  local minor="${1#v1.}" p flags="-s -w"
  minor="${minor%%.*}"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X ${p}.gitVersion=$1 -X ${p}.gitMajor=1 -X ${p}.gitMinor=${minor}"
    flags+=" -X ${p}.gitTreeState=clean -X ${p}.buildDate=1970-01-01T00:00:00Z"
  done
  printf '%s' "$flags"
}

# A binary lands in $PARTIAL only once it is complete, so an interrupted run resumes with
# what it finished. `have NAME...` is true when all of them are there.
have() {
  local b
  for b in "$@"; do [[ -x "$PARTIAL/$b" ]] || return 1; done
}

# Moves the finished build into place in one rename, so readers see all binaries or none.
publish() {
  step "publish"
  touch "$PARTIAL/.complete"
  rm -rf "$BIN"
  mv "$PARTIAL" "$BIN"
  log "done: ${BIN} in $((SECONDS - START))s"
}
