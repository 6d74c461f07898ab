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

/// Lambda's own bounds, so that a function that runs here also deploys.
const TIMEOUT_RANGE_S: (u64, u64) = (1, 900);
const MEMORY_RANGE_MB: (u64, u64) = (128, 10_240);
const RETRY_ATTEMPTS_RANGE: (u32, u32) = (0, 2);
const EVENT_AGE_RANGE_S: (u64, u64) = (60, 21_600);

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
    pub timeout_s: u64,
    pub max_concurrency: usize,
    pub provisioned: usize,
    pub idle_s: u64,
    pub build: Option<String>,
    pub per_sandbox_concurrency: usize,
    /// How `Event` invocations are retried and where their results go.
    pub async_config: AsyncConfig,
    /// Routes on the host's HTTP gateway, when the function has any.
    pub http: Option<HttpConfig>,
}

/// `[functions.NAME.async]`: Lambda's event invoke configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncConfig {
    /// Retries after a function error (timeouts included), 0 to 2.
    pub max_retry_attempts: u32,
    /// An event older than this is given up, 60 to 21600.
    pub max_event_age_s: u64,
    /// The wait after the 1st, 2nd, … function error; the last one repeats.
    pub retry_delays_s: Vec<u64>,
    /// Function names (the `function:` prefix taken off) of the destinations.
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    /// Events waiting or in flight beyond which `Event` invocations get 429.
    pub max_queued: usize,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        AsyncConfig {
            max_retry_attempts: 2,
            max_event_age_s: 21_600,
            retry_delays_s: vec![60, 120],
            on_success: None,
            on_failure: None,
            max_queued: 100_000,
        }
    }
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
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: default_listen(),
            state_dir: default_state_dir(),
            region: default_region(),
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
    #[serde(default = "default_timeout")]
    timeout_s: Spanned<u64>,
    #[serde(default = "default_max_concurrency")]
    max_concurrency: Spanned<usize>,
    #[serde(default = "default_provisioned")]
    provisioned: Spanned<usize>,
    #[serde(default = "default_idle")]
    idle_s: Spanned<u64>,
    #[serde(default)]
    build: Option<String>,
    #[serde(default = "default_per_sandbox")]
    per_sandbox_concurrency: Spanned<usize>,
    #[serde(default, rename = "async")]
    async_config: Option<RawAsync>,
    #[serde(default)]
    http: Option<RawHttp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAsync {
    max_retry_attempts: Option<Spanned<u32>>,
    max_event_age_s: Option<Spanned<u64>>,
    retry_delays_s: Option<Spanned<Vec<u64>>>,
    on_success: Option<Spanned<String>>,
    on_failure: Option<Spanned<String>>,
    max_queued: Option<Spanned<usize>>,
}

fn default_memory() -> Spanned<u64> {
    Spanned::new(0..0, 128)
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
        let server = ServerConfig {
            listen,
            state_dir: tidy(root.join(&raw.server.state_dir)),
            region: raw.server.region,
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
            check.at_least(&key("max_concurrency"), &f.max_concurrency, 1)?;
            check.at_least(&key("idle_s"), &f.idle_s, 1)?;
            check.at_least(
                &key("per_sandbox_concurrency"),
                &f.per_sandbox_concurrency,
                1,
            )?;
            if f.provisioned.get_ref() > f.max_concurrency.get_ref() {
                return Err(invalid(
                    Some(f.provisioned.span()),
                    format!(
                        "{}: {} is more than max_concurrency ({})",
                        key("provisioned"),
                        f.provisioned.get_ref(),
                        f.max_concurrency.get_ref()
                    ),
                ));
            }
            let async_config = match f.async_config {
                Some(raw) => check.async_config(&key("async"), raw, &names)?,
                None => AsyncConfig::default(),
            };
            let http = f
                .http
                .map(|h| route_claims.check(name.get_ref(), h))
                .transpose()
                .map_err(|e| invalid(e.span, e.message))?;
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
                    timeout_s: f.timeout_s.into_inner(),
                    max_concurrency: f.max_concurrency.into_inner(),
                    provisioned: f.provisioned.into_inner(),
                    idle_s: f.idle_s.into_inner(),
                    build: f.build,
                    per_sandbox_concurrency: f.per_sandbox_concurrency.into_inner(),
                    async_config,
                    http,
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

/// Range checks that report the key and the line of the offending value.
struct Checker<'a, F> {
    text: &'a str,
    invalid: &'a F,
}

impl<F: Fn(Option<Range<usize>>, String) -> ManifestError> Checker<'_, F> {
    fn range<T>(&self, key: &str, value: &Spanned<T>, (lo, hi): (T, T)) -> Result<(), ManifestError>
    where
        T: PartialOrd + std::fmt::Display + Copy,
    {
        let v = *value.get_ref();
        if v < lo || v > hi {
            return Err((self.invalid)(
                self.span(value),
                format!("{key}: {v} is out of range, expected {lo} to {hi}"),
            ));
        }
        Ok(())
    }

    fn at_least<T>(&self, key: &str, value: &Spanned<T>, lo: T) -> Result<(), ManifestError>
    where
        T: PartialOrd + std::fmt::Display + Copy,
    {
        let v = *value.get_ref();
        if v < lo {
            return Err((self.invalid)(
                self.span(value),
                format!("{key}: {v} is too small, expected at least {lo}"),
            ));
        }
        Ok(())
    }

    fn async_config(
        &self,
        table: &str,
        raw: RawAsync,
        functions: &[String],
    ) -> Result<AsyncConfig, ManifestError> {
        let key = |field: &str| format!("{table}.{field}");
        let mut config = AsyncConfig::default();
        if let Some(v) = raw.max_retry_attempts {
            self.range(&key("max_retry_attempts"), &v, RETRY_ATTEMPTS_RANGE)?;
            config.max_retry_attempts = v.into_inner();
        }
        if let Some(v) = raw.max_event_age_s {
            self.range(&key("max_event_age_s"), &v, EVENT_AGE_RANGE_S)?;
            config.max_event_age_s = v.into_inner();
        }
        if let Some(v) = raw.retry_delays_s {
            let n = v.get_ref().len();
            if !(1..=2).contains(&n) || v.get_ref().iter().any(|&d| d > EVENT_AGE_RANGE_S.1) {
                return Err((self.invalid)(
                    self.span(&v),
                    format!(
                        "{}: expected 1 or 2 delays in seconds, each at most {}",
                        key("retry_delays_s"),
                        EVENT_AGE_RANGE_S.1
                    ),
                ));
            }
            config.retry_delays_s = v.into_inner();
        }
        if let Some(v) = raw.max_queued {
            self.at_least(&key("max_queued"), &v, 1)?;
            config.max_queued = v.into_inner();
        }
        config.on_success = raw
            .on_success
            .map(|d| self.destination(&key("on_success"), d, functions))
            .transpose()?;
        config.on_failure = raw
            .on_failure
            .map(|d| self.destination(&key("on_failure"), d, functions))
            .transpose()?;
        Ok(config)
    }

    /// `function:NAME`, where NAME is a function of this manifest.
    fn destination(
        &self,
        key: &str,
        value: Spanned<String>,
        functions: &[String],
    ) -> Result<String, ManifestError> {
        match value.get_ref().strip_prefix("function:") {
            Some(name) if functions.iter().any(|f| f == name) => Ok(name.to_string()),
            _ => Err((self.invalid)(
                self.span(&value),
                format!(
                    "{key}: `{}` is not `function:NAME` with NAME a function of this manifest",
                    value.get_ref()
                ),
            )),
        }
    }

    /// Defaults carry an empty span at 0; they never fail checks, but keep the
    /// line out of messages if one ever did.
    fn span<T>(&self, value: &Spanned<T>) -> Option<Range<usize>> {
        let span = value.span();
        (span.end > 0 && span.end <= self.text.len()).then_some(span)
    }
}

/// The dotted key of the `key = value` line (or `[table]` header) holding
/// `offset`, e.g. `functions.echo.timeout_s`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let table = text[..line_start]
        .lines()
        .rev()
        .chain(std::iter::once(line))
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"'));
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k.to_string()),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// 1-based line number of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
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
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(text, Path::new("flick.toml"), Path::new("/srv/app"))
    }

    #[test]
    fn defaults_and_paths() {
        let m = parse(
            "[functions.echo]\ncommand = [\"target/release/echo\", \"-v\"]\nworkdir = \"fn\"\n",
        )
        .unwrap();
        let f = &m.functions["echo"];
        assert_eq!(f.command, ["/srv/app/target/release/echo", "-v"]);
        assert_eq!(f.workdir, Path::new("/srv/app/fn"));
        assert_eq!((f.memory_mb, f.timeout_s, f.max_concurrency), (128, 3, 10));
        assert_eq!(m.server.listen.to_string(), "127.0.0.1:9000");
        assert_eq!(m.server.state_dir, Path::new("/srv/app/.flick"));
    }

    #[test]
    fn bare_program_is_left_to_path_lookup() {
        let m = parse("[functions.py]\ncommand = [\"python3\", \"-m\", \"x\"]\n").unwrap();
        assert_eq!(m.functions["py"].command[0], "python3");
    }

    fn error_of(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let e = error_of("[functions.echo]\ncommand = [\"x\"]\ntimeout = 3\n");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("unknown field `timeout`"), "{e}");
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let e = error_of("[functions.echo]\ncommand = [\"x\"]\nmemory_mb = \"big\"\n");
        assert!(e.contains("line 3"), "{e}");
        assert!(e.contains("functions.echo.memory_mb:"), "{e}");
        let e = error_of("[functions.echo]\ncommand = 42\n");
        assert!(
            e.contains("functions.echo.command:") && e.contains("line 2"),
            "{e}"
        );
    }

    #[test]
    fn missing_command() {
        let e = error_of("[server]\nregion = \"eu-west-1\"\n[functions.echo]\nmemory_mb = 256\n");
        assert!(e.contains("missing field `command`"), "{e}");
        assert!(e.contains("line 3") || e.contains("line 4"), "{e}");
    }

    #[test]
    fn zero_timeout_names_key_and_line() {
        let e = error_of("[functions.echo]\ncommand = [\"x\"]\n\ntimeout_s = 0\n");
        assert!(e.contains("functions.echo.timeout_s"), "{e}");
        assert!(e.contains("line 4"), "{e}");
    }

    #[test]
    fn empty_command_and_bad_listen() {
        assert!(error_of("[functions.a]\ncommand = []\n").contains("functions.a.command"));
        assert!(error_of("[server]\nlisten = \"nowhere\"\n").contains("server.listen"));
    }

    #[test]
    fn async_defaults_and_settings() {
        let m = parse("[functions.a]\ncommand = [\"x\"]\n").unwrap();
        assert_eq!(m.functions["a"].async_config, AsyncConfig::default());
        let m = parse(
            "[functions.a]\ncommand = [\"x\"]\n[functions.a.async]\nmax_retry_attempts = 0\n\
             retry_delays_s = [1]\non_failure = \"function:dlq\"\n\
             [functions.dlq]\ncommand = [\"x\"]\n",
        )
        .unwrap();
        let a = &m.functions["a"].async_config;
        assert_eq!(a.max_retry_attempts, 0);
        assert_eq!(a.retry_delays_s, [1]);
        assert_eq!(a.on_failure.as_deref(), Some("dlq"));
        assert_eq!(a.on_success, None);
    }

    #[test]
    fn async_errors_name_key_and_line() {
        let base = "[functions.a]\ncommand = [\"x\"]\n[functions.a.async]\n";
        let e = error_of(&format!("{base}max_retry_attempts = 3\n"));
        assert!(
            e.contains("functions.a.async.max_retry_attempts") && e.contains("line 4"),
            "{e}"
        );
        let e = error_of(&format!("{base}max_event_age_s = 59\n"));
        assert!(e.contains("functions.a.async.max_event_age_s"), "{e}");
        let e = error_of(&format!("{base}on_success = \"function:nope\"\n"));
        assert!(
            e.contains("functions.a.async.on_success") && e.contains("line 4"),
            "{e}"
        );
        let e = error_of(&format!("{base}retries = 1\n"));
        assert!(
            e.contains("unknown field `retries`") && e.contains("line 4"),
            "{e}"
        );
    }

    #[test]
    fn http_routes_and_payload() {
        let m = parse("[functions.a]\ncommand = [\"x\"]\n[functions.a.http]\nroutes = [\"GET /hello\"]\npayload = \"1.0\"\n").unwrap();
        let http = m.functions["a"].http.as_ref().unwrap();
        assert_eq!(http.routes[0].as_str(), "GET /hello");
        assert_eq!(http.payload, crate::gateway::config::PayloadVersion::V1);
        let e = error_of("[functions.a]\ncommand = [\"x\"]\n[functions.a.http]\nroutes = [\"GET /x\"]\npayload = \"3.0\"\n");
        assert!(
            e.contains("functions.a.http.payload") && e.contains("line 5"),
            "{e}"
        );
        let e = error_of(
            "[functions.a]\ncommand = [\"x\"]\n[functions.a.http]\nroutes = [\"GIT /x\"]\n",
        );
        assert!(
            e.contains("functions.a.http.routes") && e.contains("line 4"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_route_names_key_line_and_owner() {
        let e = error_of(
            "[functions.a]\ncommand = [\"x\"]\nhttp = { routes = [\"ANY /items/{id}\"] }\n\n[functions.b]\ncommand = [\"x\"]\n[functions.b.http]\nroutes = [\"GET /hello\",\n  \"ANY /items/{key}\"]\n",
        );
        assert!(e.contains("functions.b.http.routes"), "{e}");
        assert!(e.contains("line 9"), "{e}");
        assert!(e.contains("function `a`"), "{e}");
        let e = error_of(
            "[functions.a]\ncommand = [\"x\"]\nhttp = { routes = [\"GET /x\", \"GET /x/\"] }\n",
        );
        assert!(e.contains("line 3") && e.contains("already"), "{e}");
    }

    #[test]
    fn provisioned_beyond_concurrency() {
        let e =
            error_of("[functions.a]\ncommand = [\"x\"]\nmax_concurrency = 1\nprovisioned = 2\n");
        assert!(
            e.contains("functions.a.provisioned") && e.contains("line 4"),
            "{e}"
        );
    }
}
