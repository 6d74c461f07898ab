//! One log line in either of Lambda's log formats, with the current
//! invocation's `requestId` and `coldStart` stamped on it.
//!
//! JSON follows Lambda's advanced logging shape: `{"timestamp","level",
//! "requestId","coldStart","message",...fields}`. Text follows Lambda's tab
//! separated form: `timestamp<TAB>requestId<TAB>LEVEL<TAB>message key=value...`
//! (`-` for the request id outside an invocation). Owns formatting and
//! escaping only; deciding which events to log is the subscriber's job.

use std::cell::RefCell;
use std::fmt::{Display, Write};
use std::io::Write as _;

use tracing::Level;

use super::timestamp;
use super::LogFormat;
use crate::current;
use crate::json_text::{push_json_display, push_json_string};

pub(crate) struct Line<'a> {
    out: &'a mut String,
    format: LogFormat,
    /// Text lines carry the cold-start flag after the fields, not in a column.
    cold_start: Option<bool>,
}

impl<'a> Line<'a> {
    /// Starts a line: timestamp, level, and the current invocation if any.
    pub(crate) fn start(out: &'a mut String, format: LogFormat, level: Level) -> Self {
        out.clear();
        let cold_start = current::with(|invocation| {
            let id = invocation.map_or("", |i| &i.request_id);
            match format {
                LogFormat::Json => {
                    out.push_str("{\"timestamp\":\"");
                    timestamp::write_now(out);
                    let _ = write!(out, "\",\"level\":\"{}\"", level_name(level));
                    if invocation.is_some() {
                        out.push_str(",\"requestId\":");
                        push_json_string(out, id);
                    }
                }
                LogFormat::Text => {
                    timestamp::write_now(out);
                    out.push('\t');
                    out.push_str(if id.is_empty() { "-" } else { id });
                    let _ = write!(out, "\t{}\t", level_name(level));
                }
            }
            invocation.map(|i| i.cold_start)
        });
        let mut line = Self {
            out,
            format,
            cold_start,
        };
        if let (LogFormat::Json, Some(cold)) = (format, cold_start) {
            line.field_raw("coldStart", &cold);
        }
        line
    }

    /// The human message: a JSON string, or the text line's fourth column.
    pub(crate) fn message(&mut self, message: &dyn Display) {
        match self.format {
            LogFormat::Json => {
                self.out.push_str(",\"message\":");
                push_json_display(self.out, message);
            }
            LogFormat::Text => push_text(self.out, message),
        }
    }

    /// A field whose value is text (quoted in JSON).
    pub(crate) fn field(&mut self, key: &str, value: &dyn Display) {
        self.key(key);
        match self.format {
            LogFormat::Json => push_json_display(self.out, value),
            LogFormat::Text => push_text(self.out, value),
        }
    }

    /// A field whose value is a number or boolean (bare in JSON). Non-finite
    /// floats are not JSON numbers and are written as text by the caller.
    pub(crate) fn field_raw(&mut self, key: &str, value: &dyn Display) {
        self.key(key);
        let _ = write!(self.out, "{value}");
    }

    /// Ends the line and writes it to stdout in one call, so that lines from
    /// concurrent invocations never interleave.
    pub(crate) fn finish(mut self) {
        match self.format {
            LogFormat::Json => self.out.push_str("}\n"),
            LogFormat::Text => {
                if let Some(cold) = self.cold_start {
                    self.field_raw("coldStart", &cold);
                }
                self.out.push('\n');
            }
        }
        // Nowhere to report a failed log write; the line is lost either way.
        let _ = std::io::stdout().lock().write_all(self.out.as_bytes());
    }

    fn key(&mut self, key: &str) {
        match self.format {
            LogFormat::Json => {
                self.out.push(',');
                push_json_string(self.out, key);
                self.out.push(':');
            }
            LogFormat::Text => {
                let _ = write!(self.out, " {key}=");
            }
        }
    }
}

/// Calls `f` with this thread's line buffer, reused across lines so that
/// logging allocates nothing once the buffer has grown.
pub(crate) fn with_buffer(f: impl FnOnce(&mut String)) {
    thread_local! {
        static BUFFER: RefCell<String> = const { RefCell::new(String::new()) };
    }
    BUFFER.with(|buffer| match buffer.try_borrow_mut() {
        Ok(mut buffer) => f(&mut buffer),
        // A value's Display impl logged while its own line was being built.
        Err(_) => f(&mut String::new()),
    })
}

/// Appends text for a text-format line, with newlines turned into carriage
/// returns as Lambda's own runtimes do, so that a multi-line message stays one
/// log event.
fn push_text(out: &mut String, value: &dyn Display) {
    let start = out.len();
    let _ = write!(out, "{value}");
    // SAFETY: swapping one ASCII byte for another keeps the text UTF-8.
    let written = unsafe { &mut out.as_bytes_mut()[start..] };
    for byte in written.iter_mut().filter(|b| **b == b'\n') {
        *byte = b'\r';
    }
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => "INFO",
        Level::WARN => "WARN",
        Level::ERROR => "ERROR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_are_valid_json_with_escaped_text() {
        let mut out = String::new();
        let mut line = Line::start(&mut out, LogFormat::Json, Level::WARN);
        line.message(&"say \"hi\"\n\u{1}");
        line.field("user", &"ann");
        line.field_raw("count", &3);
        line.out.push_str("}\n");
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(value["level"], "WARN");
        assert_eq!(value["message"], "say \"hi\"\n\u{1}");
        assert_eq!(value["count"], 3);
        assert!(value.get("requestId").is_none());
    }

    #[test]
    fn text_lines_have_tab_separated_columns() {
        let mut out = String::new();
        let mut line = Line::start(&mut out, LogFormat::Text, Level::INFO);
        line.message(&"hello");
        line.field("user", &"ann");
        line.field("note", &"two\nlines");
        let columns: Vec<&str> = out.split('\t').collect();
        assert_eq!(
            &columns[1..],
            ["-", "INFO", "hello user=ann note=two\rlines"]
        );
    }
}
