//! # thule-vcs
//!
//! Will hold the GitLab and GitHub implementations of [`thule_core::VcsPublisher`]: one plan
//! comment per merge request, earlier plan comments marked superseded
//! (shared/spec/vcs-reference.md).
//!
//! Status: no publisher is implemented yet; no issue of the current milestone asks for one.
//! The crate exists so the workspace has the shape of the design card and so the seam's
//! owner is clear. The CLI prints plans to stdout until a publisher lands.

pub use thule_core::vcs::{MergeRequestRef, PublishError, PublishedComment, VcsPublisher};
