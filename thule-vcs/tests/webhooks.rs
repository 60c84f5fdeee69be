//! Every real webhook payload of `shared/peers/webhooks/cases.yaml`: signed as its forge
//! signs it, detected, authenticated, normalized, and compared with the case's expectation
//! (and every variant's), plus the Bitbucket Cloud sequence, and per forge a wrong, a
//! missing and a truncated-body delivery refused with a reason.
//!
//! The corpus lives beside the repository (`<repo>/../shared/peers/webhooks`); a missing
//! corpus fails the test rather than skipping it.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use thule_core::yaml::{ParseOptions, parse_str};
use thule_vcs::inbound::{
    AuthConfig, AuthError, Command, CommandPrefix, Event, EventKind, Headers, Inbound, ParseError,
    Rejected, SeenHeads, SigningKey, Trigger, receive,
};
use thule_vcs::{Actor, ProviderKind};

const SECRET: &str = "thule-test-webhook-secret";

fn corpus_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers/webhooks");
    assert!(
        dir.join("cases.yaml").is_file(),
        "the webhook corpus is missing: expected {}/cases.yaml (shared/ beside the repository)",
        dir.display()
    );
    dir
}

fn load_cases() -> (PathBuf, Value) {
    let dir = corpus_dir();
    let text = std::fs::read_to_string(dir.join("cases.yaml")).expect("read cases.yaml");
    let docs = parse_str(&text, "cases.yaml", &ParseOptions::default()).expect("parse cases.yaml");
    assert_eq!(docs.len(), 1, "cases.yaml is one document");
    let root = docs.into_iter().next().map(|d| d.value).unwrap_or_default();
    assert_eq!(root["version"], 1, "cases.yaml version");
    (dir, root)
}

fn s(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The case's headers plus its auth header, for `body` signed with `secret`.
fn signed_headers(case: &Value, body: &[u8], secret: &str) -> Headers {
    let mut headers = base_headers(case);
    let (name, value) = auth_header(case, body, secret);
    headers.append(name, value);
    headers
}

fn base_headers(case: &Value) -> Headers {
    let map = case["headers"].as_object().expect("headers map");
    Headers::from_pairs(
        map.iter()
            .map(|(k, v)| (k.clone(), s(v).expect("header value is a scalar"))),
    )
}

fn auth_header(case: &Value, body: &[u8], secret: &str) -> (String, String) {
    let auth = &case["auth"];
    let header = s(&auth["header"]).expect("auth.header");
    let value = match (auth["scheme"].as_str(), auth["format"].as_str()) {
        (Some("token"), _) => secret.to_owned(),
        (Some("hmac-sha256"), Some("sha256=<hex>")) => {
            format!("sha256={}", hmac_hex(secret.as_bytes(), body))
        }
        (Some("hmac-sha256"), Some("<bare hex>")) => hmac_hex(secret.as_bytes(), body),
        other => panic!("{}: unknown auth {other:?}", case["id"]),
    };
    (header, value)
}

fn config() -> AuthConfig {
    AuthConfig::with_secret(SECRET)
}

fn now() -> SystemTime {
    SystemTime::now()
}

fn read_body(dir: &std::path::Path, case: &Value) -> Vec<u8> {
    let id = &case["id"];
    let file = case["file"].as_str().expect("file");
    let body = std::fs::read(dir.join(file)).unwrap_or_else(|e| panic!("{id}: read {file}: {e}"));
    let sha = hex::encode(Sha256::digest(&body));
    assert_eq!(
        Some(sha.as_str()),
        case["sha256"].as_str(),
        "{id}: {file} is not the recorded bytes"
    );
    body
}

fn rewrite(body: &[u8], find: &str, replace: &str) -> Vec<u8> {
    let text = std::str::from_utf8(body).expect("payloads are UTF-8");
    assert_eq!(
        text.matches(find).count(),
        1,
        "rewrite find string must occur exactly once: {find:?}"
    );
    text.replacen(find, replace, 1).into_bytes()
}

fn trigger_name(t: Trigger) -> &'static str {
    match t {
        Trigger::Opened => "Opened",
        Trigger::Pushed => "Pushed",
        Trigger::Reopened => "Reopened",
        Trigger::ReadyForReview => "ReadyForReview",
        Trigger::BaseChanged => "BaseChanged",
        Trigger::LabelsChanged => "LabelsChanged",
        Trigger::Closed => "Closed",
        Trigger::Merged => "Closed(merged)",
        Trigger::Other => "MetadataOnly",
    }
}

fn login(a: Option<&Actor>) -> Option<String> {
    a.map(|a| a.login.clone())
}

/// What was checked, for the count line.
#[derive(Default)]
struct Tally {
    deliveries: usize,
    fields: usize,
}

/// Compare a normalized delivery with a case's `expect` (and the kinds a variant allows).
fn compare(
    id: &str,
    inbound: &Inbound,
    expect: &Value,
    kinds: &[String],
    rewritten: bool,
    tally: &mut Tally,
) {
    let kind = inbound.kind().as_str();
    assert!(
        kinds.iter().any(|k| k == kind),
        "{id}: kind {kind}, expected one of {kinds:?}; event {:#?}",
        inbound.event
    );
    tally.deliveries += 1;
    let preferred = kinds.first().map(String::as_str) == Some(kind);

    let mut field = |name: &str, ours: Option<String>| {
        let Some(expected) = expect.get(name) else {
            return;
        };
        assert_eq!(ours, s(expected), "{id}: {name}");
        tally.fields += 1;
    };
    field("actor", login(inbound.sender.as_ref()));
    let trigger = expect["trigger"].as_str().unwrap_or_default();
    match &inbound.event {
        Event::MergeRequest(mr) => {
            field("repo", Some(mr.mr.repo.path.clone()));
            field("number", Some(mr.mr.number.to_string()));
            field("head_sha", mr.head_sha.clone());
            field("base_branch", Some(mr.base_branch.clone()));
            field("head_branch", Some(mr.head_branch.clone()));
            field("head_repo", mr.head_repo.clone());
            field("author", login(mr.author.as_ref()));
            field("before_sha", mr.before_sha.clone());
            if let Some(short) = expect.get("head_sha_is_short").and_then(Value::as_bool) {
                let len = mr.head_sha.as_deref().map_or(0, str::len);
                assert_eq!(short, len < 40, "{id}: head_sha_is_short");
            }
            if preferred {
                assert_eq!(trigger_name(mr.trigger), trigger, "{id}: trigger");
            }
        }
        Event::Comment(c) => {
            assert_eq!(trigger, "Comment", "{id}: a comment");
            field("repo", Some(c.mr.repo.path.clone()));
            field("number", Some(c.mr.number.to_string()));
            field("head_sha", c.head_sha.clone());
            field("base_branch", c.base_branch.clone());
            field("head_branch", c.head_branch.clone());
            field("author", login(c.mr_author.as_ref()));
            let comment = &expect["comment"];
            if let Some(cid) = s(&comment["id"]) {
                assert_eq!(c.comment.id.to_string(), cid, "{id}: comment.id");
                tally.fields += 1;
            }
            if let Some(version) = comment.get("version").and_then(Value::as_u64) {
                assert_eq!(c.comment.version, Some(version), "{id}: comment.version");
            }
            if !rewritten && let Some(body) = s(&comment["body_raw"]) {
                assert_eq!(c.body, body, "{id}: comment body");
                tally.fields += 1;
            }
            assert!(!c.edited, "{id}: a new comment");
        }
        Event::Ping => assert_eq!(trigger, "Ping", "{id}: ping"),
        Event::Ignored { reason } => {
            assert!(!reason.is_empty(), "{id}: an ignore has a reason");
            assert!(
                trigger.starts_with("Ignored"),
                "{id}: ignored ({reason}) but the case expects {trigger}"
            );
        }
    }
}

fn kinds_of(entry: &Value) -> Vec<String> {
    let mut kinds = vec![entry["kind"].as_str().expect("kind").to_owned()];
    if let Some(more) = entry["also_acceptable"].as_array() {
        kinds.extend(more.iter().filter_map(|k| k.as_str().map(str::to_owned)));
    }
    kinds
}

#[test]
fn every_case_and_variant_normalizes_as_expected() {
    let (dir, root) = load_cases();
    let cases = root["cases"].as_array().expect("cases");
    assert!(cases.len() >= 62, "{} cases", cases.len());
    let mut tally = Tally::default();
    let mut variants = 0;
    for case in cases {
        let id = case["id"].as_str().expect("id");
        let body = read_body(&dir, case);
        let expect = &case["expect"];

        let headers = signed_headers(case, &body, SECRET);
        let inbound = receive(&headers, &body, &config(), now())
            .unwrap_or_else(|e| panic!("{id}: refused: {e}"));
        let provider = ProviderKind::parse(case["provider"].as_str().expect("provider"))
            .expect("known provider");
        assert_eq!(inbound.delivery.provider, provider, "{id}: provider");
        assert!(inbound.delivery.id.is_some(), "{id}: a delivery id");
        compare(id, &inbound, expect, &kinds_of(expect), false, &mut tally);

        for variant in case["variants"].as_array().into_iter().flatten() {
            let find = variant["rewrite"]["find"].as_str().expect("find");
            let replace = variant["rewrite"]["replace"].as_str().expect("replace");
            let body = rewrite(&body, find, replace);
            let headers = signed_headers(case, &body, SECRET);
            let inbound = receive(&headers, &body, &config(), now())
                .unwrap_or_else(|e| panic!("{id} / {replace}: refused: {e}"));
            let vid = format!("{id} [{replace}]");
            compare(&vid, &inbound, expect, &kinds_of(variant), true, &mut tally);
            if inbound.kind() == EventKind::Command {
                let Event::Comment(c) = &inbound.event else {
                    unreachable!("a command is a comment")
                };
                let inv = c.command.as_ref().expect("a command");
                let prefix = if replace.contains("/thule") {
                    CommandPrefix::Thule
                } else {
                    CommandPrefix::Atlantis
                };
                assert_eq!(inv.prefix, prefix, "{vid}");
                assert_eq!(
                    inv.command,
                    Command::Plan {
                        projects: vec![],
                        dirs: vec![]
                    },
                    "{vid}"
                );
            }
            variants += 1;
        }
    }
    println!(
        "webhooks: {} cases and {variants} variants checked ({} deliveries, {} field comparisons)",
        cases.len(),
        tally.deliveries,
        tally.fields
    );
}

#[test]
fn the_bitbucket_cloud_sequence_needs_the_last_seen_head() {
    let (dir, root) = load_cases();
    let cases = root["cases"].as_array().expect("cases");
    let sequences = root["sequences"].as_array().expect("sequences");
    assert!(!sequences.is_empty());
    let mut steps = 0;
    for sequence in sequences {
        let mut seen = SeenHeads::default();
        for step in sequence["steps"].as_array().expect("steps") {
            let case_id = step["case"].as_str().expect("case");
            let case = cases
                .iter()
                .find(|c| c["id"] == case_id)
                .unwrap_or_else(|| panic!("no case {case_id}"));
            let body = read_body(&dir, case);
            let mut headers = Headers::new();
            let delivery_id = s(&step["headers_delivery_id"]).expect("headers_delivery_id");
            for (name, value) in base_headers(case).iter() {
                let value = if name == "x-request-uuid" || name == "x-request-id" {
                    delivery_id.clone()
                } else {
                    value.to_owned()
                };
                headers.append(name, value);
            }
            let (name, value) = auth_header(case, &body, SECRET);
            headers.append(name, value);
            let mut inbound = receive(&headers, &body, &config(), now()).expect("accepted");
            assert_eq!(inbound.delivery.id.as_deref(), Some(delivery_id.as_str()));
            seen.observe(&mut inbound);
            assert_eq!(
                inbound.kind().as_str(),
                step["kind"].as_str().expect("kind"),
                "{} step {}",
                sequence["id"],
                step["delivery"]
            );
            steps += 1;
        }
    }
    println!(
        "webhooks: {} sequences, {steps} steps checked",
        sequences.len()
    );
}

/// One case per forge, plus Forgejo made from a Gitea case (the corpus has no Forgejo
/// capture): its headers renamed, the signature in `X-Forgejo-Signature`.
fn one_per_forge(cases: &[Value]) -> Vec<(ProviderKind, Value)> {
    let mut out: Vec<(ProviderKind, Value)> = Vec::new();
    for case in cases {
        let provider = ProviderKind::parse(case["provider"].as_str().expect("provider"))
            .expect("known provider");
        if case["expect"]["kind"] == "plan" && !out.iter().any(|(p, _)| *p == provider) {
            out.push((provider, case.clone()));
        }
    }
    let gitea = out
        .iter()
        .find(|(p, _)| *p == ProviderKind::Gitea)
        .map(|(_, c)| c.clone())
        .expect("a gitea case");
    let mut forgejo = gitea;
    let headers = forgejo["headers"].as_object().expect("headers").clone();
    let mut renamed = serde_json::Map::new();
    for (k, v) in headers {
        if let Some(rest) = k.strip_prefix("X-Gitea-") {
            renamed.insert(format!("X-Forgejo-{rest}"), v.clone());
        }
        renamed.insert(k, v);
    }
    forgejo["headers"] = Value::Object(renamed);
    forgejo["auth"]["header"] = "X-Forgejo-Signature".into();
    out.push((ProviderKind::Forgejo, forgejo));
    assert_eq!(out.len(), 6, "one plan case per forge");
    out
}

#[test]
fn each_forge_refuses_wrong_missing_and_truncated_deliveries() {
    let (dir, root) = load_cases();
    let cases = root["cases"].as_array().expect("cases");
    let mut refused = 0;
    for (provider, case) in one_per_forge(cases) {
        let id = format!("{provider} ({})", case["id"]);
        let body = read_body(&dir, &case);

        // The forged case itself is accepted (so the refusals below are about the change).
        let inbound = receive(
            &signed_headers(&case, &body, SECRET),
            &body,
            &config(),
            now(),
        )
        .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(inbound.delivery.provider, provider, "{id}");
        assert_eq!(inbound.kind(), EventKind::Plan, "{id}");

        // Signed with another secret.
        let wrong = signed_headers(&case, &body, "not-the-secret");
        let err = receive(&wrong, &body, &config(), now()).unwrap_err();
        assert!(
            matches!(err, Rejected::Auth(AuthError::Mismatch { .. })),
            "{id}: {err:?}"
        );
        assert!(!err.to_string().contains(SECRET), "{id}: {err}");

        // Signed correctly but over other bytes (a space inserted). GitLab's token does not
        // bind the body, so only the signing forges refuse this.
        let mut tampered = body.clone();
        let last = tampered
            .iter()
            .rposition(|b| *b == b'}')
            .expect("a JSON object");
        tampered.insert(last, b' ');
        let result = receive(
            &signed_headers(&case, &body, SECRET),
            &tampered,
            &config(),
            now(),
        );
        if provider == ProviderKind::GitLab {
            assert!(result.is_ok(), "{id}: the token is not a body signature");
        } else {
            assert!(
                matches!(result, Err(Rejected::Auth(AuthError::Mismatch { .. }))),
                "{id}: {result:?}"
            );
        }

        // No signature at all.
        let err = receive(&base_headers(&case), &body, &config(), now()).unwrap_err();
        assert!(
            matches!(err, Rejected::Auth(AuthError::MissingSignature { .. })),
            "{id}: {err:?}"
        );
        assert!(err.to_string().starts_with("missing "), "{id}: {err}");

        // No secret configured: nothing is accepted.
        let err = receive(
            &signed_headers(&case, &body, SECRET),
            &body,
            &AuthConfig::default(),
            now(),
        )
        .unwrap_err();
        assert!(
            matches!(err, Rejected::Auth(AuthError::NotConfigured { .. })),
            "{id}: {err:?}"
        );

        // Truncated bodies, correctly signed: refused with a reason at every cut.
        let end = body
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .expect("non-empty");
        let cuts: Vec<usize> = (0..16).map(|i| i * end / 16).chain([end]).collect();
        for cut in cuts {
            let short = &body[..cut];
            let headers = signed_headers(&case, short, SECRET);
            let err = receive(&headers, short, &config(), now()).unwrap_err();
            let Rejected::Parse(parse) = &err else {
                panic!("{id}: cut at {cut}: {err:?}")
            };
            assert!(
                matches!(parse, ParseError::Truncated { .. } | ParseError::Empty),
                "{id}: cut at {cut}: {parse:?}"
            );
            assert!(!err.to_string().is_empty());
            refused += 1;
        }
        refused += 5;
    }

    // No forge's headers: unknown sender.
    let err = receive(
        &Headers::from_pairs([("Content-Type", "application/json")]),
        b"{}",
        &config(),
        now(),
    )
    .unwrap_err();
    assert_eq!(err, Rejected::Auth(AuthError::UnknownProvider));
    println!("webhooks: {refused} refused deliveries checked");
}

#[test]
fn a_gitlab_case_signed_with_standard_webhooks() {
    let (dir, root) = load_cases();
    let cases = root["cases"].as_array().expect("cases");
    let case = cases
        .iter()
        .find(|c| c["id"] == "gitlab/mr-update-new-commit")
        .expect("case");
    let body = read_body(&dir, case);
    let key_bytes = b"a thirty-two byte signing key!!!";
    let key = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key_bytes)
    );
    let id = s(&case["headers"]["Idempotency-Key"]).expect("idempotency key");
    let ts: u64 = 1_780_000_000;
    let mut mac = Hmac::<Sha256>::new_from_slice(key_bytes).expect("key");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&body);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());

    let mut headers = base_headers(case);
    headers.append("webhook-id", id);
    headers.append("webhook-timestamp", ts.to_string());
    headers.append("webhook-signature", format!("v1,{sig}"));
    let config = AuthConfig::default().signing_key(SigningKey::parse(&key).expect("key"));
    let at = |secs| UNIX_EPOCH + Duration::from_secs(secs);

    let inbound = receive(&headers, &body, &config, at(ts + 60)).expect("accepted");
    assert_eq!(inbound.kind(), EventKind::Plan);
    let err = receive(&headers, &body, &config, at(ts + 3600)).unwrap_err();
    assert_eq!(
        err,
        Rejected::Auth(AuthError::StaleTimestamp { skew_secs: 3600 })
    );
    let mut other = body.clone();
    other.push(b'\n');
    let err = receive(&headers, &other, &config, at(ts)).unwrap_err();
    assert!(matches!(
        err,
        Rejected::Auth(AuthError::Mismatch {
            header: "webhook-signature"
        })
    ));
}

/// The peers' own signature vectors over these bytes (SOURCES.md lists them abbreviated):
/// the library accepts a signature that matches them.
#[test]
fn the_peers_signature_vectors_hold_for_these_bodies() {
    let dir = corpus_dir().join("payloads");
    let vectors: &[(&str, &str, &str, &str, &str)] = &[
        (
            "X-GitHub-Event",
            "github/push-signed.json",
            "topsecret",
            "e3bfe744",
            "2957",
        ),
        (
            "X-Gitea-Event",
            "gitea/pr-edited-signed.json",
            "71295b197fa25f4356d2fb9965df3f2379d903d7",
            "a31111f0",
            "a33a",
        ),
        (
            "X-Gitea-Event",
            "gitea/pr-opened-fork.json",
            "IsWishesWereHorsesWedAllBeEatingSteak!",
            "65c18a21",
            "",
        ),
        (
            "X-Gitea-Event",
            "gitea/pr-label-updated-signed.json",
            "IsWishesWereHorsesWedAllBeEatingSteak!",
            "c52fa035",
            "",
        ),
        (
            "X-Gitea-Event",
            "gitea/pr-comment-is-pull-signed.json",
            "IsWishesWereHorsesWedAllBeEatingSteak!",
            "8b38bf22",
            "",
        ),
        (
            "X-Event-Key",
            "bitbucket-server/pr-comment-added-signed.json",
            "mysecret",
            "ed11f92d",
            // SOURCES.md abbreviates it `ed11f92d...c083`; the full HMAC ends `9ce083`, so
            // that suffix is a slip in the abbreviation (the 32-bit prefix matches).
            "ce083",
        ),
        (
            "X-Event-Key",
            "bitbucket-server/repo-refs-changed-signed.json",
            "71295b197fa25f4356d2fb9965df3f2379d903d7",
            "c90565fa",
            "41f8",
        ),
    ];
    for &(event_header, file, secret, head, tail) in vectors {
        let body = std::fs::read(dir.join(file)).expect(file);
        let sig = hmac_hex(secret.as_bytes(), &body);
        assert!(
            sig.starts_with(head) && sig.ends_with(tail),
            "{file}: {sig} is not {head}...{tail}"
        );
        let (event, sig_header, sig_value) = match event_header {
            "X-GitHub-Event" => ("push", "X-Hub-Signature-256", format!("sha256={sig}")),
            "X-Gitea-Event" if file.contains("comment") => {
                ("issue_comment", "X-Gitea-Signature", sig)
            }
            "X-Gitea-Event" => ("pull_request", "X-Gitea-Signature", sig),
            _ if file.contains("refs") => (
                "repo:refs_changed",
                "X-Hub-Signature",
                format!("sha256={sig}"),
            ),
            _ => (
                "pr:comment:added",
                "X-Hub-Signature",
                format!("sha256={sig}"),
            ),
        };
        let headers = Headers::from_pairs([
            (event_header, event),
            ("X-Request-Id", "r"),
            (sig_header, sig_value.as_str()),
        ]);
        receive(&headers, &body, &AuthConfig::with_secret(secret), now())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

// ---------- hand-written edge cases the corpus lacks ----------

fn normalized(pairs: &[(&str, &str)], body: &str) -> Result<Inbound, ParseError> {
    let headers = Headers::from_pairs(pairs.iter().copied());
    let delivery = thule_vcs::inbound::detect(&headers).expect("a forge");
    thule_vcs::inbound::normalize(&delivery, body.as_bytes())
}

const GH_PR: (&str, &str) = ("X-GitHub-Event", "pull_request");
const GH_COMMENT: (&str, &str) = ("X-GitHub-Event", "issue_comment");
const GL_MR: (&str, &str) = ("X-Gitlab-Event", "Merge Request Hook");
const GL_NOTE: (&str, &str) = ("X-Gitlab-Event", "Note Hook");

fn gh_pr(action: &str, extra: &str) -> String {
    format!(
        r#"{{"action": "{action}", "number": 7, {extra}
            "pull_request": {{"number": 7, "state": "open", "draft": true,
              "user": {{"login": "alice", "id": 1}}, "labels": [{{"name": "thule:plan"}}],
              "head": {{"ref": "feat", "sha": "{sha}", "repo": {{"full_name": "fork/gitops"}}}},
              "base": {{"ref": "main", "sha": "{base}", "repo": {{"full_name": "acme/gitops"}}}}}},
            "repository": {{"full_name": "acme/gitops"}},
            "sender": {{"login": "bob", "id": 2}}}}"#,
        sha = "a".repeat(40),
        base = "b".repeat(40),
    )
}

fn trigger_of(inbound: &Inbound) -> Trigger {
    match &inbound.event {
        Event::MergeRequest(mr) => mr.trigger,
        other => panic!("not a merge-request event: {other:?}"),
    }
}

#[test]
fn github_actions_map_to_triggers() {
    let cases = [
        ("opened", "", Trigger::Opened),
        ("synchronize", r#""before": "c0ffee","#, Trigger::Pushed),
        ("ready_for_review", "", Trigger::ReadyForReview),
        (
            "edited",
            r#""changes": {"base": {"ref": {"from": "dev"}}},"#,
            Trigger::BaseChanged,
        ),
        (
            "edited",
            r#""changes": {"title": {"from": "x"}},"#,
            Trigger::Other,
        ),
        ("closed", "", Trigger::Closed),
        ("unlabeled", "", Trigger::LabelsChanged),
        ("converted_to_draft", "", Trigger::Other),
        ("some_future_action", "", Trigger::Other),
    ];
    for (action, extra, trigger) in cases {
        let inbound = normalized(&[GH_PR], &gh_pr(action, extra)).expect(action);
        assert_eq!(trigger_of(&inbound), trigger, "{action}");
    }
    let inbound = normalized(&[GH_PR], &gh_pr("synchronize", r#""before": "c0ffee","#)).unwrap();
    let Event::MergeRequest(mr) = &inbound.event else {
        unreachable!()
    };
    assert_eq!(mr.before_sha.as_deref(), Some("c0ffee"));
    assert_eq!(mr.head_repo.as_deref(), Some("fork/gitops"));
    assert_eq!(mr.labels, ["thule:plan"]);
    assert!(mr.draft);
    assert_eq!(
        mr.author.as_ref().map(|a| a.id.clone()),
        Some(Some("1".into()))
    );
    assert_eq!(
        inbound.sender.as_ref().map(|a| a.login.as_str()),
        Some("bob")
    );
}

#[test]
fn a_missing_required_field_is_named() {
    let body = gh_pr("opened", "").replace(r#""ref": "feat", "#, "");
    assert_eq!(
        normalized(&[GH_PR], &body).unwrap_err(),
        ParseError::MissingField {
            field: "pull_request.head.ref".into()
        }
    );
    let body = gh_pr("opened", "")
        .replace(r#""number": 7, "#, "")
        .replace(r#""number": 7,"#, "");
    assert_eq!(
        normalized(&[GH_PR], &body).unwrap_err(),
        ParseError::MissingField {
            field: "number".into()
        }
    );
    let body = gh_pr("opened", "").replace(r#""number": 7, "#, r#""number": "seven", "#);
    let err = normalized(&[GH_PR], &body).unwrap_err();
    assert_eq!(
        err,
        ParseError::InvalidField {
            field: "number".into(),
            expected: "u64".into()
        }
    );
    assert!(!err.to_string().contains("seven"), "{err}");
    assert_eq!(
        normalized(&[GL_MR], r#"{"project": {"path_with_namespace": "g/p"}}"#).unwrap_err(),
        ParseError::MissingField {
            field: "object_attributes".into()
        }
    );
    assert_eq!(
        normalized(&[GH_PR], "payload=%7B%7D").unwrap_err(),
        ParseError::FormEncoded
    );
    assert_eq!(normalized(&[GH_PR], "").unwrap_err(), ParseError::Empty);
    assert!(matches!(
        normalized(&[("X-GitHub-Event", "push")], r#"{"ref": "#).unwrap_err(),
        ParseError::Truncated { .. }
    ));
    // An ignored event with a body that is JSON but not an object is still ignored.
    assert_eq!(
        normalized(&[("X-GitHub-Event", "push")], "[1, 2]")
            .unwrap()
            .kind(),
        EventKind::Ignore
    );
}

fn gh_comment(action: &str, body: &str, pull: bool) -> String {
    let pr = if pull {
        r#""pull_request": {"url": "u"},"#
    } else {
        ""
    };
    format!(
        r#"{{"action": "{action}",
            "issue": {{"number": 34, "state": "open", {pr} "user": {{"login": "alice"}}}},
            "comment": {{"id": 99, "node_id": "IC_x", "body": {body:?},
                         "user": {{"login": "bob", "id": 2}}}},
            "repository": {{"full_name": "acme/gitops"}}, "sender": {{"login": "bob"}}}}"#
    )
}

#[test]
fn github_comments() {
    let inbound = normalized(
        &[GH_COMMENT],
        &gh_comment("created", "/thule plan -d apps", true),
    )
    .unwrap();
    assert_eq!(inbound.kind(), EventKind::Command);
    let Event::Comment(c) = &inbound.event else {
        unreachable!()
    };
    assert_eq!(c.mr.number, 34);
    assert_eq!(c.author.login, "bob");
    assert_eq!(c.comment.node_id.as_deref(), Some("IC_x"));
    assert_eq!(c.head_sha, None);
    assert_eq!(
        c.command.as_ref().map(|i| &i.command),
        Some(&Command::Plan {
            projects: vec![],
            dirs: vec!["apps".into()]
        })
    );
    // Edits are reported but not acted on; deletions and plain issues are ignored.
    let edited = normalized(&[GH_COMMENT], &gh_comment("edited", "/thule plan", true)).unwrap();
    assert!(matches!(&edited.event, Event::Comment(c) if c.edited));
    assert_eq!(edited.kind(), EventKind::Ignore);
    for (action, pull) in [("deleted", true), ("created", false)] {
        let inbound = normalized(&[GH_COMMENT], &gh_comment(action, "/thule plan", pull)).unwrap();
        assert!(
            matches!(inbound.event, Event::Ignored { .. }),
            "{action} {pull}"
        );
    }
    let unknown = normalized(&[GH_COMMENT], &gh_comment("created", "/thule apply", true)).unwrap();
    assert_eq!(unknown.kind(), EventKind::Command);
}

fn gl_note(extra: &str, noteable: &str) -> String {
    format!(
        r#"{{"object_kind": "note", "user": {{"id": 43, "username": "bob"}},
            "project": {{"id": 7, "path_with_namespace": "platform/gitops"}},
            "object_attributes": {{"id": 55501, "note": "/thule plan apps-prod",
              "noteable_type": "{noteable}", {extra} "url": "https://x/-/merge_requests/12#note_55501"}},
            "merge_request": {{"iid": 12, "state": "opened", "source_branch": "feat",
              "target_branch": "main", "last_commit": {{"id": "{sha}"}}}}}}"#,
        sha = "7".repeat(40)
    )
}

#[test]
fn gitlab_notes() {
    let inbound = normalized(
        &[GL_NOTE],
        &gl_note(r#""action": "create","#, "MergeRequest"),
    )
    .unwrap();
    assert_eq!(inbound.kind(), EventKind::Command);
    let Event::Comment(c) = &inbound.event else {
        unreachable!()
    };
    assert_eq!(c.mr.to_string(), "platform/gitops!12");
    assert_eq!(c.comment.id, 55501);
    assert_eq!(c.head_sha.as_deref(), Some("7".repeat(40).as_str()));
    assert_eq!(c.author.id.as_deref(), Some("43"));
    let edited = normalized(
        &[GL_NOTE],
        &gl_note(r#""action": "update","#, "MergeRequest"),
    )
    .unwrap();
    assert_eq!(edited.kind(), EventKind::Ignore);
    assert!(matches!(&edited.event, Event::Comment(c) if c.edited));
    for (extra, noteable) in [
        (r#""system": true,"#, "MergeRequest"),
        ("", "Snippet"),
        (r#""action": "delete","#, "MergeRequest"),
    ] {
        let inbound = normalized(&[GL_NOTE], &gl_note(extra, noteable)).unwrap();
        assert!(
            matches!(inbound.event, Event::Ignored { .. }),
            "{extra} {noteable}"
        );
    }
    let body = gl_note("", "MergeRequest").replace(r#""iid": 12, "#, "");
    assert_eq!(
        normalized(&[GL_NOTE], &body).unwrap_err(),
        ParseError::MissingField {
            field: "merge_request.iid".into()
        }
    );
}

fn gl_mr(action: &str, extra_attrs: &str, changes: &str) -> String {
    format!(
        r#"{{"object_kind": "merge_request", "user": {{"username": "alice"}},
            "project": {{"path_with_namespace": "platform/gitops"}},
            "object_attributes": {{"iid": 12, "action": "{action}", "state": "opened",
              "source_branch": "feat", "target_branch": "main", {extra_attrs}
              "last_commit": {{"id": "{sha}"}}}},
            "labels": [{{"title": "thule:plan"}}], "changes": {changes}}}"#,
        sha = "7".repeat(40)
    )
}

#[test]
fn gitlab_update_classification() {
    let cases = [
        (r#""oldrev": "1f0c","#, "{}", Trigger::Pushed),
        (
            &*format!(r#""oldrev": "{}","#, "7".repeat(40)),
            "{}",
            Trigger::Other,
        ),
        (
            "",
            r#"{"draft": {"previous": true, "current": false}}"#,
            Trigger::ReadyForReview,
        ),
        (
            "",
            r#"{"target_branch": {"previous": "dev", "current": "main"}}"#,
            Trigger::BaseChanged,
        ),
        (
            "",
            r#"{"labels": {"previous": [], "current": [{"title": "x"}]}}"#,
            Trigger::LabelsChanged,
        ),
        (
            "",
            r#"{"title": {"previous": "a", "current": "b"}}"#,
            Trigger::Other,
        ),
        ("", "[]", Trigger::Other),
    ];
    for (attrs, changes, trigger) in cases {
        let inbound = normalized(&[GL_MR], &gl_mr("update", attrs, changes)).unwrap();
        assert_eq!(trigger_of(&inbound), trigger, "{attrs} {changes}");
    }
    for (action, trigger) in [
        ("approved", Trigger::Other),
        ("merge", Trigger::Merged),
        ("close", Trigger::Closed),
    ] {
        let inbound = normalized(&[GL_MR], &gl_mr(action, "", "{}")).unwrap();
        assert_eq!(trigger_of(&inbound), trigger, "{action}");
    }
    let inbound = normalized(&[GL_MR], &gl_mr("update", r#""oldrev": "1f0c","#, "{}")).unwrap();
    let Event::MergeRequest(mr) = &inbound.event else {
        unreachable!()
    };
    assert_eq!(mr.before_sha.as_deref(), Some("1f0c"));
    assert_eq!(mr.labels, ["thule:plan"]);
    assert_eq!(
        normalized(&[("X-Gitlab-Event", "System Hook")], "{}")
            .unwrap()
            .kind(),
        EventKind::Ignore
    );
}

#[test]
fn bitbucket_comment_edits_deletes_and_pings() {
    let cloud_comment = |deleted: bool| {
        format!(
            r#"{{"actor": {{"display_name": "Bob", "account_id": "a-2"}},
                "repository": {{"full_name": "ws/repo"}},
                "pullrequest": {{"id": 3, "state": "OPEN",
                  "source": {{"branch": {{"name": "feat"}}, "commit": {{"hash": "0123456789ab"}}}},
                  "destination": {{"branch": {{"name": "main"}}}}}},
                "comment": {{"id": 5, "deleted": {deleted}, "content": {{"raw": "/thule help"}},
                  "user": {{"display_name": "Bob", "account_id": "a-2"}}}}}}"#
        )
    };
    let key = |k| [("X-Event-Key", k), ("X-Request-UUID", "u")];
    let inbound = normalized(&key("pullrequest:comment_created"), &cloud_comment(false)).unwrap();
    assert_eq!(inbound.kind(), EventKind::Command);
    let Event::Comment(c) = &inbound.event else {
        unreachable!()
    };
    assert_eq!(c.author.id.as_deref(), Some("a-2"));
    assert_eq!(c.head_sha.as_deref(), Some("0123456789ab"));
    let edited = normalized(&key("pullrequest:comment_updated"), &cloud_comment(false)).unwrap();
    assert_eq!(edited.kind(), EventKind::Ignore);
    let deleted = normalized(&key("pullrequest:comment_created"), &cloud_comment(true)).unwrap();
    assert!(matches!(deleted.event, Event::Ignored { .. }));
    let approved = normalized(&key("pullrequest:approved"), &cloud_comment(false)).unwrap();
    assert!(matches!(approved.event, Event::Ignored { .. }));

    // Data Center's ping is unsigned; its body is not read at all.
    let ping = normalized(&[("X-Event-Key", "diagnostics:ping")], "not json").unwrap();
    assert_eq!(ping.event, Event::Ping);
    assert_eq!(ping.sender, None);
}
