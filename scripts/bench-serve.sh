#!/usr/bin/env bash
# Load on `thule serve`'s intake (signed deliveries on 127.0.0.1 at a steady rate, 10%
# repeated), then the event-to-comment latency of one merge request next to
# `thule plan --publish` by hand. A benchmark, not a test: it prints figures.
#
#   scripts/bench-serve.sh [RATE] [SECONDS]     # default 200 deliveries/s for 60 s
#
# Everything stays on this machine: the service, the load generator and the fake GitHub all
# listen on 127.0.0.1, and the run ends by itself.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/install-tools.sh
export THULE_TOOLS_DIR="${THULE_TOOLS_DIR:-$root/.tools/bin}"
cargo build --release -q -p thule-cli --bin thule
cargo run --release -q -p thule-cli --example serve_load -- "${1:-200}" "${2:-60}"
