//! Reading configuration files with located errors, layering them, and applying MR overrides.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::model::{
    CONFIG_VERSION, ClusterSettings, Layer, ProjectFile, RenderMode, RepoFile, Settings,
};
use super::resolved::{
    CommentConfig, DiffConfig, HelmConfig, PolicyConfig, ProjectConfig, RenderConfig,
};
use crate::repo::{RepoTree, join_in_repo, slash};
use crate::yaml::{self, Document, ParseOptions, YamlError};

/// The project file name.
pub const PROJECT_FILE: &str = "thule.yaml";
/// The repo config file, relative to the repository root.
pub const REPO_FILE: &str = ".thule/config.yaml";

/// A configuration error, located in its file where it has one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The file (repo-relative), or a description of a non-file source such as an MR label.
    pub file: String,
    /// Line, starting at 1; 0 when the source has no lines.
    pub line: usize,
    /// Column, starting at 1; 0 when the source has no lines.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// What to do about it (e.g. the nearest valid key).
    pub hint: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )?;
        } else {
            write!(f, "{}: {}", self.file, self.message)?;
        }
        if let Some(hint) = &self.hint {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl From<YamlError> for ConfigError {
    fn from(e: YamlError) -> Self {
        Self {
            file: e.file,
            line: e.line,
            column: e.column,
            message: e.message,
            hint: None,
        }
    }
}

/// A parsed configuration file that remembers where each value was written.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded<T> {
    /// The typed content.
    pub value: T,
    /// The file, repo-relative.
    pub file: String,
    document: Document,
}

impl<T> Loaded<T> {
    /// An error located at the key holding the value at `pointer` (or its nearest ancestor).
    pub fn error_at(&self, pointer: &str, message: impl Into<String>) -> ConfigError {
        let at = self
            .document
            .nearest_position(pointer)
            .unwrap_or(self.document.start);
        ConfigError {
            file: self.file.clone(),
            line: at.line,
            column: at.column,
            message: message.into(),
            hint: None,
        }
    }

    /// Whether the file sets a value at `pointer`.
    pub fn sets(&self, pointer: &str) -> bool {
        self.document
            .value
            .pointer(pointer)
            .is_some_and(|v| !v.is_null())
    }
}

/// Parse a project file (`thule.yaml`).
///
/// # Errors
/// For YAML errors, empty files, unknown keys, wrong types, bad values and unsupported
/// versions, each naming the file, line and column.
pub fn parse_project_file(bytes: &[u8], file: &str) -> Result<Loaded<ProjectFile>, ConfigError> {
    let loaded: Loaded<ProjectFile> = parse_file(bytes, file)?;
    check_version(&loaded, &loaded.value.version)?;
    Ok(loaded)
}

/// Parse a repo config file (`.thule/config.yaml`) or an org defaults file.
///
/// # Errors
/// As [`parse_project_file`].
pub fn parse_repo_file(bytes: &[u8], file: &str) -> Result<Loaded<RepoFile>, ConfigError> {
    let loaded: Loaded<RepoFile> = parse_file(bytes, file)?;
    check_version(&loaded, &loaded.value.version)?;
    Ok(loaded)
}

/// Parse the webhook service's file (`thule serve --config`).
///
/// # Errors
/// As [`parse_project_file`].
pub fn parse_serve_file(
    bytes: &[u8],
    file: &str,
) -> Result<Loaded<super::serve::ServeFile>, ConfigError> {
    let loaded: Loaded<super::serve::ServeFile> = parse_file(bytes, file)?;
    check_version(&loaded, &loaded.value.version)?;
    Ok(loaded)
}

fn check_version<T>(loaded: &Loaded<T>, version: &str) -> Result<(), ConfigError> {
    if version == CONFIG_VERSION {
        return Ok(());
    }
    let mut e = loaded.error_at("/version", format!("unsupported version `{version}`"));
    e.hint = Some(format!("this thule reads `version: {CONFIG_VERSION}`"));
    Err(e)
}

fn parse_file<T: DeserializeOwned>(bytes: &[u8], file: &str) -> Result<Loaded<T>, ConfigError> {
    let docs = yaml::parse_stream(bytes, file, &ParseOptions::default().with_positions())?;
    let mut docs = docs.into_iter().filter(|d| !d.value.is_null());
    let Some(document) = docs.next() else {
        return Err(ConfigError {
            file: file.to_owned(),
            line: 1,
            column: 1,
            message: "the file is empty".to_owned(),
            hint: Some(format!(
                "a configuration file needs at least `version: {CONFIG_VERSION}`"
            )),
        });
    };
    if let Some(extra) = docs.next() {
        return Err(ConfigError {
            file: file.to_owned(),
            line: extra.start.line,
            column: extra.start.column,
            message: "a configuration file holds one YAML document, this is a second one"
                .to_owned(),
            hint: Some("remove the `---` separator and merge the documents".to_owned()),
        });
    }
    if !document.value.is_object() {
        return Err(ConfigError {
            file: file.to_owned(),
            line: document.start.line,
            column: document.start.column,
            message: "the file must be a mapping of settings".to_owned(),
            hint: Some(format!("start with `version: {CONFIG_VERSION}`")),
        });
    }
    match serde_path_to_error::deserialize::<_, T>(&document.value) {
        Ok(value) => Ok(Loaded {
            value,
            file: file.to_owned(),
            document,
        }),
        Err(e) => {
            let pointer = path_to_pointer(e.path());
            let message = e.inner().to_string();
            let loaded = Loaded {
                value: (),
                file: file.to_owned(),
                document,
            };
            let mut err =
                if message.starts_with("unknown field") || message.starts_with("missing field") {
                    loaded.error_at(&pointer, message.clone())
                } else {
                    // Type and value errors point at the value itself.
                    let at = loaded
                        .document
                        .position(&pointer)
                        .or_else(|| loaded.document.nearest_position(&pointer))
                        .unwrap_or(loaded.document.start);
                    ConfigError {
                        file: file.to_owned(),
                        line: at.line,
                        column: at.column,
                        message: message.clone(),
                        hint: None,
                    }
                };
            let field = slash_path(&pointer);
            if !field.is_empty() {
                err.message = format!("`{field}`: {message}");
            }
            err.hint = suggestion(&message);
            Err(err)
        }
    }
}

fn path_to_pointer(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            serde_path_to_error::Segment::Seq { index } => {
                out.push('/');
                out.push_str(&index.to_string());
            }
            serde_path_to_error::Segment::Map { key } => {
                out.push('/');
                out.push_str(&yaml::escape_pointer_token(key));
            }
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}

fn slash_path(pointer: &str) -> String {
    pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect::<Vec<_>>()
        .join(".")
}

/// From serde's "unknown field `x`, expected one of `a`, `b`" (or "unknown variant"), the
/// nearest valid name as a hint.
fn suggestion(message: &str) -> Option<String> {
    let (head, expected) = message.split_once("expected")?;
    let unknown = head.split('`').nth(1)?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    if candidates.is_empty() {
        return None;
    }
    let best = candidates
        .iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&unknown.to_lowercase(), &c.to_lowercase()),
                *c,
            )
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))?;
    if best.0 >= 0.8 {
        Some(format!("did you mean `{}`?", best.1))
    } else {
        Some(format!("valid here: {}", candidates.join(", ")))
    }
}

/// One MR override: a dotted setting path and a value, from a label or a comment flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MrOverride {
    /// Dotted path in the settings, as written in YAML (`diff.prune`).
    pub key: String,
    /// The value as text; parsed as a YAML scalar.
    pub value: String,
    /// Where it came from, for messages (`label thule:diff.prune=false`).
    pub source: String,
}

impl MrOverride {
    /// Parse `key=value` (as in a label `thule:diff.prune=false` without the prefix, or a
    /// comment flag `--set diff.prune=false`).
    ///
    /// # Errors
    /// When there is no `=`.
    pub fn parse(text: &str, source: &str) -> Result<Self, ConfigError> {
        let Some((key, value)) = text.split_once('=') else {
            return Err(ConfigError {
                file: source.to_owned(),
                line: 0,
                column: 0,
                message: format!("override `{text}` is not `key=value`"),
                hint: Some("write it as e.g. `diff.prune=false`".to_owned()),
            });
        };
        Ok(Self {
            key: key.trim().to_owned(),
            value: value.trim().to_owned(),
            source: source.to_owned(),
        })
    }
}

/// The configuration layers above projects: the org defaults file and the repo file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConfigLayers {
    /// Org/server defaults (lowest).
    pub org: Option<Loaded<RepoFile>>,
    /// The repository's `.thule/config.yaml`.
    pub repo: Option<Loaded<RepoFile>>,
}

impl ConfigLayers {
    /// Read `.thule/config.yaml` from the tree (if present) and take an optional parsed org
    /// defaults file.
    ///
    /// # Errors
    /// When the repo file exists but is invalid.
    pub fn load(tree: &dyn RepoTree, org: Option<Loaded<RepoFile>>) -> Result<Self, ConfigError> {
        let path = Path::new(REPO_FILE);
        let repo = if tree.is_file(path) {
            let bytes = tree.read(path).map_err(|e| ConfigError {
                file: REPO_FILE.to_owned(),
                line: 0,
                column: 0,
                message: format!("cannot read: {e}"),
                hint: None,
            })?;
            Some(parse_repo_file(&bytes, REPO_FILE)?)
        } else {
            None
        };
        Ok(Self { org, repo })
    }

    fn layers(&self) -> impl Iterator<Item = &Loaded<RepoFile>> {
        self.org.iter().chain(self.repo.iter())
    }

    /// Clusters by reference: the repo file's definitions over the org file's.
    pub fn clusters(&self) -> BTreeMap<String, ClusterSettings> {
        let mut out = BTreeMap::new();
        for layer in self.layers() {
            if let Some(c) = &layer.value.clusters {
                out.extend(c.clone());
            }
        }
        out
    }

    /// The MR override allow-list: the repo file's list if it has one, else the org file's.
    pub fn allowed_overrides(&self) -> Vec<String> {
        self.layers()
            .filter_map(|l| l.value.mr_overrides.as_ref().map(|m| m.allow.clone()))
            .last()
            .unwrap_or_default()
    }

    /// Project directory globs (repo file over org file); empty means everywhere.
    pub fn project_globs(&self) -> Vec<String> {
        self.layers()
            .filter_map(|l| l.value.projects.clone())
            .last()
            .unwrap_or_default()
    }

    /// Defaults merged: org < repo.
    pub fn defaults(&self) -> Settings {
        self.layers()
            .filter_map(|l| l.value.defaults.clone())
            .fold(Settings::default(), Layer::layer)
    }
}

/// Apply allow-listed MR overrides to settings.
///
/// # Errors
/// An override whose key is not allow-listed is refused with the reason; a value of the wrong
/// type is an error naming the override.
pub fn apply_overrides(
    settings: Settings,
    overrides: &[MrOverride],
    allowed: &[String],
) -> Result<Settings, ConfigError> {
    if overrides.is_empty() {
        return Ok(settings);
    }
    let mut value = serde_json::to_value(&settings).map_err(|e| ConfigError {
        file: "settings".to_owned(),
        line: 0,
        column: 0,
        message: e.to_string(),
        hint: None,
    })?;
    for o in overrides {
        let refuse = |message: String, hint: Option<String>| ConfigError {
            file: o.source.clone(),
            line: 0,
            column: 0,
            message,
            hint,
        };
        let permitted = allowed.iter().any(|a| {
            a == &o.key
                || a.strip_suffix(".*")
                    .is_some_and(|p| o.key.starts_with(&format!("{p}.")))
        });
        if !permitted {
            let hint = if allowed.is_empty() {
                format!("{REPO_FILE} allows no MR overrides (mrOverrides.allow is empty)")
            } else {
                format!("allowed: {}", allowed.join(", "))
            };
            return Err(refuse(
                format!(
                    "MR override `{}` refused: it is not in mrOverrides.allow of {REPO_FILE}",
                    o.key
                ),
                Some(hint),
            ));
        }
        let parsed = yaml::resolve_plain(&o.value).unwrap_or(Value::String(o.value.clone()));
        let mut candidate = value.clone();
        set_dotted(&mut candidate, &o.key, parsed);
        match serde_path_to_error::deserialize::<_, Settings>(&candidate) {
            Ok(_) => value = candidate,
            Err(first) => {
                // A string setting may look like a number or a bool (`profile=123`).
                let mut as_string = value.clone();
                set_dotted(&mut as_string, &o.key, Value::String(o.value.clone()));
                if serde_path_to_error::deserialize::<_, Settings>(&as_string).is_ok() {
                    value = as_string;
                } else {
                    return Err(refuse(
                        format!("MR override `{}={}`: {}", o.key, o.value, first.inner()),
                        suggestion(&first.inner().to_string()),
                    ));
                }
            }
        }
    }
    serde_json::from_value(value).map_err(|e| ConfigError {
        file: "MR overrides".to_owned(),
        line: 0,
        column: 0,
        message: e.to_string(),
        hint: None,
    })
}

fn set_dotted(root: &mut Value, key: &str, value: Value) {
    let mut node = root;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !node.is_object() {
            *node = Value::Object(serde_json::Map::new());
        }
        let map = node.as_object_mut().expect("made an object above");
        if i == parts.len() - 1 {
            map.insert((*part).to_owned(), value);
            return;
        }
        node = map.entry((*part).to_owned()).or_insert(Value::Null);
    }
}

const SEVERITIES: &[&str] = &["info", "low", "medium", "high", "critical", "blocker"];

/// Resolve one project: layer org defaults < repo defaults < project file < MR overrides, fill
/// in defaults and check references (clusterRef, paths inside the repository).
///
/// `file` is the project file's repo-relative path.
///
/// # Errors
/// A [`ConfigError`] located at the offending key.
pub fn resolve_project(
    layers: &ConfigLayers,
    project: &Loaded<ProjectFile>,
    file: &Path,
    tree: &dyn RepoTree,
    overrides: &[MrOverride],
) -> Result<ProjectConfig, ConfigError> {
    let dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let settings = layers.defaults().layer(project.value.settings());
    let settings = apply_overrides(settings, overrides, &layers.allowed_overrides())?;

    // Where was a setting written? The project file first, then the repo and org defaults.
    let locate = |project_ptr: &str, message: String| -> ConfigError {
        if project.sets(project_ptr) {
            return project.error_at(project_ptr, message);
        }
        let defaults_ptr = format!("/defaults{project_ptr}");
        for layer in layers.repo.iter().chain(layers.org.iter()) {
            if layer.sets(&defaults_ptr) {
                return layer.error_at(&defaults_ptr, message);
            }
        }
        let dotted = slash_path(project_ptr);
        if let Some(o) = overrides.iter().find(|o| o.key == dotted) {
            return ConfigError {
                file: o.source.clone(),
                line: 0,
                column: 0,
                message,
                hint: None,
            };
        }
        // A default nobody wrote: point at the project file.
        project.error_at(project_ptr, message)
    };

    let clusters = layers.clusters();
    if let Some(cluster) = &settings.cluster_ref
        && !clusters.contains_key(cluster)
    {
        {
            let mut e = locate(
                "/clusterRef",
                format!("clusterRef `{cluster}` is not defined in {REPO_FILE} `clusters`"),
            );
            e.hint = Some(if clusters.is_empty() {
                format!("define it under `clusters:` in {REPO_FILE}")
            } else {
                let names: Vec<_> = clusters.keys().map(String::as_str).collect();
                nearest(cluster, &names).map_or_else(
                    || format!("defined clusters: {}", names.join(", ")),
                    |n| format!("did you mean `{n}`?"),
                )
            });
            return Err(e);
        }
    }

    let in_repo = |ptr: &str, rel: &str| -> Result<PathBuf, ConfigError> {
        let path = join_in_repo(&dir, rel).map_err(|e| {
            let mut err = locate(ptr, format!("path {e}"));
            err.hint = Some(
                "paths are relative to the project directory and must stay inside the repository"
                    .to_owned(),
            );
            err
        })?;
        if !tree.resolves_inside(&path) {
            let mut err = locate(
                ptr,
                format!("path `{rel}` goes through a symbolic link that leaves the repository"),
            );
            err.hint = Some("point at a directory inside the repository".to_owned());
            return Err(err);
        }
        Ok(path)
    };

    let render = settings.render.clone().unwrap_or_default();
    let mode = render.mode.unwrap_or_default();
    let path = in_repo("/render/path", render.path.as_deref().unwrap_or("."))?;
    let helm = render.helm.clone().unwrap_or_default();
    let name = project.value.project.clone().unwrap_or_else(|| {
        if dir.as_os_str().is_empty() {
            "root".to_owned()
        } else {
            slash(&dir)
        }
    });
    let chart = match &helm.chart {
        Some(c) => in_repo("/render/helm/chart", c)?,
        None => path.clone(),
    };
    let mut values_files = Vec::new();
    for (i, v) in helm
        .values_files
        .clone()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let ptr = format!("/render/helm/valuesFiles/{i}");
        let p = in_repo(&ptr, v)?;
        if mode == RenderMode::Helm && !tree.is_file(&p) {
            let mut e = locate(&ptr, format!("values file `{v}` does not exist"));
            e.hint = Some(format!("expected it at {}", slash(&p)));
            return Err(e);
        }
        values_files.push(p);
    }
    if mode != RenderMode::Helm && !tree.is_dir(&path) && !tree.is_file(&path) {
        let mut e = locate(
            "/render/path",
            format!("render path `{}` does not exist", slash(&path)),
        );
        e.hint = Some("render.path is relative to the project directory".to_owned());
        return Err(e);
    }

    let mut when_modified = Vec::new();
    for (i, g) in project
        .value
        .when_modified
        .clone()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let ptr = format!("/whenModified/{i}");
        let joined = join_in_repo(&dir, g).map_err(|e| {
            let mut err = project.error_at(&ptr, format!("glob {e}"));
            err.hint = Some("globs are relative to the project directory".to_owned());
            err
        })?;
        let glob = slash(&joined);
        globset::Glob::new(&glob)
            .map_err(|e| project.error_at(&ptr, format!("invalid glob `{g}`: {}", e.kind())))?;
        when_modified.push(glob);
    }

    let policy = settings.policy.clone().unwrap_or_default();
    let rules = policy.rules.clone().unwrap_or_default();
    for (id, rule) in &rules {
        if let Some(sev) = &rule.severity
            && !SEVERITIES.contains(&sev.as_str())
        {
            {
                let ptr = format!("/policy/rules/{id}/severity");
                let mut e = locate(&ptr, format!("unknown severity `{sev}`"));
                e.hint = Some(nearest(sev, SEVERITIES).map_or_else(
                    || format!("valid: {}", SEVERITIES.join(", ")),
                    |n| format!("did you mean `{n}`?"),
                ));
                return Err(e);
            }
        }
    }

    let diff = settings.diff.clone().unwrap_or_default();
    let comment = settings.comment.clone().unwrap_or_default();
    Ok(ProjectConfig {
        name: name.clone(),
        dir,
        file: file.to_path_buf(),
        cluster_ref: settings.cluster_ref.clone(),
        namespace: settings.namespace.clone(),
        render: RenderConfig {
            mode,
            path,
            kube_version: render.kube_version.clone(),
            api_versions: render.api_versions.clone().unwrap_or_default(),
            helm: HelmConfig {
                release_name: helm.release_name.clone().unwrap_or(name),
                chart,
                values_files,
                set: helm.set.clone().unwrap_or_default(),
                include_crds: helm.include_crds.unwrap_or(false),
            },
            kustomize_enable_helm: render
                .kustomize
                .as_ref()
                .and_then(|k| k.enable_helm)
                .unwrap_or(false),
        },
        diff: DiffConfig {
            prune: diff.prune.unwrap_or(true),
            applier: diff.applier,
            ignore_fields: diff.ignore_fields.clone().unwrap_or_default(),
            ignore: diff.ignore.clone().unwrap_or_default(),
            owner_labels: diff.owner_labels.clone().unwrap_or_default(),
        },
        policy: PolicyConfig {
            profile: policy
                .profile
                .clone()
                .unwrap_or_else(|| "baseline".to_owned()),
            rules,
        },
        comment: CommentConfig {
            max_resource_details: comment.max_resource_details.unwrap_or(150),
            expand_drift: comment.expand_drift.unwrap_or(false),
            status_on: comment.status_on.unwrap_or_default(),
        },
        when_modified,
    })
}

fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(s, _)| *s >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
