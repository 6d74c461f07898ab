//! The processes of a sandbox's external extensions: the executables of
//! `/opt/extensions`, started by the sandbox shell before the runtime.
//!
//! Each runs in the sandbox's limits and namespaces, in a process group of
//! its own (the runtime's group is signalled without touching them), as a
//! child of the host, which watches it through a pidfd and reaps it. Owns
//! starting them, noticing an exit outside shutdown (`Extension.Crash`,
//! whatever the status, as on Lambda), and their end: the SHUTDOWN event to
//! those that subscribed, a deadline, then SIGKILL.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

use super::shell::{Exec, Shell};
use super::signal_group;
use crate::extensions_api::registry::{OnFatal, MAX_EXTENSIONS};
use crate::extensions_api::Registry;
use crate::outcome::{ExitStatusText, ExtensionFailure, Failure};
use crate::sync::lock;
use crate::watchdog::Watchdog;

/// Of Lambda's 2,000 ms shutdown limit with external extensions, the
/// runtime's grace after SIGTERM ...
pub const RUNTIME_SHARE: Duration = Duration::from_millis(300);
/// ... and the extensions' time after the SHUTDOWN event.
pub const EXTENSIONS_SHARE: Duration = Duration::from_millis(1700);

struct Proc {
    name: String,
    pid: u32,
    /// Set, under its lock, just before the host reaps it: from then on its
    /// pid may be another process's and must not be signalled.
    reaped: Mutex<bool>,
}

impl Proc {
    fn kill(&self) {
        let reaped = lock(&self.reaped);
        if !*reaped {
            signal_group(self.pid, libc::SIGKILL);
        }
    }
}

#[derive(Default)]
pub struct ExtensionProcs {
    procs: Mutex<Vec<Arc<Proc>>>,
    /// How many have exited.
    exited: watch::Sender<usize>,
    /// Set once the sandbox is ending: an exit is no crash then.
    ending: AtomicBool,
}

impl ExtensionProcs {
    pub fn is_empty(&self) -> bool {
        lock(&self.procs).is_empty()
    }

    /// Starts every external extension `registry` expects, with `env`, in
    /// `cwd`. One that cannot be executed (or one past Lambda's ten) fails
    /// the start with `Extension.LaunchError`; the ones started are killed.
    pub async fn start(
        self: &Arc<Self>,
        shell: &mut Shell,
        registry: &Registry,
        env: &std::collections::BTreeMap<String, String>,
        cwd: &std::path::Path,
        watchdog: Option<Arc<Watchdog>>,
        on_crash: OnFatal,
    ) -> Result<(), Failure> {
        let launch_error = |detail: String| Failure::Extension {
            kind: ExtensionFailure::Launch,
            detail,
        };
        let names = registry.externals();
        if names.len() > MAX_EXTENSIONS {
            return Err(launch_error(format!(
                "{} extensions in /opt/extensions: TooManyExtensions (Lambda runs at most {MAX_EXTENSIONS})",
                names.len()
            )));
        }
        let execs: Vec<Exec> = names
            .iter()
            .map(|name| Exec {
                argv: vec![format!("{}/{name}", crate::layers::EXTENSIONS_DIR)],
                env: env.clone(),
                cwd: cwd.to_path_buf(),
            })
            .collect();
        let started = shell
            .start_extensions(&execs)
            .await
            .map_err(|e| launch_error(e.to_string()))?;
        let mut failure = None;
        for (name, started) in names.iter().zip(started) {
            match started.error {
                None => self.watch(
                    name.clone(),
                    started.pid,
                    watchdog.clone(),
                    on_crash.clone(),
                ),
                Some(reason) => {
                    // It exited in its failed exec; it is the host's child to reap.
                    if started.pid > 0 {
                        tokio::spawn(wait_exit(started.pid, None));
                    }
                    failure = failure.or(Some(reason));
                }
            }
        }
        match failure {
            Some(reason) => {
                self.kill();
                Err(launch_error(reason))
            }
            None => Ok(()),
        }
    }

    fn watch(
        self: &Arc<Self>,
        name: String,
        pid: u32,
        watchdog: Option<Arc<Watchdog>>,
        on_crash: OnFatal,
    ) {
        let proc = Arc::new(Proc {
            name: name.clone(),
            pid,
            reaped: Mutex::new(false),
        });
        lock(&self.procs).push(proc.clone());
        if let Some(w) = &watchdog {
            w.track(pid);
        }
        let me = self.clone();
        tokio::spawn(async move {
            let status = wait_exit(pid, Some(&proc.reaped)).await;
            if let Some(w) = watchdog {
                w.untrack(pid);
            }
            me.exited.send_modify(|n| *n += 1);
            if me.ending.load(Ordering::Acquire) {
                return;
            }
            let detail = match status.code() {
                Some(code) => format!("exit code {code}"),
                None => ExitStatusText::from_status(status).0,
            };
            tracing::warn!("extension {name} ended outside shutdown: {detail}");
            on_crash(Failure::Extension {
                kind: ExtensionFailure::Crash,
                detail,
            });
        });
    }

    /// SIGKILL to every extension's group that is still there.
    pub fn kill(&self) {
        self.ending.store(true, Ordering::Release);
        for p in lock(&self.procs).iter() {
            p.kill();
        }
    }

    /// Ends the extensions once the runtime is gone: what telemetry holds
    /// is sent, then SHUTDOWN (with `reason`) goes to the subscribers, which
    /// may use the time left until `deadline`; the others, and whoever is
    /// still running then, are killed.
    pub async fn shut_down(&self, registry: &Registry, reason: &str, deadline: Instant) {
        self.ending.store(true, Ordering::Release);
        let flush_for = deadline.saturating_duration_since(Instant::now()) / 2;
        let _ = tokio::time::timeout(flush_for, registry.telemetry.flush()).await;
        let left = deadline.saturating_duration_since(Instant::now());
        let deadline_ms = crate::clock::epoch_ms(SystemTime::now() + left);
        let unsubscribed = registry.shutdown(reason, deadline_ms);
        for p in lock(&self.procs).iter() {
            if unsubscribed.contains(&p.name) {
                p.kill();
            }
        }
        if tokio::time::timeout(left, self.all_exited()).await.is_err() {
            self.kill();
        }
    }

    /// Waits until every extension process has exited.
    pub async fn all_exited(&self) {
        let total = lock(&self.procs).len();
        let mut exited = self.exited.subscribe();
        let _ = exited.wait_for(|n| *n >= total).await;
    }
}

/// Waits for a child of the host to exit and reaps it, marking `reaped`
/// first (under its lock, so that no signal meant for it reaches a process
/// that took its pid afterwards).
async fn wait_exit(pid: u32, reaped: Option<&Mutex<bool>>) -> std::process::ExitStatus {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd >= 0 {
        // SAFETY: the descriptor was just opened and is ours alone.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        // SAFETY: the OwnedFd stays open and the same pidfd while registered.
        if let Ok(fd) =
            unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        {
            // A pidfd turns readable when its process has exited.
            let _ = fd.readable().await;
            let mut marked = reaped.map(lock);
            if let Some(m) = &mut marked {
                **m = true;
            }
            let mut status = 0;
            // SAFETY: waitpid on our own exited child, writing into a local.
            if unsafe { libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG) } > 0 {
                return std::process::ExitStatus::from_raw(status);
            }
        }
    }
    // No pidfd: wait on a blocking thread.
    let reaped_at = tokio::task::spawn_blocking(move || {
        let mut status = 0;
        // SAFETY: waitpid on our own child, writing into a local.
        let reaped = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        (reaped, status)
    })
    .await;
    if let Some(r) = reaped {
        *lock(r) = true;
    }
    match reaped_at {
        Ok((pid, status)) if pid > 0 => std::process::ExitStatus::from_raw(status),
        // Not ours to reap any more: as good as killed.
        _ => std::process::ExitStatus::from_raw(libc::SIGKILL),
    }
}
