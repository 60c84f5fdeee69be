//! Integration tests of thule-render with the real helm and kubectl binaries.
//!
//! One test binary (one link) with a module per area. The tools come from
//! `scripts/install-tools.sh` (`<workspace>/.tools/bin`, or `THULE_TOOLS_DIR`); without them
//! every test here fails with a message saying how to install them.

mod support;

mod batch;
mod cancel;
mod helm;
mod kustomize;
mod plain;
