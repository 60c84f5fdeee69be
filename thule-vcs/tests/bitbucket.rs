//! The Bitbucket adapters, driven by the real [`thule_vcs::Publisher`], against loopback HTTP
//! servers that speak Bitbucket's real REST APIs with the real payload shapes: no real
//! Bitbucket can run here.
//!
//! - `cloud`: API 2.0. The fake pages lists as Bitbucket does (`values`, `page`, `pagelen`,
//!   `size`, an absolute `next`; 10 comments a page by default, 500 diffstat entries), keeps
//!   deleted comments in the list with `deleted: true`, names pull-request commits by
//!   12-character short hashes and resolves them at `/commit/{hash}`, redirects a pull
//!   request's diffstat to the repository's, and refuses a build status without a `url` or
//!   with a key over 40 characters.

mod common;

#[path = "bitbucket/cloud.rs"]
mod cloud;
