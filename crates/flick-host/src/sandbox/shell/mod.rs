//! The sandbox shell: a process that becomes a sandbox's runtime.
//!
//! The host starts its own binary as `flick __sandbox` with the sandbox's
//! pipes in place, and sends it a [`Setup`]: join the memory cgroup, set the
//! rlimit, enter a mount namespace of its own with a private `/tmp`. That is
//! the slow part of a cold start (moving a task into a v1 memory cgroup
//! waits for an RCU grace period; a file system takes milliseconds to mount)
//! and it needs no event, so it is done in a process of its own that then
//! waits. When an invocation needs the sandbox, the host has it start the
//! function's extensions, if it has any, then sends the runtime's [`Exec`]
//! (command, environment, folder) and the shell replaces itself with the
//! runtime: the pid, process group, cgroup and namespace stay the runtime's.
//!
//! This module owns the host's end of that exchange and the wire format;
//! [`inside`] is what runs in the shell. Which setup a sandbox gets is
//! decided by the sandbox module; what the runtime then does is not seen here.

pub mod inside;
mod loop_tmp;

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::unix::pipe;

/// The hidden subcommand the host binary must dispatch to [`inside::run`].
pub const SUBCOMMAND: &str = "__sandbox";

/// The descriptor the runtime finds its telemetry log pipe on
/// (`_LAMBDA_TELEMETRY_LOG_FD`).
pub const TELEMETRY_FD: i32 = 3;
/// The shell's report channel: "ready" after setup, an error if exec fails,
/// closed by a successful exec.
const STATUS_FD: i32 = 4;
/// The write end of the pipe the extensions' stdout and stderr go to (kept
/// apart from the runtime's: the Telemetry API tells the two apart).
const EXTENSION_OUTPUT_FD: i32 = 5;

/// What the shell prepares before it waits.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Setup {
    /// The memory cgroup's `cgroup.procs` file to join.
    pub cgroup_procs: Option<PathBuf>,
    /// `RLIMIT_AS` where there is no memory cgroup.
    pub rlimit_as: Option<u64>,
    pub tmp: TmpSetup,
    /// Folders under `/tmp` (the function's own code) that must stay
    /// visible at their paths over a private `/tmp`.
    pub keep: Vec<PathBuf>,
    /// The uid (and gid) to become, where the host may change users.
    pub user: Option<u32>,
    /// A network namespace of its own, with loopback up (the host may
    /// connect it to the world afterwards).
    pub own_network: bool,
    /// Files to show read-only over others (`/etc/hosts`), in a private
    /// mount namespace only.
    pub binds: Vec<Bind>,
    /// The function's layers, merged read-only at `/opt` (none: an empty
    /// `/opt`, so that the host's is not seen), in a private mount namespace only.
    pub layers: Vec<PathBuf>,
    /// Which memory cgroup hierarchy to show as the sandbox's own (its
    /// cgroup as the root), hiding every other sandbox's.
    pub cgroup_view: Option<CgroupView>,
}

/// `source` shown read-only at `target`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bind {
    pub source: PathBuf,
    pub target: PathBuf,
}

/// The memory cgroup hierarchy a sandbox sees at `/sys/fs/cgroup`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum CgroupView {
    /// v1: `/sys/fs/cgroup/memory`.
    V1,
    /// v2: `/sys/fs/cgroup` itself.
    V2,
}

/// How the sandbox's `/tmp` is made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum TmpSetup {
    /// A file system of its own on a loop device: a copy of `template` (an
    /// empty ext4 image of the right size) made in `scratch`, mounted on
    /// `/tmp` in a private mount namespace. Its data is on disk, not in
    /// memory, as on Lambda.
    Loop { template: PathBuf, scratch: PathBuf },
    /// A tmpfs of `size_mb` on `/tmp` in a private mount namespace; its pages
    /// count against the sandbox's memory limit.
    Tmpfs { size_mb: u64 },
    /// The host's `/tmp`, unchanged (the host points `TMPDIR` elsewhere).
    Shared,
}

/// What the shell is told after its setup: start extensions (as many
/// times as needed), then become the runtime.
#[derive(Debug, Serialize, Deserialize)]
enum Step<'a> {
    /// Start these, each a process of its own group whose parent is the
    /// host (so the host learns how it ended), sharing the shell's limits,
    /// namespaces, user and output; answered with one [`Started`] each.
    Extensions(std::borrow::Cow<'a, [Exec]>),
    /// Replace the shell with this program.
    Runtime(std::borrow::Cow<'a, Exec>),
}

/// How starting one extension went.
#[derive(Debug, Serialize, Deserialize)]
pub struct Started {
    /// Its process, a child of the host (0 if none could be made); one
    /// whose exec failed has exited and is still the host's to reap.
    pub pid: u32,
    /// Why it could not start, worded as Lambda words it
    /// (`fork/exec PATH: REASON`).
    pub error: Option<String>,
}

/// A program to run in the sandbox: the runtime, or an extension.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Exec {
    pub argv: Vec<String>,
    pub env: BTreeMap<String, String>,
    pub cwd: PathBuf,
}

/// A shell that finished its setup and waits for its [`Exec`].
pub struct Shell {
    child: tokio::process::Child,
    output: Option<Output>,
    control: tokio::process::ChildStdin,
    status: pipe::Receiver,
}

/// Why a shell could not be made ready or could not start its runtime.
#[derive(Debug, thiserror::Error)]
pub enum ShellError {
    #[error("cannot start the sandbox shell: {0}")]
    Spawn(std::io::Error),
    #[error("sandbox setup failed: {0}")]
    Setup(String),
    /// The runtime's command could not be executed; `reason` is worded as
    /// Go's os/exec words it, which is what Lambda's messages carry.
    #[error("fork/exec {program}: {reason}")]
    Exec { program: String, reason: String },
    /// The function's folder could not be entered.
    #[error("chdir {0}")]
    Chdir(String),
}

impl Shell {
    /// Starts `program __sandbox` and waits until it has done `setup`.
    pub async fn prepare(program: &Path, setup: &Setup) -> Result<Shell, ShellError> {
        let (telemetry, telemetry_w) = std::io::pipe().map_err(ShellError::Spawn)?;
        let (status, status_w) = std::io::pipe().map_err(ShellError::Spawn)?;
        let (extensions, extensions_w) = std::io::pipe().map_err(ShellError::Spawn)?;
        let mut cmd = tokio::process::Command::new(program);
        cmd.arg(SUBCOMMAND)
            .env_clear()
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .process_group(0);
        let moves = [
            (telemetry_w.as_raw_fd(), TELEMETRY_FD),
            (status_w.as_raw_fd(), STATUS_FD),
            (extensions_w.as_raw_fd(), EXTENSION_OUTPUT_FD),
        ];
        // SAFETY: dup2 and prctl are async-signal-safe and nothing here allocates.
        unsafe {
            cmd.pre_exec(move || {
                for (from, to) in moves {
                    if libc::dup2(from, to) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // A shell waiting for its exec goes with a host that dies.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(ShellError::Spawn)?;
        // The shell holds the write ends now; the host's copies would keep
        // the pipes open after the shell is gone.
        drop((telemetry_w, status_w, extensions_w));
        let missing = || ShellError::Setup("a pipe to the shell is missing".into());
        let stdout = child.stdout.take().and_then(|s| s.into_owned_fd().ok());
        let stderr = child.stderr.take().and_then(|s| s.into_owned_fd().ok());
        let control = child.stdin.take();
        let status = pipe::Receiver::from_owned_fd(status.into()).map_err(ShellError::Spawn)?;
        let mut shell = Shell {
            output: Some(Output {
                stdout: stdout.ok_or_else(missing)?,
                stderr: stderr.ok_or_else(missing)?,
                telemetry: telemetry.into(),
                extensions: extensions.into(),
            }),
            control: control.ok_or_else(missing)?,
            child,
            status,
        };
        let report = shell.say(setup).await.map_err(ShellError::Setup)?;
        match report.as_str() {
            "ready" => Ok(shell),
            "" => Err(ShellError::Setup("the shell exited during setup".into())),
            _ => Err(ShellError::Setup(report)),
        }
    }

    /// Has the shell start `extensions` before the runtime; one answer each.
    pub async fn start_extensions(
        &mut self,
        extensions: &[Exec],
    ) -> Result<Vec<Started>, ShellError> {
        let step = Step::Extensions(std::borrow::Cow::Borrowed(extensions));
        let report = self.say(&step).await.map_err(ShellError::Setup)?;
        serde_json::from_str(&report).map_err(|_| ShellError::Setup(report))
    }

    /// Tells the shell to become the runtime; returns once it has (exec
    /// succeeded) or could not.
    pub async fn exec(mut self, exec: &Exec) -> Result<tokio::process::Child, ShellError> {
        let program = exec.argv.first().cloned().unwrap_or_default();
        match self
            .say(&Step::Runtime(std::borrow::Cow::Borrowed(exec)))
            .await
        {
            // A successful exec closes the status pipe without a word.
            Ok(report) if report.is_empty() => Ok(self.child),
            Ok(reason) | Err(reason) => Err(match reason.strip_prefix("chdir ") {
                Some(detail) => ShellError::Chdir(detail.to_string()),
                None => ShellError::Exec { program, reason },
            }),
        }
    }

    /// Sends one message and reads the shell's report: a line, or "" when
    /// the status pipe closed first.
    async fn say(&mut self, message: &impl Serialize) -> Result<String, String> {
        let mut line = serde_json::to_vec(message).map_err(|e| e.to_string())?;
        line.push(b'\n');
        self.control
            .write_all(&line)
            .await
            .map_err(|e| format!("cannot reach the shell: {e}"))?;
        let mut report = Vec::new();
        let mut buf = [0u8; 256];
        loop {
            match self.status.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => {
                    report.extend_from_slice(&buf[..n]);
                    if report.ends_with(b"\n") {
                        report.pop();
                        break;
                    }
                }
                Err(e) => return Err(format!("cannot read the shell's report: {e}")),
            }
        }
        Ok(String::from_utf8_lossy(&report).into_owned())
    }

    /// The read ends of what the shell's processes (its extensions, then
    /// the runtime it becomes) write, to be read from before they start.
    pub fn take_output(&mut self) -> Option<Output> {
        self.output.take()
    }

    /// The shell's process id, which stays the runtime's.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// The sandbox's output pipes.
pub struct Output {
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    /// The read end of the runtime's telemetry log pipe.
    pub telemetry: OwnedFd,
    /// The read end of what the extensions write.
    pub extensions: OwnedFd,
}
