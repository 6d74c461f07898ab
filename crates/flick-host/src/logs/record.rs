//! The format of a function's log file, `state_dir/logs/NAME.log`: one
//! record per log event, `TIME<TAB>REQUEST_ID<TAB>TEXT`, where TIME is UTC
//! with milliseconds (`2026-11-27T10:00:00.123Z`, so that records sort and
//! compare as text), REQUEST_ID the invocation under way (`-` when none, or
//! when a sandbox serves several at once and cannot tell), and TEXT the
//! event itself; a multi-line event (a stack trace) goes on over the
//! following lines as written. Owns writing and reading that format.

use std::io::Write;
use std::time::SystemTime;

/// Written where no invocation can be named.
const NO_REQUEST: &str = "-";

/// Appends one record.
pub fn write(
    out: &mut impl Write,
    time: SystemTime,
    request_id: Option<&str>,
    text: &str,
) -> std::io::Result<()> {
    let time = time_text(time);
    writeln!(out, "{time}\t{}\t{text}", request_id.unwrap_or(NO_REQUEST))
}

/// A time as records carry it: `2026-11-27T10:00:00.123Z`, which compares
/// as text the way the times compare.
pub fn time_text(t: SystemTime) -> String {
    crate::clock::iso8601(t)
}

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// As written: `2026-11-27T10:00:00.123Z`.
    pub time: String,
    pub request_id: Option<String>,
    pub text: String,
}

/// The record a line of a log file begins, or None for a line that goes
/// on with the record before it (a multi-line event).
pub fn begins(line: &str) -> Option<Record> {
    let (time, rest) = line.split_once('\t')?;
    let (request_id, text) = rest.split_once('\t')?;
    if !looks_like_time(time) {
        return None;
    }
    Some(Record {
        time: time.to_string(),
        request_id: (request_id != NO_REQUEST).then(|| request_id.to_string()),
        text: text.to_string(),
    })
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, digits where digits go.
fn looks_like_time(s: &str) -> bool {
    const SHAPE: &[u8] = b"0000-00-00T00:00:00.000Z";
    s.len() == SHAPE.len()
        && s.bytes().zip(SHAPE).all(|(c, &want)| match want {
            b'0' => c.is_ascii_digit(),
            _ => c == want,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_a_multi_line_event_goes_on_in_plain_lines() {
        let mut out = Vec::new();
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_500);
        write(&mut out, t, Some("abc"), "Traceback:\n  line\twith a tab").unwrap();
        write(&mut out, t, None, "init line").unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<_> = text.lines().map(begins).collect();
        assert_eq!(
            lines,
            [
                Some(Record {
                    time: "1970-01-01T00:00:01.500Z".into(),
                    request_id: Some("abc".into()),
                    text: "Traceback:".into(),
                }),
                None,
                Some(Record {
                    time: "1970-01-01T00:00:01.500Z".into(),
                    request_id: None,
                    text: "init line".into(),
                }),
            ]
        );
    }
}
