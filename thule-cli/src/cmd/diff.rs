//! `thule diff`: the diff engine on files, without a repository or a cluster connection.
//!
//! Reads the desired render (`--desired`), optionally the base render (`--base`) and a live
//! snapshot (`--live`, `kubectl get -o yaml` output), runs [`thule_diff::diff`] and prints the
//! plan. Without `--live`, documents that are byte-identical in base and desired are matched by
//! their text and never parsed (Secrets excepted), which makes large renders cheap.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use thule_core::config::Applier;
use thule_core::{LiveOutcome, Manifest, ObjectKey};
use thule_diff::input::{
    RawDoc, identify_unchanged, parse_documents, skip_identical, split_documents,
};
use thule_diff::{DiffInput, DiffOptions, FingerprintKey, diff, render};

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Plain text for terminals.
    Text,
    /// A Markdown merge request comment.
    Markdown,
    /// The `thule.plan/v1` JSON document.
    Json,
}

fn parse_applier(s: &str) -> Result<Applier, String> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).map_err(|_| {
        format!(
            "unknown applier `{s}`; expected flux, argocd, argocd-ssa, helm, helm-ssa, kubectl or kubectl-ssa"
        )
    })
}

/// The operator's Secret fingerprint key, from `THULE_FINGERPRINT_KEY` (unset or empty:
/// no fingerprints).
pub fn fingerprint_key_from_env() -> Option<FingerprintKey> {
    std::env::var_os("THULE_FINGERPRINT_KEY")
        .and_then(|k| FingerprintKey::new(k.into_encoded_bytes()))
}

/// Diff rendered manifests against a base render and/or live objects, object by object.
///
/// Each PATH is a YAML file or a directory of YAML files (`*.yaml`, `*.yml`, `*.json`, read
/// recursively in path order); files may hold many documents and `List` kinds. Changes are
/// keyed paths (`spec.template.spec.containers[name=web].image`); Secret values are never
/// printed. The JSON format lists every object, unchanged ones as `noop`; text and markdown
/// list unchanged objects only with --all.
///
/// Exit code: 0 when nothing changes, 1 when something does, 2 on error.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes: 0 nothing changes, 1 something changes, 2 error (YAML errors name \
    file:line:column). Secret values are never printed.\n\nExamples:\n  \
    # what a merge request changes, render against render:\n  \
    thule diff --base rendered-main.yaml --desired rendered-mr.yaml\n\n  \
    # what applying it would do to the cluster (Flux server-side apply):\n  \
    kubectl get deploy,svc,cm -n shop -o yaml > live.yaml\n  \
    thule diff --base main/ --desired mr/ --live live.yaml --format markdown\n\n  \
    # Argo CD client-side apply, JSON for tools:\n  \
    thule diff --desired mr/ --live live.yaml --applier argocd --format json\n\n\
    Without --applier, each live object's applier is read from its managedFields and \
    annotations (Flux when there is nothing to read). With THULE_FINGERPRINT_KEY set, each \
    changed Secret value shows a short keyed fingerprint of its old and new value."
)]
pub struct DiffArgs {
    /// Rendered desired objects (the merge request head): YAML file or directory.
    #[arg(long, value_name = "PATH")]
    pub desired: PathBuf,
    /// Rendered base objects (the target branch): YAML file or directory.
    #[arg(long, value_name = "PATH")]
    pub base: Option<PathBuf>,
    /// Live objects, as `kubectl get -o yaml` output (file or directory). Objects of desired
    /// or base that the snapshot lacks count as absent from the cluster.
    #[arg(long, value_name = "PATH")]
    pub live: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Which applier reconciles the objects: flux, argocd, argocd-ssa, helm, helm-ssa,
    /// kubectl, kubectl-ssa [default: inferred per live object from its managedFields and
    /// annotations; flux without one].
    #[arg(long, value_parser = parse_applier)]
    pub applier: Option<Applier>,
    /// Namespace for namespaced objects that set none [default: `default` with --live,
    /// otherwise left unset].
    #[arg(long, value_name = "NS")]
    pub namespace: Option<String>,
    /// The applier does not prune: objects removed from desired are orphans, not deletions.
    #[arg(long)]
    pub no_prune: bool,
    /// List unchanged objects too (the JSON format always does).
    #[arg(long)]
    pub all: bool,
}

/// Every YAML file under a path (the path itself if it is a file), sorted.
fn yaml_files(path: &Path) -> Result<Vec<PathBuf>> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let p = entry?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The files of one side, read into memory: `(label, text)`.
fn read_side(path: &Path) -> Result<Vec<(String, String)>> {
    yaml_files(path)?
        .into_iter()
        .map(|f| {
            let text = std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?;
            let label = f.display().to_string();
            let text = String::from_utf8(text).map_err(|e| {
                anyhow::anyhow!(
                    "{label}: not UTF-8 (byte {}); save it as UTF-8",
                    e.utf8_error().valid_up_to()
                )
            })?;
            Ok((label, text))
        })
        .collect()
}

fn split_side(files: &[(String, String)]) -> Vec<RawDoc<'_>> {
    files
        .iter()
        .flat_map(|(label, text)| split_documents(text, label))
        .collect()
}

fn live_map(files: &[(String, String)]) -> Result<BTreeMap<ObjectKey, LiveOutcome>> {
    let docs = split_side(files);
    let manifests = parse_documents(&docs)?;
    let mut map = BTreeMap::new();
    for m in manifests {
        let Manifest { key, object, .. } = m;
        map.entry(key).or_insert(LiveOutcome::Found(object));
    }
    Ok(map)
}

/// Run `thule diff`.
///
/// # Errors
/// Unreadable files, YAML errors (with file and line) and documents that are not objects.
pub fn run(args: &DiffArgs) -> Result<ExitCode> {
    let desired_files = read_side(&args.desired)?;
    let base_files = args.base.as_deref().map(read_side).transpose()?;
    let live = args.live.as_deref().map(read_side).transpose()?;
    let live = live.as_deref().map(live_map).transpose()?;

    let desired_docs = split_side(&desired_files);
    // JSON lists every object; text and markdown only with --all.
    let include_noop = args.all || args.format == Format::Json;
    let (base_docs, desired_docs, same) = match &base_files {
        Some(b) if live.is_none() => {
            let (b, d, same) = skip_identical(split_side(b), desired_docs);
            (Some(b), d, same)
        }
        Some(b) => (Some(split_side(b)), desired_docs, Vec::new()),
        None => (None, desired_docs, Vec::new()),
    };
    // Listed no-ops need the identity of the identical documents (read from their first
    // lines, not parsed), found beside the parse of the rest; otherwise their number is all
    // the plan needs.
    let (unchanged, desired, base) = std::thread::scope(|s| {
        let identify =
            (include_noop && !same.is_empty()).then(|| s.spawn(|| identify_unchanged(&same)));
        let desired = parse_documents(&desired_docs);
        let base = base_docs.as_deref().map(parse_documents).transpose();
        let unchanged = identify
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .unwrap_or_default();
        (unchanged, desired, base)
    });
    let (desired, base) = (desired?, base?);
    let skipped = if include_noop { 0 } else { same.len() };

    let options = DiffOptions {
        applier: args.applier,
        prune: !args.no_prune,
        default_namespace: args
            .namespace
            .clone()
            .or_else(|| live.as_ref().map(|_| "default".to_owned())),
        include_noop,
        views: args.format != Format::Text,
        patch_view: args.format == Format::Json,
        // The risk pass reads the normalized sides.
        keep_state: true,
        fingerprint_key: fingerprint_key_from_env(),
        ..DiffOptions::default()
    };
    let mut plan = diff(&DiffInput {
        base: base.as_deref(),
        desired: &desired,
        live: live.as_ref(),
        inventory: None,
        identical_skipped: skipped,
        identical: &unchanged,
        options: &options,
    })?;
    // Risk flags (spec §5) over the diff, with the desired render and the snapshot as context.
    let context = thule_diff::RiskContext {
        desired: &desired,
        live: live.as_ref(),
        default_namespace: options.default_namespace.clone(),
        ..thule_diff::RiskContext::default()
    };
    thule_diff::assess(&mut plan, &context);
    let out = match args.format {
        Format::Text => render::to_text(&plan),
        Format::Markdown => render::to_markdown(&plan),
        Format::Json => render::to_json(&plan),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .context("writing the plan")?;
    stdout.flush().context("writing the plan")?;
    let code = ExitCode::from(u8::from(plan.has_changes()));
    // The process ends right after this: freeing every object, value and string of a large
    // render one by one would only cost time (several percent of a 10,000-object diff).
    std::mem::forget((
        plan,
        desired,
        base,
        live,
        desired_docs,
        base_docs,
        unchanged,
        same,
    ));
    std::mem::forget((desired_files, base_files));
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n      - name: web\n        image: web:1\n";

    fn args(desired: &Path, base: Option<&Path>, live: Option<&Path>) -> DiffArgs {
        DiffArgs {
            desired: desired.to_owned(),
            base: base.map(Path::to_owned),
            live: live.map(Path::to_owned),
            format: Format::Json,
            applier: Some(Applier::Flux),
            namespace: None,
            no_prune: false,
            all: false,
        }
    }

    #[test]
    fn exit_codes_follow_the_plan() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let base = dir.path().join("base.yaml");
        let same = dir.path().join("same.yaml");
        let changed = dir.path().join("changed");
        std::fs::create_dir(&changed)?;
        std::fs::write(&base, format!("---\n{DEPLOY}"))?;
        std::fs::write(&same, format!("---\n{DEPLOY}"))?;
        std::fs::write(changed.join("a.yaml"), DEPLOY.replace("web:1", "web:2"))?;
        assert_eq!(run(&args(&same, Some(&base), None))?, ExitCode::from(0));
        assert_eq!(run(&args(&changed, Some(&base), None))?, ExitCode::from(1));
        // Live snapshot as `kubectl get -o yaml` prints it: a List, namespace set.
        let live = dir.path().join("live.yaml");
        let live_obj = DEPLOY.replace("name: web\nspec", "name: web\n  namespace: default\nspec");
        let indented: String = live_obj.lines().map(|l| format!("  {l}\n")).collect();
        std::fs::write(
            &live,
            format!(
                "apiVersion: v1\nkind: List\nitems:\n- {}",
                indented.trim_start()
            ),
        )?;
        assert_eq!(run(&args(&same, None, Some(&live)))?, ExitCode::from(0));
        assert_eq!(run(&args(&changed, None, Some(&live)))?, ExitCode::from(1));
        Ok(())
    }

    #[test]
    fn errors_name_file_and_line() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let bad = dir.path().join("bad.yaml");
        std::fs::write(
            &bad,
            format!(
                "{DEPLOY}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n"
            ),
        )?;
        let err = run(&args(&bad, None, None))
            .expect_err("duplicate key")
            .to_string();
        assert!(err.contains("bad.yaml:17:"), "{err}");
        Ok(())
    }
}
