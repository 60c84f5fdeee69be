//! Objects whose values are ciphertext in git (spec §6.2 rules 8 and 9).
//!
//! - **SOPS**: a document with a top-level `sops` block is decrypted by the applier (Flux's
//!   kustomize-controller), so what the cluster holds is plaintext and comparing it with the
//!   ciphertext in git would say nothing. Such an object is compared with its base-side
//!   version, key by key on the ciphertext: changed, added and removed keys, never a value.
//!   SOPS writes a fresh IV per value, so a changed ciphertext means "re-encrypted, possibly
//!   changed". `sops.lastmodified` and `sops.mac` change on every edit and are ignored.
//!   Nothing is decrypted.
//! - **SealedSecret** (`bitnami.com`): the live object holds the same ciphertext as git, so it
//!   takes the ordinary path; its `spec.encryptedData` values are masked like Secret values
//!   ([`crate::redact`]) and a change there is noted as compared by ciphertext.

use serde_json::Value;
use thule_core::cluster::LiveOutcome;

use super::{Inputs, Sides, finish, predict};
use crate::engine::draft::Draft;
use crate::merge::compare;
use crate::normalize::is_sops;
use crate::path::Seg;
use crate::plan::{Action, ChangeOrigin, Detail};

/// The note on objects compared by SOPS ciphertext.
pub(super) const SOPS_NOTE: &str = "encrypted with SOPS: compared by ciphertext";
/// The note on SealedSecrets whose encrypted data changes.
pub(super) const SEALED_NOTE: &str = "sealed with Sealed Secrets: compared by ciphertext";

/// Whether this key's desired (or base) render is SOPS-encrypted.
pub(super) fn sops(inputs: &Inputs<'_>) -> bool {
    inputs
        .desired
        .or(inputs.base)
        .is_some_and(|m| is_sops(&m.object))
}

/// The SOPS fields that change on every edit, whatever changed.
fn strip_sops_bookkeeping(v: &mut Value) {
    if let Some(Value::Object(sops)) = v.get_mut("sops") {
        sops.remove("lastmodified");
        sops.remove("mac");
    }
}

/// A SOPS-encrypted object: created when the cluster lacks it, else compared with the base
/// render by ciphertext; live state is never compared.
pub(super) fn sops_by_ciphertext(
    inputs: &Inputs<'_>,
    mut sides: Sides<Value>,
    mut draft: Draft,
) -> Draft {
    draft.encrypted = true;
    draft.state_live = false;
    // Live state is plaintext: nothing downstream may compare it with the ciphertext.
    sides.live = None;
    if inputs.same_render {
        // Base and desired hold the same document: normalized once, and nothing changes.
        sides.base.clone_from(&sides.desired);
    }
    for v in [&mut sides.base, &mut sides.desired].into_iter().flatten() {
        strip_sops_bookkeeping(v);
    }
    let Some(desired) = sides.desired.clone() else {
        return finish(inputs, sides, draft);
    };
    let absent = matches!(inputs.outcome, Some(LiveOutcome::Absent));
    match &sides.base {
        _ if absent => {
            let origin = match &sides.base {
                None => ChangeOrigin::Mr,
                Some(b) if compare(inputs.kind, b, &desired).0.is_empty() => ChangeOrigin::Drift,
                Some(_) => ChangeOrigin::Both,
            };
            draft.create(inputs.kind, &desired, origin);
            draft.notes.push(SOPS_NOTE.to_owned());
        }
        None if inputs.outcome.is_none() => {
            draft.create(inputs.kind, &desired, ChangeOrigin::Mr);
            draft.notes.push(SOPS_NOTE.to_owned());
        }
        None => {
            draft.detail = Some(Detail::Unknown);
            draft.notes.push(format!(
                "{SOPS_NOTE}; there is no base version to compare with (the cluster holds the plaintext)"
            ));
        }
        Some(b) => {
            let (changes, notes) = compare(inputs.kind, b, &desired);
            let c = predict::Computed::direct(changes, notes.format_only);
            predict::finish_patch(&mut draft, inputs.kind, c, b, &desired, None);
            if draft.action != Action::Noop {
                draft.notes.push(SOPS_NOTE.to_owned());
            }
        }
    }
    finish(inputs, sides, draft)
}

/// Whether a change is to a SealedSecret's encrypted data.
pub(super) fn sealed_change(kind: crate::schema::Kind<'_>, path: &[Seg]) -> bool {
    kind.group == "bitnami.com"
        && kind.kind == "SealedSecret"
        && matches!(path, [Seg::Field(a), Seg::Field(b), ..] if a == "spec" && b == "encryptedData")
}
