//! # thule-vcs
//!
//! The merge-request side of thule.
//!
//! - [`split`]: packing a long plan comment into ordered parts under a provider's size limit,
//!   never truncating and never breaking a code fence or a `<details>` section.
//! - The [`VcsPublisher`] seam (defined in thule-core, re-exported here) is what GitLab and
//!   GitHub publishers will implement: one plan comment per merge request, earlier plan comments
//!   marked superseded (shared/spec/vcs-reference.md). No publisher is implemented yet: no issue
//!   of the current milestone asks for one, and the CLI prints plans to stdout.

pub mod split;

pub use split::{is_balanced, split_markdown};
pub use thule_core::vcs::{MergeRequestRef, PublishError, PublishedComment, VcsPublisher};

/// GitHub's limit on the body of an issue or pull-request comment, in characters.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// GitLab's limit on the body of a note, in characters.
pub const GITLAB_NOTE_LIMIT: usize = 1_000_000;
