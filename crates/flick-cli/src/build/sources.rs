//! Python and Node.js functions as Lambda wants them: the sources (without
//! virtual environments, caches or `node_modules`) with their dependencies
//! installed beside them — `pip install -r requirements.txt -t`, `npm
//! install --omit=dev` — so that the folder is the function's root.

use std::path::Path;
use std::process::Command;

use super::{run_step, Built};

/// What is never part of the artifact.
const LEFT_OUT: [&str; 6] = [
    ".venv",
    "venv",
    "__pycache__",
    "node_modules",
    ".git",
    "target",
];

pub fn python(dir: &Path, out: &Path) -> Result<Built, String> {
    let pip = [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "-r",
        "requirements.txt",
        "-t",
        ".",
    ];
    with_dependencies(
        dir,
        out,
        "requirements.txt",
        Command::new("python3").args(pip),
    )
}

pub fn node(dir: &Path, out: &Path) -> Result<Built, String> {
    let npm = [
        "install",
        "--omit=dev",
        "--no-audit",
        "--no-fund",
        "--silent",
    ];
    with_dependencies(dir, out, "package.json", Command::new("npm").args(npm))
}

/// The sources, then `install` run in the copy when it has `list`.
fn with_dependencies(
    dir: &Path,
    out: &Path,
    list: &str,
    install: &mut Command,
) -> Result<Built, String> {
    copy_sources(dir, out)?;
    if out.join(list).is_file() {
        run_step(install.current_dir(out))?;
    }
    Ok(Built {
        binary: None,
        contributors: biggest_entries(out),
    })
}

fn copy_sources(from: &Path, to: &Path) -> Result<(), String> {
    let entries =
        std::fs::read_dir(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if LEFT_OUT.iter().any(|l| name == *l) {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        let kind = entry.file_type().map_err(|e| e.to_string())?;
        if kind.is_dir() {
            std::fs::create_dir_all(&target).map_err(|e| e.to_string())?;
            copy_sources(&source, &target)?;
        } else if kind.is_file() {
            std::fs::copy(&source, &target)
                .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
        }
    }
    Ok(())
}

/// The ten biggest entries of the folder (a dependency is one folder).
fn biggest_entries(dir: &Path) -> Vec<(String, u64)> {
    let mut sizes: Vec<(String, u64)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                size_of(&e.path()),
            )
        })
        .collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sizes.truncate(10);
    sizes
}

fn size_of(path: &Path) -> u64 {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::read_dir(path)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| size_of(&e.path()))
            .sum(),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}
