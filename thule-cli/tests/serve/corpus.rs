//! Every case of `shared/peers/webhooks/cases.yaml`, and every variant, delivered to the server
//! on loopback signed as its case says: `plan` queues a plan job, `command` a command job
//! (permission checks are the runner's), `ignore` answers 2xx and queues nothing. Then the
//! Bitbucket Cloud sequence on one server, and the fork cases with forks not planned.
//!
//! The corpus lives beside the repository (`<repo>/../shared/peers/webhooks`); a missing
//! corpus fails the test rather than skipping it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sha2::{Digest, Sha256};
use thule_cli::serve::{JobKind, RecordOnly};
use thule_core::yaml::{ParseOptions, parse_str};

use crate::support::*;

fn corpus() -> (PathBuf, Value) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/peers/webhooks");
    assert!(
        dir.join("cases.yaml").is_file(),
        "the webhook corpus is missing: expected {}/cases.yaml (shared/ beside the repository)",
        dir.display()
    );
    let text = std::fs::read_to_string(dir.join("cases.yaml")).unwrap();
    let docs = parse_str(&text, "cases.yaml", &ParseOptions::default()).unwrap();
    let root = docs.into_iter().next().map(|d| d.value).unwrap();
    assert_eq!(root["version"], 1);
    (dir, root)
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn body_of(dir: &Path, case: &Value) -> Vec<u8> {
    let body = std::fs::read(dir.join(case["file"].as_str().unwrap())).unwrap();
    assert_eq!(
        Some(hex::encode(Sha256::digest(&body)).as_str()),
        case["sha256"].as_str(),
        "{}: not the recorded bytes",
        case["id"]
    );
    body
}

fn rewrite(body: &[u8], find: &str, replace: &str) -> Vec<u8> {
    let text = std::str::from_utf8(body).unwrap();
    assert_eq!(text.matches(find).count(), 1, "{find:?} occurs once");
    text.replacen(find, replace, 1).into_bytes()
}

/// The case's headers (delivery id replaced by `id`, when given) and its auth header.
fn headers(case: &Value, body: &[u8], id: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = case["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let lower = k.to_ascii_lowercase();
            let is_id = matches!(
                lower.as_str(),
                "x-github-delivery"
                    | "x-gitea-delivery"
                    | "x-gitlab-event-uuid"
                    | "idempotency-key"
                    | "x-request-uuid"
                    | "x-request-id"
            );
            let value = match id {
                Some(id) if is_id => id.to_owned(),
                _ => scalar(v).unwrap(),
            };
            (k.clone(), value)
        })
        .collect();
    let auth = &case["auth"];
    let value = match (auth["scheme"].as_str(), auth["format"].as_str()) {
        (Some("token"), _) => SECRET.to_owned(),
        (Some("hmac-sha256"), Some("sha256=<hex>")) => format!("sha256={}", hmac_hex(SECRET, body)),
        (Some("hmac-sha256"), Some("<bare hex>")) => hmac_hex(SECRET, body),
        other => panic!("{}: unknown auth {other:?}", case["id"]),
    };
    out.push((auth["header"].as_str().unwrap().to_owned(), value));
    out
}

fn kinds(entry: &Value) -> Vec<String> {
    let mut k = vec![entry["kind"].as_str().unwrap().to_owned()];
    if let Some(more) = entry["also_acceptable"].as_array() {
        k.extend(more.iter().filter_map(|v| v.as_str().map(str::to_owned)));
    }
    k
}

/// Deliver once to a fresh server: the status, the answer, and what was queued (`plan`,
/// `command` or `ignore`).
async fn deliver_fresh(
    headers: &[(String, String)],
    body: &[u8],
    extra: &[(&str, &str)],
) -> (u16, Value, &'static str) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = settings_with(dir.path(), extra);
    settings.workers = 0;
    let srv = start(settings, Arc::new(RecordOnly)).await;
    let (status, answer) = srv.deliver(headers, body).await;
    let jobs = srv.service.store().jobs(10).await.unwrap();
    assert!(jobs.len() <= 1);
    let kind = match jobs.first().map(|j| j.job.kind) {
        Some(JobKind::Plan) => "plan",
        Some(JobKind::Command) => "command",
        None => "ignore",
    };
    // Every authenticated, readable delivery is remembered for dedupe.
    assert_eq!(srv.service.store().delivery_count().await.unwrap(), 1);
    srv.service.shutdown().await.unwrap();
    (status, answer, kind)
}

fn check(id: &str, status: u16, answer: &Value, kind: &str, expected: &[String]) {
    assert!(
        expected.iter().any(|k| k == kind),
        "{id}: queued as {kind}, the case expects one of {expected:?}; answer {answer}"
    );
    match kind {
        "ignore" => {
            assert_eq!(status, 200, "{id}: {answer}");
            assert_eq!(answer["result"], "ignored", "{id}");
        }
        _ => {
            assert_eq!(status, 202, "{id}: {answer}");
            assert_eq!(answer["result"], "queued", "{id}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_and_variant_is_answered_as_expected() {
    bounded(async {
        let (dir, root) = corpus();
        let cases = root["cases"].as_array().unwrap();
        assert!(cases.len() >= 62, "{} cases", cases.len());
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        let mut deliveries = 0;
        for case in cases {
            let id = case["id"].as_str().unwrap();
            let body = body_of(&dir, case);
            let (status, answer, kind) = deliver_fresh(
                &headers(case, &body, None),
                &body,
                &[("THULE_PLAN_FORKS", "true")],
            )
            .await;
            check(id, status, &answer, kind, &kinds(&case["expect"]));
            *counts.entry(kind).or_default() += 1;
            deliveries += 1;
            for variant in case["variants"].as_array().into_iter().flatten() {
                let find = variant["rewrite"]["find"].as_str().unwrap();
                let replace = variant["rewrite"]["replace"].as_str().unwrap();
                let body = rewrite(&body, find, replace);
                let (status, answer, kind) = deliver_fresh(
                    &headers(case, &body, None),
                    &body,
                    &[("THULE_PLAN_FORKS", "true")],
                )
                .await;
                check(
                    &format!("{id} [{replace}]"),
                    status,
                    &answer,
                    kind,
                    &kinds(variant),
                );
                *counts.entry(kind).or_default() += 1;
                deliveries += 1;
            }
        }
        println!(
            "serve corpus: {} cases, {deliveries} deliveries: {counts:?}",
            cases.len()
        );
        assert!(counts["plan"] > 0 && counts["command"] > 0 && counts["ignore"] > 0);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fork_cases_are_ignored_when_forks_are_not_planned() {
    bounded(async {
        let (dir, root) = corpus();
        let mut forks = 0;
        for case in root["cases"].as_array().unwrap() {
            let expect = &case["expect"];
            let (Some(repo), Some(head_repo)) =
                (expect["repo"].as_str(), expect["head_repo"].as_str())
            else {
                continue;
            };
            if expect["kind"] != "plan" || repo.eq_ignore_ascii_case(head_repo) {
                continue;
            }
            let body = body_of(&dir, case);
            let (status, answer, kind) =
                deliver_fresh(&headers(case, &body, None), &body, &[]).await;
            assert_eq!((status, kind), (200, "ignore"), "{}: {answer}", case["id"]);
            assert!(
                answer["reason"].as_str().unwrap().contains("fork"),
                "{answer}"
            );
            forks += 1;
        }
        assert!(forks > 0, "the corpus has fork cases");
        println!("serve corpus: {forks} fork cases ignored");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bitbucket_cloud_sequence_on_one_server() {
    bounded(async {
        let (dir, root) = corpus();
        let cases = root["cases"].as_array().unwrap();
        for sequence in root["sequences"].as_array().unwrap() {
            let tmp = tempfile::tempdir().unwrap();
            let mut settings = settings(tmp.path());
            settings.workers = 0;
            let srv = start(settings, Arc::new(RecordOnly)).await;
            for step in sequence["steps"].as_array().unwrap() {
                let case = cases.iter().find(|c| c["id"] == step["case"]).unwrap();
                let body = body_of(&dir, case);
                let id = scalar(&step["headers_delivery_id"]).unwrap();
                let before = srv.service.store().jobs(100).await.unwrap().len();
                let (status, answer) = srv.deliver(&headers(case, &body, Some(&id)), &body).await;
                let after = srv.service.store().jobs(100).await.unwrap().len();
                let kind = if after > before { "plan" } else { "ignore" };
                assert_eq!(
                    kind,
                    step["kind"].as_str().unwrap(),
                    "{} step {}: {status} {answer}",
                    sequence["id"],
                    step["delivery"]
                );
                assert!((200..300).contains(&status));
            }
            srv.service.shutdown().await.unwrap();
        }
    })
    .await;
}
