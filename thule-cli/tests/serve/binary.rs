//! The real `thule serve` binary on loopback: it starts from `examples/serve.yaml` with
//! nothing else installed, queues a signed delivery, never shows or logs the configured
//! token and webhook secret, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `thule serve ARGS` in the workspace root with `env`, stderr captured line by line.
#[allow(clippy::disallowed_methods)] // Runs the built binary as a user would.
fn spawn(args: &[&str], env: &[(&str, &str)]) -> (Child, Arc<Mutex<Vec<String>>>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_thule"));
    cmd.arg("serve")
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("THULE_") || k == "RUST_LOG" {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("starting thule serve");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().unwrap();
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    (child, lines)
}

/// The address from the "listening" log line (JSON), waiting at most 30 s.
fn address(lines: &Mutex<Vec<String>>, child: &mut Child) -> String {
    let start = Instant::now();
    loop {
        if let Some(addr) = lines.lock().unwrap().iter().find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["message"].as_str()?.contains("listening"))
                .then(|| v["address"].as_str().map(str::to_owned))?
        }) {
            return addr;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "thule serve exited early ({status}): {:#?}",
                lines.lock().unwrap()
            );
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no listening line: {:#?}",
            lines.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Wait for the process to exit, at most `limit`; kill it past that (and fail).
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("thule serve did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigterm(child: &Child) {
    let pid = rustix::process::Pid::from_child(child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_the_example_config_hides_secrets_and_stops_on_sigterm() {
    bounded(async {
        let data = tempfile::tempdir().unwrap();
        let data_dir = data.path().display().to_string();
        let (mut child, lines) = spawn(
            &[
                "--config",
                "examples/serve.yaml",
                "--listen",
                "127.0.0.1:0",
                "--data-dir",
                &data_dir,
                "--repo-allowlist",
                "127.0.0.1:9/acme/*",
                "--log-format",
                "json",
            ],
            &[
                ("THULE_GITHUB_WEBHOOK_SECRET", SECRET),
                ("THULE_GITHUB_TOKEN", TOKEN),
                // The forges are a closed loopback port: the run fails there, and nothing
                // leaves this machine.
                ("THULE_GITHUB_API_URL", "http://127.0.0.1:9"),
                ("THULE_GITHUB_GRAPHQL_URL", "http://127.0.0.1:9/graphql"),
                ("THULE_GITLAB_URL", "http://127.0.0.1:9"),
                ("THULE_GITLAB_WEBHOOK_SECRET", SECRET),
                ("THULE_GITLAB_TOKEN", TOKEN),
                ("RUST_LOG", "debug"),
            ],
        );
        let addr = address(&lines, &mut child);
        let url = format!("http://{addr}");
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");

        // A signed delivery is queued and run; the forge (a closed loopback port) cannot be
        // reached, so the run is recorded as failed, with the reason and no secret.
        let (h, b) = pull_delivery("opened", "acme/gitops", 7, &sha('1'), "bin-1");
        let (status, answer) = post(&url, &h, &b).await;
        assert_eq!(status, 202, "{answer}");
        wait_until(Duration::from_secs(15), "the run recorded", || async {
            let (_, body) = get(&format!("{url}/api/runs")).await;
            serde_json::from_str::<Vec<Value>>(&body).is_ok_and(|r| r.len() == 1)
        })
        .await;
        // Refusals, one carrying the secret in a header (GitLab's token).
        let bad = github_headers("pull_request", "bin-2", &b, "wrong");
        assert_eq!(post(&url, &bad, &b).await.0, 401);
        let gitlab = vec![
            ("X-Gitlab-Event".to_owned(), "Merge Request Hook".to_owned()),
            ("X-Gitlab-Token".to_owned(), SECRET.to_owned()),
        ];
        let (status, _) = post(&url, &gitlab, b"not json").await;
        assert_eq!(status, 400);
        let (h, b) = pull_delivery("opened", "elsewhere/gitops", 7, &sha('1'), "bin-3");
        assert_eq!(post(&url, &h, &b).await.0, 403);

        for path in ["/", "/metrics", "/api/runs", "/readyz", "/healthz"] {
            let (status, text) = get(&format!("{url}{path}")).await;
            assert_eq!(status, 200, "{path}: {text}");
            assert!(!text.contains(SECRET), "{path} shows the webhook secret");
            assert!(!text.contains(TOKEN), "{path} shows the token");
        }
        let (_, runs) = get(&format!("{url}/api/runs")).await;
        let runs: Vec<Value> = serde_json::from_str(&runs).unwrap();
        assert_eq!(runs[0]["result"], "failed", "{runs:?}");
        assert_eq!(runs[0]["repo"], "acme/gitops");

        sigterm(&child);
        let status = wait_exit(&mut child, Duration::from_secs(20));
        assert!(status.success(), "{status}");
        std::thread::sleep(Duration::from_millis(100));
        let lines = lines.lock().unwrap();
        assert!(!lines.is_empty());
        for line in lines.iter() {
            assert!(
                !line.contains(SECRET),
                "a log line shows the webhook secret: {line}"
            );
            assert!(!line.contains(TOKEN), "a log line shows the token: {line}");
            serde_json::from_str::<Value>(line)
                .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
        }
        let all = lines.join("\n");
        for needle in [
            "delivery queued",
            "run finished",
            "shutting down",
            "stopped",
        ] {
            assert!(all.contains(needle), "`{needle}` not logged:\n{all}");
        }
        // The queue is on disk where the flags said.
        assert!(data.path().join("thule.db").is_file());
    })
    .await;
}

#[test]
#[allow(clippy::disallowed_methods)] // Runs the built binary as a user would.
fn postgres_is_refused_with_a_clear_error_and_no_password() {
    let out = Command::new(env!("CARGO_BIN_EXE_thule"))
        .args([
            "serve",
            "--db",
            "postgres://thule:pa55word@db.invalid/thule",
        ])
        .current_dir(root())
        .env_remove("THULE_DB")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PostgreSQL is not supported yet"), "{err}");
    assert!(!err.contains("pa55word"), "{err}");
}

#[test]
#[allow(clippy::disallowed_methods)] // Runs the built binary as a user would.
fn serve_help_names_the_environment_and_has_an_example() {
    let out = Command::new(env!("CARGO_BIN_EXE_thule"))
        .args(["serve", "--help"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "Example",
        "THULE_LISTEN",
        "THULE_GITLAB_WEBHOOK_SECRET",
        "--config",
    ] {
        assert!(
            text.contains(needle),
            "`{needle}` not in serve --help:\n{text}"
        );
    }
}
