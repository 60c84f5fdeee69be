//! The HTTP client every adapter uses: authentication, a `User-Agent`, typed errors, and
//! bounded retries with backoff that honour `Retry-After` and rate-limit resets.
//!
//! Retried: 5xx, 429, a 403 whose rate limit is exhausted, and transport failures, for
//! idempotent requests (GET, PUT, PATCH, DELETE, status POSTs). A non-idempotent request (a
//! comment POST) is retried only when the forge certainly did not act on it (429 and rate
//! limits); after an ambiguous failure the publisher's next run finds what was posted by its
//! marker instead of posting twice.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::Value;

use crate::error::{ErrorKind, Result, VcsError};
use crate::model::ProviderKind;

/// The `User-Agent` thule sends (GitHub refuses requests without one).
pub const USER_AGENT: &str = concat!("thule/", env!("CARGO_PKG_VERSION"));

/// A credential. Its `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for building a request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How requests authenticate.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// `Authorization: token <token>` (Gitea's form; GitHub accepts it too).
    Token(Secret),
    /// A named header holding the token (GitLab's `PRIVATE-TOKEN`).
    Header(&'static str, Secret),
    /// HTTP Basic (Bitbucket app passwords).
    Basic {
        /// The user name.
        user: String,
        /// The password or app password.
        password: Secret,
    },
    /// No credential.
    None,
}

impl Auth {
    fn secret(&self) -> Option<&str> {
        match self {
            Auth::Bearer(s) | Auth::Token(s) | Auth::Header(_, s) => Some(s.expose()),
            Auth::Basic { password, .. } => Some(password.expose()),
            Auth::None => None,
        }
    }
}

/// Retry limits: at most `attempts` tries, and never waiting past `budget` in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (at least 1).
    pub attempts: u32,
    /// The first backoff; doubled on each retry.
    pub base_delay: Duration,
    /// The most time spent waiting between tries, in all.
    pub budget: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 4,
            base_delay: Duration::from_millis(500),
            budget: Duration::from_secs(60),
        }
    }
}

/// An HTTP method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Method {
    fn reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

/// A successful response.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status (2xx).
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body as JSON (`null` when empty or not JSON).
    pub body: Value,
}

impl Response {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `rel="next"` target of an RFC 8288 `Link` header (GitHub, Gitea).
    pub fn next_link(&self) -> Option<String> {
        next_link(self.header("link")?)
    }
}

/// The `rel="next"` URL of a `Link` header value.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params
            .split(';')
            .any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next"));
        is_next.then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// A client for one forge's API.
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    provider: ProviderKind,
    base: String,
    auth: Auth,
    retry: RetryPolicy,
}

impl Http {
    /// A client for the API at `base` (`https://gitlab.example.com/api/v4`), authenticating
    /// with `auth`.
    ///
    /// # Errors
    /// When the TLS client cannot be built.
    pub fn new(provider: ProviderKind, base: &str, auth: Auth) -> Result<Self> {
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| {
                VcsError::new(
                    provider,
                    "building the HTTP client",
                    ErrorKind::Transport,
                    e.to_string(),
                )
            })?;
        Ok(Self {
            client,
            provider,
            base: base.trim_end_matches('/').to_owned(),
            auth,
            retry: RetryPolicy::default(),
        })
    }

    /// Use these retry limits.
    #[must_use]
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Use this credential from now on (a refreshed installation token).
    pub fn set_auth(&mut self, auth: Auth) {
        self.auth = auth;
    }

    /// The API base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The forge.
    pub fn provider(&self) -> ProviderKind {
        self.provider
    }

    /// `base` + `path`, or `path` itself when it is already a full URL (a `next` link).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Send a request and read a 2xx answer, retrying as the module docs say. `action` names
    /// what thule was doing in errors (`listing notes of group/app!7`).
    ///
    /// # Errors
    /// A [`VcsError`] of the matching [`ErrorKind`] once retries are spent or not allowed.
    ///
    /// A POST counts as not idempotent; use [`Http::send_idempotent`] for POSTs that are (a
    /// commit status, a GraphQL mutation that can be repeated).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        action: &str,
    ) -> Result<Response> {
        self.send_with(method, path, body, action, &[], method != Method::Post)
            .await
    }

    /// [`Http::send`] for a request that may be repeated safely whatever its method.
    ///
    /// # Errors
    /// As [`Http::send`].
    pub async fn send_idempotent(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        action: &str,
    ) -> Result<Response> {
        self.send_with(method, path, body, action, &[], true).await
    }

    /// [`Http::send`] with extra headers, saying whether the request is idempotent.
    ///
    /// # Errors
    /// As [`Http::send`].
    pub async fn send_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        action: &str,
        extra: &[(&str, &str)],
        idempotent: bool,
    ) -> Result<Response> {
        let url = self.url(path);
        let mut waited = Duration::ZERO;
        let mut attempt = 1;
        loop {
            let result = self.once(method, &url, body, action, extra).await;
            let err = match result {
                Ok(response) => return Ok(response),
                Err(e) => e,
            };
            let refused_for_sure = matches!(err.kind, ErrorKind::RateLimited { .. });
            let retryable = err.is_transient() && (idempotent || refused_for_sure);
            if !retryable || attempt >= self.retry.attempts.max(1) {
                return Err(err);
            }
            let wait = self.backoff(&err, attempt);
            if waited + wait > self.retry.budget {
                return Err(err);
            }
            tokio::time::sleep(wait).await;
            waited += wait;
            attempt += 1;
        }
    }

    fn backoff(&self, err: &VcsError, attempt: u32) -> Duration {
        let exponential = self.retry.base_delay * 2u32.saturating_pow(attempt - 1);
        match &err.kind {
            ErrorKind::RateLimited { reset: Some(reset) } => reset
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO)
                .max(self.retry.base_delay),
            _ => exponential,
        }
    }

    async fn once(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        action: &str,
        extra: &[(&str, &str)],
    ) -> Result<Response> {
        // An `Accept` among the extra headers replaces the default one (GitHub asks for
        // `application/vnd.github+json`); reqwest would otherwise send both.
        let accept = extra
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("accept"))
            .map_or("application/json", |(_, v)| *v);
        let mut request = self
            .client
            .request(method.reqwest(), url)
            .header("Accept", accept);
        request = match &self.auth {
            Auth::Bearer(s) => request.bearer_auth(s.expose()),
            Auth::Token(s) => request.header("Authorization", format!("token {}", s.expose())),
            Auth::Header(name, s) => request.header(*name, s.expose()),
            Auth::Basic { user, password } => request.basic_auth(user, Some(password.expose())),
            Auth::None => request,
        };
        for (k, v) in extra
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("accept"))
        {
            request = request.header(*k, *v);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let error = |kind, message: String| {
            VcsError::new(self.provider, action, kind, self.scrub(&message))
        };
        let response = request
            .send()
            .await
            .map_err(|e| error(ErrorKind::Transport, transport_message(e)))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| error(ErrorKind::Transport, transport_message(e)))?;
        if (200..300).contains(&status) {
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Ok(Response {
                status,
                headers,
                body,
            });
        }
        let message = provider_message(status, &bytes);
        Err(error(classify(status, &headers), message))
    }

    /// Remove the credential from a message, in case a forge or proxy echoes it.
    fn scrub(&self, message: &str) -> String {
        match self.auth.secret() {
            Some(secret) if !secret.is_empty() => message.replace(secret, "***"),
            _ => message.to_owned(),
        }
    }
}

/// The kind of a non-2xx answer.
fn classify(status: u16, headers: &HeaderMap) -> ErrorKind {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let reset = || {
        if let Some(secs) = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()) {
            return Some(SystemTime::now() + Duration::from_secs(secs));
        }
        let epoch = header("x-ratelimit-reset").or_else(|| header("ratelimit-reset"))?;
        let secs: u64 = epoch.trim().parse().ok()?;
        // GitLab's RateLimit-Reset is an epoch too; a small number is a delta.
        Some(if secs > 1_000_000_000 {
            SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
        } else {
            SystemTime::now() + Duration::from_secs(secs)
        })
    };
    let exhausted = header("x-ratelimit-remaining").is_some_and(|v| v.trim() == "0")
        || header("retry-after").is_some();
    match status {
        401 => ErrorKind::Unauthorized,
        403 if exhausted => ErrorKind::RateLimited { reset: reset() },
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::RateLimited { reset: reset() },
        _ => ErrorKind::Rejected { status },
    }
}

/// The forge's own words for a refusal: a JSON `message`/`error` field, else the text, cut to
/// 300 characters.
fn provider_message(status: u16, bytes: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(bytes) {
        Ok(v) if v["errors"].is_array() => v["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str())
            .collect::<Vec<_>>()
            .join("; "),
        Ok(v) => ["message", "error", "error_description"]
            .iter()
            .find_map(|k| match &v[*k] {
                Value::String(s) => Some(s.clone()),
                Value::Object(o) => o.get("message").and_then(Value::as_str).map(str::to_owned),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .unwrap_or_else(|| v.to_string()),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    };
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let text: String = text.chars().take(300).collect();
    if text.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {text}")
    }
}

/// A transport error with its causes, without the URL's query (which could hold a token).
fn transport_message(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut out = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_headers_give_the_next_page() {
        let link = r#"<https://api.github.com/repositories/1/issues/2/comments?page=3>; rel="next", <https://api.github.com/repositories/1/issues/2/comments?page=5>; rel="last""#;
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repositories/1/issues/2/comments?page=3")
        );
        assert_eq!(next_link(r#"<https://x/?page=1>; rel="prev""#), None);
    }

    #[test]
    fn refusals_are_classified() {
        let mut h = HeaderMap::new();
        assert_eq!(classify(401, &h), ErrorKind::Unauthorized);
        assert_eq!(classify(403, &h), ErrorKind::Forbidden);
        assert_eq!(classify(404, &h), ErrorKind::NotFound);
        assert_eq!(classify(502, &h), ErrorKind::Rejected { status: 502 });
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("2000000000"));
        assert_eq!(
            classify(403, &h),
            ErrorKind::RateLimited {
                reset: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000_000))
            }
        );
        assert_eq!(
            provider_message(422, br#"{"message": "Validation Failed"}"#),
            "HTTP 422: Validation Failed"
        );
        assert_eq!(
            provider_message(
                409,
                br#"{"errors": [{"message": "stale version"}, {"message": "again"}]}"#
            ),
            "HTTP 409: stale version; again"
        );
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let auth = Auth::Bearer(Secret::new("glpat-very-secret"));
        assert!(!format!("{auth:?}").contains("very-secret"));
    }
}
