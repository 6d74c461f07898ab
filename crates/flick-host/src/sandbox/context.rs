//! What every sandbox of a host shares, and how the host finds out at
//! start what it can give them here: memory limits, a private `/tmp`, users
//! of their own, a private network, a watchdog. What it cannot give is
//! logged once, with the reason, and a manifest that asks for it explicitly
//! is refused.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use super::cold_starts::ColdStarts;
use super::ephemeral::TmpStorage;
use super::etc::EtcFiles;
use super::memory::MemoryControl;
use super::private_net::PrivateNetworking;
use super::users::SandboxUsers;
use crate::function::Function;
use crate::logs::LogSink;
use crate::manifest::{Manifest, Network};
use crate::watchdog::Watchdog;

/// What every sandbox of a host shares.
#[derive(Clone)]
pub struct HostContext {
    pub logs: LogSink,
    pub memory: Arc<MemoryControl>,
    pub tmp: Arc<TmpStorage>,
    /// The host's own binary, started as each sandbox's shell.
    pub shell_program: PathBuf,
    /// The users sandboxes run as, when the host may change users.
    pub users: Option<Arc<SandboxUsers>>,
    /// Absent when it could not be started; sandboxes then rely on
    /// `PR_SET_PDEATHSIG` and the host's own shutdown alone.
    pub watchdog: Option<Arc<Watchdog>>,
    /// Cold starts in progress, which preparing more sandboxes waits for.
    pub cold_starts: Arc<ColdStarts>,
    /// Why not, when sandboxes cannot have a private network here.
    pub private_net: Result<PrivateNetworking, String>,
    /// The `/etc` files sandboxes see, when they could be written.
    pub etc: Option<EtcFiles>,
    /// Set once the APIs exist, when the host listens on loopback.
    pub lambda_api: Arc<OnceLock<LambdaApiInside>>,
    /// How durable functions reach the host's Lambda API (their SDKs
    /// checkpoint through it), when the server says.
    pub aws_api: Option<AwsApi>,
}

/// The host's Lambda API as an AWS SDK inside a sandbox finds it: the
/// endpoint, and for each function the credentials Lambda would give its
/// role (a key of its own, so the API knows which function calls).
#[derive(Debug, Clone, Default)]
pub struct AwsApi {
    pub endpoint: String,
    /// Function name → (access key id, secret access key).
    pub keys: std::collections::HashMap<String, (String, String)>,
}

/// The host's Lambda API (and gateway), served again inside each private
/// network at the host's loopback port: a function that calls it, to invoke
/// another, finds it where it would on the host's network.
#[derive(Clone)]
pub struct LambdaApiInside {
    pub port: u16,
    pub app: axum::Router,
    pub request_timeout: std::time::Duration,
}

/// Why the host cannot run the manifest's sandboxes.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("cannot find the host's own binary to start sandboxes with: {0}")]
    OwnBinary(std::io::Error),
    #[error("{0}")]
    Unsupported(String),
}

impl HostContext {
    /// Finds out what sandboxes can have on this machine, for `manifest`.
    pub async fn detect(manifest: &Manifest, logs: LogSink) -> Result<HostContext, ContextError> {
        let state_dir = &manifest.server.state_dir;
        let memory = Arc::new(MemoryControl::detect());
        tracing::info!("memory limits: {}", memory.describe());
        let shell_program = std::env::current_exe().map_err(ContextError::OwnBinary)?;
        let mut sizes: Vec<u64> = manifest
            .functions
            .values()
            .map(|f| f.ephemeral_storage_mb)
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        let tmp = Arc::new(TmpStorage::detect(&shell_program, state_dir, &sizes).await);
        tracing::info!("/tmp: {}", tmp.describe());
        check_layers(manifest, &tmp)?;
        let users = SandboxUsers::new(manifest.server.sandbox_uids).map(Arc::new);
        match &users {
            Some(u) => tracing::info!("users: {}", u.describe()),
            None => tracing::warn!(
                "users: sandboxes run as the host's user (only root can give each its own)"
            ),
        }
        let private_net = PrivateNetworking::detect();
        check_networks(manifest, &private_net)?;
        let etc = EtcFiles::write(&state_dir.join("etc"))
            .map_err(|e| tracing::warn!("cannot write the sandboxes' /etc files: {e}"))
            .ok();
        let watchdog = match Watchdog::start(memory.dir()) {
            Ok(w) => Some(Arc::new(w)),
            Err(e) => {
                tracing::warn!(
                    "no watchdog ({e}): a host killed with SIGKILL may leave processes behind"
                );
                None
            }
        };
        Ok(HostContext {
            logs,
            memory,
            tmp,
            shell_program,
            users,
            watchdog,
            cold_starts: ColdStarts::new(),
            private_net,
            etc,
            lambda_api: Arc::new(OnceLock::new()),
            aws_api: None,
        })
    }

    /// The network `function`'s sandboxes get: the manifest's, or else a
    /// private one where the host can make it, else the host's.
    pub fn network(&self, function: &Function) -> Network {
        match function.config.network {
            Some(network) => network,
            None if self.private_net.is_ok() => Network::Private,
            None => Network::Host,
        }
    }
}

/// Refuses a network the manifest names but the host cannot make; says
/// once what the functions that name none get instead.
fn check_networks(
    manifest: &Manifest,
    private_net: &Result<PrivateNetworking, String>,
) -> Result<(), ContextError> {
    for f in manifest.functions.values() {
        let refused = match f.network {
            Some(Network::Private) => private_net.as_ref().err().cloned(),
            Some(Network::None) if !host_is_root() => {
                Some("a network namespace needs a host running as root".to_string())
            }
            _ => None,
        };
        if let Some(why) = refused {
            let name = match f.network {
                Some(Network::None) => "none",
                _ => "private",
            };
            return Err(ContextError::Unsupported(format!(
                "functions.{}.network = \"{name}\" cannot be made here: {why}",
                f.name
            )));
        }
    }
    match private_net {
        Ok(_) => tracing::info!("network: each sandbox its own (slirp4netns), unless set"),
        Err(why) => tracing::warn!(
            "network: sandboxes share the host's, unless set ({why}): they can reach its \
             loopback services and collide on the ports they listen on"
        ),
    }
    Ok(())
}

/// Layers are shown at `/opt` in the sandbox's own mount namespace; a host
/// that cannot make one (it gives sandboxes the shared `/tmp` then) cannot
/// show them without changing `/opt` for everyone.
fn check_layers(manifest: &Manifest, tmp: &TmpStorage) -> Result<(), ContextError> {
    let shared = matches!(tmp, TmpStorage::Shared { .. });
    match manifest.functions.values().find(|f| !f.layers.is_empty()) {
        Some(f) if shared => Err(ContextError::Unsupported(format!(
            "functions.{}.layers are shown at /opt in a mount namespace of the sandbox's own, \
             which this host cannot make (it needs root)",
            f.name
        ))),
        _ => Ok(()),
    }
}

/// Whether the host runs as root, which namespaces, users and mounts need.
pub fn host_is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn manifest(network: &str) -> Manifest {
        let text = format!("[functions.web]\ncommand = [\"app\"]\n{network}");
        Manifest::parse(&text, Path::new("flick.toml"), Path::new("/srv")).unwrap()
    }

    #[test]
    fn a_private_network_asked_for_but_impossible_is_refused_with_the_reason() {
        let missing = Err("slirp4netns is not installed".to_string());
        let error = check_networks(&manifest("network = \"private\"\n"), &missing).unwrap_err();
        assert_eq!(
            error.to_string(),
            "functions.web.network = \"private\" cannot be made here: slirp4netns is not installed"
        );
    }

    #[test]
    fn a_function_that_names_no_network_runs_either_way() {
        let missing = Err("slirp4netns is not installed".to_string());
        assert!(check_networks(&manifest(""), &missing).is_ok());
        assert!(check_networks(&manifest("network = \"host\"\n"), &missing).is_ok());
    }
}
