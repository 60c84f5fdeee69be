//! The request headers of a webhook delivery: case-insensitive names, values as sent.

use std::fmt;

/// Header names whose values are secrets or signatures; [`Headers`]'s `Debug` hides them.
const REDACTED: &[&str] = &[
    "x-gitlab-token",
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-hub-signature",
    "x-hub-signature-256",
    "x-gitea-signature",
    "x-forgejo-signature",
    "x-gogs-signature",
    "webhook-signature",
];

/// The headers of one delivery. Names compare case-insensitively; values are kept as sent
/// and read with surrounding whitespace trimmed. A name may occur more than once.
///
/// `Debug` prints every name but hides the values of secret-bearing headers
/// (`X-Gitlab-Token`, `Authorization`, the signature headers).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    /// `(lowercase name, value)`, in arrival order.
    entries: Vec<(String, String)>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Headers from `(name, value)` pairs, in order.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut headers = Self::new();
        for (name, value) in pairs {
            headers.append(name, value);
        }
        headers
    }

    /// Add one header (after any others of the same name).
    pub fn append(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let mut name = name.into();
        name.make_ascii_lowercase();
        self.entries.push((name, value.into()));
    }

    /// The first value of `name` (any case), trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// The first value of `name`, trimmed, or `None` when it is absent or empty.
    pub fn get_non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    /// How many times `name` occurs.
    pub fn count(&self, name: &str) -> usize {
        self.entries
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    /// Whether `name` occurs at all.
    pub fn contains(&self, name: &str) -> bool {
        self.count(name) > 0
    }

    /// Every `(lowercase name, value)` pair, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of header lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::from_pairs(iter)
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in &self.entries {
            if REDACTED.contains(&name.as_str()) {
                map.entry(name, &"<redacted>");
            } else {
                map.entry(name, value);
            }
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_case_insensitive_and_values_trimmed() {
        let h = Headers::from_pairs([("X-GitHub-Event", " pull_request "), ("x-a", "1")]);
        assert_eq!(h.get("x-github-event"), Some("pull_request"));
        assert_eq!(h.get("X-GITHUB-EVENT"), Some("pull_request"));
        assert_eq!(h.get("X-Missing"), None);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn repeated_names_are_counted_and_the_first_wins() {
        let h = Headers::from_pairs([("X-A", "1"), ("x-a", "2"), ("X-B", "")]);
        assert_eq!(h.count("X-A"), 2);
        assert_eq!(h.get("x-a"), Some("1"));
        assert_eq!(h.get("x-b"), Some(""));
        assert_eq!(h.get_non_empty("x-b"), None);
    }

    #[test]
    fn debug_hides_tokens_and_signatures() {
        let h = Headers::from_pairs([
            ("X-Gitlab-Token", "hunter2-token"),
            ("X-Hub-Signature-256", "sha256=abcdef0123"),
            ("webhook-signature", "v1,c2VjcmV0"),
            ("X-Gitlab-Event", "Note Hook"),
        ]);
        let shown = format!("{h:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("abcdef0123"), "{shown}");
        assert!(!shown.contains("c2VjcmV0"), "{shown}");
        assert!(shown.contains("Note Hook"), "{shown}");
        assert!(shown.contains("x-gitlab-token"), "{shown}");
    }
}
