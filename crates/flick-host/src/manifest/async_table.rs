//! `[functions.NAME.async]`: how `Event` invocations of a function are
//! retried and where their results go, with Lambda's names, ranges and
//! defaults. Owns the table's parsing and checks; the queue applies it.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::checks::Checker;
use super::ManifestError;

const RETRY_ATTEMPTS_RANGE: (u32, u32) = (0, 2);
const EVENT_AGE_RANGE_S: (u64, u64) = (60, 21_600);

/// `[functions.NAME.async]`: Lambda's event invoke configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsyncConfig {
    /// Retries after a function error (timeouts included), 0 to 2.
    pub max_retry_attempts: u32,
    /// An event older than this is given up, 60 to 21600.
    pub max_event_age_s: u64,
    /// The wait after the 1st, 2nd, … function error; the last one repeats.
    pub retry_delays_s: Vec<u64>,
    /// Function names (the `function:` prefix taken off) of the destinations.
    pub on_success: Option<String>,
    pub on_failure: Option<String>,
    /// Events waiting or in flight beyond which `Event` invocations get 429.
    pub max_queued: usize,
}

impl Default for AsyncConfig {
    fn default() -> Self {
        AsyncConfig {
            max_retry_attempts: 2,
            max_event_age_s: 21_600,
            retry_delays_s: vec![60, 120],
            on_success: None,
            on_failure: None,
            max_queued: 100_000,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAsync {
    max_retry_attempts: Option<Spanned<u32>>,
    max_event_age_s: Option<Spanned<u64>>,
    retry_delays_s: Option<Spanned<Vec<u64>>>,
    on_success: Option<Spanned<String>>,
    on_failure: Option<Spanned<String>>,
    max_queued: Option<Spanned<usize>>,
}

impl<F: Fn(Option<Range<usize>>, String) -> ManifestError> Checker<'_, F> {
    pub(super) fn async_config(
        &self,
        table: &str,
        raw: RawAsync,
        functions: &[String],
    ) -> Result<AsyncConfig, ManifestError> {
        let key = |field: &str| format!("{table}.{field}");
        let mut config = AsyncConfig::default();
        if let Some(v) = raw.max_retry_attempts {
            self.range(&key("max_retry_attempts"), &v, RETRY_ATTEMPTS_RANGE)?;
            config.max_retry_attempts = v.into_inner();
        }
        if let Some(v) = raw.max_event_age_s {
            self.range(&key("max_event_age_s"), &v, EVENT_AGE_RANGE_S)?;
            config.max_event_age_s = v.into_inner();
        }
        if let Some(v) = raw.retry_delays_s {
            let n = v.get_ref().len();
            if !(1..=2).contains(&n) || v.get_ref().iter().any(|&d| d > EVENT_AGE_RANGE_S.1) {
                return Err((self.invalid)(
                    self.span(&v),
                    format!(
                        "{}: expected 1 or 2 delays in seconds, each at most {}",
                        key("retry_delays_s"),
                        EVENT_AGE_RANGE_S.1
                    ),
                ));
            }
            config.retry_delays_s = v.into_inner();
        }
        if let Some(v) = raw.max_queued {
            self.at_least(&key("max_queued"), &v, 1)?;
            config.max_queued = v.into_inner();
        }
        config.on_success = raw
            .on_success
            .map(|d| self.destination(&key("on_success"), d, functions))
            .transpose()?;
        config.on_failure = raw
            .on_failure
            .map(|d| self.destination(&key("on_failure"), d, functions))
            .transpose()?;
        Ok(config)
    }

    /// `function:NAME`, where NAME is a function of this manifest.
    fn destination(
        &self,
        key: &str,
        value: Spanned<String>,
        functions: &[String],
    ) -> Result<String, ManifestError> {
        match value.get_ref().strip_prefix("function:") {
            Some(name) if functions.iter().any(|f| f == name) => Ok(name.to_string()),
            _ => Err((self.invalid)(
                self.span(&value),
                format!(
                    "{key}: `{}` is not `function:NAME` with NAME a function of this manifest",
                    value.get_ref()
                ),
            )),
        }
    }
}
