//! Authenticating a delivery over its raw body, before anything parses it.
//!
//! - GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`.
//! - Gitea / Forgejo: `X-Forgejo-Signature` (Forgejo) or `X-Gitea-Signature`, bare hex of the
//!   same HMAC, else `X-Hub-Signature-256`. The first present header is the one checked; a
//!   bad one is never rescued by another.
//! - Bitbucket Cloud and Data Center: `X-Hub-Signature: sha256=<hex>`. Data Center's
//!   `diagnostics:ping` is sent unsigned and passes without a signature.
//! - GitLab: the secret token verbatim in `X-Gitlab-Token`; or, when a signing key is
//!   configured and the delivery carries `webhook-signature`, Standard Webhooks signing
//!   (`v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>`) within
//!   ±5 minutes of the caller's clock.
//!
//! Every comparison is constant-time: HMACs through [`hmac::Mac::verify_slice`], the GitLab
//! token by comparing SHA-256 digests with [`subtle`], so neither content nor length leaks.
//! No error, and no `Debug`, ever shows a secret or the signature thule expected.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::inbound::detect::Delivery;
use crate::inbound::headers::Headers;
use crate::model::ProviderKind;

type HmacSha256 = Hmac<Sha256>;

/// How far a Standard Webhooks `webhook-timestamp` may be from the caller's clock.
pub const SIGNATURE_TOLERANCE: Duration = Duration::from_secs(5 * 60);

/// A shared webhook secret. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret from its bytes (the UTF-8 of the configured string).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }

    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// A Standard Webhooks signing key (GitLab's "signing token"). `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

/// A signing key that is not `whsec_` followed by base64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the webhook signing key is not `whsec_` followed by base64")]
pub struct InvalidSigningKey;

impl SigningKey {
    /// The key from its configured form, `whsec_<base64>` (the prefix is optional).
    ///
    /// # Errors
    /// [`InvalidSigningKey`] when the rest is not standard base64 or decodes to nothing.
    pub fn parse(configured: &str) -> Result<Self, InvalidSigningKey> {
        let b64 = configured.trim();
        let b64 = b64.strip_prefix("whsec_").unwrap_or(b64);
        match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(key) if !key.is_empty() => Ok(Self(key)),
            _ => Err(InvalidSigningKey),
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// What thule knows to authenticate deliveries of one forge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// The HMAC key (GitHub, Gitea, Forgejo, Bitbucket) or GitLab's secret token.
    pub secret: Option<Secret>,
    /// GitLab's signing token, for deliveries that carry `webhook-signature`.
    pub signing_key: Option<SigningKey>,
}

impl AuthConfig {
    /// Authenticate with a shared secret (HMAC key or GitLab token).
    pub fn with_secret(secret: impl Into<Vec<u8>>) -> Self {
        Self {
            secret: Some(Secret::new(secret)),
            signing_key: None,
        }
    }

    /// Also accept GitLab Standard Webhooks signatures made with `key`.
    #[must_use]
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.signing_key = Some(key);
        self
    }
}

/// How a delivery proved itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    /// An HMAC-SHA256 signature of the body, in the named header.
    Hmac {
        /// The header that carried it (`X-Hub-Signature-256`, `X-Gitea-Signature`, …).
        header: &'static str,
    },
    /// GitLab's `X-Gitlab-Token` matched.
    Token,
    /// A Standard Webhooks signature within the time window (GitLab signing token).
    StandardWebhooks,
    /// Bitbucket Data Center's unsigned `diagnostics:ping`; it carries nothing to act on.
    UnsignedPing,
}

/// Why a delivery was refused. The message is fit for a 401 body: it names the header and
/// the reason, never a secret, the received token or the expected signature.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No forge's event header: thule cannot tell who sent it.
    #[error(
        "unknown webhook sender: no X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event, X-Forgejo-Event or X-Event-Key header"
    )]
    UnknownProvider,
    /// thule has no secret for this forge, so it cannot authenticate anything from it.
    #[error("no webhook secret is configured for {provider}")]
    NotConfigured {
        /// The forge.
        provider: ProviderKind,
    },
    /// The signature or token header is absent.
    #[error("missing {header} header")]
    MissingSignature {
        /// The header expected.
        header: &'static str,
    },
    /// The header is there but is not a well-formed signature (prefix, hex, length,
    /// repeated header, unreadable timestamp).
    #[error("malformed {header} header: {reason}")]
    MalformedSignature {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signature or token does not match.
    #[error("{header} does not match")]
    Mismatch {
        /// The header.
        header: &'static str,
    },
    /// A signed timestamp outside the allowed window (a replay or a skewed clock).
    #[error("webhook-timestamp is {skew_secs} s from the server's clock (allowed: 300 s)")]
    StaleTimestamp {
        /// How far from now, in seconds.
        skew_secs: u64,
    },
}

/// Authenticate `body` as `delivery`'s forge signs it, before anything parses it.
///
/// `now` is the caller's clock (only GitLab's Standard Webhooks signatures are timed).
///
/// # Errors
/// An [`AuthError`] saying why the delivery is refused.
pub fn authenticate(
    delivery: &Delivery,
    headers: &Headers,
    body: &[u8],
    config: &AuthConfig,
    now: SystemTime,
) -> Result<Verified, AuthError> {
    match delivery.provider {
        ProviderKind::GitHub => hmac_header(
            headers,
            body,
            config,
            delivery.provider,
            &[("X-Hub-Signature-256", Some("sha256="))],
        ),
        ProviderKind::Gitea => hmac_header(
            headers,
            body,
            config,
            delivery.provider,
            &[
                ("X-Gitea-Signature", None),
                ("X-Hub-Signature-256", Some("sha256=")),
            ],
        ),
        ProviderKind::Forgejo => hmac_header(
            headers,
            body,
            config,
            delivery.provider,
            &[
                ("X-Forgejo-Signature", None),
                ("X-Gitea-Signature", None),
                ("X-Hub-Signature-256", Some("sha256=")),
            ],
        ),
        ProviderKind::BitbucketCloud | ProviderKind::BitbucketDataCenter => {
            if delivery.provider == ProviderKind::BitbucketDataCenter
                && delivery.event == "diagnostics:ping"
                && !headers.contains("X-Hub-Signature")
            {
                return Ok(Verified::UnsignedPing);
            }
            hmac_header(
                headers,
                body,
                config,
                delivery.provider,
                &[("X-Hub-Signature", Some("sha256="))],
            )
        }
        ProviderKind::GitLab => gitlab(headers, body, config, now),
    }
}

/// The one header value of `name`, refusing a repeated header.
fn single<'h>(headers: &'h Headers, name: &'static str) -> Result<Option<&'h str>, AuthError> {
    match headers.count(name) {
        0 => Ok(None),
        1 => Ok(headers.get(name)),
        _ => Err(AuthError::MalformedSignature {
            header: name,
            reason: "the header is repeated",
        }),
    }
}

/// Check the first present header of `candidates` (name, required prefix) as a hex
/// HMAC-SHA256 of `body`.
fn hmac_header(
    headers: &Headers,
    body: &[u8],
    config: &AuthConfig,
    provider: ProviderKind,
    candidates: &[(&'static str, Option<&'static str>)],
) -> Result<Verified, AuthError> {
    let Some(secret) = &config.secret else {
        return Err(AuthError::NotConfigured { provider });
    };
    for &(header, prefix) in candidates {
        let Some(value) = single(headers, header)? else {
            continue;
        };
        let hex_part = match prefix {
            Some(p) => strip_prefix_ignore_case(value, p).ok_or(AuthError::MalformedSignature {
                header,
                reason: "expected sha256=<hex>",
            })?,
            None => value,
        };
        let given = decode_hex_32(hex_part).ok_or(AuthError::MalformedSignature {
            header,
            reason: "expected 64 hexadecimal digits",
        })?;
        let mut mac = new_mac(secret.bytes());
        mac.update(body);
        return mac
            .verify_slice(&given)
            .map(|()| Verified::Hmac { header })
            .map_err(|_| AuthError::Mismatch { header });
    }
    Err(AuthError::MissingSignature {
        header: candidates[0].0,
    })
}

fn strip_prefix_ignore_case<'a>(value: &'a str, prefix: &str) -> Option<&'a str> {
    let head = value.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &value[prefix.len()..])
}

fn decode_hex_32(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    }
}

/// GitLab: the Standard Webhooks signature when a signing key is configured and the
/// delivery carries one; else the secret token.
fn gitlab(
    headers: &Headers,
    body: &[u8],
    config: &AuthConfig,
    now: SystemTime,
) -> Result<Verified, AuthError> {
    if let Some(key) = &config.signing_key
        && headers.contains("webhook-signature")
    {
        return standard_webhooks(headers, body, key, now);
    }
    let Some(secret) = &config.secret else {
        if config.signing_key.is_some() {
            return Err(AuthError::MissingSignature {
                header: "webhook-signature",
            });
        }
        return Err(AuthError::NotConfigured {
            provider: ProviderKind::GitLab,
        });
    };
    let header = "X-Gitlab-Token";
    let Some(token) = single(headers, header)? else {
        return Err(AuthError::MissingSignature { header });
    };
    // Compare digests, so that neither the content nor the length of the secret leaks.
    let given = Sha256::digest(token.as_bytes());
    let expected = Sha256::digest(secret.bytes());
    if bool::from(given.as_slice().ct_eq(expected.as_slice())) {
        Ok(Verified::Token)
    } else {
        Err(AuthError::Mismatch { header })
    }
}

fn standard_webhooks(
    headers: &Headers,
    body: &[u8],
    key: &SigningKey,
    now: SystemTime,
) -> Result<Verified, AuthError> {
    let id = single(headers, "webhook-id")?.ok_or(AuthError::MissingSignature {
        header: "webhook-id",
    })?;
    let timestamp = single(headers, "webhook-timestamp")?.ok_or(AuthError::MissingSignature {
        header: "webhook-timestamp",
    })?;
    let signatures = single(headers, "webhook-signature")?.ok_or(AuthError::MissingSignature {
        header: "webhook-signature",
    })?;
    let seconds: u64 = timestamp
        .parse()
        .map_err(|_| AuthError::MalformedSignature {
            header: "webhook-timestamp",
            reason: "expected Unix seconds",
        })?;
    let signed_at = UNIX_EPOCH + Duration::from_secs(seconds);
    let skew = now
        .duration_since(signed_at)
        .unwrap_or_else(|e| e.duration());
    if skew > SIGNATURE_TOLERANCE {
        return Err(AuthError::StaleTimestamp {
            skew_secs: skew.as_secs(),
        });
    }
    let mut mac = new_mac(&key.0);
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);

    // Space-separated `v1,<base64>` entries (key rotation sends several); any may match.
    let mut saw_v1 = false;
    for entry in signatures.split_ascii_whitespace() {
        let Some(b64) = entry.strip_prefix("v1,") else {
            continue;
        };
        saw_v1 = true;
        let Ok(given) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            continue;
        };
        if mac.clone().verify_slice(&given).is_ok() {
            return Ok(Verified::StandardWebhooks);
        }
    }
    if saw_v1 {
        Err(AuthError::Mismatch {
            header: "webhook-signature",
        })
    } else {
        Err(AuthError::MalformedSignature {
            header: "webhook-signature",
            reason: "expected v1,<base64>",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbound::detect::detect;

    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const HEX: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    const SW_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SW_TS: u64 = 1_614_265_330;
    const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SW_SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn check(
        pairs: &[(&str, &str)],
        body: &[u8],
        config: &AuthConfig,
    ) -> Result<Verified, AuthError> {
        check_at(pairs, body, config, SystemTime::now())
    }

    fn check_at(
        pairs: &[(&str, &str)],
        body: &[u8],
        config: &AuthConfig,
        now: SystemTime,
    ) -> Result<Verified, AuthError> {
        let headers = Headers::from_pairs(pairs.iter().copied());
        let delivery = detect(&headers)?;
        authenticate(&delivery, &headers, body, config, now)
    }

    fn cfg() -> AuthConfig {
        AuthConfig::with_secret(SECRET)
    }

    #[test]
    fn github_vector_passes_and_anything_else_fails() {
        let ok = format!("sha256={HEX}");
        let ev = ("X-GitHub-Event", "pull_request");
        assert_eq!(
            check(&[ev, ("X-Hub-Signature-256", &ok)], BODY, &cfg()),
            Ok(Verified::Hmac {
                header: "X-Hub-Signature-256"
            })
        );
        // Upper-case hex and prefix are the same signature.
        let upper = format!("SHA256={}", HEX.to_uppercase());
        assert!(check(&[ev, ("X-Hub-Signature-256", &upper)], BODY, &cfg()).is_ok());
        assert_eq!(
            check(
                &[ev, ("X-Hub-Signature-256", &ok)],
                b"Hello, World?",
                &cfg()
            ),
            Err(AuthError::Mismatch {
                header: "X-Hub-Signature-256"
            })
        );
        assert_eq!(
            check(
                &[ev, ("X-Hub-Signature-256", &ok)],
                BODY,
                &AuthConfig::with_secret("other")
            ),
            Err(AuthError::Mismatch {
                header: "X-Hub-Signature-256"
            })
        );
        assert_eq!(
            check(&[ev], BODY, &cfg()),
            Err(AuthError::MissingSignature {
                header: "X-Hub-Signature-256"
            })
        );
        // Legacy SHA-1 is not accepted in place of SHA-256.
        assert_eq!(
            check(&[ev, ("X-Hub-Signature", "sha1=0123")], BODY, &cfg()),
            Err(AuthError::MissingSignature {
                header: "X-Hub-Signature-256"
            })
        );
        for bad in [
            HEX,
            "sha1=abc",
            "sha256=zz",
            "sha256=",
            &format!("sha256={}", &HEX[..62]),
        ] {
            assert!(
                matches!(
                    check(&[ev, ("X-Hub-Signature-256", bad)], BODY, &cfg()),
                    Err(AuthError::MalformedSignature { .. })
                ),
                "{bad}"
            );
        }
        assert_eq!(
            check(
                &[ev, ("X-Hub-Signature-256", &ok)],
                BODY,
                &AuthConfig::default()
            ),
            Err(AuthError::NotConfigured {
                provider: ProviderKind::GitHub
            })
        );
    }

    #[test]
    fn a_repeated_signature_header_is_refused() {
        let ok = format!("sha256={HEX}");
        assert!(matches!(
            check(
                &[
                    ("X-GitHub-Event", "push"),
                    ("X-Hub-Signature-256", &ok),
                    ("X-Hub-Signature-256", &ok)
                ],
                BODY,
                &cfg()
            ),
            Err(AuthError::MalformedSignature { .. })
        ));
    }

    #[test]
    fn gitea_and_forgejo_take_bare_hex_and_never_rescue_a_bad_one() {
        let gitea = ("X-Gitea-Event", "pull_request");
        assert_eq!(
            check(&[gitea, ("X-Gitea-Signature", HEX)], BODY, &cfg()),
            Ok(Verified::Hmac {
                header: "X-Gitea-Signature"
            })
        );
        let hub = format!("sha256={HEX}");
        assert_eq!(
            check(&[gitea, ("X-Hub-Signature-256", &hub)], BODY, &cfg()),
            Ok(Verified::Hmac {
                header: "X-Hub-Signature-256"
            })
        );
        let wrong = "0".repeat(64);
        assert_eq!(
            check(
                &[
                    gitea,
                    ("X-Gitea-Signature", &wrong),
                    ("X-Hub-Signature-256", &hub)
                ],
                BODY,
                &cfg()
            ),
            Err(AuthError::Mismatch {
                header: "X-Gitea-Signature"
            })
        );
        let forgejo = [
            ("X-Forgejo-Event", "pull_request"),
            ("X-Gitea-Event", "pull_request"),
        ];
        let mut pairs = forgejo.to_vec();
        pairs.push(("X-Forgejo-Signature", HEX));
        pairs.push(("X-Gitea-Signature", &wrong));
        assert_eq!(
            check(&pairs, BODY, &cfg()),
            Ok(Verified::Hmac {
                header: "X-Forgejo-Signature"
            })
        );
        let mut pairs = forgejo.to_vec();
        pairs.push(("X-Forgejo-Signature", &wrong));
        pairs.push(("X-Gitea-Signature", HEX));
        assert_eq!(
            check(&pairs, BODY, &cfg()),
            Err(AuthError::Mismatch {
                header: "X-Forgejo-Signature"
            })
        );
        assert_eq!(
            check(&forgejo, BODY, &cfg()),
            Err(AuthError::MissingSignature {
                header: "X-Forgejo-Signature"
            })
        );
    }

    #[test]
    fn bitbucket_uses_x_hub_signature_with_sha256() {
        let sig = format!("sha256={HEX}");
        for key in ["pullrequest:created", "pr:opened"] {
            assert_eq!(
                check(
                    &[("X-Event-Key", key), ("X-Hub-Signature", &sig)],
                    BODY,
                    &cfg()
                ),
                Ok(Verified::Hmac {
                    header: "X-Hub-Signature"
                })
            );
            assert_eq!(
                check(&[("X-Event-Key", key)], BODY, &cfg()),
                Err(AuthError::MissingSignature {
                    header: "X-Hub-Signature"
                })
            );
        }
        // Data Center's ping is unsigned; a signed one is still checked.
        let ping = ("X-Event-Key", "diagnostics:ping");
        assert_eq!(check(&[ping], b"{}", &cfg()), Ok(Verified::UnsignedPing));
        assert_eq!(
            check(&[ping, ("X-Hub-Signature", &sig)], b"{}", &cfg()),
            Err(AuthError::Mismatch {
                header: "X-Hub-Signature"
            })
        );
    }

    #[test]
    fn gitlab_token_is_compared_whole() {
        let ev = ("X-Gitlab-Event", "Merge Request Hook");
        let cfg = AuthConfig::with_secret("s3cr3t");
        assert_eq!(
            check(&[ev, ("X-Gitlab-Token", "s3cr3t")], b"{}", &cfg),
            Ok(Verified::Token)
        );
        for wrong in ["s3cr3T", "s3cr3", "s3cr3t-and-more", "", "S3CR3T"] {
            assert_eq!(
                check(&[ev, ("X-Gitlab-Token", wrong)], b"{}", &cfg),
                Err(AuthError::Mismatch {
                    header: "X-Gitlab-Token"
                }),
                "{wrong:?}"
            );
        }
        assert_eq!(
            check(&[ev], b"{}", &cfg),
            Err(AuthError::MissingSignature {
                header: "X-Gitlab-Token"
            })
        );
    }

    fn sw_headers(sig: &str) -> Vec<(&'static str, String)> {
        vec![
            ("X-Gitlab-Event", "Merge Request Hook".into()),
            ("webhook-id", SW_ID.into()),
            ("webhook-timestamp", SW_TS.to_string()),
            ("webhook-signature", sig.into()),
        ]
    }

    fn sw_check(
        sig: &str,
        body: &[u8],
        config: &AuthConfig,
        now: u64,
    ) -> Result<Verified, AuthError> {
        let owned = sw_headers(sig);
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
        check_at(&pairs, body, config, UNIX_EPOCH + Duration::from_secs(now))
    }

    #[test]
    fn gitlab_standard_webhooks_vector_and_window() {
        let key = SigningKey::parse(SW_KEY).unwrap();
        let cfg = AuthConfig::default().signing_key(key);
        assert_eq!(
            sw_check(SW_SIG, SW_BODY, &cfg, SW_TS),
            Ok(Verified::StandardWebhooks)
        );
        assert_eq!(
            sw_check(SW_SIG, SW_BODY, &cfg, SW_TS + 300),
            Ok(Verified::StandardWebhooks)
        );
        assert_eq!(
            sw_check(SW_SIG, SW_BODY, &cfg, SW_TS - 300),
            Ok(Verified::StandardWebhooks)
        );
        assert_eq!(
            sw_check(SW_SIG, SW_BODY, &cfg, SW_TS + 301),
            Err(AuthError::StaleTimestamp { skew_secs: 301 })
        );
        assert_eq!(
            sw_check(SW_SIG, SW_BODY, &cfg, SW_TS - 3600),
            Err(AuthError::StaleTimestamp { skew_secs: 3600 })
        );
        assert_eq!(
            sw_check(SW_SIG, br#"{"test": 2432232315}"#, &cfg, SW_TS),
            Err(AuthError::Mismatch {
                header: "webhook-signature"
            })
        );
        // Several signatures (key rotation): one matching is enough.
        let multi = format!("v1,AAAA {SW_SIG}");
        assert_eq!(
            sw_check(&multi, SW_BODY, &cfg, SW_TS),
            Ok(Verified::StandardWebhooks)
        );
        assert!(matches!(
            sw_check("v2,abc", SW_BODY, &cfg, SW_TS),
            Err(AuthError::MalformedSignature { .. })
        ));
        // A signed delivery is never rescued by the token.
        let both =
            AuthConfig::with_secret("s3cr3t").signing_key(SigningKey::parse(SW_KEY).unwrap());
        let mut owned = sw_headers("v1,AAAA");
        owned.push(("X-Gitlab-Token", "s3cr3t".into()));
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(
            check_at(
                &pairs,
                SW_BODY,
                &both,
                UNIX_EPOCH + Duration::from_secs(SW_TS)
            ),
            Err(AuthError::Mismatch {
                header: "webhook-signature"
            })
        );
        // Without a signature the token path still works during a migration.
        assert_eq!(
            check(
                &[
                    ("X-Gitlab-Event", "Note Hook"),
                    ("X-Gitlab-Token", "s3cr3t"),
                    ("webhook-id", SW_ID)
                ],
                b"{}",
                &both
            ),
            Ok(Verified::Token)
        );
        // Only a signing key, and no signature: missing.
        assert_eq!(
            check(&[("X-Gitlab-Event", "Note Hook")], b"{}", &cfg),
            Err(AuthError::MissingSignature {
                header: "webhook-signature"
            })
        );
        let mut owned = sw_headers(SW_SIG);
        owned[2].1 = "yesterday".into();
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert!(matches!(
            check_at(
                &pairs,
                SW_BODY,
                &cfg,
                UNIX_EPOCH + Duration::from_secs(SW_TS)
            ),
            Err(AuthError::MalformedSignature {
                header: "webhook-timestamp",
                ..
            })
        ));
    }

    #[test]
    fn signing_keys_must_be_base64() {
        assert!(SigningKey::parse(SW_KEY).is_ok());
        assert_eq!(SigningKey::parse("whsec_%%%"), Err(InvalidSigningKey));
        assert_eq!(SigningKey::parse("whsec_"), Err(InvalidSigningKey));
    }

    #[test]
    fn no_error_or_debug_shows_a_secret_or_the_expected_signature() {
        let secret = "s3cr3t-very-private";
        let cfg = AuthConfig::with_secret(secret).signing_key(SigningKey::parse(SW_KEY).unwrap());
        let shown = format!("{cfg:?}");
        assert!(
            !shown.contains(secret) && !shown.contains("MfKQ9r8"),
            "{shown}"
        );

        let mut mac = new_mac(secret.as_bytes());
        mac.update(BODY);
        let expected = hex::encode(mac.finalize().into_bytes());
        let cases: Vec<Vec<(&str, String)>> = vec![
            vec![
                ("X-GitHub-Event", "x".into()),
                ("X-Hub-Signature-256", format!("sha256={}", "1".repeat(64))),
            ],
            vec![
                ("X-GitHub-Event", "x".into()),
                ("X-Hub-Signature-256", "nonsense".into()),
            ],
            vec![("X-GitHub-Event", "x".into())],
            vec![
                ("X-Gitlab-Event", "x".into()),
                ("X-Gitlab-Token", "s3cr3t-very-privatE".into()),
            ],
            vec![
                ("X-Gitea-Event", "x".into()),
                ("X-Gitea-Signature", "2".repeat(64)),
            ],
            vec![
                ("X-Event-Key", "pr:opened".into()),
                ("X-Hub-Signature", "sha256=".into()),
            ],
        ];
        for pairs in cases {
            let refs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
            let err = check(&refs, BODY, &cfg).unwrap_err();
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(!text.contains(secret), "{text}");
                assert!(!text.contains("s3cr3t"), "{text}");
                assert!(!text.contains(&expected), "{text}");
            }
        }
    }
}
