//! Kustomize: `kubectl kustomize DIR` or `kustomize build DIR` (see [`KustomizeTool`]).
//!
//! The invocation always passes `--load-restrictor LoadRestrictionsRootOnly` (kustomize's
//! default, stated so a changed default cannot widen it), never enables exec or container
//! plugins (`--enable-alpha-plugins`, `--enable-exec`, `--network` are never passed), and
//! passes `--enable-helm` (with `--helm-command` set to the configured helm, and the
//! project's kube version and API versions) only when the project sets
//! `render.kustomize.enableHelm`.
//!
//! [`KustomizeTool`]: crate::KustomizeTool

use std::path::Path;

use thule_core::ParseOptions;
use thule_core::config::ProjectConfig;

use crate::engine::{Blame, Job, KustomizeTool, Objects, Prepared, RenderEngine, ToolOutputKind};
use crate::error::RenderError;
use crate::fingerprint::{
    Fingerprint, KUSTOMIZATION_FILES, escaping_link, hash_tree, kustomize_inputs, rel_label,
};
use crate::model::ToolInfo;
use crate::objects::{Source, collect};
use crate::tool::ToolRunner;

pub(crate) fn prepare<T: ToolRunner>(
    engine: &RenderEngine<T>,
    project: &ProjectConfig,
) -> Result<Prepared, RenderError> {
    let root = &engine.options.repo_root;
    let config = rel_label(&project.file);
    let dir = engine.checked_path(project, &project.render.path)?;
    if !root.join(&dir).is_dir() {
        let e = RenderError::MissingPath {
            path: rel_label(&dir),
            setting: "render.path",
            config,
        };
        return Err(e);
    }
    let Some(kfile) = KUSTOMIZATION_FILES
        .iter()
        .find(|n| root.join(&dir).join(n).is_file())
    else {
        let e = RenderError::NoKustomization {
            dir: rel_label(&dir),
            config,
        };
        return Err(e);
    };
    let version = engine.kustomize_version()?;
    let tool = ToolInfo {
        name: "kustomize".into(),
        version,
    };

    let (program, sub) = match &engine.options.toolchain.kustomize {
        KustomizeTool::Kubectl(p) => (p, "kustomize"),
        KustomizeTool::Standalone(p) => (p, "build"),
    };
    let mut inv = engine.invocation(program).args([
        sub,
        &rel_label(&dir),
        "--load-restrictor",
        "LoadRestrictionsRootOnly",
    ]);
    let mut key = Fingerprint::new("thule-render/kustomize/v1");
    key.field("project", project.name.as_bytes());
    key.field("tool", tool.to_string().as_bytes());
    if project.render.kustomize_enable_helm {
        let chain = &engine.options.toolchain;
        let helm = chain.kustomize_helm.as_ref().unwrap_or(&chain.helm);
        if chain.kustomize_helm.is_none() {
            let helm_version = engine.helm_version()?;
            key.field("helm", helm_version.as_bytes());
        } else {
            // A separate helm for inflation: identify it by path, size and modification
            // time (hashing a 60 MB binary on every render would cost more than it saves).
            key.field("helm-program", helm.to_string_lossy().as_bytes());
            if let Ok(m) = std::fs::metadata(helm) {
                key.field(
                    "helm-stat",
                    format!("{} {:?}", m.len(), m.modified().ok()).as_bytes(),
                );
            }
        }
        inv = inv.args(["--enable-helm", "--helm-command", &helm.to_string_lossy()]);
        if let Some(v) = &project.render.kube_version {
            inv = inv.args(["--helm-kube-version", v]);
        }
        for a in &project.render.api_versions {
            inv = inv.args(["--helm-api-versions", a]);
        }
    }
    key.field("invocation", inv.label().as_bytes());
    for input in kustomize_inputs(root, &dir) {
        match hash_tree(&mut key, root, &input) {
            // kustomize would read through the link, where neither thule nor the cache key
            // can follow.
            Ok(escaping) => {
                if let Some(link) = escaping.first() {
                    return Err(escaping_link(link));
                }
            }
            Err(e) => {
                key.field("unreadable", rel_label(&input).as_bytes());
                key.field("error", e.to_string().as_bytes());
            }
        }
    }
    Ok(Prepared {
        tool,
        key: key.finish(),
        job: Job::Tool {
            invocation: inv,
            output: ToolOutputKind::Kustomize,
            blame: Blame {
                tool: "kustomize",
                file: rel_label(&Path::new(&dir).join(kfile)),
                fix: "fix the kustomization or the file named in kustomize's error".to_owned(),
            },
        },
    })
}

pub(crate) fn parse_output(
    project: &ProjectConfig,
    label: &str,
    stdout: &[u8],
) -> Result<Objects, RenderError> {
    let docs = thule_core::yaml::parse_stream(stdout, label, &ParseOptions::default())
        .map_err(|source| RenderError::Yaml { source })?;
    let (mut objects, mut notes) = (Vec::new(), Vec::new());
    let source = Source {
        project: &project.name,
        label: label.to_owned(),
    };
    collect(docs, &source, &mut objects, &mut notes)?;
    Ok((objects, notes))
}
