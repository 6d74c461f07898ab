//! Sockets inside a sandbox's own network namespace: the Runtime API's
//! listener, and the host's connections to an extension's telemetry
//! listener.
//!
//! A sandbox with `network = "private"` or `"none"` has a network namespace
//! of its own: no other sandbox and nothing outside can reach its loopback.
//! Its Runtime API must still listen inside it, so the host
//! enters that namespace on one thread just long enough to open the
//! listener (a namespace switch is per thread), then comes back.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::Arc;

/// A TCP listener on `127.0.0.1:port` (0: any free one) inside the network
/// namespace of `pid`.
pub async fn listener_in(pid: u32, port: u16) -> std::io::Result<std::net::TcpListener> {
    let namespace = Namespace::of(pid)?;
    namespace
        .run(move || std::net::TcpListener::bind(("127.0.0.1", port)))
        .await
}

/// A network namespace held open: it outlives the processes that made it
/// for as long as the host keeps this (a sandbox's extensions may still
/// listen in it after its runtime is gone).
#[derive(Clone)]
pub struct Namespace(Arc<File>);

/// How long a connection to a listener in a sandbox may take to open.
const CONNECT_LIMIT: std::time::Duration = std::time::Duration::from_secs(1);

impl Namespace {
    /// The network namespace `pid` is in.
    pub fn of(pid: u32) -> std::io::Result<Namespace> {
        File::open(format!("/proc/{pid}/ns/net")).map(|f| Namespace(Arc::new(f)))
    }

    /// A TCP connection to `127.0.0.1:port` in the namespace (a socket
    /// belongs to the namespace it was made in).
    pub async fn connect(&self, port: u16) -> std::io::Result<tokio::net::TcpStream> {
        // Bounded: a listener whose backlog is full must not hold a thread.
        let to = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let stream = self
            .run(move || std::net::TcpStream::connect_timeout(&to, CONNECT_LIMIT))
            .await?;
        stream.set_nonblocking(true)?;
        tokio::net::TcpStream::from_std(stream)
    }

    /// Runs `open` on a thread inside the namespace.
    async fn run<T: Send + 'static>(
        &self,
        open: impl FnOnce() -> std::io::Result<T> + Send + 'static,
    ) -> std::io::Result<T> {
        let theirs = self.0.clone();
        tokio::task::spawn_blocking(move || {
            let ours = File::open("/proc/thread-self/ns/net")?;
            enter(&theirs)?;
            let opened = open();
            // This thread goes back to the pool: it must be the host's again.
            if let Err(e) = enter(&ours) {
                tracing::error!("cannot return a thread to the host's network namespace: {e}");
                std::process::abort();
            }
            opened
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

fn enter(namespace: &File) -> std::io::Result<()> {
    // SAFETY: setns with an open namespace descriptor affects this thread only.
    if unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
