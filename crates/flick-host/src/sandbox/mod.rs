//! One execution environment: a runtime process, its Runtime API listener,
//! its memory limit, its private `/tmp` and its log capture.
//!
//! This module owns a sandbox's life: preparing it ahead ([`prepared`]:
//! listener, cgroup, `/tmp`, a [`shell`] that sets up the process's limits
//! and namespace), starting the runtime in it with the contract's
//! environment, noticing when it dies and why, and stopping it (SIGTERM, a
//! grace, then SIGKILL to the whole group).
//! Running one invocation on it is in [`invoke`]. Which sandbox serves which
//! request is the scheduler's business.

pub mod cold_starts;
mod context;
mod env;
pub mod ephemeral;
pub mod etc;
mod invoke;
mod liveness;
pub mod memory;
mod netns;
mod output;
mod peer;
pub mod prepared;
pub mod private_net;
pub mod shell;
pub mod users;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::function::Function;
use crate::logs::LogSink;
use crate::net::Server;
use crate::outcome::{ExitStatusText, Failure};
use crate::runtime_api::{self, Mailbox};
use crate::watchdog::Watchdog;
pub use context::{host_is_root, ContextError, HostContext, LambdaApiInside};
pub use env::InitType;
pub use invoke::{InvokeRequest, InvokeResult, Phases, INIT_LIMIT};
use memory::MemoryLimit;
use output::OutputPump;
pub use prepared::{Prepared, Reserve};
use shell::{Exec, Launched, ShellError};

/// How long a runtime gets between SIGTERM and SIGKILL when the host stops
/// it (Lambda gives 300–500 ms).
const STOP_GRACE: Duration = Duration::from_millis(500);

pub struct Sandbox {
    /// 32 hex digits, as in Lambda's log stream names.
    pub id: String,
    pub function: Arc<Function>,
    pub init_type: InitType,
    /// The one tenant it serves, for a function in per-tenant isolation.
    pub tenant: Option<String>,
    pid: Option<u32>,
    mailbox: Arc<Mailbox>,
    memory: Option<Arc<MemoryLimit>>,
    server: Option<Server>,
    pump: Option<OutputPump>,
    /// A private network's link to the world, down when the sandbox goes.
    uplink: Option<private_net::Uplink>,
    /// The Lambda API served inside its private network.
    lambda_api: Option<Server>,
    logs: LogSink,
    exited: watch::Receiver<bool>,
    /// When the sandbox was asked for (its cold start began).
    created: Instant,
    /// When the runtime's exec began: init is measured from here.
    exec_started: Instant,
    first_served: AtomicBool,
    /// Serves no new invocation once its current ones end (recycled).
    retiring: AtomicBool,
    last_used: Mutex<Instant>,
}

impl Sandbox {
    /// Starts a sandbox on `prepared`, or on one prepared now. It always
    /// returns one: a sandbox whose process could not be started is born
    /// dead, and its first invocation reports why.
    pub async fn start(
        function: Arc<Function>,
        host: &HostContext,
        init_type: InitType,
        tenant: Option<String>,
        prepared: Option<Prepared>,
    ) -> Arc<Sandbox> {
        let created = Instant::now();
        let prepared = match prepared {
            Some(p) => Ok(p),
            None => Prepared::new(&function, host).await,
        };
        let now = Instant::now();
        let (exited_tx, exited) = watch::channel(false);
        let mut sandbox = Sandbox {
            id: String::new(),
            function,
            init_type,
            tenant,
            pid: None,
            mailbox: Arc::new(Mailbox::new()),
            memory: None,
            server: None,
            pump: None,
            uplink: None,
            lambda_api: None,
            logs: host.logs.clone(),
            exited,
            created,
            exec_started: now,
            first_served: AtomicBool::new(false),
            retiring: AtomicBool::new(false),
            last_used: Mutex::new(now),
        };
        let launched = match prepared {
            Ok(prepared) => sandbox.launch(prepared, host, exited_tx).await,
            Err(failure) => Err(failure),
        };
        if let Err(failure) = launched {
            tracing::warn!(function = %sandbox.function.name, "cannot start a sandbox: {failure:?}");
            sandbox.mailbox.fail_all(failure);
        }
        Arc::new(sandbox)
    }

    /// Execs the runtime in a prepared sandbox.
    async fn launch(
        &mut self,
        prepared: Prepared,
        host: &HostContext,
        exited_tx: watch::Sender<bool>,
    ) -> Result<(), Failure> {
        let Prepared {
            id,
            mailbox,
            runtime_api,
            server,
            memory,
            tmpdir,
            shell,
            uplink,
            lambda_api,
        } = prepared;
        self.id = id;
        self.uplink = uplink;
        self.lambda_api = lambda_api;
        self.mailbox = mailbox;
        self.server = Some(server);
        self.memory = Some(memory.clone());
        let config = &self.function.config;
        let stream = format!(
            "{}/[$LATEST]{}",
            crate::clock::utc_date_path(std::time::SystemTime::now()),
            self.id
        );
        let mut vars = env::lambda_env(&self.function, runtime_api, &stream, self.init_type);
        vars.insert(
            "_LAMBDA_TELEMETRY_LOG_FD".into(),
            shell::TELEMETRY_FD.to_string(),
        );
        if let Some(dir) = &tmpdir {
            vars.insert("TMPDIR".into(), dir.to_string_lossy().into_owned());
        }
        let exec = Exec {
            argv: config.command.clone(),
            env: vars,
            cwd: config.workdir.clone(),
        };
        let init = host.cold_starts.begin();
        self.exec_started = Instant::now();
        let launched = shell.exec(&exec).await.map_err(|e| match e {
            ShellError::Exec { .. } | ShellError::Chdir(_) => Failure::InvalidEntrypoint {
                detail: e.to_string(),
            },
            other => Failure::InvalidEntrypoint {
                detail: format!("cannot start the runtime: {other}"),
            },
        })?;
        self.pid = launched.child.id();
        if let Some(pid) = self.pid {
            if let Some(probe) = liveness::Probe::open(pid) {
                self.mailbox.set_liveness(Box::new(move || probe.alive()));
            }
            if let Some(w) = &host.watchdog {
                w.track(pid);
            }
        }
        let mut status = self.mailbox.watch_status();
        tokio::spawn(async move {
            // Ends with the init, or with the sandbox (its mailbox dropped).
            let _ = status
                .wait_for(|s| *s != runtime_api::Status::Initializing)
                .await;
            drop(init);
        });
        // The shell's own pages are not the function's.
        memory.reset_peak();
        self.watch(launched, memory, host.watchdog.clone(), tmpdir, exited_tx);
        Ok(())
    }

    /// Pumps the runtime's output into the logs and notices its end.
    fn watch(
        &mut self,
        launched: Launched,
        memory: Arc<MemoryLimit>,
        watchdog: Option<Arc<Watchdog>>,
        tmpdir: Option<PathBuf>,
        exited_tx: watch::Sender<bool>,
    ) {
        let Launched {
            mut child,
            stdout,
            stderr,
            telemetry,
        } = launched;
        let (logs, name, mailbox) = (
            self.logs.clone(),
            self.function.name.clone(),
            self.mailbox.clone(),
        );
        self.pump = OutputPump::start(stdout, stderr, telemetry, move |line| {
            if let Some(tail) = mailbox.tail() {
                tail.push(&line);
            }
            logs.line(&name, line);
        })
        .map_err(|e| tracing::warn!("cannot capture a sandbox's output: {e}"))
        .ok();

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
            if let Some(dir) = tmpdir {
                let _ = tokio::fs::remove_dir_all(dir).await;
            }
        });
    }

    /// Asks that the sandbox serve nothing once its current invocations end.
    pub fn retire_after_use(&self) {
        self.retiring
            .store(true, std::sync::atomic::Ordering::Release);
    }

    pub fn retiring(&self) -> bool {
        self.retiring.load(std::sync::atomic::Ordering::Acquire)
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

    /// Waits until init is over: Ok(init duration, from the runtime's exec
    /// to its first `/next`) or the reason it failed.
    pub async fn ready(&self, limit: Duration) -> Result<Duration, Failure> {
        let mut status = self.mailbox.watch_status();
        let wait = async {
            status
                .wait_for(|s| *s != runtime_api::Status::Initializing)
                .await
                .map(|s| s.clone())
        };
        match tokio::time::timeout(limit, wait).await {
            Ok(Ok(runtime_api::Status::Ready(at))) => {
                Ok(at.saturating_duration_since(self.exec_started))
            }
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
