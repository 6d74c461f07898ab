//! Writing text as a JSON string literal, straight into a buffer.
//!
//! Shared by log lines and Runtime API error bodies, which are flat objects
//! of strings: writing them by hand avoids building a `serde_json` value or
//! an intermediate `String` per field.

use std::fmt::{self, Display, Write};

/// Appends `s` as a quoted, escaped JSON string.
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    push_json_display(out, &s);
}

/// Appends what `value` displays as a quoted, escaped JSON string.
pub(crate) fn push_json_display(out: &mut String, value: &dyn Display) {
    out.push('"');
    let _ = write!(JsonEscaped(out), "{value}");
    out.push('"');
}

/// Escapes what it is given as the inside of a JSON string.
struct JsonEscaped<'a>(&'a mut String);

impl fmt::Write for JsonEscaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                '\t' => self.0.push_str("\\t"),
                c if (c as u32) < 0x20 => write!(self.0, "\\u{:04x}", c as u32)?,
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}
