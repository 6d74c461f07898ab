//! An external extension written with the official `lambda-extension`
//! crate, as its basic events example is: the crate registers it (under the
//! name of its file in `/opt/extensions`) for INVOKE and SHUTDOWN and loops
//! on `/event/next`. Every event is appended as a JSON line
//! `{"ext", "what": "event", "event"}` to `EXT_RECORD_FILE`, a file the test
//! made; on SHUTDOWN it records `exiting` and exits 0. With `EXT_TELEMETRY`
//! set it also subscribes to the Telemetry API (platform and function
//! records, the crate's defaults), as the crate's telemetry example does,
//! and records each record it receives as `{"what": "telemetry", "time",
//! "type", "record"}`. Without
//! `EXT_RECORD_FILE` it records nothing: the no-op extension of `bench/extensions`.

use std::io::Write;

use lambda_extension::{
    service_fn, Error, Extension, LambdaEvent, LambdaTelemetry, NextEvent, SharedService,
};
use serde_json::{json, Value};

fn name() -> String {
    let argv0 = std::env::args().next().unwrap_or_default();
    argv0.rsplit('/').next().unwrap_or_default().to_string()
}

fn record(what: &str, fields: Value) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let mut line = json!({"ext": name(), "what": what, "t": now});
    if let (Some(line), Value::Object(fields)) = (line.as_object_mut(), fields) {
        line.extend(fields);
    }
    let Ok(path) = std::env::var("EXT_RECORD_FILE") else {
        return;
    };
    // The test made the file; a new one would not be the other sandboxes' to append to.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("the record file exists");
    // One write for the whole line: `writeln!` on a file writes its pieces
    // one by one, and another extension's line could land between them.
    file.write_all(format!("{line}\n").as_bytes())
        .expect("the record file takes a line");
}

async fn on_event(event: LambdaEvent) -> Result<(), Error> {
    match event.next {
        NextEvent::Invoke(e) => record(
            "event",
            json!({"event": {
                "eventType": "INVOKE",
                "requestId": e.request_id,
                "deadlineMs": e.deadline_ms,
                "invokedFunctionArn": e.invoked_function_arn,
                "tracing": {"type": e.tracing.r#type, "value": e.tracing.value},
            }}),
        ),
        NextEvent::Shutdown(e) => {
            record(
                "event",
                json!({"event": {
                    "eventType": "SHUTDOWN",
                    "shutdownReason": e.shutdown_reason,
                    "deadlineMs": e.deadline_ms,
                }}),
            );
            record("exiting", json!({}));
            std::process::exit(0);
        }
    }
    Ok(())
}

async fn on_telemetry(records: Vec<LambdaTelemetry>) -> Result<(), Error> {
    for r in records {
        if let Value::Object(fields) = serde_json::to_value(&r)? {
            record("telemetry", Value::Object(fields));
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let extension = Extension::new().with_events_processor(service_fn(on_event));
    if std::env::var_os("EXT_TELEMETRY").is_some() {
        let telemetry = SharedService::new(service_fn(on_telemetry));
        return extension.with_telemetry_processor(telemetry).run().await;
    }
    extension.run().await
}
