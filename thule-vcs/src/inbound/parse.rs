//! From an authenticated body to an [`Inbound`] event: the dispatch over forges, the typed
//! [`ParseError`], and helpers shared by the per-forge readers.

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::error::Category;

use crate::inbound::detect::Delivery;
use crate::inbound::event::{Event, Inbound};
use crate::inbound::{bitbucket, github, gitlab};
use crate::model::{Actor, ProviderKind};

/// Why an (authenticated) body could not be read. Messages name the field, never a value
/// from the body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// No body at all.
    #[error("the request body is empty")]
    Empty,
    /// A form-encoded body (`payload=…`): the hook must send `application/json`.
    #[error("the request body is form-encoded; configure the webhook to send application/json")]
    FormEncoded,
    /// The JSON ends early: a truncated body.
    #[error("the request body is truncated: the JSON ends at line {line}, column {column}")]
    Truncated {
        /// 1-based line where it ends.
        line: usize,
        /// 1-based column where it ends.
        column: usize,
    },
    /// Not JSON (or nested deeper than the reader allows).
    #[error("the request body is not valid JSON (line {line}, column {column})")]
    Syntax {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
    },
    /// A field thule needs is absent or null.
    #[error("the payload has no `{field}`")]
    MissingField {
        /// Its dotted path (`pull_request.head.ref`).
        field: String,
    },
    /// A field thule needs has the wrong type.
    #[error("the payload's `{field}` is not {expected}")]
    InvalidField {
        /// Its dotted path (`.` for the body itself).
        field: String,
        /// What thule expected there (`u64`, `a string`).
        expected: String,
    },
}

/// Read an authenticated `body` as `delivery`'s forge sends it.
///
/// Unknown event types and actions are not errors: they normalize to
/// [`Event::Ignored`] (or a merge-request event with [`crate::inbound::Trigger::Other`]).
/// The body is still checked to be well-formed JSON, so a truncated delivery is refused
/// whatever its event.
///
/// # Errors
/// A [`ParseError`] when the body is empty, form-encoded, not JSON, truncated, or lacks a
/// field thule needs for that event.
pub fn normalize(delivery: &Delivery, body: &[u8]) -> Result<Inbound, ParseError> {
    if delivery.provider == ProviderKind::BitbucketDataCenter
        && delivery.event == "diagnostics:ping"
    {
        // Sent unsigned: nothing in it is trusted or read.
        return Ok(Inbound {
            delivery: delivery.clone(),
            sender: None,
            event: Event::Ping,
        });
    }
    precheck(body)?;
    let (sender, event) = match delivery.provider {
        ProviderKind::GitHub | ProviderKind::Gitea | ProviderKind::Forgejo => {
            github::normalize(delivery, body)?
        }
        ProviderKind::GitLab => gitlab::normalize(delivery, body)?,
        ProviderKind::BitbucketCloud => bitbucket::cloud(delivery, body)?,
        ProviderKind::BitbucketDataCenter => bitbucket::data_center(delivery, body)?,
    };
    Ok(Inbound {
        delivery: delivery.clone(),
        sender,
        event,
    })
}

fn precheck(body: &[u8]) -> Result<(), ParseError> {
    let start = body
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or(ParseError::Empty)?;
    if body[start..].starts_with(b"payload=") {
        return Err(ParseError::FormEncoded);
    }
    Ok(())
}

/// Deserialize `body` as `T`, mapping serde's errors to [`ParseError`] with the path of the
/// offending field and without any value from the body.
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ParseError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        map_error(&path, e.inner())
    })?;
    de.end().map_err(|e| map_error(".", &e))?;
    Ok(value)
}

fn map_error(path: &str, e: &serde_json::Error) -> ParseError {
    let (line, column) = (e.line(), e.column());
    match e.classify() {
        Category::Eof => ParseError::Truncated { line, column },
        Category::Syntax | Category::Io => ParseError::Syntax { line, column },
        Category::Data => {
            let message = e.to_string();
            if let Some(field) = between(&message, "missing field `", "`") {
                let field = if path == "." || path.is_empty() {
                    field.to_owned()
                } else {
                    format!("{path}.{field}")
                };
                ParseError::MissingField { field }
            } else {
                let expected = message
                    .split_once("expected ")
                    .map(|(_, rest)| rest.split(" at line ").next().unwrap_or(rest))
                    .unwrap_or("the expected type")
                    .to_owned();
                ParseError::InvalidField {
                    field: if path.is_empty() {
                        ".".into()
                    } else {
                        path.to_owned()
                    },
                    expected,
                }
            }
        }
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// `value`, or [`ParseError::MissingField`] naming `field`.
pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T, ParseError> {
    value.ok_or_else(|| ParseError::MissingField {
        field: field.to_owned(),
    })
}

/// A non-empty string, else `None`.
pub(crate) fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|s| !s.is_empty())
}

/// An id that forges send as a number or a string.
pub(crate) fn id_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// An actor from a login (the first non-empty candidate) and an id.
pub(crate) fn actor(logins: &[Option<&String>], id: Option<String>) -> Option<Actor> {
    let login = logins.iter().flatten().find(|l| !l.is_empty())?;
    Some(Actor {
        login: (*login).clone(),
        id,
    })
}

/// A body whose event thule ignores: check it is well-formed JSON and return the
/// `sender_key` member (the sender, if the forge names one there) for the caller to read.
pub(crate) fn ignored<S: DeserializeOwned>(
    body: &[u8],
    sender_key: &str,
) -> Result<Option<S>, ParseError> {
    // Any JSON value is fine: a non-object body is not an error for an ignored event.
    let value: Value = decode(body)?;
    Ok(value.get(sender_key).and_then(|s| S::deserialize(s).ok()))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        a: Inner,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        b: u64,
        c: Option<String>,
    }

    #[test]
    fn errors_name_the_field_and_not_the_value() {
        assert_eq!(
            decode::<Outer>(br#"{"a": {"c": "x"}}"#).unwrap_err(),
            ParseError::MissingField {
                field: "a.b".into()
            }
        );
        assert_eq!(
            decode::<Outer>(br#"{"z": 1}"#).unwrap_err(),
            ParseError::MissingField { field: "a".into() }
        );
        let err = decode::<Outer>(br#"{"a": {"b": "secret-value"}}"#).unwrap_err();
        assert_eq!(
            err,
            ParseError::InvalidField {
                field: "a.b".into(),
                expected: "u64".into()
            }
        );
        assert!(!err.to_string().contains("secret-value"));
        assert!(matches!(
            decode::<Outer>(br#"{"a": {"b": 1"#).unwrap_err(),
            ParseError::Truncated { .. }
        ));
        assert!(matches!(
            decode::<Outer>(br#"{"a": {"b": 1}} trailing"#).unwrap_err(),
            ParseError::Syntax { .. }
        ));
        assert!(matches!(
            decode::<Outer>(b"\xff\xfe").unwrap_err(),
            ParseError::Syntax { .. }
        ));
    }

    #[test]
    fn empty_and_form_bodies_are_refused_before_parsing() {
        assert_eq!(precheck(b""), Err(ParseError::Empty));
        assert_eq!(precheck(b" \n\t"), Err(ParseError::Empty));
        assert_eq!(precheck(b"payload=%7B%7D"), Err(ParseError::FormEncoded));
        assert_eq!(precheck(b"{}"), Ok(()));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(decode::<Value>(deep.as_bytes()).is_err());
    }
}
