//! Webhook deliveries from anywhere: detect + authenticate + normalize + parse_command never
//! panic, refusals always say why, a comment's command is what `parse_command` reads from its
//! body, and a delivery signed with the right secret always authenticates.
//!
//! Input: header lines `Name: value` up to the first blank line (`\n\n`), then the body.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::Sha256;
use thule_vcs::ProviderKind;
use thule_vcs::inbound::{
    AuthConfig, Event, Headers, SigningKey, authenticate, detect, normalize, parse_command,
};

const SECRET: &str = "fuzz-webhook-secret";
/// The Standard Webhooks spec's example key.
const SIGNING_KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Headers that carry a signature or token; dropped before signing correctly.
const AUTH_HEADERS: &[&str] = &[
    "x-hub-signature",
    "x-hub-signature-256",
    "x-gitea-signature",
    "x-forgejo-signature",
    "x-gitlab-token",
    "webhook-signature",
];

fuzz_target!(|data: &[u8]| {
    let (head, body) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (data, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut headers = Headers::new();
    for line in head.lines() {
        if let Some((name, value)) = line.split_once(':') {
            headers.append(name.trim(), value);
        }
    }
    let key = SigningKey::parse(SIGNING_KEY).expect("the spec's key parses");
    let config = AuthConfig::with_secret(SECRET).signing_key(key);
    let now = UNIX_EPOCH + Duration::from_secs(1_614_265_330);

    // Any text is a comment body.
    let _ = parse_command(&String::from_utf8_lossy(body));

    let Ok(delivery) = detect(&headers) else {
        return;
    };
    if let Err(e) = authenticate(&delivery, &headers, body, &config, now) {
        let reason = e.to_string();
        assert!(!reason.is_empty());
        assert!(!reason.contains(SECRET), "{reason}");
    }
    match normalize(&delivery, body) {
        Ok(inbound) => {
            let _ = inbound.kind().as_str();
            if let Event::Comment(c) = &inbound.event {
                assert_eq!(c.command, parse_command(&c.body));
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }

    // The same delivery signed with the right secret authenticates.
    let mut signed = Headers::new();
    for (name, value) in headers.iter() {
        if !AUTH_HEADERS.contains(&name) {
            signed.append(name, value);
        }
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    let hex = hex::encode(mac.finalize().into_bytes());
    match delivery.provider {
        ProviderKind::GitHub => signed.append("X-Hub-Signature-256", format!("sha256={hex}")),
        ProviderKind::Gitea => signed.append("X-Gitea-Signature", hex),
        ProviderKind::Forgejo => signed.append("X-Forgejo-Signature", hex),
        ProviderKind::BitbucketCloud | ProviderKind::BitbucketDataCenter => {
            signed.append("X-Hub-Signature", format!("sha256={hex}"));
        }
        ProviderKind::GitLab => signed.append("X-Gitlab-Token", SECRET),
    }
    let redetected = detect(&signed).expect("the event headers are unchanged");
    assert_eq!(redetected, delivery);
    if let Err(e) = authenticate(&delivery, &signed, body, &config, now) {
        panic!(
            "a correctly signed {} delivery was refused: {e}",
            delivery.provider
        );
    }
});
