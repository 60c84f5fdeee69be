//! The risk pass (spec §5): data-driven rules over a finished [`Plan`].
//!
//! ## The seam
//! [`diff`](crate::diff) decides actions and changes and leaves `risks` empty. [`assess`] then
//! reads each [`ObjectPlan`]'s engine state ([`ObjectState`]: `n0`, `n1`, `nl`, `P`, removed
//! and released paths, apply mode) and its keyed [`Change`](crate::Change)s, and
//! - pushes [`Risk`]s onto the object, most severe first;
//! - turns a patch that touches an immutable path into `patch`/`rejected`, or into
//!   [`Action::Replace`] when force is enabled (and moves the object from `patch` to `replace`
//!   in the plan summary);
//! - adds a note when a switched-off rule would have flagged the object.
//!
//! Every message is passed through [`Plan::scrub`] before it is stored.
//!
//! ## Rules are data
//! [`RULES`] lists every flag id with its default severity, category and a one-line
//! description; `docs/risk-rules.md` is generated from it ([`rules_markdown`]). A project can
//! change a rule's severity or switch it off (`policy.rules.<ID>` in `thule.yaml`,
//! [`RuleOverride`]); every switched-off rule is listed in [`RiskReport::disabled`], and what it
//! would have flagged in [`RiskReport::suppressed`] and in the object's notes.
//!
//! ## Evidence
//! [`Risk`] has no evidence field, so the evidence of each flag (the values or objects it was
//! derived from) is kept in the side table [`RiskReport::flags`] ([`RiskFlag::evidence`]); the
//! message itself names the decisive values. One piece of evidence gives one flag: a flag id
//! is raised once per evidence, and a stronger flag subsumes a weaker one for the same
//! evidence (`RBAC_WILDCARD` over `RBAC_ESCALATION`/`RBAC_SECRETS_READ` for one rule,
//! `SCALE_TO_ZERO` and `STS_SCALE_DELETES_PVC` over `SCALE_DOWN`).
//!
//! ## Before and after
//! "Before" is the live object (`nl`), else the base render (`n0`, intent-only mode), and
//! nothing for a create; "after" is the predicted object (`P`), else the desired render. Security flags are raised only for
//! evidence that is new or more severe than before. A rejected patch does not apply, so it gets
//! only immutable, security and process flags.
//!
//! ## Live facts
//! What the engine's inputs cannot tell (custom resources per CRD, objects per kind in a
//! Namespace, the reclaim policy of a claim's bound volume, live workloads outside the render)
//! comes from the caller in [`LiveFacts`], gathered with read-only lists. Without them the
//! flags still fire, with less detail.
//!
//! ## Limits (where this is an approximation of spec §5)
//! - A forced replace sets [`Action::Replace`] without a detail: [`Detail`] has no `replace`
//!   variant.
//! - `UNKNOWN_FIELD` is flagged, but the action stays the engine's (spec §9 #59 expects a
//!   no-op, since the API server prunes the field).
//! - Claims: a storage request may grow and may not shrink; whether the claim is bound is not
//!   checked. Jobs: the "suspended and never started" template exception is not modelled. Pods:
//!   tolerations count as mutable (the API allows additions only).
//! - CRD immutability understands only the CEL rule `self == oldSelf` (spec §10.2).
//! - `SA_TOKEN_AUTOMOUNT` does not look at the service account's RBAC.
//! - A deleted GitOps unit (Kustomization, HelmRelease, Application) gets no unit-level flag;
//!   its objects' deletions are flagged one by one.

mod checks;
mod crd;
mod immutable;
mod rules;
mod world;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;
use thule_core::cluster::LiveOutcome;
use thule_core::config::RuleOverride;
use thule_core::{Manifest, ObjectKey};

use crate::plan::{Action, Detail, ObjectPlan, ObjectState, Plan, Risk, Severity};

pub use rules::{Category, RULES, RuleInfo, rule, rules_markdown};

/// Facts read from the cluster (read-only) that the diff inputs do not hold.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveFacts {
    /// Custom resources per CRD (key of the `CustomResourceDefinition`), cluster-wide.
    pub crd_instances: BTreeMap<ObjectKey, u64>,
    /// Objects per kind inside a Namespace (key of the `Namespace`).
    pub namespace_contents: BTreeMap<ObjectKey, BTreeMap<String, u64>>,
    /// `persistentVolumeReclaimPolicy` of the volume bound to a claim (key of the claim).
    pub pv_reclaim_policy: BTreeMap<ObjectKey, String>,
    /// Other live objects of the affected namespaces that are not in the diff inputs
    /// (workloads, pods, autoscalers), for consumers, selectors and autoscaler targets.
    pub related: Vec<Value>,
}

/// Everything [`assess`] needs besides the plan.
#[derive(Clone, Debug, Default)]
pub struct RiskContext<'a> {
    /// Per-rule overrides (`policy.rules` of the project config).
    pub rules: BTreeMap<String, RuleOverride>,
    /// The unit forces recreation of objects with immutable changes (Flux `spec.force: true`,
    /// Helm `--force`). Per-object annotations are read as well.
    pub force: bool,
    /// Facts gathered from the cluster.
    pub facts: LiveFacts,
    /// The desired render (`D1`), for cross-object rules (consumers, selectors, autoscalers):
    /// the plan lists only objects that change.
    pub desired: &'a [Manifest],
    /// What the cluster said per key (the same map the diff used), if there was a cluster.
    pub live: Option<&'a BTreeMap<ObjectKey, LiveOutcome>>,
    /// Namespace for namespaced objects of `desired` and `facts.related` that set none.
    pub default_namespace: Option<String>,
    /// Labels a live object must carry to count as this unit's (spec §7.1); a patch of an
    /// object lacking them is an adoption. Known applier markers are recognised without it.
    pub owner_labels: BTreeMap<String, String>,
}

impl RiskContext<'_> {
    /// The project's part of the context: rule overrides, ownership labels and default
    /// namespace. The caller adds `desired`, `live`, `facts` and `force` (Flux `spec.force`,
    /// Helm `--force`) for the unit.
    pub fn for_project(project: &thule_core::config::ProjectConfig) -> Self {
        RiskContext {
            rules: project.policy.rules.clone(),
            owner_labels: project.diff.owner_labels.clone(),
            default_namespace: project.namespace.clone(),
            ..RiskContext::default()
        }
    }
}

/// One raised flag with its object and evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RiskFlag {
    /// The object.
    pub key: ObjectKey,
    /// The flag as stored on the object.
    pub risk: Risk,
    /// What the flag was derived from (values, paths, objects), scrubbed like the message.
    pub evidence: Vec<String>,
}

/// What [`assess`] did. Serializes (camelCase) for a `risk` section next to the plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RiskReport {
    /// Every rule switched off by configuration, sorted (whether or not it would have fired).
    pub disabled: Vec<String>,
    /// Flags raised, in plan order.
    pub flags: Vec<RiskFlag>,
    /// Flags a switched-off rule would have raised (not stored on the objects).
    pub suppressed: Vec<RiskFlag>,
    /// Problems with the overrides (unknown rule ids, unknown severities); those overrides are
    /// ignored.
    pub warnings: Vec<String>,
    /// The highest severity raised, if any.
    pub highest: Option<Severity>,
}

/// A rule override that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RiskConfigError {
    /// No rule has this id.
    #[error("policy.rules.{id}: no risk rule has this id")]
    UnknownRule {
        /// The id as written.
        id: String,
    },
    /// The severity is not one of info, low, medium, high, critical, blocker.
    #[error(
        "policy.rules.{id}.severity: `{severity}` is not one of info, low, medium, high, critical, blocker"
    )]
    UnknownSeverity {
        /// The rule id.
        id: String,
        /// The severity as written.
        severity: String,
    },
}

/// Check per-rule overrides (for `thule validate`); [`assess`] reports the same problems as
/// warnings and ignores those overrides.
///
/// # Errors
/// Every override naming an unknown rule or severity.
pub fn validate_overrides(
    rules: &BTreeMap<String, RuleOverride>,
) -> Result<(), Vec<RiskConfigError>> {
    let mut errs = Vec::new();
    for (id, o) in rules {
        if rule(id).is_none() {
            errs.push(RiskConfigError::UnknownRule { id: id.clone() });
            continue;
        }
        if let Some(s) = &o.severity
            && Severity::parse(s).is_none()
        {
            errs.push(RiskConfigError::UnknownSeverity {
                id: id.clone(),
                severity: s.clone(),
            });
        }
    }
    if errs.is_empty() { Ok(()) } else { Err(errs) }
}

/// A flag before overrides are applied.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    pub id: &'static str,
    pub severity: Severity,
    pub path: Option<String>,
    pub message: String,
    pub evidence: Vec<String>,
}

impl Pending {
    pub(crate) fn new(
        id: &'static str,
        severity: Severity,
        path: Option<String>,
        message: String,
        evidence: Vec<String>,
    ) -> Self {
        debug_assert!(rule(id).is_some(), "unknown rule {id}");
        Self {
            id,
            severity,
            path,
            message,
            evidence,
        }
    }
}

/// What the rules decided for one object.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub flags: Vec<Pending>,
    pub action: Option<Action>,
    pub detail: Option<Detail>,
    pub notes: Vec<String>,
}

impl Outcome {
    pub(crate) fn flag(
        &mut self,
        id: &'static str,
        severity: Severity,
        path: Option<String>,
        message: String,
        evidence: Vec<String>,
    ) {
        self.flags
            .push(Pending::new(id, severity, path, message, evidence));
    }
}

/// The view of one object the rules read.
pub(crate) struct View<'a> {
    pub o: &'a ObjectPlan,
    pub st: Option<&'a ObjectState>,
    /// Live (else base) object.
    pub before: Option<&'a Value>,
    /// Predicted (else desired) object; `None` for deletions.
    pub after: Option<&'a Value>,
}

impl<'a> View<'a> {
    fn new(o: &'a ObjectPlan) -> Self {
        let st = o.state.as_deref();
        let live = st.and_then(|s| s.live.as_ref());
        let base = st.and_then(|s| s.base.as_ref());
        // Live, else the base render (intent-only mode). A create has nothing before: with a
        // cluster the object is absent there, and without one a create has no base.
        let before = match o.action {
            Action::Create => None,
            _ => live.or(base),
        };
        let after = match o.action {
            Action::Delete => None,
            _ => st.and_then(|s| s.predicted.as_ref().or(s.desired.as_ref())),
        };
        Self {
            o,
            st,
            before,
            after,
        }
    }

    pub(crate) fn group(&self) -> &str {
        &self.o.key.group
    }

    pub(crate) fn kind(&self) -> &str {
        &self.o.key.kind
    }

    pub(crate) fn is(&self, group: &str, kind: &str) -> bool {
        self.o.key.group == group && self.o.key.kind == kind
    }

    pub(crate) fn label(&self) -> String {
        let k = &self.o.key;
        if k.namespace.is_empty() {
            format!("{}/{}", k.kind, k.name)
        } else {
            format!("{}/{}/{}", k.kind, k.namespace, k.name)
        }
    }
}

struct Overrides {
    disabled: BTreeSet<String>,
    severity: BTreeMap<String, Severity>,
    warnings: Vec<String>,
}

impl Overrides {
    fn new(rules: &BTreeMap<String, RuleOverride>) -> Self {
        let mut o = Overrides {
            disabled: BTreeSet::new(),
            severity: BTreeMap::new(),
            warnings: Vec::new(),
        };
        if let Err(errs) = validate_overrides(rules) {
            o.warnings.extend(errs.iter().map(ToString::to_string));
        }
        for (id, r) in rules {
            if rule(id).is_none() {
                continue;
            }
            if r.enabled == Some(false) {
                o.disabled.insert(id.clone());
            }
            if let Some(s) = r.severity.as_deref().and_then(Severity::parse) {
                o.severity.insert(id.clone(), s);
            }
        }
        o
    }
}

/// Run every rule over `plan` (see the module docs). Pure and deterministic: the same plan
/// and context give the same flags, in the same order. Idempotent: running it again on the
/// assessed plan gives the same plan (risks are recomputed, not appended).
pub fn assess(plan: &mut Plan, ctx: &RiskContext<'_>) -> RiskReport {
    let overrides = Overrides::new(&ctx.rules);
    let world = world::World::build(plan, ctx);
    // Objects are evaluated independently; many of them are spread over the cores. No-ops
    // the engine kept nothing of (unparsed identical documents) have nothing to flag.
    let nothing_to_check = |o: &ObjectPlan| {
        o.action == Action::Noop
            && o.detail.is_none()
            && o.state.is_none()
            && !world.renames.contains_key(&o.key)
            && !world.moves.contains_key(&o.key)
    };
    let work: Vec<(usize, &ObjectPlan)> = plan
        .objects
        .iter()
        .enumerate()
        .filter(|(_, o)| !nothing_to_check(o))
        .collect();
    let threads = crate::par::threads_for(0, work.len(), 64);
    let (outcomes, _): (Vec<(usize, Outcome)>, _) = crate::par::map_with(
        work,
        threads,
        || (),
        |(), (i, o)| (i, evaluate(&View::new(o), &world, ctx)),
    );
    let mut report = RiskReport {
        disabled: overrides.disabled.iter().cloned().collect(),
        warnings: overrides.warnings.clone(),
        ..RiskReport::default()
    };
    let Plan {
        objects,
        summary,
        redactor,
        ..
    } = plan;
    for o in objects.iter_mut() {
        o.risks.clear();
    }
    for (i, out) in outcomes {
        let o = &mut objects[i];
        if let Some(a) = out.action
            && a != o.action
        {
            uncount(summary, o.action);
            summary.count(a);
            o.action = a;
        }
        if out.detail.is_some() {
            o.detail = out.detail;
        }
        for n in out.notes {
            o.notes.push(redactor.scrub(&n));
        }
        let mut seen: BTreeSet<(&'static str, Vec<String>, Option<String>)> = BTreeSet::new();
        let mut risks = Vec::new();
        for p in out.flags {
            if !seen.insert((p.id, p.evidence.clone(), p.path.clone())) {
                continue;
            }
            let severity = overrides.severity.get(p.id).copied().unwrap_or(p.severity);
            let flag = RiskFlag {
                key: o.key.clone(),
                risk: Risk {
                    id: p.id.to_owned(),
                    severity,
                    path: p.path.map(|s| redactor.scrub(&s)),
                    message: redactor.scrub(&one_line(&p.message)),
                },
                evidence: p.evidence.iter().map(|e| redactor.scrub(e)).collect(),
            };
            if overrides.disabled.contains(p.id) {
                o.notes.push(format!(
                    "risk rule {} is switched off by policy.rules (it would have flagged: {})",
                    p.id, flag.risk.message
                ));
                report.suppressed.push(flag);
            } else {
                risks.push(flag);
            }
        }
        risks.sort_by(|a, b| {
            b.risk
                .severity
                .cmp(&a.risk.severity)
                .then_with(|| a.risk.id.cmp(&b.risk.id))
                .then_with(|| a.risk.path.cmp(&b.risk.path))
                .then_with(|| a.evidence.cmp(&b.evidence))
        });
        o.notes.sort();
        o.notes.dedup();
        for f in risks {
            report.highest = report.highest.max(Some(f.risk.severity));
            o.risks.push(f.risk.clone());
            report.flags.push(f);
        }
    }
    report
}

/// Messages are one line in every output.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn uncount(s: &mut crate::plan::Summary, a: Action) {
    let c = match a {
        Action::Create => &mut s.create,
        Action::Patch => &mut s.patch,
        Action::Delete => &mut s.delete,
        Action::Replace => &mut s.replace,
        Action::Noop => &mut s.noop,
    };
    *c = c.saturating_sub(1);
}

fn evaluate(v: &View<'_>, world: &world::World, ctx: &RiskContext<'_>) -> Outcome {
    let mut out = Outcome::default();
    checks::process(v, world, ctx, &mut out);
    match v.o.action {
        Action::Delete => checks::deletion(v, world, ctx, false, &mut out),
        Action::Noop if v.o.detail != Some(Detail::Unknown) => {}
        _ => {
            // A patch (or a replace/rejection decided by an earlier run: `assess` is idempotent).
            let candidate = (v.o.action == Action::Patch
                && matches!(v.o.detail, None | Some(Detail::Rejected)))
                || v.o.action == Action::Replace;
            let schema = world.crd_schema(v);
            let cel = schema.map(crd::cel_immutable).unwrap_or_default();
            if let Some(s) = schema {
                crd::unknown_fields(v, s, &mut out);
            }
            let verdict = if candidate {
                immutable::check(v, ctx, &cel, &mut out)
            } else {
                immutable::Verdict::Fine
            };
            let rejected = verdict == immutable::Verdict::Rejected;
            let replaced = verdict == immutable::Verdict::Replace;
            if replaced {
                checks::deletion(v, world, ctx, true, &mut out);
            }
            checks::state(v, &mut out);
            checks::secrets_in_plaintext(v, &mut out);
            checks::vct_change(v, &mut out);
            checks::pdb_against_replicas(v, world, &mut out);
            if !rejected {
                checks::transitions(v, world, replaced, &mut out);
            }
        }
    }
    out
}
