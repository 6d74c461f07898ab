//! A function's layers, as Lambda has them: folders (or the `.zip`
//! archives Lambda takes) whose contents the sandbox sees merged at `/opt`,
//! later layers over earlier ones, read-only.
//!
//! Owns turning the manifest's `layers` into folders at start (a zip is
//! extracted once into `state_dir/layers/SHA256/`), and what the host must
//! know of their contents: the external extensions, the executables under
//! `/opt/extensions`. The mount itself is the sandbox shell's.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::manifest::Manifest;

/// Where layers are seen inside a sandbox.
pub const OPT: &str = "/opt";
/// The folder of a layer whose files are external extensions ...
const EXTENSIONS_SUBDIR: &str = "extensions";
/// ... and where the sandbox's runtime and extensions see them.
pub const EXTENSIONS_DIR: &str = "/opt/extensions";

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("functions.{function}.layers: {path} does not exist")]
    Missing { function: String, path: PathBuf },
    #[error("functions.{function}.layers: {path} is neither a folder nor a .zip file")]
    NotALayer { function: String, path: PathBuf },
    #[error("functions.{function}.layers: cannot extract {path}: {reason}")]
    Extract {
        function: String,
        path: PathBuf,
        reason: String,
    },
    #[error("cannot create {OPT} to show layers at: {0}")]
    Opt(io::Error),
}

/// Replaces every zip among the manifest's layers by the folder it is
/// extracted to, and makes sure `/opt` exists to show them at.
pub fn prepare(manifest: &mut Manifest) -> Result<(), LayerError> {
    let store = manifest.server.state_dir.join("layers");
    let mut any = false;
    for f in manifest.functions.values_mut() {
        for layer in &mut f.layers {
            any = true;
            *layer = folder_of(&f.name, layer, &store)?;
        }
    }
    if any && !Path::new(OPT).exists() {
        std::fs::create_dir(OPT).map_err(LayerError::Opt)?;
    }
    Ok(())
}

fn folder_of(function: &str, layer: &Path, store: &Path) -> Result<PathBuf, LayerError> {
    let meta = std::fs::metadata(layer).map_err(|_| LayerError::Missing {
        function: function.into(),
        path: layer.into(),
    })?;
    if meta.is_dir() {
        return Ok(layer.to_path_buf());
    }
    let is_zip = layer
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if !meta.is_file() || !is_zip {
        return Err(LayerError::NotALayer {
            function: function.into(),
            path: layer.into(),
        });
    }
    extract(layer, store).map_err(|reason| LayerError::Extract {
        function: function.into(),
        path: layer.into(),
        reason,
    })
}

/// Extracts `zip` once: into a folder named for its content, so that a
/// changed archive is extracted anew and an unchanged one never again.
fn extract(zip: &Path, store: &Path) -> Result<PathBuf, String> {
    let bytes = std::fs::read(zip).map_err(|e| e.to_string())?;
    let digest = Sha256::digest(&bytes);
    let name: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let target = store.join(name);
    if target.is_dir() {
        return Ok(target);
    }
    std::fs::create_dir_all(store).map_err(|e| e.to_string())?;
    let partial = store.join(format!(".partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&partial);
    let mut archive = zip::ZipArchive::new(io::Cursor::new(bytes)).map_err(|e| e.to_string())?;
    // Entries that would land outside the folder (`../`) are refused by the crate.
    archive.extract(&partial).map_err(|e| e.to_string())?;
    readable_by_all(&partial).map_err(|e| e.to_string())?;
    std::fs::rename(&partial, &target).map_err(|e| e.to_string())?;
    Ok(target)
}

/// Opens the extracted tree to the sandboxes' users, as Lambda's `/opt` is:
/// folders the archive only implies are made private by the extractor, and
/// archives made on a machine with a strict umask carry owner-only files.
fn readable_by_all(folder: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let (extra, recurse) = if kind.is_dir() {
            (0o555, true)
        } else if kind.is_file() {
            (0o444, false)
        } else {
            continue; // a link's own mode means nothing
        };
        let path = entry.path();
        let mode = entry.metadata()?.permissions().mode();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode | extra))?;
        if recurse {
            readable_by_all(&path)?;
        }
    }
    Ok(())
}

/// The external extensions of these layers: the names of the files that
/// `/opt/extensions` holds once they are merged, in the order Lambda starts
/// them (by name).
pub fn extensions(layers: &[PathBuf]) -> Vec<String> {
    let mut found = BTreeMap::new();
    for layer in layers {
        let Ok(entries) = std::fs::read_dir(layer.join(EXTENSIONS_SUBDIR)) else {
            continue;
        };
        for entry in entries.flatten() {
            // A later layer's entry hides an earlier one's of the same name.
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            found.insert(entry.file_name().to_string_lossy().into_owned(), is_dir);
        }
    }
    found
        .into_iter()
        .filter(|(_, is_dir)| !is_dir)
        .map(|(name, _)| name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("flick-layers-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_later_layers_extension_hides_an_earlier_one_and_folders_are_not_extensions() {
        let (a, b) = (folder("a"), folder("b"));
        for (layer, names) in [(&a, ["zeta", "shared"]), (&b, ["alpha", "shared"])] {
            std::fs::create_dir_all(layer.join("extensions")).unwrap();
            for n in names {
                std::fs::write(layer.join("extensions").join(n), "#!/bin/sh\n").unwrap();
            }
        }
        std::fs::remove_file(b.join("extensions/shared")).unwrap();
        std::fs::create_dir(b.join("extensions/shared")).unwrap();
        assert_eq!(extensions(&[a.clone(), b.clone()]), ["alpha", "zeta"]);
        assert_eq!(extensions(&[b, a]), ["alpha", "shared", "zeta"]);
    }

    #[test]
    fn a_zip_is_extracted_once_into_a_folder_named_for_its_content() {
        let dir = folder("zip");
        let archive = dir.join("layer.zip");
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&archive).unwrap());
        let options = zip::write::SimpleFileOptions::default().unix_permissions(0o755);
        zip.start_file("extensions/probe", options).unwrap();
        zip.write_all(b"#!/bin/sh\n").unwrap();
        let private = zip::write::SimpleFileOptions::default().unix_permissions(0o600);
        zip.start_file("lib/deep/data", private).unwrap();
        zip.write_all(b"x").unwrap();
        zip.finish().unwrap();
        let store = dir.join("store");
        let first = folder_of("f", &archive, &store).unwrap();
        assert!(first.starts_with(&store));
        assert_eq!(extensions(std::slice::from_ref(&first)), ["probe"]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(first.join("extensions/probe"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        for (path, want) in [
            ("lib", 0o755),
            ("lib/deep", 0o755),
            ("lib/deep/data", 0o644),
        ] {
            let mode = std::fs::metadata(first.join(path))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777 & want, want, "{path}: {mode:o}");
        }
        assert_eq!(folder_of("f", &archive, &store).unwrap(), first);
    }

    #[test]
    fn what_is_no_layer_is_named() {
        let dir = folder("bad");
        std::fs::write(dir.join("notes.txt"), "x").unwrap();
        let store = dir.join("store");
        let missing = folder_of("f", &dir.join("gone"), &store)
            .unwrap_err()
            .to_string();
        assert_eq!(
            missing,
            format!("functions.f.layers: {}/gone does not exist", dir.display())
        );
        let text = folder_of("f", &dir.join("notes.txt"), &store)
            .unwrap_err()
            .to_string();
        assert!(
            text.ends_with("notes.txt is neither a folder nor a .zip file"),
            "{text}"
        );
    }
}
