//! The order of a run's invocations. Cold starts first, one function after
//! the other (A B A B … with `--compare`), so that both meet the same
//! machine: a background job or a warming CPU hits both alike. Then one
//! warm-up invocation per function (it may be the first invocation at all,
//! with `--cold 0`), the warm invocations, interleaved the same way, and
//! one more per function that reads the warm sandbox's peak memory.
//!
//! Owns the order and the retries of a cold start that came out warm; one
//! invocation is [`super::invocation`]'s, making it cold [`super::recycle`]'s.

use std::io::{IsTerminal, Write};

use bytes::Bytes;

use super::error::BenchError;
use super::invocation::{invoke, peak_memory};
use super::recycle::recycle;
use super::sample::{Kind, Sample};
use crate::host_client::HostClient;

/// Attempts at a cold start before giving up on a function that stays warm.
const COLD_ATTEMPTS: usize = 3;

/// What to measure.
pub struct Plan {
    /// The function, and the one it is compared with.
    pub names: Vec<String>,
    pub cold: usize,
    pub warm: usize,
    pub payload: Bytes,
}

/// What was measured of one function.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub samples: Vec<Sample>,
    /// REPORT's Max Memory Used after the warm invocations.
    pub warm_peak_mb: Option<u64>,
}

/// Runs the plan; what was measured of each function, in `plan.names` order.
pub async fn run(client: &HostClient, plan: &Plan) -> Result<Vec<Measured>, BenchError> {
    let mut measured = vec![Measured::default(); plan.names.len()];
    let progress = Progress::new();
    for i in 1..=plan.cold {
        for (name, mine) in plan.names.iter().zip(&mut measured) {
            let during = format!("cold start {i} of {}", plan.cold);
            progress.show(name, &during);
            let sample = cold_start(client, name, &plan.payload, &during).await?;
            mine.samples.push(sample);
        }
    }
    if plan.warm > 0 {
        warm(client, plan, &mut measured, &progress).await?;
    }
    Ok(measured)
}

/// The warm-up, the warm invocations, and the warm sandbox's peak memory.
async fn warm(
    client: &HostClient,
    plan: &Plan,
    measured: &mut [Measured],
    progress: &Progress,
) -> Result<(), BenchError> {
    for name in &plan.names {
        progress.show(name, "warm-up");
        invoke(client, name, &plan.payload, Kind::Warm, "warm-up").await?;
    }
    for i in 1..=plan.warm {
        for (name, mine) in plan.names.iter().zip(measured.iter_mut()) {
            let during = format!("warm invocation {i} of {}", plan.warm);
            progress.show(name, &during);
            let sample = invoke(client, name, &plan.payload, Kind::Warm, &during).await?;
            mine.samples.push(sample);
        }
    }
    for (name, mine) in plan.names.iter().zip(measured.iter_mut()) {
        progress.show(name, "memory reading");
        mine.warm_peak_mb = peak_memory(client, name, &plan.payload).await?;
    }
    Ok(())
}

async fn cold_start(
    client: &HostClient,
    name: &str,
    payload: &Bytes,
    during: &str,
) -> Result<Sample, BenchError> {
    for _ in 0..COLD_ATTEMPTS {
        recycle(client, name).await?;
        let sample = invoke(client, name, payload, Kind::Cold, during).await?;
        if sample.timing.is_cold() {
            return Ok(sample);
        }
    }
    Err(BenchError::NotCold {
        name: name.to_string(),
    })
}

/// Where the run is, on one line of stderr when that is a terminal;
/// cleared when the run ends, however it ends.
struct Progress {
    on: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            on: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, name: &str, during: &str) {
        if self.on {
            let mut stderr = std::io::stderr();
            let _ = write!(stderr, "\r\x1b[2K{name}: {during}");
            let _ = stderr.flush();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if self.on {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}
