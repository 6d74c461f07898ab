//! Sandboxes prepared before an event needs them.
//!
//! Everything a sandbox needs that does not depend on the event is made
//! ahead: its Runtime API listener and mailbox, its memory cgroup, its
//! `/tmp`, and a [`Shell`] already inside that cgroup and namespace. A cold
//! start is then the runtime's exec and init alone. Moving a task into a v1
//! memory cgroup waits for an RCU grace period (10–20 ms here, most of a
//! cold start that is otherwise about 1 ms), so this is where that wait goes.
//!
//! Each function keeps a [`Reserve`] of `prepared` of them, filled at boot
//! and refilled in the background after each take. A refill prepares all
//! the missing ones at once: concurrent attaches share grace periods (one
//! takes about 10 ms, sixteen together about 19 ms).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use super::memory::MemoryLimit;
use super::shell::{Setup, Shell};
use super::HostContext;
use crate::function::Function;
use crate::outcome::Failure;
use crate::runtime_api::{self, Mailbox};

/// A sandbox ready for its runtime's exec.
pub struct Prepared {
    pub(super) id: String,
    pub(super) mailbox: Arc<Mailbox>,
    pub(super) runtime_api: SocketAddr,
    pub(super) server: ServerTask,
    pub(super) memory: Arc<MemoryLimit>,
    /// The folder `TMPDIR` names, where sandboxes cannot have a private `/tmp`.
    pub(super) tmpdir: Option<PathBuf>,
    pub(super) shell: Shell,
}

/// A sandbox's Runtime API server, stopped when dropped.
pub struct ServerTask(tokio::task::JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Prepared {
    /// Prepares one sandbox of `function`; the failure is what the
    /// invocation that needed it reports.
    pub async fn new(function: &Function, host: &HostContext) -> Result<Prepared, Failure> {
        let host_error = |what: &str, e: &dyn std::fmt::Display| Failure::InvalidEntrypoint {
            detail: format!("{what}: {e}"),
        };
        let config = &function.config;
        if !config.workdir.is_dir() {
            return Err(Failure::InvalidEntrypoint {
                detail: format!("workdir {} is not a directory", config.workdir.display()),
            });
        }
        let id = crate::ids::uuid().simple().to_string();
        let mailbox = Arc::new(Mailbox::new());
        let (runtime_api, server) = runtime_api::serve(mailbox.clone())
            .await
            .map_err(|e| host_error("cannot open the Runtime API listener", &e))?;
        let server = ServerTask(server);
        let memory = host
            .memory
            .limit(&id, config.memory_mb)
            .map_err(|e| host_error("cannot set up the memory limit", &e))?;
        let tmp = host
            .tmp
            .plan(&id, config.ephemeral_storage_mb)
            .map_err(|e| host_error("cannot set up /tmp", &e))?;
        let setup = Setup {
            cgroup_procs: memory.procs_file(),
            rlimit_as: memory.rlimit_bytes(),
            tmp: tmp.setup,
            keep: under_tmp(function),
        };
        let shell = Shell::prepare(&host.shell_program, &setup)
            .await
            .map_err(|e| host_error("cannot prepare the sandbox", &e))?;
        Ok(Prepared {
            id,
            mailbox,
            runtime_api,
            server,
            memory: Arc::new(memory),
            tmpdir: tmp.tmpdir,
            shell,
        })
    }
}

/// The function's own folders that lie under `/tmp`: a private `/tmp` must
/// not hide its code (a manifest tried out in `/tmp` is common).
fn under_tmp(function: &Function) -> Vec<PathBuf> {
    let config = &function.config;
    let program_dir = std::path::Path::new(&config.command[0]).parent();
    let mut keep: Vec<PathBuf> = [Some(config.workdir.as_path()), program_dir]
        .into_iter()
        .flatten()
        .filter(|p| p.starts_with("/tmp") && p != &std::path::Path::new("/tmp"))
        .map(PathBuf::from)
        .collect();
    keep.sort();
    keep.dedup();
    keep
}

/// A function's prepared sandboxes.
pub struct Reserve {
    function: Arc<Function>,
    host: HostContext,
    ready: Mutex<Vec<Prepared>>,
    filling: AtomicBool,
    closed: AtomicBool,
}

impl Reserve {
    pub fn new(function: Arc<Function>, host: HostContext) -> Arc<Reserve> {
        Arc::new(Reserve {
            function,
            host,
            ready: Mutex::new(Vec::new()),
            filling: AtomicBool::new(false),
            closed: AtomicBool::new(false),
        })
    }

    fn target(&self) -> usize {
        self.function.config.prepared
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Prepared>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A prepared sandbox if one is ready; either way the reserve is topped up.
    pub fn take(self: &Arc<Self>) -> Option<Prepared> {
        let taken = self.lock().pop();
        self.refill();
        taken
    }

    /// Tops the reserve up in the background, unless that is under way.
    pub fn refill(self: &Arc<Self>) {
        if self.target() == 0 || self.filling.swap(true, Ordering::AcqRel) {
            return;
        }
        let reserve = self.clone();
        tokio::spawn(async move {
            reserve.fill().await;
            reserve.filling.store(false, Ordering::Release);
        });
    }

    /// Prepares what is missing, all at once, until the reserve is full or
    /// a preparation fails (which is logged; the next take tries again).
    pub async fn fill(&self) {
        loop {
            let missing = self.target().saturating_sub(self.lock().len());
            if missing == 0 || self.closed.load(Ordering::Acquire) {
                return;
            }
            let mut preparing = JoinSet::new();
            for _ in 0..missing {
                let (function, host) = (self.function.clone(), self.host.clone());
                preparing.spawn(async move { Prepared::new(&function, &host).await });
            }
            let mut failed = None;
            while let Some(done) = preparing.join_next().await {
                match done {
                    Ok(Ok(prepared)) if !self.closed.load(Ordering::Acquire) => {
                        self.lock().push(prepared)
                    }
                    Ok(Ok(_)) => {}
                    Ok(Err(failure)) => failed = Some(format!("{failure:?}")),
                    Err(e) => failed = Some(e.to_string()),
                }
            }
            if let Some(reason) = failed {
                tracing::warn!(function = %self.function.name, "cannot prepare a sandbox: {reason}");
                return;
            }
        }
    }

    /// Lets every prepared sandbox go (their shells exit) and prepares no more.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.lock().clear();
    }
}
