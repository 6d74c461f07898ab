//! What happens in a sandbox that subscribers hear of, and how each API
//! writes it: the Telemetry API's `{"time","type","record"}` with the
//! platform events of its schema reference (`platform.initStart` ...
//! `platform.report`), and the Logs API's older shapes (`platform.start`,
//! `platform.end`, `platform.report`, `platform.runtimeDone` from schema
//! 2021-03-18 on). Metrics Lambda reports as integers (billed duration,
//! memory) are integers here too: the official Rust client refuses floats.

use std::time::SystemTime;

use serde_json::{json, Value};

use super::subscription::Api;

/// One happening, stamped when it happened.
#[derive(Debug, Clone)]
pub struct Stamped {
    pub time: SystemTime,
    pub event: Event,
}

#[derive(Debug, Clone)]
pub enum Event {
    /// A line the function printed; `json` when its log format is JSON and
    /// the line is an object (then the record is that object).
    Function {
        line: String,
        json: bool,
    },
    /// A line an extension printed.
    ExtensionLog {
        line: String,
    },
    InitStart {
        init_type: &'static str,
        function_name: String,
        memory_mb: u64,
    },
    InitRuntimeDone {
        init_type: &'static str,
        error_type: Option<String>,
    },
    InitReport {
        init_type: &'static str,
        duration_ms: f64,
        error_type: Option<String>,
    },
    Extension {
        name: String,
        events: Vec<&'static str>,
    },
    Start {
        request_id: String,
        trace: String,
    },
    RuntimeDone {
        request_id: String,
        error_type: Option<String>,
        timed_out: bool,
        duration_ms: f64,
    },
    Report(Report),
    Subscription {
        name: String,
        types: Vec<&'static str>,
    },
    LogsDropped {
        records: u64,
        bytes: u64,
        reason: String,
    },
}

#[derive(Debug, Clone)]
pub struct Report {
    pub request_id: String,
    pub error_type: Option<String>,
    pub timed_out: bool,
    pub duration_ms: f64,
    pub billed_ms: u64,
    pub memory_mb: u64,
    pub max_memory_used_mb: u64,
    pub init_ms: Option<f64>,
}

/// Which stream an event belongs to, for a subscription's `types`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Platform,
    Function,
    Extension,
}

impl Event {
    /// About how many bytes it takes, to bound what is kept of it.
    pub fn size(&self) -> usize {
        const RECORD: usize = 256;
        match self {
            Event::Function { line, .. } | Event::ExtensionLog { line } => RECORD + line.len(),
            _ => RECORD,
        }
    }

    pub fn stream(&self) -> Stream {
        match self {
            Event::Function { .. } => Stream::Function,
            Event::ExtensionLog { .. } => Stream::Extension,
            _ => Stream::Platform,
        }
    }
}

/// `success`, `timeout`, `failure` (a platform error) or `error`, as
/// Lambda's emulator maps an invocation's end.
fn status(error_type: &Option<String>, timed_out: bool) -> &'static str {
    match error_type {
        _ if timed_out => "timeout",
        None => "success",
        Some(t) if t.starts_with("Sandbox.") => "failure",
        Some(_) => "error",
    }
}

fn with_error(mut record: Value, error_type: &Option<String>) -> Value {
    if let Some(t) = error_type {
        record["errorType"] = json!(t);
    }
    record
}

impl Stamped {
    /// The records `api` (at `schema`) sends for this event; none where
    /// that API has no such record.
    pub fn render(&self, api: Api, schema: &str) -> Vec<Value> {
        let time = crate::clock::iso8601(self.time);
        let one =
            |kind: &str, record: Value| vec![json!({"time": time, "type": kind, "record": record})];
        match (api, &self.event) {
            (api, Event::Function { line, json }) => {
                // The Logs API's records are always text.
                let record = (*json && api == Api::Telemetry)
                    .then(|| serde_json::from_str::<Value>(line).ok())
                    .flatten()
                    .filter(Value::is_object)
                    .unwrap_or_else(|| json!(line));
                one("function", record)
            }
            (_, Event::ExtensionLog { line }) => one("extension", json!(line)),
            (_, Event::Extension { name, events }) => one(
                "platform.extension",
                json!({"name": name, "state": "Ready", "events": events}),
            ),
            (
                _,
                Event::LogsDropped {
                    records,
                    bytes,
                    reason,
                },
            ) => one(
                "platform.logsDropped",
                json!({"reason": reason, "droppedRecords": records, "droppedBytes": bytes}),
            ),
            (Api::Telemetry, event) => {
                telemetry_record(event).map_or_else(Vec::new, |(k, r)| one(k, r))
            }
            (Api::Logs, event) => logs_records(event, schema, &time),
        }
    }
}

fn telemetry_record(event: &Event) -> Option<(&'static str, Value)> {
    Some(match event {
        Event::InitStart { .. } | Event::InitRuntimeDone { .. } | Event::InitReport { .. } => {
            return init_record(event)
        }
        Event::Start { request_id, trace } => (
            "platform.start",
            json!({"requestId": request_id, "version": "$LATEST",
                   "tracing": {"type": "X-Amzn-Trace-Id", "value": trace}}),
        ),
        Event::RuntimeDone {
            request_id,
            error_type,
            timed_out,
            duration_ms,
        } => (
            "platform.runtimeDone",
            with_error(
                json!({"requestId": request_id, "status": status(error_type, *timed_out),
                       "metrics": {"durationMs": duration_ms, "producedBytes": 0}}),
                error_type,
            ),
        ),
        Event::Report(r) => (
            "platform.report",
            with_error(
                json!({"requestId": r.request_id, "status": status(&r.error_type, r.timed_out),
                       "metrics": report_metrics(r)}),
                &r.error_type,
            ),
        ),
        Event::Subscription { name, types } => (
            "platform.telemetrySubscription",
            json!({"name": name, "state": "Subscribed", "types": types}),
        ),
        Event::Function { .. }
        | Event::ExtensionLog { .. }
        | Event::Extension { .. }
        | Event::LogsDropped { .. } => return None,
    })
}

/// The Telemetry API's records of init.
fn init_record(event: &Event) -> Option<(&'static str, Value)> {
    let outcome = |error_type: &Option<String>| {
        if error_type.is_some() {
            "error"
        } else {
            "success"
        }
    };
    Some(match event {
        Event::InitStart {
            init_type,
            function_name,
            memory_mb,
        } => (
            "platform.initStart",
            json!({
                "initializationType": init_type, "phase": "init",
                "functionName": function_name, "functionVersion": "$LATEST",
                "instanceMaxMemory": memory_mb * 1024 * 1024,
            }),
        ),
        Event::InitRuntimeDone {
            init_type,
            error_type,
        } => (
            "platform.initRuntimeDone",
            with_error(
                json!({"initializationType": init_type, "phase": "init", "status": outcome(error_type)}),
                error_type,
            ),
        ),
        Event::InitReport {
            init_type,
            duration_ms,
            error_type,
        } => (
            "platform.initReport",
            with_error(
                json!({"initializationType": init_type, "phase": "init", "status": outcome(error_type),
                       "metrics": {"durationMs": duration_ms}}),
                error_type,
            ),
        ),
        _ => return None,
    })
}

fn report_metrics(r: &Report) -> Value {
    let mut metrics = json!({
        "durationMs": r.duration_ms,
        "billedDurationMs": r.billed_ms,
        "memorySizeMB": r.memory_mb,
        "maxMemoryUsedMB": r.max_memory_used_mb,
    });
    if let Some(init) = r.init_ms {
        metrics["initDurationMs"] = json!(init);
    }
    metrics
}

fn logs_records(event: &Event, schema: &str, time: &str) -> Vec<Value> {
    let record = |kind: &str, record: Value| json!({"time": time, "type": kind, "record": record});
    match event {
        Event::Start { request_id, .. } => {
            vec![record("platform.start", json!({"requestId": request_id}))]
        }
        // The runtime's end is a Logs API record only from schema 2021-03-18 on.
        Event::RuntimeDone {
            request_id,
            error_type,
            timed_out,
            ..
        } if schema != "2020-08-15" => vec![record(
            "platform.runtimeDone",
            json!({"requestId": request_id, "status": status(error_type, *timed_out)}),
        )],
        Event::Report(r) => vec![
            record("platform.end", json!({"requestId": r.request_id})),
            record(
                "platform.report",
                json!({"requestId": r.request_id, "metrics": report_metrics(r)}),
            ),
        ],
        Event::Subscription { name, types } => vec![record(
            "platform.logsSubscription",
            json!({"name": name, "state": "Subscribed", "types": types}),
        )],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(event: Event) -> Stamped {
        Stamped {
            time: SystemTime::UNIX_EPOCH,
            event,
        }
    }

    fn report() -> Report {
        Report {
            request_id: "r".into(),
            error_type: None,
            timed_out: false,
            duration_ms: 1.5,
            billed_ms: 2,
            memory_mb: 128,
            max_memory_used_mb: 20,
            init_ms: Some(3.25),
        }
    }

    #[test]
    fn a_report_is_one_telemetry_record_and_two_logs_records() {
        let t = at(Event::Report(report())).render(Api::Telemetry, "2022-12-13");
        assert_eq!(t.len(), 1);
        assert_eq!(t[0]["time"], "1970-01-01T00:00:00.000Z");
        assert_eq!(t[0]["type"], "platform.report");
        assert_eq!(t[0]["record"]["status"], "success");
        assert!(t[0]["record"]["metrics"]["billedDurationMs"].is_u64());
        assert_eq!(t[0]["record"]["metrics"]["initDurationMs"], 3.25);
        let l = at(Event::Report(report())).render(Api::Logs, "2021-03-18");
        let kinds: Vec<_> = l.iter().map(|r| r["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["platform.end", "platform.report"]);
    }

    #[test]
    fn statuses_follow_the_error_type() {
        let done = |error_type: Option<&str>, timed_out| {
            at(Event::RuntimeDone {
                request_id: "r".into(),
                error_type: error_type.map(str::to_string),
                timed_out,
                duration_ms: 1.0,
            })
            .render(Api::Telemetry, "2022-12-13")[0]["record"]["status"]
                .clone()
        };
        assert_eq!(done(None, false), "success");
        assert_eq!(done(Some("Runtime.ExitError"), false), "error");
        assert_eq!(done(Some("Sandbox.Timedout"), true), "timeout");
        let old = at(Event::RuntimeDone {
            request_id: "r".into(),
            error_type: None,
            timed_out: false,
            duration_ms: 1.0,
        });
        assert!(old.render(Api::Logs, "2020-08-15").is_empty());
    }

    #[test]
    fn a_json_log_line_is_an_object_only_in_json_format() {
        let line = r#"{"level":"INFO","message":"hi"}"#.to_string();
        let text = at(Event::Function {
            line: line.clone(),
            json: false,
        })
        .render(Api::Telemetry, "2022-12-13");
        assert_eq!(text[0]["record"], json!(line));
        let object = at(Event::Function { line, json: true }).render(Api::Telemetry, "2022-12-13");
        assert_eq!(object[0]["record"]["message"], "hi");
    }
}
