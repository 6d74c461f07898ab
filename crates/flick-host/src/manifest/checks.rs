//! How manifest mistakes are reported: range checks that name the key, and
//! the line and dotted key behind a byte offset of the manifest text.

use std::ops::Range;

use toml::Spanned;

use super::ManifestError;

/// Lambda's limit on a function's layers.
const MAX_LAYERS: usize = 5;

/// Range checks that report the key and the line of the offending value.
pub(super) struct Checker<'a, F> {
    pub(super) text: &'a str,
    pub(super) invalid: &'a F,
}

impl<F: Fn(Option<Range<usize>>, String) -> ManifestError> Checker<'_, F> {
    pub(super) fn range<T>(
        &self,
        key: &str,
        value: &Spanned<T>,
        (lo, hi): (T, T),
    ) -> Result<(), ManifestError>
    where
        T: PartialOrd + std::fmt::Display + Copy,
    {
        let v = *value.get_ref();
        if v < lo || v > hi {
            return Err((self.invalid)(
                self.span(value),
                format!("{key}: {v} is out of range, expected {lo} to {hi}"),
            ));
        }
        Ok(())
    }

    pub(super) fn at_least<T>(
        &self,
        key: &str,
        value: &Spanned<T>,
        lo: T,
    ) -> Result<(), ManifestError>
    where
        T: PartialOrd + std::fmt::Display + Copy,
    {
        let v = *value.get_ref();
        if v < lo {
            return Err((self.invalid)(
                self.span(value),
                format!("{key}: {v} is too small, expected at least {lo}"),
            ));
        }
        Ok(())
    }

    /// A count of sandboxes that may not exceed the function's `max_concurrency`.
    pub(super) fn within_concurrency(
        &self,
        key: &str,
        value: &Spanned<usize>,
        hi: usize,
    ) -> Result<(), ManifestError> {
        let v = *value.get_ref();
        if v > hi {
            return Err((self.invalid)(
                self.span(value),
                format!("{key}: {v} is more than max_concurrency ({hi})"),
            ));
        }
        Ok(())
    }

    /// One of a few words: the value each stands for, or None if absent.
    pub(super) fn choice<T: Copy>(
        &self,
        key: &str,
        value: &Option<Spanned<String>>,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, ManifestError> {
        let Some(value) = value else { return Ok(None) };
        let word = value.get_ref().as_str();
        match choices.iter().find(|(w, _)| *w == word) {
            Some((_, v)) => Ok(Some(*v)),
            None => {
                let expected: Vec<String> =
                    choices.iter().map(|(w, _)| format!("\"{w}\"")).collect();
                Err((self.invalid)(
                    self.span(value),
                    format!("{key}: `{word}` is not one of {}", expected.join(", ")),
                ))
            }
        }
    }

    /// Layer paths (folders or `.zip` files), resolved against `root`: at
    /// most Lambda's five, and none with a character the `/opt` mount's
    /// option string cannot carry.
    pub(super) fn layers(
        &self,
        key: &str,
        value: Option<Spanned<Vec<String>>>,
        root: &std::path::Path,
    ) -> Result<Vec<std::path::PathBuf>, ManifestError> {
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        let span = self.span(&value);
        let paths = value.into_inner();
        if paths.len() > MAX_LAYERS {
            return Err((self.invalid)(
                span,
                format!(
                    "{key}: {} layers, Lambda allows at most {MAX_LAYERS}",
                    paths.len()
                ),
            ));
        }
        paths
            .into_iter()
            .map(|p| {
                if p.is_empty() || p.contains([':', ',', '\\']) {
                    return Err((self.invalid)(
                        span.clone(),
                        format!(
                            "{key}: `{p}` is not a usable path (empty, or with `:`, `,` or `\\`)"
                        ),
                    ));
                }
                Ok(super::tidy(root.join(p)))
            })
            .collect()
    }

    /// Defaults carry an empty span at 0; they never fail checks, but keep the
    /// line out of messages if one ever did.
    pub(super) fn span<T>(&self, value: &Spanned<T>) -> Option<Range<usize>> {
        let span = value.span();
        (span.end > 0 && span.end <= self.text.len()).then_some(span)
    }
}

/// The dotted key of the `key = value` line (or `[table]` header) holding
/// `offset`, e.g. `functions.echo.timeout_s`.
pub(super) fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let table = text[..line_start]
        .lines()
        .rev()
        .chain(std::iter::once(line))
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let key = line
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"'));
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k.to_string()),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// 1-based line number of a byte offset.
pub(super) fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
