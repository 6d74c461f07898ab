//! The startup trace: one log line on the cold start with each init phase,
//! including every prewarm task, and never again. Prewarm tasks run
//! concurrently, and state built at init is shared by every invocation.

mod support;

use std::time::Duration;

use support::{eventually, example, Function, RuntimeApiServer};

fn traces(function: &Function) -> Vec<serde_json::Value> {
    function
        .json_lines()
        .into_iter()
        .filter(|l| l["message"] == "startup trace (milliseconds)")
        .collect()
}

#[test]
fn the_cold_start_logs_every_init_phase_once() {
    let server = RuntimeApiServer::start();
    let function = Function::builder(
        example("example-shared-state", "example-shared-state"),
        &server,
    )
    .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
    .spawn();
    let first = server.send(b"{}");
    assert_eq!(
        server.wait(&first).json(),
        serde_json::json!({"invocation": 1, "cached": 1})
    );
    let trace =
        eventually(Duration::from_secs(5), || traces(&function).pop()).expect("a trace line");
    assert_eq!(trace["requestId"], first.as_str());
    assert_eq!(trace["coldStart"], true);
    for phase in [
        "process_start_to_main",
        "runtime_env",
        "config",
        "state",
        "prewarm.pool",
        "prewarm.cache",
        "prewarm",
        "first_next",
        "total",
    ] {
        assert!(trace[phase].is_number(), "{phase} missing from {trace}");
    }
    let ms = |phase: &str| trace[phase].as_f64().unwrap();
    assert!(
        ms("prewarm.pool") >= 30.0 && ms("prewarm.cache") >= 20.0,
        "{trace}"
    );
    // Concurrent: together they take about as long as the longer one, not
    // the sum (which would be at least 20 ms more).
    let sum = ms("prewarm.pool") + ms("prewarm.cache");
    assert!(
        ms("prewarm") < sum,
        "prewarm tasks did not overlap: {trace}"
    );
    assert!(ms("total") >= ms("prewarm"), "{trace}");

    for n in 2..=4 {
        assert_eq!(
            server.invoke(b"{}").json()["invocation"],
            n,
            "state is shared"
        );
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        traces(&function).len(),
        1,
        "the trace is written on the cold start only"
    );
}
