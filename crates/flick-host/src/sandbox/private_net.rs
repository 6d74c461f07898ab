//! The network of a sandbox with `network = "private"`: a network namespace
//! of its own, connected to the world by a user-mode TCP/IP stack
//! (`slirp4netns`, the one rootless Podman and Docker use).
//!
//! Inside, the sandbox has loopback and one interface (10.0.2.100, gateway
//! 10.0.2.2, DNS forwarder 10.0.2.3). Its outbound connections leave as the
//! host's own sockets would, so functions reach the internet as on Lambda;
//! but it cannot reach the host's loopback (`--disable-host-loopback`) nor
//! any other sandbox, and ports it listens on are its own, so two sandboxes
//! of a web app or an extension listening on a fixed port do not collide.
//! The stack runs as one process per sandbox, sandboxed itself
//! (`--enable-sandbox`, `--enable-seccomp`), and ends when the host closes
//! its exit descriptor: with the sandbox, or with the host, however it ends.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

/// The DNS forwarder's address inside a private network.
pub const DNS: &str = "10.0.2.3";

/// How long the stack may take to configure the namespace (it takes ~3 ms).
const READY_WAIT: Duration = Duration::from_secs(5);
/// The descriptors the stack is told to use.
const READY_FD: i32 = 3;
const EXIT_FD: i32 = 4;

/// Private networks can be made here: the host is root and has the stack.
#[derive(Debug, Clone)]
pub struct PrivateNetworking {
    program: PathBuf,
}

/// One sandbox's link to the world; it goes down when dropped.
pub struct Uplink {
    _stack: tokio::process::Child,
    _exit: OwnedFd,
}

impl PrivateNetworking {
    /// Private networks, if the host may make network namespaces (root) and
    /// `slirp4netns` is on its `PATH`; else why not.
    pub fn detect() -> Result<PrivateNetworking, String> {
        if !super::host_is_root() {
            return Err("only a host running as root can make network namespaces".into());
        }
        find_in_path("slirp4netns")
            .map(|program| PrivateNetworking { program })
            .ok_or_else(|| "slirp4netns is not installed (apt-get install slirp4netns)".into())
    }

    /// Connects the network namespace of `pid` (which has loopback up and
    /// nothing else) to the world.
    pub async fn connect(&self, pid: u32) -> Result<Uplink, String> {
        let (mut ready, ready_w) = tokio_pipe()?;
        let (exit_r, exit_w) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
        let exit_r: OwnedFd = exit_r.into();
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args([
            "--configure",
            "--mtu=65520",
            "--disable-host-loopback",
            "--enable-sandbox",
            "--enable-seccomp",
        ])
        .arg(format!("--ready-fd={READY_FD}"))
        .arg(format!("--exit-fd={EXIT_FD}"))
        .arg(pid.to_string())
        .arg("tap0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        let (ready_raw, exit_raw) = (ready_w.as_raw_fd(), exit_r.as_raw_fd());
        // SAFETY: dup2 is async-signal-safe and nothing here allocates.
        unsafe {
            cmd.pre_exec(move || {
                for (from, to) in [(ready_raw, READY_FD), (exit_raw, EXIT_FD)] {
                    if libc::dup2(from, to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let mut stack = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.program.display()))?;
        // Only the stack may hold these now: the ready pipe must reach end
        // of file if it dies, and the exit pipe's read end is its alone.
        drop((ready_w, exit_r));
        let mut byte = [0u8; 1];
        let outcome = tokio::time::timeout(READY_WAIT, ready.read(&mut byte)).await;
        if let Ok(Ok(1)) = outcome {
            return Ok(Uplink {
                _stack: stack,
                _exit: exit_w.into(),
            });
        }
        let _ = stack.start_kill();
        let mut said = String::new();
        if let Some(mut stderr) = stack.stderr.take() {
            let _ =
                tokio::time::timeout(Duration::from_millis(200), stderr.read_to_string(&mut said))
                    .await;
        }
        Err(format!(
            "slirp4netns did not configure the sandbox's network: {}",
            said.trim()
        ))
    }
}

fn tokio_pipe() -> Result<(tokio::net::unix::pipe::Receiver, OwnedFd), String> {
    let (r, w) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let r = tokio::net::unix::pipe::Receiver::from_owned_fd(r.into())
        .map_err(|e| format!("pipe: {e}"))?;
    Ok((r, w.into()))
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
