//! The guarantee that no sandbox outlives its host, even a host killed with
//! SIGKILL.
//!
//! `PR_SET_PDEATHSIG` takes a runtime down with the host, but not what the
//! runtime spawned. So the host starts one small watchdog process (its own
//! binary, `flick __watchdog`) and keeps the write end of a pipe to it; it
//! tells the watchdog each sandbox's process group as it starts and ends.
//! When the pipe closes — the host exited, however it exited — the watchdog
//! kills every group still listed and everything left in the host's memory
//! cgroups, then exits. This module owns both ends of that pipe.

use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The hidden subcommand the host binary must dispatch to [`run`].
pub const SUBCOMMAND: &str = "__watchdog";

/// The host's end: a pipe to the watchdog process.
pub struct Watchdog {
    pipe: Mutex<std::io::PipeWriter>,
}

impl Watchdog {
    /// Starts the watchdog by re-running the current executable with
    /// [`SUBCOMMAND`]; `cgroup_dir` is the host's memory cgroup parent, if any.
    pub fn start(cgroup_dir: Option<&Path>) -> std::io::Result<Watchdog> {
        let (reader, writer) = std::io::pipe()?;
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg(SUBCOMMAND);
        if let Some(dir) = cgroup_dir {
            cmd.arg(dir);
        }
        use std::os::unix::process::CommandExt;
        // Its own process group: a Ctrl-C meant for the host must not reach
        // it before the host has let go of the pipe.
        cmd.stdin(reader)
            .stdout(Stdio::null())
            .process_group(0)
            .spawn()?;
        Ok(Watchdog {
            pipe: Mutex::new(writer),
        })
    }

    /// A sandbox started as the leader of process group `pgid`.
    pub fn track(&self, pgid: u32) {
        self.send(&format!("+{pgid}\n"));
    }

    /// That group is gone.
    pub fn untrack(&self, pgid: u32) {
        self.send(&format!("-{pgid}\n"));
    }

    fn send(&self, line: &str) {
        let mut pipe = self.pipe.lock().unwrap_or_else(|p| p.into_inner());
        // A line is far below PIPE_BUF, so it is written whole. Should the
        // watchdog be gone, the host goes on: it stops its sandboxes itself.
        let _ = pipe.write_all(line.as_bytes());
    }
}

/// The watchdog process: reads the host's pipe on stdin until it closes,
/// then kills what is left.
pub fn run(cgroup_dir: Option<PathBuf>) {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: setting a signal's disposition to ignore has no preconditions.
        unsafe { libc::signal(sig, libc::SIG_IGN) };
    }
    let mut groups = HashSet::new();
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        match (
            line.get(..1),
            line.get(1..).and_then(|p| p.parse::<i32>().ok()),
        ) {
            (Some("+"), Some(pgid)) if pgid > 1 => {
                groups.insert(pgid);
            }
            (Some("-"), Some(pgid)) => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    for pgid in groups {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    if let Some(dir) = cgroup_dir {
        crate::sandbox::memory::empty_host_cgroup(&dir);
    }
}
