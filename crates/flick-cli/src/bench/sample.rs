//! One measured invocation: what the client timed, what the host said in
//! `Server-Timing`, and what the log tail's REPORT line and the SDK's
//! startup trace said. Taking a sample is [`super::invocation`]'s job; what
//! its numbers add up to is [`super::phase`]'s.

use super::log_tail::ReportLine;
use super::server_timing::ServerTiming;

/// A cold start (the function's sandboxes retired just before) or a warm one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Cold,
    Warm,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Cold, Kind::Warm];

    /// The name in JSON and HTML.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Cold => "cold",
            Kind::Warm => "warm",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub kind: Kind,
    /// `x-amzn-RequestId`, to find the invocation in the host's log.
    pub request_id: Option<String>,
    /// Milliseconds from the request's sending to its answer's last byte.
    pub total: f64,
    pub timing: ServerTiming,
    /// Only when the log tail was asked for (cold starts).
    pub report: Option<ReportLine>,
    /// The SDK's startup trace, in its order; empty for other runtimes.
    pub trace: Vec<(String, f64)>,
}
