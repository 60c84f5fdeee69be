//! End-to-end tests of the `thule` binary: the bundled example, git revisions, failures,
//! splitting, determinism and secret safety. They render with the real helm and kubectl that
//! `scripts/install-tools.sh` installs (found through `THULE_TOOLS_DIR` or `.tools/bin`).

mod commands;
#[path = "../../../thule-kube/tests/it/support.rs"]
#[allow(dead_code)]
mod kube_server;
mod loopback;
mod pipeline;
mod plan;
mod support;
