//! # thule-vcs
//!
//! The merge-request side of thule: posting one plan per merge request on GitLab, GitHub,
//! Gitea/Forgejo and Bitbucket, superseding the older ones, and setting a commit status.
//!
//! - [`model`]: forges, repositories, merge requests, comments, commit statuses.
//! - [`provider`]: the [`Provider`] seam, the primitives every forge offers (one adapter per
//!   forge, behind the features `gitlab`, `github`, `gitea`, `bitbucket`).
//! - [`marker`]: the hidden marker that identifies thule's own plan comments.
//! - [`supersede`]: the pure planner from existing comments and new parts to operations.
//! - [`publish`]: [`Publisher`], which runs that plan over any [`Provider`].
//! - [`split`]: packing a long plan into ordered parts under a forge's size limit, never
//!   truncating and never breaking a code fence or a `<details>` section.
//! - [`error`]: [`VcsError`], with a kind a caller can act on.
//! - [`http`]: the HTTP client the adapters share (auth, `User-Agent`, typed errors, bounded
//!   retries honouring `Retry-After` and rate-limit resets).
//! - `testing` (feature `testing`): a loopback HTTP server that logs every request, and fakes
//!   of GitLab and GitHub on it (`testing::gitlab`, `testing::github`), for tests.
//! - [`inbound`]: webhook deliveries in: detect the forge, authenticate the raw body,
//!   normalize it into one event, read comment commands.

#[cfg(feature = "bitbucket")]
pub mod bitbucket;
pub mod error;
#[cfg(feature = "gitea")]
pub mod gitea;
#[cfg(feature = "github")]
pub mod github;
#[cfg(feature = "gitlab")]
pub mod gitlab;
pub mod http;
pub mod inbound;
pub mod marker;
pub mod model;
pub mod provider;
pub mod publish;
pub mod split;
pub mod supersede;
#[cfg(feature = "testing")]
pub mod testing;

pub use error::{ErrorKind, VcsError};
pub use inbound::{
    AuthConfig, AuthError, Command, Delivery, Event, EventKind, Headers, Inbound, ParseError,
    Trigger,
};
pub use model::{
    Actor, ChangedPath, Comment, CommentHandle, CommitStatus, MergeRequest, MrRef, MrState,
    Permission, ProviderKind, RepoRef, StatusState,
};
pub use provider::{Capabilities, Provider, SupersedeStyle};
pub use publish::{Published, Publisher};
pub use split::{is_balanced, split_markdown};

/// GitHub's limit on the body of an issue or pull-request comment, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// GitLab's limit on the body of a note, in characters.
pub const GITLAB_NOTE_LIMIT: usize = 1_000_000;
/// Bitbucket Data Center's limit on a comment, in characters.
pub const BITBUCKET_DC_COMMENT_LIMIT: usize = 32_768;
