//! Plain YAML: every `.yaml`, `.yml` and `.json` file under the render path, in a
//! deterministic order (see [`crate::fingerprint`]), read with the Kubernetes YAML 1.1 dialect
//! of [`thule_core::yaml`].
//!
//! Hidden files and directories (`.something`) and the project's own `thule.yaml` are not
//! read. Multi-document files are split, `List` kinds are flattened, documents that are not
//! Kubernetes objects are skipped with a [`Note`](crate::Note), and a syntax error fails the project with
//! the file, line and column.

use std::path::{Component, Path, PathBuf};

use thule_core::ParseOptions;
use thule_core::config::ProjectConfig;

use crate::engine::{Job, Objects, Prepared, RenderEngine};
use crate::error::RenderError;
use crate::fingerprint::{Fingerprint, escaping_link, read_in_repo, rel_label, walk_files};
use crate::model::ToolInfo;
use crate::objects::{Source, collect};
use crate::tool::ToolRunner;

/// The extensions read in plain YAML mode.
pub const EXTENSIONS: &[&str] = &["yaml", "yml", "json"];

pub(crate) fn prepare<T: ToolRunner>(
    engine: &RenderEngine<T>,
    project: &ProjectConfig,
) -> Result<Prepared, RenderError> {
    let root = &engine.options.repo_root;
    let path = engine.checked_path(project, &project.render.path)?;
    let abs = root.join(&path);
    let files = if abs.is_dir() {
        let walk = walk_files(root, &path).map_err(|e| RenderError::Read {
            path: rel_label(&path),
            message: e.to_string(),
        })?;
        // A link that leaves the repository is an error when thule would have read it: a
        // manifest file, or a directory that may hold manifests.
        let would_read = |l: &PathBuf| {
            !is_hidden(l, &path) && (has_manifest_extension(l) || root.join(l).is_dir())
        };
        if let Some(link) = walk.escaping.iter().find(|l| would_read(l)) {
            return Err(escaping_link(link));
        }
        walk.files
            .into_iter()
            .filter(|f| is_manifest_file(f, &path, &project.file))
            .collect()
    } else if abs.is_file() {
        vec![path]
    } else {
        return Err(RenderError::MissingPath {
            path: rel_label(&path),
            setting: "render.path",
            config: rel_label(&project.file),
        });
    };
    let tool = ToolInfo {
        name: "yaml".into(),
        version: format!("thule-render {}", env!("CARGO_PKG_VERSION")),
    };
    let mut key = Fingerprint::new("thule-render/yaml/v1");
    key.field("project", project.name.as_bytes());
    key.field("tool", tool.to_string().as_bytes());
    let mut read = Vec::with_capacity(files.len());
    for f in files {
        let bytes = read_in_repo(root, &f).map_err(|e| RenderError::Read {
            path: rel_label(&f),
            message: e.to_string(),
        })?;
        key.field("file", rel_label(&f).as_bytes());
        key.field("bytes", &bytes);
        read.push((f, bytes));
    }
    Ok(Prepared {
        tool,
        key: key.finish(),
        job: Job::Files(read),
    })
}

fn has_manifest_extension(file: &Path) -> bool {
    file.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.contains(&e))
}

fn is_hidden(file: &Path, base: &Path) -> bool {
    file.strip_prefix(base)
        .unwrap_or(file)
        .components()
        .any(|c| matches!(c, Component::Normal(n) if n.to_string_lossy().starts_with('.')))
}

fn is_manifest_file(file: &Path, base: &Path, project_file: &Path) -> bool {
    has_manifest_extension(file) && !is_hidden(file, base) && file != project_file
}

pub(crate) fn parse_files(
    project: &ProjectConfig,
    files: Vec<(PathBuf, Vec<u8>)>,
) -> Result<Objects, RenderError> {
    let (mut objects, mut notes) = (Vec::new(), Vec::new());
    for (path, bytes) in files {
        let label = rel_label(&path);
        let docs = thule_core::yaml::parse_stream(&bytes, &label, &ParseOptions::default())
            .map_err(|source| RenderError::Yaml { source })?;
        let source = Source {
            project: &project.name,
            label,
        };
        collect(docs, &source, &mut objects, &mut notes)?;
    }
    Ok((objects, notes))
}
