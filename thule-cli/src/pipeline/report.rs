//! The plan of a whole merge request: every project's diff, and the three ways to print it.
//!
//! - [`json`]: `thule.plan/v1`, the same object schema as `thule diff`, with projects around it.
//! - [`markdown_parts`]: the MR comment (seeds/000 §6): run metadata, a summary table by
//!   project and cluster, blockers and risks, per-project sections with one collapsible block
//!   per resource (keyed changes, drift folded apart, YAML diff), failures, the read-only
//!   disclaimer and tool versions; split into ordered parts under a size limit.
//! - [`text`]: a terminal view, coloured when the caller asks.
//!
//! Every output is deterministic (no times, durations or random ids) and is scrubbed against
//! every project's secret taint set, so a secret value quoted in an error message is redacted
//! too.

use std::fmt::Write as _;

use serde_json::{Value, json};
use thule_diff::render::{TextStyle, appliers_line, markdown_object, text_object};
use thule_diff::{
    Action, DiffInput, DiffOptions, FingerprintKey, ObjectKey, ObjectPlan, Op, Plan, RiskContext,
    Severity, Summary, plain_noop,
};

use super::PipelineError;
use super::gather::{Gathered, LiveState, RenderSide, cluster_label, dir_label};

/// The separator printed between markdown parts on stdout.
pub const PART_SEPARATOR: &str = "\n<!-- thule: next part -->\n";

/// The disclaimer every plan carries.
pub const DISCLAIMER: &str = "thule is read-only and did not apply these changes. Flux (or the repository's operators) remains responsible for reconciliation.";

/// How a project ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Diffed.
    Planned,
    /// Could not be planned (the reason names the file or cluster and what to do).
    Failed(String),
}

/// One project's part of the plan.
#[derive(Debug)]
pub struct ProjectPlan {
    /// Project name.
    pub name: String,
    /// Cluster reference.
    pub cluster: String,
    /// Project directory.
    pub dir: String,
    /// Why it was planned (`path: reason`).
    pub reasons: Vec<String>,
    /// Planned or failed.
    pub status: Status,
    /// Where live state came from (`intent-only`, a snapshot, a context).
    pub live: String,
    /// Whether the live state is known (else the plan is the intent diff base → head).
    pub intent_only: bool,
    /// Tool of the head render (`helm v4.1.4`), if rendered.
    pub tool: Option<String>,
    /// Notes (base render failed, live read failed, …).
    pub notes: Vec<String>,
    /// Risk rules switched off by the project's policy (listed so nothing hides silently).
    pub disabled_rules: Vec<String>,
    /// The diff, when planned.
    pub plan: Option<Plan>,
    /// The lowest risk severity that fails the commit status (`comment.statusOn`).
    pub status_on: thule_core::config::StatusOn,
}

impl ProjectPlan {
    /// The project's counts (zero when it failed).
    pub fn summary(&self) -> Summary {
        self.plan.as_ref().map(|p| p.summary).unwrap_or_default()
    }

    /// The highest risk severity of any object, if any.
    pub fn highest_risk(&self) -> Option<Severity> {
        self.plan
            .as_ref()?
            .objects
            .iter()
            .flat_map(|o| o.risks.iter().map(|r| r.severity))
            .max()
    }
}

/// The whole plan.
#[derive(Debug)]
pub struct MrPlan {
    /// Head commit, if known.
    pub head_sha: Option<String>,
    /// Base commit, if known.
    pub base_sha: Option<String>,
    /// Projects in name order.
    pub projects: Vec<ProjectPlan>,
    /// Changed paths no project watches.
    pub unmatched: Vec<String>,
}

impl MrPlan {
    /// Sum of every project's summary.
    pub fn summary(&self) -> Summary {
        let mut total = Summary::default();
        for p in &self.projects {
            let s = p.summary();
            total.create += s.create;
            total.patch += s.patch;
            total.delete += s.delete;
            total.replace += s.replace;
            total.noop += s.noop;
        }
        total
    }

    /// Whether any project failed.
    pub fn has_failures(&self) -> bool {
        self.projects.iter().any(|p| p.status != Status::Planned)
    }

    /// 0 no changes, 1 changes, 2 a project failed (unless `allow_partial`).
    pub fn exit_code(&self, allow_partial: bool) -> u8 {
        if self.has_failures() && !allow_partial {
            2
        } else if self.summary().has_changes() {
            1
        } else {
            0
        }
    }

    /// Redact every secret value any project saw.
    fn scrub(&self, text: &str) -> String {
        self.projects
            .iter()
            .filter_map(|p| p.plan.as_ref())
            .fold(text.to_owned(), |t, plan| plan.scrub(&t))
    }
}

/// What a run knows of itself beyond its projects, for the plan header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunMeta {
    /// Head commit, if known.
    pub head_sha: Option<String>,
    /// Base commit, if known.
    pub base_sha: Option<String>,
    /// The operator's key for Secret value fingerprints (`THULE_FINGERPRINT_KEY`).
    pub fingerprint_key: Option<FingerprintKey>,
}

/// Diff and assess every gathered project. Pure and synchronous (CPU-bound: the pipeline
/// runs it on the blocking pool).
///
/// # Errors
/// When a project's diff options are invalid (an ignore rule that is not a JSON pointer).
pub fn build(meta: &RunMeta, gathered: &Gathered) -> Result<MrPlan, PipelineError> {
    let mut projects = Vec::new();
    for p in &gathered.projects {
        let c = &p.config;
        let mut notes = Vec::new();
        let mut status = Status::Planned;
        let tool = match &p.head {
            RenderSide::Rendered { tool, notes: n, .. } => {
                // What the head render said beside its objects reaches the plan.
                notes.extend(n.iter().map(|n| format!("render: {n}")));
                Some(tool.clone())
            }
            _ => None,
        };
        let head: Option<&[thule_core::Manifest]> = match &p.head {
            RenderSide::Rendered { objects, .. } => Some(objects),
            RenderSide::Absent => Some(&[]),
            RenderSide::Failed(reason) => {
                status = Status::Failed(format!("render failed: {reason}"));
                None
            }
        };
        let base: Option<&[thule_core::Manifest]> = match &p.base {
            RenderSide::Rendered { objects, .. } => Some(objects),
            RenderSide::Absent => gathered.has_base.then_some(&[][..]),
            RenderSide::Failed(reason) => {
                notes.push(format!(
                    "the base render failed, so changes cannot be told apart from drift: {reason}"
                ));
                None
            }
        };
        let no_facts = thule_diff::LiveFacts::default();
        let (live, live_label, intent_only, inventory, facts) = match &p.live {
            LiveState::IntentOnly => (
                None,
                "intent-only (no cluster read)".to_owned(),
                true,
                None,
                &no_facts,
            ),
            LiveState::Read {
                source,
                outcomes,
                owned_extra,
                facts,
            } => {
                let inv: Vec<ObjectKey> = owned_extra.iter().map(|r| r.key.clone()).collect();
                (Some(outcomes), source.clone(), false, Some(inv), &**facts)
            }
            LiveState::Failed(reason) => {
                if status == Status::Planned {
                    status = Status::Failed(format!("live read failed: {reason}"));
                }
                (None, format!("failed: {reason}"), true, None, &no_facts)
            }
        };
        let mut disabled_rules = Vec::new();
        let plan = match (head, &status) {
            (Some(desired), Status::Planned) => {
                let options = DiffOptions {
                    applier: c.diff.applier,
                    prune: c.diff.prune,
                    ignore: c.diff.ignore.clone(),
                    default_namespace: Some(
                        c.namespace.clone().unwrap_or_else(|| "default".to_owned()),
                    ),
                    inject_labels: c.diff.owner_labels.clone(),
                    owner_labels: c.diff.owner_labels.clone(),
                    // Every object, unchanged ones too: the JSON plan lists them all; the
                    // markdown and text views leave plain no-ops out.
                    include_noop: true,
                    fingerprint_key: meta.fingerprint_key.clone(),
                    ..DiffOptions::default()
                };
                let input = DiffInput {
                    base,
                    desired,
                    live,
                    inventory: inventory.as_deref(),
                    identical_skipped: 0,
                    identical: &[],
                    options: &options,
                };
                let mut plan = thule_diff::diff(&input).map_err(|source| PipelineError::Diff {
                    project: c.name.clone(),
                    source,
                })?;
                // The risk pass (spec §5) over the diff, with the project's rule overrides.
                let mut ctx = RiskContext::for_project(c);
                ctx.desired = desired;
                ctx.live = live;
                ctx.facts = facts.clone();
                let risk = thule_diff::assess(&mut plan, &ctx);
                disabled_rules = risk.disabled;
                notes.extend(risk.warnings.into_iter().map(|w| format!("policy: {w}")));
                Some(plan)
            }
            _ => None,
        };
        projects.push(ProjectPlan {
            name: c.name.clone(),
            cluster: cluster_label(c),
            dir: dir_label(c),
            reasons: p
                .reasons
                .iter()
                .map(|r| format!("{}: {}", thule_core::repo::slash(&r.changed), r.why))
                .collect(),
            status,
            live: live_label,
            intent_only,
            tool,
            notes,
            disabled_rules,
            plan,
            status_on: c.comment.status_on,
        });
    }
    Ok(MrPlan {
        head_sha: meta.head_sha.clone(),
        base_sha: meta.base_sha.clone(),
        projects,
        unmatched: gathered
            .unmatched
            .iter()
            .map(|u| thule_core::repo::slash(u))
            .collect(),
    })
}

fn summary_json(s: Summary) -> Value {
    json!({"create": s.create, "patch": s.patch, "delete": s.delete, "replace": s.replace, "noop": s.noop})
}

/// The plan as JSON (`thule.plan/v1`, projects around the `thule diff` object schema).
pub fn json(plan: &MrPlan) -> String {
    let projects: Vec<Value> = plan
        .projects
        .iter()
        .map(|p| {
            let mut v = json!({
                "name": p.name,
                "cluster": p.cluster,
                "dir": p.dir,
                "status": match &p.status { Status::Planned => "planned", Status::Failed(_) => "failed" },
                "error": match &p.status { Status::Planned => Value::Null, Status::Failed(e) => json!(e) },
                "live": p.live,
                "intentOnly": p.intent_only,
                "tool": p.tool,
                "reasons": p.reasons,
                "notes": p.notes,
                "disabledRules": p.disabled_rules,
                "appliers": p.plan.iter().flat_map(|d| d.appliers.iter()).map(|a| json!({
                    "applier": a.applier.name(),
                    "source": a.source.as_str(),
                    "objects": a.objects,
                })).collect::<Vec<_>>(),
                "objects": [],
                "summary": summary_json(p.summary()),
            });
            if let Some(d) = &p.plan
                && let Ok(Value::Object(map)) = serde_json::to_value(d)
                && let Some(objects) = map.get("objects")
            {
                v["objects"] = objects.clone();
            }
            v
        })
        .collect();
    let doc = json!({
        "schema": thule_diff::PLAN_SCHEMA,
        "head": plan.head_sha,
        "base": plan.base_sha,
        "projects": projects,
        "unmatched": plan.unmatched,
        "summary": summary_json(plan.summary()),
    });
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    plan.scrub(&s)
}

fn md(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn counts(s: Summary) -> String {
    format!(
        "{} create, {} patch, {} delete, {} replace, {} no-op",
        s.create, s.patch, s.delete, s.replace, s.noop
    )
}

fn short_sha(sha: Option<&String>, otherwise: &str) -> String {
    sha.map_or_else(
        || otherwise.to_owned(),
        |s| format!("`{}`", &s[..s.len().min(12)]),
    )
}

/// The plan as markdown blocks, in order: header and summary first, then per project a
/// heading block and one block per resource, then the footer. Each block is balanced.
pub fn markdown_blocks(plan: &MrPlan) -> Vec<String> {
    let mut blocks = Vec::new();
    let total = plan.summary();
    let mut head = String::new();
    let _ = writeln!(head, "### thule plan\n");
    let _ = writeln!(
        head,
        "Head {} · base {} · {} project(s) · {}\n",
        short_sha(plan.head_sha.as_ref(), "working tree"),
        short_sha(plan.base_sha.as_ref(), "checkout"),
        plan.projects.len(),
        counts(total)
    );
    let _ = writeln!(head, "> {DISCLAIMER}\n");
    if plan.projects.iter().any(|p| p.intent_only) {
        let _ = writeln!(
            head,
            "> **Intent-only** for the projects marked so: no live objects were read, so the plan compares the base render with the head render; drift and server-side effects are not shown.\n"
        );
    }
    let _ = writeln!(
        head,
        "| project | cluster | create | patch | delete | replace | no-op | highest risk | status |"
    );
    let _ = writeln!(head, "|---|---|---:|---:|---:|---:|---:|---|---|");
    for p in &plan.projects {
        let s = p.summary();
        let status = match &p.status {
            Status::Planned if p.intent_only => "planned (intent-only)".to_owned(),
            Status::Planned => "planned".to_owned(),
            Status::Failed(_) => "**failed**".to_owned(),
        };
        let _ = writeln!(
            head,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            md(&p.name),
            md(&p.cluster),
            s.create,
            s.patch,
            s.delete,
            s.replace,
            s.noop,
            p.highest_risk().map_or("-", Severity::name),
            status
        );
    }
    // Blockers and risks, most severe first.
    let mut risks: Vec<(Severity, String)> = Vec::new();
    for p in &plan.projects {
        for o in p.plan.iter().flat_map(|d| d.objects.iter()) {
            for r in &o.risks {
                risks.push((
                    r.severity,
                    format!(
                        "| {} | {} | {} | `{}` | {} |",
                        r.severity.name(),
                        r.id,
                        md(&p.name),
                        md(&o.key.to_string()),
                        md(&r.message)
                    ),
                ));
            }
        }
    }
    risks.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    if !risks.is_empty() {
        let _ = writeln!(
            head,
            "\n#### Risks\n\n| severity | id | project | object | message |\n|---|---|---|---|---|"
        );
        for (_, row) in &risks {
            let _ = writeln!(head, "{row}");
        }
    }
    let failed: Vec<&ProjectPlan> = plan
        .projects
        .iter()
        .filter(|p| p.status != Status::Planned)
        .collect();
    if !failed.is_empty() {
        let _ = writeln!(head, "\n#### Failed projects\n");
        for p in failed {
            if let Status::Failed(reason) = &p.status {
                let _ = writeln!(head, "- **{}**: {}", md(&p.name), md(reason));
            }
        }
    }
    blocks.push(head);

    for p in &plan.projects {
        let mut h = String::new();
        let _ = writeln!(
            h,
            "#### {} → {} ({})\n",
            md(&p.name),
            md(&p.cluster),
            counts(p.summary())
        );
        let _ = writeln!(h, "- directory `{}`; live: {}", p.dir, md(&p.live));
        if let Some(t) = &p.tool {
            let _ = writeln!(h, "- rendered with {}", md(t));
        }
        if let Some(a) = p.plan.as_ref().and_then(|d| appliers_line(&d.appliers)) {
            let _ = writeln!(h, "- applier: {}", md(&a));
        }
        if let Some(r) = p.reasons.first() {
            let more = p.reasons.len() - 1;
            let _ = writeln!(
                h,
                "- planned because {}{}",
                md(r),
                if more > 0 {
                    format!(" (and {more} more)")
                } else {
                    String::new()
                }
            );
        }
        for n in &p.notes {
            let _ = writeln!(h, "- note: {}", md(n));
        }
        if !p.disabled_rules.is_empty() {
            let _ = writeln!(
                h,
                "- risk rules switched off by policy: {}",
                p.disabled_rules.join(", ")
            );
        }
        if let Status::Failed(reason) = &p.status {
            let _ = writeln!(h, "- **failed**: {}", md(reason));
        }
        blocks.push(h);
        if let Some(d) = &p.plan {
            // Sections in the order of spec §8.1: delete/replace, patch, create, no-op.
            let rank = |a: Action| match a {
                Action::Delete | Action::Replace => 0,
                Action::Patch => 1,
                Action::Create => 2,
                Action::Noop => 3,
            };
            let mut objects: Vec<&ObjectPlan> =
                d.objects.iter().filter(|o| !plain_noop(o)).collect();
            objects.sort_by_key(|o| rank(o.action));
            for o in objects {
                blocks.push(markdown_object(o, d.mixed_appliers()));
            }
        }
    }

    let mut foot = String::new();
    let mut tools: Vec<&str> = plan
        .projects
        .iter()
        .filter_map(|p| p.tool.as_deref())
        .collect();
    tools.sort_unstable();
    tools.dedup();
    if !plan.unmatched.is_empty() {
        let _ = writeln!(
            foot,
            "Changed paths no project watches: {}\n",
            plan.unmatched
                .iter()
                .map(|u| format!("`{u}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let _ = writeln!(
        foot,
        "<sub>thule {} · renderers: {}</sub>",
        env!("CARGO_PKG_VERSION"),
        if tools.is_empty() {
            "-".to_owned()
        } else {
            tools.join(", ")
        }
    );
    blocks.push(foot);
    blocks
        .into_iter()
        .map(|b| {
            // A blank line between blocks keeps headings, lists and <details> apart.
            let mut b = plan.scrub(&b);
            if !b.ends_with("\n\n") {
                b.push('\n');
            }
            b
        })
        .collect()
}

/// The MR comment, split into ordered parts of at most `max_chars` characters.
pub fn markdown_parts(plan: &MrPlan, max_chars: usize) -> Vec<String> {
    thule_vcs::split_markdown(&markdown_blocks(plan), max_chars, "thule plan")
}

/// The plan for a terminal.
pub fn text(plan: &MrPlan, colour: bool) -> String {
    let paint = |code: &str, s: &str| {
        if colour {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    };
    let mut out = String::new();
    let _ = writeln!(out, "thule plan: {}", counts(plan.summary()));
    let _ = writeln!(out, "{DISCLAIMER}");
    for p in &plan.projects {
        let _ = writeln!(out);
        let status = match &p.status {
            Status::Planned if p.intent_only => paint("33", "intent-only"),
            Status::Planned => "live".to_owned(),
            Status::Failed(_) => paint("1;31", "FAILED"),
        };
        let _ = writeln!(
            out,
            "{} → {} [{}] {}",
            paint("1", &p.name),
            p.cluster,
            status,
            counts(p.summary())
        );
        if let Status::Failed(reason) = &p.status {
            let _ = writeln!(out, "  {reason}");
        }
        for n in &p.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        if let Some(a) = p.plan.as_ref().and_then(|d| appliers_line(&d.appliers)) {
            let _ = writeln!(out, "  applier: {a}");
        }
        let mixed = p.plan.as_ref().is_some_and(Plan::mixed_appliers);
        let shown = p
            .plan
            .iter()
            .flat_map(|d| d.objects.iter())
            .filter(|o| !plain_noop(o));
        for o in shown {
            out.push_str(&text_object(o, "  ", mixed, &|style, line| {
                let code = match style {
                    TextStyle::Title(Action::Create) | TextStyle::Change(Op::Add) => "32",
                    TextStyle::Title(Action::Delete | Action::Replace)
                    | TextStyle::Change(Op::Remove) => "31",
                    TextStyle::Title(Action::Patch) | TextStyle::Change(Op::Replace) => "33",
                    TextStyle::Title(Action::Noop) => "2",
                    TextStyle::Plain => return line.to_owned(),
                };
                paint(code, line)
            }));
        }
    }
    if !plan.unmatched.is_empty() {
        let _ = writeln!(
            out,
            "\nchanged paths no project watches: {}",
            plan.unmatched.join(", ")
        );
    }
    plan.scrub(&out)
}
