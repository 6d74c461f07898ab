//! Function logs: where lines go and the lines the platform writes itself.
//!
//! Owns the [`LogSink`] (one writer task that puts every function's lines on
//! the host's stderr, prefixed with the function's name, and appends them to
//! `state_dir/logs/NAME.log` as [`record`]s with their time and request id),
//! the per-invocation [`Tail`] that backs `X-Amz-Log-Result`, and the exact
//! START/END/REPORT lines. It does not read the processes' pipes; the
//! sandbox does and hands lines here.

pub mod record;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

/// What `X-Amz-Log-Result` carries: the last 4 KB of the invocation's log.
pub const TAIL_BYTES: usize = 4096;

/// Cloneable handle to the log writer task.
#[derive(Clone)]
pub struct LogSink {
    tx: mpsc::UnboundedSender<Command>,
}

enum Command {
    Line {
        function: Arc<str>,
        request_id: Option<Arc<str>>,
        time: std::time::SystemTime,
        line: String,
    },
    Flush(tokio::sync::oneshot::Sender<()>),
}

impl LogSink {
    /// Starts the writer task; files go to `dir/NAME.log`.
    pub fn start(dir: PathBuf) -> std::io::Result<LogSink> {
        std::fs::create_dir_all(&dir)?;
        let (tx, rx) = mpsc::unbounded_channel();
        // A dedicated thread: file and stderr writes are blocking, and batching
        // them here keeps them off the invocation path.
        std::thread::Builder::new()
            .name("flick-logs".into())
            .spawn(move || write_loop(dir, rx))?;
        Ok(LogSink { tx })
    }

    /// Queues one line of `function`'s log (without its newline), written
    /// during the invocation `request_id` when one can be named.
    pub fn line(&self, function: &Arc<str>, request_id: Option<&Arc<str>>, line: String) {
        // The writer only stops when every sink is gone, so this cannot fail
        // while a caller holds one.
        let _ = self.tx.send(Command::Line {
            function: function.clone(),
            request_id: request_id.cloned(),
            time: std::time::SystemTime::now(),
            line,
        });
    }

    /// Waits until every line queued so far is written.
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.tx.send(Command::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

fn write_loop(dir: PathBuf, mut rx: mpsc::UnboundedReceiver<Command>) {
    let mut files: HashMap<Arc<str>, std::io::BufWriter<std::fs::File>> = HashMap::new();
    let stderr = std::io::stderr();
    let mut waiting: Vec<tokio::sync::oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        // Buffered, so a batch of lines costs one write to stderr, not one each.
        let mut err = std::io::BufWriter::with_capacity(64 * 1024, stderr.lock());
        let mut next = Some(first);
        // Write everything already queued, then flush once.
        while let Some(cmd) = next.take().or_else(|| rx.try_recv().ok()) {
            match cmd {
                Command::Line {
                    function,
                    request_id,
                    time,
                    line,
                } => {
                    let _ = writeln!(err, "[{function}] {line}");
                    if let Some(file) = file_for(&mut files, &dir, &function) {
                        let _ = record::write(file, time, request_id.as_deref(), &line);
                    }
                }
                Command::Flush(done) => waiting.push(done),
            }
        }
        let _ = err.flush();
        for file in files.values_mut() {
            let _ = file.flush();
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
        // Waking this thread for every line costs more than writing it; a
        // short pause lets lines gather so that one wake-up writes many.
        std::thread::sleep(BATCH_PAUSE);
    }
}

/// How long the writer lets lines gather between batches: short enough that
/// a person watching the log sees no lag.
const BATCH_PAUSE: std::time::Duration = std::time::Duration::from_millis(2);

fn file_for<'a>(
    files: &'a mut HashMap<Arc<str>, std::io::BufWriter<std::fs::File>>,
    dir: &Path,
    function: &Arc<str>,
) -> Option<&'a mut std::io::BufWriter<std::fs::File>> {
    if !files.contains_key(function) {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{function}.log")))
            .map_err(|e| tracing::warn!("cannot open log file for {function}: {e}"))
            .ok()?;
        files.insert(function.clone(), std::io::BufWriter::new(file));
    }
    files.get_mut(function)
}

/// The log of one invocation, kept to its last few KB for Log Tail, and
/// the invocation's request id, which its lines are filed under.
#[derive(Clone)]
pub struct Tail {
    buf: Arc<Mutex<Vec<u8>>>,
    request_id: Arc<str>,
}

impl Tail {
    pub fn new(request_id: &str) -> Tail {
        Tail {
            buf: Arc::default(),
            request_id: Arc::from(request_id),
        }
    }

    pub fn request_id(&self) -> &Arc<str> {
        &self.request_id
    }

    pub fn push(&self, line: &str) {
        let mut buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        // Keep memory bounded for chatty functions; trim in large steps so the
        // copy is rare.
        if buf.len() > 4 * TAIL_BYTES {
            let cut = buf.len() - TAIL_BYTES;
            buf.drain(..cut);
        }
    }

    /// The last [`TAIL_BYTES`] bytes.
    pub fn last_bytes(&self) -> Vec<u8> {
        let buf = self.buf.lock().unwrap_or_else(|p| p.into_inner());
        buf[buf.len().saturating_sub(TAIL_BYTES)..].to_vec()
    }
}

pub fn start_line(request_id: &str) -> String {
    format!("START RequestId: {request_id} Version: $LATEST")
}

pub fn end_line(request_id: &str) -> String {
    format!("END RequestId: {request_id}")
}

/// Figures for one REPORT line.
#[derive(Debug, Clone, Copy)]
pub struct Report {
    pub duration: Duration,
    pub memory_size_mb: u64,
    pub max_memory_used_mb: u64,
    /// Present on the first invocation of a sandbox only.
    pub init_duration: Option<Duration>,
}

impl Report {
    /// Lambda bills whole milliseconds, rounded up, at least one.
    pub fn billed_ms(&self) -> u64 {
        (self.duration.as_micros().div_ceil(1000)).max(1) as u64
    }
}

/// Milliseconds to two decimals, as REPORT writes them (and the Telemetry
/// API's records repeat them).
pub fn report_ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 100_000.0).round() / 100.0
}

pub fn report_line(request_id: &str, r: &Report) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let billed = r.billed_ms();
    let mut line = format!(
        "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {} MB\t",
        ms(r.duration),
        r.memory_size_mb,
        r.max_memory_used_mb,
    );
    if let Some(init) = r.init_duration {
        line.push_str(&format!("Init Duration: {:.2} ms\t", ms(init)));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_has_lambdas_shape() {
        let r = Report {
            duration: Duration::from_micros(1234),
            memory_size_mb: 128,
            max_memory_used_mb: 18,
            init_duration: Some(Duration::from_micros(4560)),
        };
        assert_eq!(
            report_line("id", &r),
            "REPORT RequestId: id\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 18 MB\tInit Duration: 4.56 ms\t"
        );
        let warm = Report {
            init_duration: None,
            ..r
        };
        assert!(report_line("id", &warm).ends_with("Max Memory Used: 18 MB\t"));
    }

    #[test]
    fn tail_keeps_the_last_4kb() {
        let tail = Tail::new("r");
        for i in 0..2000 {
            tail.push(&format!("line {i}"));
        }
        let last = tail.last_bytes();
        assert_eq!(last.len(), TAIL_BYTES);
        assert!(String::from_utf8_lossy(&last).ends_with("line 1999\n"));
    }
}
