//! The run as one self-contained HTML page (`flick bench --html FILE`): for
//! each function its median cold-start phases as a stacked bar and its
//! cold-start totals as a histogram (see [`super::svg`]), then the tables
//! of the terminal output; with `--compare`, the ratios. Inline CSS and SVG
//! only: it opens offline, from a mail attachment or a CI artifact, and
//! needs no JavaScript.
//!
//! Table cells carry `data-phase`/`data-stat` attributes beside their text,
//! as the charts do, so that the page can be checked against `--json`.

use std::fmt::Write;

use super::{escape, host, ratio_text, rounded, svg};
use crate::bench::phase::Phase;
use crate::bench::results::{ratios, FunctionResult, Results, Summary};
use crate::bench::sample::Kind;
use crate::bench::stats::Stats;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{padding:2px 10px;text-align:right}\
td:first-child,th:first-child{text-align:left}tr:nth-child(even){background:#f4f4f4}\
svg text{font-size:11px;fill:#333}.bin{fill:#4a7fb5}.axis{stroke:#888}\
.total{stroke:#000;stroke-width:2}.c0{fill:#9b59b6}.c1{fill:#e67e22}.c2{fill:#27ae60}.c3{fill:#95a5a6}";

pub fn page(r: &Results) -> String {
    let names: Vec<String> = r.functions.iter().map(|f| escape(&f.name)).collect();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>flick bench {title}</title><style>{STYLE}</style></head><body>\
         <h1>flick bench {title}</h1><p>{host}; payload <code>{payload}</code>; \
         milliseconds, nearest-rank percentiles.</p>",
        title = names.join(" vs "),
        host = escape(&host(r)),
        payload = escape(&r.payload),
    );
    // One scale for every bar, so that a compare run's bars compare.
    let scale = r.functions.iter().map(bar_length).fold(0.0, f64::max);
    for f in &r.functions {
        function(&mut out, f, scale);
    }
    if let [base, other] = &r.functions[..] {
        compare(&mut out, base, other);
    }
    if let Some(m) = r.host_memory {
        let _ = write!(
            out,
            "<p id=\"host-memory\" data-rss-kb=\"{}\" data-peak-rss-kb=\"{}\">host RSS at the end: {} kB (peak {} kB)</p>",
            m.rss_kb, m.peak_rss_kb, m.rss_kb, m.peak_rss_kb
        );
    }
    out.push_str("</body></html>\n");
    out
}

/// The milliseconds a function's stacked bar spans: its median parts end
/// to end, or its median total if that is longer.
fn bar_length(f: &FunctionResult) -> f64 {
    let p50 = |p: Phase| f.cold.stats(p).map_or(0.0, |s| s.p50.max(0.0));
    let parts: f64 = Phase::COLD_PARTS.into_iter().map(p50).sum();
    parts.max(p50(Phase::Total))
}

fn function(out: &mut String, f: &FunctionResult, scale: f64) {
    let name = escape(&f.name);
    let _ = write!(
        out,
        "<section class=\"function\" data-function=\"{name}\"><h2>{name}</h2>"
    );
    if f.cold.count > 0 {
        let totals: Vec<f64> = f.samples(Kind::Cold).map(|s| rounded(s.total)).collect();
        let _ = write!(
            out,
            "<h3>Median cold start, by phase</h3>{}<h3>Cold-start totals ({} samples)</h3>{}",
            svg::phase_bar(&f.name, &f.cold, scale),
            totals.len(),
            svg::histogram(&f.name, &totals),
        );
    }
    for kind in Kind::ALL {
        table(out, &name, kind, f.summary(kind));
    }
    if let Some(mb) = f.max_memory_used_mb {
        let _ = write!(
            out,
            "<p class=\"memory\" data-max-memory-used-mb=\"{mb}\">Max Memory Used: {mb} MB</p>"
        );
    }
    out.push_str("</section>");
}

fn table(out: &mut String, name: &str, kind: Kind, s: &Summary) {
    if s.count == 0 {
        return;
    }
    let what = match kind {
        Kind::Cold => "cold starts",
        Kind::Warm => "warm invocations",
    };
    let _ = write!(
        out,
        "<table class=\"stats\" data-function=\"{name}\" data-kind=\"{kind}\"><caption>{count} {what}</caption>\
         <tr><th>phase</th><th>p50</th><th>p90</th><th>p99</th><th>min</th><th>max</th></tr>",
        kind = kind.key(),
        count = s.count,
    );
    for (phase, stats) in &s.phases {
        row(out, phase.key(), phase.label(kind), stats);
    }
    for (trace_phase, stats) in &s.trace {
        let key = format!("startup_trace.{}", escape(trace_phase));
        row(out, &key, &format!("startup trace: {trace_phase}"), stats);
    }
    out.push_str("</table>");
}

fn row(out: &mut String, key: &str, label: &str, s: &Stats) {
    let _ = write!(out, "<tr data-phase=\"{key}\"><td>{}</td>", escape(label));
    let cells = [
        ("p50", s.p50),
        ("p90", s.p90),
        ("p99", s.p99),
        ("min", s.min),
        ("max", s.max),
    ];
    for (stat, ms) in cells {
        let ms = rounded(ms);
        let _ = write!(
            out,
            "<td data-stat=\"{stat}\" data-ms=\"{ms}\">{ms:.2}</td>"
        );
    }
    out.push_str("</tr>");
}

fn compare(out: &mut String, base: &FunctionResult, other: &FunctionResult) {
    let (b, o) = (escape(&base.name), escape(&other.name));
    let _ = write!(
        out,
        "<h2>{o} / {b}</h2><table id=\"ratios\"><tr><th>p50</th><th>{b}</th><th>{o}</th><th>ratio</th></tr>"
    );
    for r in ratios(base, other) {
        let ratio = ratio_text(r.value());
        let _ = write!(
            out,
            "<tr data-kind=\"{}\" data-phase=\"{}\"><td>{} {}</td><td>{:.2}</td><td>{:.2}</td><td>{ratio}</td></tr>",
            r.kind.key(),
            r.phase.key(),
            r.kind.key(),
            escape(r.phase.label(r.kind)),
            r.base,
            r.other,
        );
    }
    out.push_str("</table>");
}
