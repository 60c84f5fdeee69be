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
//! - `datacenter`: REST 1.0. The fake names the authenticated user in `X-AUSERNAME` and
//!   `X-AUSERID` on every answer, lists comments through the pull request's activities
//!   (newest first, paged with `start`, `limit`, `isLastPage`, `nextPageStart`, its page size
//!   capped below what is asked), versions every comment and answers a stale version with
//!   409, demands `X-Atlassian-Token: no-check` on writes, refuses comments over 32,768
//!   characters and build statuses without a `url`.

#![cfg(feature = "bitbucket")]

mod common;

#[path = "bitbucket/cloud.rs"]
mod cloud;
#[path = "bitbucket/datacenter.rs"]
mod datacenter;
