//! The rules of spec §5.2–§5.6 (immutable fields are in `immutable.rs`), one module per
//! stage of [`evaluate`](super::evaluate):
//!
//! - `process`: process and ownership (§5.6): invalid, orphaned, hook and unreadable objects,
//!   released fields, drift, adoption and ownership transfer, renames and namespace moves;
//! - `deletion`: the deletion side (§5.3, also for a replace);
//! - `state`: findings on the after object's state (pod security, RBAC, network policy,
//!   webhooks, budgets, ...), raised when new or worse than before;
//! - `transitions`: before → after of an applied patch (or replace), one function per kind of
//!   object, plus create-time checks;
//! - `helpers`: the value, path, quantity and field-manager helpers they share.

mod deletion;
mod helpers;
mod process;
mod state;
mod transitions;

pub(crate) use deletion::deletion;
pub(crate) use helpers::{fields_of, quantity_cmp, under};
pub(crate) use process::process;
pub(crate) use state::{pdb_against_replicas, secrets_in_plaintext, state};
pub(crate) use transitions::{transitions, vct_change};
