//! Sending one subscriber its records: batched as its `buffering` says (a
//! batch goes when it holds `maxItems` records or `maxBytes` bytes, or
//! `timeoutMs` after its first record), to its destination inside the
//! sandbox — a JSON array POSTed over a kept-alive HTTP connection, or
//! one JSON line per record over TCP.
//!
//! A destination that refuses (not listening yet: extensions often
//! subscribe before their listener is bound) or fails is tried again with a
//! growing pause; a batch that still cannot be sent, and records that
//! arrive while the queue is full, are dropped and counted, and the next
//! batch begins with a `platform.logsDropped` record saying so.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::events::{Event, Stamped};
use super::subscription::{Destination, Subscription};

/// Opens a connection to a port on the sandbox's loopback.
pub type Connect = Arc<
    dyn Fn(u16) -> Pin<Box<dyn Future<Output = std::io::Result<TcpStream>> + Send>> + Send + Sync,
>;

/// Attempts at one batch, and the first pause between them (it doubles).
const ATTEMPTS: u32 = 8;
const FIRST_PAUSE: Duration = Duration::from_millis(20);
/// Batches a slow subscriber may have waiting (in records, and in
/// `maxBytes`) before records are dropped.
const QUEUED_BATCHES: usize = 4;
/// How long one attempt at a batch may take, connection included: a
/// listener that accepts and never reads must not hold the queue for ever.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(2);

/// The host's end of one subscriber's queue.
pub struct Feed {
    tx: mpsc::Sender<Vec<u8>>,
    dropped: Arc<Dropped>,
    control: Arc<Control>,
    max_queued_bytes: usize,
}

/// Asking a feed to send what it holds now, and learning when it has.
#[derive(Default)]
struct Control {
    flush: tokio::sync::Notify,
    /// How many records were queued, and how many have been dealt with
    /// (sent or dropped): equal when the feed holds nothing.
    queued: AtomicU64,
    /// Bytes queued and not yet taken into a batch.
    queued_bytes: std::sync::atomic::AtomicUsize,
    done: tokio::sync::watch::Sender<u64>,
}

#[derive(Default)]
struct Dropped {
    records: AtomicU64,
    bytes: AtomicU64,
}

impl Feed {
    /// Starts delivering to `subscription`'s destination.
    pub fn start(subscription: Subscription, connect: Connect) -> Feed {
        let (tx, rx) = mpsc::channel(subscription.buffering.max_items * QUEUED_BATCHES);
        let max_queued_bytes = subscription.buffering.max_bytes * QUEUED_BATCHES;
        let dropped = Arc::new(Dropped::default());
        let control = Arc::new(Control::default());
        let sender = Sender {
            subscription,
            connect,
            http: None,
            tcp: None,
        };
        tokio::spawn(run(rx, sender, dropped.clone(), control.clone()));
        Feed {
            tx,
            dropped,
            control,
            max_queued_bytes,
        }
    }

    /// Queues one record (serialized JSON); a full queue drops it.
    pub fn push(&self, record: Vec<u8>) {
        let len = record.len() as u64;
        let room = self.control.queued_bytes.load(Ordering::Acquire) + record.len()
            <= self.max_queued_bytes;
        if room && self.tx.try_send(record).is_ok() {
            self.control.queued.fetch_add(1, Ordering::AcqRel);
            self.control
                .queued_bytes
                .fetch_add(len as usize, Ordering::AcqRel);
        } else {
            self.dropped.records.fetch_add(1, Ordering::Relaxed);
            self.dropped.bytes.fetch_add(len, Ordering::Relaxed);
        }
    }

    /// Sends what the feed holds without waiting for its batch to fill,
    /// and returns once it has been sent (or given up).
    pub async fn flush(&self) {
        let queued = self.control.queued.load(Ordering::Acquire);
        self.control.flush.notify_one();
        let mut done = self.control.done.subscribe();
        let _ = done.wait_for(|n| *n >= queued).await;
    }
}

async fn run(
    mut rx: mpsc::Receiver<Vec<u8>>,
    mut sender: Sender,
    dropped: Arc<Dropped>,
    control: Arc<Control>,
) {
    let limits = sender.subscription.buffering;
    while let Some(first) = rx.recv().await {
        let mut taken = 1;
        let mut batch = Vec::new();
        if let Some(note) = dropped_note(&dropped, &sender.subscription) {
            batch.push(note);
        }
        let mut bytes = first.len();
        batch.push(first);
        let mut taken_bytes = bytes;
        let deadline = tokio::time::Instant::now() + Duration::from_millis(limits.timeout_ms);
        while batch.len() < limits.max_items && bytes < limits.max_bytes {
            tokio::select! {
                more = rx.recv() => match more {
                    Some(record) => {
                        bytes += record.len();
                        taken_bytes += record.len();
                        batch.push(record);
                        taken += 1;
                    }
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => break,
                () = control.flush.notified() => {
                    while let Ok(record) = rx.try_recv() {
                        bytes += record.len();
                        taken_bytes += record.len();
                        batch.push(record);
                        taken += 1;
                    }
                    break;
                }
            }
        }
        control
            .queued_bytes
            .fetch_sub(taken_bytes, Ordering::AcqRel);
        if !sender.send_with_retries(&batch).await {
            dropped
                .records
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            dropped.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
        }
        control.done.send_modify(|n| *n += taken);
    }
}

/// The `platform.logsDropped` record for what was dropped since the last
/// one, if anything was.
fn dropped_note(dropped: &Dropped, subscription: &Subscription) -> Option<Vec<u8>> {
    let records = dropped.records.swap(0, Ordering::Relaxed);
    let bytes = dropped.bytes.swap(0, Ordering::Relaxed);
    if records == 0 {
        return None;
    }
    let event = Stamped {
        time: SystemTime::now(),
        event: Event::LogsDropped {
            records,
            bytes,
            reason: "Some logs were dropped because the downstream consumer is slower than the logs production rate".into(),
        },
    };
    let record = event.render(subscription.api, &subscription.schema).pop()?;
    serde_json::to_vec(&record).ok()
}

struct Sender {
    subscription: Subscription,
    connect: Connect,
    http: Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>>,
    tcp: Option<TcpStream>,
}

impl Sender {
    async fn send_with_retries(&mut self, batch: &[Vec<u8>]) -> bool {
        let mut pause = FIRST_PAUSE;
        for _ in 0..ATTEMPTS {
            let attempt = tokio::time::timeout(ATTEMPT_LIMIT, self.send(batch)).await;
            match attempt.unwrap_or_else(|_| Err("the subscriber took too long".into())) {
                Ok(()) => return true,
                Err(e) => {
                    tracing::debug!("telemetry delivery failed, trying again: {e}");
                    // A connection that failed is not used again.
                    self.http = None;
                    self.tcp = None;
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                }
            }
        }
        false
    }

    async fn send(&mut self, batch: &[Vec<u8>]) -> Result<(), String> {
        match self.subscription.destination.clone() {
            Destination::Http { port, path } => self.post(port, &path, batch).await,
            Destination::Tcp { port } => self.write_lines(port, batch).await,
        }
    }

    async fn post(&mut self, port: u16, path: &str, batch: &[Vec<u8>]) -> Result<(), String> {
        let mut body = Vec::with_capacity(batch.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
        body.push(b'[');
        for (i, record) in batch.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(record);
        }
        body.push(b']');
        let request = hyper::Request::post(path)
            .header("host", format!("sandbox.localdomain:{port}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let sender = match &mut self.http {
            Some(s) if !s.is_closed() => s,
            _ => self.http.insert(self.http_connect(port).await?),
        };
        sender.ready().await.map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        if response.status().as_u16() >= 400 {
            return Err(format!("the subscriber answered {}", response.status()));
        }
        Ok(())
    }

    async fn http_connect(
        &self,
        port: u16,
    ) -> Result<hyper::client::conn::http1::SendRequest<Full<Bytes>>, String> {
        let stream = (self.connect)(port).await.map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        Ok(sender)
    }

    async fn write_lines(&mut self, port: u16, batch: &[Vec<u8>]) -> Result<(), String> {
        let stream = match &mut self.tcp {
            Some(s) => s,
            None => self
                .tcp
                .insert((self.connect)(port).await.map_err(|e| e.to_string())?),
        };
        let mut lines = Vec::new();
        for record in batch {
            lines.extend_from_slice(record);
            lines.push(b'\n');
        }
        stream.write_all(&lines).await.map_err(|e| e.to_string())
    }
}
