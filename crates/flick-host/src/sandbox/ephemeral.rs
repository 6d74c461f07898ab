//! Each sandbox's own `/tmp`, as on Lambda: private to the sandbox, emptied
//! when it ends, and `ephemeral_storage_mb` in size.
//!
//! Owns the choice of how this machine can provide it, made once at host
//! start by trying each way in a real shell, best first:
//! - a private ext4 file system on a loop device, copied from an empty image
//!   made here once per size (needs root, `/dev/loop-control`, `mkfs.ext4`):
//!   disk-backed and exactly sized, so a full `/tmp` is ENOSPC and not an
//!   out-of-memory kill, as on Lambda;
//! - a private tmpfs of that size (root without loop devices): private and
//!   sized, but its pages count against the function's memory;
//! - otherwise a directory of the sandbox's own named by `TMPDIR`, which
//!   programs that honour `TMPDIR` use; `/tmp` itself stays the host's,
//!   shared and unlimited.
//!
//! The shell carries the choice out ([`super::shell`]); nothing here runs in it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::shell::{Setup, Shell, TmpSetup};

/// Room for the file system's own metadata, so that at least the configured
/// size is free for the function.
fn image_bytes(size_mb: u64) -> u64 {
    (size_mb * 1024 * 1024) / 100 * 103 + 8 * 1024 * 1024
}

/// How this host gives sandboxes their `/tmp`.
#[derive(Debug)]
pub enum TmpStorage {
    Loop {
        /// An empty ext4 image per configured size in MB.
        templates: BTreeMap<u64, PathBuf>,
        /// Where each shell copies its image before the loop device takes it.
        scratch: PathBuf,
    },
    Tmpfs,
    Shared {
        /// Holds one `TMPDIR` folder per sandbox.
        root: PathBuf,
    },
}

/// What one sandbox gets.
pub struct TmpPlan {
    pub setup: TmpSetup,
    /// The folder `TMPDIR` names, in the shared fallback only; removed with the sandbox.
    pub tmpdir: Option<PathBuf>,
}

impl TmpStorage {
    /// Finds the best way this machine allows for functions of `sizes_mb`,
    /// trying each in a shell started from `shell_program`.
    pub async fn detect(shell_program: &Path, state_dir: &Path, sizes_mb: &[u64]) -> TmpStorage {
        let root = state_dir.join("tmp");
        if let Err(e) = std::fs::create_dir_all(&root) {
            tracing::warn!("cannot create {}: {e}", root.display());
        }
        remove_leftovers(&root);
        let shared = TmpStorage::Shared { root: root.clone() };
        if !super::host_is_root() {
            return shared;
        }
        let mut reasons = Vec::new();
        match loop_templates(&root, sizes_mb).await {
            Ok(templates) => {
                let storage = TmpStorage::Loop {
                    templates,
                    scratch: root.clone(),
                };
                match storage.probe(shell_program, sizes_mb).await {
                    Ok(()) => return storage,
                    Err(e) => reasons.push(e),
                }
            }
            Err(e) => reasons.push(e),
        }
        match TmpStorage::Tmpfs.probe(shell_program, sizes_mb).await {
            Ok(()) => {
                tracing::warn!(
                    "no loop-mounted /tmp ({}): sandboxes get a tmpfs, whose contents count as memory",
                    reasons.join("; ")
                );
                TmpStorage::Tmpfs
            }
            Err(e) => {
                reasons.push(e);
                tracing::warn!(
                    "no private /tmp ({}): sandboxes share the host's /tmp",
                    reasons.join("; ")
                );
                shared
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            TmpStorage::Loop { .. } => {
                "a private ext4 file system per sandbox (loop device)".into()
            }
            TmpStorage::Tmpfs => "a private tmpfs per sandbox (counts as memory)".into(),
            TmpStorage::Shared { .. } => {
                "the host's /tmp, with TMPDIR per sandbox (not private)".into()
            }
        }
    }

    /// The `/tmp` of sandbox `id` of a function with `size_mb` of ephemeral storage.
    pub fn plan(&self, id: &str, size_mb: u64) -> std::io::Result<TmpPlan> {
        let setup = match self {
            TmpStorage::Loop { templates, scratch } => match templates.get(&size_mb) {
                Some(template) => TmpSetup::Loop {
                    template: template.clone(),
                    scratch: scratch.clone(),
                },
                None => TmpSetup::Tmpfs { size_mb },
            },
            TmpStorage::Tmpfs => TmpSetup::Tmpfs { size_mb },
            TmpStorage::Shared { root } => {
                let dir = root.join(id);
                std::fs::create_dir(&dir)?;
                return Ok(TmpPlan {
                    setup: TmpSetup::Shared,
                    tmpdir: Some(dir),
                });
            }
        };
        Ok(TmpPlan {
            setup,
            tmpdir: None,
        })
    }

    /// Starts a shell with each size's setup and lets it go.
    async fn probe(&self, shell_program: &Path, sizes_mb: &[u64]) -> Result<(), String> {
        for &size in sizes_mb.iter().take(1) {
            let plan = self.plan("probe", size).map_err(|e| e.to_string())?;
            let setup = Setup {
                cgroup_procs: None,
                rlimit_as: None,
                tmp: plan.setup,
                keep: Vec::new(),
                user: None,
                own_network: false,
                binds: Vec::new(),
                layers: Vec::new(),
                cgroup_view: None,
            };
            Shell::prepare(shell_program, &setup)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// Removes a shared-mode sandbox folder, or an image a shell died before
/// handing to its loop device.
fn remove_leftovers(root: &Path) {
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name == "templates" {
            continue;
        }
        let _ = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
    }
}

/// Makes (or finds from an earlier start) an empty ext4 image for each size.
async fn loop_templates(root: &Path, sizes_mb: &[u64]) -> Result<BTreeMap<u64, PathBuf>, String> {
    if !Path::new("/dev/loop-control").exists() {
        return Err("no /dev/loop-control".into());
    }
    let mkfs = [
        "/usr/sbin/mkfs.ext4",
        "/sbin/mkfs.ext4",
        "/usr/bin/mkfs.ext4",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .ok_or("no mkfs.ext4 (e2fsprogs)")?;
    let dir = root.join("templates");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut templates = BTreeMap::new();
    for &size in sizes_mb {
        let path = dir.join(format!("ext4-{size}mb.img"));
        if !path.is_file() {
            make_template(&mkfs, &path, size).await?;
        }
        templates.insert(size, path);
    }
    Ok(templates)
}

async fn make_template(mkfs: &Path, path: &Path, size_mb: u64) -> Result<(), String> {
    // Made under another name and renamed, so a crash never leaves half an image.
    let partial = path.with_extension("partial");
    let file = std::fs::File::create(&partial).map_err(|e| e.to_string())?;
    file.set_len(image_bytes(size_mb))
        .map_err(|e| e.to_string())?;
    drop(file);
    // No journal (the contents die with the sandbox), no reserved blocks,
    // inode tables left for the kernel to zero: the image stays a few
    // hundred kilobytes of data however large it is.
    let out = tokio::process::Command::new(mkfs)
        .args([
            "-q",
            "-F",
            "-O",
            "^has_journal",
            "-E",
            "lazy_itable_init=1,nodiscard",
            "-m",
            "0",
        ])
        .arg(&partial)
        .output()
        .await
        .map_err(|e| format!("cannot run {}: {e}", mkfs.display()))?;
    if !out.status.success() {
        let _ = std::fs::remove_file(&partial);
        return Err(format!(
            "{} failed: {}",
            mkfs.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    std::fs::rename(&partial, path).map_err(|e| e.to_string())
}
