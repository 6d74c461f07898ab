//! The manifest's `build` commands, run once before serving so that
//! `flick serve` on a fresh checkout serves fresh binaries. Owns running them
//! (each distinct command once, in the manifest's folder) and reporting a
//! failure by function name.

use std::path::Path;

use crate::manifest::Manifest;

#[derive(Debug, thiserror::Error)]
#[error("build of function `{function}` failed: `{command}` {reason}")]
pub struct BuildError {
    pub function: String,
    pub command: String,
    pub reason: String,
}

/// Runs every distinct build command of the manifest, in order, with the
/// host's own environment (builds need HOME, cargo's variables and so on).
pub async fn run_builds(manifest: &Manifest) -> Result<(), BuildError> {
    let mut done: Vec<&str> = Vec::new();
    for f in manifest.functions.values() {
        let Some(command) = f.build.as_deref() else {
            continue;
        };
        if done.contains(&command) {
            continue;
        }
        done.push(command);
        tracing::info!("building {}: {command}", f.name);
        run(command, &manifest.root)
            .await
            .map_err(|reason| BuildError {
                function: f.name.clone(),
                command: command.to_string(),
                reason,
            })?;
    }
    Ok(())
}

async fn run(command: &str, dir: &Path) -> Result<(), String> {
    let status = tokio::process::Command::new("sh")
        .args(["-c", command])
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .status()
        .await
        .map_err(|e| format!("could not start: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("ended with {status}"))
    }
}
