//! `flick build [NAME...]`: each function's artifact as Lambda wants it,
//! from its `[functions.NAME.artifact]`: a folder `target/flick/NAME/`
//! (`bootstrap` for a binary) and a deterministic `target/flick/NAME.zip`
//! (fixed timestamps and permissions, entries in order: the same sources
//! give the same bytes), with a size report — the binary and the zip, the
//! change since the last build, and what takes the room.
//!
//! The languages' own steps are in [`rust`], [`go`] and [`sources`]; the
//! archive and the report in [`zip_file`] and [`report`].

mod go;
mod report;
mod rust;
mod sources;
mod zip_file;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use flick_host::manifest::{Artifact, FunctionConfig, Manifest};

pub use report::Report;

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The functions to build (default: every one with an `artifact` table).
    names: Vec<String>,
    /// The manifest.
    #[arg(long, default_value = "flick.toml")]
    config: PathBuf,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// What a language's build leaves in the function's folder.
pub struct Built {
    /// The executable, for a compiled function.
    pub binary: Option<PathBuf>,
    /// What takes the room, biggest first: (name, bytes).
    pub contributors: Vec<(String, u64)>,
}

pub fn run(args: BuildArgs) -> ExitCode {
    let manifest = match crate::load_manifest(&args.config) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let chosen = match choose(&manifest, &args.names) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("flick build: {e}");
            return ExitCode::from(2);
        }
    };
    let out_root = target_dir(&manifest.root).join("flick");
    let mut reports = Vec::new();
    for (function, artifact) in chosen {
        eprintln!("flick build: {} ({})", function.name, describe(artifact));
        match build_one(function, artifact, &out_root) {
            Ok(report) => reports.push(report),
            Err(e) => {
                eprintln!("flick build: {} failed: {e}", function.name);
                return ExitCode::FAILURE;
            }
        }
    }
    report::print(&reports, args.json);
    ExitCode::SUCCESS
}

/// The functions to build: the named ones (each must have an artifact
/// table), or every one that has.
pub(crate) fn choose<'m>(
    manifest: &'m Manifest,
    names: &[String],
) -> Result<Vec<(&'m FunctionConfig, &'m Artifact)>, String> {
    if names.is_empty() {
        let all: Vec<_> = manifest
            .functions
            .values()
            .filter_map(|f| f.artifact.as_ref().map(|a| (f, a)))
            .collect();
        if all.is_empty() {
            return Err("no function has a [functions.NAME.artifact] table to build from".into());
        }
        return Ok(all);
    }
    names
        .iter()
        .map(|name| {
            let f = manifest
                .functions
                .get(name)
                .ok_or_else(|| format!("no function {name} in the manifest"))?;
            let a = f.artifact.as_ref().ok_or_else(|| {
                format!("functions.{name}.artifact is missing: say what to build it from (rust, go, python or node)")
            })?;
            Ok((f, a))
        })
        .collect()
}

fn describe(artifact: &Artifact) -> String {
    match artifact {
        Artifact::Rust { package, bin } => format!("rust: {package}, binary {bin}"),
        Artifact::Go { dir } => format!("go: {}", dir.display()),
        Artifact::Python { dir } => format!("python: {}", dir.display()),
        Artifact::Node { dir } => format!("node: {}", dir.display()),
    }
}

fn build_one(
    function: &FunctionConfig,
    artifact: &Artifact,
    out_root: &Path,
) -> Result<Report, String> {
    let out = out_root.join(&function.name);
    if out.exists() {
        std::fs::remove_dir_all(&out)
            .map_err(|e| format!("cannot empty {}: {e}", out.display()))?;
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let built = match artifact {
        Artifact::Rust { package, bin } => rust::build(package, bin, &function.workdir, &out)?,
        Artifact::Go { dir } => go::build(dir, &out)?,
        Artifact::Python { dir } => sources::python(dir, &out)?,
        Artifact::Node { dir } => sources::node(dir, &out)?,
    };
    let zip = out_root.join(format!("{}.zip", function.name));
    zip_file::write(&out, &zip)?;
    Report::new(&function.name, &out, &zip, built, out_root)
}

/// Where the artifacts go, under `flick/`: the target folder of the cargo
/// workspace the manifest lies in (`CARGO_TARGET_DIR` if set), else
/// `target` beside the manifest.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
    cargo_target_dir(root).unwrap_or_else(|| root.join("target"))
}

/// The target folder cargo uses for the workspace `dir` is in, if any.
fn cargo_target_dir(dir: &Path) -> Option<PathBuf> {
    let out = std::process::Command::new("cargo")
        .current_dir(dir)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    doc["target_directory"].as_str().map(PathBuf::from)
}

/// Runs a build step, its output passed through to the user's terminal;
/// the error names the command.
fn run_step(cmd: &mut std::process::Command) -> Result<(), String> {
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run {:?}: {e}", cmd.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{:?} ended with {status}", cmd.get_program()))
    }
}
