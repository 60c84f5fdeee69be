//! Renderers: JSON (`thule.plan/v1`), Markdown (MR comment body) and plain text. All are
//! byte-deterministic and print only what the plan holds, which is already redacted; each
//! output is scrubbed once more against the plan's taint set.

use std::fmt::Write as _;

use serde_json::Value;

use crate::plan::{
    Action, ApplierCount, ApplierSource, Change, ChangeOrigin, ObjectPlan, Op, Plan,
};

/// The plan as pretty JSON with a final newline.
pub fn to_json(plan: &Plan) -> String {
    // Sized up front: a plan listing every object of a large render is large.
    let mut buf = Vec::with_capacity(4096 + 512 * plan.objects.len());
    let mut s = match serde_json::to_writer_pretty(&mut buf, plan) {
        Ok(()) => String::from_utf8(buf).unwrap_or_else(|_| "{}".to_owned()),
        Err(_) => "{}".to_owned(),
    };
    s.push('\n');
    plan.redactor.scrub_in_place(&mut s);
    s
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => serde_json::to_string(s).unwrap_or_default(),
        other => serde_json::to_string(other).unwrap_or_default(),
    };
    if s.chars().count() > 120 {
        let cut: String = s.chars().take(117).collect();
        format!("{cut}...")
    } else {
        s
    }
}

/// An added map-list item without the key fields its path already shows
/// (`+ env[name=X]: {"value":"1"}`).
fn without_key_fields(c: &Change, v: &Value) -> Value {
    match (c.keyed.last(), v) {
        (Some(seg @ crate::path::Seg::Key(_)), Value::Object(m)) => {
            let keys = crate::path::key_fields(seg);
            Value::Object(
                m.iter()
                    .filter(|(k, _)| !keys.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            )
        }
        _ => v.clone(),
    }
}

/// One change as a diff line: `~ path: before → after  (drift)`, `+ path: value`,
/// `- path`; a sensitive value is replaced by "(changed, value hidden)", and a multi-line text
/// value by its line counts (the YAML diff view shows the lines).
pub fn change_line(c: &Change) -> String {
    let mut line = format!("{} {}", c.op.sigil(), c.path);
    if c.sensitive {
        let what = match c.op {
            Op::Add => "added",
            Op::Remove => "removed",
            Op::Replace => "changed",
        };
        let fp = match &c.fingerprint {
            Some(f) => match (&f.before, &f.after) {
                (Some(b), Some(a)) => format!("; fp {b} → {a}"),
                (Some(x), None) | (None, Some(x)) => format!("; fp {x}"),
                (None, None) => String::new(),
            },
            None => String::new(),
        };
        let _ = write!(line, "  ({what}, value hidden{fp})");
    } else {
        match (&c.before, &c.after) {
            (Some(Value::String(b)), Some(Value::String(a)))
                if b.contains('\n') || a.contains('\n') =>
            {
                let _ = write!(
                    line,
                    ": text of {} line(s) → {} line(s), see the YAML diff",
                    b.lines().count(),
                    a.lines().count()
                );
            }
            (Some(b), Some(a)) => {
                let _ = write!(line, ": {} → {}", short(b), short(a));
            }
            (None, Some(a)) => {
                let _ = write!(line, ": {}", short(&without_key_fields(c, a)));
            }
            _ => {}
        }
    }
    if c.origin != ChangeOrigin::Mr {
        let _ = write!(line, "  ({})", c.origin.as_str());
    }
    if let Some(n) = &c.note {
        let _ = write!(line, "  [{n}]");
    }
    line
}

/// An object's one-line title: key, action (with detail), origin when not the MR's, and the
/// ids of its risk flags (most severe first).
pub fn header(o: &ObjectPlan) -> String {
    let mut h = format!("{} {}", o.key, o.action.as_str().to_uppercase());
    if let Some(d) = o.detail {
        let _ = write!(h, "/{}", d.as_str());
    }
    if o.action != Action::Noop && o.origin != ChangeOrigin::Mr {
        let _ = write!(h, " ({})", o.origin.as_str());
    }
    if !o.risks.is_empty() {
        let ids: Vec<&str> = o.risks.iter().map(|r| r.id.as_str()).collect();
        let _ = write!(h, " [{}]", ids.join(", "));
    }
    h
}

/// An object's risk flags, most severe first (the order the risk pass stores them in, made
/// explicit here so every renderer agrees).
pub fn risks_by_severity(o: &ObjectPlan) -> Vec<&crate::plan::Risk> {
    let mut risks: Vec<&crate::plan::Risk> = o.risks.iter().collect();
    risks.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.id.cmp(&b.id)));
    risks
}

/// Why an object's applier is the one it is, in words.
fn source_words(source: ApplierSource) -> &'static str {
    match source {
        ApplierSource::Configured => "configured",
        ApplierSource::Inferred => "inferred from the live object's managedFields and annotations",
        ApplierSource::Default => "default: nothing to infer it from",
    }
}

/// An object's applier and where it came from (`argocd-ssa (inferred)`).
pub fn object_applier(o: &ObjectPlan) -> String {
    format!("{} ({})", o.applier, o.applier_source.as_str())
}

/// The plan's appliers, said once: `flux (configured)`, `argocd-ssa (inferred from the live
/// object's managedFields and annotations)`; for a mix, each with its count, and then each
/// object names its own ([`Plan::mixed_appliers`]). `None` for an empty plan.
pub fn appliers_line(counts: &[ApplierCount]) -> Option<String> {
    match counts {
        [] => None,
        [one] => Some(format!("{} ({})", one.applier, source_words(one.source))),
        many => Some(format!(
            "{}; each object names its own",
            many.iter()
                .map(|c| format!(
                    "{} ({}) for {} object(s)",
                    c.applier,
                    c.source.as_str(),
                    c.objects
                ))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn summary_line(plan: &Plan) -> String {
    let s = plan.summary;
    format!(
        "{} to create, {} to patch, {} to delete, {} to replace, {} unchanged",
        s.create, s.patch, s.delete, s.replace, s.noop
    )
}

/// What a line of the terminal view is, so a caller can colour it (or not).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextStyle {
    /// An object's title line, by action.
    Title(Action),
    /// A change line, by operation.
    Change(Op),
    /// Anything else (source, risks, notes).
    Plain,
}

/// One object for a terminal: its title at `indent`, then source, applier (when
/// `show_applier`: the plan's objects have different ones), risks (most severe first), notes
/// and changes two spaces deeper. `paint` styles each line (the identity for plain text, ANSI
/// colours for a terminal).
pub fn text_object(
    o: &ObjectPlan,
    indent: &str,
    show_applier: bool,
    paint: &dyn Fn(TextStyle, &str) -> String,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{indent}{}",
        paint(TextStyle::Title(o.action), &header(o))
    );
    if let Some(src) = &o.source {
        let _ = writeln!(out, "{indent}  source: {src}");
    }
    if show_applier {
        let _ = writeln!(out, "{indent}  applier: {}", object_applier(o));
    }
    for r in risks_by_severity(o) {
        let _ = writeln!(
            out,
            "{indent}  ! {} {}: {}",
            r.severity.name(),
            r.id,
            r.message
        );
    }
    for n in &o.notes {
        let _ = writeln!(out, "{indent}  note: {n}");
    }
    if o.action == Action::Create {
        let _ = writeln!(out, "{indent}  ({} fields)", o.changes.len());
    } else {
        for c in &o.changes {
            let _ = writeln!(
                out,
                "{indent}  {}",
                paint(TextStyle::Change(c.op), &change_line(c))
            );
        }
    }
    out
}

/// The plan as plain text (terminal output).
pub fn to_text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Plan: {}", summary_line(plan));
    if let Some(line) = appliers_line(&plan.appliers) {
        let _ = writeln!(out, "Applier: {line}");
    }
    let mixed = plan.mixed_appliers();
    for o in &plan.objects {
        out.push('\n');
        out.push_str(&text_object(o, "", mixed, &|_, line| line.to_owned()));
    }
    plan.scrub(&out)
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One object as a collapsible Markdown block, balanced on its own (so a long comment can be
/// split between blocks): title with action and risk ids, the applier (when `show_applier`),
/// risks most severe first, notes, the keyed changes of the MR, the drift it reverts folded
/// apart, and the YAML diff folded.
pub fn markdown_object(o: &ObjectPlan, show_applier: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<details><summary><code>{}</code></summary>\n",
        md_escape(&header(o))
    );
    if show_applier {
        let _ = writeln!(out, "- applier: {}", md_escape(&object_applier(o)));
    }
    for r in risks_by_severity(o) {
        let _ = writeln!(
            out,
            "- **{}** {}: {}",
            r.severity.name(),
            r.id,
            md_escape(&r.message)
        );
    }
    for n in &o.notes {
        let _ = writeln!(out, "- {}", md_escape(n));
    }
    let (mr, drift): (Vec<&Change>, Vec<&Change>) = o
        .changes
        .iter()
        .partition(|c| c.origin != ChangeOrigin::Drift);
    if o.action == Action::Create {
        let _ = writeln!(out, "- new object, {} field(s)", o.changes.len());
    } else if !mr.is_empty() {
        out.push_str("\n```diff\n");
        for c in &mr {
            let _ = writeln!(out, "{}", change_line(c));
        }
        out.push_str("```\n");
    }
    if !drift.is_empty() && o.action != Action::Create {
        let _ = writeln!(
            out,
            "\n<details><summary>also reverts drift ({} field(s) changed in the cluster, not by this MR)</summary>\n\n```diff",
            drift.len()
        );
        for c in &drift {
            let _ = writeln!(out, "{}", change_line(c));
        }
        out.push_str("```\n</details>\n");
    }
    if !o.text_diff.is_empty() {
        out.push_str("\n<details><summary>YAML diff</summary>\n\n```diff\n");
        out.push_str(&o.text_diff.replace("```", "'''"));
        if !o.text_diff.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("```\n</details>\n");
    }
    out.push_str("\n</details>\n");
    out
}

/// The plan as Markdown (a merge request comment body).
pub fn to_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let s = plan.summary;
    let _ = writeln!(out, "### thule plan\n");
    let _ = writeln!(out, "| create | patch | delete | replace | unchanged |");
    let _ = writeln!(out, "|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} |",
        s.create, s.patch, s.delete, s.replace, s.noop
    );
    if let Some(line) = appliers_line(&plan.appliers) {
        let _ = writeln!(out, "\nApplier: {}", md_escape(&line));
    }
    let mixed = plan.mixed_appliers();
    type Pick<'p> = &'p dyn Fn(&ObjectPlan) -> bool;
    let sections: [(&str, Pick<'_>); 4] = [
        ("Delete / replace", &|o| {
            matches!(o.action, Action::Delete | Action::Replace)
        }),
        ("Patch", &|o| o.action == Action::Patch),
        ("Create", &|o| o.action == Action::Create),
        ("No-op", &|o| o.action == Action::Noop),
    ];
    for (title, pick) in sections {
        let objs: Vec<&ObjectPlan> = plan.objects.iter().filter(|o| pick(o)).collect();
        if objs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n#### {title} ({})\n", objs.len());
        for o in objs {
            out.push_str(&markdown_object(o, mixed));
        }
    }
    plan.scrub(&out)
}
