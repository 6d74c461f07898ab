//! Reads an invocation's decoded log tail (`X-Amz-Log-Result`): the REPORT
//! line the host writes for every invocation (Duration, Init Duration on a
//! cold start, Max Memory Used), and the startup trace that functions built
//! with Flick's SDK log on their cold start (`crates/flick/src/startup_trace.rs`).
//!
//! Owns the two lines' syntax only. The trace comes in either of Lambda's
//! log formats: JSON (`{"message":"startup trace (milliseconds)",
//! "runtime_env":0.111,…}`) or text (`…\tINFO\tstartup trace (milliseconds)
//! runtime_env=0.111 … coldStart=true`); its numeric fields are the phases.

/// The numbers of a REPORT line, in milliseconds and megabytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportLine {
    pub duration: f64,
    pub init_duration: Option<f64>,
    pub max_memory_used_mb: Option<u64>,
}

/// The startup trace's message, which marks its line.
const TRACE_MESSAGE: &str = "startup trace (milliseconds)";

/// The last REPORT line of the tail, if it has one with a Duration.
pub fn report(tail: &str) -> Option<ReportLine> {
    let line = tail.lines().rev().find(|l| l.starts_with("REPORT "))?;
    let field = |name: &str| {
        line.split('\t')
            .filter_map(|f| f.trim().split_once(": "))
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.split_whitespace().next())
    };
    Some(ReportLine {
        duration: field("Duration")?.parse().ok()?,
        init_duration: field("Init Duration").and_then(|v| v.parse().ok()),
        max_memory_used_mb: field("Max Memory Used").and_then(|v| v.parse().ok()),
    })
}

/// The phases of the SDK's startup trace in the tail (empty if none), in
/// the order the SDK runs them, whichever log format carried them.
pub fn startup_trace(tail: &str) -> Vec<(String, f64)> {
    let Some(line) = tail.lines().find(|l| l.contains(TRACE_MESSAGE)) else {
        return Vec::new();
    };
    let mut phases = match line.find('{') {
        Some(at) => json_fields(&line[at..]),
        None => text_fields(line),
    };
    phases.sort_by_key(|(name, _)| rank(name));
    phases
}

fn json_fields(json: &str) -> Vec<(String, f64)> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(json) else {
        return Vec::new();
    };
    fields
        .into_iter()
        .filter_map(|(key, value)| Some((key, value.as_f64()?)))
        .collect()
}

fn text_fields(line: &str) -> Vec<(String, f64)> {
    let after = line.split_once(TRACE_MESSAGE).map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(key, value)| Some((key.to_string(), value.parse().ok()?)))
        .collect()
}

/// Where a phase comes in the SDK's init; phases the SDK may add later go
/// before `total`.
fn rank(name: &str) -> u8 {
    match name {
        "process_start_to_main" => 0,
        "runtime_env" => 1,
        "config" => 2,
        "state" => 3,
        n if n.starts_with("prewarm.") => 4,
        "prewarm" => 5,
        "first_next" => 6,
        "total" => 8,
        _ => 7,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";

    #[test]
    fn cold_report_has_init_duration() {
        let tail = format!(
            "START RequestId: {ID} Version: $LATEST\nhello\nEND RequestId: {ID}\n\
             REPORT RequestId: {ID}\tDuration: 1.23 ms\tBilled Duration: 2 ms\t\
             Memory Size: 128 MB\tMax Memory Used: 12 MB\tInit Duration: 3.45 ms\t\n"
        );
        let r = report(&tail).unwrap();
        assert_eq!(r.duration, 1.23);
        assert_eq!(r.init_duration, Some(3.45));
        assert_eq!(r.max_memory_used_mb, Some(12));
    }

    #[test]
    fn warm_report_has_none_and_no_report_is_none() {
        let tail = format!(
            "REPORT RequestId: {ID}\tDuration: 0.50 ms\tBilled Duration: 1 ms\t\
             Memory Size: 128 MB\tMax Memory Used: 9 MB\t"
        );
        let r = report(&tail).unwrap();
        assert_eq!((r.duration, r.init_duration), (0.5, None));
        assert_eq!(report("START RequestId: x\nsome output\n"), None);
    }

    #[test]
    fn json_trace_in_the_sdk_order() {
        let tail = r#"{"timestamp":"2026-01-01T00:00:00.000Z","level":"INFO","requestId":"r","coldStart":true,"message":"startup trace (milliseconds)","total":31.4,"process_start_to_main":0.910,"runtime_env":0.111,"config":0.004,"state":0.010,"prewarm.pool":30.2,"prewarm":30.3,"first_next":0.007}"#;
        let names: Vec<_> = startup_trace(tail).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "process_start_to_main",
                "runtime_env",
                "config",
                "state",
                "prewarm.pool",
                "prewarm",
                "first_next",
                "total"
            ]
        );
        assert!(startup_trace(tail).contains(&("total".to_string(), 31.4)));
    }

    #[test]
    fn text_trace_skips_the_cold_start_flag() {
        let tail = format!(
            "START RequestId: {ID} Version: $LATEST\n\
             2026-01-01T00:00:00.000Z\t{ID}\tINFO\tstartup trace (milliseconds) \
             process_start_to_main=0.910 runtime_env=0.111 first_next=0.007 total=1.028 coldStart=true\n"
        );
        assert_eq!(
            startup_trace(&tail),
            [
                ("process_start_to_main".to_string(), 0.91),
                ("runtime_env".to_string(), 0.111),
                ("first_next".to_string(), 0.007),
                ("total".to_string(), 1.028),
            ]
        );
    }

    #[test]
    fn no_trace_is_empty() {
        assert!(startup_trace("INFO something else total=3\n").is_empty());
    }
}
