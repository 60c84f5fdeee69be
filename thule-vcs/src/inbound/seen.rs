//! The last head seen per merge request, to tell a Bitbucket Cloud push from an edit.

use std::collections::HashMap;

use crate::inbound::event::{Event, Inbound, Trigger};
use crate::model::{MrRef, ProviderKind};

/// The last head commit seen per merge request, bounded (least recently seen forgotten).
///
/// Bitbucket Cloud's `pullrequest:updated` fires for pushes and for title or description
/// edits alike, with no `before`: the only signal is whether the source commit changed
/// since the last delivery for that merge request (Atlantis keeps the same memory).
/// [`SeenHeads::observe`] records the head of every merge-request event and turns such an
/// update whose head did not move into [`Trigger::Other`]. Other forges say what happened,
/// so their events are recorded and left as they are (a redelivered GitHub `synchronize` is
/// a deliberate retry and still plans).
#[derive(Clone, Debug)]
pub struct SeenHeads {
    capacity: usize,
    tick: u64,
    heads: HashMap<MrRef, (String, u64)>,
}

impl SeenHeads {
    /// A memory of at most `capacity` merge requests (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            tick: 0,
            heads: HashMap::new(),
        }
    }

    /// The last head seen for `mr`.
    pub fn head(&self, mr: &MrRef) -> Option<&str> {
        self.heads.get(mr).map(|(h, _)| h.as_str())
    }

    /// How many merge requests it remembers.
    pub fn len(&self) -> usize {
        self.heads.len()
    }

    /// Whether it remembers none.
    pub fn is_empty(&self) -> bool {
        self.heads.is_empty()
    }

    /// Record `inbound`'s head and, for a Bitbucket Cloud update whose head did not move,
    /// downgrade its trigger to [`Trigger::Other`]. Comments are not recorded: a comment can
    /// arrive before the push event that moved the head, and must not hide it.
    pub fn observe(&mut self, inbound: &mut Inbound) {
        let Event::MergeRequest(event) = &mut inbound.event else {
            return;
        };
        let Some(head) = event.head_sha.clone() else {
            return;
        };
        let previous = self.remember(event.mr.clone(), head.clone());
        if event.mr.repo.provider == ProviderKind::BitbucketCloud
            && event.trigger == Trigger::Pushed
            && previous.as_deref() == Some(head.as_str())
        {
            event.trigger = Trigger::Other;
        }
    }

    fn remember(&mut self, mr: MrRef, head: String) -> Option<String> {
        self.tick += 1;
        let previous = self.heads.insert(mr, (head, self.tick)).map(|(h, _)| h);
        if self.heads.len() > self.capacity
            && let Some(oldest) = self
                .heads
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone())
        {
            self.heads.remove(&oldest);
        }
        previous
    }
}

impl Default for SeenHeads {
    /// Ten thousand merge requests.
    fn default() -> Self {
        Self::new(10_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::detect::Delivery;
    use crate::inbound::event::{EventKind, MergeRequestEvent};
    use crate::model::{MrState, RepoRef};

    fn update(provider: ProviderKind, number: u64, head: &str) -> Inbound {
        Inbound {
            delivery: Delivery {
                provider,
                event: "pullrequest:updated".into(),
                id: None,
                hook: None,
                attempt: None,
            },
            sender: None,
            event: Event::MergeRequest(MergeRequestEvent {
                mr: MrRef {
                    repo: RepoRef {
                        provider,
                        path: "ws/repo".into(),
                    },
                    number,
                },
                trigger: Trigger::Pushed,
                action: "pullrequest:updated".into(),
                head_sha: Some(head.into()),
                before_sha: None,
                base_branch: "main".into(),
                head_branch: "feature".into(),
                head_repo: None,
                author: None,
                draft: false,
                labels: vec![],
                state: MrState::Open,
            }),
        }
    }

    fn kind_after(seen: &mut SeenHeads, mut inbound: Inbound) -> EventKind {
        seen.observe(&mut inbound);
        inbound.kind()
    }

    #[test]
    fn an_unchanged_bitbucket_cloud_head_is_an_edit() {
        let mut seen = SeenHeads::default();
        let cloud = ProviderKind::BitbucketCloud;
        assert_eq!(
            kind_after(&mut seen, update(cloud, 1, "aaa")),
            EventKind::Plan
        );
        assert_eq!(
            kind_after(&mut seen, update(cloud, 1, "aaa")),
            EventKind::Ignore
        );
        assert_eq!(
            kind_after(&mut seen, update(cloud, 1, "bbb")),
            EventKind::Plan
        );
        assert_eq!(
            kind_after(&mut seen, update(cloud, 2, "bbb")),
            EventKind::Plan
        );
        assert_eq!(
            seen.head(&MrRef {
                repo: RepoRef {
                    provider: cloud,
                    path: "ws/repo".into()
                },
                number: 1
            }),
            Some("bbb")
        );
    }

    #[test]
    fn other_forges_are_left_alone() {
        let mut seen = SeenHeads::default();
        let gh = ProviderKind::GitHub;
        assert_eq!(kind_after(&mut seen, update(gh, 1, "aaa")), EventKind::Plan);
        assert_eq!(kind_after(&mut seen, update(gh, 1, "aaa")), EventKind::Plan);
    }

    #[test]
    fn the_least_recently_seen_is_forgotten() {
        let mut seen = SeenHeads::new(2);
        let cloud = ProviderKind::BitbucketCloud;
        for n in 1..=3 {
            kind_after(&mut seen, update(cloud, n, "aaa"));
        }
        assert_eq!(seen.len(), 2);
        // MR 1 was forgotten, so the same head plans again.
        assert_eq!(
            kind_after(&mut seen, update(cloud, 1, "aaa")),
            EventKind::Plan
        );
        assert_eq!(
            kind_after(&mut seen, update(cloud, 3, "aaa")),
            EventKind::Ignore
        );
    }
}
