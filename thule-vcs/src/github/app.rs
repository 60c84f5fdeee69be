//! GitHub App authentication: the App's private key signs a short JWT, the JWT buys an
//! installation token, and the installation token authenticates every API call.
//!
//! - The JWT is RS256 with `iat = now - 60 s` (GitHub's advice against clock drift),
//!   `exp = now + 9 min` (GitHub refuses more than 10) and `iss` = the App id (or client id).
//! - `POST /app/installations/{installation_id}/access_tokens`, authenticated with the JWT,
//!   answers `{token, expires_at}`; the token is scoped to the one repository thule serves.
//! - The token is cached and used until [`GitHubApp::with_refresh_margin`] before its
//!   `expires_at` (5 minutes by default; GitHub's tokens last an hour), then exchanged anew.
//!   Concurrent calls wait for one exchange instead of each making their own.
//!
//! Neither the private key, the JWT nor the installation token appears in any error, `Debug`
//! output or log.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{HEADERS, decode};
use crate::error::{ErrorKind, Result, VcsError};
use crate::http::{Auth, Http, Method, Secret};
use crate::model::ProviderKind;

/// How long before `iat`'s real time the JWT says it was issued (GitHub's advice).
const JWT_BACKDATE: Duration = Duration::from_secs(60);
/// How long the JWT is valid from now (GitHub's maximum is 10 minutes).
const JWT_LIFETIME: Duration = Duration::from_secs(9 * 60);
/// The default time before `expires_at` at which an installation token is replaced.
pub const DEFAULT_REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A GitHub App installation's credentials: the App id, its private key and the installation
/// thule acts as. `Debug` shows the ids only.
pub struct GitHubApp {
    app_id: String,
    key: EncodingKey,
    installation_id: u64,
    refresh_margin: Duration,
}

impl fmt::Debug for GitHubApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubApp")
            .field("app_id", &self.app_id)
            .field("installation_id", &self.installation_id)
            .field("key", &"***")
            .field("refresh_margin", &self.refresh_margin)
            .finish()
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iat: u64,
    exp: u64,
    iss: &'a str,
}

impl GitHubApp {
    /// The App `app_id` (its numeric App id or its client id: both are accepted as the JWT
    /// issuer) with the RSA private key `private_key_pem` (the PEM GitHub hands out, PKCS#1 or
    /// PKCS#8), acting as installation `installation_id`.
    ///
    /// # Errors
    /// [`ErrorKind::Unauthorized`] when the key is not a usable RSA private key (the error
    /// never quotes it).
    pub fn new(
        app_id: impl Into<String>,
        private_key_pem: impl AsRef<[u8]>,
        installation_id: u64,
    ) -> Result<Self> {
        let unusable = |e: jsonwebtoken::errors::Error| {
            VcsError::new(
                ProviderKind::GitHub,
                "reading the GitHub App private key",
                ErrorKind::Unauthorized,
                format!("not a usable RSA private key in PEM form ({e})"),
            )
        };
        let key = EncodingKey::from_rsa_pem(private_key_pem.as_ref()).map_err(unusable)?;
        let app = Self {
            app_id: app_id.into(),
            key,
            installation_id,
            refresh_margin: DEFAULT_REFRESH_MARGIN,
        };
        // Sign once now, so that a key ring cannot use fails here and not on the first call.
        app.jwt(SystemTime::now())?;
        Ok(app)
    }

    /// Replace installation tokens this long before they expire (default
    /// [`DEFAULT_REFRESH_MARGIN`]).
    #[must_use]
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh_margin = margin;
        self
    }

    /// The App id (the JWT's issuer).
    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// The installation thule acts as.
    pub fn installation_id(&self) -> u64 {
        self.installation_id
    }

    /// The JWT authenticating as the App itself at `now`.
    pub(crate) fn jwt(&self, now: SystemTime) -> Result<Secret> {
        let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let claims = Claims {
            iat: secs(now).saturating_sub(JWT_BACKDATE.as_secs()),
            exp: secs(now + JWT_LIFETIME),
            iss: &self.app_id,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &self.key)
            .map(Secret::new)
            .map_err(|e| {
                VcsError::new(
                    ProviderKind::GitHub,
                    "signing the GitHub App JWT",
                    ErrorKind::Unauthorized,
                    e.to_string(),
                )
            })
    }
}

/// An installation token and when it expires.
struct Installation {
    token: Secret,
    expires_at: SystemTime,
}

/// The App's credentials and its cached installation token.
pub(crate) struct AppAuth {
    app: GitHubApp,
    current: tokio::sync::Mutex<Option<Installation>>,
}

impl fmt::Debug for AppAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppAuth").field("app", &self.app).finish()
    }
}

#[derive(Deserialize)]
struct AccessToken {
    token: String,
    expires_at: String,
}

impl AppAuth {
    pub(crate) fn new(app: GitHubApp) -> Self {
        Self {
            app,
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// `http` authenticated as the App itself (for `GET /app` and the token exchange).
    pub(crate) fn as_app(&self, http: &Http) -> Result<Http> {
        let mut http = http.clone();
        http.set_auth(Auth::Bearer(self.app.jwt(SystemTime::now())?));
        Ok(http)
    }

    /// The installation token, exchanged anew when there is none or it is due for
    /// replacement. `repo_name` is the repository (without owner) the token is scoped to.
    pub(crate) async fn token(&self, http: &Http, repo_name: &str) -> Result<Secret> {
        let mut current = self.current.lock().await;
        if let Some(installation) = current.as_ref()
            && SystemTime::now() + self.app.refresh_margin < installation.expires_at
        {
            return Ok(installation.token.clone());
        }
        let installation = self.exchange(http, repo_name).await?;
        let token = installation.token.clone();
        *current = Some(installation);
        Ok(token)
    }

    /// Forget the cached token (after the forge refused it), so the next call exchanges anew.
    pub(crate) async fn forget(&self) {
        *self.current.lock().await = None;
    }

    async fn exchange(&self, http: &Http, repo_name: &str) -> Result<Installation> {
        let action = format!(
            "exchanging the App JWT for a token of installation {}",
            self.app.installation_id
        );
        let path = format!(
            "/app/installations/{}/access_tokens",
            self.app.installation_id
        );
        let body = json!({ "repositories": [repo_name] });
        // Repeating an exchange only makes another token: safe to retry.
        let response = self
            .as_app(http)?
            .send_with(Method::Post, &path, Some(&body), &action, HEADERS, true)
            .await?;
        let answer: AccessToken = decode(response.body, &action)?;
        let expires_at = parse_timestamp(&answer.expires_at).ok_or_else(|| {
            VcsError::new(
                ProviderKind::GitHub,
                &action,
                ErrorKind::Transport,
                format!("unreadable `expires_at`: {:?}", answer.expires_at),
            )
        })?;
        Ok(Installation {
            token: Secret::new(answer.token),
            expires_at,
        })
    }
}

/// An RFC 3339 timestamp as GitHub writes them (`2016-07-11T22:14:10Z`, also with fractional
/// seconds or a `±HH:MM` offset).
pub(crate) fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let text = text.trim();
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut ymd = date.splitn(3, '-');
    let year: i64 = ymd.next()?.parse().ok()?;
    let month: u32 = ymd.next()?.parse().ok()?;
    let day: u32 = ymd.next()?.parse().ok()?;
    let (clock, offset_secs) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0i64)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (clock, offset) = time.split_at(at);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (h, m) = offset[1..].split_once(':')?;
        let minutes = h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?;
        (clock, sign * minutes * 60)
    };
    let mut hms = clock.splitn(3, ':');
    let hour: i64 = hms.next()?.parse().ok()?;
    let minute: i64 = hms.next()?.parse().ok()?;
    let second = hms.next()?;
    let second: i64 = second.split('.').next()?.parse().ok()?;
    let valid = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..=60).contains(&second);
    if !valid {
        return None;
    }
    let epoch = days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second
        - offset_secs;
    u64::try_from(epoch)
        .ok()
        .map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

/// Days from 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let month = i64::from(month);
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_parse_as_github_writes_them() {
        let at = |s| {
            parse_timestamp(s)
                .map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs())
                .unwrap()
        };
        assert_eq!(at("1970-01-01T00:00:00Z"), 0);
        assert_eq!(at("2016-07-11T22:14:10Z"), 1_468_275_250);
        assert_eq!(at("2016-07-11T22:14:10.123Z"), 1_468_275_250);
        assert_eq!(at("2016-07-12T00:14:10+02:00"), 1_468_275_250);
        assert_eq!(at("2000-02-29T00:00:00Z"), 951_782_400);
        for bad in [
            "",
            "2016-07-11",
            "2016-13-01T00:00:00Z",
            "yesterday",
            "2016-07-11T22:14Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
