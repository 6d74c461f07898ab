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
mod extension_procs;
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

use crate::extensions_api::registry::OnFatal;
use crate::extensions_api::telemetry::Event;
use crate::extensions_api::Registry;
use crate::function::Function;
use crate::logs::LogSink;
use crate::net::Server;
use crate::outcome::{ExitStatusText, Failure};
use crate::runtime_api::{self, Mailbox};
use crate::watchdog::Watchdog;
pub use context::{host_is_root, AwsApi, ContextError, HostContext, LambdaApiInside};
pub use env::InitType;
use extension_procs::ExtensionProcs;
pub use invoke::{InvokeRequest, InvokeResult, Phases, INIT_LIMIT};
use memory::MemoryLimit;
use output::OutputPump;
pub use prepared::{Prepared, Reserve};
use shell::{Exec, ShellError};

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
    /// Its extensions, as the Extensions API knows them (none for a sandbox
    /// that could not be prepared).
    extensions: Option<Arc<Registry>>,
    extension_procs: Arc<ExtensionProcs>,
    /// Set when the host stops it: its extensions hear `spindown`.
    stopping: Arc<AtomicBool>,
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
    /// Whether init was told to the Telemetry API's subscribers.
    init_reported: AtomicBool,
    /// The end of init for the extensions (each asked for an event), or why
    /// it failed; settled once.
    extensions_init: tokio::sync::OnceCell<Result<Duration, Failure>>,
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
            extensions: None,
            extension_procs: Arc::default(),
            stopping: Arc::default(),
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
            init_reported: AtomicBool::new(false),
            extensions_init: tokio::sync::OnceCell::new(),
            last_used: Mutex::new(now),
        };
        let launched = match prepared {
            Ok(prepared) => sandbox.launch(prepared, host, exited_tx).await,
            Err(failure) => Err(failure),
        };
        if let Err(failure) = launched {
            tracing::warn!(function = %sandbox.function.name, "cannot start a sandbox: {failure:?}");
            sandbox.mailbox.fail_all(failure);
            sandbox.extension_procs.kill();
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
            extensions,
            runtime_api,
            server,
            memory,
            tmpdir,
            mut shell,
            uplink,
            lambda_api,
        } = prepared;
        self.id = id;
        self.uplink = uplink;
        self.lambda_api = lambda_api;
        self.mailbox = mailbox;
        self.extensions = Some(extensions.clone());
        self.server = Some(server);
        self.memory = Some(memory.clone());
        let exec = self.runtime_exec(runtime_api, tmpdir.as_deref(), host.aws_api.as_ref());
        let init = host.cold_starts.begin();
        self.exec_started = Instant::now();
        if let Some(output) = shell.take_output() {
            self.pump_output(output, &extensions);
        }
        extensions.telemetry.emit(Event::InitStart {
            init_type: self.init_type.as_str(),
            function_name: self.function.name.to_string(),
            memory_mb: self.function.config.memory_mb,
        });
        let on_fatal = self.fatal_hook(shell.pid());
        extensions.set_on_fatal(on_fatal.clone());
        if !extensions.externals().is_empty() {
            self.start_extensions(&mut shell, &extensions, &exec, host, on_fatal)
                .await?;
        }
        let child = self.exec_runtime(shell, &exec, host).await?;
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
        self.watch(child, memory, host.watchdog.clone(), tmpdir, exited_tx);
        Ok(())
    }

    /// The runtime's command, with the contract's environment.
    fn runtime_exec(
        &self,
        runtime_api: std::net::SocketAddr,
        tmpdir: Option<&std::path::Path>,
        aws_api: Option<&AwsApi>,
    ) -> Exec {
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
        if let Some(dir) = tmpdir {
            vars.insert("TMPDIR".into(), dir.to_string_lossy().into_owned());
        }
        if let Some(api) = aws_api {
            env::aws_api(&mut vars, api, &config.name);
        }
        Exec {
            argv: config.command.clone(),
            env: vars,
            cwd: config.workdir.clone(),
        }
    }

    /// Has the shell become the runtime, and keeps an eye on its pid.
    async fn exec_runtime(
        &mut self,
        shell: shell::Shell,
        exec: &Exec,
        host: &HostContext,
    ) -> Result<tokio::process::Child, Failure> {
        let child = shell.exec(exec).await.map_err(|e| match e {
            ShellError::Exec { .. } | ShellError::Chdir(_) => Failure::InvalidEntrypoint {
                detail: e.to_string(),
            },
            other => Failure::InvalidEntrypoint {
                detail: format!("cannot start the runtime: {other}"),
            },
        })?;
        self.pid = child.id();
        if let Some(pid) = self.pid {
            if let Some(probe) = liveness::Probe::open(pid) {
                self.mailbox.set_liveness(Box::new(move || probe.alive()));
            }
            if let Some(w) = &host.watchdog {
                w.track(pid);
            }
        }
        Ok(child)
    }

    /// Starts the external extensions and waits until each has registered,
    /// as Lambda does before it starts the runtime.
    async fn start_extensions(
        &self,
        shell: &mut shell::Shell,
        registry: &Registry,
        runtime: &Exec,
        host: &HostContext,
        on_crash: OnFatal,
    ) -> Result<(), Failure> {
        let env = env::extension_env(&runtime.env);
        let watchdog = host.watchdog.clone();
        self.extension_procs
            .start(shell, registry, &env, &runtime.cwd, watchdog, on_crash)
            .await?;
        tokio::select! {
            () = registry.externals_registered() => Ok(()),
            () = self.mailbox.dead() => Err(self.death()),
            () = tokio::time::sleep(INIT_LIMIT) => {
                let names = registry.unregistered().join(", ");
                self.logs.line(
                    &self.function.name,
                    None,
                    format!("Extension(s) {names} did not register within {} s", INIT_LIMIT.as_secs()),
                );
                Err(Failure::InitTimeout { limit_s: INIT_LIMIT.as_secs() })
            }
        }
    }

    /// What an extension's failure does: the sandbox dies with it (its
    /// runtime, whose end then shuts the other extensions down).
    fn fatal_hook(&self, runtime_pid: Option<u32>) -> OnFatal {
        let mailbox = self.mailbox.clone();
        Arc::new(move |failure| {
            mailbox.fail_all(failure);
            if let Some(pid) = runtime_pid {
                signal_group(pid, libc::SIGKILL);
            }
        })
    }

    /// Why the sandbox is dead, or a stand-in if it is not.
    fn death(&self) -> Failure {
        match self.mailbox.status() {
            runtime_api::Status::Dead(failure) => failure,
            _ => Failure::Exit {
                status: ExitStatusText("exit status unknown".into()),
            },
        }
    }

    /// Pumps what the sandbox's processes write into the logs (and into
    /// the tail of the invocation under way).
    fn pump_output(&mut self, output: shell::Output, extensions: &Arc<Registry>) {
        // In Lambda's JSON log format a line that is an object is sent as one.
        let json = self
            .function
            .config
            .env
            .get("AWS_LAMBDA_LOG_FORMAT")
            .map(String::as_str)
            == Some("JSON");
        let shell::Output {
            stdout,
            stderr,
            telemetry,
            extensions: extension_output,
        } = output;
        let function_line = self.line_sink(extensions, move |line| Event::Function { line, json });
        self.pump = OutputPump::start(stdout, stderr, telemetry, function_line)
            .map_err(|e| tracing::warn!("cannot capture a sandbox's output: {e}"))
            .ok();
        let extension_line = self.line_sink(extensions, |line| Event::ExtensionLog { line });
        if let Err(e) = OutputPump::lines(extension_output, extension_line) {
            tracing::warn!("cannot capture the extensions' output: {e}");
        }
    }

    /// Where a line the sandbox's processes wrote goes: the invocation's
    /// tail, the Telemetry API as `event`, the function's log.
    fn line_sink(
        &self,
        extensions: &Arc<Registry>,
        event: impl Fn(String) -> Event + Send + 'static,
    ) -> impl FnMut(String) + Send + 'static {
        let (logs, name, mailbox) = (
            self.logs.clone(),
            self.function.name.clone(),
            self.mailbox.clone(),
        );
        let extensions = extensions.clone();
        move |line| {
            let tail = mailbox.tail();
            if let Some(tail) = &tail {
                tail.push(&line);
            }
            if extensions.telemetry.listening() {
                extensions.telemetry.emit(event(line.clone()));
            }
            logs.line(&name, tail.as_ref().map(|t| t.request_id()), line);
        }
    }

    /// Notices the runtime's end, and why.
    fn watch(
        &mut self,
        mut child: tokio::process::Child,
        memory: Arc<MemoryLimit>,
        watchdog: Option<Arc<Watchdog>>,
        tmpdir: Option<PathBuf>,
        exited_tx: watch::Sender<bool>,
    ) {
        let (mailbox, pid) = (self.mailbox.clone(), self.pid);
        let extensions = self.extensions.clone();
        let (procs, stopping) = (self.extension_procs.clone(), self.stopping.clone());
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
            if let (Some(registry), false) = (extensions, procs.is_empty()) {
                let reason = shutdown_reason(&mailbox, &stopping);
                let deadline = Instant::now() + extension_procs::EXTENSIONS_SHARE;
                procs.shut_down(&registry, reason, deadline).await;
            }
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
        // Lambda's limit covers the whole of init: extensions, then runtime.
        let deadline = tokio::time::Instant::from_std(self.exec_started + limit);
        match tokio::time::timeout_at(deadline, wait).await {
            Ok(Ok(runtime_api::Status::Ready(at))) => {
                // Once: later invocations must not wait on extensions busy
                // with an earlier one (several at once per sandbox).
                let ended = self
                    .extensions_init
                    .get_or_init(|| async {
                        let ended = self.extensions_ready(deadline).await;
                        let init =
                            ended.map(|e| e.max(at).saturating_duration_since(self.exec_started));
                        self.report_init(&init);
                        init
                    })
                    .await;
                ended.clone()
            }
            Ok(Ok(runtime_api::Status::Dead(f))) => {
                let init = Err(f);
                self.report_init(&init);
                init
            }
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
                let init = Err(failure);
                self.report_init(&init);
                init
            }
        }
    }

    /// The Telemetry API's account of init, once per sandbox: the runtime's
    /// end of init, the extensions, and the report.
    fn report_init(&self, init: &Result<Duration, Failure>) {
        let Some(registry) = &self.extensions else {
            return;
        };
        if self
            .init_reported
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let telemetry = &registry.telemetry;
        let init_type = self.init_type.as_str();
        let error_type = init.as_ref().err().map(|f| f.error_type().to_string());
        telemetry.emit(Event::InitRuntimeDone {
            init_type,
            error_type: error_type.clone(),
        });
        for event in registry.extension_events() {
            telemetry.emit(event);
        }
        let duration = init.as_ref().map_or(self.exec_started.elapsed(), |d| *d);
        telemetry.emit(Event::InitReport {
            init_type,
            duration_ms: crate::logs::report_ms(duration),
            error_type,
        });
        telemetry.end_init();
    }

    /// Init is over for the extensions once each has asked for an event
    /// (no new one may register after the runtime's first `/next`): when
    /// that was, or the failure that came first.
    async fn extensions_ready(&self, deadline: tokio::time::Instant) -> Result<Instant, Failure> {
        let Some(registry) = &self.extensions else {
            return Ok(Instant::now());
        };
        registry.close_registration();
        tokio::select! {
            biased;
            () = self.mailbox.dead() => Err(self.death()),
            // A failed extension stops counting only once the sandbox is dead.
            () = registry.all_waiting() => match self.is_alive() {
                true => Ok(Instant::now()),
                false => Err(self.death()),
            },
            () = tokio::time::sleep_until(deadline) => {
                let failure = Failure::InitTimeout { limit_s: INIT_LIMIT.as_secs() };
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
        self.stopping
            .store(true, std::sync::atomic::Ordering::Release);
        // With external extensions, the runtime's share of Lambda's
        // shutdown limit: 300 ms, or 500 ms beside an internal extension.
        let internal = self.extensions.as_ref().is_some_and(|r| r.has_internal());
        let grace = match (self.extension_procs.is_empty(), internal) {
            (true, _) | (false, true) => STOP_GRACE,
            (false, false) => extension_procs::RUNTIME_SHARE,
        };
        let mut exited = self.exited.clone();
        if matches!(
            self.mailbox.status(),
            runtime_api::Status::Dead(Failure::InitError { .. })
        ) {
            // A runtime that reported a failed init exits by itself, as the
            // contract asks; let it finish its last writes first.
            let _ = tokio::time::timeout(grace, exited.wait_for(|e| *e)).await;
        }
        if !*exited.borrow() {
            signal_group(pid, libc::SIGTERM);
            let _ = tokio::time::timeout(grace, exited.wait_for(|e| *e)).await;
        }
        signal_group(pid, libc::SIGKILL);
        let _ = tokio::time::timeout(STOP_GRACE, exited.wait_for(|e| *e)).await;
        // The runtime's end shut the extensions down; they have the rest.
        let rest = extension_procs::EXTENSIONS_SHARE + STOP_GRACE;
        if tokio::time::timeout(rest, self.extension_procs.all_exited())
            .await
            .is_err()
        {
            self.extension_procs.kill();
        }
    }

    fn peak_memory_mb(&self) -> u64 {
        let bytes = self.memory.as_ref().map_or(0, |m| m.peak_bytes(self.pid));
        bytes.div_ceil(1024 * 1024)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !self.extension_procs.is_empty() {
            self.extension_procs.kill();
        }
        if let Some(pid) = self.pid {
            if !*self.exited.borrow() {
                signal_group(pid, libc::SIGKILL);
            }
        }
    }
}

/// The `shutdownReason` of the SHUTDOWN event that follows a runtime's end.
fn shutdown_reason(mailbox: &Mailbox, stopping: &AtomicBool) -> &'static str {
    if stopping.load(std::sync::atomic::Ordering::Acquire) {
        return "spindown";
    }
    match mailbox.status() {
        runtime_api::Status::Dead(Failure::Timeout { .. }) => "timeout",
        _ => "failure",
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
