//! `flick serve --watch`: rebuild a function when its sources change, and
//! serve the new build.
//!
//! Owns noticing changes and running the build: every few hundred
//! milliseconds each watched folder (a function's `workdir` and the folder
//! its `artifact` names) is scanned for the newest modification, leaving
//! out build outputs and dependencies (`target`, `node_modules`, `.venv`,
//! `.git`, `__pycache__`, `.flick`); a change that has settled is rebuilt
//! with the function's `build` command, on a thread of its own. A build
//! that succeeds is handed to `rebuilt` (the server retires the function's
//! sandboxes then: new invocations get the new build, those under way end
//! on the old); one that fails is logged, and the last good build serves on.
//! Polling needs no dependency and no kernel watch limit; it is cheap on a
//! function's source tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::manifest::{Artifact, Manifest};

/// How often the folders are scanned.
const POLL: Duration = Duration::from_millis(250);
/// How long a change must stay still before it is built (an editor's save
/// is often several writes).
const SETTLE: Duration = Duration::from_millis(300);
/// What is never a source.
const LEFT_OUT: [&str; 7] = [
    "target",
    "node_modules",
    ".venv",
    "venv",
    ".git",
    "__pycache__",
    ".flick",
];

/// What to do once a function was rebuilt.
pub type Rebuilt = Box<dyn Fn(&str) + Send + 'static>;

/// One build command, the functions it builds, and what they are made of.
struct Watched {
    command: String,
    functions: Vec<String>,
    folders: Vec<PathBuf>,
}

/// Starts watching every function that has a `build` command.
pub fn start(manifest: &Manifest, rebuilt: Rebuilt) -> std::io::Result<()> {
    let mut by_command: BTreeMap<String, Watched> = BTreeMap::new();
    for f in manifest.functions.values() {
        let Some(command) = &f.build else { continue };
        let watched = by_command
            .entry(command.clone())
            .or_insert_with(|| Watched {
                command: command.clone(),
                functions: Vec::new(),
                folders: Vec::new(),
            });
        watched.functions.push(f.name.clone());
        watched.folders.push(f.workdir.clone());
        match &f.artifact {
            Some(Artifact::Go { dir } | Artifact::Python { dir } | Artifact::Node { dir }) => {
                watched.folders.push(dir.clone());
            }
            Some(Artifact::Rust { .. }) | None => {}
        }
    }
    let watched: Vec<Watched> = by_command.into_values().collect();
    if watched.is_empty() {
        tracing::warn!("--watch: no function has a build command; nothing to rebuild");
        return Ok(());
    }
    for w in &watched {
        let folders: Vec<String> = w.folders.iter().map(|p| p.display().to_string()).collect();
        tracing::info!(
            "--watch: {} rebuilt when {} change",
            w.functions.join(", "),
            folders.join(", ")
        );
    }
    let root = manifest.root.clone();
    std::thread::Builder::new()
        .name("flick-watch".into())
        .spawn(move || watch_loop(watched, &root, rebuilt))?;
    Ok(())
}

fn watch_loop(watched: Vec<Watched>, root: &Path, rebuilt: Rebuilt) {
    let mut seen: Vec<Option<SystemTime>> = watched.iter().map(|w| newest(&w.folders)).collect();
    loop {
        std::thread::sleep(POLL);
        for (w, last) in watched.iter().zip(seen.iter_mut()) {
            let now = newest(&w.folders);
            if now == *last {
                continue;
            }
            settle(&w.folders, now);
            rebuild(w, root, &rebuilt);
            // What the build wrote (a Go `bootstrap`, a lock file) is no edit.
            *last = newest(&w.folders);
        }
    }
}

/// Waits until nothing under `folders` changes for [`SETTLE`].
fn settle(folders: &[PathBuf], mut seen: Option<SystemTime>) {
    loop {
        std::thread::sleep(SETTLE);
        let again = newest(folders);
        if again == seen {
            return;
        }
        seen = again;
    }
}

fn rebuild(w: &Watched, root: &Path, rebuilt: &Rebuilt) {
    let names = w.functions.join(", ");
    tracing::info!("--watch: sources changed; building {names}: {}", w.command);
    let started = std::time::Instant::now();
    let status = std::process::Command::new("sh")
        .args(["-c", &w.command])
        .current_dir(root)
        .stdin(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {
            tracing::info!(
                "--watch: built {names} in {:.1} s; new invocations get the new build",
                started.elapsed().as_secs_f64()
            );
            for name in &w.functions {
                rebuilt(name);
            }
        }
        Ok(s) => tracing::error!(
            "--watch: the build of {names} ended with {s}; the last good build serves on"
        ),
        Err(e) => tracing::error!(
            "--watch: cannot run the build of {names}: {e}; the last good build serves on"
        ),
    }
}

/// The newest modification time of any source under `folders`.
fn newest(folders: &[PathBuf]) -> Option<SystemTime> {
    folders.iter().filter_map(|f| newest_in(f)).max()
}

fn newest_in(dir: &Path) -> Option<SystemTime> {
    let mut newest = std::fs::metadata(dir).and_then(|m| m.modified()).ok();
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        if LEFT_OUT.iter().any(|l| entry.file_name() == *l) {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let time = if kind.is_dir() {
            newest_in(&entry.path())
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(time);
    }
    newest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_and_dependencies_are_not_sources() {
        let dir = std::env::temp_dir().join(format!("flick-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::create_dir_all(dir.join("target")).unwrap();
        std::fs::write(dir.join("src/main.rs"), "fn main() {}").unwrap();
        let before = newest_in(&dir);
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(dir.join("target/out"), "built").unwrap();
        // The folder's own time changed with the new file, not the sources'.
        std::fs::write(dir.join("target/out2"), "built").unwrap();
        let target_only = newest_in(&dir);
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(dir.join("src/main.rs"), "fn main() { }").unwrap();
        let edited = newest_in(&dir);
        assert_eq!(before, target_only, "writes under target/ are no change");
        assert!(edited > before, "an edit is");
    }
}
