//! The environment Lambda gives a runtime process, read once at init.
//!
//! Owns which variables the runtime needs and what counts as malformed. Every
//! problem is collected (never a panic) so that init can report them all in one
//! `/init/error`. The function's own variables are `config`'s business.

use crate::context::FunctionInfo;
use crate::endpoint::Endpoint;
use crate::logging::{LogFormat, LogSettings};

/// What the runtime learned from its environment, and what was wrong with it.
#[derive(Debug)]
pub(crate) struct RuntimeEnv {
    /// `AWS_LAMBDA_RUNTIME_API`; without it nothing can be reported.
    pub(crate) api: Option<Endpoint>,
    pub(crate) function: FunctionInfo,
    pub(crate) log: LogSettings,
    /// `AWS_LAMBDA_MAX_CONCURRENCY`: how many invocations run at once.
    pub(crate) concurrency: usize,
    /// One sentence per missing or malformed variable.
    pub(crate) problems: Vec<String>,
}

impl RuntimeEnv {
    /// Reads the process environment.
    pub(crate) fn from_process() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub(crate) fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let mut problems = Vec::new();
        let mut required = |name: &str| {
            get(name).filter(|v| !v.is_empty()).or_else(|| {
                problems.push(format!("{name} is not set"));
                None
            })
        };
        let api = required("AWS_LAMBDA_RUNTIME_API");
        let name = required("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
        let version = required("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_default();
        let memory = required("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");

        let mut parse_number = |var: &str, value: Option<String>, default: u32| match value {
            None => default,
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if n > 0 => n,
                _ => {
                    problems.push(format!(
                        "{var} must be a positive whole number, got \"{v}\""
                    ));
                    default
                }
            },
        };
        let memory_mb = parse_number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory, 128);
        let concurrency = parse_number(
            "AWS_LAMBDA_MAX_CONCURRENCY",
            get("AWS_LAMBDA_MAX_CONCURRENCY"),
            1,
        );

        let format = match get("AWS_LAMBDA_LOG_FORMAT").as_deref() {
            None | Some("") => LogFormat::Text,
            Some(v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
            Some(v) if v.eq_ignore_ascii_case("text") => LogFormat::Text,
            Some(v) => {
                problems.push(format!(
                    "AWS_LAMBDA_LOG_FORMAT must be JSON or Text, got \"{v}\""
                ));
                LogFormat::Text
            }
        };
        let level = match get("AWS_LAMBDA_LOG_LEVEL").as_deref() {
            None | Some("") => tracing::Level::INFO,
            Some(v) => LogSettings::parse_level(v).unwrap_or_else(|| {
                problems.push(format!(
                    "AWS_LAMBDA_LOG_LEVEL must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL, got \"{v}\""
                ));
                tracing::Level::INFO
            }),
        };

        let api = api.and_then(|value| {
            Endpoint::parse(&value)
                .map_err(|problem| problems.push(problem))
                .ok()
        });
        Self {
            api,
            function: FunctionInfo {
                name,
                version,
                memory_mb,
                log_group: get("AWS_LAMBDA_LOG_GROUP_NAME").unwrap_or_default(),
                log_stream: get("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default(),
            },
            log: LogSettings { format, level },
            concurrency: concurrency as usize,
            problems,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> RuntimeEnv {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RuntimeEnv::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn a_complete_environment_has_no_problems() {
        let e = env(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_NAME", "f"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("AWS_LAMBDA_MAX_CONCURRENCY", "8"),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ("AWS_LAMBDA_LOG_LEVEL", "debug"),
        ]);
        assert!(e.problems.is_empty(), "{:?}", e.problems);
        assert_eq!((e.function.memory_mb, e.concurrency), (256, 8));
        assert_eq!(e.log.format, LogFormat::Json);
        assert_eq!(e.log.level, tracing::Level::DEBUG);
    }

    #[test]
    fn every_problem_is_reported_together() {
        let e = env(&[
            ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots"),
            ("AWS_LAMBDA_LOG_FORMAT", "xml"),
        ]);
        let all = e.problems.join("\n");
        for needle in [
            "AWS_LAMBDA_FUNCTION_NAME is not set",
            "AWS_LAMBDA_FUNCTION_VERSION is not set",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE must be a positive whole number",
            "AWS_LAMBDA_LOG_FORMAT must be JSON or Text",
        ] {
            assert!(all.contains(needle), "{needle} missing from {all}");
        }
    }
}
