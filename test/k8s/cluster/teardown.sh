#!/usr/bin/env bash
# Stops a test cluster and removes what it left (issues 7 and 15). The one way a cluster ends:
# test-cluster.ts runs it from stop(), and the watchdog runs it when the test process died
# first (even by SIGKILL), so it reads everything it needs from the run dir:
#   pids/NAME      one pid per component (each leads its own process group)
#   namespace      "HOLDER_PID NET_ID MNT_ID" of the private namespaces, when there is a real node
#   cgroup-root    the kubelet's cgroup subtree (e.g. /runlet-k8s-ab12cd), when there is a real node
#
# Usage: teardown.sh RUN_DIR [--keep]   (--keep: leave RUN_DIR and its logs in place)
set -uo pipefail
RUN_DIR="$(cd "$1" 2>/dev/null && pwd)" || exit 0 # already gone: nothing to do
KEEP="${2:-}"
T0=$(date +%s%N)
log() { echo "[teardown +$((($(date +%s%N) - T0) / 1000000))ms] $*" >&2; }

pid_of() { cat "$RUN_DIR/pids/$1" 2>/dev/null; }

# Running, not a zombie: an orphan whose parent (the test process) died may wait a while
# for its new parent to reap it, and a zombie holds nothing.
alive() {
  [[ -n "${1:-}" ]] || return 1
  local state
  state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)"
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

HOLDER="" NETNS=""
if [[ -f "$RUN_DIR/namespace" ]]; then
  read -r holder netns _ <"$RUN_DIR/namespace"
  # Only while that pid still is the holder: a reused pid is someone else's process.
  if alive "$holder" && [[ "$(readlink "/proc/$holder/ns/net" 2>/dev/null)" == "$netns" ]]; then
    HOLDER="$holder"
  fi
  NETNS="$netns"
fi

# A recorded pid is signalled only while it is still ours (pids are reused): its command line
# names the run dir, or it lives in the cluster's network namespace.
ours() {
  alive "$1" || return 1
  [[ -n "$NETNS" && "$(readlink "/proc/$1/ns/net" 2>/dev/null)" == "$NETNS" ]] && return 0
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$RUN_DIR/"
}

# stop GRACE_S PID...: SIGTERM to each one's process group, SIGKILL to what is left after GRACE_S.
stop() {
  local grace="$1" p i live=()
  shift
  for p in "$@"; do
    if ours "$p"; then
      live+=("$p")
      kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null
    fi
  done
  for ((i = 0; i < grace * 10 && ${#live[@]} > 0; i++)); do
    sleep 0.1
    local still=()
    for p in "${live[@]}"; do alive "$p" && still+=("$p"); done
    live=("${still[@]}")
  done
  for p in "${live[@]}"; do
    log "pid $p still there ${grace} s after SIGTERM: SIGKILL"
    kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null
  done
}

# 1. The kubelet first, so it restarts nothing that goes next.
stop 10 "$(pid_of kubelet)"
# 2. Everything else at once (its state is thrown away), except etcd and the holder: an
#    apiserver whose etcd went first stalls in its shutdown. The node's pods are not stopped
#    one by one through containerd: their processes go in step 4, and their network
#    namespaces, mounts and iptables rules live in the node's namespaces, which go in step 5.
rest=()
for f in "$RUN_DIR"/pids/*; do
  [[ -e "$f" ]] || continue
  case "$(basename "$f")" in etcd | namespace-holder | kubelet) ;; *) rest+=("$(cat "$f")") ;; esac
done
stop 3 "${rest[@]}"
stop 3 "$(pid_of etcd)"

# kill_all WHAT PID...: SIGKILL (their state is thrown away), then wait up to 3 s for them to go.
kill_all() {
  local what="$1" p i
  shift
  [[ $# -eq 0 ]] && return 0
  log "SIGKILL to $# process(es) left $what: $*"
  kill -KILL "$@" 2>/dev/null
  for ((i = 0; i < 30; i++)); do
    local still=()
    for p in "$@"; do alive "$p" && still+=("$p"); done
    [[ ${#still[@]} -eq 0 ]] && return 0
    sleep 0.1
  done
  log "still there after SIGKILL: ${still[*]}"
}

# 3. Anything still in the cluster's network namespace was started by the cluster (the
#    containerd shims, a process that escaped its parent).
if [[ -n "$NETNS" ]]; then
  left=()
  for d in /proc/[0-9]*; do
    p="${d#/proc/}"
    [[ "$p" == "$HOLDER" ]] && continue
    [[ "$(readlink "$d/ns/net" 2>/dev/null)" == "$NETNS" ]] && alive "$p" && left+=("$p")
  done
  kill_all "in the cluster's network namespace" "${left[@]}"
fi

# 4. Pod processes live in namespaces of their own, but in the kubelet's cgroup subtree.
CGROUP_ROOT="$(cat "$RUN_DIR/cgroup-root" 2>/dev/null)"
if [[ "$CGROUP_ROOT" != /runlet-k8s-* ]]; then
  CGROUP_ROOT=""
fi
cgroup_dirs() { # every hierarchy's copy of the subtree (cgroup v1 has one per controller)
  local h
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/; do
    [[ -d "$h${CGROUP_ROOT#/}" ]] && echo "$h${CGROUP_ROOT#/}"
  done
}
if [[ -n "$CGROUP_ROOT" ]]; then
  left=($(cgroup_dirs | while read -r d; do find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null; done | sort -u))
  kill_all "in cgroup ${CGROUP_ROOT}" "${left[@]}"
fi

# 5. The holder: with its last process gone, the namespaces and every mount in them go too.
if [[ -n "$HOLDER" ]]; then
  kill -KILL "$HOLDER" 2>/dev/null
  for _ in $(seq 50); do alive "$HOLDER" || break; sleep 0.1; done
  alive "$HOLDER" && log "the namespace holder $HOLDER did not exit"
  log "namespaces released"
fi

# 6. The kubelet's cgroups, deepest first; a cgroup whose last task is still exiting is busy
#    for a moment.
if [[ -n "$CGROUP_ROOT" ]]; then
  for _ in $(seq 30); do
    dirs="$(cgroup_dirs)"
    [[ -z "$dirs" ]] && break
    while read -r d; do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done <<<"$dirs"
    [[ -z "$(cgroup_dirs)" ]] && break
    sleep 0.2
  done
  dirs="$(cgroup_dirs)"
  [[ -z "$dirs" ]] || log "could not remove cgroup(s): $(tr '\n' ' ' <<<"$dirs")"
  log "cgroups removed"
fi

if [[ "$KEEP" == "--keep" ]]; then
  rm -f "$RUN_DIR"/pids/*
  log "down; files kept in $RUN_DIR"
else
  rm -rf "$RUN_DIR" || log "could not remove $RUN_DIR"
  log "down"
fi
