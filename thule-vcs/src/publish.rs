//! [`Publisher`]: publishes a plan's parts on a merge request over any [`Provider`], by the
//! rules of [`crate::supersede`], and sets the commit status.

use crate::error::Result;
use crate::model::{Actor, CommentHandle, CommitStatus, MrRef, RepoRef};
use crate::provider::{Capabilities, Provider, SupersedeStyle};
use crate::supersede::{Op, plan_ops, superseded_body};

/// Room kept in every comment for the marker line and, when the comment is later
/// superseded, the one-line pointer and `<details>` wrapper around it.
pub const COMMENT_RESERVE: usize = 1_000;

/// What a publication did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Parts posted.
    pub created: Vec<CommentHandle>,
    /// Parts edited in place (same head SHA).
    pub updated: Vec<CommentHandle>,
    /// Parts already right (same head SHA, same body).
    pub unchanged: usize,
    /// Older thule comments superseded.
    pub superseded: Vec<CommentHandle>,
    /// A link to the first part of the current plan, when the forge gives one.
    pub url: Option<String>,
}

/// Publishes plans as thule's account on one forge.
pub struct Publisher<P> {
    provider: P,
    me: Actor,
    caps: Capabilities,
}

impl<P: Provider> Publisher<P> {
    /// A publisher acting as the token's own account (asked once with
    /// [`Provider::whoami`]).
    ///
    /// # Errors
    /// When the forge cannot say who the token is.
    pub async fn new(provider: P) -> Result<Self> {
        let me = provider.whoami().await?;
        Ok(Self::with_identity(provider, me))
    }

    /// A publisher that recognises `me`'s comments as thule's (for tokens that cannot ask
    /// who they are).
    pub fn with_identity(provider: P, me: Actor) -> Self {
        let caps = provider.capabilities();
        Self { provider, me, caps }
    }

    /// The account thule's comments are recognised by.
    pub fn identity(&self) -> &Actor {
        &self.me
    }

    /// The provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The most characters a part may have, so that its marker and a later superseded
    /// wrapper still fit the forge's limit: split plans with this.
    pub fn part_limit(&self) -> usize {
        self.caps.max_comment_chars.saturating_sub(COMMENT_RESERVE)
    }

    /// Publish `parts` (in order, each under [`Publisher::part_limit`]) as the current plan of
    /// `mr` at head `sha`: post or edit the parts, then supersede every older plan part.
    ///
    /// # Errors
    /// The first failed forge call. A repeated call finishes what a failed one left.
    pub async fn publish(&self, mr: &MrRef, sha: &str, parts: &[String]) -> Result<Published> {
        let existing = self.provider.list_comments(mr).await?;
        let ops = plan_ops(&self.me, mr, sha, parts, &existing);
        let mut out = Published {
            unchanged: parts.len(),
            ..Published::default()
        };
        let mut first: Option<(usize, Option<String>)> = None;
        let note_first =
            |first: &mut Option<(usize, Option<String>)>, part: usize, url: &Option<String>| {
                if first.as_ref().is_none_or(|(p, _)| part < *p) {
                    *first = Some((part, url.clone()));
                }
            };
        for c in &existing {
            if let Some(m) = crate::supersede::thule_marker(c, &self.me, mr)
                && m.sha == sha
                && m.part == 1
                && !c.minimized
                && m.state == crate::marker::MarkState::Plan
            {
                note_first(&mut first, 1, &c.handle.url);
            }
        }
        for op in &ops {
            match op {
                Op::Create { part, body } => {
                    let handle = self.provider.create_comment(mr, body).await?;
                    note_first(&mut first, *part, &handle.url);
                    out.created.push(handle);
                    out.unchanged -= 1;
                }
                Op::Update { handle, part, body } => {
                    let handle = self.provider.update_comment(mr, handle, body).await?;
                    note_first(&mut first, *part, &handle.url);
                    out.updated.push(handle);
                    out.unchanged -= 1;
                }
                Op::Supersede {
                    handle,
                    marker,
                    old_body,
                } => {
                    let link = first.as_ref().and_then(|(_, url)| url.as_deref());
                    match self.caps.supersede {
                        SupersedeStyle::Minimize => {
                            self.provider.minimize_comment(mr, handle).await?;
                        }
                        style => {
                            let body = superseded_body(style, marker, old_body, sha, link);
                            self.provider.update_comment(mr, handle, &body).await?;
                        }
                    }
                    out.superseded.push(handle.clone());
                }
            }
        }
        out.url = first.and_then(|(_, url)| url);
        Ok(out)
    }

    /// Set a commit status on `sha`, its description cut to the forge's limit.
    ///
    /// # Errors
    /// When the forge refuses it.
    pub async fn set_status(&self, repo: &RepoRef, sha: &str, status: &CommitStatus) -> Result<()> {
        let mut status = status.clone();
        status.description = one_line(&status.description, self.caps.max_status_description);
        self.provider.set_status(repo, sha, &status).await
    }
}

/// `text` on one line, at most `max` characters (an ellipsis marks a cut).
pub fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_one_line_under_the_limit() {
        assert_eq!(one_line("a\n  b\tc", 140), "a b c");
        let long = "x".repeat(300);
        let cut = one_line(&long, 140);
        assert_eq!(cut.chars().count(), 140);
        assert!(cut.ends_with('…'));
    }
}
