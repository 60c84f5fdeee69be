//! The merge-request side: the [`VcsPublisher`] seam.
//!
//! A publisher posts thule's plan as one comment on a merge request and marks its earlier plan
//! comments superseded. GitLab and GitHub implementations live in `thule-vcs`.

/// Which merge request (or pull request) a plan belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeRequestRef {
    /// Project path (`group/repo`) or numeric id, as the provider names it.
    pub project: String,
    /// MR iid / PR number.
    pub number: u64,
    /// The head commit the plan was computed for.
    pub head_sha: String,
}

/// A published comment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedComment {
    /// Provider id of the comment.
    pub id: String,
    /// Ids of earlier thule comments that were marked superseded.
    pub superseded: Vec<String>,
}

/// A failure to publish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The provider refused the request (status and message).
    #[error("{provider} answered {status}: {message}")]
    Rejected {
        /// `gitlab`, `github`, …
        provider: String,
        /// HTTP status.
        status: u16,
        /// The provider's message.
        message: String,
    },
    /// Transport failure.
    #[error("{0}")]
    Backend(String),
}

/// Posts plans on merge requests.
#[async_trait::async_trait]
pub trait VcsPublisher: Send + Sync {
    /// Post `parts` (the plan, split under the provider's size limit, in order) as the current
    /// plan for `mr`, and mark earlier plan comments superseded.
    ///
    /// # Errors
    /// When the provider rejects a request or cannot be reached.
    async fn publish_plan(
        &self,
        mr: &MergeRequestRef,
        parts: &[String],
    ) -> Result<PublishedComment, PublishError>;
}
