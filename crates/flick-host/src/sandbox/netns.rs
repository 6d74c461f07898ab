//! A listening socket inside a sandbox's own network namespace.
//!
//! A sandbox with `network = "private"` or `"none"` has a network namespace
//! of its own: no other sandbox and nothing outside can reach its loopback.
//! Its Runtime API must still listen inside it, so the host
//! enters that namespace on one thread just long enough to open the
//! listener (a namespace switch is per thread), then comes back.

use std::fs::File;
use std::os::fd::AsRawFd;

/// A TCP listener on `127.0.0.1:port` (0: any free one) inside the network
/// namespace of `pid`.
pub async fn listener_in(pid: u32, port: u16) -> std::io::Result<std::net::TcpListener> {
    tokio::task::spawn_blocking(move || {
        let theirs = File::open(format!("/proc/{pid}/ns/net"))?;
        let ours = File::open("/proc/thread-self/ns/net")?;
        enter(&theirs)?;
        let listener = std::net::TcpListener::bind(("127.0.0.1", port));
        // This thread goes back to the pool: it must be the host's again.
        if let Err(e) = enter(&ours) {
            tracing::error!("cannot return a thread to the host's network namespace: {e}");
            std::process::abort();
        }
        listener
    })
    .await
    .map_err(std::io::Error::other)?
}

fn enter(namespace: &File) -> std::io::Result<()> {
    // SAFETY: setns with an open namespace descriptor affects this thread only.
    if unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
