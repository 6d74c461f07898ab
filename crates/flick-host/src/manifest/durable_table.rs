//! `[functions.NAME.durable]`: the function runs durable executions (Lambda's
//! `DurableConfig`), with Lambda's names, ranges and default. Owns the
//! table's parsing and checks; the `durable` module runs the executions.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::checks::Checker;
use super::ManifestError;

/// Lambda's `ExecutionTimeout`: one second to a year of 366 days.
const EXECUTION_TIMEOUT_RANGE_S: (u64, u64) = (1, 31_622_400);
/// Lambda's `RetentionPeriodInDays`.
const RETENTION_RANGE_DAYS: (u64, u64) = (1, 90);
const DEFAULT_RETENTION_DAYS: u64 = 14;

/// `[functions.NAME.durable]`: Lambda's durable configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurableConfig {
    /// How long an execution may run, all its invocations and waits included.
    pub execution_timeout_s: u64,
    /// How long a finished execution and its history are kept.
    pub retention_days: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDurable {
    // Required on Lambda too (CloudFormation and the CLI refuse a DurableConfig without it).
    execution_timeout_s: Option<Spanned<u64>>,
    retention_days: Option<Spanned<u64>>,
}

impl<F: Fn(Option<Range<usize>>, String) -> ManifestError> Checker<'_, F> {
    pub(super) fn durable_config(
        &self,
        table: &str,
        raw: RawDurable,
        table_span: Option<Range<usize>>,
    ) -> Result<DurableConfig, ManifestError> {
        let key = |field: &str| format!("{table}.{field}");
        let Some(timeout) = raw.execution_timeout_s else {
            return Err((self.invalid)(
                table_span,
                format!(
                    "{}: required (seconds, {} to {}), as Lambda's ExecutionTimeout is",
                    key("execution_timeout_s"),
                    EXECUTION_TIMEOUT_RANGE_S.0,
                    EXECUTION_TIMEOUT_RANGE_S.1
                ),
            ));
        };
        self.range(
            &key("execution_timeout_s"),
            &timeout,
            EXECUTION_TIMEOUT_RANGE_S,
        )?;
        let mut retention_days = DEFAULT_RETENTION_DAYS;
        if let Some(v) = raw.retention_days {
            self.range(&key("retention_days"), &v, RETENTION_RANGE_DAYS)?;
            retention_days = v.into_inner();
        }
        Ok(DurableConfig {
            execution_timeout_s: timeout.into_inner(),
            retention_days,
        })
    }
}
