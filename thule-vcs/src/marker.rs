//! The hidden marker on the first line of every thule plan comment.
//!
//! ```text
//! <!-- thule:plan v=1 provider=gitlab repo=group/app mr=7 sha=0123…cdef part=2/3 -->
//! <!-- thule:superseded v=1 provider=gitlab repo=group/app mr=7 sha=0123…cdef part=2/3 -->
//! ```
//!
//! A comment is thule's only when its author is thule's own account **and** its first line
//! parses as a marker of this merge request; text that merely contains a marker elsewhere, or
//! a marker in a comment by anyone else, is never acted on. A superseded comment keeps its
//! marker with the `superseded` state, so it is never superseded twice.

use std::fmt;

use crate::model::{MrRef, ProviderKind};

/// The marker format version thule writes and reads.
pub const MARKER_VERSION: u32 = 1;

/// Whether a marked comment is a current plan part or a superseded one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MarkState {
    /// A current plan part.
    Plan,
    /// A part of an older plan, superseded.
    Superseded,
}

/// A parsed marker.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Marker {
    /// Current or superseded.
    pub state: MarkState,
    /// The forge.
    pub provider: ProviderKind,
    /// The repository path.
    pub repo: String,
    /// The merge request number.
    pub mr: u64,
    /// The head SHA the plan was computed for.
    pub sha: String,
    /// This part's position, from 1.
    pub part: usize,
    /// How many parts the plan has.
    pub parts: usize,
}

impl Marker {
    /// The marker of part `part` of `parts` of a plan for `mr` at `sha`.
    pub fn plan(mr: &MrRef, sha: &str, part: usize, parts: usize) -> Self {
        Self {
            state: MarkState::Plan,
            provider: mr.repo.provider,
            repo: mr.repo.path.clone(),
            mr: mr.number,
            sha: sha.to_owned(),
            part,
            parts,
        }
    }

    /// Whether the marker belongs to this merge request.
    pub fn is_for(&self, mr: &MrRef) -> bool {
        self.provider == mr.repo.provider && self.repo == mr.repo.path && self.mr == mr.number
    }

    /// The same marker in the superseded state.
    #[must_use]
    pub fn superseded(&self) -> Self {
        Self {
            state: MarkState::Superseded,
            ..self.clone()
        }
    }

    /// Parse the first line of `body`; `None` unless it is exactly a marker thule writes.
    pub fn parse(body: &str) -> Option<Self> {
        let line = body.lines().next()?.trim_end_matches('\r');
        let inner = line.strip_prefix("<!-- ")?.strip_suffix(" -->")?;
        let mut words = inner.split(' ');
        let state = match words.next()? {
            "thule:plan" => MarkState::Plan,
            "thule:superseded" => MarkState::Superseded,
            _ => return None,
        };
        let mut field = |name: &str| -> Option<&str> {
            let (key, value) = words.next()?.split_once('=')?;
            (key == name && !value.is_empty()).then_some(value)
        };
        if field("v")?.parse::<u32>().ok()? != MARKER_VERSION {
            return None;
        }
        let provider = ProviderKind::parse(field("provider")?)?;
        let repo = field("repo")?.to_owned();
        let mr = field("mr")?.parse().ok()?;
        let sha = field("sha")?.to_owned();
        let (part, parts) = field("part")?.split_once('/')?;
        let (part, parts): (usize, usize) = (part.parse().ok()?, parts.parse().ok()?);
        if words.next().is_some()
            || part == 0
            || part > parts
            || !sha.bytes().all(|b| b.is_ascii_hexdigit())
            || repo.contains("--")
        {
            return None;
        }
        Some(Self {
            state,
            provider,
            repo,
            mr,
            sha,
            part,
            parts,
        })
    }
}

impl fmt::Display for Marker {
    /// The marker line, without a line break.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            MarkState::Plan => "plan",
            MarkState::Superseded => "superseded",
        };
        write!(
            f,
            "<!-- thule:{state} v={MARKER_VERSION} provider={} repo={} mr={} sha={} part={}/{} -->",
            self.provider, self.repo, self.mr, self.sha, self.part, self.parts
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RepoRef;

    fn mr() -> MrRef {
        MrRef {
            repo: RepoRef {
                provider: ProviderKind::GitLab,
                path: "group/app".into(),
            },
            number: 7,
        }
    }

    #[test]
    fn a_marker_reads_back_and_only_exact_markers_parse() {
        let m = Marker::plan(&mr(), "abc123", 2, 3);
        let body = format!("{m}\nthe plan");
        assert_eq!(Marker::parse(&body), Some(m.clone()));
        assert_eq!(
            Marker::parse(&m.superseded().to_string()).map(|m| m.state),
            Some(MarkState::Superseded)
        );
        for bad in [
            format!("hello\n{m}"),
            m.to_string().replace("v=1", "v=2"),
            m.to_string().replace("part=2/3", "part=4/3"),
            m.to_string().replace("part=2/3", "part=0/3"),
            m.to_string().replace("sha=abc123", "sha=xyz"),
            m.to_string().replace(" -->", " extra=1 -->"),
            m.to_string().replace("provider=gitlab", "provider=svn"),
        ] {
            assert_eq!(Marker::parse(&bad), None, "{bad}");
        }
        assert!(m.is_for(&mr()));
    }
}
