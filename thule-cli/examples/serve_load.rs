//! Load on `thule serve`'s intake, and the event-to-comment latency of one merge request
//! (run by `scripts/bench-serve.sh`; a benchmark, not a test).
//!
//! 1. Intake: the service (in this process, SQLite in a temporary directory, a runner that
//!    records each job) receives signed GitHub `pull_request` deliveries on 127.0.0.1 at a
//!    steady rate for a while, 10% of them repeated deliveries. Printed: sent, accepted,
//!    deduplicated, lost (accepted deliveries whose job is not in the queue: must be 0), intake
//!    latency p50/p99, and the time the queue takes to drain after the last delivery.
//! 2. Latency: one merge request planned from a webhook by the real runner against a loopback
//!    fake of GitHub and a local git repository, next to the same merge request planned by
//!    `thule plan --publish` (the binary beside this example) with GitHub Actions' variables.
//!
//!   cargo run --release -p thule-cli --example serve_load -- [RATE] [SECONDS]

#![allow(clippy::print_stdout, clippy::disallowed_methods)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac_sha256::hmac_hex;
use serde_json::json;
use thule_cli::serve::runner::PipelineRunner;
use thule_cli::serve::{RecordOnly, Service, Settings};
use thule_vcs::testing::github::{FakeGitHub, OWNER_REPO, PR, TOKEN};

const SECRET: &str = "bench-webhook-secret";

mod hmac_sha256 {
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    /// Hex HMAC-SHA256 of `body` with `secret`.
    pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }
}

fn settings(dir: &Path, extra: &[(&str, &str)]) -> Settings {
    let mut env = std::collections::BTreeMap::new();
    for (k, v) in [
        ("THULE_LISTEN", "127.0.0.1:0"),
        ("THULE_REPO_ALLOWLIST", "*"),
        ("THULE_GITHUB_TOKEN", TOKEN),
        ("THULE_GITHUB_WEBHOOK_SECRET", SECRET),
        ("THULE_GITHUB_API_URL", "http://127.0.0.1:9"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    {
        env.insert(k.to_owned(), v.to_owned());
    }
    env.insert("THULE_DATA_DIR".into(), dir.display().to_string());
    let mut s =
        Settings::resolve(&Default::default(), None, &|k| env.get(k).cloned()).expect("settings");
    s.poll_interval = Duration::from_millis(20);
    s
}

fn pull(action: &str, number: u64, head: &str) -> Vec<u8> {
    json!({
        "action": action, "number": number,
        "pull_request": {"number": number, "state": "open", "draft": false, "merged": false,
            "user": {"login": "alice", "id": 1}, "labels": [],
            "head": {"ref": "f", "sha": head, "repo": {"full_name": OWNER_REPO}},
            "base": {"ref": "main", "sha": "b".repeat(40), "repo": {"full_name": OWNER_REPO}}},
        "repository": {"full_name": OWNER_REPO}, "sender": {"login": "alice", "id": 1}
    })
    .to_string()
    .into_bytes()
}

async fn deliver(client: &reqwest::Client, url: &str, id: &str, body: Vec<u8>) -> u16 {
    let sig = format!("sha256={}", hmac_hex(SECRET, &body));
    client
        .post(format!("{url}/events"))
        .header("X-GitHub-Event", "pull_request")
        .header("X-GitHub-Delivery", id)
        .header("X-Hub-Signature-256", sig)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn intake(rate: u64, seconds: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let service = Service::start(settings(dir.path(), &[]), Arc::new(RecordOnly))
        .await
        .expect("service");
    let url = format!("http://{}", service.local_addr());
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let total = rate * seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..total {
        let due = start + interval * u32::try_from(i).unwrap_or(u32::MAX);
        tokio::time::sleep_until(due.into()).await;
        // Every tenth delivery repeats the one before it (same delivery id).
        let n = if i % 10 == 9 { i - 1 } else { i };
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let body = pull("opened", 1000 + n, &format!("{n:040x}"));
            let sent = Instant::now();
            let status = deliver(&client, &url, &format!("load-{n}"), body).await;
            (status, sent.elapsed())
        }));
    }
    let mut latencies = Vec::new();
    let (mut accepted, mut duplicates, mut failed) = (0u64, 0u64, 0u64);
    for t in tasks {
        let (status, took) = t.await.expect("task");
        latencies.push(took);
        match status {
            202 => accepted += 1,
            200 => duplicates += 1,
            _ => failed += 1,
        }
    }
    let sent_for = start.elapsed();
    let drain_start = Instant::now();
    let store = service.store();
    loop {
        let stats = store.stats().await.expect("stats");
        if stats.queued == 0 && stats.running == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain = drain_start.elapsed();
    let jobs = store.jobs(u32::MAX).await.expect("jobs").len() as u64;
    latencies.sort();
    println!(
        "intake: {total} sent in {:.1} s ({rate}/s, 10% repeated): {accepted} accepted, {duplicates} deduplicated, {failed} refused or failed, {} lost; intake latency p50 {:.2} ms, p99 {:.2} ms; queue drained {:.2} s after the last delivery",
        sent_for.as_secs_f64(),
        accepted.saturating_sub(jobs),
        pct(&latencies, 0.5).as_secs_f64() * 1e3,
        pct(&latencies, 0.99).as_secs_f64() * 1e3,
        drain.as_secs_f64()
    );
    service.shutdown().await.expect("shutdown");
}

fn git(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@thule.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .status()
        .expect("git")
        .success();
    assert!(ok, "git {args:?}");
}

async fn latency() {
    let clones = tempfile::tempdir().expect("tempdir");
    let repo = clones.path().join(OWNER_REPO);
    std::fs::create_dir_all(repo.join("app")).expect("dir");
    git(&repo, &["init", "--quiet", "-b", "main"]);
    std::fs::write(
        repo.join("app/thule.yaml"),
        "version: v1\nproject: app\nnamespace: app\n",
    )
    .expect("write");
    let mut shas = Vec::new();
    for level in ["info", "debug"] {
        let cms: String = (0..50)
            .map(|i| format!("---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}}}\ndata: {{LOG: {level}}}\n"))
            .collect();
        std::fs::write(repo.join("app/cm.yaml"), cms).expect("write");
        git(&repo, &["add", "."]);
        git(&repo, &["commit", "--quiet", "-m", level]);
        let out = std::process::Command::new("git")
            .current_dir(&repo)
            .args(["rev-parse", "HEAD"])
            .output()
            .expect("git");
        shas.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    git(&repo, &["config", "uploadpack.allowAnySHA1InWant", "true"]);
    let (base, head) = (shas[0].clone(), shas[1].clone());

    // From a webhook, through the service and its runner.
    let fake = FakeGitHub::start(&head, &base).await;
    let (rest, graphql) = fake.urls();
    let dir = tempfile::tempdir().expect("tempdir");
    let s = settings(
        dir.path(),
        &[
            ("THULE_GITHUB_API_URL", &rest),
            ("THULE_GITHUB_GRAPHQL_URL", &graphql),
        ],
    );
    let tools = std::env::var_os("THULE_TOOLS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| ".tools/bin".into());
    let runner = PipelineRunner::new(
        s.providers.clone(),
        &s.data_dir,
        1 << 30,
        thule_render::Toolchain::from_dir(&tools),
        None,
    )
    .expect("runner")
    .with_local_clones(clones.path().to_path_buf(), &s.data_dir)
    .expect("runner");
    let service = Service::start(s, Arc::new(runner)).await.expect("service");
    let url = format!("http://{}", service.local_addr());
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let start = Instant::now();
    assert_eq!(
        deliver(&client, &url, "latency-1", pull("opened", PR, &head)).await,
        202
    );
    while !fake
        .comments()
        .iter()
        .any(|c| c.body.starts_with("<!-- thule:plan"))
    {
        assert!(start.elapsed() < Duration::from_secs(60), "no comment");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let service_latency = start.elapsed();
    service.shutdown().await.expect("shutdown");

    // The same merge request by hand: `thule plan --publish` with GitHub Actions' variables.
    let fake = FakeGitHub::start(&head, &base).await;
    let (rest, graphql) = fake.urls();
    let event = clones.path().join("event.json");
    std::fs::write(
        &event,
        json!({"pull_request": {"number": PR, "head": {"sha": head}, "base": {"sha": base}}})
            .to_string(),
    )
    .expect("write");
    let thule = std::env::current_exe()
        .expect("exe")
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("thule");
    let start = Instant::now();
    let status = std::process::Command::new(&thule)
        .args(["plan", "--publish", "--repo"])
        .arg(&repo)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("THULE_TOOLS_DIR", &tools)
        .env("THULE_NO_PROGRESS", "1")
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_API_URL", &rest)
        .env("GITHUB_GRAPHQL_URL", &graphql)
        .env("GITHUB_REPOSITORY", OWNER_REPO)
        .env("GITHUB_EVENT_PATH", &event)
        .env("THULE_VCS_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("thule runs");
    let by_hand = start.elapsed();
    assert_eq!(status.code(), Some(1), "thule plan --publish: changes");
    println!(
        "latency: webhook to comment {:.0} ms; thule plan --publish by hand {:.0} ms; overhead ratio {:.2}",
        service_latency.as_secs_f64() * 1e3,
        by_hand.as_secs_f64() * 1e3,
        service_latency.as_secs_f64() / by_hand.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let rate: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let seconds: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(60);
    intake(rate, seconds).await;
    latency().await;
}
