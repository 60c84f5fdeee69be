//! The service on loopback for tests: settings, signed deliveries, fake runners, waiting.
//!
//! Every service listens on 127.0.0.1 with port 0 and keeps its SQLite file in a temporary
//! directory; every wait is bounded.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use thule_cli::cmd::serve::ServeArgs;
use thule_cli::serve::{Job, JobRunner, RunOutcome, RunResult, Service, Settings};
use thule_core::CancelToken;
use tokio::sync::Notify;

/// The webhook secret every forge is configured with.
pub const SECRET: &str = "thule-serve-test-webhook-secret-7c1d";
/// The API token every forge is configured with (the runner never uses it here).
pub const TOKEN: &str = "thule-serve-test-api-token-52e9";

/// How long any one test may take.
pub const TEST_LIMIT: Duration = Duration::from_secs(90);

/// The environment a test service resolves its settings from: every forge configured on
/// loopback URLs with [`SECRET`] and [`TOKEN`], every repository allowed.
pub fn env(dir: &Path) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    let mut set = |k: &str, v: &str| {
        env.insert(k.to_owned(), v.to_owned());
    };
    set("THULE_LISTEN", "127.0.0.1:0");
    set("THULE_DATA_DIR", &dir.display().to_string());
    set("THULE_REPO_ALLOWLIST", "*");
    set("THULE_GITHUB_TOKEN", TOKEN);
    set("THULE_GITHUB_WEBHOOK_SECRET", SECRET);
    for forge in ["GITLAB", "GITEA", "BITBUCKET"] {
        set(&format!("THULE_{forge}_URL"), "http://127.0.0.1:8929");
        set(&format!("THULE_{forge}_TOKEN"), TOKEN);
        set(&format!("THULE_{forge}_WEBHOOK_SECRET"), SECRET);
    }
    env
}

/// Settings from [`env`] plus `extra`, with short leases and polls for tests.
pub fn settings_with(dir: &Path, extra: &[(&str, &str)]) -> Settings {
    let mut env = env(dir);
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    let mut s = Settings::resolve(&ServeArgs::default(), None, &|k| env.get(k).cloned())
        .expect("test settings resolve");
    s.lease = Duration::from_secs(2);
    s.poll_interval = Duration::from_millis(50);
    s.shutdown_grace = Duration::from_secs(5);
    s
}

/// [`settings_with`] and nothing extra.
pub fn settings(dir: &Path) -> Settings {
    settings_with(dir, &[])
}

/// A running service and its temporary directory.
pub struct Running {
    /// The service.
    pub service: Service,
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Running {
    /// `POST /events` with `headers` and `body`: the status and the JSON answer.
    pub async fn deliver(&self, headers: &[(String, String)], body: &[u8]) -> (u16, Value) {
        post(&self.url, headers, body).await
    }

    /// `GET path`: the status and the body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        get(&format!("{}{path}", self.url)).await
    }
}

/// Start a service with `settings` and `runner`.
pub async fn start(settings: Settings, runner: Arc<dyn JobRunner>) -> Running {
    let service = Service::start(settings, runner)
        .await
        .expect("service starts");
    let url = base_url(service.local_addr());
    Running { service, url }
}

/// `http://ADDR`.
pub fn base_url(addr: SocketAddr) -> String {
    assert!(
        addr.ip().is_loopback(),
        "tests serve on loopback only: {addr}"
    );
    format!("http://{addr}")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .no_proxy()
        .build()
        .expect("http client")
}

/// `POST {url}/events`.
pub async fn post(url: &str, headers: &[(String, String)], body: &[u8]) -> (u16, Value) {
    let mut req = client().post(format!("{url}/events")).body(body.to_vec());
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.expect("POST /events");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// `GET url`.
pub async fn get(url: &str) -> (u16, String) {
    let resp = client().get(url).send().await.expect("GET");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// Hex HMAC-SHA256 of `body` with `secret`.
pub fn hmac_hex(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Headers of a GitHub delivery of `event` with id `id`, signed with `secret`.
pub fn github_headers(event: &str, id: &str, body: &[u8], secret: &str) -> Vec<(String, String)> {
    vec![
        ("Content-Type".into(), "application/json".into()),
        ("X-GitHub-Event".into(), event.into()),
        ("X-GitHub-Delivery".into(), id.into()),
        (
            "X-Hub-Signature-256".into(),
            format!("sha256={}", hmac_hex(secret, body)),
        ),
    ]
}

/// A GitHub `pull_request` payload.
pub fn github_pull(action: &str, repo: &str, number: u64, head: &str, head_repo: &str) -> Vec<u8> {
    json!({
        "action": action,
        "number": number,
        "pull_request": {
            "number": number, "state": "open", "draft": false, "merged": false,
            "user": {"login": "alice", "id": 1},
            "labels": [],
            "head": {"ref": "feature", "sha": head, "repo": {"full_name": head_repo}},
            "base": {"ref": "main", "sha": "b".repeat(40), "repo": {"full_name": repo}}
        },
        "repository": {"full_name": repo},
        "sender": {"login": "alice", "id": 1}
    })
    .to_string()
    .into_bytes()
}

/// A 40-character SHA made of `c`.
pub fn sha(c: char) -> String {
    c.to_string().repeat(40)
}

/// A signed GitHub `pull_request` delivery: `(headers, body)`.
pub fn pull_delivery(
    action: &str,
    repo: &str,
    number: u64,
    head: &str,
    id: &str,
) -> (Vec<(String, String)>, Vec<u8>) {
    let body = github_pull(action, repo, number, head, repo);
    (github_headers("pull_request", id, &body, SECRET), body)
}

/// Poll `check` every 20 ms until it is true; panic with `what` after `limit`.
pub async fn wait_until<F, Fut>(limit: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = tokio::time::Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Run a test body under [`TEST_LIMIT`].
pub async fn bounded<F: Future<Output = ()>>(f: F) {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("the test finished within its time limit");
}

/// A fake runner: counts calls per job, optionally waits for its cancel token (returning
/// `Cancelled`) or hangs without ever returning, and returns `Done` with a comment link.
#[derive(Default)]
pub struct FakeRunner {
    /// Calls per job id.
    pub calls: Mutex<HashMap<i64, usize>>,
    /// Total calls.
    pub total: AtomicUsize,
    /// Notified at every call.
    pub started: Notify,
    /// Jobs whose cancel token fired while they ran.
    pub cancelled: Mutex<Vec<i64>>,
    /// What the runner does.
    pub mode: Mode,
}

/// How a [`FakeRunner`] behaves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Return at once.
    #[default]
    Done,
    /// Wait for the cancel token (up to 30 s), then return `Cancelled`.
    WaitForCancel,
    /// The first call behaves as `WaitForCancel`, the others as `Done`.
    WaitForCancelFirst,
    /// Never return (and ignore the token).
    Hang,
    /// Take this long, ignoring the token.
    Sleep(Duration),
    /// The first call panics, the others are `Done`.
    PanicFirst,
}

impl FakeRunner {
    /// A runner that behaves as `mode`.
    pub fn new(mode: Mode) -> Arc<Self> {
        Arc::new(Self {
            mode,
            ..Self::default()
        })
    }

    /// Calls for `job`.
    pub fn calls_for(&self, job: i64) -> usize {
        self.calls.lock().unwrap().get(&job).copied().unwrap_or(0)
    }

    /// Total calls.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl JobRunner for FakeRunner {
    async fn run(&self, job: &Job, cancel: CancelToken) -> RunOutcome {
        *self.calls.lock().unwrap().entry(job.id).or_default() += 1;
        let previous = self.total.fetch_add(1, Ordering::SeqCst);
        self.started.notify_waiters();
        let mode = match self.mode {
            Mode::WaitForCancelFirst if previous == 0 => Mode::WaitForCancel,
            Mode::WaitForCancelFirst => Mode::Done,
            Mode::PanicFirst if previous == 0 => panic!("the fake runner panics on purpose"),
            Mode::PanicFirst => Mode::Done,
            m => m,
        };
        match mode {
            Mode::Done | Mode::WaitForCancelFirst | Mode::PanicFirst => {}
            Mode::WaitForCancel => {
                let fired = tokio::time::timeout(Duration::from_secs(30), cancel.cancelled())
                    .await
                    .is_ok();
                if fired {
                    self.cancelled.lock().unwrap().push(job.id);
                    return RunOutcome::new(RunResult::Cancelled, "stopped: the token fired");
                }
            }
            Mode::Hang => std::future::pending::<()>().await,
            Mode::Sleep(d) => tokio::time::sleep(d).await,
        }
        let mut outcome = RunOutcome::new(RunResult::Done, format!("fake run of job {}", job.id));
        outcome.comment_url = Some(format!(
            "https://forge.invalid/{}/{}#c{}",
            job.repo, job.mr, job.id
        ));
        outcome.comment_ids = vec![format!("c{}", job.id)];
        outcome.projects = vec!["apps-prod".into()];
        outcome
    }
}
