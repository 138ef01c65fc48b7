#!/usr/bin/env bash
# Makes the registry images the project needs available to podman, offline when need be:
#   mcr.microsoft.com/dotnet/aspnet:10.0  pulled, else a stand-in from this machine's .NET runtime
#   the Redis image Aspire asks for       pulled, else a stand-in from Debian's redis-server
# Stand-ins sit on a debootstrapped Debian base (localhost/cai/debian:bookworm). Images that already
# exist are kept (a second run costs seconds); CAI_STANDINS_REBUILD=1 rebuilds the stand-ins.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/images.env"
. "$here/podman-env.sh"

rebuild=${CAI_STANDINS_REBUILD:-0}
have() { [ "$rebuild" != 1 ] && podman image exists "$1"; }
reachable() { # $1: registry host; true when its v2 API answers within 5 s
  command -v curl >/dev/null 2>&1 && curl -s -o /dev/null --max-time 5 "https://$1/v2/"
}
try_pull() { # $1: image; pulls only from a registry that answers
  local host=${1%%/*}
  reachable "$host" && timeout 300 podman pull -q "$1" >/dev/null 2>&1
}

debian_mirror() { # the Debian mirror apt uses on this machine
  local uri
  uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | grep -m1 -E 'debian/?( |$)' | awk '{ print $2 }')
  echo "${uri:-http://deb.debian.org/debian}"
}

ensure_debian_base() {
  have "$DEBIAN_BASE_IMAGE" && return 0
  echo "   debootstrap bookworm (minbase) -> $DEBIAN_BASE_IMAGE"
  command -v debootstrap >/dev/null || { echo "debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
  local rootfs="$CAI_PODMAN_HOME/debootstrap"
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" "$(debian_mirror)" > "$CAI_PODMAN_HOME/debootstrap.log" 2>&1 \
    || { tail -20 "$CAI_PODMAN_HOME/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import -q - "$DEBIAN_BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

ensure_aspnet() {
  have "$ASPNET_IMAGE" && return 0
  if [ "$rebuild" != 1 ] && try_pull "$ASPNET_IMAGE"; then echo "   pulled $ASPNET_IMAGE"; return 0; fi
  ensure_debian_base
  local dotnet_root ctx="$CAI_PODMAN_HOME/ctx-aspnet"
  dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
  echo "   stand-in $ASPNET_IMAGE from $dotnet_root (runtimes: $(ls "$dotnet_root/shared/Microsoft.AspNetCore.App" | tr '\n' ' '))"
  rm -rf "$ctx" && mkdir -p "$ctx/dotnet"
  # Hard links where the file system allows (no 400 MB copy), copies otherwise.
  for part in dotnet host shared LICENSE.txt ThirdPartyNotices.txt; do
    [ -e "$dotnet_root/$part" ] || continue
    cp -al "$dotnet_root/$part" "$ctx/dotnet/" 2>/dev/null || cp -a "$dotnet_root/$part" "$ctx/dotnet/"
  done
  podman build -q --format docker --build-arg "DEBIAN_BASE_IMAGE=$DEBIAN_BASE_IMAGE" \
    -f "$here/standins/Dockerfile.aspnet" -t "$ASPNET_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
}

ensure_redis() {
  have "$REDIS_IMAGE" && return 0
  if [ "$rebuild" != 1 ] && try_pull "$REDIS_IMAGE"; then echo "   pulled $REDIS_IMAGE"; return 0; fi
  ensure_debian_base
  echo "   stand-in $REDIS_IMAGE from Debian's redis-server"
  podman build -q --format docker --build-arg "DEBIAN_BASE_IMAGE=$DEBIAN_BASE_IMAGE" \
    -f "$here/standins/Dockerfile.redis" -t "$REDIS_IMAGE" "$here/standins" >/dev/null
}

ensure_aspnet
ensure_redis
podman images --format '   {{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "dotnet/aspnet|redis|cai/debian" || true
