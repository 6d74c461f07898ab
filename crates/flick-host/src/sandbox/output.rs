//! A runtime process's output, turned into log events: stdout and stderr
//! line by line, and the telemetry log pipe (`_LAMBDA_TELEMETRY_LOG_FD`)
//! frame by frame.
//!
//! The runtime clients of Python, Node.js and Java write each log event to
//! the telemetry pipe as one frame: a 4-byte type (`0xA55A` then flags for
//! text or JSON and the level), a 4-byte big-endian length, an 8-byte
//! big-endian timestamp in microseconds, then the message. So a multi-line
//! message (a stack trace) stays one event, as it does on Lambda.
//!
//! The pump hands each event to a callback. It can also be asked to
//! [`OutputPump::drain`]: read whatever the process has already written,
//! right now, and end any partial line, so that what a function printed
//! before its invoke phase ended lands in that invocation's log and not the
//! next one's. That is why it reads the raw descriptors instead of going
//! through a buffered reader, whose readiness may lag behind the pipe's
//! content.

use std::os::fd::{AsRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};

/// Lambda's limit for one log event; longer lines are split.
const MAX_LINE: usize = 256 * 1024;
const CHUNK: usize = 64 * 1024;
/// The first half of every telemetry frame's type.
const FRAME_MAGIC: u16 = 0xA55A;
/// Type, length, timestamp.
const FRAME_HEADER: usize = 16;
/// A frame claiming more is not one (the runtime clients cut messages far shorter).
const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Handle to a running pump.
pub struct OutputPump {
    drain_tx: mpsc::Sender<oneshot::Sender<()>>,
}

impl OutputPump {
    /// Starts pumping `stdout`, `stderr` and the `telemetry` pipe into `on_event`.
    pub fn start(
        stdout: OwnedFd,
        stderr: OwnedFd,
        telemetry: OwnedFd,
        on_event: impl FnMut(String) + Send + 'static,
    ) -> std::io::Result<OutputPump> {
        let sources = [
            Source::new(stdout, Decoder::Lines(Lines::default()))?,
            Source::new(stderr, Decoder::Lines(Lines::default()))?,
            Source::new(telemetry, Decoder::Frames(Frames::default()))?,
        ];
        let (drain_tx, drain_rx) = mpsc::channel(4);
        tokio::spawn(pump(sources, on_event, drain_rx));
        Ok(OutputPump { drain_tx })
    }

    /// Pumps one pipe of plain lines (the extensions' output) into
    /// `on_event` until it closes; no draining, nothing waits on it.
    pub fn lines(
        fd: OwnedFd,
        mut on_event: impl FnMut(String) + Send + 'static,
    ) -> std::io::Result<()> {
        let mut source = Source::new(fd, Decoder::Lines(Lines::default()))?;
        tokio::spawn(async move {
            let mut buf = vec![0u8; CHUNK];
            while source.open {
                match source.fd.readable().await {
                    Ok(mut guard) => {
                        guard.clear_ready();
                        source.read(&mut buf, &mut on_event);
                    }
                    Err(_) => break,
                }
            }
            source.decoder.end_partial(&mut on_event);
        });
        Ok(())
    }

    /// Returns once every byte the process wrote before this call has been
    /// handed on, a partial last line included (or the pipes are closed).
    pub async fn drain(&self) {
        let (tx, rx) = oneshot::channel();
        if self.drain_tx.send(tx).await.is_ok() {
            let _ = rx.await;
        }
    }
}

fn register(fd: OwnedFd) -> std::io::Result<AsyncFd<OwnedFd>> {
    // tokio hands pipe ends over in blocking mode; a blocking read would
    // stall a runtime worker.
    // SAFETY: fcntl on a descriptor we own, with no pointers involved.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    // SAFETY: an OwnedFd is open and keeps referring to the same pipe until
    // the AsyncFd that owns it is dropped.
    unsafe { AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE) }
        .map_err(|e| e.into_parts().1)
}

/// One pipe and how its bytes become events.
struct Source {
    fd: AsyncFd<OwnedFd>,
    decoder: Decoder,
    open: bool,
}

impl Source {
    fn new(fd: OwnedFd, decoder: Decoder) -> std::io::Result<Source> {
        Ok(Source {
            fd: register(fd)?,
            decoder,
            open: true,
        })
    }

    /// Reads what is there; remembers when the pipe reached its end.
    fn read(&mut self, buf: &mut [u8], on_event: &mut impl FnMut(String)) {
        if self.open {
            self.open = read_now(self.fd.get_ref(), buf, &mut self.decoder, on_event);
        }
    }
}

async fn pump(
    mut sources: [Source; 3],
    mut on_event: impl FnMut(String),
    mut drain_rx: mpsc::Receiver<oneshot::Sender<()>>,
) {
    let mut buf = vec![0u8; CHUNK];
    while sources.iter().any(|s| s.open) {
        let [out, err, tel] = &mut sources;
        tokio::select! {
            ready = out.fd.readable(), if out.open => {
                if let Ok(mut guard) = ready {
                    guard.clear_ready();
                    out.read(&mut buf, &mut on_event);
                }
            }
            ready = err.fd.readable(), if err.open => {
                if let Ok(mut guard) = ready {
                    guard.clear_ready();
                    err.read(&mut buf, &mut on_event);
                }
            }
            ready = tel.fd.readable(), if tel.open => {
                if let Ok(mut guard) = ready {
                    guard.clear_ready();
                    tel.read(&mut buf, &mut on_event);
                }
            }
            Some(done) = drain_rx.recv() => {
                for source in sources.iter_mut() {
                    source.read(&mut buf, &mut on_event);
                    source.decoder.end_partial(&mut on_event);
                }
                let _ = done.send(());
            }
        }
    }
    for source in sources.iter_mut() {
        source.decoder.end_partial(&mut on_event);
    }
    // Answer drains that arrive after the process is gone.
    drain_rx.close();
    while let Some(done) = drain_rx.recv().await {
        let _ = done.send(());
    }
}

/// Reads until the pipe would block; false once it reached end of file.
fn read_now(
    fd: &OwnedFd,
    buf: &mut [u8],
    decoder: &mut Decoder,
    on_event: &mut impl FnMut(String),
) -> bool {
    loop {
        // SAFETY: buf is valid for buf.len() bytes and fd is an open descriptor we own.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return false,
            n if n > 0 => decoder.feed(&buf[..n as usize], on_event),
            _ => {
                let e = std::io::Error::last_os_error();
                match e.kind() {
                    std::io::ErrorKind::WouldBlock => return true,
                    std::io::ErrorKind::Interrupted => continue,
                    _ => return false,
                }
            }
        }
    }
}

enum Decoder {
    Lines(Lines),
    Frames(Frames),
}

impl Decoder {
    fn feed(&mut self, bytes: &[u8], on_event: &mut impl FnMut(String)) {
        match self {
            Decoder::Lines(lines) => lines.feed(bytes, on_event),
            Decoder::Frames(frames) => frames.feed(bytes, on_event),
        }
    }

    /// Ends a partial line as it is; a partial frame waits for the rest of
    /// it, which the runtime is writing.
    fn end_partial(&mut self, on_event: &mut impl FnMut(String)) {
        match self {
            Decoder::Lines(lines) => lines.finish(on_event),
            Decoder::Frames(frames) => frames.finish_garbled(on_event),
        }
    }
}

/// Splits a byte stream into lines.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    fn feed(&mut self, mut bytes: &[u8], on_line: &mut impl FnMut(String)) {
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&bytes[..pos]);
            self.emit(on_line);
            bytes = &bytes[pos + 1..];
        }
        self.partial.extend_from_slice(bytes);
        while self.partial.len() >= MAX_LINE {
            let rest = self.partial.split_off(MAX_LINE);
            self.emit(on_line);
            self.partial = rest;
        }
    }

    fn finish(&mut self, on_line: &mut impl FnMut(String)) {
        if !self.partial.is_empty() {
            self.emit(on_line);
        }
    }

    fn emit(&mut self, on_line: &mut impl FnMut(String)) {
        if self.partial.last() == Some(&b'\r') {
            self.partial.pop();
        }
        on_line(String::from_utf8_lossy(&self.partial).into_owned());
        self.partial.clear();
    }
}

/// Splits the telemetry pipe into framed log events. Should the bytes stop
/// looking like frames, the rest of the pipe is read as lines, so that no
/// output is lost to a runtime that writes there by mistake.
#[derive(Default)]
struct Frames {
    pending: Vec<u8>,
    garbled: Option<Lines>,
}

impl Frames {
    fn feed(&mut self, bytes: &[u8], on_event: &mut impl FnMut(String)) {
        if let Some(lines) = &mut self.garbled {
            return lines.feed(bytes, on_event);
        }
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        while let Some(header) = self.pending.get(at..at + FRAME_HEADER) {
            let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
            if u16::from_be_bytes([header[0], header[1]]) != FRAME_MAGIC || len > MAX_FRAME {
                let rest = self.pending.split_off(at);
                let mut lines = Lines::default();
                lines.feed(&rest, on_event);
                self.garbled = Some(lines);
                self.pending.clear();
                return;
            }
            let Some(message) = self.pending.get(at + FRAME_HEADER..at + FRAME_HEADER + len) else {
                break;
            };
            emit_event(message, on_event);
            at += FRAME_HEADER + len;
        }
        self.pending.drain(..at);
    }

    fn finish_garbled(&mut self, on_event: &mut impl FnMut(String)) {
        if let Some(lines) = &mut self.garbled {
            lines.finish(on_event);
        }
    }
}

/// One framed message as one event (or several, past Lambda's event size),
/// without the trailing newline a client may have left on it.
fn emit_event(message: &[u8], on_event: &mut impl FnMut(String)) {
    let message = message.strip_suffix(b"\n").unwrap_or(message);
    for piece in message.chunks(MAX_LINE) {
        on_event(String::from_utf8_lossy(piece).into_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_across_chunks() {
        let mut got = Vec::new();
        let mut lines = Lines::default();
        let mut push = |l: String| got.push(l);
        lines.feed(b"one\r\ntw", &mut push);
        lines.feed(b"o\nthree", &mut push);
        lines.finish(&mut push);
        assert_eq!(got, ["one", "two", "three"]);
    }

    fn frame(kind: u32, message: &str) -> Vec<u8> {
        let mut f = kind.to_be_bytes().to_vec();
        f.extend_from_slice(&(message.len() as u32).to_be_bytes());
        f.extend_from_slice(&1_700_000_000_000_000u64.to_be_bytes());
        f.extend_from_slice(message.as_bytes());
        f
    }

    #[test]
    fn frames_are_events_whole_across_reads() {
        let mut got = Vec::new();
        let mut frames = Frames::default();
        let mut bytes = frame(0xA55A_0017, "Traceback:\n  line 1\n  line 2\n");
        bytes.extend(frame(0xA55A_0003, "x"));
        let (a, b) = bytes.split_at(21);
        frames.feed(a, &mut |e| got.push(e));
        assert!(got.is_empty(), "half a frame is no event yet");
        frames.feed(b, &mut |e| got.push(e));
        assert_eq!(got, ["Traceback:\n  line 1\n  line 2", "x"]);
    }

    #[test]
    fn bytes_that_are_not_frames_become_lines() {
        let mut got = Vec::new();
        let mut frames = Frames::default();
        let mut bytes = frame(0xA55A_0003, "framed");
        bytes.extend_from_slice(b"plain text written here\nand more");
        frames.feed(&bytes, &mut |e| got.push(e));
        frames.finish_garbled(&mut |e| got.push(e));
        assert_eq!(got, ["framed", "plain text written here", "and more"]);
    }

    #[tokio::test]
    async fn drain_delivers_what_was_already_written() {
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", "echo out; printf partial >&2; sleep 5"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap().into_owned_fd().unwrap();
        let err = child.stderr.take().unwrap().into_owned_fd().unwrap();
        let (telemetry, _writer) = std::io::pipe().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let pump = OutputPump::start(out, err, telemetry.into(), move |l| {
            let _ = tx.send(l);
        })
        .unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            pump.drain().await;
            while let Ok(l) = rx.try_recv() {
                got.push(l);
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        got.sort();
        assert_eq!(got, ["out", "partial"], "a drain ends a partial line");
    }
}
