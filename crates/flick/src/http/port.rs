//! The same binary as a plain HTTP server: with no `AWS_LAMBDA_RUNTIME_API`
//! and `PORT` set (Cloud Run, Knative, Azure Functions custom handlers), the
//! service is served on `0.0.0.0:PORT` by hyper.
//!
//! Owns that server: init (the same build and prewarm tasks as under Lambda),
//! one current-thread tokio runtime, a task per connection (no `Send`
//! needed), and the extensions a handler would get under Lambda: a
//! [`RequestContext`] with source [`Source::Direct`] and the peer's address,
//! and a [`Context`] with a fresh request id and no deadline. As under
//! Lambda, SIGTERM runs the `on_shutdown` hook (container platforms send it
//! before they stop an instance), a request body is held to Lambda's 6 MB
//! (413 beyond), and a failing `accept` (out of descriptors) pauses instead
//! of spinning.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;

use super::extensions::{RequestContext, Source};
use super::request::Body;
use super::service::HttpService;
use crate::context::{Context, FunctionInfo, Invocation};
use crate::error::{BoxError, Error};
use crate::function::{Build, ShutdownHook};
use crate::init::{run_prewarm, Init};
use crate::logging;
use crate::runtime_env::RuntimeEnv;
use crate::startup_trace::StartupTrace;

/// The port to serve on when this process is not under a Lambda runtime.
pub(crate) fn requested() -> Option<String> {
    let lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some_and(|v| !v.is_empty());
    (!lambda).then(|| std::env::var("PORT").ok()).flatten()
}

/// The largest request body taken, as Lambda takes (6 MB).
const MAX_BODY: usize = 6 * 1024 * 1024;
/// The pause after a failed `accept`, which is mostly out of descriptors:
/// retrying at once would spin a core until one is freed.
const ACCEPT_PAUSE: std::time::Duration = std::time::Duration::from_millis(100);

pub(crate) fn serve<S: HttpService>(
    build: Build<S>,
    on_shutdown: Option<ShutdownHook<S>>,
    port: &str,
) -> ! {
    let env = RuntimeEnv::from_process();
    logging::install(env.log);
    let fail = |message: String| -> ! {
        logging::write(tracing::Level::ERROR, &message, &[]);
        std::process::exit(1)
    };
    // Before any thread starts, so that every thread inherits the mask.
    if on_shutdown.is_some() {
        if let Err(e) = crate::shutdown::block_sigterm() {
            fail(format!("cannot block SIGTERM for the shutdown hook: {e}"));
        }
    }
    let port: u16 = port
        .parse()
        .unwrap_or_else(|_| fail(format!("PORT must be a port number, not `{port}`")));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(format!("cannot start the tokio runtime: {e}")));
    let mut trace = StartupTrace::begin();
    let mut init = Init::new();
    let service = build(&mut init).unwrap_or_else(|e: Error| fail(format!("init failed: {e}")));
    let tasks = init.take_prewarm();
    if !tasks.is_empty() {
        if let Err(e) = runtime.block_on(run_prewarm(tasks, &mut trace)) {
            fail(format!("init failed: {e}"));
        }
    }
    // Lives as long as the process: the shutdown watcher borrows it.
    let service: &'static S = Box::leak(Box::new(service));
    if let Some(hook) = on_shutdown {
        let started = crate::threads::spawn(move || {
            crate::shutdown::wait_for_sigterm();
            hook(service);
            std::process::exit(0)
        });
        if let Err(e) = started {
            fail(format!("cannot start the shutdown watcher: {e}"));
        }
    }
    let function = Arc::new(FunctionInfo {
        name: std::env::var("K_SERVICE").unwrap_or_else(|_| "local".into()),
        version: "$LATEST".into(),
        ..env.function
    });
    let local = tokio::task::LocalSet::new();
    let served: Result<(), String> = local.block_on(&runtime, async move {
        let addr = SocketAddr::from(([0, 0, 0, 0], port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        logging::write(tracing::Level::INFO, &"serving HTTP", &[("port", &port)]);
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    logging::write(
                        tracing::Level::WARN,
                        &"cannot accept a connection",
                        &[("error", &e)],
                    );
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let service = service.clone();
            let function = Arc::clone(&function);
            tokio::task::spawn_local(async move {
                let handle = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let service = service.clone();
                    let function = Arc::clone(&function);
                    async move {
                        let Some(request) = direct_request(request, peer, function).await? else {
                            return Ok(too_large());
                        };
                        let response = service.handle(request).await?;
                        Ok::<_, BoxError>(response.map(Either::Left))
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, handle)
                    .await;
            });
        }
    });
    match served {
        Ok(()) => std::process::exit(0),
        Err(message) => fail(message),
    }
}

/// 413, for a body over [`MAX_BODY`].
fn too_large<B>() -> Response<Either<B, Full<bytes::Bytes>>> {
    let mut response = Response::new(Either::Right(Full::new(bytes::Bytes::from_static(
        b"request body over 6 MB",
    ))));
    *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    response
}

/// A request read off the connection, with the extensions a handler
/// expects; None when its body is over [`MAX_BODY`].
async fn direct_request(
    request: Request<Incoming>,
    peer: SocketAddr,
    function: Arc<FunctionInfo>,
) -> Result<Option<Request<Body>>, BoxError> {
    let (parts, body) = request.into_parts();
    let bytes = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut request = Request::from_parts(parts, Body::new(bytes));
    let mut rc = RequestContext::new(Source::Direct);
    rc.source_ip = Some(peer.ip().to_string());
    request.extensions_mut().insert(rc);
    request.extensions_mut().insert(Context {
        invocation: Arc::new(Invocation {
            request_id: next_request_id(),
            ..Invocation::default()
        }),
        function,
    });
    Ok(Some(request))
}

/// A UUID-shaped id, unique within the process: the pid and a counter.
fn next_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        std::process::id(),
        n & 0xffff_ffff_ffff
    )
}
