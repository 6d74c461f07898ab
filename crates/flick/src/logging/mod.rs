//! Structured logs: one line per `tracing` event, JSON or text as
//! `AWS_LAMBDA_LOG_FORMAT` says, filtered by `AWS_LAMBDA_LOG_LEVEL`, with the
//! current invocation's `requestId` and `coldStart` on every line.
//!
//! Owns installing the subscriber and the process-wide format. The line layout
//! is in `line`, the `tracing` glue in `subscriber`; reading the variables is
//! `runtime_env`'s job.

mod line;
mod subscriber;
mod timestamp;

use std::fmt::Display;
use std::sync::OnceLock;

use tracing::Level;

pub(crate) use line::{with_buffer, Line};

/// `AWS_LAMBDA_LOG_FORMAT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct LogSettings {
    pub(crate) format: LogFormat,
    pub(crate) level: Level,
}

impl LogSettings {
    /// Lambda's level names, any case; `FATAL` is `tracing`'s `ERROR`.
    pub(crate) fn parse_level(name: &str) -> Option<Level> {
        const LEVELS: [(&str, Level); 6] = [
            ("TRACE", Level::TRACE),
            ("DEBUG", Level::DEBUG),
            ("INFO", Level::INFO),
            ("WARN", Level::WARN),
            ("ERROR", Level::ERROR),
            ("FATAL", Level::ERROR),
        ];
        LEVELS
            .into_iter()
            .find(|(known, _)| name.trim().eq_ignore_ascii_case(known))
            .map(|(_, level)| level)
    }
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Makes this the process's `tracing` subscriber. If the program installed its
/// own first, that one stays and only the SDK's own lines use this format.
pub(crate) fn install(settings: LogSettings) {
    let _ = FORMAT.set(settings.format);
    // `tracing` without its `std` feature: the std callsite registry costs
    // ~10 KB; a program that enables `std` itself gets the same behaviour.
    let _ = tracing::dispatcher::set_global_default(tracing::Dispatch::new(
        subscriber::LineSubscriber {
            format: settings.format,
            max_level: settings.level,
        },
    ));
}

/// Makes `tracing-subscriber`'s registry, with the log lines filtered by
/// level and `beside` (the span exporter) by the same level or `INFO`,
/// whichever says more, the process's subscriber: traces keep the
/// invocation's INFO span however quiet the logs are, and libraries'
/// DEBUG spans (the AWS SDK's) stay out unless asked for.
#[cfg(feature = "opentelemetry")]
pub(crate) fn install_beside<L>(settings: LogSettings, beside: L)
where
    L: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync,
{
    use tracing_subscriber::filter::LevelFilter;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::Layer;

    let _ = FORMAT.set(settings.format);
    let lines = subscriber::LineLayer {
        format: settings.format,
    }
    .with_filter(LevelFilter::from_level(settings.level));
    let spans = LevelFilter::from_level(settings.level.max(Level::INFO));
    let registry = tracing_subscriber::registry()
        .with(beside.with_filter(spans))
        .with(lines);
    let _ = tracing::dispatcher::set_global_default(tracing::Dispatch::new(registry));
}

/// The format in force (text until [`install`] ran).
pub(crate) fn format() -> LogFormat {
    FORMAT.get().copied().unwrap_or(LogFormat::Text)
}

/// Writes one line from the SDK itself, with text fields.
pub(crate) fn write(level: Level, message: &dyn Display, fields: &[(&str, &dyn Display)]) {
    with_buffer(|buffer| {
        let mut line = Line::start(buffer, format(), level);
        line.message(message);
        for (key, value) in fields {
            line.field(key, *value);
        }
        line.finish();
    });
}
