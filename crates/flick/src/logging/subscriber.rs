//! A minimal `tracing` subscriber that writes every enabled event as one line.
//!
//! Hand-written instead of `tracing-subscriber` because that crate's `fmt` and
//! `registry` cost tens of KB and a span store that a short-lived invocation
//! does not need. It filters by level only; span fields are not recorded
//! (the request id, which spans usually carry, is stamped by `line`). With
//! the `opentelemetry` feature the same lines come from [`LineLayer`] and
//! spans are kept by `tracing-subscriber`'s registry.

use std::fmt::{self, Debug};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

use super::line::{self, Line};
use super::LogFormat;

pub(crate) struct LineSubscriber {
    pub(crate) format: LogFormat,
    pub(crate) max_level: Level,
}

impl Subscriber for LineSubscriber {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.enabled(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // `tracing` orders levels by verbosity: TRACE is the greatest.
        *metadata.level() <= self.max_level
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(self.max_level.into())
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Spans are not tracked, so one id serves them all.
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        write_event(self.format, event);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

fn write_event(format: LogFormat, event: &Event<'_>) {
    line::with_buffer(|buffer| {
        let mut line = Line::start(buffer, format, *event.metadata().level());
        // The message first, whatever its place among the fields, so text
        // lines read `message key=value`.
        event.record(&mut Fields {
            line: &mut line,
            message: true,
        });
        event.record(&mut Fields {
            line: &mut line,
            message: false,
        });
        line.finish();
    });
}

/// The same lines as a layer, beside others (the OpenTelemetry bridge) on
/// `tracing-subscriber`'s registry, which then keeps the spans.
#[cfg(feature = "opentelemetry")]
pub(crate) struct LineLayer {
    pub(crate) format: LogFormat,
}

#[cfg(feature = "opentelemetry")]
impl<S: Subscriber> tracing_subscriber::Layer<S> for LineLayer {
    fn on_event(&self, event: &Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        write_event(self.format, event);
    }
}

/// Writes either the `message` field or all the others.
struct Fields<'l, 'b> {
    line: &'l mut Line<'b>,
    message: bool,
}

impl Fields<'_, '_> {
    fn wanted(&self, field: &Field) -> bool {
        (field.name() == "message") == self.message
    }
}

impl Visit for Fields<'_, '_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        if !self.wanted(field) {
            return;
        }
        let value = DebugAsDisplay(value);
        if self.message {
            self.line.message(&value);
        } else {
            self.line.field(field.name(), &value);
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.wanted(field) {
            return;
        }
        if self.message {
            self.line.message(&value);
        } else {
            self.line.field(field.name(), &value);
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_number(field, &value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record_number(field, &value);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        self.record_number(
            field,
            &Wide {
                negative: false,
                magnitude: value,
            },
        );
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let wide = Wide {
            negative: value < 0,
            magnitude: value.unsigned_abs(),
        };
        self.record_number(field, &wide);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record_number(field, &value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // serde_json's shortest-float writer is already in the binary; core's
        // float formatting would add ~10 KB. Non-finite values are not JSON
        // numbers, so they are written as text.
        match serde_json::Number::from_f64(value) {
            Some(number) => self.record_number(field, &number),
            None if value.is_nan() => self.record_str(field, "NaN"),
            None if value > 0.0 => self.record_str(field, "inf"),
            None => self.record_str(field, "-inf"),
        }
    }
}

impl Fields<'_, '_> {
    fn record_number(&mut self, field: &Field, value: &dyn fmt::Display) {
        match (self.wanted(field), self.message) {
            (false, _) => {}
            (true, true) => self.line.message(value),
            (true, false) => self.line.field_raw(field.name(), value),
        }
    }
}

/// A 128-bit integer written as two 64-bit halves: core's own 128-bit
/// formatting costs more than a kilobyte that no other code needs.
struct Wide {
    negative: bool,
    magnitude: u128,
}

impl fmt::Display for Wide {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const TEN_TO_19: u128 = 10_000_000_000_000_000_000;
        if self.negative {
            f.write_str("-")?;
        }
        let high = self.magnitude / TEN_TO_19;
        let low = (self.magnitude % TEN_TO_19) as u64;
        match u64::try_from(high) {
            Ok(0) => write!(f, "{low}"),
            Ok(high) => write!(f, "{high}{low:019}"),
            // Beyond 10^38: the top digits, then the rest.
            Err(_) => write!(
                f,
                "{}{:019}{low:019}",
                (high / TEN_TO_19) as u64,
                (high % TEN_TO_19) as u64
            ),
        }
    }
}

/// `format_args!` messages arrive as `Debug` values that print their text as is.
struct DebugAsDisplay<'a>(&'a dyn Debug);

impl fmt::Display for DebugAsDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
