//! Memory limits and peak memory for sandboxes.
//!
//! A sandbox gets a memory cgroup of its own (v1 or v2, whichever the
//! machine lets the host write) with the function's `memory_mb` as its hard
//! limit; the cgroup also gives the real peak for REPORT's Max Memory Used and
//! tells an out-of-memory kill from any other SIGKILL. Where no cgroup can be
//! made, `RLIMIT_AS` caps the process instead and the peak comes from the
//! process's own high-water mark. This module does not start processes: the
//! sandbox shell joins the cgroup or sets the rlimit it names.

use std::path::{Path, PathBuf};

/// The host's cgroup parent, made once at start.
#[derive(Debug, Clone)]
pub enum MemoryControl {
    CgroupV1 { dir: PathBuf },
    CgroupV2 { dir: PathBuf },
    Rlimit,
}

impl MemoryControl {
    /// Finds a memory cgroup the host can create children in, else falls back to rlimits.
    pub fn detect() -> MemoryControl {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let dir_name = format!("flick-{}", std::process::id());
        if let Some(base) = v1_memory_dir(&own) {
            let dir = base.join(&dir_name);
            if std::fs::create_dir(&dir).is_ok() {
                reap_stale(&base);
                return MemoryControl::CgroupV1 { dir };
            }
        }
        if let Some(base) = v2_dir(&own) {
            let dir = base.join(&dir_name);
            let enabled = std::fs::create_dir(&dir).is_ok()
                && std::fs::write(dir.join("cgroup.subtree_control"), "+memory").is_ok();
            if enabled {
                reap_stale(&base);
                return MemoryControl::CgroupV2 { dir };
            }
            let _ = std::fs::remove_dir(&dir);
        }
        MemoryControl::Rlimit
    }

    /// The host's cgroup parent, when there is one.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            MemoryControl::CgroupV1 { dir } | MemoryControl::CgroupV2 { dir } => Some(dir),
            MemoryControl::Rlimit => None,
        }
    }

    /// The hierarchy a sandbox sees as its own, if there is one.
    pub fn view(&self) -> Option<super::shell::CgroupView> {
        match self {
            MemoryControl::CgroupV1 { .. } => Some(super::shell::CgroupView::V1),
            MemoryControl::CgroupV2 { .. } => Some(super::shell::CgroupView::V2),
            MemoryControl::Rlimit => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            MemoryControl::CgroupV1 { dir } => format!("cgroup v1 at {}", dir.display()),
            MemoryControl::CgroupV2 { dir } => format!("cgroup v2 at {}", dir.display()),
            MemoryControl::Rlimit => "RLIMIT_AS (no writable memory cgroup)".to_string(),
        }
    }

    /// Prepares the limit for one sandbox.
    pub fn limit(&self, sandbox: &str, memory_mb: u64) -> std::io::Result<MemoryLimit> {
        let bytes = memory_mb * 1024 * 1024;
        let (dir, files): (&Path, [(&str, String); 1]) = match self {
            MemoryControl::CgroupV1 { dir } => {
                (dir, [("memory.limit_in_bytes", bytes.to_string())])
            }
            MemoryControl::CgroupV2 { dir } => (dir, [("memory.max", bytes.to_string())]),
            MemoryControl::Rlimit => {
                return Ok(MemoryLimit {
                    cgroup: None,
                    v2: false,
                    rlimit_bytes: Some(bytes),
                    peak_file: None,
                })
            }
        };
        let cg = dir.join(sandbox);
        std::fs::create_dir(&cg)?;
        for (file, value) in files {
            std::fs::write(cg.join(file), value)?;
        }
        if matches!(self, MemoryControl::CgroupV2 { .. }) {
            // Lambda has no swap; keep the limit honest where swap exists.
            let _ = std::fs::write(cg.join("memory.swap.max"), "0");
        }
        let v2 = matches!(self, MemoryControl::CgroupV2 { .. });
        let peak = if v2 {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        Ok(MemoryLimit {
            peak_file: std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(cg.join(peak))
                .ok(),
            cgroup: Some(cg),
            v2,
            rlimit_bytes: None,
        })
    }

    /// Removes the host's cgroup parent (sandboxes' own were removed as they stopped).
    pub fn cleanup(&self) {
        if let Some(dir) = self.dir() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// The memory cgroup directory of this process in the v1 hierarchy.
fn v1_memory_dir(own: &str) -> Option<PathBuf> {
    let rel = v1_path_of(own, "memory")?;
    let dir = Path::new("/sys/fs/cgroup/memory").join(rel.trim_start_matches('/'));
    dir.join("memory.limit_in_bytes").exists().then_some(dir)
}

/// The path of `controller`'s cgroup in a `/proc/self/cgroup` text (v1 lines
/// look like `4:memory:/a/b`, possibly with several controllers joined by `,`).
fn v1_path_of<'a>(own: &'a str, controller: &str) -> Option<&'a str> {
    own.lines().find_map(|l| {
        let mut parts = l.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        controllers
            .split(',')
            .any(|c| c == controller)
            .then_some(path)
    })
}

/// This process's cgroup in a v2 hierarchy that has the memory controller.
fn v2_dir(own: &str) -> Option<PathBuf> {
    let rel = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .iter()
        .map(|root| Path::new(root).join(rel.trim_start_matches('/')))
        .find(|dir| {
            std::fs::read_to_string(dir.join("cgroup.controllers"))
                .is_ok_and(|c| c.split_whitespace().any(|c| c == "memory"))
        })
}

/// Kills what a host that died without cleaning up left in its cgroups, so
/// that no sandbox outlives its host for longer than the next start.
fn reap_stale(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("flick-"))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() as i32 || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        empty_host_cgroup(&entry.path());
    }
}

/// Kills every process in a host's sandbox cgroups and removes them.
pub fn empty_host_cgroup(host_dir: &Path) {
    for sandbox in std::fs::read_dir(host_dir).into_iter().flatten().flatten() {
        if sandbox.path().is_dir() {
            kill_all_in(&sandbox.path());
            let _ = std::fs::remove_dir(sandbox.path());
        }
    }
    let _ = std::fs::remove_dir(host_dir);
}

fn kill_all_in(cgroup: &Path) {
    for _ in 0..50 {
        let procs = std::fs::read_to_string(cgroup.join("cgroup.procs")).unwrap_or_default();
        let pids: Vec<i32> = procs
            .lines()
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        if pids.is_empty() {
            return;
        }
        for pid in pids {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// One sandbox's limit. Dropping it removes the sandbox's cgroup.
#[derive(Debug)]
pub struct MemoryLimit {
    cgroup: Option<PathBuf>,
    v2: bool,
    rlimit_bytes: Option<u64>,
    /// The cgroup's peak-usage file, opened once: it is read after every
    /// invocation, and a path lookup each time is measurable.
    peak_file: Option<std::fs::File>,
}

impl MemoryLimit {
    /// The file a process writes itself into to join the sandbox's cgroup.
    pub fn procs_file(&self) -> Option<PathBuf> {
        self.cgroup.as_ref().map(|cg| cg.join("cgroup.procs"))
    }

    /// The address-space cap, where there is no cgroup.
    pub fn rlimit_bytes(&self) -> Option<u64> {
        self.rlimit_bytes
    }

    /// Starts the peak over from the current usage: the sandbox shell's own
    /// pages, gone with its exec, must not count as the function's.
    pub fn reset_peak(&self) {
        use std::os::unix::fs::FileExt;
        if let Some(file) = &self.peak_file {
            // v1 resets on any write; v2 (Linux 6.12+) on a non-empty one,
            // for reads through this same descriptor.
            let value: &[u8] = if self.v2 { b"reset" } else { b"0" };
            let _ = file.write_at(value, 0);
        }
    }

    /// Peak memory of the sandbox in bytes; `pid` is used without a cgroup.
    pub fn peak_bytes(&self, pid: Option<u32>) -> u64 {
        match (&self.peak_file, &self.cgroup) {
            (Some(file), _) => {
                use std::os::unix::fs::FileExt;
                let mut buf = [0u8; 32];
                let n = file.read_at(&mut buf, 0).unwrap_or(0);
                std::str::from_utf8(&buf[..n])
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0)
            }
            (None, Some(cg)) => read_u64(&cg.join("memory.current")).unwrap_or(0),
            (None, None) => pid.map(vm_hwm_bytes).unwrap_or(0),
        }
    }

    /// Whether the kernel's OOM killer struck inside this sandbox.
    pub fn oom_killed(&self) -> bool {
        let Some(cg) = &self.cgroup else {
            return false;
        };
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        std::fs::read_to_string(cg.join(file))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("oom_kill "))
            .any(|n| n.trim().parse::<u64>().unwrap_or(0) > 0)
    }
}

impl Drop for MemoryLimit {
    fn drop(&mut self) {
        if let Some(cg) = &self.cgroup {
            kill_all_in(cg);
            let _ = std::fs::remove_dir(cg);
        }
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn vm_hwm_bytes(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_v1_controller_paths() {
        let own = "9:name=systemd:/\n5:cpu,cpuacct:/c\n4:memory:/process_api/abc\n0::/\n";
        assert_eq!(v1_path_of(own, "memory"), Some("/process_api/abc"));
        assert_eq!(v1_path_of(own, "cpuacct"), Some("/c"));
        assert_eq!(v1_path_of(own, "pids"), None);
    }

    #[test]
    fn own_peak_is_readable_without_cgroup() {
        assert!(vm_hwm_bytes(std::process::id()) > 0);
    }
}
