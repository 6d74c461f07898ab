//! Traces over OpenTelemetry: every invocation is a span whose parent is the
//! invocation's X-Ray trace header, the `tracing` spans and events of the
//! handler are its children, and all of them are exported over OTLP/HTTP
//! before the function asks for its next event. Feature `opentelemetry`.
//!
//! Nothing to call: enabling the feature installs the OpenTelemetry SDK as
//! `tracing`'s subscriber beside the log lines (through
//! `tracing-opentelemetry`), and the invocation loop opens, ends and flushes
//! the invocation's span.
//!
//! ```no_run
//! #[tracing::instrument(skip_all, fields(order = %order))]
//! async fn reserve(order: &str) {
//!     tracing::info!("reserved"); // an event of the `reserve` span
//! }
//!
//! async fn handle(event: serde_json::Value, _: flick::Context) -> Result<(), flick::Error> {
//!     reserve(event["order"].as_str().unwrap_or_default()).await; // a child span
//!     Ok(())
//! }
//! ```
//!
//! - **Where spans go**: the standard variables of the OTLP exporter,
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT`
//!   (default `http://localhost:4318`, where the ADOT collector extension
//!   listens), `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`
//!   (each connect, read and write; 2 s by default). Binary protobuf over
//!   plain HTTP; the request goes through the SDK's own HTTP client.
//! - **Levels**: spans and events at `INFO` and above are exported, and
//!   below it as far as `AWS_LAMBDA_LOG_LEVEL` goes.
//! - **Parent and sampling**: the invocation's `Lambda-Runtime-Trace-Id`
//!   (`Root=1-…;Parent=…;Sampled=…`) becomes the remote parent, so its trace
//!   id is the X-Ray trace id and the `Sampled` flag decides, as the
//!   default `parentbased_always_on` sampler does; `OTEL_TRACES_SAMPLER`
//!   overrides it. On Lambda, `Sampled=1` comes with active tracing; on
//!   `flick serve`, with `tracing = "Active"` or a caller's sampled
//!   `X-Amzn-Trace-Id`.
//! - **The invocation span** is named after the function, of kind `SERVER`,
//!   with `faas.invocation_id`, `faas.coldstart` and `cloud.resource_id`; a
//!   failed invocation gets status `ERROR` with the error's message and
//!   `error.type`. It covers the handler and sending its answer.
//! - **The resource** says `cloud.provider`, `cloud.platform`,
//!   `cloud.region`, `faas.name`, `faas.version`, `faas.instance` and
//!   `faas.max_memory`; `service.name` is the function's name unless
//!   `OTEL_RESOURCE_ATTRIBUTES` or `OTEL_SERVICE_NAME` says otherwise.
//! - **Flushing**: spans are exported once the answer is sent and before
//!   the next `/next`, because Lambda freezes a sandbox between events. An
//!   export that fails is retried once after 50 ms, then logged as a
//!   warning and its spans dropped; it never fails the invocation.
//! - **Fields**: strings, booleans, `i64` and `f64` fields become typed
//!   attributes; unsigned integers arrive as text (the bridge records them
//!   through `Debug`).

mod transport;

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_aws::trace::XrayPropagator;
use opentelemetry_otlp::{RetryPolicy, SpanExporter, WithHttpConfig};
use opentelemetry_sdk::resource::EnvResourceDetector;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
pub use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::context::{FunctionInfo, Invocation};
use crate::logging::{self, LogSettings};
use crate::Error;

static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The tracer provider the SDK installed, for code that uses the
/// OpenTelemetry API directly; `None` before init.
pub fn provider() -> Option<&'static SdkTracerProvider> {
    PROVIDER.get()
}

/// Installs the exporter, the provider and the `tracing` subscriber; when
/// the exporter cannot be made, only the log lines, and says why.
pub(crate) fn install(settings: LogSettings, function: &FunctionInfo) -> Result<(), String> {
    let exporter = SpanExporter::builder()
        .with_http()
        .with_http_client(transport::Transport::from_env())
        .with_retry_policy(retry_once())
        .build();
    let exporter = match exporter {
        Ok(exporter) => exporter,
        Err(e) => {
            logging::install(settings);
            return Err(format!("cannot set up the OTLP span exporter: {e}"));
        }
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource(function))
        .build();
    let tracer = provider.tracer("flick");
    let _ = PROVIDER.set(provider);
    logging::install_beside(settings, tracing_opentelemetry::layer().with_tracer(tracer));
    Ok(())
}

/// One retry, soon: the export runs before the next event, so the exporter's
/// recommended three retries (up to 1.6 s apart) would lengthen every
/// invocation of a function whose collector is down.
fn retry_once() -> RetryPolicy {
    RetryPolicy::disabled()
        .with_max_retries(1)
        .with_initial_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_millis(50))
}

/// Lambda's facts first; then what the environment says, which wins.
fn resource(function: &FunctionInfo) -> Resource {
    let region = std::env::var("AWS_REGION").unwrap_or_default();
    let mut builder = Resource::builder_empty()
        .with_service_name(function.name.clone())
        .with_attributes([
            KeyValue::new("cloud.provider", "aws"),
            KeyValue::new("cloud.platform", "aws_lambda"),
            KeyValue::new("cloud.region", region),
            KeyValue::new("faas.name", function.name.clone()),
            KeyValue::new("faas.version", function.version.clone()),
            KeyValue::new("faas.instance", function.log_stream.clone()),
            KeyValue::new(
                "faas.max_memory",
                i64::from(function.memory_mb) * 1024 * 1024,
            ),
        ])
        .with_detector(Box::new(EnvResourceDetector::new()));
    if let Some(name) = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|n| !n.is_empty())
    {
        builder = builder.with_service_name(name);
    }
    builder.build()
}

/// The span of the invocation a loop thread serves, entered.
pub(crate) struct InvocationSpan(tracing::span::EnteredSpan);

impl InvocationSpan {
    pub(crate) fn enter(invocation: &Invocation, function: &FunctionInfo) -> InvocationSpan {
        let span = tracing::info_span!(
            "invocation",
            otel.name = %function.name,
            otel.kind = "server",
            faas.invocation_id = %invocation.request_id,
            faas.coldstart = invocation.cold_start,
            cloud.resource_id = %invocation.function_arn,
        );
        if !invocation.trace_id.is_empty() {
            let parent = XrayPropagator::new().extract(&XrayHeader(&invocation.trace_id));
            // Refused only when the span is disabled: nothing to parent then.
            let _ = span.set_parent(parent);
        }
        InvocationSpan(span.entered())
    }

    /// Ends the span with the invocation's outcome and exports what the
    /// invocation recorded.
    pub(crate) fn end(self, failure: Option<&Error>) {
        if let Some(error) = failure {
            self.0.set_status(Status::error(error.to_string()));
            self.0
                .set_attribute("error.type", error.error_type().to_owned());
        }
        drop(self.0.exit());
        flush();
    }
}

fn flush() {
    let Some(provider) = PROVIDER.get() else {
        return;
    };
    if let Err(e) = provider.force_flush() {
        logging::write(
            tracing::Level::WARN,
            &"cannot export spans",
            &[("error", &e)],
        );
    }
}

/// The trace header as the X-Ray propagator reads it.
struct XrayHeader<'a>(&'a str);

impl Extractor for XrayHeader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        key.eq_ignore_ascii_case("x-amzn-trace-id")
            .then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec!["x-amzn-trace-id"]
    }
}
