//! What a render produces: per project, either the objects with their metadata or an explicit
//! failure. Nothing is dropped silently: documents that are not Kubernetes objects become
//! [`Note`]s, tool warnings become notes, and a project that cannot render is
//! [`RenderOutcome::Failed`] with a reason that names the file to fix.

use std::fmt;
use std::time::Duration;

use thule_core::Manifest;

use crate::error::{RenderError, chain};
use crate::fingerprint::CacheKey;

/// Something the plan should mention that is not an object or an error: a skipped
/// non-Kubernetes document, a tool warning.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Note {
    /// The file (repository-relative) or tool invocation it is about.
    pub source: String,
    /// What happened, in one line.
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.message)
    }
}

/// The tool that rendered a project, for the plan's render metadata.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ToolInfo {
    /// `yaml` (thule's own reader), `kustomize` or `helm`.
    pub name: String,
    /// The tool's version, e.g. `v4.1.4`, or `v5.6.0 (kubectl v1.33.9)`.
    pub version: String,
}

impl fmt::Display for ToolInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.version)
    }
}

/// Metadata of one successful render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderMeta {
    /// Which tool, which version.
    pub tool: ToolInfo,
    /// The command line that ran (shell-quoted, program file name only), if a tool ran.
    pub command: Option<String>,
    /// Wall-clock time of this render (of the cache lookup when `cached`).
    pub duration: Duration,
    /// Whether the result came from the cache instead of running the tool.
    pub cached: bool,
    /// The content hash of every input (see [`CacheKey`]).
    pub key: CacheKey,
}

/// A successful render: objects in the order the source or tool produced them.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderOutput {
    /// The objects, each with its [`thule_core::Origin`].
    pub objects: Vec<Manifest>,
    /// Skipped documents and tool warnings.
    pub notes: Vec<Note>,
    /// Tool, version, duration, cache status.
    pub meta: RenderMeta,
}

/// A failed render.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderFailure {
    /// What went wrong.
    pub error: RenderError,
    /// The tool, when it was identified before the failure.
    pub tool: Option<ToolInfo>,
    /// Time spent before failing.
    pub duration: Duration,
}

impl RenderFailure {
    /// The full reason in one line, including causes (the failed command and its stderr).
    pub fn reason(&self) -> String {
        chain(&self.error)
    }

    /// Whether the project was not rendered because the run was cancelled
    /// ([`RenderError::Cancelled`]) rather than because something is wrong with it.
    pub fn is_cancelled(&self) -> bool {
        self.error.is_cancelled()
    }
}

/// The outcome of rendering one project.
#[derive(Clone, Debug, PartialEq)]
pub enum RenderOutcome {
    /// Rendered.
    Rendered(RenderOutput),
    /// Not rendered; the plan must say so and why.
    Failed(RenderFailure),
}

/// One project's render result, labelled with the project name.
#[derive(Clone, Debug, PartialEq)]
pub struct ProjectRender {
    /// The project's name.
    pub project: String,
    /// Rendered or failed.
    pub outcome: RenderOutcome,
}

impl ProjectRender {
    /// A successful render of `objects` by `tool` (no notes, not cached), for renderers that
    /// are not [`crate::RenderEngine`]: an embedder's own or a test's.
    pub fn rendered(project: &str, objects: Vec<Manifest>, tool: ToolInfo) -> Self {
        Self {
            project: project.to_owned(),
            outcome: RenderOutcome::Rendered(RenderOutput {
                objects,
                notes: Vec::new(),
                meta: RenderMeta {
                    tool,
                    command: None,
                    duration: Duration::ZERO,
                    cached: false,
                    key: CacheKey([0; 32]),
                },
            }),
        }
    }

    /// The output when the render succeeded.
    pub fn output(&self) -> Option<&RenderOutput> {
        match &self.outcome {
            RenderOutcome::Rendered(o) => Some(o),
            RenderOutcome::Failed(_) => None,
        }
    }

    /// The failure when the render failed.
    pub fn failure(&self) -> Option<&RenderFailure> {
        match &self.outcome {
            RenderOutcome::Rendered(_) => None,
            RenderOutcome::Failed(f) => Some(f),
        }
    }

    /// Whether the render succeeded.
    pub fn is_rendered(&self) -> bool {
        matches!(self.outcome, RenderOutcome::Rendered(_))
    }

    /// Whether the render failed only because the run was cancelled (see
    /// [`RenderFailure::is_cancelled`]).
    pub fn is_cancelled(&self) -> bool {
        self.failure().is_some_and(RenderFailure::is_cancelled)
    }
}
