//! The host a bench run starts for itself: this same executable as
//! `flick serve --config MANIFEST --listen 127.0.0.1:PORT --no-build
//! --state-dir TEMP` on a free loopback port, as a child process, so that it
//! is measured exactly as it runs in production, its memory
//! (`/proc/PID/status`) is its own, and it never shares the logs or queue of
//! a host already serving the manifest.
//!
//! Owns the child's life: starting it, waiting until it answers, reading its
//! memory, and stopping it with SIGTERM as an operator would, so that its
//! sandboxes go with it. Its stderr (START/END/REPORT of every invocation)
//! is kept, the last part only, to explain a host that stopped.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStderr, Command};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout, Instant};

use super::error::BenchError;
use super::results::HostMemory;
use crate::host_client::HostClient;

/// Long enough for a manifest of provisioned JVMs to boot.
const READY_WAIT: Duration = Duration::from_secs(60);
const READY_POLL: Duration = Duration::from_millis(25);
/// `flick serve`'s default grace (10 s), plus stopping its sandboxes.
const STOP_WAIT: Duration = Duration::from_secs(30);
/// How much of the host's stderr is kept to explain its end.
const STDERR_KEPT: usize = 16 * 1024;

pub struct EmbeddedHost {
    child: Child,
    pid: u32,
    endpoint: String,
    stderr: JoinHandle<Vec<u8>>,
    /// The host's own logs and queue, removed with it.
    state_dir: PathBuf,
}

impl EmbeddedHost {
    /// Starts the host on `config` and waits until it answers.
    pub async fn start(config: &Path) -> Result<EmbeddedHost, BenchError> {
        let own = std::env::current_exe()
            .map_err(|e| BenchError::Host(format!("cannot find the flick executable: {e}")))?;
        let port = free_port()?;
        let state = std::env::temp_dir().join(format!("flick-bench-{}-{port}", std::process::id()));
        let mut child = Command::new(own)
            .arg("serve")
            .arg("--config")
            .arg(config)
            .args(["--listen", &format!("127.0.0.1:{port}"), "--no-build"])
            .arg("--state-dir")
            .arg(&state)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Whatever ends the run early, the host does not outlive it.
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| BenchError::Host(format!("cannot start flick serve: {e}")))?;
        let (Some(pid), Some(stderr)) = (child.id(), child.stderr.take()) else {
            return Err(BenchError::Host("flick serve exited at once".into()));
        };
        let mut host = EmbeddedHost {
            child,
            pid,
            endpoint: format!("http://127.0.0.1:{port}"),
            stderr: tokio::spawn(keep_tail(stderr)),
            state_dir: state,
        };
        host.wait_ready().await?;
        Ok(host)
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The host's resident memory now, and its peak.
    pub fn memory(&self) -> Option<HostMemory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let kb = |key: &str| {
            let line = status.lines().find(|l| l.starts_with(key))?;
            line[key.len()..].split_whitespace().next()?.parse().ok()
        };
        Some(HostMemory {
            rss_kb: kb("VmRSS:")?,
            peak_rss_kb: kb("VmHWM:")?,
        })
    }

    /// Any answer at all (even a refused signature) means it serves.
    async fn wait_ready(&mut self) -> Result<(), BenchError> {
        let client = HostClient::new(&self.endpoint);
        let deadline = Instant::now() + READY_WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(BenchError::HostExited {
                    code: status.code(),
                    stderr: self.stderr_tail().await,
                });
            }
            let probe = client.send(Method::GET, "/2015-03-31/functions", &[], Bytes::new());
            if let Ok(Ok(_)) = timeout(Duration::from_secs(1), probe).await {
                return Ok(());
            }
            sleep(READY_POLL).await;
        }
        Err(BenchError::Host(format!(
            "the embedded host did not answer on {} within {} s",
            self.endpoint,
            READY_WAIT.as_secs()
        )))
    }

    /// Stops the host with SIGTERM and waits for it; an unclean end is an error.
    pub async fn stop(mut self) -> Result<(), BenchError> {
        // SAFETY: kill has no memory-safety preconditions; the pid is our
        // child's, which is not reaped before the wait below.
        unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGTERM) };
        match timeout(STOP_WAIT, self.child.wait()).await {
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(BenchError::Host(format!(
                "the embedded host ended with {status} on SIGTERM:\n{}",
                self.stderr_tail().await.trim_end()
            ))),
            Ok(Err(e)) => Err(BenchError::Host(format!(
                "waiting for the embedded host: {e}"
            ))),
            Err(_) => {
                let _ = self.child.kill().await;
                Err(BenchError::Host(format!(
                    "the embedded host did not stop within {} s of SIGTERM and was killed",
                    STOP_WAIT.as_secs()
                )))
            }
        }
    }

    /// The last of what the host wrote to stderr (it has ended, or soon will).
    async fn stderr_tail(&mut self) -> String {
        match timeout(Duration::from_secs(1), &mut self.stderr).await {
            Ok(Ok(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
            _ => String::new(),
        }
    }
}

impl Drop for EmbeddedHost {
    fn drop(&mut self) {
        // The child is stopped (or killed on drop): its state is nobody's.
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// Reads the host's stderr to its end, keeping the last [`STDERR_KEPT`] bytes.
async fn keep_tail(mut stderr: ChildStderr) -> Vec<u8> {
    let mut kept = VecDeque::with_capacity(STDERR_KEPT);
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = stderr.read(&mut buf).await {
        kept.extend(&buf[..n]);
        let excess = kept.len().saturating_sub(STDERR_KEPT);
        kept.drain(..excess);
    }
    kept.into()
}

fn free_port() -> Result<u16, BenchError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| BenchError::Host(format!("cannot find a free loopback port: {e}")))
}
