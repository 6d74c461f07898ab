//! The deterministic zip of a function's folder: entries in path order,
//! every timestamp 1980-01-01 00:00 (zip's first day), permissions kept to
//! 0755 for what is executable and 0644 for the rest, so that the same
//! files give the same bytes and Lambda runs `bootstrap`.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use zip::write::SimpleFileOptions;

pub fn write(folder: &Path, archive: &Path) -> Result<(), String> {
    let mut files = Vec::new();
    collect(folder, folder, &mut files)?;
    files.sort();
    let fail = |e: &dyn std::fmt::Display| format!("cannot write {}: {e}", archive.display());
    let mut zip = zip::ZipWriter::new(std::fs::File::create(archive).map_err(|e| fail(&e))?);
    for relative in files {
        let path = folder.join(&relative);
        let executable = std::fs::metadata(&path)
            .map(|m| m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        let options = SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .last_modified_time(zip::DateTime::default())
            .unix_permissions(if executable { 0o755 } else { 0o644 });
        zip.start_file(relative.to_string_lossy(), options)
            .map_err(|e| fail(&e))?;
        let bytes = std::fs::read(&path).map_err(|e| fail(&e))?;
        zip.write_all(&bytes).map_err(|e| fail(&e))?;
    }
    zip.finish().map_err(|e| fail(&e))?;
    Ok(())
}

/// Every regular file under `dir`, as a path relative to `root`.
fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| e.to_string())?;
        if kind.is_dir() {
            collect(root, &path, out)?;
        } else if kind.is_file() {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}
