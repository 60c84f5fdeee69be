//! End-to-end tests of the `thule` binary: the bundled example, git revisions, failures,
//! splitting, determinism and secret safety. They render with the real helm and kubectl that
//! `scripts/install-tools.sh` installs (found through `THULE_TOOLS_DIR` or `.tools/bin`).

mod ci_files;
mod commands;
mod loopback;
mod mr;
mod ownership;
mod pipeline;
mod plan;
mod publish;
mod support;
mod workspace;
