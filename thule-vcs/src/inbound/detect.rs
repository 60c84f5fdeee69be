//! Which forge sent a delivery, from its headers alone.

use crate::inbound::auth::AuthError;
use crate::inbound::headers::Headers;
use crate::model::ProviderKind;

/// What the headers say about a delivery: the forge, the event, and the ids to dedupe on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    /// The forge.
    pub provider: ProviderKind,
    /// The event header's value as sent: `pull_request`, `Merge Request Hook`,
    /// `pullrequest:created`, `pr:opened`.
    pub event: String,
    /// The delivery id to dedupe on (vcs-reference §6.4), identical across the forge's
    /// retries and manual redeliveries: GitHub `X-GitHub-Delivery`; GitLab
    /// `Idempotency-Key`, else `X-Gitlab-Event-UUID`; Gitea `X-Gitea-Delivery`; Forgejo
    /// `X-Forgejo-Delivery`, else `X-Gitea-Delivery`; Bitbucket Cloud `X-Request-UUID`;
    /// Bitbucket Data Center `X-Request-Id`. `None` when the forge did not send it.
    pub id: Option<String>,
    /// The webhook configuration that fired, when the forge says: GitHub `X-GitHub-Hook-ID`,
    /// GitLab `X-Gitlab-Webhook-UUID`, Bitbucket Cloud `X-Hook-UUID`.
    pub hook: Option<String>,
    /// The attempt number (Bitbucket Cloud `X-Attempt-Number`), when sent.
    pub attempt: Option<u32>,
}

/// Which forge sent the delivery. Gitea and Forgejo also send `X-GitHub-Event`, and
/// Forgejo also sends `X-Gitea-Event`, so the most specific header wins:
/// `X-Forgejo-Event`, `X-Gitea-Event`, `X-Gitlab-Event`, `X-GitHub-Event`, then Bitbucket's
/// `X-Event-Key` (`pullrequest:*` is Cloud, `pr:*` and `diagnostics:*` are Data Center,
/// anything else is decided by Cloud's `X-Request-UUID`/`X-Hook-UUID` or Data Center's
/// `X-Request-Id`).
///
/// # Errors
/// [`AuthError::UnknownProvider`] when no forge's event header is present (a 401: thule
/// cannot tell how to authenticate it).
pub fn detect(headers: &Headers) -> Result<Delivery, AuthError> {
    let id = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| headers.get_non_empty(n))
            .map(str::to_owned)
    };
    let delivery = |provider, event: &str, ids: &[&str], hook: &[&str]| Delivery {
        provider,
        event: event.to_owned(),
        id: id(ids),
        hook: id(hook),
        attempt: headers
            .get_non_empty("x-attempt-number")
            .and_then(|a| a.parse().ok()),
    };

    if let Some(event) = headers.get_non_empty("x-forgejo-event") {
        return Ok(delivery(
            ProviderKind::Forgejo,
            event,
            &["x-forgejo-delivery", "x-gitea-delivery"],
            &[],
        ));
    }
    if let Some(event) = headers.get_non_empty("x-gitea-event") {
        return Ok(delivery(
            ProviderKind::Gitea,
            event,
            &["x-gitea-delivery"],
            &[],
        ));
    }
    if let Some(event) = headers.get_non_empty("x-gitlab-event") {
        return Ok(delivery(
            ProviderKind::GitLab,
            event,
            &["idempotency-key", "x-gitlab-event-uuid"],
            &["x-gitlab-webhook-uuid"],
        ));
    }
    if let Some(event) = headers.get_non_empty("x-github-event") {
        return Ok(delivery(
            ProviderKind::GitHub,
            event,
            &["x-github-delivery"],
            &["x-github-hook-id"],
        ));
    }
    if let Some(key) = headers.get_non_empty("x-event-key") {
        let cloud_ids = headers.contains("x-request-uuid") || headers.contains("x-hook-uuid");
        let dc = if key.starts_with("pullrequest:") {
            false
        } else if key.starts_with("pr:") || key.starts_with("diagnostics:") {
            true
        } else if cloud_ids {
            false
        } else if headers.contains("x-request-id") {
            true
        } else {
            return Err(AuthError::UnknownProvider);
        };
        return Ok(if dc {
            delivery(
                ProviderKind::BitbucketDataCenter,
                key,
                &["x-request-id"],
                &[],
            )
        } else {
            delivery(
                ProviderKind::BitbucketCloud,
                key,
                &["x-request-uuid"],
                &["x-hook-uuid"],
            )
        });
    }
    Err(AuthError::UnknownProvider)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(pairs: &[(&str, &str)]) -> Option<ProviderKind> {
        detect(&Headers::from_pairs(pairs.iter().copied()))
            .ok()
            .map(|d| d.provider)
    }

    #[test]
    fn each_forge_is_told_by_its_own_header() {
        assert_eq!(
            provider(&[("X-GitHub-Event", "pull_request")]),
            Some(ProviderKind::GitHub)
        );
        assert_eq!(
            provider(&[("X-Gitlab-Event", "Note Hook")]),
            Some(ProviderKind::GitLab)
        );
        assert_eq!(
            provider(&[
                ("X-GitHub-Event", "pull_request"),
                ("X-Gitea-Event", "pull_request")
            ]),
            Some(ProviderKind::Gitea)
        );
        assert_eq!(
            provider(&[
                ("X-GitHub-Event", "pull_request"),
                ("X-Gitea-Event", "pull_request"),
                ("X-Forgejo-Event", "pull_request"),
            ]),
            Some(ProviderKind::Forgejo)
        );
    }

    #[test]
    fn bitbucket_cloud_and_data_center_are_told_apart() {
        assert_eq!(
            provider(&[("X-Event-Key", "pullrequest:created")]),
            Some(ProviderKind::BitbucketCloud)
        );
        assert_eq!(
            provider(&[("X-Event-Key", "pr:opened"), ("X-Request-Id", "1")]),
            Some(ProviderKind::BitbucketDataCenter)
        );
        assert_eq!(
            provider(&[("X-Event-Key", "diagnostics:ping")]),
            Some(ProviderKind::BitbucketDataCenter)
        );
        assert_eq!(
            provider(&[("X-Event-Key", "repo:push"), ("X-Hook-UUID", "{x}")]),
            Some(ProviderKind::BitbucketCloud)
        );
        assert_eq!(
            provider(&[("X-Event-Key", "repo:refs_changed"), ("X-Request-Id", "r")]),
            Some(ProviderKind::BitbucketDataCenter)
        );
        assert_eq!(provider(&[("X-Event-Key", "repo:refs_changed")]), None);
    }

    #[test]
    fn no_event_header_is_an_unknown_provider() {
        assert_eq!(
            detect(&Headers::from_pairs([("Content-Type", "application/json")])),
            Err(AuthError::UnknownProvider)
        );
        assert_eq!(
            detect(&Headers::from_pairs([("X-GitHub-Event", "  ")])),
            Err(AuthError::UnknownProvider)
        );
    }

    #[test]
    fn delivery_ids_follow_the_dedupe_rules() {
        let d = detect(&Headers::from_pairs([
            ("X-Gitlab-Event", "Merge Request Hook"),
            ("X-Gitlab-Event-UUID", "event-uuid"),
            ("Idempotency-Key", "idem"),
            ("X-Gitlab-Webhook-UUID", "hook"),
        ]))
        .unwrap();
        assert_eq!(d.id.as_deref(), Some("idem"));
        assert_eq!(d.hook.as_deref(), Some("hook"));
        let d = detect(&Headers::from_pairs([
            ("X-Gitlab-Event", "Merge Request Hook"),
            ("X-Gitlab-Event-UUID", "event-uuid"),
        ]))
        .unwrap();
        assert_eq!(d.id.as_deref(), Some("event-uuid"));
        let d = detect(&Headers::from_pairs([
            ("X-Event-Key", "pullrequest:updated"),
            ("X-Request-UUID", "req"),
            ("X-Attempt-Number", "2"),
        ]))
        .unwrap();
        assert_eq!(
            (d.id.as_deref(), d.attempt, d.event.as_str()),
            (Some("req"), Some(2), "pullrequest:updated")
        );
        let d = detect(&Headers::from_pairs([
            ("X-Forgejo-Event", "pull_request"),
            ("X-Gitea-Event", "pull_request"),
            ("X-Gitea-Delivery", "g"),
        ]))
        .unwrap();
        assert_eq!(d.id.as_deref(), Some("g"));
    }
}
