#!/usr/bin/env bash
# The test command: installs the pinned helm/kubectl the integration tests render with (once;
# idempotent), then runs every test of the workspace.
#
#   scripts/test.sh                 # all tests
#   scripts/test.sh -p thule-core   # extra arguments go to `cargo test`
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/install-tools.sh
export THULE_TOOLS_DIR="${THULE_TOOLS_DIR:-$root/.tools/bin}"
if [ "$#" -eq 0 ]; then
    set -- --workspace
fi
cargo test "$@"
