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
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::task::JoinSet;

use super::cold_starts::REFILL_DEFER_MAX;
use super::memory::MemoryLimit;
use super::private_net::Uplink;
use super::shell::{Bind, Setup, Shell};
use super::{netns, peer, HostContext};
use crate::extensions_api::{FunctionInfo, Registry};
use crate::function::{Caller, Function};
use crate::manifest::Network;
use crate::net::{Admit, Limits, Server};
use crate::outcome::Failure;
use crate::runtime_api::{self, Mailbox};

/// A sandbox ready for its runtime's exec.
pub struct Prepared {
    pub(super) id: String,
    pub(super) mailbox: Arc<Mailbox>,
    pub(super) extensions: Arc<Registry>,
    pub(super) runtime_api: SocketAddr,
    pub(super) server: Server,
    pub(super) memory: Arc<MemoryLimit>,
    /// The folder `TMPDIR` names, where sandboxes cannot have a private `/tmp`.
    pub(super) tmpdir: Option<PathBuf>,
    pub(super) shell: Shell,
    /// The private network's link to the world, if it has one.
    pub(super) uplink: Option<Uplink>,
    /// The Lambda API inside the private network, if the host serves it there.
    pub(super) lambda_api: Option<Server>,
}

/// Connections one sandbox may hold open to the Lambda API inside it.
const INSIDE_CONNECTIONS: usize = 32;

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
        let memory = host
            .memory
            .limit(&id, config.memory_mb)
            .map_err(|e| host_error("cannot set up the memory limit", &e))?;
        let tmp = host
            .tmp
            .plan(&id, config.ephemeral_storage_mb)
            .map_err(|e| host_error("cannot set up /tmp", &e))?;
        let user = host.users.as_ref().map(|u| u.next());
        let network = host.network(function);
        let own_network = network != Network::Host;
        let setup = Setup {
            cgroup_procs: memory.procs_file(),
            rlimit_as: memory.rlimit_bytes(),
            tmp: tmp.setup,
            keep: under_tmp(function),
            user,
            own_network,
            binds: etc_binds(host, network),
            layers: config.layers.clone(),
            cgroup_view: host.memory.view(),
        };
        let shell = Shell::prepare(&host.shell_program, &setup)
            .await
            .map_err(|e| host_error("cannot prepare the sandbox", &e))?;
        let uplink = match (network, &host.private_net, shell.pid()) {
            (Network::Private, Ok(networking), Some(pid)) => Some(
                networking
                    .connect(pid)
                    .await
                    .map_err(|e| host_error("cannot connect the sandbox's network", &e))?,
            ),
            _ => None,
        };
        let lambda_api = match (network, shell.pid()) {
            (Network::Private, Some(pid)) => serve_lambda_api_inside(host, pid, function).await,
            _ => None,
        };
        let listener = match (own_network, shell.pid()) {
            (true, Some(pid)) => netns::listener_in(pid, 0).await,
            _ => std::net::TcpListener::bind("127.0.0.1:0"),
        };
        let listener = listener
            .and_then(|l| {
                l.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(l)
            })
            .map_err(|e| host_error("cannot open the Runtime API listener", &e))?;
        let runtime_api = listener
            .local_addr()
            .map_err(|e| host_error("cannot open the Runtime API listener", &e))?;
        let mailbox = Arc::new(Mailbox::new());
        // On a shared network, only the sandbox's own user may talk to its Runtime API.
        let admit = user
            .filter(|_| !own_network)
            .map(|uid| -> Admit { Box::new(move |_, peer| peer_is(uid, peer, runtime_api)) });
        let extensions = Arc::new(Registry::new(
            FunctionInfo {
                name: function.name.to_string(),
                version: "$LATEST".into(),
                handler: config.handler.clone().unwrap_or_default(),
                account_id: crate::function::ACCOUNT_ID.into(),
            },
            function.extensions.clone(),
        ));
        if let (true, Some(pid)) = (own_network, shell.pid()) {
            // Telemetry goes to a listener on the sandbox's own loopback,
            // until the last subscriber is gone.
            let namespace = netns::Namespace::of(pid)
                .map_err(|e| host_error("cannot open the sandbox's network namespace", &e))?;
            extensions.telemetry.set_connect(Arc::new(move |port| {
                let namespace = namespace.clone();
                Box::pin(async move { namespace.connect(port).await })
            }));
        }
        let server = runtime_api::serve(listener, mailbox.clone(), extensions.clone(), admit);
        Ok(Prepared {
            id,
            mailbox,
            extensions,
            runtime_api,
            server,
            memory: Arc::new(memory),
            tmpdir: tmp.tmpdir,
            shell,
            uplink,
            lambda_api,
        })
    }
}

/// The host's Lambda API at its loopback address inside the sandbox's
/// private network, when the host listens on loopback. Every request it
/// takes is the function's (a [`Caller`]), whatever it is signed with.
async fn serve_lambda_api_inside(
    host: &HostContext,
    pid: u32,
    function: &Function,
) -> Option<Server> {
    let inside = host.lambda_api.get()?;
    let listener = netns::listener_in(pid, inside.port)
        .await
        .and_then(|l| {
            l.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(l)
        })
        .map_err(|e| tracing::warn!("cannot serve the Lambda API inside a sandbox: {e}"))
        .ok()?;
    let limits = Limits {
        max_connections: INSIDE_CONNECTIONS,
        header_timeout: Some(inside.request_timeout),
    };
    let caller = Caller(function.name.clone());
    Some(Server::start(
        listener,
        inside.app.clone().layer(axum::Extension(caller)),
        limits,
        None,
        None,
    ))
}

/// Sandbox names resolve everywhere; a private network has its own DNS.
fn etc_binds(host: &HostContext, network: Network) -> Vec<Bind> {
    let Some(etc) = &host.etc else {
        return Vec::new();
    };
    let mut binds = vec![Bind {
        source: etc.hosts.clone(),
        target: "/etc/hosts".into(),
    }];
    if network == Network::Private && Path::new("/etc/resolv.conf").exists() {
        binds.push(Bind {
            source: etc.resolv_private.clone(),
            target: "/etc/resolv.conf".into(),
        });
    }
    binds
}

/// Whether the connection from `peer` to `listener` belongs to user `uid`.
fn peer_is(uid: u32, peer: SocketAddr, listener: SocketAddr) -> bool {
    match peer::socket_uid(peer, listener) {
        Ok(owner) if owner == uid => true,
        Ok(owner) => {
            tracing::warn!(
                "refused a Runtime API connection from user {owner}, not the sandbox's {uid}"
            );
            false
        }
        Err(e) => {
            tracing::warn!("refused a Runtime API connection whose owner is unknown: {e}");
            false
        }
    }
}

/// The trees under `/tmp` that the function's code lies in (`/tmp/NAME`
/// of its workdir and of its program): a private `/tmp` must not hide its
/// code (a manifest tried out in `/tmp` is common).
fn under_tmp(function: &Function) -> Vec<PathBuf> {
    let config = &function.config;
    let program_dir = std::path::Path::new(&config.command[0]).parent();
    let mut keep: Vec<PathBuf> = [Some(config.workdir.as_path()), program_dir]
        .into_iter()
        .flatten()
        // As the kernel will resolve it: `..` and links may lead under /tmp.
        .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf()))
        // The whole tree the code came in (a checkout, a project): a program
        // in a virtualenv needs the environment's lib/ beside its bin/.
        .filter_map(|p| {
            let top = p.strip_prefix("/tmp").ok()?.components().next()?;
            Some(std::path::Path::new("/tmp").join(top))
        })
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

    /// A prepared sandbox if one is ready. The caller calls [`Reserve::refill`]
    /// once the runtime it starts on it has begun its init.
    pub fn take(&self) -> Option<Prepared> {
        self.lock().pop()
    }

    /// Tops the reserve up in the background, unless that is under way,
    /// once the host's cold starts are over ([`super::cold_starts`]).
    pub fn refill(self: &Arc<Self>) {
        if self.target() == 0 || self.filling.swap(true, Ordering::AcqRel) {
            return;
        }
        let reserve = self.clone();
        tokio::spawn(async move {
            reserve.host.cold_starts.quiet(REFILL_DEFER_MAX).await;
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
