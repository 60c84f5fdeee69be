#!/usr/bin/env bash
# Wall time of `thule plan` next to the raw helm/kustomize invocations it needs, run in
# parallel (xargs -P <cores>), on the bundled example and on a generated repository of 100
# projects (50 kustomize overlays of a shared base, 50 releases of a shared local chart).
# Prints medians of RUNS runs (default 7) and the ratio thule / raw-parallel.
#
#   scripts/bench-plan.sh            # needs scripts/install-tools.sh
#   RUNS=11 scripts/bench-plan.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
runs="${RUNS:-7}"
tools="${THULE_TOOLS_DIR:-$root/.tools/bin}"
jobs="$(nproc)"
[ -x "$tools/helm" ] || { echo "run scripts/install-tools.sh first" >&2; exit 1; }

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/thule-target}"
cargo build -q --release -p thule-cli
thule="$CARGO_TARGET_DIR/release/thule"
export THULE_TOOLS_DIR="$tools" THULE_NO_PROGRESS=1

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# median_ms CMD...: run CMD $runs times, print the median wall time in milliseconds.
median_ms() {
    python3 - "$runs" "$@" <<'PY'
import statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
times = []
for _ in range(runs):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
    if r.returncode not in (0, 1):
        sys.exit(f"{cmd[0]} failed with {r.returncode}")
print(f"{statistics.median(times):.1f}")
PY
}

# The raw invocations for one side of the example: what thule runs for it.
example_invocations() {
    local repo="$1"
    echo "$tools/kubectl kustomize $repo/apps/shop/overlays/staging"
    echo "$tools/kubectl kustomize $repo/apps/shop/overlays/prod"
    echo "$tools/helm template web $repo/charts/web --namespace web --values $repo/apps/web/values-prod.yaml"
}

# Generated repository: 100 projects.
gen="$work/repo"
mkdir -p "$gen/base" "$gen/charts/app/templates"
cat >"$gen/base/kustomization.yaml" <<'EOF'
resources: [deployment.yaml, service.yaml]
configMapGenerator:
  - name: config
    literals: [LOG_LEVEL=info]
EOF
cat >"$gen/base/deployment.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      containers:
        - name: app
          image: registry.example.com/app:1.0.0
          envFrom: [{configMapRef: {name: config}}]
EOF
cat >"$gen/base/service.yaml" <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: app}
spec: {selector: {app: app}, ports: [{port: 80}]}
EOF
cat >"$gen/charts/app/Chart.yaml" <<'EOF'
apiVersion: v2
name: app
version: 0.1.0
EOF
cat >"$gen/charts/app/values.yaml" <<'EOF'
replicas: 1
EOF
cat >"$gen/charts/app/templates/all.yaml" <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: {{ .Release.Name }}}
spec:
  replicas: {{ .Values.replicas }}
  selector: {matchLabels: {app: {{ .Release.Name }}}}
  template:
    metadata: {labels: {app: {{ .Release.Name }}}}
    spec: {containers: [{name: app, image: "registry.example.com/app:1.0.0"}]}
---
apiVersion: v1
kind: Service
metadata: {name: {{ .Release.Name }}}
spec: {selector: {app: {{ .Release.Name }}}, ports: [{port: 80}]}
EOF
: >"$work/raw-gen.txt"
for i in $(seq -w 1 50); do
    d="$gen/overlays/k$i"
    mkdir -p "$d"
    printf 'version: v1\nproject: k%s\nnamespace: k%s\nrender:\n  mode: kustomize\n' "$i" "$i" >"$d/thule.yaml"
    printf 'namespace: k%s\nnamePrefix: k%s-\nresources: [../../base]\n' "$i" "$i" >"$d/kustomization.yaml"
    echo "$tools/kubectl kustomize $d" >>"$work/raw-gen.txt"
    d="$gen/releases/h$i"
    mkdir -p "$d"
    printf 'version: v1\nproject: h%s\nnamespace: h%s\nrender:\n  mode: helm\n  helm:\n    chart: ../../charts/app\n    valuesFiles: [values.yaml]\n' "$i" "$i" >"$d/thule.yaml"
    printf 'replicas: 2\n' >"$d/values.yaml"
    echo "$tools/helm template h$i $gen/charts/app --namespace h$i --values $d/values.yaml" >>"$work/raw-gen.txt"
done

{ example_invocations "$root/examples/gitops"; example_invocations "$root/examples/gitops-base"; } >"$work/raw-example.txt"

raw() { median_ms bash -c "xargs -P $jobs -I{} sh -c '{} >/dev/null' <'$1'"; }
raw_seq() { median_ms bash -c "while read -r c; do \$c >/dev/null; done <'$1'"; }

echo "thule plan benchmark: median of $runs runs, $jobs cores"
ex_thule=$(median_ms "$thule" plan --repo examples/gitops --base-path examples/gitops-base --live examples/snapshots)
ex_raw=$(raw "$work/raw-example.txt")
ex_seq=$(raw_seq "$work/raw-example.txt")
gen_thule=$(median_ms "$thule" plan --repo "$gen" --changed base/deployment.yaml --changed charts/app/values.yaml --format json)
gen_raw=$(raw "$work/raw-gen.txt")
gen_seq=$(raw_seq "$work/raw-gen.txt")
python3 - "$ex_thule" "$ex_raw" "$ex_seq" "$gen_thule" "$gen_raw" "$gen_seq" <<'PY'
import sys
et, er, es, gt, gr, gs = map(float, sys.argv[1:])
print(f"{'':28}{'thule plan':>12}{'raw parallel':>14}{'raw sequential':>16}{'thule/raw par':>15}")
print(f"{'example (6 renders)':28}{et:>10.1f}ms{er:>12.1f}ms{es:>14.1f}ms{et/er:>14.2f}x")
print(f"{'generated (100 renders)':28}{gt:>10.1f}ms{gr:>12.1f}ms{gs:>14.1f}ms{gt/gr:>14.2f}x")
PY
