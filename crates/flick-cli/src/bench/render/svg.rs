//! The HTML report's two charts, drawn as inline SVG (no script, no
//! external asset): a histogram of a function's cold-start totals and a
//! stacked bar of its median cold-start phases.
//!
//! Every drawn element carries the numbers it stands for in `data-`
//! attributes (the same rounded figures as `--json`), so that a test, or a
//! reader of the page's source, can check the drawing against the data:
//! `svg.histogram[data-count][data-min][data-max]` holds one
//! `rect.bin[data-lo][data-hi][data-count]` per bin (a value is in the bin
//! whose `lo` is the largest not above it; bins split [min, max] evenly),
//! `svg.phases[data-total-p50]` one `rect.phase[data-phase][data-p50]` per
//! part of a cold start, left to right in the order they happen.

use std::fmt::Write;

use super::{escape, rounded};
use crate::bench::phase::Phase;
use crate::bench::results::Summary;
use crate::bench::sample::Kind;

const WIDTH: f64 = 640.0;
const LEFT: f64 = 48.0;
const PLOT: f64 = WIDTH - LEFT - 16.0;
const MAX_BINS: usize = 20;

/// The histogram of `totals` (cold-start totals, in ms, already rounded).
pub fn histogram(name: &str, totals: &[f64]) -> String {
    let Some((edges, counts)) = bins(totals) else {
        return String::new();
    };
    let (min, max) = (edges[0], edges[counts.len()]);
    let tallest = counts.iter().copied().max().unwrap_or(1) as f64;
    let (height, base) = (200.0, 170.0);
    let bar = PLOT / counts.len() as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="histogram-{id}" class="histogram" data-function="{id}" data-count="{n}" data-min="{min}" data-max="{max}" data-bins="{bins}" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="cold-start totals of {id}">"#,
        id = escape(name),
        n = totals.len(),
        bins = counts.len(),
    );
    for (i, &count) in counts.iter().enumerate() {
        let h = count as f64 / tallest * (base - 20.0);
        let (lo, hi) = (edges[i], edges[i + 1]);
        let _ = write!(
            svg,
            r#"<rect class="bin" data-lo="{lo}" data-hi="{hi}" data-count="{count}" x="{x:.1}" y="{y:.1}" width="{w:.1}" height="{h:.1}"><title>{lo:.2}–{hi:.2} ms: {count}</title></rect>"#,
            x = LEFT + bar * i as f64,
            y = base - h,
            w = (bar - 2.0).max(1.0),
        );
    }
    let _ = write!(
        svg,
        r#"<line x1="{LEFT}" y1="{base}" x2="{end}" y2="{base}" class="axis"/><text x="{LEFT}" y="{t}">{min:.2} ms</text><text x="{end}" y="{t}" text-anchor="end">{max:.2} ms</text><text x="{l}" y="24" text-anchor="end">{tallest}</text></svg>"#,
        end = LEFT + PLOT,
        t = base + 18.0,
        l = LEFT - 6.0,
    );
    svg
}

/// The bins' edges and counts: a value is in the last bin whose lower
/// edge is not above it. None for no values.
fn bins(values: &[f64]) -> Option<(Vec<f64>, Vec<usize>)> {
    let min = values.iter().copied().min_by(f64::total_cmp)?;
    let max = values.iter().copied().max_by(f64::total_cmp)?;
    let edges = bin_edges(min, max, values.len());
    let mut counts = vec![0usize; edges.len() - 1];
    for &v in values {
        let bin = (0..counts.len()).rev().find(|&i| v >= edges[i]);
        counts[bin.unwrap_or(0)] += 1;
    }
    Some((edges, counts))
}

/// Bin edges over [min, max], about √n bins; the last edge is max itself.
fn bin_edges(min: f64, max: f64, n: usize) -> Vec<f64> {
    let bins = match max > min {
        true => ((n as f64).sqrt().ceil() as usize).clamp(1, MAX_BINS),
        false => 1,
    };
    let mut edges: Vec<f64> = (0..bins)
        .map(|i| min + (max - min) * i as f64 / bins as f64)
        .collect();
    edges.push(max);
    edges
}

/// The median cold-start phases of one function as one stacked bar, `scale`
/// ms wide (shared by the functions of a `--compare` run, so bars compare).
pub fn phase_bar(name: &str, cold: &Summary, scale: f64) -> String {
    let p50 = |p: Phase| cold.stats(p).map(|s| rounded(s.p50));
    let Some(total) = p50(Phase::Total) else {
        return String::new();
    };
    let px = |ms: f64| ms.max(0.0) / scale.max(f64::MIN_POSITIVE) * PLOT;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg id="phases-{id}" class="phases" data-function="{id}" data-total-p50="{total}" viewBox="0 0 {WIDTH} 100" width="{WIDTH}" height="100" role="img" aria-label="median cold-start phases of {id}">"#,
        id = escape(name),
    );
    let mut x = LEFT;
    for (i, part) in Phase::COLD_PARTS.into_iter().enumerate() {
        let Some(ms) = p50(part) else { continue };
        let (label, w) = (part.label(Kind::Cold), px(ms));
        // The legend in two columns of two.
        let (lx, ly) = (LEFT + (i % 2) as f64 * 290.0, 62.0 + (i / 2) as f64 * 18.0);
        let _ = write!(
            svg,
            r#"<rect class="phase c{i}" data-phase="{key}" data-p50="{ms}" x="{x:.1}" y="8" width="{w:.1}" height="36"><title>{label}: {ms:.2} ms</title></rect><rect class="c{i}" x="{lx:.1}" y="{ly:.1}" width="10" height="10"/><text x="{tx:.1}" y="{ty:.1}">{label}: {ms:.2} ms</text>"#,
            key = part.key(),
            tx = lx + 14.0,
            ty = ly + 9.0,
        );
        x += w;
    }
    let _ = write!(
        svg,
        r#"<line class="total" data-p50="{total}" x1="{t:.1}" y1="4" x2="{t:.1}" y2="48"><title>median total: {total:.2} ms</title></line><text x="{l}" y="30" text-anchor="end">p50</text></svg>"#,
        t = LEFT + px(total),
        l = LEFT - 6.0,
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edges_split_the_range_evenly() {
        assert_eq!(bin_edges(0.0, 10.0, 4), [0.0, 5.0, 10.0]);
        assert_eq!(bin_edges(3.0, 3.0, 9), [3.0, 3.0]);
    }

    #[test]
    fn every_value_is_counted_once() {
        let svg = histogram("f", &[1.0, 2.0, 2.5, 4.0, 5.0]);
        let counts: usize = svg
            .split(r#"class="bin""#)
            .skip(1)
            .map(|bin| {
                let at = bin.find(r#"data-count=""#).unwrap() + 12;
                bin[at..]
                    .split('"')
                    .next()
                    .unwrap()
                    .parse::<usize>()
                    .unwrap()
            })
            .sum();
        assert_eq!(counts, 5);
        assert!(svg.contains(r#"data-min="1" data-max="5" data-bins="3""#));
    }
}
