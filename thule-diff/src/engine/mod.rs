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

use thule_core::ObjectKey;
use thule_core::config::Applier;
use thule_core::object::{canonical_group, group_of};

use crate::path::Path;
use crate::plan::{ApplierCount, ApplierSource, PLAN_SCHEMA, Plan, Summary};
use crate::redact::Redactor;
use keys::Indexed;
use views::Masked;

pub use options::{DiffError, DiffInput, DiffOptions, FingerprintKey};

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
    let mut indexed = Indexed::new(input, checked_ignores(opts)?);
    // Objects byte-identical in both renders and never parsed are no-ops with nothing to
    // compute: they stay out of the per-object passes (and their thread counts).
    let keys = indexed.canonical_keys();
    let unchanged = std::mem::take(&mut indexed.unchanged);
    let (mut summary, mut appliers, masked, redactor) = plan_and_mask(&indexed, keys);
    let (applier, source) = match opts.applier {
        Some(a) => (a, ApplierSource::Configured),
        None => (Applier::Flux, ApplierSource::Default),
    };
    summary.noop += unchanged.len() + input.identical_skipped;
    count_applier(
        &mut appliers,
        applier,
        source,
        unchanged.len() + input.identical_skipped,
    );
    // Pass 2: render the views and scrub every text with the complete taint set.
    let threads = crate::par::threads_for(opts.threads, masked.len(), PARALLEL_MIN_LISTED);
    let (mut objects, _) = crate::par::map_with(
        masked,
        threads,
        || (),
        |(), m| views::render_object(m, &redactor, opts),
    );
    if opts.include_noop && !unchanged.is_empty() {
        objects = keys::merge_canonical(
            objects,
            unchanged,
            |o| &o.key,
            |q| &q.key,
            |q| views::unchanged_object(q.key, q.unchanged, (applier, source), &redactor),
        );
    }
    Ok(Plan {
        schema: PLAN_SCHEMA,
        objects,
        summary,
        appliers,
        redactor,
    })
}

/// Add `n` objects decided by `applier` (from `source`) to the counts, kept in order.
fn count_applier(
    appliers: &mut Vec<ApplierCount>,
    applier: Applier,
    source: ApplierSource,
    n: usize,
) {
    if n == 0 {
        return;
    }
    match appliers
        .iter_mut()
        .find(|c| c.applier == applier && c.source == source)
    {
        Some(c) => c.objects += n,
        None => appliers.push(ApplierCount {
            applier,
            source,
            objects: n,
        }),
    }
    appliers.sort_by(|a, b| (a.applier.name(), a.source).cmp(&(b.applier.name(), b.source)));
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
/// counts, the appliers, the listed objects and the complete taint set.
fn plan_and_mask(
    indexed: &Indexed<'_>,
    keys: Vec<ObjectKey>,
) -> (Summary, Vec<ApplierCount>, Vec<Masked>, Redactor) {
    let input = indexed.input;
    let opts = input.options;
    let threads = crate::par::threads_for(opts.threads, keys.len(), PARALLEL_MIN_OBJECTS);
    let (planned, redactors) =
        crate::par::map_with(keys, threads, Redactor::new, |redactor, key| {
            let draft = decide::plan_key(&key, indexed, redactor);
            let counted = (draft.action, draft.applier, draft.applier_source);
            let listed = draft
                .listed(opts)
                .then(|| views::mask_draft(draft, redactor, opts));
            (counted, listed)
        });
    let mut redactor = Redactor::new();
    for r in redactors {
        redactor.absorb(r);
    }
    redactor.finish();
    let mut summary = Summary::default();
    let mut appliers: Vec<ApplierCount> = Vec::new();
    let mut masked = Vec::new();
    for ((action, applier, source), m) in planned {
        summary.count(action);
        count_applier(&mut appliers, applier, source, 1);
        masked.extend(m);
    }
    (summary, appliers, masked, redactor)
}

/// The identity group of an `apiVersion`/kind pair (aliases collapsed).
pub fn identity_group(api_version: &str, kind: &str) -> String {
    canonical_group(group_of(api_version), kind).to_owned()
}
