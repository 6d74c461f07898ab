//! The host's HTTP servers: the public listener (the Lambda API and the
//! gateway) and each sandbox's Runtime API, served by one accept loop with
//! limits a hostile client cannot get around.
//!
//! A listener holds at most `max_connections` connections; one more is
//! answered at once with a 503 and closed, never left to stall. A
//! connection that takes longer than `header_timeout` to send a request's
//! head, or sits idle that long between requests, is closed. An accept that
//! fails (out of descriptors) pauses the loop briefly instead of spinning.
//! [`stall_limit`] does for request bodies what the head timeout does for
//! heads.
//! `admit` may turn a connection away before any byte is read (a sandbox's
//! Runtime API takes its own runtime only); `on_malformed` hears of a
//! connection that ended in a request HTTP could not parse.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tower_service::Service;

/// How long the accept loop rests after a failed accept.
const ACCEPT_PAUSE: Duration = Duration::from_millis(20);
/// What a connection over the limit is told before it is closed.
const TOO_MANY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
x-amzn-errortype: ServiceException\r\n\
connection: close\r\n\
content-length: 82\r\n\r\n\
{\"Type\":\"Service\",\"Message\":\"Too many open connections to this host; retry later\"}";

/// The limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_connections: usize,
    /// Longest wait for a request's head, idle time between requests included.
    pub header_timeout: Option<Duration>,
}

/// Decides, before any byte is read, whether to serve a connection.
pub type Admit = Box<dyn Fn(&TcpStream, SocketAddr) -> bool + Send + Sync>;
/// Hears of a connection that sent what HTTP cannot parse.
pub type OnMalformed = Box<dyn Fn(String) + Send + Sync>;

/// A listener being served; dropping it stops the accept loop.
pub struct Server {
    shutdown: watch::Sender<bool>,
    slots: Arc<Semaphore>,
    max_connections: usize,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Starts serving `app` on `listener`.
    pub fn start(
        listener: TcpListener,
        app: Router,
        limits: Limits,
        admit: Option<Admit>,
        on_malformed: Option<OnMalformed>,
    ) -> Server {
        let (shutdown, stopping) = watch::channel(false);
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        let accepting = Accepting {
            listener,
            app,
            limits,
            admit,
            on_malformed: on_malformed.map(Arc::new),
            slots: slots.clone(),
            stopping,
        };
        Server {
            shutdown,
            slots,
            max_connections: limits.max_connections,
            task: tokio::spawn(accepting.run()),
        }
    }

    /// Stops accepting and asks every connection to close once its
    /// request under way is answered.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Waits up to `wait` for every connection to have closed.
    pub async fn drained(self, wait: Duration) {
        let all = self.slots.acquire_many(self.max_connections as u32);
        let _ = tokio::time::timeout(wait, all).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        self.task.abort();
    }
}

struct Accepting {
    listener: TcpListener,
    app: Router,
    limits: Limits,
    admit: Option<Admit>,
    on_malformed: Option<Arc<OnMalformed>>,
    slots: Arc<Semaphore>,
    stopping: watch::Receiver<bool>,
}

impl Accepting {
    /// Accepts until stopped, then waits for the connections to close. The
    /// connections are this task's: aborting it (dropping the server) ends
    /// them too, even one whose request never ends (a runtime's `/next`).
    async fn run(mut self) {
        let mut connections = tokio::task::JoinSet::new();
        loop {
            while connections.try_join_next().is_some() {}
            let stopping = async { self.stopping.wait_for(|s| *s).await.is_ok() };
            let accepted = tokio::select! {
                _ = stopping => break,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("cannot accept a connection: {e}");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
            };
            if self
                .admit
                .as_ref()
                .is_some_and(|admit| !admit(&stream, peer))
            {
                continue;
            }
            let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                refuse(stream);
                continue;
            };
            no_delay(&stream);
            let connection = Connection {
                app: self.app.clone(),
                peer,
                limits: self.limits,
                on_malformed: self.on_malformed.clone(),
                stopping: self.stopping.clone(),
            };
            connections.spawn(async move {
                connection.serve(stream).await;
                drop(slot);
            });
        }
        while connections.join_next().await.is_some() {}
    }
}

struct Connection {
    app: Router,
    peer: SocketAddr,
    limits: Limits,
    on_malformed: Option<Arc<OnMalformed>>,
    stopping: watch::Receiver<bool>,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream) {
        let (app, peer) = (self.app.clone(), self.peer);
        let service =
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                // The peer address is the gateway events' source IP.
                req.extensions_mut().insert(ConnectInfo(peer));
                let mut app = app.clone();
                async move { app.call(req).await }
            });
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout);
        let conn = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(conn);
        let stopping = async { self.stopping.wait_for(|s| *s).await.is_ok() };
        let ended = tokio::select! {
            ended = conn.as_mut() => ended,
            _ = stopping => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let (Err(e), Some(on_malformed)) = (ended, &self.on_malformed) {
            if e.is_parse() || e.is_parse_status() {
                on_malformed(e.to_string());
            }
        }
    }
}

/// Answers a connection over the limit and closes it: the client learns at
/// once and may retry, instead of waiting on a connection nobody reads.
fn refuse(stream: TcpStream) {
    use std::io::Write;
    // Written through the plain socket: a stream just accepted is not yet
    // known to the reactor as writable. A fresh socket's buffer takes it whole.
    if let Ok(mut socket) = stream.into_std() {
        let _ = socket.write_all(TOO_MANY);
        let _ = socket.shutdown(std::net::Shutdown::Write);
    }
}

/// A request body that sends nothing for `limit` fails, so that a client
/// trickling (or stopping) mid-body cannot hold a request open for ever;
/// the handler sees a body read error, not a large body.
pub async fn stall_limit(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let guarded = StallingBody {
        inner: body,
        limit,
        deadline: Box::pin(tokio::time::sleep(limit)),
    };
    next.run(Request::from_parts(parts, Body::new(guarded)))
        .await
}

struct StallingBody {
    inner: Body,
    limit: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl hyper::body::Body for StallingBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                let next = tokio::time::Instant::now() + this.limit;
                this.deadline.as_mut().reset(next);
                Poll::Ready(frame)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(format!(
                    "the request body sent nothing for {} s",
                    this.limit.as_secs()
                ))))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Every write on the host's connections is a whole message (a response, a
/// streamed chunk): it must leave at once, not wait for the peer's ACK of
/// the one before.
fn no_delay(stream: &TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("cannot set TCP_NODELAY: {e}");
    }
}

/// Raises this process's open-file limit to its hard limit: every sandbox
/// costs the host descriptors (pipes, listener, connections), and a soft
/// limit of 1,024 would let a thousand idle sockets stop every function.
pub fn raise_open_files() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write a valid struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            let before = lim.rlim_cur;
            lim.rlim_cur = lim.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                tracing::debug!(
                    "open files: soft limit raised from {before} to {}",
                    lim.rlim_max
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_whole_http_answer() {
        let text = std::str::from_utf8(TOO_MANY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let declared: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(declared, body.len());
        assert!(serde_json::from_str::<serde_json::Value>(body).is_ok());
    }
}
