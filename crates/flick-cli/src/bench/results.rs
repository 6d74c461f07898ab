//! The outcome of a bench run, as every renderer draws it: what was asked
//! and where, each function's samples with the statistics of each phase,
//! and, with `--compare`, the ratios of their medians.
//!
//! Owns summarising (samples → statistics); taking samples and showing
//! results are elsewhere.

use super::phase::Phase;
use super::sample::{Kind, Sample};
use super::schedule::Measured;
use super::stats::Stats;

/// Where the host ran.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Started by the bench from this manifest.
    Embedded { config: String },
    /// Already running at the endpoint.
    Endpoint,
}

/// The embedded host's memory at the end of the run, in kB.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostMemory {
    pub rss_kb: u64,
    pub peak_rss_kb: u64,
}

#[derive(Debug)]
pub struct Results {
    pub mode: Mode,
    pub endpoint: String,
    /// The event, as JSON text.
    pub payload: String,
    /// Samples asked for, per function.
    pub cold: usize,
    pub warm: usize,
    /// One, or two with `--compare` (the base first).
    pub functions: Vec<FunctionResult>,
    pub host_memory: Option<HostMemory>,
}

#[derive(Debug)]
pub struct FunctionResult {
    pub name: String,
    pub samples: Vec<Sample>,
    pub cold: Summary,
    pub warm: Summary,
    /// The largest Max Memory Used of any REPORT line: the cold starts',
    /// and the warm sandbox's after its run.
    pub max_memory_used_mb: Option<u64>,
}

/// The statistics of one kind of sample.
#[derive(Debug)]
pub struct Summary {
    pub count: usize,
    /// Each phase samples of this kind have, in [`Phase::of_kind`] order.
    pub phases: Vec<(Phase, Stats)>,
    /// Each phase of the SDK's startup trace, in the SDK's order.
    pub trace: Vec<(String, Stats)>,
}

/// One phase's medians in two functions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    pub kind: Kind,
    pub phase: Phase,
    pub base: f64,
    pub other: f64,
}

impl Ratio {
    /// other / base; None when the base is zero.
    pub fn value(&self) -> Option<f64> {
        (self.base != 0.0).then(|| self.other / self.base)
    }
}

impl FunctionResult {
    pub fn new(name: String, measured: Measured) -> FunctionResult {
        let Measured {
            samples,
            warm_peak_mb,
        } = measured;
        let max_memory_used_mb = samples
            .iter()
            .filter_map(|s| s.report?.max_memory_used_mb)
            .chain(warm_peak_mb)
            .max();
        FunctionResult {
            cold: Summary::of(Kind::Cold, &samples),
            warm: Summary::of(Kind::Warm, &samples),
            name,
            samples,
            max_memory_used_mb,
        }
    }

    pub fn summary(&self, kind: Kind) -> &Summary {
        match kind {
            Kind::Cold => &self.cold,
            Kind::Warm => &self.warm,
        }
    }

    pub fn samples(&self, kind: Kind) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(move |s| s.kind == kind)
    }
}

impl Summary {
    fn of(kind: Kind, samples: &[Sample]) -> Summary {
        let mine: Vec<&Sample> = samples.iter().filter(|s| s.kind == kind).collect();
        let phases = Phase::of_kind(kind)
            .iter()
            .filter_map(|&p| Some((p, Stats::of(mine.iter().filter_map(|s| p.value(s)))?)))
            .collect();
        let mut names: Vec<&str> = Vec::new();
        for (name, _) in mine.iter().flat_map(|s| &s.trace) {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        let trace = names
            .into_iter()
            .filter_map(|name| {
                let values = mine
                    .iter()
                    .flat_map(|s| &s.trace)
                    .filter(|(n, _)| n == name);
                Some((name.to_string(), Stats::of(values.map(|(_, v)| *v))?))
            })
            .collect();
        Summary {
            count: mine.len(),
            phases,
            trace,
        }
    }

    pub fn stats(&self, phase: Phase) -> Option<&Stats> {
        self.phases
            .iter()
            .find(|(p, _)| *p == phase)
            .map(|(_, s)| s)
    }
}

/// The medians of `other` against `base`, for every phase both have.
pub fn ratios(base: &FunctionResult, other: &FunctionResult) -> Vec<Ratio> {
    Kind::ALL
        .into_iter()
        .flat_map(|kind| Phase::of_kind(kind).iter().map(move |&p| (kind, p)))
        .filter_map(|(kind, phase)| {
            Some(Ratio {
                kind,
                phase,
                base: base.summary(kind).stats(phase)?.p50,
                other: other.summary(kind).stats(phase)?.p50,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::log_tail::ReportLine;
    use super::super::server_timing::ServerTiming;
    use super::*;

    fn cold(total: f64, trace: &[(&str, f64)]) -> Sample {
        Sample {
            kind: Kind::Cold,
            request_id: None,
            total,
            timing: ServerTiming::parse("sandbox;dur=1, init;dur=2, invoke;dur=3"),
            report: None,
            trace: trace.iter().map(|(n, v)| (n.to_string(), *v)).collect(),
        }
    }

    fn measured(samples: Vec<Sample>) -> Measured {
        Measured {
            samples,
            warm_peak_mb: None,
        }
    }

    #[test]
    fn memory_is_the_largest_report() {
        let mut big = cold(1.0, &[]);
        big.report = Some(ReportLine {
            duration: 1.0,
            init_duration: None,
            max_memory_used_mb: Some(9),
        });
        let r = |warm_peak_mb| {
            let samples = vec![big.clone(), cold(1.0, &[])];
            let measured = Measured {
                samples,
                warm_peak_mb,
            };
            FunctionResult::new("f".into(), measured).max_memory_used_mb
        };
        assert_eq!(
            (r(None), r(Some(4)), r(Some(12))),
            (Some(9), Some(9), Some(12))
        );
    }

    #[test]
    fn summarises_each_kind_and_the_trace() {
        let warm = Sample {
            kind: Kind::Warm,
            total: 1.0,
            timing: ServerTiming::parse("invoke;dur=0.5"),
            ..cold(0.0, &[])
        };
        let samples = vec![
            cold(10.0, &[("runtime_env", 0.1), ("total", 1.0)]),
            cold(20.0, &[("runtime_env", 0.3), ("total", 3.0)]),
            warm,
        ];
        let r = FunctionResult::new("f".into(), measured(samples));
        assert_eq!((r.cold.count, r.warm.count), (2, 1));
        assert_eq!(r.cold.stats(Phase::Total).unwrap().max, 20.0);
        assert_eq!(r.cold.stats(Phase::HostOverhead).unwrap().min, 4.0);
        assert_eq!(r.cold.stats(Phase::ReportDuration), None);
        let names: Vec<_> = r.cold.trace.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["runtime_env", "total"]);
        assert_eq!(r.warm.stats(Phase::HostOverhead).unwrap().p50, 0.5);
        assert!(r.warm.trace.is_empty());
    }

    #[test]
    fn ratios_are_other_over_base() {
        let a = FunctionResult::new("a".into(), measured(vec![cold(10.0, &[])]));
        let b = FunctionResult::new("b".into(), measured(vec![cold(25.0, &[])]));
        let r = ratios(&a, &b);
        let total = r.iter().find(|r| r.phase == Phase::Total).unwrap();
        assert_eq!(total.value(), Some(2.5));
        assert!(r.iter().all(|r| r.kind == Kind::Cold));
    }
}
