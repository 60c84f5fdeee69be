//! The [`ToolRunner`] seam: the one place thule starts a process.
//!
//! Renderers describe what to run as a [`ToolInvocation`] (program, arguments, working
//! directory, extra environment, timeout) and hand it to a [`ToolRunner`]. The production
//! runner is [`ProcessRunner`]; [`CountingRunner`] wraps any runner and records what ran (tests
//! use it to prove a cached render did not start the tool).
//!
//! A [`ToolInvocation`] prints as a shell-quoted command line, so every error says exactly
//! what ran.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant};

use thule_core::cancel::CancelToken;

use crate::error::ToolError;

/// What to run: program, arguments, working directory, extra environment and timeout.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ToolInvocation {
    /// The program, as a path or a name looked up on `PATH`.
    pub program: PathBuf,
    /// Arguments, in order.
    pub args: Vec<String>,
    /// Working directory (the runner's own when `None`).
    pub cwd: Option<PathBuf>,
    /// Extra environment variables. [`ProcessRunner`] starts tools with a cleared environment
    /// plus a short pass-through list, so these are the only other variables the tool sees.
    pub env: BTreeMap<String, String>,
    /// Kill the process after this long (the runner's default when `None`).
    pub timeout: Option<Duration>,
}

impl ToolInvocation {
    /// An invocation of `program` with no arguments.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: Vec::new(),
            cwd: None,
            env: BTreeMap::new(),
            timeout: None,
        }
    }

    /// Append one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Append several arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Set the working directory.
    #[must_use]
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Set one environment variable.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Set the timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The command line with the program's file name only (`helm template web ./chart`):
    /// short, and independent of where the tools are installed. Used in object origins.
    pub fn label(&self) -> String {
        let name = self
            .program
            .file_name()
            .map_or_else(|| self.program.to_string_lossy(), |n| n.to_string_lossy());
        let mut out = shell_quote(&name).into_owned();
        for a in &self.args {
            out.push(' ');
            out.push_str(&shell_quote(a));
        }
        out
    }
}

impl fmt::Display for ToolInvocation {
    /// The full command line, shell-quoted: `/opt/bin/helm template web ./chart -f 'my values.yaml'`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shell_quote(&self.program.to_string_lossy()))?;
        for a in &self.args {
            write!(f, " {}", shell_quote(a))?;
        }
        Ok(())
    }
}

/// Quote one word for a POSIX shell; words made only of safe characters are left alone.
pub fn shell_quote(word: &str) -> std::borrow::Cow<'_, str> {
    let safe = |c: char| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        std::borrow::Cow::Borrowed(word)
    } else {
        std::borrow::Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// What a successful tool run produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolOutput {
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr (warnings, even on success).
    pub stderr: Vec<u8>,
    /// Wall-clock time from start to exit.
    pub duration: Duration,
}

/// Runs external tools. The only place thule starts a process.
///
/// Implementations must be usable from several threads at once (projects render in
/// parallel). A non-zero exit is an error ([`ToolError::Failed`]) carrying stderr.
pub trait ToolRunner: Send + Sync {
    /// Run the invocation to completion and return its output.
    ///
    /// # Errors
    /// [`ToolError`] when the program is missing, cannot be started, times out or exits
    /// unsuccessfully.
    fn run(&self, invocation: &ToolInvocation) -> Result<ToolOutput, ToolError>;

    /// Run the invocation unless `cancel` is (or becomes) cancelled.
    ///
    /// The default checks the token before starting only, for runners that cannot stop a
    /// running tool; [`ProcessRunner`] also kills a running tool within milliseconds of the
    /// cancellation. [`crate::RenderEngine`] runs every tool through this method with the
    /// token of its [`crate::RenderOptions`].
    ///
    /// # Errors
    /// [`ToolError::Cancelled`] when the token is cancelled, otherwise as [`ToolRunner::run`].
    fn run_cancellable(
        &self,
        invocation: &ToolInvocation,
        cancel: &CancelToken,
    ) -> Result<ToolOutput, ToolError> {
        if cancel.is_cancelled() {
            return Err(ToolError::Cancelled {
                command: invocation.to_string(),
            });
        }
        self.run(invocation)
    }
}

impl<T: ToolRunner + ?Sized> ToolRunner for &T {
    fn run(&self, invocation: &ToolInvocation) -> Result<ToolOutput, ToolError> {
        (**self).run(invocation)
    }

    fn run_cancellable(
        &self,
        invocation: &ToolInvocation,
        cancel: &CancelToken,
    ) -> Result<ToolOutput, ToolError> {
        (**self).run_cancellable(invocation, cancel)
    }
}

impl<T: ToolRunner + ?Sized> ToolRunner for Arc<T> {
    fn run(&self, invocation: &ToolInvocation) -> Result<ToolOutput, ToolError> {
        (**self).run(invocation)
    }

    fn run_cancellable(
        &self,
        invocation: &ToolInvocation,
        cancel: &CancelToken,
    ) -> Result<ToolOutput, ToolError> {
        (**self).run_cancellable(invocation, cancel)
    }
}

/// Environment variables [`ProcessRunner`] passes through by default. Everything else is
/// cleared so the user's shell (`HELM_NAMESPACE`, `KUBECONFIG`, proxies) cannot change a render.
pub const DEFAULT_PASS_THROUGH_ENV: &[&str] = &["PATH", "HOME", "TMPDIR", "LANG", "LC_ALL"];

/// The default tool timeout: five minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// How often a waiting [`ProcessRunner`] looks at its cancellation tokens.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// The real [`ToolRunner`]: starts a child process with a cleared environment, captures
/// stdout and stderr, and kills it when the timeout expires or the run is cancelled.
///
/// On Unix each tool starts in its own process group, and stopping a tool (timeout,
/// cancellation, an unreadable pipe) kills the whole group, so processes the tool started
/// (helm plugins, a wrapper script's children) die with it. A descendant that leaves the group
/// (`setsid`) is out of reach. Because tools are not in the terminal's process group, a
/// Ctrl-C reaches thule only: the caller stops the tools by cancelling the token.
#[derive(Clone, Debug)]
pub struct ProcessRunner {
    timeout: Duration,
    pass_through: Vec<(String, OsString)>,
    cancel: CancelToken,
}

impl Default for ProcessRunner {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessRunner {
    /// A runner with [`DEFAULT_TIMEOUT`] that passes [`DEFAULT_PASS_THROUGH_ENV`] (read once,
    /// now) to every tool.
    pub fn new() -> Self {
        let pass_through = DEFAULT_PASS_THROUGH_ENV
            .iter()
            .filter_map(|k| std::env::var_os(k).map(|v| ((*k).to_owned(), v)))
            .collect();
        Self {
            timeout: DEFAULT_TIMEOUT,
            pass_through,
            cancel: CancelToken::new(),
        }
    }

    /// Use this timeout for invocations that do not set their own.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Stop when `cancel` is cancelled: no new tool starts, and a running one is killed (with
    /// its process group) within milliseconds and reported as [`ToolError::Cancelled`]. This
    /// token applies to every run, besides the one [`ToolRunner::run_cancellable`] is given.
    #[must_use]
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }
}

/// Kill a child that must not outlive the call, with its process group on Unix (it leads its
/// own group, see the spawn), and reap it.
fn stop(child: &mut Child) {
    #[cfg(unix)]
    {
        // The child is not reaped yet, so its id (which is the group's id) cannot have been
        // reused. Fails harmlessly when the group is already gone.
        let group = rustix::process::Pid::from_child(child);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

enum Stream {
    Stdout(std::io::Result<Vec<u8>>),
    Stderr(std::io::Result<()>),
}

impl ToolRunner for ProcessRunner {
    fn run(&self, invocation: &ToolInvocation) -> Result<ToolOutput, ToolError> {
        self.run_until(invocation, None)
    }

    fn run_cancellable(
        &self,
        invocation: &ToolInvocation,
        cancel: &CancelToken,
    ) -> Result<ToolOutput, ToolError> {
        self.run_until(invocation, Some(cancel))
    }
}

impl ProcessRunner {
    /// [`ToolRunner::run`], stopping when this runner's token or `extra` is cancelled.
    fn run_until(
        &self,
        invocation: &ToolInvocation,
        extra: Option<&CancelToken>,
    ) -> Result<ToolOutput, ToolError> {
        let command = invocation.to_string();
        let is_cancelled =
            || self.cancel.is_cancelled() || extra.is_some_and(CancelToken::is_cancelled);
        let cancelled = || ToolError::Cancelled {
            command: command.clone(),
        };
        if is_cancelled() {
            return Err(cancelled());
        }
        let io_error = |e: std::io::Error| ToolError::Io {
            command: command.clone(),
            message: e.to_string(),
        };
        let timeout = invocation.timeout.unwrap_or(self.timeout);
        let start = Instant::now();
        let deadline = start + timeout;

        // The one process spawner in thule: everything else starts processes through
        // `ToolRunner`, which `clippy.toml` enforces by disallowing `Command::new` elsewhere.
        #[allow(clippy::disallowed_methods)]
        let mut cmd = Command::new(&invocation.program);
        cmd.args(&invocation.args)
            .env_clear()
            .envs(self.pass_through.iter().map(|(k, v)| (k, v)))
            .envs(&invocation.env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &invocation.cwd {
            cmd.current_dir(dir);
        }
        // Its own process group, so stopping the tool stops everything it started.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound && !cwd_missing(invocation.cwd.as_deref()) {
                ToolError::NotFound {
                    command: command.clone(),
                    program: invocation.program.to_string_lossy().into_owned(),
                }
            } else {
                io_error(e)
            }
        })?;

        // Read both pipes on their own threads so a chatty stderr cannot block stdout; stderr
        // goes into a shared buffer so a timeout can still report what was written.
        let (tx, rx) = mpsc::channel();
        let stderr_buf = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut out) = child.stdout.take() {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                let r = out.read_to_end(&mut buf).map(|_| buf);
                let _ = tx.send(Stream::Stdout(r));
            });
        }
        if let Some(mut err) = child.stderr.take() {
            let tx = tx.clone();
            let sink = Arc::clone(&stderr_buf);
            std::thread::spawn(move || {
                let mut chunk = [0_u8; 8192];
                let r = loop {
                    match err.read(&mut chunk) {
                        Ok(0) => break Ok(()),
                        Ok(n) => sink
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                let _ = tx.send(Stream::Stderr(r));
            });
        }
        drop(tx);

        let take_stderr =
            || std::mem::take(&mut *stderr_buf.lock().unwrap_or_else(PoisonError::into_inner));
        let timed_out = |child: &mut Child| {
            stop(child);
            ToolError::TimedOut {
                command: command.clone(),
                timeout,
                stderr: String::from_utf8_lossy(&take_stderr()).into_owned(),
            }
        };
        // Checked at every wake-up (at least every `CANCEL_POLL`): the timeout, then the
        // tokens. A process that ends meanwhile is reaped by `stop` all the same.
        let overdue = |child: &mut Child| {
            if Instant::now() >= deadline {
                Some(timed_out(child))
            } else if is_cancelled() {
                stop(child);
                Some(cancelled())
            } else {
                None
            }
        };

        // Any failure to read the output ends the process: it must never outlive the call.
        let abandon = |child: &mut Child, e: std::io::Error| {
            stop(child);
            io_error(e)
        };
        let mut stdout = None;
        let mut pending = 2;
        while pending > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left.min(CANCEL_POLL)) {
                Ok(Stream::Stdout(Ok(bytes))) => {
                    stdout = Some(bytes);
                    pending -= 1;
                }
                Ok(Stream::Stderr(Ok(()))) => pending -= 1,
                Ok(Stream::Stdout(Err(e)) | Stream::Stderr(Err(e))) => {
                    return Err(abandon(&mut child, e));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(e) = overdue(&mut child) {
                        return Err(e);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let e = std::io::Error::other("an output reader stopped unexpectedly");
                    return Err(abandon(&mut child, e));
                }
            }
        }
        // Both pipes are closed; the process has exited or is about to. Poll briefly so a
        // process that closed its pipes but keeps running still honours the timeout and the
        // cancellation.
        let status = loop {
            if let Some(status) = child.try_wait().map_err(io_error)? {
                break status;
            }
            if let Some(e) = overdue(&mut child) {
                return Err(e);
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let duration = start.elapsed();
        let stderr = take_stderr();
        if !status.success() {
            let status = match status.code() {
                Some(code) => format!("exit status {code}"),
                None => "a signal (no exit status)".to_owned(),
            };
            return Err(ToolError::Failed {
                command,
                status,
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            });
        }
        Ok(ToolOutput {
            stdout: stdout.unwrap_or_default(),
            stderr,
            duration,
        })
    }
}

fn cwd_missing(cwd: Option<&Path>) -> bool {
    cwd.is_some_and(|d| !d.is_dir())
}

/// A [`ToolRunner`] wrapper that counts and records every invocation before delegating.
///
/// Useful to prove that a cached render did not start a tool, and to log what ran.
#[derive(Debug, Default)]
pub struct CountingRunner<T> {
    inner: T,
    count: AtomicUsize,
    log: Mutex<Vec<String>>,
}

impl<T> CountingRunner<T> {
    /// Wrap a runner.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            count: AtomicUsize::new(0),
            log: Mutex::new(Vec::new()),
        }
    }

    /// How many invocations ran so far.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }

    /// The [`ToolInvocation::label`] of every invocation so far, in start order.
    pub fn calls(&self) -> Vec<String> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The wrapped runner.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    fn record(&self, invocation: &ToolInvocation) {
        self.count.fetch_add(1, Ordering::SeqCst);
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(invocation.label());
    }
}

impl<T: ToolRunner> ToolRunner for CountingRunner<T> {
    fn run(&self, invocation: &ToolInvocation) -> Result<ToolOutput, ToolError> {
        self.record(invocation);
        self.inner.run(invocation)
    }

    fn run_cancellable(
        &self,
        invocation: &ToolInvocation,
        cancel: &CancelToken,
    ) -> Result<ToolOutput, ToolError> {
        self.record(invocation);
        self.inner.run_cancellable(invocation, cancel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invocations_print_as_shell_quoted_command_lines() {
        let inv = ToolInvocation::new("/opt/my tools/helm")
            .args(["template", "web", "./chart"])
            .args(["--set", "a=it's", "-f", ""]);
        assert_eq!(
            inv.to_string(),
            r"'/opt/my tools/helm' template web ./chart --set 'a=it'\''s' -f ''"
        );
        assert_eq!(
            inv.label(),
            r"helm template web ./chart --set 'a=it'\''s' -f ''"
        );
    }

    #[test]
    fn captures_stdout_and_keeps_stderr_on_success() {
        let inv = ToolInvocation::new("sh").args(["-c", "echo out; echo warn >&2"]);
        let out = ProcessRunner::new().run(&inv).unwrap();
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"warn\n");
    }

    #[test]
    fn failure_carries_status_stderr_and_command() {
        let inv = ToolInvocation::new("sh").args(["-c", "echo bad input >&2; exit 3"]);
        let err = ProcessRunner::new().run(&inv).unwrap_err();
        assert_eq!(
            err,
            ToolError::Failed {
                command: "sh -c 'echo bad input >&2; exit 3'".into(),
                status: "exit status 3".into(),
                stderr: "bad input\n".into(),
            }
        );
        assert_eq!(
            err.to_string(),
            "`sh -c 'echo bad input >&2; exit 3'` exited with exit status 3: bad input"
        );
    }

    #[test]
    fn missing_program_is_not_found() {
        let inv = ToolInvocation::new("/nonexistent/thule-no-such-tool").arg("version");
        let err = ProcessRunner::new().run(&inv).unwrap_err();
        assert!(matches!(err, ToolError::NotFound { .. }), "{err:?}");
        assert!(err.to_string().contains("/nonexistent/thule-no-such-tool"));
    }

    #[test]
    fn timeout_kills_the_process_and_keeps_stderr() {
        let inv = ToolInvocation::new("sh")
            .args(["-c", "echo started >&2; exec sleep 30"])
            .timeout(Duration::from_millis(300));
        let err = ProcessRunner::new().run(&inv).unwrap_err();
        match err {
            ToolError::TimedOut { stderr, .. } => assert_eq!(stderr, "started\n"),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[test]
    fn environment_is_cleared_except_pass_through_and_invocation_env() {
        let inv = ToolInvocation::new("sh")
            .args(["-c", "echo \"${THULE_X:-unset} ${CARGO:-unset}\""])
            .env("THULE_X", "set");
        let out = ProcessRunner::new().run(&inv).unwrap();
        // cargo sets CARGO for tests; the runner must not leak it to tools.
        assert_eq!(String::from_utf8_lossy(&out.stdout), "set unset\n");
    }

    #[test]
    fn a_cancelled_runner_starts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("started");
        let inv = ToolInvocation::new("touch").arg(marker.to_string_lossy());
        let token = CancelToken::new();
        token.cancel();
        // The runner's own token, and the one a caller passes.
        let err = ProcessRunner::new()
            .with_cancel(token.clone())
            .run(&inv)
            .unwrap_err();
        assert!(err.is_cancelled(), "{err:?}");
        let err = ProcessRunner::new()
            .run_cancellable(&inv, &token)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("`touch {}` was cancelled", marker.display())
        );
        assert!(!marker.exists(), "the tool must not have run");
        // An uncancelled token changes nothing.
        ProcessRunner::new()
            .run_cancellable(&inv, &CancelToken::new())
            .unwrap();
        assert!(marker.exists());
    }

    /// Whether `pid` is a live process (not gone, not a zombie).
    #[cfg(target_os = "linux")]
    fn running(pid: &str) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| Some(s.rsplit_once(')')?.1.trim_start().starts_with('Z')))
            .is_some_and(|zombie| !zombie)
    }

    /// Waits (boundedly) for a killed process to be gone: SIGKILL takes a moment to land.
    #[cfg(target_os = "linux")]
    fn dies(pid: &str) -> bool {
        let give_up = Instant::now() + Duration::from_secs(5);
        while running(pid) && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(10));
        }
        !running(pid)
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_timeout_kills_the_tools_children_too() {
        // The shell keeps its stdout open in the background `sleep`: only killing the process
        // group ends it (and closes the pipes).
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let script = format!("sleep 30 & echo $! > '{}'; wait", pid_file.display());
        let inv = ToolInvocation::new("sh")
            .args(["-c", &script])
            .timeout(Duration::from_millis(300));
        let err = ProcessRunner::new().run(&inv).unwrap_err();
        assert!(matches!(err, ToolError::TimedOut { .. }), "{err:?}");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        assert!(dies(pid.trim()), "the background sleep survived");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn cancelling_kills_a_running_tool_and_its_children_promptly() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let tmp = dir.path().join("pid.tmp");
        let script = format!(
            "sleep 30 & echo $! > '{}'; mv '{}' '{}'; wait",
            tmp.display(),
            tmp.display(),
            pid_file.display()
        );
        let inv = ToolInvocation::new("sh").args(["-c", &script]);
        let token = CancelToken::new();
        let runner = ProcessRunner::new().with_cancel(token.clone());
        let canceller = {
            let pid_file = pid_file.clone();
            std::thread::spawn(move || {
                while !pid_file.exists() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                token.cancel();
                Instant::now()
            })
        };
        let err = runner.run(&inv).unwrap_err();
        let returned = Instant::now();
        let cancelled_at = canceller.join().unwrap();
        assert!(
            returned.saturating_duration_since(cancelled_at) < Duration::from_secs(1),
            "returned {:?} after the cancellation",
            returned.saturating_duration_since(cancelled_at)
        );
        assert_eq!(
            err,
            ToolError::Cancelled {
                command: inv.to_string()
            }
        );
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        assert!(dies(pid.trim()), "the background sleep survived");
    }

    #[test]
    fn counting_runner_counts_and_logs() {
        let r = CountingRunner::new(ProcessRunner::new());
        r.run(&ToolInvocation::new("true")).unwrap();
        let _ = r.run(&ToolInvocation::new("false"));
        assert_eq!(r.count(), 2);
        assert_eq!(r.calls(), vec!["true".to_owned(), "false".to_owned()]);
        let cancelled = CancelToken::new();
        cancelled.cancel();
        let _ = r.run_cancellable(&ToolInvocation::new("true"), &cancelled);
        assert_eq!(r.count(), 3, "cancellable runs are counted too");
    }
}
