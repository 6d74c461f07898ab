//! A runtime process's stdout and stderr, turned into log lines.
//!
//! The pump reads both pipes and hands each complete line to a callback. It
//! can also be asked to [`OutputPump::drain`]: read whatever the process has
//! already written, right now, so that lines a function printed before it
//! posted its response land in that invocation's log and not the next one's.
//! That is why it reads the raw descriptors instead of going through a
//! buffered reader, whose readiness may lag behind the pipe's content.

use std::os::fd::{AsRawFd, OwnedFd};

use tokio::io::unix::AsyncFd;
use tokio::sync::{mpsc, oneshot};

/// Lambda's limit for one log event; longer lines are split.
const MAX_LINE: usize = 256 * 1024;
const CHUNK: usize = 64 * 1024;

/// Handle to a running pump.
pub struct OutputPump {
    drain_tx: mpsc::Sender<oneshot::Sender<()>>,
}

impl OutputPump {
    /// Starts pumping `stdout` and `stderr` (non-blocking pipe ends) into `on_line`.
    pub fn start(
        stdout: OwnedFd,
        stderr: OwnedFd,
        on_line: impl FnMut(String) + Send + 'static,
    ) -> std::io::Result<OutputPump> {
        let out = register(stdout)?;
        let err = register(stderr)?;
        let (drain_tx, drain_rx) = mpsc::channel(4);
        tokio::spawn(pump(out, err, on_line, drain_rx));
        Ok(OutputPump { drain_tx })
    }

    /// Returns once every byte the process wrote before this call has been
    /// handed on (or the pipes are closed).
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

async fn pump(
    out: AsyncFd<OwnedFd>,
    err: AsyncFd<OwnedFd>,
    mut on_line: impl FnMut(String),
    mut drain_rx: mpsc::Receiver<oneshot::Sender<()>>,
) {
    let mut buf = vec![0u8; CHUNK];
    let mut out_lines = Lines::default();
    let mut err_lines = Lines::default();
    let (mut out_open, mut err_open) = (true, true);
    while out_open || err_open {
        tokio::select! {
            ready = out.readable(), if out_open => {
                if let Ok(mut guard) = ready {
                    out_open = read_now(out.get_ref(), &mut buf, &mut out_lines, &mut on_line);
                    guard.clear_ready();
                }
            }
            ready = err.readable(), if err_open => {
                if let Ok(mut guard) = ready {
                    err_open = read_now(err.get_ref(), &mut buf, &mut err_lines, &mut on_line);
                    guard.clear_ready();
                }
            }
            Some(done) = drain_rx.recv() => {
                if out_open {
                    out_open = read_now(out.get_ref(), &mut buf, &mut out_lines, &mut on_line);
                }
                if err_open {
                    err_open = read_now(err.get_ref(), &mut buf, &mut err_lines, &mut on_line);
                }
                let _ = done.send(());
            }
        }
    }
    out_lines.finish(&mut on_line);
    err_lines.finish(&mut on_line);
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
    lines: &mut Lines,
    on_line: &mut impl FnMut(String),
) -> bool {
    loop {
        // SAFETY: buf is valid for buf.len() bytes and fd is an open descriptor we own.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        match n {
            0 => return false,
            n if n > 0 => lines.feed(&buf[..n as usize], on_line),
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

    #[tokio::test]
    async fn drain_delivers_what_was_already_written() {
        let mut child = tokio::process::Command::new("sh")
            .args(["-c", "echo out; echo err >&2; sleep 5"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap().into_owned_fd().unwrap();
        let err = child.stderr.take().unwrap().into_owned_fd().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let pump = OutputPump::start(out, err, move |l| {
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
        assert_eq!(got, ["err", "out"]);
    }
}
