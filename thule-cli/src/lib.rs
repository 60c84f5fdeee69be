//! # thule-cli
//!
//! The reference composition of thule's library crates, and the `thule` binary's commands.
//! `main.rs` only parses arguments and maps results to exit codes; everything it runs is here,
//! so embedders can call the same functions.
//!
//! - [`cmd`]: one module per subcommand (`diff`, `schema`, `validate`), each with its clap
//!   `Args` and a `run` function returning the exit code.
//! - [`git`]: revisions, changed paths and trees of a merge request, through the user's git.

pub mod cmd;
pub mod git;
pub mod plan;
