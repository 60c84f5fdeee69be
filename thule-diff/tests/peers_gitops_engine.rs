//! The 21 diff cases of Argo CD's gitops-engine (`shared/peers/gitops-engine-diff`, real live
//! objects with managedFields), each asserted by its own `expect` block, **with no applier
//! named**: the engine reads each object's applier from its managedFields and annotations,
//! as `thule diff --live` does without `--applier`.
//!
//! The corpus lives beside the repository (`<repo>/../shared/peers/gitops-engine-diff`, or
//! `THULE_PEERS_DIR`); a missing corpus fails the test rather than passing silently.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use thule_core::ObjectKey;
use thule_diff::input::parse_stream;
use thule_diff::{
    Action, DiffInput, DiffOptions, LiveOutcome, Manifest, ObjectPlan, RiskContext, assess, diff,
};

fn corpus() -> PathBuf {
    std::env::var_os("THULE_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers"))
        .join("gitops-engine-diff")
}

/// A case file as JSON.
fn read_case(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).expect("case file");
    thule_core::yaml::parse_str(&text, &path.display().to_string(), &Default::default())
        .expect("case YAML")
        .into_iter()
        .next()
        .expect("one document")
        .value
}

/// A list of objects (`desired`, `live`, `base`) or a YAML text (`desired_text`) as manifests.
fn manifests(case: &Value, list: &str, text: &str) -> Option<Vec<Manifest>> {
    if let Some(t) = case.get(text).and_then(Value::as_str) {
        return Some(parse_stream(t, text).expect("desired_text parses"));
    }
    let items = case.get(list)?.as_array()?;
    let yaml: String = items
        .iter()
        .map(|v| format!("---\n{}\n", serde_json::to_string(v).expect("json")))
        .collect();
    Some(parse_stream(&yaml, list).expect("objects parse"))
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The plan of one case, the object it is about, and its text rendering for messages.
fn plan_case(case: &Value) -> (ObjectPlan, String) {
    let desired = manifests(case, "desired", "desired_text").expect("desired");
    let base = manifests(case, "base", "base_text");
    let live: BTreeMap<ObjectKey, LiveOutcome> = manifests(case, "live", "live_text")
        .unwrap_or_default()
        .into_iter()
        .map(|m| (m.key, LiveOutcome::Found(m.object)))
        .collect();
    // What `thule diff --desired … --live …` runs when no --applier is given.
    let options = DiffOptions {
        applier: None,
        default_namespace: Some("default".to_owned()),
        include_noop: true,
        ..DiffOptions::default()
    };
    let mut plan = diff(&DiffInput {
        base: base.as_deref(),
        desired: &desired,
        live: Some(&live),
        inventory: None,
        identical_skipped: 0,
        identical: &[],
        options: &options,
    })
    .expect("diff");
    let context = RiskContext {
        desired: &desired,
        live: Some(&live),
        default_namespace: options.default_namespace.clone(),
        ..RiskContext::default()
    };
    assess(&mut plan, &context);
    let text = thule_diff::render::to_text(&plan);
    assert_eq!(plan.objects.len(), 1, "one object per case:\n{text}");
    (plan.objects.remove(0), text)
}

#[test]
fn every_case_gives_its_stated_outcome_without_an_applier() {
    let dir = corpus();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (set THULE_PEERS_DIR)", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 21, "the corpus has 21 cases");
    let mut failures = Vec::new();
    let mut appliers = Vec::new();
    for file in &files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let case = read_case(file);
        let expect = &case["expect"];
        let (o, text) = plan_case(&case);
        appliers.push(format!(
            "{name}: {} ({})",
            o.applier,
            o.applier_source.as_str()
        ));
        let mut why = Vec::new();
        if let Some(action) = expect["action"].as_str()
            && o.action.as_str() != action
        {
            why.push(format!("action {} (want {action})", o.action.as_str()));
        }
        if let Some(n) = expect["changes"].as_u64()
            && o.changes.len() as u64 != n
        {
            why.push(format!("{} changes (want {n})", o.changes.len()));
        }
        let paths: Vec<&str> = o.changes.iter().map(|c| c.path.as_str()).collect();
        for want in strings(expect.get("paths_include")) {
            if !paths.iter().any(|p| p.contains(want.as_str())) {
                why.push(format!("no change path contains {want:?}"));
            }
        }
        for unwanted in strings(expect.get("paths_exclude")) {
            if let Some(p) = paths.iter().find(|p| p.contains(unwanted.as_str())) {
                why.push(format!("change {p:?} contains excluded {unwanted:?}"));
            }
        }
        for risk in strings(expect.get("risks")) {
            if !o.risks.iter().any(|r| r.id == risk) {
                why.push(format!("no {risk} risk"));
            }
        }
        if o.action == Action::Noop && !o.changes.is_empty() {
            why.push("a no-op with changes".to_owned());
        }
        if !why.is_empty() {
            failures.push(format!("{name}: {}\n{text}", why.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // What was read from the live objects: Argo CD server-side apply where
    // argocd-controller holds an Apply entry, Argo CD client-side apply where it holds an
    // Update entry or where last-applied-configuration sits beside Argo CD's tracking label,
    // kubectl where last-applied-configuration is all there is, and the default (Flux) for
    // p20, whose live Secret carries no managedFields, annotations or labels.
    let ssa = "argocd-ssa (inferred)";
    let csa = "argocd (inferred)";
    let kubectl = "kubectl (inferred)";
    let want = [
        ssa,
        ssa,
        ssa,
        ssa,
        ssa,
        ssa,
        csa,
        ssa,
        ssa,
        csa,
        csa,
        csa,
        csa,
        csa,
        csa,
        kubectl,
        kubectl,
        kubectl,
        csa,
        "flux (default)",
        csa,
    ];
    let got: Vec<&str> = appliers
        .iter()
        .map(|a| a.split_once(": ").map_or("", |(_, x)| x))
        .collect();
    assert_eq!(got, want, "{appliers:#?}");
}
