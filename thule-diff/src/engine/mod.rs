//! The pipeline of spec §2.2: per key, normalize `D0`, `D1`, `L`, predict `P`, compare, tag
//! origins, decide the action; then redact and render the per-object views.
//!
//! Its parts, in the order a diff runs them:
//! - `options`: what the caller passes ([`DiffOptions`], [`DiffInput`]) and [`DiffError`].
//! - `keys`: scope resolution, both renders grouped by resolved key, the canonical order.
//! - `decide`: one key's action, as a sequence of named steps (pass 1).
//! - `views`: masking (pass 1), then the text diff, JSON patch and scrubbing (pass 2).
//!
//! `draft` is the object plan handed from the decision to the views.

mod decide;
mod draft;
mod keys;
mod options;
mod views;

use thule_core::object::{canonical_group, group_of};

use crate::path::Path;
use crate::plan::{PLAN_SCHEMA, Plan, Summary};
use crate::redact::Redactor;
use keys::Indexed;
use views::Masked;

pub use options::{DiffError, DiffInput, DiffOptions};

/// Below this many objects the per-object pass stays on the calling thread.
const PARALLEL_MIN_OBJECTS: usize = 256;
/// Below this many listed objects the rendering pass stays on the calling thread.
const PARALLEL_MIN_LISTED: usize = 64;

/// Run the diff (see the crate docs).
///
/// # Errors
/// Only for unusable options ([`DiffError`]); problems of single objects are plan entries.
pub fn diff(input: &DiffInput<'_>) -> Result<Plan, DiffError> {
    let opts = input.options;
    let indexed = Indexed::new(input, checked_ignores(opts)?);
    let (summary, masked, redactor) = plan_and_mask(&indexed);
    // Pass 2: render the views and scrub every text with the complete taint set.
    let threads = crate::par::threads_for(opts.threads, masked.len(), PARALLEL_MIN_LISTED);
    let (objects, _) = crate::par::map_with(
        masked,
        threads,
        || (),
        |(), m| views::render_object(m, &redactor, opts),
    );
    Ok(Plan {
        schema: PLAN_SCHEMA,
        objects,
        summary,
        redactor,
    })
}

/// The ignore rules' pointers checked and the ignored field paths parsed.
fn checked_ignores(opts: &DiffOptions) -> Result<Vec<Path>, DiffError> {
    for (index, rule) in opts.ignore.iter().enumerate() {
        for p in &rule.json_pointers {
            if !p.starts_with('/') {
                return Err(DiffError::IgnorePointer {
                    index,
                    pointer: p.clone(),
                });
            }
        }
    }
    opts.ignore_paths
        .iter()
        .map(|p| crate::path::parse(p))
        .collect::<Result<Vec<Path>, String>>()
        .map_err(DiffError::IgnorePath)
}

/// Pass 1 per object: plan it; for listed objects, mask sensitive values (adding them to
/// the taint set). Objects are independent, so large inputs run on a few threads (`par`
/// keeps the input order, and the taint set is a set: the output is the same). Returns the
/// counts, the listed objects and the complete taint set.
fn plan_and_mask(indexed: &Indexed<'_>) -> (Summary, Vec<Masked>, Redactor) {
    let input = indexed.input;
    let opts = input.options;
    let keys = indexed.canonical_keys();
    let threads = crate::par::threads_for(opts.threads, keys.len(), PARALLEL_MIN_OBJECTS);
    let (planned, redactors) =
        crate::par::map_with(keys, threads, Redactor::new, |redactor, key| {
            let draft = decide::plan_key(&key, indexed, redactor);
            let action = draft.action;
            let listed = draft
                .listed(opts)
                .then(|| views::mask_draft(draft, redactor));
            (action, listed)
        });
    let mut redactor = Redactor::new();
    for r in redactors {
        redactor.absorb(r);
    }
    redactor.finish();
    let mut summary = Summary {
        noop: input.identical_skipped,
        ..Summary::default()
    };
    let mut masked = Vec::new();
    for (action, m) in planned {
        summary.count(action);
        masked.extend(m);
    }
    (summary, masked, redactor)
}

/// The identity group of an `apiVersion`/kind pair (aliases collapsed).
pub fn identity_group(api_version: &str, kind: &str) -> String {
    canonical_group(group_of(api_version), kind).to_owned()
}
