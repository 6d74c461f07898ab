//! The phases `flick bench` reports, and how each is read off a sample.
//!
//! A cold start is cut into: the host readying a sandbox (`sandbox`, from
//! the request for one to the runtime's exec: near nothing when one was
//! prepared ahead), the runtime's own init (`init`, exec to its first
//! `/next`), the function's first answer (`invoke`, from the event's
//! hand-over to the response), and the rest, `host_overhead` = total −
//! (sandbox + init + invoke): HTTP, routing, scheduling, and, since cold
//! starts ask for the log tail, the wait for the runtime's next `/next`
//! that completes the tail. A warm invocation is its round trip (`total`),
//! `invoke`, and `host_overhead` = total − invoke. The REPORT line's
//! Duration and Init Duration are reported beside them, as a check.

use super::sample::{Kind, Sample};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Total,
    Sandbox,
    Init,
    Invoke,
    HostOverhead,
    ReportInitDuration,
    ReportDuration,
}

impl Phase {
    /// The parts a cold start's total is cut into, in the order they happen.
    pub const COLD_PARTS: [Phase; 4] = [
        Phase::Sandbox,
        Phase::Init,
        Phase::Invoke,
        Phase::HostOverhead,
    ];
    const COLD: [Phase; 7] = [
        Phase::Total,
        Phase::Sandbox,
        Phase::Init,
        Phase::Invoke,
        Phase::HostOverhead,
        Phase::ReportInitDuration,
        Phase::ReportDuration,
    ];
    const WARM: [Phase; 3] = [Phase::Total, Phase::Invoke, Phase::HostOverhead];

    /// The phases reported for samples of `kind`, the total first.
    pub fn of_kind(kind: Kind) -> &'static [Phase] {
        match kind {
            Kind::Cold => &Phase::COLD,
            Kind::Warm => &Phase::WARM,
        }
    }

    /// The phase's name in JSON and HTML.
    pub fn key(self) -> &'static str {
        match self {
            Phase::Total => "total",
            Phase::Sandbox => "sandbox",
            Phase::Init => "init",
            Phase::Invoke => "invoke",
            Phase::HostOverhead => "host_overhead",
            Phase::ReportInitDuration => "report_init_duration",
            Phase::ReportDuration => "report_duration",
        }
    }

    /// The phase's name for a person.
    pub fn label(self, kind: Kind) -> &'static str {
        match (self, kind) {
            (Phase::Total, Kind::Cold) => "total",
            (Phase::Total, Kind::Warm) => "round trip",
            (Phase::Sandbox, _) => "sandbox ready",
            (Phase::Init, _) => "exec → first /next",
            (Phase::Invoke, Kind::Cold) => "first response",
            (Phase::Invoke, Kind::Warm) => "invoke",
            (Phase::HostOverhead, _) => "host overhead",
            (Phase::ReportInitDuration, _) => "REPORT Init Duration",
            (Phase::ReportDuration, _) => "REPORT Duration",
        }
    }

    /// The phase's milliseconds in `sample`, if the sample has them.
    pub fn value(self, sample: &Sample) -> Option<f64> {
        let t = &sample.timing;
        match self {
            Phase::Total => Some(sample.total),
            Phase::Sandbox => t.sandbox,
            Phase::Init => t.init,
            Phase::Invoke => t.invoke,
            Phase::HostOverhead => match sample.kind {
                Kind::Cold => Some(sample.total - (t.sandbox? + t.init? + t.invoke?)),
                Kind::Warm => Some(sample.total - t.invoke?),
            },
            Phase::ReportInitDuration => sample.report?.init_duration,
            Phase::ReportDuration => Some(sample.report?.duration),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::server_timing::ServerTiming;
    use super::*;

    fn sample(kind: Kind, total: f64, header: &str) -> Sample {
        Sample {
            kind,
            request_id: None,
            total,
            timing: ServerTiming::parse(header),
            report: None,
            trace: Vec::new(),
        }
    }

    #[test]
    fn cold_overhead_is_what_the_parts_leave() {
        let s = sample(
            Kind::Cold,
            10.0,
            "sandbox;dur=1, init;dur=5, invoke;dur=2.5",
        );
        assert_eq!(Phase::HostOverhead.value(&s), Some(1.5));
        assert_eq!(Phase::Total.value(&s), Some(10.0));
    }

    #[test]
    fn warm_overhead_is_the_round_trip_less_invoke() {
        let s = sample(Kind::Warm, 1.0, "invoke;dur=0.25");
        assert_eq!(Phase::HostOverhead.value(&s), Some(0.75));
        assert_eq!(Phase::Init.value(&s), None);
    }

    #[test]
    fn no_overhead_without_the_host_phases() {
        let s = sample(Kind::Cold, 10.0, "invoke;dur=2.5");
        assert_eq!(Phase::HostOverhead.value(&s), None);
    }
}
