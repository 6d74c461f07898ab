//! The SDK benchmark: stripped binary size, time from exec to the first
//! `/next`, RSS after 1,000 invocations and warm round trip, for Flick's echo
//! and the official `lambda_runtime` echo, side by side in one run.
//!
//! Both functions talk to the same Runtime API server (the SDK's test server,
//! shared by path so there is one copy), on loopback, with the same
//! environment. Startups alternate between the two so that drift in machine
//! load hits both alike.
//!
//! Usage: flick-sdk-bench FLICK_BINARY OFFICIAL_BINARY RESULTS_FILE

#[path = "../../../crates/flick/tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use support::{Function, Outcome, RuntimeApiServer};

const STARTS: usize = 60;
const WARMUP: usize = 100;
const INVOCATIONS: usize = 1000;
const EVENT: &[u8] =
    br#"{"order":"o-123","items":[{"sku":"a","qty":1},{"sku":"b","qty":2}],"note":"benchmark"}"#;

struct Subject {
    binary: PathBuf,
}

#[derive(Default)]
struct Measured {
    size: u64,
    first_next: Vec<Duration>,
    /// CPU time the process had used when its first `/next` arrived.
    startup_cpu: Vec<Duration>,
    round_trip: Vec<Duration>,
    rss_kb: u64,
    /// CPU time the function process spent on the timed invocations.
    cpu: Duration,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [flick, official, results] = args.as_slice() else {
        eprintln!("usage: flick-sdk-bench FLICK_BINARY OFFICIAL_BINARY RESULTS_FILE");
        std::process::exit(2);
    };
    let subjects = [
        Subject {
            binary: flick.into(),
        },
        Subject {
            binary: official.into(),
        },
    ];
    let mut measured: Vec<Measured> = subjects
        .iter()
        .map(|s| Measured {
            size: std::fs::metadata(&s.binary)
                .unwrap_or_else(|e| panic!("{}: {e}", s.binary.display()))
                .len(),
            ..Measured::default()
        })
        .collect();

    for _ in 0..STARTS {
        for (subject, m) in subjects.iter().zip(&mut measured) {
            let (wall, cpu) = time_to_first_next(&subject.binary);
            m.first_next.push(wall);
            m.startup_cpu.push(cpu);
        }
    }
    warm_invocations(&subjects, &mut measured);

    let trace = flick_startup_trace(&subjects[0].binary);
    let mut report = render(&subjects, &mut measured);
    let _ = writeln!(
        report,
        "\nFlick's own startup trace from one cold start of the same binary (JSON logs), \
         milliseconds; `process_start_to_main` is CPU time before the SDK started:\n\n```\n{trace}\n```"
    );
    print!("{report}");
    std::fs::write(results, report).expect("write results");
}

/// Starts the function and returns the time from just before exec to the
/// arrival of its first `/next` request, and the CPU time the process had
/// used by then.
fn time_to_first_next(binary: &Path) -> (Duration, Duration) {
    let server = RuntimeApiServer::start();
    let function = Function::start(binary.to_owned(), &server);
    let arrivals = server
        .wait_next_requests(1, Duration::from_secs(10))
        .expect("the function calls /next");
    (arrivals[0] - function.started, cpu_time(function.pid()))
}

/// Flick's startup trace line from one cold start.
fn flick_startup_trace(binary: &Path) -> String {
    let server = RuntimeApiServer::start();
    let function = Function::builder(binary.to_owned(), &server)
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .spawn();
    expect_echo(server.invoke(EVENT));
    support::eventually(Duration::from_secs(5), || {
        function
            .lines()
            .into_iter()
            .find(|l| l.contains("startup trace"))
    })
    .unwrap_or_else(|| "(no startup trace line)".into())
}

/// Warms both functions up, then times `INVOCATIONS` round trips of each,
/// alternating between them so that load changes hit both alike, then reads
/// their resident set sizes. After each invocation the benchmark waits for
/// that function's next `/next` request, so that one function's tail work
/// (reading the `202`, asking for the next event) never runs inside the
/// other's timed window.
fn warm_invocations(subjects: &[Subject], measured: &mut [Measured]) {
    let running: Vec<(RuntimeApiServer, Function)> = subjects
        .iter()
        .map(|subject| {
            let server = RuntimeApiServer::start();
            let function = Function::start(subject.binary.clone(), &server);
            for _ in 0..WARMUP {
                expect_echo(server.invoke(EVENT));
            }
            (server, function)
        })
        .collect();
    let cpu_before: Vec<Duration> = running.iter().map(|(_, f)| cpu_time(f.pid())).collect();
    for i in 0..INVOCATIONS {
        for ((server, _), m) in running.iter().zip(measured.iter_mut()) {
            let started = Instant::now();
            expect_echo(server.invoke(EVENT));
            m.round_trip.push(started.elapsed());
            // One /next at start, one after each warm-up and timed invocation.
            let idle = server.wait_idle(1 + WARMUP + i + 1, Duration::from_secs(10));
            assert!(idle, "the function did not ask for its next event");
        }
    }
    for (((_, function), m), before) in running.iter().zip(measured.iter_mut()).zip(cpu_before) {
        m.cpu = cpu_time(function.pid()) - before;
        m.rss_kb = rss_kb(function.pid());
    }
}

fn expect_echo(outcome: Outcome) {
    let expected: serde_json::Value = serde_json::from_slice(EVENT).unwrap();
    assert_eq!(outcome.json(), expected);
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// CPU time used so far by every thread of process `pid` (nanosecond
/// precision, from the scheduler's per-thread accounting), so that it does
/// not depend on how busy the rest of the machine is.
fn cpu_time(pid: u32) -> Duration {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("read tasks");
    let nanos: u64 = tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| stat.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    Duration::from_nanos(nanos)
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)]
}

fn render(subjects: &[Subject], measured: &mut [Measured]) -> String {
    let [flick, official] = measured else {
        unreachable!("two subjects")
    };
    let first_next = (
        median(&mut flick.first_next),
        median(&mut official.first_next),
    );
    let startup_cpu = (
        median(&mut flick.startup_cpu),
        median(&mut official.startup_cpu),
    );
    let round_trip = (
        median(&mut flick.round_trip),
        median(&mut official.round_trip),
    );
    let p99 = (
        percentile(&mut flick.round_trip, 0.99),
        percentile(&mut official.round_trip, 0.99),
    );

    let mut out = String::new();
    let _ = writeln!(
        out,
        "# SDK benchmark: Flick vs the official `lambda_runtime`\n"
    );
    let _ = writeln!(
        out,
        "One run of `bench/sdk/run.sh` on {} ({} cores, load average {} at the end), {}. \
         Both functions echo the same \
         JSON event, are built with the workspace's `lambda` profile (opt-level z, LTO, one \
         codegen unit, panic=abort, strip) and talk to the same Runtime API server on \
         loopback (`crates/flick/tests/support/runtime_api.rs`).\n",
        machine(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
        rustc_version(),
    );
    let _ = writeln!(
        out,
        "- flick: `{}` (`examples/echo`)",
        subjects[0].binary.display()
    );
    let _ = writeln!(
        out,
        "- official: `{}` (`conformance/functions/rust-official`, whose echo is the default \
         action of a conformance fixture)\n",
        subjects[1].binary.display()
    );
    let _ = writeln!(
        out,
        "| metric | flick | official | flick / official | target | |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---|---|");
    let kb = |bytes: u64| format!("{bytes} B ({:.0} KB)", bytes as f64 / 1024.0);
    let size_ok = flick.size * 2 <= official.size;
    row(
        &mut out,
        "stripped binary size",
        (kb(flick.size), kb(official.size)),
        flick.size as f64 / official.size as f64,
        "≤ 0.5",
        Some(size_ok),
    );
    let startup_ok = first_next.0 <= Duration::from_millis(1) && first_next.0 <= first_next.1;
    row(
        &mut out,
        &format!("exec → first `/next` (median of {STARTS})"),
        micros(first_next, 0),
        ratio(first_next),
        "≤ 1 ms and ≤ official",
        Some(startup_ok),
    );
    row(
        &mut out,
        "CPU used by the first `/next` (median)",
        micros(startup_cpu, 0),
        ratio(startup_cpu),
        "",
        None,
    );
    row(
        &mut out,
        &format!("RSS after {} invocations", WARMUP + INVOCATIONS),
        (
            format!("{} KB", flick.rss_kb),
            format!("{} KB", official.rss_kb),
        ),
        flick.rss_kb as f64 / official.rss_kb as f64,
        "≤ 4 MB",
        Some(flick.rss_kb <= 4096),
    );
    row(
        &mut out,
        &format!("warm round trip (median of {INVOCATIONS})"),
        micros(round_trip, 1),
        ratio(round_trip),
        "≤ official",
        Some(round_trip.0 <= round_trip.1),
    );
    let per_call = (
        flick.cpu / INVOCATIONS as u32,
        official.cpu / INVOCATIONS as u32,
    );
    row(
        &mut out,
        "function CPU per warm invocation",
        micros(per_call, 1),
        ratio(per_call),
        "",
        None,
    );
    row(
        &mut out,
        "warm round trip, p99",
        micros(p99, 1),
        ratio(p99),
        "",
        None,
    );
    let _ = writeln!(
        out,
        "\nExec → first `/next` is measured by the server: from just before the benchmark spawns \
         the process to the arrival of its first `/next` request, so it includes fork/exec, \
         dynamic loading, runtime init and connecting. The round trip is from queueing an event \
         to receiving its `/response`, through the server's `/next` long poll; the two \
         functions' invocations alternate. The CPU rows are the function process's \
         own CPU time (all threads; from exec for the first `/next`, over the timed \
         invocations for the warm row): they move far less with the machine's load. On a shared \
         machine the absolute startup time moves with the load of its other users (about 0.6 ms \
         of it is spawning any process here: `/bin/true` takes that long); the ratio between \
         the two, measured alternately in the same run, is the stable figure."
    );
    out
}

/// One table row: the two values, their ratio, the target and whether it
/// was met (`None`: no target).
fn row(
    out: &mut String,
    metric: &str,
    values: (String, String),
    ratio: f64,
    target: &str,
    met: Option<bool>,
) {
    let verdict = match met {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "",
    };
    let _ = writeln!(
        out,
        "| {metric} | {} | {} | {ratio:.3} | {target} | {verdict} |",
        values.0, values.1
    );
}

/// Two durations in microseconds with `decimals` decimals.
fn micros(pair: (Duration, Duration), decimals: usize) -> (String, String) {
    let us = |d: Duration| format!("{:.*} µs", decimals, d.as_secs_f64() * 1e6);
    (us(pair.0), us(pair.1))
}

fn ratio(pair: (Duration, Duration)) -> f64 {
    pair.0.as_secs_f64() / pair.1.as_secs_f64()
}

fn machine() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "an unknown CPU".into())
}

/// The 1-minute load average: the machine may be shared, and startup times
/// move with it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn rustc_version() -> String {
    std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "rustc (unknown version)".into(), |v| v.trim().to_owned())
}
