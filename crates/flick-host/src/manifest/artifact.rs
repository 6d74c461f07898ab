//! `[functions.NAME.artifact]`: what `flick build` makes of a function for
//! Lambda, and from what. One key says the language and the source:
//! `rust = "package"` (or `"package:bin"`), `go = "folder of the main
//! package"`, `python = "folder"` (with a `requirements.txt`, if any) or
//! `node = "folder"` (with a `package.json`, if any). Owns the table's
//! parsing and checks; the build is the CLI's.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::checks::Checker;
use super::ManifestError;

/// How a function's Lambda artifact is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Artifact {
    /// A cargo package of the manifest's workspace, and its binary.
    Rust { package: String, bin: String },
    /// A Go main package.
    Go { dir: PathBuf },
    /// Python sources, with `requirements.txt` installed beside them.
    Python { dir: PathBuf },
    /// Node.js sources, with `package.json`'s production dependencies.
    Node { dir: PathBuf },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArtifact {
    rust: Option<Spanned<String>>,
    go: Option<Spanned<String>>,
    python: Option<Spanned<String>>,
    node: Option<Spanned<String>>,
}

impl<F: Fn(Option<Range<usize>>, String) -> ManifestError> Checker<'_, F> {
    pub(super) fn artifact(
        &self,
        table: &str,
        raw: RawArtifact,
        root: &Path,
    ) -> Result<Artifact, ManifestError> {
        let given: Vec<(&str, Spanned<String>)> = [
            ("rust", raw.rust),
            ("go", raw.go),
            ("python", raw.python),
            ("node", raw.node),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        let [(kind, value)] = <[_; 1]>::try_from(given).map_err(|given| {
            let span = given.first().and_then(|(_, v)| self.span(v));
            (self.invalid)(
                span,
                format!("{table}: give exactly one of rust, go, python, node"),
            )
        })?;
        let span = self.span(&value);
        let text = value.into_inner();
        if text.is_empty() {
            return Err((self.invalid)(span, format!("{table}.{kind}: empty")));
        }
        let dir = || super::tidy(root.join(&text));
        Ok(match kind {
            "rust" => {
                let (package, bin) = match text.split_once(':') {
                    Some((p, b)) => (p.to_string(), b.to_string()),
                    None => (text.clone(), text.clone()),
                };
                Artifact::Rust { package, bin }
            }
            "go" => Artifact::Go { dir: dir() },
            "python" => Artifact::Python { dir: dir() },
            _ => Artifact::Node { dir: dir() },
        })
    }
}
