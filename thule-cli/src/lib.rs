//! # thule-cli
//!
//! The `thule` binary's commands and the planning pipeline they share with the webhook
//! service and with embedders.
//!
//! - [`pipeline`]: the one composition of thule's library crates (discover, render, read
//!   live, diff, assess, report). No clap, no stdout/stderr, no environment reads.
//! - [`cmd`]: one module per subcommand, each with its clap `Args` and a `run` function
//!   returning the exit code: flags in, pipeline or library call, printing out.
//! - [`git`]: revisions, changed paths and trees of a merge request, through the user's git.
//! - [`workspace`]: a service's clone cache and per-run checkouts of a merge request.
//! - `serve` (feature `serve`, on by default): the webhook service, `thule serve`: intake,
//!   the durable queue and the worker pool that calls a [`serve::JobRunner`].

pub mod cmd;
pub mod git;
pub mod pipeline;
#[cfg(feature = "serve")]
pub mod serve;
pub mod workspace;
