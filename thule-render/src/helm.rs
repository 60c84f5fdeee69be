//! Helm: `helm template RELEASE ./CHART` of a local chart directory.
//!
//! The invocation passes, in this order: `--namespace` (the project's namespace), `-f` for
//! each values file in the configured order, `--set key=value` for each `set` entry in key
//! order (commas and backslashes in the value are escaped, so one entry is always one value),
//! `--kube-version`, `--api-versions` for each API version, and `--include-crds` when enabled.
//!
//! Only local charts render: the chart directory must hold a `Chart.yaml`, and it is passed as
//! `./path`, which makes helm treat it as a path and never look it up in a repository.
//! Dependencies must be vendored in the chart's `charts/` directory; helm's "missing in
//! charts/ directory" error is reported as the project's failure. Output documents get their
//! origin from helm's `# Source:` comments, mapped back to the template's repository path.

use std::collections::BTreeMap;
use std::path::Path;

use thule_core::config::ProjectConfig;
use thule_core::{Origin, ParseOptions};

use crate::engine::{Blame, Job, Objects, Prepared, RenderEngine, ToolOutputKind};
use crate::error::RenderError;
use crate::fingerprint::{Fingerprint, escaping_link, hash_tree, rel_label};
use crate::model::ToolInfo;
use crate::objects::collect_value;
use crate::tool::ToolRunner;

pub(crate) fn prepare<T: ToolRunner>(
    engine: &RenderEngine<T>,
    project: &ProjectConfig,
) -> Result<Prepared, RenderError> {
    let root = &engine.options.repo_root;
    let helm = &project.render.helm;
    let config = rel_label(&project.file);
    let chart = engine.checked_path(project, &helm.chart)?;
    let chart_yaml = root.join(&chart).join("Chart.yaml");
    let Ok(chart_text) = std::fs::read(&chart_yaml) else {
        let e = RenderError::NotALocalChart {
            chart: rel_label(&chart),
            config,
        };
        return Err(e);
    };
    let chart_name = chart_name(&chart_text).unwrap_or_else(|| {
        chart
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    });
    let mut values = Vec::with_capacity(helm.values_files.len());
    for v in &helm.values_files {
        let v = engine.checked_path(project, v)?;
        if !root.join(&v).is_file() {
            let e = RenderError::MissingPath {
                path: rel_label(&v),
                setting: "render.helm.valuesFiles",
                config,
            };
            return Err(e);
        }
        values.push(v);
    }
    let version = engine.helm_version()?;
    let tool = ToolInfo {
        name: "helm".into(),
        version,
    };

    let chart_label = rel_label(&chart);
    let chart_arg = if chart_label.starts_with('.') {
        chart_label.clone()
    } else {
        format!("./{chart_label}")
    };
    let mut inv = engine.invocation(&engine.options.toolchain.helm).args([
        "template",
        &helm.release_name,
        &chart_arg,
    ]);
    if let Some(ns) = &project.namespace {
        inv = inv.args(["--namespace", ns]);
    }
    for v in &values {
        inv = inv.args(["-f".to_owned(), rel_label(v)]);
    }
    inv = inv.args(set_args(&helm.set));
    if let Some(kv) = &project.render.kube_version {
        inv = inv.args(["--kube-version", kv]);
    }
    for a in &project.render.api_versions {
        inv = inv.args(["--api-versions", a]);
    }
    if helm.include_crds {
        inv = inv.arg("--include-crds");
    }

    let mut key = Fingerprint::new("thule-render/helm/v1");
    key.field("project", project.name.as_bytes());
    key.field("tool", tool.to_string().as_bytes());
    key.field("invocation", inv.label().as_bytes());
    let mut escaping = hash_tree(&mut key, root, &chart).unwrap_or_else(|e| {
        key.field("unreadable", chart_label.as_bytes());
        key.field("error", e.to_string().as_bytes());
        Vec::new()
    });
    for v in &values {
        if key.file(root, v) {
            escaping.push(v.clone());
        }
    }
    // helm would read through the link, where neither thule nor the cache key can follow.
    if let Some(link) = escaping.first() {
        return Err(escaping_link(link));
    }
    Ok(Prepared {
        tool,
        key: key.finish(),
        job: Job::Tool {
            invocation: inv,
            output: ToolOutputKind::Helm {
                chart_dir: chart,
                chart_name,
            },
            blame: Blame {
                tool: "helm",
                file: chart_label,
                fix: "fix the chart template or the values named in helm's error".to_owned(),
            },
        },
    })
}

/// `--set key=value` arguments in key order, each value escaped so helm reads exactly one
/// value (helm splits unescaped commas into several assignments).
pub(crate) fn set_args(set: &BTreeMap<String, String>) -> Vec<String> {
    set.iter()
        .flat_map(|(k, v)| {
            let v = v.replace('\\', r"\\").replace(',', r"\,");
            ["--set".to_owned(), format!("{k}={v}")]
        })
        .collect()
}

fn chart_name(chart_yaml: &[u8]) -> Option<String> {
    let docs =
        thule_core::yaml::parse_stream(chart_yaml, "Chart.yaml", &ParseOptions::default()).ok()?;
    docs.first()?.value.get("name")?.as_str().map(str::to_owned)
}

pub(crate) fn parse_output(
    project: &ProjectConfig,
    label: &str,
    stdout: &[u8],
    chart_dir: &Path,
    chart_name: &str,
) -> Result<Objects, RenderError> {
    let docs = thule_core::yaml::parse_stream(stdout, label, &ParseOptions::default())
        .map_err(|source| RenderError::Yaml { source })?;
    // `# Source: chart/templates/x.yaml` comments, by line number (1-based).
    let text = String::from_utf8_lossy(stdout);
    let sources: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter_map(|(i, l)| l.strip_prefix("# Source: ").map(|s| (i + 1, s.trim())))
        .collect();
    let (mut objects, mut notes) = (Vec::new(), Vec::new());
    let mut per_source: BTreeMap<String, usize> = BTreeMap::new();
    for doc in docs {
        if doc.value.is_null() {
            continue;
        }
        let template = sources
            .iter()
            .take_while(|(line, _)| *line < doc.start.line)
            .last()
            .map(|(_, s)| *s);
        let origin = match template {
            Some(t) => {
                let path = match t.split_once('/') {
                    Some((name, rest)) if name == chart_name => rel_label(&chart_dir.join(rest)),
                    _ => t.to_owned(),
                };
                let n = per_source.entry(path.clone()).or_default();
                let document = *n;
                *n += 1;
                Origin {
                    project: project.name.clone(),
                    source: path,
                    document,
                    line: 0,
                }
            }
            None => Origin {
                project: project.name.clone(),
                source: label.to_owned(),
                document: doc.index,
                line: doc.start.line,
            },
        };
        collect_value(doc.value, origin, &mut objects, &mut notes)?;
    }
    Ok((objects, notes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_values_are_escaped_and_in_key_order() {
        let set = BTreeMap::from([
            ("b.c".to_owned(), r"x,y\z".to_owned()),
            ("a".to_owned(), "1".to_owned()),
        ]);
        assert_eq!(set_args(&set), ["--set", "a=1", "--set", r"b.c=x\,y\\z"]);
    }

    #[test]
    fn chart_name_comes_from_chart_yaml() {
        assert_eq!(
            chart_name(b"apiVersion: v2\nname: web\nversion: 0.1.0\n").as_deref(),
            Some("web")
        );
        assert_eq!(chart_name(b"apiVersion: v2\n"), None);
    }
}
