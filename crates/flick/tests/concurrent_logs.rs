//! Structured logs under `AWS_LAMBDA_MAX_CONCURRENCY=8`: eight invocations
//! run at once in one process, and every line one of them writes carries its
//! own `requestId`. Also: text format, and level filtering.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::{eventually, example, Function, RuntimeApiServer};

#[test]
fn eight_concurrent_invocations_each_log_under_their_own_request_id() {
    let server = RuntimeApiServer::start();
    let function = Function::builder(
        example("example-structured-logs", "example-structured-logs"),
        &server,
    )
    .env("AWS_LAMBDA_MAX_CONCURRENCY", "8")
    .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
    .spawn();
    // Eight /next long polls waiting means eight loops are ready.
    server
        .wait_next_requests(8, Duration::from_secs(20))
        .expect("eight loops");

    let started = Instant::now();
    let ids: Vec<(String, String)> = (0..8)
        .map(|i| {
            let tag = format!("job-{i}");
            let event = format!(r#"{{"tag":"{tag}","pause_ms":300}}"#);
            (server.send(event.as_bytes()), tag)
        })
        .collect();
    for (id, tag) in &ids {
        assert_eq!(server.wait(id).json(), tag.as_str());
    }
    // Run one after another they would take 2.4 s.
    let took = started.elapsed();
    assert!(
        took < Duration::from_millis(1500),
        "not concurrent: {took:?}"
    );

    let tags: HashMap<&str, &str> = ids
        .iter()
        .map(|(id, tag)| (id.as_str(), tag.as_str()))
        .collect();
    let lines = eventually(Duration::from_secs(5), || {
        let lines: Vec<serde_json::Value> = function
            .json_lines()
            .into_iter()
            .filter(|l| l.get("tag").is_some())
            .collect();
        (lines.len() >= 16).then_some(lines)
    })
    .expect("two lines per invocation");
    for line in &lines {
        let id = line["requestId"].as_str().expect("requestId on every line");
        assert_eq!(
            tags[id],
            line["tag"].as_str().unwrap(),
            "line under the wrong request: {line}"
        );
        assert!(line["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(line["coldStart"].is_boolean(), "{line}");
    }
    let cold: Vec<_> = lines.iter().filter(|l| l["coldStart"] == true).collect();
    let cold_ids: std::collections::HashSet<_> = cold.iter().map(|l| &l["requestId"]).collect();
    assert_eq!(
        cold_ids.len(),
        1,
        "exactly one invocation is the cold start"
    );
    // Default level INFO: the debug line is filtered out.
    assert!(lines.iter().all(|l| l["message"] != "only shown at DEBUG"));
    assert!(lines.iter().any(|l| l["level"] == "WARN" && l["step"] == 2));
}

#[test]
fn text_format_and_debug_level_follow_the_lambda_variables() {
    let server = RuntimeApiServer::start();
    let function = Function::builder(
        example("example-structured-logs", "example-structured-logs"),
        &server,
    )
    .env("AWS_LAMBDA_LOG_FORMAT", "Text")
    .env("AWS_LAMBDA_LOG_LEVEL", "DEBUG")
    .spawn();
    let id = server.send(br#"{"tag":"t1"}"#);
    server.wait(&id);
    let lines = eventually(Duration::from_secs(5), || {
        let lines: Vec<String> = function
            .lines()
            .into_iter()
            .filter(|l| l.contains("tag=t1"))
            .collect();
        (lines.len() >= 3).then_some(lines)
    })
    .expect("three lines");
    for line in &lines {
        let columns: Vec<&str> = line.split('\t').collect();
        assert_eq!(columns.len(), 4, "{line}");
        assert_eq!(columns[1], id);
    }
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\tDEBUG\tonly shown at DEBUG tag=t1")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\tINFO\tstarted tag=t1 step=1 coldStart=true")),
        "{lines:?}"
    );
}
