//! The run as one JSON document (`flick bench --json`), for programs.
//! Milliseconds throughout, rounded to the microsecond:
//!
//! ```text
//! {
//!   "schema": "flick-bench/1",
//!   "mode": "embedded" | "endpoint",
//!   "config": "flick.toml" | null,          // the manifest, in embedded mode
//!   "endpoint": "http://127.0.0.1:PORT",
//!   "payload": <the event>,
//!   "requested": {"cold": N, "warm": M},    // per function
//!   "host_memory": {"rss_kb", "peak_rss_kb"} | null,   // embedded mode, at the end
//!   "functions": [                          // NAME, then OTHER with --compare
//!     {
//!       "function": "NAME",
//!       "max_memory_used_mb": 12 | null,    // the largest REPORT Max Memory Used: of
//!                                           // the cold starts, and of one tailed
//!                                           // invocation after the warm ones
//!       "cold": {
//!         "count": N,
//!         "phases": {PHASE: STATS, …},      // total, sandbox, init, invoke,
//!                                           // host_overhead, report_init_duration,
//!                                           // report_duration
//!         "startup_trace": {NAME: STATS, …},  // Flick SDK functions; else {}
//!         "samples": [SAMPLE, …]            // in the order taken
//!       },
//!       "warm": {"count": M, "phases": {…}, "startup_trace": {}, "samples": […]}
//!                                           // phases: total, invoke, host_overhead
//!     }
//!   ],
//!   "compare": null | {"base": "NAME", "other": "OTHER",
//!                      "ratios": {"cold": {PHASE: p50 OTHER / p50 NAME | null, …},
//!                                 "warm": {…}}}
//! }
//! STATS  = {"count", "min", "p50", "p90", "p99", "max"}
//! SAMPLE = {"request_id": "…" | null,
//!           "phases": {PHASE: ms, …},       // those the sample has
//!           "report": {"duration", "init_duration" | null,
//!                      "max_memory_used_mb" | null} | null,   // cold samples
//!           "startup_trace": {NAME: ms, …} | null}
//! ```
//!
//! A phase missing from `phases` was not reported (no log tail, or a host
//! without `Server-Timing`).

use serde_json::{json, Map, Value};

use super::rounded;
use crate::bench::phase::Phase;
use crate::bench::results::{ratios, FunctionResult, Mode, Results, Summary};
use crate::bench::sample::{Kind, Sample};
use crate::bench::stats::Stats;

pub fn document(r: &Results) -> Value {
    let (mode, config) = match &r.mode {
        Mode::Embedded { config } => ("embedded", Some(config)),
        Mode::Endpoint => ("endpoint", None),
    };
    let compare = match &r.functions[..] {
        [base, other] => compare(base, other),
        _ => Value::Null,
    };
    json!({
        "schema": "flick-bench/1",
        "mode": mode,
        "config": config,
        "endpoint": r.endpoint,
        "payload": serde_json::from_str::<Value>(&r.payload).unwrap_or(Value::Null),
        "requested": {"cold": r.cold, "warm": r.warm},
        "host_memory": r.host_memory.map(|m| json!({"rss_kb": m.rss_kb, "peak_rss_kb": m.peak_rss_kb})),
        "functions": r.functions.iter().map(function).collect::<Vec<_>>(),
        "compare": compare,
    })
}

fn function(f: &FunctionResult) -> Value {
    let mut out = Map::new();
    out.insert("function".into(), json!(f.name));
    out.insert("max_memory_used_mb".into(), json!(f.max_memory_used_mb));
    for kind in Kind::ALL {
        out.insert(kind.key().into(), summary(f.summary(kind), f.samples(kind)));
    }
    Value::Object(out)
}

fn summary<'a>(s: &Summary, samples: impl Iterator<Item = &'a Sample>) -> Value {
    let phases: Map<_, _> = s
        .phases
        .iter()
        .map(|(p, st)| (p.key().to_string(), stats(st)))
        .collect();
    let trace: Map<_, _> = s
        .trace
        .iter()
        .map(|(n, st)| (n.clone(), stats(st)))
        .collect();
    json!({
        "count": s.count,
        "phases": phases,
        "startup_trace": trace,
        "samples": samples.map(sample).collect::<Vec<_>>(),
    })
}

pub fn stats(s: &Stats) -> Value {
    json!({
        "count": s.count,
        "min": rounded(s.min),
        "p50": rounded(s.p50),
        "p90": rounded(s.p90),
        "p99": rounded(s.p99),
        "max": rounded(s.max),
    })
}

fn sample(s: &Sample) -> Value {
    let phases: Map<_, _> = Phase::of_kind(s.kind)
        .iter()
        .filter_map(|p| Some((p.key().to_string(), json!(rounded(p.value(s)?)))))
        .collect();
    let report = s.report.map(|r| {
        json!({
            "duration": r.duration,
            "init_duration": r.init_duration,
            "max_memory_used_mb": r.max_memory_used_mb,
        })
    });
    let trace = (!s.trace.is_empty()).then(|| {
        let fields: Map<_, _> = s.trace.iter().map(|(n, v)| (n.clone(), json!(v))).collect();
        fields
    });
    json!({
        "request_id": s.request_id,
        "phases": phases,
        "report": report,
        "startup_trace": trace,
    })
}

fn compare(base: &FunctionResult, other: &FunctionResult) -> Value {
    let mut by_kind = Map::new();
    for kind in Kind::ALL {
        let of_kind: Map<_, _> = ratios(base, other)
            .into_iter()
            .filter(|r| r.kind == kind)
            .map(|r| (r.phase.key().to_string(), json!(r.value())))
            .collect();
        by_kind.insert(kind.key().into(), Value::Object(of_kind));
    }
    json!({"base": base.name, "other": other.name, "ratios": by_kind})
}
