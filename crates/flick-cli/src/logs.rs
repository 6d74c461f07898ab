//! `flick logs NAME`: a function's log, read from the host's log file
//! (`state_dir/logs/NAME.log`, whether or not a host runs), filtered by age
//! (`--since 10m`) or invocation (`--request-id`), and followed as it grows
//! (`--follow`). On a terminal, the platform's lines (START, END, REPORT)
//! and errors stand out in colour, unless `NO_COLOR` is set.

use std::io::{IsTerminal, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use flick_host::logs::record::{self, Record};

/// How often `--follow` looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

#[derive(clap::Args)]
pub struct LogsArgs {
    /// The function.
    name: String,
    /// The manifest whose `state_dir` holds the logs.
    #[arg(long, default_value = "flick.toml")]
    config: PathBuf,
    /// Keep printing new lines as they are written (Ctrl-C ends).
    #[arg(long, short)]
    follow: bool,
    /// Only what was written in the last DURATION: 30s, 10m, 2h, 1d.
    #[arg(long, value_parser = parse_duration)]
    since: Option<Duration>,
    /// Only the lines of this invocation.
    #[arg(long)]
    request_id: Option<String>,
}

pub fn run(args: LogsArgs) -> ExitCode {
    let manifest = match crate::load_manifest(&args.config) {
        Ok(m) => m,
        Err(code) => return code,
    };
    if !manifest.functions.contains_key(&args.name) {
        eprintln!(
            "flick logs: no function {} in {}",
            args.name,
            args.config.display()
        );
        return ExitCode::from(2);
    }
    let path = manifest
        .server
        .state_dir
        .join("logs")
        .join(format!("{}.log", args.name));
    let mut filter = Filter {
        since: args.since.map(|d| record::time_text(SystemTime::now() - d)),
        request_id: args.request_id,
        keeping: false,
        colour: std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    };
    match print_log(&path, &mut filter, args.follow) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flick logs: {}: {e}", path.display());
            ExitCode::from(1)
        }
    }
}

/// Prints the file's lines that pass `filter`; with `follow`, then waits
/// for more (a file that does not exist yet is waited for too).
fn print_log(path: &Path, filter: &mut Filter, follow: bool) -> std::io::Result<()> {
    let mut offset = 0u64;
    let mut partial = String::new();
    let mut out = std::io::stdout().lock();
    loop {
        match std::fs::File::open(path) {
            Ok(mut file) => {
                if file.metadata()?.len() < offset {
                    // Rotated or truncated: start again from its beginning.
                    offset = 0;
                }
                file.seek(SeekFrom::Start(offset))?;
                let mut fresh = String::new();
                offset += file.read_to_string(&mut fresh)? as u64;
                partial.push_str(&fresh);
                // Only whole lines: the writer may be mid-line.
                if let Some(end) = partial.rfind('\n') {
                    for line in partial[..end].lines() {
                        if let Some(text) = filter.pass(line) {
                            writeln!(out, "{text}")?;
                        }
                    }
                    partial.drain(..=end);
                    out.flush()?;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && follow => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!(
                    "flick logs: nothing logged yet ({} does not exist)",
                    path.display()
                );
                return Ok(());
            }
            Err(e) => return Err(e),
        }
        if !follow {
            return Ok(());
        }
        std::thread::sleep(FOLLOW_POLL);
    }
}

struct Filter {
    /// Records older than this time (as the log writes times) are left out.
    since: Option<String>,
    request_id: Option<String>,
    /// Whether the record the next plain line continues was kept.
    keeping: bool,
    colour: bool,
}

impl Filter {
    /// The text to print for one line of the file, if it passes.
    fn pass(&mut self, line: &str) -> Option<String> {
        let Some(record) = record::begins(line) else {
            // A line of a multi-line event goes with its record.
            return self.keeping.then(|| self.paint(line, line));
        };
        self.keeping = self.wants(&record);
        self.keeping.then(|| {
            let text = format!("{} {}", record.time, record.text);
            self.paint(&text, &record.text)
        })
    }

    fn wants(&self, record: &Record) -> bool {
        let recent = self
            .since
            .as_ref()
            .is_none_or(|since| record.time >= *since);
        let ours = self.request_id.as_ref().is_none_or(|id| {
            record.request_id.as_ref() == Some(id) || record.text.contains(id.as_str())
        });
        recent && ours
    }

    /// Colours `text` by what `content` says: the platform's own lines in
    /// cyan, errors in red.
    fn paint(&self, text: &str, content: &str) -> String {
        if !self.colour {
            return text.to_string();
        }
        let platform = [
            "START RequestId:",
            "END RequestId:",
            "REPORT RequestId:",
            "INIT_",
        ]
        .iter()
        .any(|p| content.starts_with(p));
        let error = content.contains("ERROR")
            || content.contains("Error")
            || content.starts_with("Traceback");
        match (platform, error) {
            (true, _) => format!("\x1b[36m{text}\x1b[0m"),
            (false, true) => format!("\x1b[31m{text}\x1b[0m"),
            _ => text.to_string(),
        }
    }
}

/// `30s`, `10m`, `2h`, `1d`, `500ms`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text}: give a unit (s, m, h, d or ms)"))?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text}: not a number of {unit}"))?;
    let seconds = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        other => return Err(format!("{text}: unknown unit {other} (s, m, h, d or ms)")),
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_the_usual_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("10").unwrap_err().contains("unit"));
        assert!(parse_duration("5y").unwrap_err().contains("unknown unit"));
    }

    #[test]
    fn a_request_keeps_its_records_and_their_following_lines() {
        let mut f = Filter {
            since: None,
            request_id: Some("r1".into()),
            keeping: false,
            colour: false,
        };
        let kept: Vec<_> = [
            "2026-11-27T10:00:00.000Z\t-\tinit",
            "2026-11-27T10:00:00.001Z\tr1\tTraceback:",
            "  at line 3",
            "2026-11-27T10:00:00.002Z\tr2\tother",
            "  other's trace",
            "2026-11-27T10:00:00.003Z\t-\tREPORT RequestId: r1\tDuration: 1 ms",
        ]
        .iter()
        .filter_map(|l| f.pass(l))
        .collect();
        assert_eq!(
            kept,
            [
                "2026-11-27T10:00:00.001Z Traceback:",
                "  at line 3",
                "2026-11-27T10:00:00.003Z REPORT RequestId: r1\tDuration: 1 ms",
            ]
        );
    }
}
