//! One execution environment: a runtime process, its Runtime API listener,
//! its memory limit and its log capture.
//!
//! This module owns a sandbox's life: starting the process with the contract's
//! environment in its own process group and memory cgroup, noticing when it
//! dies and why, and stopping it (SIGTERM, a grace, then SIGKILL to the whole
//! group). Running one invocation on it is in [`invoke`]. Which sandbox serves
//! which request is the scheduler's business.

mod env;
mod invoke;
pub mod memory;
mod output;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::function::Function;
use crate::logs::LogSink;
use crate::outcome::{ExitStatusText, Failure};
use crate::runtime_api::{self, Mailbox};
use crate::watchdog::Watchdog;
pub use env::InitType;
pub use invoke::{InvokeRequest, InvokeResult, INIT_LIMIT};
use memory::{MemoryControl, MemoryLimit};
use output::OutputPump;

/// How long a runtime gets between SIGTERM and SIGKILL when the host stops
/// it (Lambda gives 300–500 ms).
const STOP_GRACE: Duration = Duration::from_millis(500);

/// What every sandbox of a host shares.
#[derive(Clone)]
pub struct HostContext {
    pub logs: LogSink,
    pub memory: Arc<MemoryControl>,
    /// Absent when it could not be started; sandboxes then rely on
    /// `PR_SET_PDEATHSIG` and the host's own shutdown alone.
    pub watchdog: Option<Arc<Watchdog>>,
}

pub struct Sandbox {
    /// 32 hex digits, as in Lambda's log stream names.
    pub id: String,
    pub function: Arc<Function>,
    pub init_type: InitType,
    pid: Option<u32>,
    mailbox: Arc<Mailbox>,
    memory: Option<Arc<MemoryLimit>>,
    server: tokio::task::JoinHandle<()>,
    pump: Option<OutputPump>,
    logs: LogSink,
    exited: watch::Receiver<bool>,
    first_served: AtomicBool,
    last_used: Mutex<Instant>,
}

impl Sandbox {
    /// Starts a sandbox. It always returns one: a sandbox whose process could
    /// not be started is born dead, and its first invocation reports why.
    pub async fn start(
        function: Arc<Function>,
        host: &HostContext,
        init_type: InitType,
    ) -> Arc<Sandbox> {
        let id = crate::ids::uuid().simple().to_string();
        let started = Instant::now();
        let mailbox = Arc::new(Mailbox::new(started));
        let (exited_tx, exited) = watch::channel(false);
        let mut sandbox = Sandbox {
            id,
            function,
            init_type,
            pid: None,
            mailbox: mailbox.clone(),
            memory: None,
            server: tokio::spawn(async {}),
            pump: None,
            logs: host.logs.clone(),
            exited,
            first_served: AtomicBool::new(false),
            last_used: Mutex::new(started),
        };
        if let Err(failure) = sandbox.launch(host, exited_tx).await {
            tracing::warn!(function = %sandbox.function.name, "cannot start a sandbox: {failure:?}");
            mailbox.fail_all(failure);
        }
        Arc::new(sandbox)
    }

    async fn launch(
        &mut self,
        host: &HostContext,
        exited_tx: watch::Sender<bool>,
    ) -> Result<(), Failure> {
        let host_error = |what: &str, e: std::io::Error| Failure::InvalidEntrypoint {
            detail: format!("{what}: {e}"),
        };
        let (addr, server) = runtime_api::serve(self.mailbox.clone())
            .await
            .map_err(|e| host_error("cannot open the Runtime API listener", e))?;
        self.server = server;
        let config = &self.function.config;
        let memory = host
            .memory
            .limit(&self.id, config.memory_mb)
            .map_err(|e| host_error("cannot set up the memory limit", e))?;
        let memory = Arc::new(memory);
        self.memory = Some(memory.clone());

        let stream = format!(
            "{}/[$LATEST]{}",
            crate::clock::utc_date_path(std::time::SystemTime::now()),
            self.id
        );
        let vars = env::lambda_env(&self.function, addr, &stream, self.init_type);
        if !config.workdir.is_dir() {
            return Err(Failure::InvalidEntrypoint {
                detail: format!("workdir {} is not a directory", config.workdir.display()),
            });
        }
        let mut cmd = tokio::process::Command::new(&config.command[0]);
        cmd.args(&config.command[1..])
            .current_dir(&config.workdir)
            .env_clear()
            .envs(vars)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0);
        let setup = memory.child_setup();
        // SAFETY: `apply` only makes async-signal-safe calls and does not allocate.
        unsafe {
            cmd.pre_exec(move || setup.apply());
        }
        let mut child = cmd.spawn().map_err(|e| Failure::InvalidEntrypoint {
            detail: format!("fork/exec {}: {}", config.command[0], errno_text(&e)),
        })?;
        self.pid = child.id();
        let watchdog = host.watchdog.clone();
        if let (Some(w), Some(pid)) = (&watchdog, self.pid) {
            w.track(pid);
        }

        let stdout = child.stdout.take().and_then(|s| s.into_owned_fd().ok());
        let stderr = child.stderr.take().and_then(|s| s.into_owned_fd().ok());
        if let (Some(out), Some(err)) = (stdout, stderr) {
            let (logs, name, mailbox) = (
                self.logs.clone(),
                self.function.name.clone(),
                self.mailbox.clone(),
            );
            self.pump = OutputPump::start(out, err, move |line| {
                if let Some(tail) = mailbox.tail() {
                    tail.push(&line);
                }
                logs.line(&name, line);
            })
            .ok();
        }

        let (mailbox, pid) = (self.mailbox.clone(), self.pid);
        tokio::spawn(async move {
            let status = child.wait().await;
            let failure = match status {
                _ if memory.oom_killed() => Failure::OutOfMemory,
                Ok(status) => Failure::Exit {
                    status: ExitStatusText::from_status(status),
                },
                Err(e) => Failure::Exit {
                    status: ExitStatusText(format!("wait failed: {e}")),
                },
            };
            // Whatever the runtime left running in its group goes with it.
            if let Some(pid) = pid {
                signal_group(pid, libc::SIGKILL);
                if let Some(w) = watchdog {
                    w.untrack(pid);
                }
            }
            mailbox.fail_all(failure);
            let _ = exited_tx.send(true);
        });
        Ok(())
    }

    pub fn is_alive(&self) -> bool {
        !matches!(self.mailbox.status(), runtime_api::Status::Dead(_))
    }

    pub fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .elapsed()
    }

    fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// Waits until init is over: Ok(init duration) or the reason it failed.
    pub async fn ready(&self, limit: Duration) -> Result<Duration, Failure> {
        let mut status = self.mailbox.watch_status();
        let wait = async {
            status
                .wait_for(|s| *s != runtime_api::Status::Initializing)
                .await
                .map(|s| s.clone())
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(Ok(runtime_api::Status::Ready(init))) => Ok(init),
            Ok(Ok(runtime_api::Status::Dead(f))) => Err(f),
            Ok(Ok(runtime_api::Status::Initializing)) => {
                unreachable!("wait_for skips Initializing")
            }
            // The sender lives in the mailbox we hold, so it cannot be dropped.
            Ok(Err(_)) => Err(Failure::Exit {
                status: ExitStatusText("exit status unknown".into()),
            }),
            Err(_) => {
                let failure = Failure::InitTimeout {
                    limit_s: limit.as_secs(),
                };
                self.kill(failure.clone());
                Err(failure)
            }
        }
    }

    /// Ends the sandbox at once, recording `reason` for anything pending.
    pub fn kill(&self, reason: Failure) {
        self.mailbox.fail_all(reason);
        if let Some(pid) = self.pid {
            signal_group(pid, libc::SIGKILL);
        }
    }

    /// Stops the sandbox politely: SIGTERM to its group, a grace, then SIGKILL.
    pub async fn stop(&self) {
        let Some(pid) = self.pid else { return };
        let mut exited = self.exited.clone();
        if matches!(
            self.mailbox.status(),
            runtime_api::Status::Dead(Failure::InitError { .. })
        ) {
            // A runtime that reported a failed init exits by itself, as the
            // contract asks; let it finish its last writes first.
            let _ = tokio::time::timeout(STOP_GRACE, exited.wait_for(|e| *e)).await;
        }
        if !*exited.borrow() {
            signal_group(pid, libc::SIGTERM);
            let _ = tokio::time::timeout(STOP_GRACE, exited.wait_for(|e| *e)).await;
        }
        signal_group(pid, libc::SIGKILL);
        let _ = tokio::time::timeout(STOP_GRACE, exited.wait_for(|e| *e)).await;
    }

    fn peak_memory_mb(&self) -> u64 {
        let bytes = self.memory.as_ref().map_or(0, |m| m.peak_bytes(self.pid));
        bytes.div_ceil(1024 * 1024)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(pid) = self.pid {
            if !*self.exited.borrow() {
                signal_group(pid, libc::SIGKILL);
            }
        }
    }
}

fn signal_group(pid: u32, signal: i32) {
    // The runtime was started as the leader of its own process group, so the
    // negative pid addresses it and everything it spawned.
    // SAFETY: kill has no memory-safety preconditions.
    unsafe {
        libc::kill(-(pid as i32), signal);
    }
}

/// How Go's os/exec words an exec failure, which is what Lambda's
/// `Runtime.InvalidEntrypoint` messages carry.
fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOENT) => "no such file or directory".into(),
        Some(libc::EACCES) => "permission denied".into(),
        Some(libc::ENOEXEC) => "exec format error".into(),
        _ => e.to_string(),
    }
}
