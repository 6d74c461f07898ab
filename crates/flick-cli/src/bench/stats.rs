//! Order statistics of one phase over a run's samples: min, p50, p90, p99
//! and max.
//!
//! Percentiles are nearest-rank: the p-th percentile of n sorted samples is
//! the sample at rank ⌈p·n/100⌉, so every number reported is one that was
//! measured (with few samples, p99 is the max). No interpolation, no
//! outlier trimming: a cold-start lab wants to see its worst case.

/// The statistics of one phase, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats {
    pub count: usize,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

impl Stats {
    /// The statistics of `values`; None when there are none.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Stats> {
        let mut sorted: Vec<f64> = values.into_iter().collect();
        sorted.sort_by(f64::total_cmp);
        let (&min, &max) = (sorted.first()?, sorted.last()?);
        Some(Stats {
            count: sorted.len(),
            min,
            p50: percentile(&sorted, 50.0),
            p90: percentile(&sorted, 90.0),
            p99: percentile(&sorted, 99.0),
            max,
        })
    }
}

/// The nearest-rank `p`-th percentile of `sorted` (ascending, not empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_to_hundred() {
        let s = Stats::of((1..=100).rev().map(f64::from)).unwrap();
        assert_eq!((s.count, s.min, s.max), (100, 1.0, 100.0));
        assert_eq!((s.p50, s.p90, s.p99), (50.0, 90.0, 99.0));
    }

    #[test]
    fn few_samples_take_the_nearest_rank_above() {
        let s = Stats::of([4.0, 1.0, 3.0, 2.0, 5.0]).unwrap();
        // ranks ⌈2.5⌉ = 3, ⌈4.5⌉ = 5, ⌈4.95⌉ = 5
        assert_eq!((s.p50, s.p90, s.p99), (3.0, 5.0, 5.0));
        let s = Stats::of([10.0, 20.0, 30.0, 40.0]).unwrap();
        assert_eq!((s.p50, s.p90), (20.0, 40.0));
    }

    #[test]
    fn one_sample_is_every_percentile() {
        let s = Stats::of([7.5]).unwrap();
        assert_eq!((s.min, s.p50, s.p99, s.max), (7.5, 7.5, 7.5, 7.5));
    }

    #[test]
    fn none_is_none() {
        assert_eq!(Stats::of([]), None);
    }

    #[test]
    fn p0_is_the_min() {
        assert_eq!(percentile(&[1.0, 2.0], 0.0), 1.0);
    }
}
