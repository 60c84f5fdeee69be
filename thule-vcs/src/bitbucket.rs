//! The Bitbucket adapters (feature `bitbucket`): [`BitbucketCloud`] (API 2.0) and
//! [`BitbucketDataCenter`] (Data Center / Server, REST 1.0).
//!
//! Bitbucket cannot hide a comment, and its Markdown does not render `<details>`, so older
//! plans are edited into a one-line "Superseded by" stub ([`SupersedeStyle::EditStub`]).
//!
//! [`SupersedeStyle::EditStub`]: crate::provider::SupersedeStyle::EditStub

mod cloud;
mod datacenter;

pub use cloud::{BitbucketCloud, CloudAuth, DEFAULT_COMMENT_LIMIT};
pub use datacenter::{BitbucketDataCenter, DataCenterAuth};

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ErrorKind, Result, VcsError};
use crate::model::{ProviderKind, StatusState};

/// The status description length thule keeps to on Bitbucket.
pub const STATUS_DESCRIPTION_LIMIT: usize = 255;

/// The longest build-status key Bitbucket Cloud accepts, in characters.
pub const STATUS_KEY_LIMIT: usize = 40;

/// Pages read at most from one list, against a server that never says "last page".
const MAX_PAGES: usize = 10_000;

/// Bitbucket's word for a build state (Cloud and Data Center share them).
fn state_word(state: StatusState) -> &'static str {
    match state {
        StatusState::Pending => "INPROGRESS",
        StatusState::Success => "SUCCESSFUL",
        StatusState::Failure | StatusState::Error => "FAILED",
    }
}

/// A build-status key from a status context: at most [`STATUS_KEY_LIMIT`] characters.
fn status_key(context: &str) -> String {
    context.chars().take(STATUS_KEY_LIMIT).collect()
}

/// One URL path segment, percent-encoded except for unreserved characters.
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A `a/b` repository path as URL path segments.
fn encode_path(path: &str) -> String {
    path.split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Decode `value` as `T`, or a [`ErrorKind::Transport`] error naming `what` and serde's
/// account of the missing or mistyped field.
fn decode<T: DeserializeOwned>(
    provider: ProviderKind,
    action: &str,
    what: &str,
    value: Value,
) -> Result<T> {
    serde_json::from_value(value).map_err(|e| {
        VcsError::new(
            provider,
            action,
            ErrorKind::Transport,
            format!("unexpected {what} in the answer: {e}"),
        )
    })
}

/// A [`ErrorKind::Transport`] error: the forge answered something thule cannot use.
fn unexpected(provider: ProviderKind, action: &str, message: impl Into<String>) -> VcsError {
    VcsError::new(provider, action, ErrorKind::Transport, message)
}

/// The first 12 characters of a SHA, for messages.
fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_cut_and_states_mapped() {
        assert_eq!(status_key(&"k".repeat(50)).len(), 40);
        assert_eq!(status_key("thule/plan"), "thule/plan");
        assert_eq!(state_word(StatusState::Pending), "INPROGRESS");
        assert_eq!(state_word(StatusState::Error), "FAILED");
        assert_eq!(encode_path("~ALICE/my repo"), "~ALICE/my%20repo");
    }
}
