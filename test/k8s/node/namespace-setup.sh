#!/usr/bin/env bash
# Prepares the test cluster's private network and mount namespaces (issue 15). Runs INSIDE them
# (nsenter into the holder process), once, before any component starts; everything it changes
# lives in those namespaces and goes with them.
#
# Usage: namespace-setup.sh RUN_DIR NODE_ADDRESS/PREFIX SERVICE_CIDR OUR_NET OUR_MNT HOST_NET HOST_MNT
#   OUR_*   the namespace ids (`readlink /proc/<holder>/ns/net`) of the namespaces the suite made
#   HOST_*  the ids of the namespaces the suite was started in
# It mounts over /run, /var/log, /etc/resolv.conf, /etc/hosts and six /proc/sys files, and
# makes network devices: done in the host's namespaces that would break the machine, so it
# refuses unless it is in exactly the namespaces the caller made, and not in the caller's own.
set -euo pipefail
RUN_DIR="$1" NODE_CIDR="$2" SERVICE_CIDR="$3"
OUR_NET="$4" OUR_MNT="$5" HOST_NET="$6" HOST_MNT="$7"
NET="$(readlink /proc/self/ns/net)"
MNT="$(readlink /proc/self/ns/mnt)"
if [[ -z "$OUR_NET" || -z "$OUR_MNT" || "$NET" != "$OUR_NET" || "$MNT" != "$OUR_MNT" ||
  "$NET" == "$HOST_NET" || "$MNT" == "$HOST_MNT" ]]; then
  echo "namespace-setup.sh: refusing: in net ${NET} mnt ${MNT}, expected the suite's net ${OUR_NET} mnt ${OUR_MNT} (host: net ${HOST_NET} mnt ${HOST_MNT})" >&2
  exit 3
fi
# Only a namespace without any way out is acceptable: nothing but loopback may exist yet.
if [[ "$(ip -o link show | grep -cv ': lo:')" != 0 ]]; then
  echo "namespace-setup.sh: refusing: the new network namespace already has devices besides lo" >&2
  exit 3
fi

# --- network ------------------------------------------------------------------------------
# The node's address sits on a bridge with no ports (this kernel has no dummy driver, and the
# kubelet refuses a loopback node IP). There is no uplink and no default route: an address
# outside this namespace is "network unreachable" from everything in it.
ip link set lo up
ip link add node0 type bridge
ip addr add "$NODE_CIDR" dev node0
ip link set node0 up
# Service IPs have no device; this route gets connections to them made in here (forwarders,
# the apiserver, CoreDNS) past routing, to kube-proxy's DNAT.
ip route add "$SERVICE_CIDR" dev node0
# Pod-to-Service replies between two pods on the pod bridge must pass iptables to be un-NATed;
# both are this namespace's own settings.
sysctl -qw net.bridge.bridge-nf-call-iptables=1
sysctl -qw net.ipv4.ip_forward=1

# --- mounts (private to this mount namespace) --------------------------------------------
# A fresh /run for containerd's shim sockets, runc's state, CNI's netns files, the iptables lock.
mount -t tmpfs -o mode=0755,size=256m runlet-node-run /run
# containerd's content store and snapshots in memory: images import quicker, and they vanish
# with the namespace (deleting them from disk took longer than the rest of the teardown).
mkdir -p "$RUN_DIR/containerd/root"
mount -t tmpfs -o mode=0700,size=8g runlet-node-images "$RUN_DIR/containerd/root"
# The kubelet links container logs under /var/log/containers.
mkdir -p "$RUN_DIR/var-log"
mount --bind "$RUN_DIR/var-log" /var/log
# No DNS server outside is reachable: until CoreDNS runs, names fail at once on loopback
# instead of waiting for the host's resolver. The file is rewritten in place later.
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$RUN_DIR/resolv.conf"
mount --bind "$RUN_DIR/resolv.conf" /etc/resolv.conf
{
  cat /etc/hosts
  echo "${NODE_CIDR%/*} node0"
} >"$RUN_DIR/hosts"
mount --bind "$RUN_DIR/hosts" /etc/hosts

# The kubelet sets these kernel-wide tunables when they differ from what it wants (and with
# protectKernelDefaults refuses to start instead). They are not per namespace, so writing them
# would change the shared machine: show the kubelet its values in this mount namespace only.
mkdir -p "$RUN_DIR/sysctl"
while read -r key value; do
  file="/proc/sys/${key//.//}"
  [[ "$(cat "$file")" == "$value" ]] && continue
  echo "$value" >"$RUN_DIR/sysctl/$key"
  mount --bind "$RUN_DIR/sysctl/$key" "$file"
done <<'WANTED'
vm.overcommit_memory 1
vm.panic_on_oom 0
kernel.panic 10
kernel.panic_on_oops 1
kernel.keys.root_maxkeys 1000000
kernel.keys.root_maxbytes 25000000
WANTED
echo "namespace ready: net ${NET} mnt ${MNT}"
