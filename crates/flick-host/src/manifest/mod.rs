//! The `flick.toml` manifest: what the host serves and how.
//!
//! This module owns parsing and validation only: it turns the file into
//! [`Manifest`] (with every path made absolute against the manifest's folder)
//! or into a [`ManifestError`] that names the offending key and its line. It
//! does not start anything; the scheduler reads the result.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::gateway::config::{HttpConfig, RawHttp, RouteClaims};
pub use artifact::Artifact;
use artifact::RawArtifact;
pub use async_table::AsyncConfig;
use async_table::RawAsync;
use checks::{key_at, line_of, Checker};
pub use durable_table::DurableConfig;
use durable_table::RawDurable;

mod artifact;
mod async_table;
mod checks;
mod durable_table;
pub mod store_url;

/// Lambda's own bounds, so that a function that runs here also deploys.
const TIMEOUT_RANGE_S: (u64, u64) = (1, 900);
const MEMORY_RANGE_MB: (u64, u64) = (128, 10_240);
const EPHEMERAL_RANGE_MB: (u64, u64) = (512, 10_240);
const DEFAULT_PREPARED: usize = 2;

/// A manifest that parsed and passed validation.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub server: ServerConfig,
    pub functions: BTreeMap<String, FunctionConfig>,
    /// The folder the manifest lives in; relative paths were resolved against it.
    pub root: PathBuf,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub state_dir: PathBuf,
    pub region: String,
    /// The uids (inclusive) sandboxes run as when the host is root.
    pub sandbox_uids: (u32, u32),
    /// Most connections the listener holds at once; one more gets a 503.
    pub max_connections: usize,
    /// Longest a client may take to send a request's head, or stay idle
    /// between requests, or pause mid-body, before it is let go.
    pub request_timeout_s: u64,
    /// Access keys (id, secret) Lambda API requests must be signed with.
    pub auth_keys: Vec<(String, String)>,
    /// The PostgreSQL database (`postgres://…`) whose queue several hosts
    /// share; `None`: the embedded SQLite file in `state_dir`.
    pub store: Option<String>,
    /// The URL other hosts on the same `store` reach this one at, when it
    /// leads the durable executions (`None`: derived from `listen`).
    pub advertise: Option<String>,
}

/// What network a function's sandboxes have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// A namespace of its own whose outbound connections reach the world
    /// as on Lambda, but nothing of the host's loopback nor any other sandbox.
    Private,
    /// The host's: every sandbox shares its addresses and ports.
    Host,
    /// A namespace with loopback only.
    None,
}

/// One function as the host runs it.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub name: String,
    /// The runtime process: program and arguments. The program is resolved
    /// against the manifest folder when it contains a `/`, else looked up in PATH.
    pub command: Vec<String>,
    pub workdir: PathBuf,
    pub handler: Option<String>,
    pub env: BTreeMap<String, String>,
    pub memory_mb: u64,
    /// The size of the sandbox's private `/tmp` (Lambda's `EphemeralStorage`).
    pub ephemeral_storage_mb: u64,
    pub timeout_s: u64,
    pub max_concurrency: usize,
    pub provisioned: usize,
    /// Sandboxes kept prepared (cgroup, `/tmp`, namespace) for cold starts.
    pub prepared: usize,
    pub idle_s: u64,
    pub build: Option<String>,
    pub per_sandbox_concurrency: usize,
    /// How `Event` invocations are retried and where their results go.
    pub async_config: AsyncConfig,
    /// Whether the manifest has an `[async]` table (Lambda's event invoke
    /// config exists only when set).
    pub async_declared: bool,
    /// `tenancy = "per_tenant"`: sandboxes serve one tenant each, and every
    /// invocation names its tenant (Lambda's tenant isolation mode).
    pub per_tenant: bool,
    /// The Lambda runtime identifier to report (`python3.12`, `provided.al2023`...).
    pub runtime: Option<String>,
    /// `None` when the manifest does not say: the host then gives sandboxes
    /// a private network where it can make one, else its own.
    pub network: Option<Network>,
    /// Folders or `.zip` files whose contents the sandbox sees at `/opt`,
    /// later ones over earlier ones. The host extracts zips at start and
    /// puts the folders here in their place.
    pub layers: Vec<PathBuf>,
    /// Routes on the host's HTTP gateway, when the function has any.
    pub http: Option<HttpConfig>,
    /// How `flick build` makes the function's Lambda artifact, if it can.
    pub artifact: Option<Artifact>,
    /// Set when the function runs durable executions (`[durable]`).
    pub durable: Option<DurableConfig>,
    /// `tracing = "Active"`: the trace headers the host starts are sampled
    /// (Lambda's `TracingConfig` mode; `PassThrough` is the default).
    pub tracing_active: bool,
}

/// Why a manifest was refused. The message names the key and, when known, its line.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid manifest {path}{}: {message}", line_suffix(*line))]
    Invalid {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
}

fn line_suffix(line: Option<usize>) -> String {
    line.map(|l| format!(", line {l}")).unwrap_or_default()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    functions: BTreeMap<Spanned<String>, RawFunction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    #[serde(default = "default_listen")]
    listen: Spanned<String>,
    #[serde(default = "default_state_dir")]
    state_dir: String,
    #[serde(default = "default_region")]
    region: String,
    #[serde(default)]
    sandbox_uids: Option<Spanned<(u32, u32)>>,
    #[serde(default = "default_max_connections")]
    max_connections: Spanned<usize>,
    #[serde(default = "default_request_timeout")]
    request_timeout_s: Spanned<u64>,
    #[serde(default)]
    auth: RawAuth,
    #[serde(default)]
    store: Option<Spanned<String>>,
    #[serde(default)]
    advertise: Option<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawAuth {
    #[serde(default)]
    keys: Vec<RawKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    access_key_id: String,
    secret_access_key: String,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: default_listen(),
            state_dir: default_state_dir(),
            region: default_region(),
            sandbox_uids: None,
            max_connections: default_max_connections(),
            request_timeout_s: default_request_timeout(),
            auth: RawAuth::default(),
            store: None,
            advertise: None,
        }
    }
}

fn default_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:9000".to_string())
}
fn default_state_dir() -> String {
    ".flick".to_string()
}
fn default_region() -> String {
    "us-east-1".to_string()
}
fn default_max_connections() -> Spanned<usize> {
    Spanned::new(0..0, 10_000)
}
fn default_request_timeout() -> Spanned<u64> {
    Spanned::new(0..0, 30)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    command: Spanned<Vec<String>>,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    handler: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default = "default_memory")]
    memory_mb: Spanned<u64>,
    #[serde(default = "default_ephemeral")]
    ephemeral_storage_mb: Spanned<u64>,
    #[serde(default = "default_timeout")]
    timeout_s: Spanned<u64>,
    #[serde(default = "default_max_concurrency")]
    max_concurrency: Spanned<usize>,
    #[serde(default = "default_provisioned")]
    provisioned: Spanned<usize>,
    #[serde(default)]
    prepared: Option<Spanned<usize>>,
    #[serde(default = "default_idle")]
    idle_s: Spanned<u64>,
    #[serde(default)]
    build: Option<String>,
    #[serde(default = "default_per_sandbox")]
    per_sandbox_concurrency: Spanned<usize>,
    #[serde(default, rename = "async")]
    async_config: Option<RawAsync>,
    #[serde(default)]
    tenancy: Option<Spanned<String>>,
    #[serde(default)]
    runtime: Option<String>,
    #[serde(default)]
    network: Option<Spanned<String>>,
    #[serde(default)]
    layers: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    http: Option<RawHttp>,
    #[serde(default)]
    artifact: Option<RawArtifact>,
    #[serde(default)]
    durable: Option<Spanned<RawDurable>>,
    #[serde(default)]
    tracing: Option<Spanned<String>>,
}

fn default_memory() -> Spanned<u64> {
    Spanned::new(0..0, 128)
}
fn default_ephemeral() -> Spanned<u64> {
    Spanned::new(0..0, 512)
}
fn default_timeout() -> Spanned<u64> {
    Spanned::new(0..0, 3)
}
fn default_max_concurrency() -> Spanned<usize> {
    Spanned::new(0..0, 10)
}
fn default_provisioned() -> Spanned<usize> {
    Spanned::new(0..0, 0)
}
fn default_idle() -> Spanned<u64> {
    Spanned::new(0..0, 300)
}
fn default_per_sandbox() -> Spanned<usize> {
    Spanned::new(0..0, 1)
}

impl Manifest {
    /// Reads and validates the manifest at `path`.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let root = std::path::absolute(&root).unwrap_or(root);
        Manifest::parse(&text, path, &root)
    }

    /// Parses manifest text; `path` is only used in messages, `root` resolves relative paths.
    pub fn parse(text: &str, path: &Path, root: &Path) -> Result<Manifest, ManifestError> {
        let invalid = |span: Option<Range<usize>>, message: String| ManifestError::Invalid {
            path: path.to_path_buf(),
            line: span.map(|s| line_of(text, s.start)),
            message,
        };
        let raw: RawManifest = toml::from_str(text).map_err(|e| {
            // toml's message says what was wrong but not always where: name
            // the key whose value it points at.
            let message = e.message().trim();
            let message = match e.span().and_then(|s| key_at(text, s.start)) {
                Some(key) => format!("{key}: {message}"),
                None => message.to_string(),
            };
            invalid(e.span(), message)
        })?;
        let check = Checker {
            text,
            invalid: &invalid,
        };

        let listen = raw.server.listen.get_ref().parse().map_err(|_| {
            invalid(
                Some(raw.server.listen.span()),
                format!(
                    "server.listen: `{}` is not an address like 127.0.0.1:9000",
                    raw.server.listen.get_ref()
                ),
            )
        })?;
        check.at_least("server.max_connections", &raw.server.max_connections, 1)?;
        check.range(
            "server.request_timeout_s",
            &raw.server.request_timeout_s,
            (1, 3600),
        )?;
        let sandbox_uids = match raw.server.sandbox_uids {
            None => crate::sandbox::users::DEFAULT_RANGE,
            Some(range) => {
                let (first, last) = *range.get_ref();
                if first == 0 || last < first {
                    return Err(invalid(
                        check.span(&range),
                        format!(
                            "server.sandbox_uids: [{first}, {last}] is not a range of users other than root (first, last)"
                        ),
                    ));
                }
                (first, last)
            }
        };
        if let Some(url) = &raw.server.store {
            store_url::parse(url.get_ref())
                .map_err(|why| invalid(check.span(url), format!("server.store: {why}")))?;
        }
        if let Some(url) = &raw.server.advertise {
            check_advertise(url.get_ref())
                .map_err(|why| invalid(check.span(url), format!("server.advertise: {why}")))?;
        }
        let server = ServerConfig {
            listen,
            state_dir: tidy(root.join(&raw.server.state_dir)),
            region: raw.server.region,
            sandbox_uids,
            max_connections: raw.server.max_connections.into_inner(),
            request_timeout_s: raw.server.request_timeout_s.into_inner(),
            auth_keys: raw
                .server
                .auth
                .keys
                .into_iter()
                .map(|k| (k.access_key_id, k.secret_access_key))
                .collect(),
            store: raw.server.store.map(Spanned::into_inner),
            advertise: raw.server.advertise.map(Spanned::into_inner),
        };

        let names: Vec<String> = raw.functions.keys().map(|n| n.get_ref().clone()).collect();
        let mut functions = BTreeMap::new();
        let mut route_claims = RouteClaims::default();
        for (name, f) in raw.functions {
            let key = |field: &str| format!("functions.{}.{field}", name.get_ref());
            if !valid_function_name(name.get_ref()) {
                return Err(invalid(
                    Some(name.span()),
                    format!(
                        "functions.{}: a function name is 1 to 64 letters, digits, '-' or '_'",
                        name.get_ref()
                    ),
                ));
            }
            if f.command.get_ref().is_empty() || f.command.get_ref()[0].is_empty() {
                return Err(invalid(
                    Some(f.command.span()),
                    format!("{}: must name the program to run", key("command")),
                ));
            }
            check.range(&key("timeout_s"), &f.timeout_s, TIMEOUT_RANGE_S)?;
            check.range(&key("memory_mb"), &f.memory_mb, MEMORY_RANGE_MB)?;
            check.range(
                &key("ephemeral_storage_mb"),
                &f.ephemeral_storage_mb,
                EPHEMERAL_RANGE_MB,
            )?;
            check.at_least(&key("max_concurrency"), &f.max_concurrency, 1)?;
            check.at_least(&key("idle_s"), &f.idle_s, 1)?;
            check.at_least(
                &key("per_sandbox_concurrency"),
                &f.per_sandbox_concurrency,
                1,
            )?;
            check.within_concurrency(
                &key("provisioned"),
                &f.provisioned,
                *f.max_concurrency.get_ref(),
            )?;
            // By default as many as two cold starts at once find a sandbox ready.
            let prepared = f
                .prepared
                .map(|p| {
                    check.within_concurrency(&key("prepared"), &p, *f.max_concurrency.get_ref())?;
                    Ok(p.into_inner())
                })
                .transpose()?
                .unwrap_or_else(|| DEFAULT_PREPARED.min(*f.max_concurrency.get_ref()));
            let per_tenant = check
                .choice(
                    &key("tenancy"),
                    &f.tenancy,
                    &[("shared", false), ("per_tenant", true)],
                )?
                .unwrap_or(false);
            let tracing_active = check
                .choice(
                    &key("tracing"),
                    &f.tracing,
                    &[("PassThrough", false), ("Active", true)],
                )?
                .unwrap_or(false);
            let network = check.choice(
                &key("network"),
                &f.network,
                &[
                    ("private", Network::Private),
                    ("host", Network::Host),
                    ("none", Network::None),
                ],
            )?;
            let layers = check.layers(&key("layers"), f.layers, root)?;
            let async_declared = f.async_config.is_some();
            let async_config = match f.async_config {
                Some(raw) => check.async_config(&key("async"), raw, &names)?,
                None => AsyncConfig::default(),
            };
            let durable = f
                .durable
                .map(|d| {
                    let span = check.span(&d);
                    check.durable_config(&key("durable"), d.into_inner(), span)
                })
                .transpose()?;
            let artifact = f
                .artifact
                .map(|a| check.artifact(&key("artifact"), a, root))
                .transpose()?;
            let http = f
                .http
                .map(|h| route_claims.check(name.get_ref(), h))
                .transpose()
                .map_err(|e| invalid(e.span, e.message))?;
            if durable.is_some() && http.is_some() {
                return Err(invalid(
                    None,
                    format!(
                        "{}: a durable function takes durable executions only (Invoke), not gateway requests",
                        key("http")
                    ),
                ));
            }
            let name = name.into_inner();
            let workdir = tidy(root.join(f.workdir.as_deref().unwrap_or(".")));
            functions.insert(
                name.clone(),
                FunctionConfig {
                    command: resolve_command(f.command.into_inner(), root),
                    name,
                    workdir,
                    handler: f.handler,
                    env: f.env,
                    memory_mb: f.memory_mb.into_inner(),
                    ephemeral_storage_mb: f.ephemeral_storage_mb.into_inner(),
                    timeout_s: f.timeout_s.into_inner(),
                    max_concurrency: f.max_concurrency.into_inner(),
                    provisioned: f.provisioned.into_inner(),
                    prepared,
                    idle_s: f.idle_s.into_inner(),
                    build: f.build,
                    per_sandbox_concurrency: f.per_sandbox_concurrency.into_inner(),
                    async_config,
                    async_declared,
                    per_tenant,
                    runtime: f.runtime,
                    network,
                    layers,
                    http,
                    artifact,
                    durable,
                    tracing_active,
                },
            );
        }
        Ok(Manifest {
            server,
            functions,
            root: root.to_path_buf(),
        })
    }
}

/// `http://host:port`, with nothing after the port: the other hosts send
/// the durable API's requests there, path and all.
fn check_advertise(url: &str) -> Result<(), String> {
    let bad = || format!("`{url}` is not a URL like http://10.0.0.5:9000");
    let uri: hyper::Uri = url.parse().map_err(|_| bad())?;
    let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
    match (uri.scheme_str(), uri.authority()) {
        (Some("http"), Some(authority)) if authority.port().is_some() && bare => Ok(()),
        _ => Err(bad()),
    }
}

fn valid_function_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Drops the `.` components that joining `./x` leaves, so paths read cleanly
/// in environment variables and messages.
fn tidy(path: PathBuf) -> PathBuf {
    path.components().collect()
}

fn resolve_command(mut command: Vec<String>, root: &Path) -> Vec<String> {
    if command[0].contains('/') {
        command[0] = tidy(root.join(&command[0])).to_string_lossy().into_owned();
    }
    command
}

#[cfg(test)]
mod tests;
