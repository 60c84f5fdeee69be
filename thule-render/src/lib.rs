//! # thule-render
//!
//! Turns a thule project ([`ProjectConfig`]) into the Kubernetes objects it declares, with
//! the same tools its users run: plain YAML files, `kustomize build` (or `kubectl kustomize`)
//! and `helm template`. This is the only thule crate that starts processes.
//!
//! ## Using it
//!
//! ```no_run
//! use thule_render::{ProcessRunner, RenderEngine, RenderOptions, Renderer, Toolchain};
//! # fn demo(projects: &[thule_core::config::ProjectConfig]) {
//! let options = RenderOptions::new("/path/to/checkout")
//!     .toolchain(Toolchain::from_dir("/path/to/checkout/.tools/bin".as_ref()));
//! let engine = RenderEngine::new(ProcessRunner::new(), options);
//! for result in engine.render_all(projects) {
//!     match result.output() {
//!         Some(out) => println!("{}: {} objects ({})", result.project, out.objects.len(), out.meta.tool),
//!         None => println!("{}: failed: {}", result.project, result.failure().map(|f| f.reason()).unwrap_or_default()),
//!     }
//! }
//! # }
//! ```
//!
//! ## Seams
//!
//! - [`ToolRunner`] ([`tool`]): the one place a process is started. [`ProcessRunner`] is the
//!   real one (cleared environment, captured stderr, timeout); [`CountingRunner`] wraps any
//!   runner and records what ran. A [`ToolInvocation`] prints as a shell-quoted command line,
//!   and every [`ToolError`] carries that line.
//! - [`Renderer`] ([`engine`]): "render this project". [`RenderEngine`] is the production
//!   implementation; the CLI's pipeline is generic over the trait.
//! - [`RenderCache`] ([`cache`]): successful renders by content hash ([`CacheKey`]) of all
//!   inputs — files read, options, values, tool versions. [`MemoryCache`] is the default;
//!   [`DirCache`] persists entries on disk so repeated CLI runs skip unchanged projects.
//!
//! ## Guarantees
//!
//! - Every object carries its [`thule_core::Origin`]: project, and the file (plain YAML, Helm
//!   template via `# Source:`) or tool invocation (kustomize) it came from.
//! - Partial failure is explicit: each project is [`RenderOutcome::Rendered`] (objects,
//!   notes, tool name, version and duration) or [`RenderOutcome::Failed`] with a reason
//!   naming the file to fix. One failure never stops the others; documents that are not
//!   objects, objects defined twice and tool warnings are reported as [`Note`]s, never
//!   dropped silently.
//! - [`Renderer::render_all`] renders projects in parallel on plain threads, bounded by the
//!   number of cores (configurable), and keeps input order.
//! - A run is stoppable: once the [`thule_core::cancel::CancelToken`] given to
//!   [`RenderOptions::cancel_token`] is cancelled, running tools are killed within
//!   milliseconds (with their process group, on Unix), and every project not finished fails
//!   with [`RenderError::Cancelled`] without starting anything; [`RenderFailure::is_cancelled`]
//!   tells it from a real failure.
//! - Tools run with a cleared environment and proxies pointing at a closed port, so a render
//!   cannot depend on the user's shell or reach the network; kustomize runs with load
//!   restrictions on and plugins off, helm renders local charts only. A project whose
//!   inputs (manifests, chart files, kustomize inputs) include a symbolic link that leaves
//!   the repository fails, whatever its kind: the tool would read a file the merge request
//!   does not show, and the cache key could not follow it. thule never reads a non-regular
//!   file.
//!
//! Rendering is synchronous: tools are processes, and the work is CPU- and process-bound. An
//! async caller runs [`Renderer::render_all`] on a blocking thread.
//!
//! The tools themselves come from `scripts/install-tools.sh` (pinned helm v4.1.4 and kubectl
//! v1.33.9 with kustomize v5.6.0, into `.tools/bin`); see [`Toolchain::from_dir`].
//!
//! [`ProjectConfig`]: thule_core::config::ProjectConfig

pub mod cache;
pub mod engine;
pub mod error;
pub mod fingerprint;
pub mod helm;
pub mod kustomize;
pub mod model;
mod objects;
pub mod plain;
pub mod tool;

pub use cache::{DirCache, MemoryCache, RenderCache};
pub use engine::{
    KustomizeTool, RenderEngine, RenderOptions, Renderer, Toolchain, default_jobs, render_parallel,
};
pub use error::{RenderError, Result, ToolError, chain};
pub use fingerprint::CacheKey;
pub use model::{
    Note, ProjectRender, RenderFailure, RenderMeta, RenderOutcome, RenderOutput, ToolInfo,
};
pub use tool::{CountingRunner, ProcessRunner, ToolInvocation, ToolOutput, ToolRunner};
