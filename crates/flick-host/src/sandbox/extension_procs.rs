//! The processes of a sandbox's external extensions: the executables of
//! `/opt/extensions`, started by the sandbox shell before the runtime.
//!
//! Each runs in the sandbox's limits and namespaces, in a process group of
//! its own (the runtime's group is signalled without touching them), as a
//! child of the host, which watches it through a pidfd. Owns starting them,
//! noticing an exit outside shutdown (`Extension.Crash`, whatever the
//! status, as on Lambda), and their end: the SHUTDOWN event to those that
//! subscribed, a deadline, then SIGKILL.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::io::unix::AsyncFd;
use tokio::sync::watch;

use super::shell::{Exec, Shell};
use super::signal_group;
use crate::extensions_api::Registry;
use crate::outcome::{ExitStatusText, ExtensionFailure, Failure};

/// Of Lambda's 2,000 ms shutdown limit with external extensions, the
/// runtime's grace after SIGTERM ...
pub const RUNTIME_SHARE: Duration = Duration::from_millis(300);
/// ... and the extensions' time after the SHUTDOWN event.
pub const EXTENSIONS_SHARE: Duration = Duration::from_millis(1700);

/// Where the extensions' files are seen inside a sandbox.
const EXTENSIONS_DIR: &str = "/opt/extensions";

/// What an extension's death outside shutdown does to its sandbox.
pub type OnCrash = Arc<dyn Fn(Failure) + Send + Sync>;

struct Proc {
    name: String,
    pid: u32,
}

#[derive(Default)]
pub struct ExtensionProcs {
    procs: Mutex<Vec<Proc>>,
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
    /// `cwd`. An extension that cannot be executed fails the start with
    /// `Extension.LaunchError`; the ones already started are killed.
    pub async fn start(
        self: &Arc<Self>,
        shell: &mut Shell,
        registry: &Registry,
        env: &std::collections::BTreeMap<String, String>,
        cwd: &std::path::Path,
        on_crash: OnCrash,
    ) -> Result<(), Failure> {
        let execs: Vec<Exec> = registry
            .externals()
            .iter()
            .map(|name| Exec {
                argv: vec![format!("{EXTENSIONS_DIR}/{name}")],
                env: env.clone(),
                cwd: cwd.to_path_buf(),
            })
            .collect();
        let launch_error = |detail: String| Failure::Extension {
            kind: ExtensionFailure::Launch,
            detail,
        };
        let started = shell
            .start_extensions(&execs)
            .await
            .map_err(|e| launch_error(e.to_string()))?;
        let mut failure = None;
        for (name, result) in registry.externals().iter().zip(started) {
            match result {
                Ok(pid) => self.watch(name.clone(), pid, on_crash.clone()),
                Err(reason) => failure = failure.or(Some(reason)),
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

    fn watch(self: &Arc<Self>, name: String, pid: u32, on_crash: OnCrash) {
        lock(&self.procs).push(Proc {
            name: name.clone(),
            pid,
        });
        let me = self.clone();
        tokio::spawn(async move {
            let status = wait_exit(pid).await;
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

    /// SIGKILL to every extension's group at once.
    pub fn kill(&self) {
        self.ending.store(true, Ordering::Release);
        for p in lock(&self.procs).iter() {
            signal_group(p.pid, libc::SIGKILL);
        }
    }

    /// Ends the extensions once the runtime is gone: SHUTDOWN (with
    /// `reason`) to the subscribers, which may use the time left until
    /// `deadline`; the others, and whoever is still running then, are killed.
    pub async fn shut_down(&self, registry: &Registry, reason: &str, deadline: Instant) {
        self.ending.store(true, Ordering::Release);
        // What the runtime wrote last reaches the subscribers before they
        // hear of the shutdown.
        let flush_for = deadline.saturating_duration_since(Instant::now()) / 2;
        let _ = tokio::time::timeout(flush_for, registry.telemetry.flush()).await;
        let left = deadline.saturating_duration_since(Instant::now());
        let deadline_ms = crate::clock::epoch_ms(SystemTime::now() + left);
        let unsubscribed = registry.shutdown(reason, deadline_ms);
        for p in lock(&self.procs).iter() {
            if unsubscribed.contains(&p.name) {
                signal_group(p.pid, libc::SIGKILL);
            }
        }
        let total = lock(&self.procs).len();
        let mut exited = self.exited.subscribe();
        let all = exited.wait_for(|n| *n >= total);
        if tokio::time::timeout(left, all).await.is_err() {
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

/// Waits for a child of the host to exit and reaps it.
async fn wait_exit(pid: u32) -> std::process::ExitStatus {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd >= 0 {
        // SAFETY: the descriptor was just opened and is ours alone.
        let fd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
        // A pidfd turns readable when its process exits.
        // SAFETY: the OwnedFd stays open and the same pidfd while registered.
        if let Ok(fd) =
            unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        {
            let _ = fd.readable().await;
        }
    }
    // Immediate once the pidfd said so; blocking only where there is no pidfd.
    let reaped = tokio::task::spawn_blocking(move || {
        let mut status = 0;
        // SAFETY: waitpid on our own child, writing into a local.
        let reaped = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        (reaped, status)
    })
    .await;
    match reaped {
        Ok((pid, status)) if pid > 0 => std::process::ExitStatus::from_raw(status),
        // Not ours to reap any more: as good as killed.
        _ => std::process::ExitStatus::from_raw(libc::SIGKILL),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
