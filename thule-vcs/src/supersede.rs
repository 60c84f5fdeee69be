//! The supersede planner: the comments a merge request has, and a new plan's parts, in;
//! the operations that leave exactly one current plan out. Pure: no I/O, no clock.
//!
//! The rules:
//! - A comment is thule's only when its author is thule's account **and** its first line is a
//!   marker of this merge request ([`crate::marker`]). Nothing else is ever edited, hidden or
//!   deleted, whatever it contains.
//! - Re-publishing the same head SHA edits the parts in place (and does nothing where the body
//!   is already right), so publishing twice, or again after a crash between two calls, leaves
//!   one plan.
//! - A new head SHA posts new parts and supersedes every older part; fewer parts than before
//!   supersede the extra ones; a part posted twice (a crash) keeps its oldest copy.
//! - New parts are posted before old ones are superseded, so a plan stays visible if thule
//!   stops half-way.

use crate::marker::{MarkState, Marker};
use crate::model::{Actor, Comment, CommentHandle, MrRef};
use crate::provider::SupersedeStyle;

/// One operation on the merge request's comments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Post part `part` (from 1) with this body (marker included).
    Create {
        /// The part.
        part: usize,
        /// The body.
        body: String,
    },
    /// Replace the body of this comment, which holds part `part` of the same SHA.
    Update {
        /// The comment.
        handle: CommentHandle,
        /// The part.
        part: usize,
        /// The body.
        body: String,
    },
    /// Supersede this older thule comment ([`superseded_body`] gives the new body for the
    /// editing styles).
    Supersede {
        /// The comment.
        handle: CommentHandle,
        /// Its marker.
        marker: Marker,
        /// Its current body.
        old_body: String,
    },
}

/// A comment's marker when it is thule's, on this merge request.
pub fn thule_marker(comment: &Comment, me: &Actor, mr: &MrRef) -> Option<Marker> {
    if !comment.author.same_as(me) {
        return None;
    }
    Marker::parse(&comment.body).filter(|m| m.is_for(mr))
}

/// Whether a thule comment still counts as a current plan part (not superseded: its marker
/// says `plan` and the forge does not show it minimized).
fn is_current(marker: &Marker, comment: &Comment) -> bool {
    marker.state == MarkState::Plan && !comment.minimized
}

/// The body of part `part` (from 1) of `parts` for `mr` at `sha`: its marker line, then
/// the text.
pub fn part_body(mr: &MrRef, sha: &str, part: usize, parts: usize, text: &str) -> String {
    format!("{}\n{text}", Marker::plan(mr, sha, part, parts))
}

/// Plan the operations that publish `parts` as the current plan for `mr` at `sha`, given the
/// merge request's `existing` comments (oldest first) and thule's own account `me`.
pub fn plan_ops(
    me: &Actor,
    mr: &MrRef,
    sha: &str,
    parts: &[String],
    existing: &[Comment],
) -> Vec<Op> {
    let n = parts.len();
    let mut keep: Vec<Option<&Comment>> = vec![None; n];
    let mut supersede = Vec::new();
    for comment in existing {
        let Some(marker) = thule_marker(comment, me, mr) else {
            continue;
        };
        if !is_current(&marker, comment) {
            continue;
        }
        let slot = (marker.sha == sha && marker.part <= n).then(|| marker.part - 1);
        match slot {
            Some(i) if keep[i].is_none() => keep[i] = Some(comment),
            _ => supersede.push((comment, marker)),
        }
    }
    let mut ops = Vec::new();
    for (i, text) in parts.iter().enumerate() {
        let body = part_body(mr, sha, i + 1, n, text);
        match keep[i] {
            Some(c) if c.body == body => {}
            Some(c) => ops.push(Op::Update {
                handle: c.handle.clone(),
                part: i + 1,
                body,
            }),
            None => ops.push(Op::Create { part: i + 1, body }),
        }
    }
    ops.extend(supersede.into_iter().map(|(c, marker)| Op::Supersede {
        handle: c.handle.clone(),
        marker,
        old_body: c.body.clone(),
    }));
    ops
}

/// The body a superseded comment is edited into (for [`SupersedeStyle::EditCollapsed`] and
/// [`SupersedeStyle::EditStub`]): its marker in the superseded state, one line pointing at
/// the new plan, and, when collapsing, the old plan in `<details>`.
pub fn superseded_body(
    style: SupersedeStyle,
    marker: &Marker,
    old_body: &str,
    new_sha: &str,
    link: Option<&str>,
) -> String {
    let short = |s: &str| s.chars().take(12).collect::<String>();
    let target = match link {
        Some(url) => format!("[the plan for `{}`]({url})", short(new_sha)),
        None => format!("the plan for `{}`", short(new_sha)),
    };
    let head = format!("{}\n**Superseded** by {target}.\n", marker.superseded());
    match style {
        SupersedeStyle::EditCollapsed => {
            let old = old_body.split_once('\n').map_or("", |(_, rest)| rest);
            format!(
                "{head}\n<details><summary>Older thule plan for <code>{}</code> (part {} of {})</summary>\n\n{old}\n\n</details>\n",
                short(&marker.sha),
                marker.part,
                marker.parts
            )
        }
        SupersedeStyle::EditStub | SupersedeStyle::Minimize => head,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;
    use crate::model::{ProviderKind, RepoRef};

    fn mr(number: u64) -> MrRef {
        MrRef {
            repo: RepoRef {
                provider: ProviderKind::GitHub,
                path: "org/app".into(),
            },
            number,
        }
    }

    fn me() -> Actor {
        Actor::login("thule-bot")
    }

    /// Apply `ops` to an in-memory comment list as a forge with `style` would.
    fn apply(
        comments: &mut Vec<Comment>,
        ops: &[Op],
        style: SupersedeStyle,
        sha: &str,
        next_id: &mut u64,
    ) {
        let mut first_new: Option<String> = None;
        for op in ops {
            match op {
                Op::Create { body, .. } => {
                    *next_id += 1;
                    let url = format!("https://forge/c/{next_id}");
                    first_new.get_or_insert(url.clone());
                    comments.push(Comment {
                        handle: CommentHandle {
                            url: Some(url),
                            ..CommentHandle::id(*next_id)
                        },
                        author: me(),
                        body: body.clone(),
                        minimized: false,
                    });
                }
                Op::Update { handle, body, .. } => {
                    let c = comments.iter_mut().find(|c| &c.handle == handle).unwrap();
                    c.body = body.clone();
                }
                Op::Supersede {
                    handle,
                    marker,
                    old_body,
                } => {
                    let c = comments.iter_mut().find(|c| &c.handle == handle).unwrap();
                    assert_eq!(&c.body, old_body);
                    if style == SupersedeStyle::Minimize {
                        c.minimized = true;
                    } else {
                        c.body =
                            superseded_body(style, marker, old_body, sha, first_new.as_deref());
                    }
                }
            }
        }
    }

    /// What an existing comment is, for the generator.
    #[derive(Clone, Debug)]
    enum Kind {
        Plan { sha: u8, part: usize, parts: usize },
        Superseded { sha: u8 },
        MarkerInside,
        OtherMr,
        Text,
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            (0u8..4, 1usize..5, 0usize..4).prop_map(|(sha, parts, p)| Kind::Plan {
                sha,
                part: p % parts + 1,
                parts
            }),
            (0u8..4).prop_map(|sha| Kind::Superseded { sha }),
            Just(Kind::MarkerInside),
            Just(Kind::OtherMr),
            Just(Kind::Text),
        ]
    }

    fn sha(i: u8) -> String {
        format!("{i:x}").repeat(40)
    }

    fn comment(id: u64, mine: bool, minimized: bool, kind: &Kind) -> Comment {
        let body = match kind {
            Kind::Plan {
                sha: s,
                part,
                parts,
            } => part_body(&mr(7), &sha(*s), *part, *parts, "old plan"),
            Kind::Superseded { sha: s } => {
                format!(
                    "{}\nsuperseded",
                    Marker::plan(&mr(7), &sha(*s), 1, 1).superseded()
                )
            }
            Kind::MarkerInside => format!("quote:\n{}", Marker::plan(&mr(7), &sha(0), 1, 1)),
            Kind::OtherMr => part_body(&mr(8), &sha(0), 1, 1, "another MR"),
            Kind::Text => "LGTM".to_owned(),
        };
        Comment {
            handle: CommentHandle::id(id),
            author: if mine { me() } else { Actor::login("alice") },
            body,
            minimized: minimized && matches!(kind, Kind::Plan { .. }),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Whatever the comments, applying the ops leaves exactly one current plan set for
        /// the new SHA, every older thule plan of the MR superseded, and every other comment
        /// untouched; publishing again changes nothing.
        #[test]
        fn one_current_plan_and_nothing_else_touched(
            existing in proptest::collection::vec((any::<bool>(), any::<bool>(), kind()), 0..12),
            new_sha in 0u8..4,
            parts in proptest::collection::vec("[a-z ]{0,12}", 1..5),
            style in prop_oneof![
                Just(SupersedeStyle::Minimize),
                Just(SupersedeStyle::EditCollapsed),
                Just(SupersedeStyle::EditStub)
            ],
        ) {
            let mut comments: Vec<Comment> = existing
                .iter()
                .enumerate()
                .map(|(i, (mine, minimized, k))| comment(i as u64 + 1, *mine, *minimized, k))
                .collect();
            let before = comments.clone();
            let new_sha = sha(new_sha);
            let mut next_id = 1000;
            let ops = plan_ops(&me(), &mr(7), &new_sha, &parts, &comments);
            apply(&mut comments, &ops, style, &new_sha, &mut next_id);

            // Exactly one current part per index, with the new body.
            let mut current: BTreeMap<usize, Vec<&Comment>> = BTreeMap::new();
            for c in &comments {
                if let Some(m) = thule_marker(c, &me(), &mr(7)) && is_current(&m, c) {
                    prop_assert_eq!(&m.sha, &new_sha, "an older plan is still current");
                    current.entry(m.part).or_default().push(c);
                }
            }
            prop_assert_eq!(current.len(), parts.len());
            for (i, text) in parts.iter().enumerate() {
                let cs = &current[&(i + 1)];
                prop_assert_eq!(cs.len(), 1);
                prop_assert_eq!(&cs[0].body, &part_body(&mr(7), &new_sha, i + 1, parts.len(), text));
            }
            // Comments that are not thule's plans of this MR (by the generator's account of
            // them, not by the code under test) are untouched; thule's older plans are
            // superseded.
            for (b, (mine, _, k)) in before.iter().zip(&existing) {
                let after = comments.iter().find(|c| c.handle == b.handle).unwrap();
                let thules = *mine && matches!(k, Kind::Plan { .. } | Kind::Superseded { .. });
                if !thules {
                    prop_assert_eq!(after, b);
                } else if let Kind::Plan { sha: s, .. } = k && sha(*s) != new_sha {
                    let superseded = after.minimized || after.body.starts_with("<!-- thule:superseded ");
                    prop_assert!(superseded, "an older plan part is not superseded: {:?}", after);
                }
            }
            // Idempotent: the same plan again needs no operation.
            prop_assert_eq!(plan_ops(&me(), &mr(7), &new_sha, &parts, &comments), vec![]);
        }
    }

    #[test]
    fn a_new_sha_posts_before_it_supersedes() {
        let old = comment(
            1,
            true,
            false,
            &Kind::Plan {
                sha: 1,
                part: 1,
                parts: 1,
            },
        );
        let ops = plan_ops(&me(), &mr(7), &sha(2), &["new".to_owned()], &[old]);
        assert!(matches!(ops[0], Op::Create { part: 1, .. }));
        assert!(matches!(ops[1], Op::Supersede { .. }));
        let Op::Supersede {
            marker, old_body, ..
        } = &ops[1]
        else {
            unreachable!()
        };
        let body = superseded_body(
            SupersedeStyle::EditCollapsed,
            marker,
            old_body,
            &sha(2),
            Some("https://forge/c/9"),
        );
        assert!(body.starts_with("<!-- thule:superseded v=1"), "{body}");
        assert!(
            body.contains("**Superseded** by [the plan for `222222222222`](https://forge/c/9).")
        );
        assert!(body.contains("<details><summary>Older thule plan"));
        assert!(body.contains("old plan"));
        let stub = superseded_body(SupersedeStyle::EditStub, marker, old_body, &sha(2), None);
        assert!(!stub.contains("old plan"), "{stub}");
    }
}
