# Sourced by deploy/*.sh: a podman set-up that works in this kind of sandbox, kept apart from any other
# podman user on the machine. Storage lives outside the clone (so `rm -rf` of a clone never meets an
# overlay mount) and survives between runs on the same machine, which is what makes a second run fast.
#   CAI_PODMAN_HOME   storage, configuration and caches (default /var/tmp/cai-podman)
# Exports CONTAINERS_CONF, CONTAINERS_STORAGE_CONF and ASPIRE_CONTAINER_RUNTIME=podman for DCP.

CAI_PODMAN_HOME=${CAI_PODMAN_HOME:-/var/tmp/cai-podman}
mkdir -p "$CAI_PODMAN_HOME"
CAI_PODMAN_RUNROOT=${CAI_PODMAN_RUNROOT:-/run/cai-podman}

# The sandbox forbids raising rlimits (podman's default nofile/nproc would) and crun refuses the hybrid
# cgroup layout: fixed ulimits and runc make `podman run` work here; both are harmless elsewhere.
if [ ! -f "$CAI_PODMAN_HOME/containers.conf" ]; then
  cat > "$CAI_PODMAN_HOME/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
fi
if [ ! -f "$CAI_PODMAN_HOME/storage.conf" ]; then
  driver=overlay
  # fuse-overlayfs when the kernel refuses native overlay mounts (nested containers).
  options=""
  if [ -x /usr/bin/fuse-overlayfs ] && [ "${CAI_PODMAN_FUSE:-0}" = 1 ]; then
    options='mount_program = "/usr/bin/fuse-overlayfs"'
  fi
  cat > "$CAI_PODMAN_HOME/storage.conf" <<CONF
[storage]
driver = "$driver"
graphroot = "$CAI_PODMAN_HOME/storage"
runroot = "$CAI_PODMAN_RUNROOT"
[storage.options.overlay]
$options
CONF
fi
export CONTAINERS_CONF="$CAI_PODMAN_HOME/containers.conf"
export CONTAINERS_STORAGE_CONF="$CAI_PODMAN_HOME/storage.conf"
export ASPIRE_CONTAINER_RUNTIME=podman
