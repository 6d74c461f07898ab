//! The same binary as a plain HTTP server: with no `AWS_LAMBDA_RUNTIME_API`
//! and `PORT` set (Cloud Run, Knative, Azure Functions custom handlers), the
//! service is served on `0.0.0.0:PORT` by hyper.
//!
//! Owns that server: init (the same build and prewarm tasks as under Lambda),
//! one current-thread tokio runtime, a task per connection (no `Send`
//! needed), and the extensions a handler would get under Lambda: a
//! [`RequestContext`] with source [`Source::Direct`] and the peer's address,
//! and a [`Context`] with a fresh request id and no deadline.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use http::Request;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::extensions::{RequestContext, Source};
use super::request::Body;
use super::service::HttpService;
use crate::context::{Context, FunctionInfo, Invocation};
use crate::error::{BoxError, Error};
use crate::function::Build;
use crate::init::{run_prewarm, Init};
use crate::logging;
use crate::runtime_env::RuntimeEnv;
use crate::startup_trace::StartupTrace;

/// The port to serve on when this process is not under a Lambda runtime.
pub(crate) fn requested() -> Option<String> {
    let lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some_and(|v| !v.is_empty());
    (!lambda).then(|| std::env::var("PORT").ok()).flatten()
}

pub(crate) fn serve<S: HttpService>(build: Build<S>, port: &str) -> ! {
    let env = RuntimeEnv::from_process();
    logging::install(env.log);
    let fail = |message: String| -> ! {
        logging::write(tracing::Level::ERROR, &message, &[]);
        std::process::exit(1)
    };
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
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let service = service.clone();
            let function = Arc::clone(&function);
            tokio::task::spawn_local(async move {
                let handle = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let service = service.clone();
                    let function = Arc::clone(&function);
                    async move {
                        let request = direct_request(request, peer, function).await?;
                        service.handle(request).await
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

/// A request read off the connection, with the extensions a handler expects.
async fn direct_request(
    request: Request<Incoming>,
    peer: SocketAddr,
    function: Arc<FunctionInfo>,
) -> Result<Request<Body>, BoxError> {
    let (parts, body) = request.into_parts();
    let bytes = body.collect().await?.to_bytes();
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
    Ok(request)
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
