//! The run as tables for a person at a terminal: per function, the cold
//! starts' phases (and the SDK's startup trace), the warm invocations', the
//! memory; with `--compare`, the ratio of each median. Milliseconds, two
//! decimals: enough to tell a 1.2 ms cold start from a 1.3 ms one.

use std::fmt::Write;

use crate::bench::results::{ratios, FunctionResult, Results, Summary};
use crate::bench::sample::Kind;
use crate::bench::stats::Stats;

use super::{host, ratio_text};

const LABEL: usize = 30;

pub fn tables(r: &Results) -> String {
    let mut out = String::new();
    let names: Vec<&str> = r.functions.iter().map(|f| f.name.as_str()).collect();
    let _ = writeln!(out, "flick bench {} on {}", names.join(" vs "), host(r));
    let _ = writeln!(
        out,
        "payload {}; milliseconds, nearest-rank percentiles",
        r.payload
    );
    for f in &r.functions {
        function(&mut out, f);
    }
    if let [base, other] = &r.functions[..] {
        compare(&mut out, base, other);
    }
    if let Some(m) = r.host_memory {
        let mb = |kb: u64| kb as f64 / 1024.0;
        let _ = writeln!(
            out,
            "\nhost: RSS {:.1} MB at the end (peak {:.1} MB)",
            mb(m.rss_kb),
            mb(m.peak_rss_kb)
        );
    }
    out
}

fn function(out: &mut String, f: &FunctionResult) {
    for kind in Kind::ALL {
        let summary = f.summary(kind);
        if summary.count == 0 {
            continue;
        }
        let title = match kind {
            Kind::Cold => format!("{}: {} cold starts", f.name, summary.count),
            Kind::Warm => format!("{}: {} warm invocations", f.name, summary.count),
        };
        let _ = writeln!(
            out,
            "\n{title:<LABEL$} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "p50", "p90", "p99", "min", "max"
        );
        rows(out, kind, summary);
    }
    if let Some(mb) = f.max_memory_used_mb {
        let _ = writeln!(out, "{}: Max Memory Used {mb} MB", f.name);
    }
}

fn rows(out: &mut String, kind: Kind, summary: &Summary) {
    for (phase, stats) in &summary.phases {
        row(out, &format!("  {}", phase.label(kind)), stats);
    }
    if !summary.trace.is_empty() {
        let _ = writeln!(out, "  startup trace (SDK)");
    }
    for (name, stats) in &summary.trace {
        row(out, &format!("    {name}"), stats);
    }
}

fn row(out: &mut String, label: &str, s: &Stats) {
    let _ = writeln!(
        out,
        "{label:<LABEL$} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        s.p50, s.p90, s.p99, s.min, s.max
    );
}

fn compare(out: &mut String, base: &FunctionResult, other: &FunctionResult) {
    let _ = writeln!(
        out,
        "\n{:<LABEL$} {:>9} {:>9} {:>9}",
        format!("p50: {} / {}", other.name, base.name),
        clip(&base.name),
        clip(&other.name),
        "ratio"
    );
    for r in ratios(base, other) {
        let label = format!("  {} {}", r.kind.key(), r.phase.label(r.kind));
        let ratio = ratio_text(r.value());
        let _ = writeln!(
            out,
            "{label:<LABEL$} {:>9.2} {:>9.2} {ratio:>9}",
            r.base, r.other
        );
    }
}

/// A name cut to a column's width.
fn clip(name: &str) -> String {
    name.chars().take(9).collect()
}
