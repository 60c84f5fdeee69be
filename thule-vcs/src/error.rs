//! Errors of forge calls, with a kind a caller can act on.

use std::time::SystemTime;

use crate::model::ProviderKind;

/// What went wrong, in terms a caller can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// 401: the token is missing, wrong or expired.
    Unauthorized,
    /// 403 (not a rate limit): the token may not do this.
    Forbidden,
    /// 404: the repository, merge request or comment does not exist (or is hidden from the
    /// token).
    NotFound,
    /// 429, or 403 with an exhausted rate limit; retry after `reset` when known.
    RateLimited {
        /// When the limit resets, if the forge said.
        reset: Option<SystemTime>,
    },
    /// Any other refusal (4xx, or 5xx after the retries).
    Rejected {
        /// The HTTP status.
        status: u16,
    },
    /// The forge could not be reached or answered something unreadable.
    Transport,
    /// The forge cannot do this (minimize on GitLab).
    Unsupported,
}

/// A failed forge call. Its message never holds a token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{provider}: {action}: {message}")]
pub struct VcsError {
    /// Which forge.
    pub provider: ProviderKind,
    /// What thule was doing (`listing comments of group/app!7`).
    pub action: String,
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The forge's message, or the transport's.
    pub message: String,
}

impl VcsError {
    /// A new error.
    pub fn new(
        provider: ProviderKind,
        action: impl Into<String>,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            provider,
            action: action.into(),
            kind,
            message: message.into(),
        }
    }

    /// Whether retrying later may succeed (rate limits, 5xx, transport).
    pub fn is_transient(&self) -> bool {
        match &self.kind {
            ErrorKind::RateLimited { .. } | ErrorKind::Transport => true,
            ErrorKind::Rejected { status } => *status >= 500,
            _ => false,
        }
    }
}

/// The result of a forge call.
pub type Result<T, E = VcsError> = std::result::Result<T, E>;
