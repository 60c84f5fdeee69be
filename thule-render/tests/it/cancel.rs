//! Cancelling a render run: a running tool is killed with everything it started, promptly, and
//! projects not started yet are not rendered. The hanging tool is a fake `helm` script.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use thule_core::cancel::CancelToken;
use thule_render::{
    CountingRunner, ProcessRunner, ProjectRender, RenderEngine, RenderError, RenderOptions,
    Renderer, Toolchain,
};

use crate::support::{fixture_repo, load, project};

/// What thule runs to render the fixture's `web` project (see helm.rs).
const WEB_TEMPLATE: &str = r"helm template web ./helm/web --namespace shop -f helm/values/base.yaml -f helm/values/prod.yaml --set 'config.extra=a\,b' --set image.tag=9.9.9 --kube-version 1.31.0 --api-versions policy/v1/PodDisruptionBudget --include-crds";

/// A tools directory whose `helm` answers `version` and otherwise starts `sleep 30` in the
/// background (a grandchild of thule, in the tool's process group), writes "SHELL_PID
/// SLEEP_PID" to `pids`, and waits. `kubectl` is the real one.
struct HangingHelm {
    dir: tempfile::TempDir,
}

impl HangingHelm {
    fn new() -> Result<Self> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let d = dir.path().display();
        let script = format!(
            "#!/bin/sh\n\
             if [ \"$1\" = version ]; then echo v9.9.9; exit 0; fi\n\
             sleep 30 &\n\
             echo \"$$ $!\" > '{d}/pids.tmp'\n\
             mv '{d}/pids.tmp' '{d}/pids'\n\
             wait\n"
        );
        let helm = dir.path().join("helm");
        std::fs::write(&helm, script)?;
        std::fs::set_permissions(&helm, std::fs::Permissions::from_mode(0o755))?;
        std::os::unix::fs::symlink(
            crate::support::tools_dir().join("kubectl"),
            dir.path().join("kubectl"),
        )?;
        Ok(Self { dir })
    }

    fn toolchain(&self) -> Toolchain {
        Toolchain::from_dir(self.dir.path())
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.path().join("pids")
    }
}

/// Cancel `token` once `pid_file` exists (the tool is running), and return the moment of the
/// cancellation and the PIDs the tool wrote. Cancels anyway after 30 s so a test never hangs.
fn cancel_when_started(token: &CancelToken, pid_file: PathBuf) -> JoinHandle<(Instant, String)> {
    let token = token.clone();
    std::thread::spawn(move || {
        let give_up = Instant::now() + Duration::from_secs(30);
        let pids = loop {
            if let Ok(pids) = std::fs::read_to_string(&pid_file) {
                break pids;
            }
            if Instant::now() > give_up {
                break String::new();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        token.cancel();
        (Instant::now(), pids)
    })
}

/// The state letter of a process (`R`, `S`, `Z`, …), or `None` when there is no such process.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `PID (COMM) STATE ...`; COMM may hold spaces and parentheses, so split at the last `)`.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// Whether a process still runs (a zombie has ended and only waits to be reaped).
fn running(pid: u32) -> bool {
    process_state(pid).is_some_and(|s| s != 'Z')
}

fn pids(text: &str) -> Result<(u32, u32)> {
    let mut it = text.split_whitespace().map(str::parse::<u32>);
    match (it.next(), it.next()) {
        (Some(Ok(shell)), Some(Ok(sleep))) => Ok((shell, sleep)),
        _ => bail!("the fake helm did not start (pid file: {text:?})"),
    }
}

/// The failure must be the cancellation, not a tool failure or a timeout.
fn assert_cancelled(r: &ProjectRender) -> Result<()> {
    let f = r
        .failure()
        .with_context(|| format!("{} rendered but was expected to be cancelled", r.project))?;
    ensure!(
        f.is_cancelled() && r.is_cancelled(),
        "{}: {}",
        r.project,
        f.reason()
    );
    ensure!(
        f.reason()
            .starts_with("not rendered: the run was cancelled"),
        "{}",
        f.reason()
    );
    Ok(())
}

fn engine(
    repo: &Path,
    toolchain: Toolchain,
    token: &CancelToken,
) -> RenderEngine<CountingRunner<ProcessRunner>> {
    let options = RenderOptions::new(repo)
        .toolchain(toolchain)
        .cancel_token(token.clone())
        .jobs(1);
    RenderEngine::new(CountingRunner::new(ProcessRunner::new()), options)
}

#[test]
fn cancelling_kills_the_running_tool_and_its_children_within_a_second() -> Result<()> {
    let repo = fixture_repo();
    let helm = HangingHelm::new()?;
    let token = CancelToken::new();
    let engine = engine(&repo, helm.toolchain(), &token);
    let canceller = cancel_when_started(&token, helm.pid_file());

    let r = engine.render(&project(&repo, "web")?);
    let returned = Instant::now();
    let (cancelled_at, pid_text) = canceller.join().expect("canceller thread");
    let (shell, sleep) = pids(&pid_text)?;

    let waited = returned.saturating_duration_since(cancelled_at);
    ensure!(
        waited < Duration::from_secs(1),
        "render returned {waited:?} after the cancellation"
    );
    assert_cancelled(&r)?;
    let reason = r.failure().map(|f| f.reason()).unwrap_or_default();
    ensure!(
        reason.ends_with(&format!("{WEB_TEMPLATE}` was cancelled")),
        "the reason names the stopped command: {reason}"
    );
    // The tool thule started was killed and reaped: no process, not even a zombie.
    ensure!(
        process_state(shell).is_none(),
        "the tool process {shell} is still there ({:?})",
        process_state(shell)
    );
    // Its child died with the process group (it is re-parented, so it may linger briefly as
    // a zombie until the new parent reaps it, and SIGKILL takes a moment to land).
    let give_up = Instant::now() + Duration::from_secs(5);
    while running(sleep) && Instant::now() < give_up {
        std::thread::sleep(Duration::from_millis(10));
    }
    ensure!(
        !running(sleep),
        "the tool's child {sleep} survived the cancellation"
    );
    Ok(())
}

#[test]
fn a_cancelled_run_renders_none_of_the_remaining_projects() -> Result<()> {
    let repo = fixture_repo();
    let helm = HangingHelm::new()?;
    let token = CancelToken::new();
    let engine = engine(&repo, helm.toolchain(), &token);
    // One job: `web` hangs first, the others wait their turn.
    let names = ["web", "api-prod", "plain", "api-staging"];
    let projects = names
        .iter()
        .map(|n| project(&repo, n))
        .collect::<Result<Vec<_>>>()?;
    let canceller = cancel_when_started(&token, helm.pid_file());

    let results = engine.render_all(&projects);
    let returned = Instant::now();
    let (cancelled_at, pid_text) = canceller.join().expect("canceller thread");
    pids(&pid_text)?;
    let waited = returned.saturating_duration_since(cancelled_at);
    ensure!(
        waited < Duration::from_secs(1),
        "render_all returned {waited:?} after the cancellation"
    );

    assert_eq!(
        results
            .iter()
            .map(|r| r.project.as_str())
            .collect::<Vec<_>>(),
        names
    );
    for r in &results {
        assert_cancelled(r)?;
    }
    // The stopped project says which tool was stopped; the others never started one.
    let Some(RenderError::Cancelled { source }) = results[0].failure().map(|f| &f.error) else {
        bail!("web: {:?}", results[0].outcome)
    };
    ensure!(source.is_some(), "web names the stopped tool");
    for r in &results[1..] {
        let Some(RenderError::Cancelled { source: None }) = r.failure().map(|f| &f.error) else {
            bail!("{} started something: {:?}", r.project, r.outcome)
        };
        ensure!(
            r.failure().is_some_and(|f| f.tool.is_none()),
            "{}",
            r.project
        );
    }
    // helm's version and the hanging template; nothing for the three projects after it.
    assert_eq!(
        engine.runner().calls(),
        ["helm version --template '{{.Version}}'", WEB_TEMPLATE]
    );
    Ok(())
}

#[test]
fn a_run_cancelled_before_it_starts_runs_nothing_and_reports_every_project() -> Result<()> {
    let repo = fixture_repo();
    let token = CancelToken::new();
    token.cancel();
    let projects = load(&repo)?;
    let engine = engine(
        &repo,
        Toolchain::from_dir(&crate::support::tools_dir()),
        &token,
    )
    .with_jobs(4);
    let results = engine.render_all(&projects);
    assert_eq!(results.len(), projects.len());
    for r in &results {
        assert_cancelled(r)?;
        assert_eq!(
            r.failure().map(|f| f.reason()).as_deref(),
            Some("not rendered: the run was cancelled")
        );
    }
    assert_eq!(engine.runner().count(), 0, "{:?}", engine.runner().calls());
    Ok(())
}
