//! An object's plan between the decision and the views: the action and raw, unredacted
//! changes, plus the documents the views are rendered from.

use serde_json::Value;
use thule_core::ObjectKey;
use thule_core::config::Applier;

use super::options::DiffOptions;
use crate::merge::{RawChange, additions};
use crate::plan::{Action, ApplierSource, ChangeOrigin, Detail, ObjectState};
use crate::schema::Kind;

/// An object's plan before rendering: raw changes, unredacted.
pub(super) struct Draft {
    pub(super) key: ObjectKey,
    pub(super) api_version: String,
    pub(super) applier: Applier,
    pub(super) applier_source: ApplierSource,
    pub(super) action: Action,
    pub(super) detail: Option<Detail>,
    pub(super) origin: ChangeOrigin,
    pub(super) source: Option<String>,
    pub(super) changes: Vec<(RawChange, ChangeOrigin, Option<String>)>,
    pub(super) notes: Vec<String>,
    pub(super) before_doc: Option<Value>,
    pub(super) after_doc: Option<Value>,
    /// Whether `before_doc` and `after_doc` are wanted ([`DiffOptions::views`]).
    pub(super) views: bool,
    /// The before side is live state (else the base render).
    pub(super) state_live: bool,
    /// The values are ciphertext (SOPS): no fingerprints.
    pub(super) encrypted: bool,
    pub(super) state: ObjectState,
}

impl Draft {
    /// Keep copies of the two sides for the text diff and patch views (when they are on).
    pub(super) fn set_docs(&mut self, before: Option<&Value>, after: Option<&Value>) {
        if self.views {
            self.before_doc = before.cloned();
            self.after_doc = after.cloned();
        }
    }

    /// Whether the plan lists this object (no-ops only when asked, or when they say something).
    pub(super) fn listed(&self, opts: &DiffOptions) -> bool {
        opts.include_noop
            || self.action != Action::Noop
            || self.detail.is_some()
            || !self.notes.is_empty()
    }

    /// The applier creates `desired`: every field is an addition of this origin.
    pub(super) fn create(&mut self, kind: Kind<'_>, desired: &Value, origin: ChangeOrigin) {
        self.action = Action::Create;
        self.set_docs(None, Some(desired));
        self.origin = origin;
        self.changes = additions(kind, desired)
            .into_iter()
            .map(|c| (c, origin, None))
            .collect();
    }
}
