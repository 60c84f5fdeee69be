//! The provider seam: the primitives every forge offers, one implementation per forge.
//!
//! Policy (which comment to edit, which to supersede and how, what status to set) is not
//! here: [`crate::supersede`] plans it purely and [`crate::publish::Publisher`] runs the plan
//! over any [`Provider`], so no adapter rewrites it.

use crate::error::{ErrorKind, Result, VcsError};
use crate::model::{
    Actor, ChangedPath, Comment, CommentHandle, CommitStatus, MergeRequest, MrRef, Permission,
    ProviderKind, RepoRef,
};

/// How a forge lets thule mark an older plan comment as superseded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SupersedeStyle {
    /// Hide it as outdated and keep its body (GitHub's GraphQL `minimizeComment`).
    Minimize,
    /// Rewrite it into a one-line "Superseded by <link>" with the old plan collapsed in
    /// `<details>` (GitLab, Gitea/Forgejo).
    EditCollapsed,
    /// Rewrite it into a one-line "Superseded by <link>" and drop the old plan (Bitbucket,
    /// which does not render `<details>`).
    EditStub,
}

/// What a forge can do, as far as publishing cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// The longest comment body the forge accepts, in characters.
    pub max_comment_chars: usize,
    /// How older plans are superseded.
    pub supersede: SupersedeStyle,
    /// The longest commit-status description the forge accepts, in characters.
    pub max_status_description: usize,
}

/// The primitives of one forge. Implementations read every page of paginated lists and
/// return comments oldest first.
#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    /// Which forge.
    fn kind(&self) -> ProviderKind;

    /// What it can do.
    fn capabilities(&self) -> Capabilities;

    /// The account the token acts as (thule's own comments are recognised by it).
    ///
    /// # Errors
    /// A [`VcsError`] when the forge refuses or cannot be reached.
    async fn whoami(&self) -> Result<Actor>;

    /// The merge request: head and base, branches, author, labels, draft, fork.
    ///
    /// # Errors
    /// As [`Provider::whoami`].
    async fn merge_request(&self, mr: &MrRef) -> Result<MergeRequest>;

    /// Every changed path of the merge request.
    ///
    /// # Errors
    /// As [`Provider::whoami`].
    async fn changed_paths(&self, mr: &MrRef) -> Result<Vec<ChangedPath>>;

    /// Every comment of the merge request (all pages), oldest first.
    ///
    /// # Errors
    /// As [`Provider::whoami`].
    async fn list_comments(&self, mr: &MrRef) -> Result<Vec<Comment>>;

    /// Post a comment.
    ///
    /// # Errors
    /// As [`Provider::whoami`].
    async fn create_comment(&self, mr: &MrRef, body: &str) -> Result<CommentHandle>;

    /// Replace a comment's body.
    ///
    /// # Errors
    /// As [`Provider::whoami`].
    async fn update_comment(
        &self,
        mr: &MrRef,
        comment: &CommentHandle,
        body: &str,
    ) -> Result<CommentHandle>;

    /// Delete a comment.
    ///
    /// # Errors
    /// As [`Provider::whoami`].
    async fn delete_comment(&self, mr: &MrRef, comment: &CommentHandle) -> Result<()>;

    /// Hide a comment as outdated, keeping its body. Only forges whose
    /// [`Capabilities::supersede`] is [`SupersedeStyle::Minimize`] implement it.
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] by default.
    async fn minimize_comment(&self, mr: &MrRef, comment: &CommentHandle) -> Result<()> {
        let _ = comment;
        Err(VcsError::new(
            self.kind(),
            format!("minimizing a comment on {mr}"),
            ErrorKind::Unsupported,
            "this forge cannot hide comments",
        ))
    }

    /// Set a commit status on `sha`.
    ///
    /// # Errors
    /// As [`Provider::whoami`].
    async fn set_status(&self, repo: &RepoRef, sha: &str, status: &CommitStatus) -> Result<()>;

    /// What `user` may do in `repo`, asked of the forge's permission API (a webhook's own
    /// claims are not enough to run a command).
    ///
    /// # Errors
    /// [`ErrorKind::Unsupported`] by default (the caller then falls back to its own list).
    async fn permission(&self, repo: &RepoRef, user: &Actor) -> Result<Permission> {
        let _ = user;
        Err(VcsError::new(
            self.kind(),
            format!("reading permissions on {}", repo.path),
            ErrorKind::Unsupported,
            "this adapter cannot read repository permissions",
        ))
    }
}

/// A boxed provider is a provider (so a caller can pick the forge at run time).
#[async_trait::async_trait]
impl<P: Provider + ?Sized> Provider for Box<P> {
    fn kind(&self) -> ProviderKind {
        (**self).kind()
    }

    fn capabilities(&self) -> Capabilities {
        (**self).capabilities()
    }

    async fn whoami(&self) -> Result<Actor> {
        (**self).whoami().await
    }

    async fn merge_request(&self, mr: &MrRef) -> Result<MergeRequest> {
        (**self).merge_request(mr).await
    }

    async fn changed_paths(&self, mr: &MrRef) -> Result<Vec<ChangedPath>> {
        (**self).changed_paths(mr).await
    }

    async fn list_comments(&self, mr: &MrRef) -> Result<Vec<Comment>> {
        (**self).list_comments(mr).await
    }

    async fn create_comment(&self, mr: &MrRef, body: &str) -> Result<CommentHandle> {
        (**self).create_comment(mr, body).await
    }

    async fn update_comment(
        &self,
        mr: &MrRef,
        comment: &CommentHandle,
        body: &str,
    ) -> Result<CommentHandle> {
        (**self).update_comment(mr, comment, body).await
    }

    async fn delete_comment(&self, mr: &MrRef, comment: &CommentHandle) -> Result<()> {
        (**self).delete_comment(mr, comment).await
    }

    async fn minimize_comment(&self, mr: &MrRef, comment: &CommentHandle) -> Result<()> {
        (**self).minimize_comment(mr, comment).await
    }

    async fn set_status(&self, repo: &RepoRef, sha: &str, status: &CommitStatus) -> Result<()> {
        (**self).set_status(repo, sha, status).await
    }

    async fn permission(&self, repo: &RepoRef, user: &Actor) -> Result<Permission> {
        (**self).permission(repo, user).await
    }
}
