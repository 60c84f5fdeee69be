//! Error types: [`ToolError`] for one external process, [`RenderError`] for one project.
//!
//! Messages describe one layer each (lowercase, no trailing period) and never repeat their
//! `#[source]`; [`chain`] joins a whole chain into the one-line reason the plan shows.

use std::time::Duration;

use thule_core::{ManifestError, YamlError};

/// Why running an external tool failed. Every variant names the command line that ran,
/// shell-quoted, so the message can be pasted into a terminal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    /// The program does not exist (or is not executable).
    #[error("`{program}` was not found (running `{command}`)")]
    NotFound {
        /// The command line.
        command: String,
        /// The program as configured.
        program: String,
    },
    /// The process could not be started, or its output could not be read.
    #[error("could not run `{command}`: {message}")]
    Io {
        /// The command line.
        command: String,
        /// The operating-system error.
        message: String,
    },
    /// The process ran longer than its timeout and was killed.
    #[error(
        "`{command}` did not finish within {timeout:?} and was killed{}",
        stderr_suffix(stderr)
    )]
    TimedOut {
        /// The command line.
        command: String,
        /// The timeout that expired.
        timeout: Duration,
        /// What the process wrote to stderr before it was killed.
        stderr: String,
    },
    /// The process exited unsuccessfully.
    #[error("`{command}` exited with {status}{}", stderr_suffix(stderr))]
    Failed {
        /// The command line.
        command: String,
        /// `exit status 1`, `signal 9`, …
        status: String,
        /// Everything the process wrote to stderr.
        stderr: String,
    },
    /// The run was cancelled ([`thule_core::cancel::CancelToken`]): the process was killed,
    /// or never started.
    #[error("`{command}` was cancelled")]
    Cancelled {
        /// The command line.
        command: String,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!(": {trimmed}")
    }
}

impl ToolError {
    /// The command line this error is about.
    pub fn command(&self) -> &str {
        match self {
            Self::NotFound { command, .. }
            | Self::Io { command, .. }
            | Self::TimedOut { command, .. }
            | Self::Failed { command, .. }
            | Self::Cancelled { command } => command,
        }
    }

    /// Whether the tool was stopped (or not started) because the run was cancelled, rather
    /// than failing on its own.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled { .. })
    }

    /// The captured stderr, if the process ran.
    pub fn stderr(&self) -> Option<&str> {
        match self {
            Self::TimedOut { stderr, .. } | Self::Failed { stderr, .. } => Some(stderr),
            Self::NotFound { .. } | Self::Io { .. } | Self::Cancelled { .. } => None,
        }
    }

    /// Replace every occurrence of `from` in the captured stderr and command with `to`
    /// (used to turn absolute checkout paths into repository-relative ones).
    #[must_use]
    pub(crate) fn replace_text(self, from: &str, to: &str) -> Self {
        if from.is_empty() {
            return self;
        }
        let r = |s: String| s.replace(from, to);
        match self {
            Self::NotFound { command, program } => Self::NotFound {
                command: r(command),
                program,
            },
            Self::Io { command, message } => Self::Io {
                command: r(command),
                message: r(message),
            },
            Self::TimedOut {
                command,
                timeout,
                stderr,
            } => Self::TimedOut {
                command: r(command),
                timeout,
                stderr: r(stderr),
            },
            Self::Failed {
                command,
                status,
                stderr,
            } => Self::Failed {
                command: r(command),
                status,
                stderr: r(stderr),
            },
            Self::Cancelled { command } => Self::Cancelled {
                command: r(command),
            },
        }
    }
}

/// Why one project could not be rendered. Each message names the file to look at and says
/// what to fix; [`chain`] gives the full reason including causes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The configured render path does not exist.
    #[error("`{path}` does not exist; fix `{setting}` in `{config}`")]
    MissingPath {
        /// The repository-relative path that is missing.
        path: String,
        /// The setting that names it (`render.path`, `render.helm.valuesFiles`, …).
        setting: &'static str,
        /// The project file that configured it.
        config: String,
    },
    /// A path from the configuration leaves the repository.
    #[error("`{path}` is not a relative path inside the repository; fix `{config}`")]
    PathOutsideRepo {
        /// The offending path.
        path: String,
        /// The project file that configured it.
        config: String,
    },
    /// A file could not be read.
    #[error("cannot read `{path}`: {message}")]
    Read {
        /// Repository-relative path.
        path: String,
        /// The operating-system error.
        message: String,
    },
    /// A YAML file (or a tool's output) is malformed.
    #[error("malformed YAML; fix the syntax at the position shown")]
    Yaml {
        /// The parser's error, which names the file, line and column.
        #[source]
        source: YamlError,
    },
    /// A document looks like a Kubernetes object but lacks an identity field.
    #[error("invalid Kubernetes object")]
    Manifest {
        /// What is missing, and where.
        #[source]
        source: ManifestError,
    },
    /// The Helm chart directory is not a local chart.
    #[error(
        "`{chart}` is not a local Helm chart (no `Chart.yaml`); thule renders local charts \
         only, so vendor the chart into the repository and fix `render.helm.chart` in `{config}`"
    )]
    NotALocalChart {
        /// Repository-relative chart path.
        chart: String,
        /// The project file.
        config: String,
    },
    /// The kustomize directory has no kustomization file.
    #[error("`{dir}` has no `kustomization.yaml`; add one or fix `render.path` in `{config}`")]
    NoKustomization {
        /// Repository-relative directory.
        dir: String,
        /// The project file.
        config: String,
    },
    /// The tool binary could not be run at all (missing, not executable).
    #[error(
        "`{tool}` is not available; install it (`scripts/install-tools.sh` installs the pinned \
         versions into `.tools/bin`) or configure its path"
    )]
    ToolUnavailable {
        /// `helm`, `kustomize`, …
        tool: &'static str,
        /// Why.
        #[source]
        source: Box<ToolError>,
    },
    /// The tool ran and failed on this project's input.
    #[error("{tool} could not render `{file}`; {fix}")]
    Tool {
        /// `helm`, `kustomize`.
        tool: &'static str,
        /// The repository-relative file to look at.
        file: String,
        /// What to fix.
        fix: String,
        /// The failed invocation with its stderr.
        #[source]
        source: Box<ToolError>,
    },
    /// The tool printed something that is not a stream of Kubernetes objects.
    #[error("output of `{command}` cannot be read; this is a tool problem, not yours")]
    ToolOutput {
        /// The command line.
        command: String,
        /// Why.
        #[source]
        source: Box<RenderError>,
    },
    /// The render mode is not handled by this renderer.
    #[error(
        "render mode `{mode}` is not supported by thule-render yet; fix `render.mode` in `{config}`"
    )]
    UnsupportedMode {
        /// The mode.
        mode: String,
        /// The project file.
        config: String,
    },
    /// The run was cancelled before this project finished rendering. Nothing is wrong with the
    /// project; [`crate::RenderFailure::is_cancelled`] tells this apart from a real failure.
    #[error("not rendered: the run was cancelled")]
    Cancelled {
        /// The tool invocation that was stopped, when one was running.
        #[source]
        source: Option<Box<ToolError>>,
    },
    /// The renderer panicked (a thule bug); the other projects are unaffected.
    #[error("internal error while rendering (a thule bug, please report it): {message}")]
    Internal {
        /// The panic message.
        message: String,
    },
}

impl RenderError {
    /// Whether this is [`RenderError::Cancelled`]: the run was stopped, the project itself
    /// did not fail.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Cancelled { .. })
    }
}

/// A convenient alias for results of this crate.
pub type Result<T, E = RenderError> = std::result::Result<T, E>;

/// Join an error and all its sources into one line: `outer: cause: root cause`.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        out.push_str(": ");
        out.push_str(&e.to_string());
        next = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_joins_every_layer_once() {
        let e = RenderError::Tool {
            tool: "kustomize",
            file: "apps/kustomization.yaml".into(),
            fix: "fix the kustomization".into(),
            source: Box::new(ToolError::Failed {
                command: "kubectl kustomize apps".into(),
                status: "exit status 1".into(),
                stderr: "Error: boom\n".into(),
            }),
        };
        assert_eq!(
            chain(&e),
            "kustomize could not render `apps/kustomization.yaml`; fix the kustomization: \
             `kubectl kustomize apps` exited with exit status 1: Error: boom"
        );
    }

    #[test]
    fn replace_text_rewrites_command_and_stderr() {
        let e = ToolError::Failed {
            command: "helm template x /repo/c".into(),
            status: "exit status 1".into(),
            stderr: "Error: /repo/c/templates/a.yaml: bad".into(),
        }
        .replace_text("/repo/", "");
        assert_eq!(e.command(), "helm template x c");
        assert_eq!(e.stderr(), Some("Error: c/templates/a.yaml: bad"));
    }
}
