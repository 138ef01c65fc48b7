#!/usr/bin/env bash
# The offline container test (CI runs it after the unit tests; its failure fails CI):
#   install    podman, runc, debootstrap, fuse-overlayfs, uidmap with apt when missing
#   standins   the registry images, pulled or made locally (deploy/make-standins.sh)
#   images     every service image (deploy/build-images.sh)
#   manifests  `kubectl kustomize deploy/k8s` + DeploymentManifestTests + ContainerModeTests
#   smoke      the real AppHost in containers mode against podman (ContainerSmokeTests):
#              every container healthy, Info from each, critique -> generation across containers,
#              and the `smoke` profile run to "done" once the orchestrator's StartRun is live
#              (CAI_REQUIRE_SMOKE_RUN=1 makes an Unimplemented StartRun a failure)
#   cleanup    containers, networks and mounts of this run (also on failure)
# Environment: CAI_ARTIFACTS_PATH (MSBuild ArtifactsPath of the build to use), CAI_PUBLISH_NO_BUILD=1
# (publish/test what `dotnet build CAI.sln -c Release` already built, as .ci/run does), CAI_PODMAN_HOME.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
phases=()
phase_start=$(date +%s)
script_start=$phase_start
current=""
begin() { current=$1; phase_start=$(date +%s); echo "== [containers] $1"; }
end() { phases+=("$(printf '%-10s %4d s' "$current" $(( $(date +%s) - phase_start )))"); current=""; }

smoke_artifacts="${TMPDIR:-/tmp}/cai-container-smoke-$$"
summary() {
  local status=$?
  [ -n "$current" ] && phases+=("$(printf '%-10s %4d s (failed here)' "$current" $(( $(date +%s) - phase_start )))")
  cleanup || true
  echo "== [containers] time per phase"
  for p in "${phases[@]}"; do echo "   $p"; done
  echo "   total      $(( $(date +%s) - script_start )) s (exit $status)"
  exit "$status"
}
cleanup() {
  # Never without this project's own storage: `podman rm -af` must not reach anyone else's containers.
  [ "${CONTAINERS_STORAGE_CONF:-}" = "${CAI_PODMAN_HOME:-/var/tmp/cai-podman}/storage.conf" ] || return 0
  command -v podman >/dev/null 2>&1 || return 0
  # Only this project's podman storage (CONTAINERS_STORAGE_CONF): other podman users are untouched.
  local left
  left=$(podman ps -aq 2>/dev/null | wc -l)
  if [ "$left" -gt 0 ]; then
    echo "   removing $left leftover container(s)"
    podman rm -af -t 5 >/dev/null 2>&1 || true
  fi
  podman network ls -q 2>/dev/null | grep -v '^podman$' | xargs -r podman network rm -f >/dev/null 2>&1 || true
  podman unmount -a >/dev/null 2>&1 || true
  # Nothing may stay mounted below the clone or the test's artifacts (rm -rf must work).
  findmnt -rn -o TARGET 2>/dev/null | { grep -E "^($root|$smoke_artifacts)(/|$)" || true; } | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$smoke_artifacts" 2>/dev/null || true
}
trap summary EXIT

begin install
missing=()
for tool in podman runc debootstrap fuse-overlayfs newuidmap; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "   installing (missing: ${missing[*]})"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq podman runc debootstrap fuse-overlayfs uidmap >/dev/null
fi
. deploy/podman-env.sh
podman --version
end

begin standins
deploy/make-standins.sh
end

begin images
deploy/build-images.sh
end

test_flags=(-c Release --nologo)
[ -n "${CAI_ARTIFACTS_PATH:-}" ] && test_flags+=("-p:ArtifactsPath=$CAI_ARTIFACTS_PATH")
[ "${CAI_PUBLISH_NO_BUILD:-0}" = 1 ] && test_flags+=(--no-build)

begin manifests
kubectl kustomize deploy/k8s > /dev/null
echo "   kubectl kustomize deploy/k8s: $(kubectl kustomize deploy/k8s | grep -c '^kind:') resources"
log="$smoke_artifacts-manifests.log"
if ! dotnet test tests/Cai.AppHost.Tests "${test_flags[@]}" \
    --filter "FullyQualifiedName~DeploymentManifestTests|FullyQualifiedName~ContainerModeTests" > "$log" 2>&1; then
  tail -60 "$log"; exit 1
fi
grep -E 'Passed!|Failed!' "$log" || true
rm -f "$log"
test_flags+=(--no-build) # built now in any case
end

begin smoke
mkdir -p "$smoke_artifacts"
log="$smoke_artifacts.log"
set +e
CAI_CONTAINER_TESTS=1 CAI_CONTAINER_ARTIFACTS="$smoke_artifacts/runs" \
  dotnet test tests/Cai.AppHost.Tests "${test_flags[@]}" --filter "FullyQualifiedName~ContainerSmokeTests" \
  --logger "console;verbosity=detailed" > "$log" 2>&1
status=$?
set -e
# The tests' own lines (timings, stages), not the containers' logs.
grep -E '^\s+(Passed|Failed|Skipped) |^ (containers healthy|[a-z-]+: container|CritiqueRevise|SMOKE RUN|run |  stage |[ 0-9.]+ s  )|Error Message|Assert\.|Total tests|Passed:|Failed:' "$log" || true
if [ "$status" != 0 ]; then
  echo "   smoke tests failed; last lines of $log:"
  tail -80 "$log"
  exit "$status"
fi
rm -f "$log"
end
