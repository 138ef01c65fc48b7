#!/usr/bin/env bash
# Builds the image of every CAI service (or of the services named as arguments):
#   publish   dotnet publish of each service and of the gRPC health probe (deploy/healthprobe)
#   stage     a build context per service: publish output (hard links), probe, constitutions;
#             libtorch's natives move to one shared context for the torch runtime base image
#   images    <registry>/cai/torch-runtime:<libtorch version> (deploy/Dockerfile.torch), then
#             <registry>/cai/<service>:<tag> (deploy/Dockerfile) on it or on the plain ASP.NET image
# Engine: $CAI_CONTAINER_ENGINE, else podman when installed, else docker.
# Environment: CAI_TAG, CAI_REGISTRY (default from deploy/images.env: localhost/cai/<service>:dev),
#   CAI_DEPLOY_DIR (publish and contexts; default artifacts/deploy, git-ignored),
#   CAI_ARTIFACTS_PATH (MSBuild ArtifactsPath of the build to publish from),
#   CAI_PUBLISH_NO_BUILD=1 (publish what the last `dotnet build -c Release` produced, as CI does).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
here="$root/deploy"
. "$here/images.env"
tag=${CAI_TAG_OVERRIDE:-${CAI_TAG}}
registry=${CAI_REGISTRY_OVERRIDE:-${CAI_REGISTRY}}
work=${CAI_DEPLOY_DIR:-$root/artifacts/deploy}

engine=${CAI_CONTAINER_ENGINE:-}
if [ -z "$engine" ]; then
  if command -v podman >/dev/null 2>&1; then engine=podman; else engine=docker; fi
fi
build_flags=(-q)
if [ "$engine" = podman ]; then
  . "$here/podman-env.sh"
  build_flags+=(--format docker) # keeps HEALTHCHECK (OCI images drop it)
fi

# service name -> project folder under services/
declare -A projects=(
  [generation]=Generation [critique]=Critique [sft]=Sft [labeling]=Labeling
  [preference-model]=PreferenceModel [ppo]=Ppo [orchestrator]=Orchestrator
)
all=(generation critique sft labeling preference-model ppo orchestrator)
services=("$@")
[ ${#services[@]} -eq 0 ] && services=("${all[@]}")
for s in "${services[@]}"; do [ -n "${projects[$s]:-}" ] || { echo "unknown service '$s' (known: ${all[*]})" >&2; exit 2; }; done

publish_flags=(-c Release --nologo -v quiet)
[ -n "${CAI_ARTIFACTS_PATH:-}" ] && publish_flags+=("-p:ArtifactsPath=$CAI_ARTIFACTS_PATH")
service_flags=()
[ "${CAI_PUBLISH_NO_BUILD:-0}" = 1 ] && service_flags+=(--no-build --no-restore)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

t0=$(date +%s)
echo "== publish (${services[*]})"
mkdir -p "$work/publish" "$work/context"
probe_dll="$work/publish/probe/Cai.HealthProbe.dll"
if [ ! -f "$probe_dll" ] || [ -n "$(find "$here/healthprobe" -name '*.cs*' -newer "$probe_dll" -print -quit)" ]; then
  rm -rf "$work/publish/probe"
  dotnet publish "$here/healthprobe/Cai.HealthProbe.csproj" "${publish_flags[@]}" -o "$work/publish/probe"
fi
for s in "${services[@]}"; do
  p=${projects[$s]}
  rm -rf "$work/publish/$s"
  dotnet publish "$root/services/$p/Cai.Services.$p.csproj" "${publish_flags[@]}" "${service_flags[@]}" -o "$work/publish/$s"
done
t1=$(date +%s)

# libtorch's natives: the files of the libtorch package the build restored (version from Directory.Packages.props).
torch_version=$(sed -n 's/.*PackageVersion Include="libtorch-cpu-linux-x64" Version="\([^"]*\)".*/\1/p' "$root/Directory.Packages.props")
torch_pkg="${NUGET_PACKAGES:-$HOME/.nuget/packages}/libtorch-cpu-linux-x64/$torch_version/runtimes/linux-x64/native"
declare -A torch_names=()
if [ -d "$torch_pkg" ]; then
  for f in "$torch_pkg"/*; do torch_names[$(basename "$f")]=1; done
fi

link_tree() { cp -al "$1" "$2" 2>/dev/null || cp -a "$1" "$2"; } # hard links where possible

echo "== stage build contexts"
torch_ctx="$work/context/torch-runtime"
rm -rf "$torch_ctx"
torch_services=()
for s in "${services[@]}"; do
  ctx="$work/context/$s"
  rm -rf "$ctx" && mkdir -p "$ctx"
  link_tree "$work/publish/$s" "$ctx/app"
  # The image's entry point: the service's own launcher (apphost), started without a shell.
  [ -x "$ctx/app/Cai.Services.${projects[$s]}" ] || { echo "$s: no launcher Cai.Services.${projects[$s]} in the publish output" >&2; exit 1; }
  ln -sfn "Cai.Services.${projects[$s]}" "$ctx/app/cai-service"
  link_tree "$work/publish/probe" "$ctx/probe"
  cp -a "$root/constitutions" "$ctx/constitutions"
  # A portable publish carries natives for every platform; the images are linux-x64 only.
  for rid_dir in "$ctx/app/runtimes"/*; do
    case "$(basename "$rid_dir")" in linux-x64|linux|unix) ;; *) rm -rf "$rid_dir" ;; esac
  done
  moved=0
  while IFS= read -r -d '' f; do
    [ -n "${torch_names[$(basename "$f")]:-}" ] || continue
    rel=${f#"$ctx/app/"}
    if [ ! -e "$torch_ctx/torch/$rel" ]; then
      mkdir -p "$(dirname "$torch_ctx/torch/$rel")"
      ln "$f" "$torch_ctx/torch/$rel" 2>/dev/null || cp -a "$f" "$torch_ctx/torch/$rel"
    elif ! [ "$f" -ef "$torch_ctx/torch/$rel" ] && ! cmp -s "$f" "$torch_ctx/torch/$rel"; then
      echo "$s carries a different $rel than the other model services: one torch runtime cannot serve both" >&2; exit 1
    fi
    rm -f "$f"
    moved=$((moved + 1))
  done < <(find "$ctx/app" -type f -print0)
  [ "$moved" -gt 0 ] && torch_services+=("$s")
  echo "   $s: $(du -sh "$ctx/app" | cut -f1) of its own$([ "$moved" -gt 0 ] && echo ", $moved libtorch files on the torch runtime")"
done
t2=$(date +%s)

echo "== images ($engine)"
torch_image="$TORCH_RUNTIME_IMAGE:$torch_version"
if [ ${#torch_services[@]} -gt 0 ]; then
  s0=$(date +%s)
  "$engine" build "${build_flags[@]}" --build-arg "BASE_IMAGE=$ASPNET_IMAGE" --build-arg "TORCH_VERSION=$torch_version" \
    -f "$here/Dockerfile.torch" -t "$torch_image" "$torch_ctx" >/dev/null
  echo "   $torch_image ($(( $(date +%s) - s0 )) s)"
fi
for s in "${services[@]}"; do
  s0=$(date +%s)
  base=$ASPNET_IMAGE
  [[ " ${torch_services[*]} " == *" $s "* ]] && base=$torch_image
  image="$registry/cai/$s:$tag"
  "$engine" build "${build_flags[@]}" --build-arg "BASE_IMAGE=$base" --build-arg "SERVICE=$s" \
    --build-arg "ASSEMBLY=Cai.Services.${projects[$s]}" -f "$here/Dockerfile" -t "$image" "$work/context/$s" >/dev/null
  echo "   $image on ${base##*/} ($(( $(date +%s) - s0 )) s)"
done
t3=$(date +%s)
echo "== build-images: publish $((t1 - t0)) s, stage $((t2 - t1)) s, images $((t3 - t2)) s"
