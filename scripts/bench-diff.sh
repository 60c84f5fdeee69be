#!/usr/bin/env bash
# Whole-process timing of `thule diff` against `diff -u` on the same two files (issue 4).
#
#   scripts/bench-diff.sh                  # the shared fleet pair
#   scripts/bench-diff.sh BASE MODIFIED    # any pair of YAML files
#   RUNS=31 scripts/bench-diff.sh
#
# Builds the release binary, then runs each command RUNS times (default 21), alternating
# between them in rounds so that machine load affects all alike, and prints the medians and
# the ratio to `diff -u`. The 10,000-object pair of the criterion benchmark is written out
# with `THULE_BENCH_OUT=DIR cargo bench -p thule-benches --bench diff -- none`.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
runs="${RUNS:-21}"
target="${CARGO_TARGET_DIR:-$root/target}"

cd "$root"
cargo build --release -q -p thule-cli
bin="$target/release/thule"

if [[ $# -ge 2 ]]; then
    base="$1"
    modified="$2"
else
    shared="${THULE_BENCH_DIR:-$root/../shared/bench}"
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    gzip -dc "$shared/fleet-base.yaml.gz" >"$tmp/fleet-base.yaml"
    gzip -dc "$shared/fleet-modified.yaml.gz" >"$tmp/fleet-modified.yaml"
    base="$tmp/fleet-base.yaml"
    modified="$tmp/fleet-modified.yaml"
fi

python3 - "$bin" "$base" "$modified" "$runs" <<'PY'
import statistics, subprocess, sys, time

thule, base, modified, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
commands = {
    "diff -u": ["diff", "-u", base, modified],
    "thule diff (text)": [thule, "diff", "--base", base, "--desired", modified, "--format", "text"],
    "thule diff (json)": [thule, "diff", "--base", base, "--desired", modified, "--format", "json"],
    "thule diff (markdown)": [thule, "diff", "--base", base, "--desired", modified, "--format", "markdown"],
}
times = {name: [] for name in commands}
for _ in range(runs):
    for name, cmd in commands.items():
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times[name].append((time.perf_counter() - start) * 1000)
reference = statistics.median(times["diff -u"])
print(f"{base} -> {modified}, {runs} runs each, medians:")
for name, values in times.items():
    median = statistics.median(values)
    print(f"  {name:22s} {median:8.2f} ms   {median / reference:5.2f}x diff -u")
PY
