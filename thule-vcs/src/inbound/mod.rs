//! Inbound webhooks: from a delivery's headers and raw body to one normalized event.
//!
//! Pure and synchronous; the webhook service calls it in this order:
//!
//! 1. [`detect`]: which forge sent it, from the headers ([`Headers`]) alone, with the
//!    delivery id to dedupe on ([`Delivery`]).
//! 2. [`authenticate`]: the signature or token over the exact raw bytes, before anything
//!    parses them ([`AuthConfig`], [`AuthError`]: a 401).
//! 3. [`normalize`]: the body read into an [`Inbound`] event ([`Event`], [`EventKind`]) or a
//!    [`ParseError`] naming the field (a 400). Unknown events and actions are
//!    [`Event::Ignored`], never errors, so the forge gets a 2xx for them.
//! 4. [`parse_command`] reads comment commands (`/thule plan`, `/thule help`); it runs as
//!    part of [`normalize`] and is public for the service's own help text and tests.
//!
//! [`receive`] runs the first three. [`SeenHeads`] tells a Bitbucket Cloud push from an
//! edit by remembering the last head per merge request.
//!
//! Every event is a hint: the service re-reads the live merge request before planning.

mod auth;
mod bitbucket;
mod command;
mod detect;
mod event;
mod github;
mod gitlab;
mod headers;
mod parse;
mod seen;

use std::time::SystemTime;

pub use auth::{
    AuthConfig, AuthError, InvalidSigningKey, SIGNATURE_TOLERANCE, Secret, SigningKey, Verified,
    authenticate,
};
pub use command::{Command, CommandPrefix, Invocation, parse_command};
pub use detect::{Delivery, detect};
pub use event::{CommentEvent, Event, EventKind, Inbound, MergeRequestEvent, Trigger};
pub use headers::Headers;
pub use parse::{ParseError, normalize};
pub use seen::SeenHeads;

/// Why [`receive`] refused a delivery.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// Not authenticated (answer 401).
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Authenticated but unreadable (answer 400).
    #[error(transparent)]
    Parse(#[from] ParseError),
}

/// Detect, authenticate and normalize one delivery.
///
/// `config` is what thule knows for the forge the headers name; a service serving several
/// forges on one endpoint calls [`detect`] first and picks the configuration itself.
///
/// # Errors
/// [`Rejected::Auth`] before the body is parsed at all; [`Rejected::Parse`] after.
pub fn receive(
    headers: &Headers,
    body: &[u8],
    config: &AuthConfig,
    now: SystemTime,
) -> Result<Inbound, Rejected> {
    let delivery = detect(headers)?;
    authenticate(&delivery, headers, body, config, now)?;
    Ok(normalize(&delivery, body)?)
}
