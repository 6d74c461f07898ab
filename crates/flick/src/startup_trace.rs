//! The startup trace: how long each init phase took, written as one log line
//! on the cold start (the first invocation of the sandbox) and never again.
//!
//! Phases: `process_start_to_main` (the CPU time the process had used when
//! the SDK started: exec, dynamic loading and std's setup; Linux offers no finer
//! wall clock for the process start, and on an idle machine the two agree),
//! `runtime_env`, `config`, `state`, `prewarm` and each `prewarm.<task>`
//! (concurrent, so they overlap), and `first_next` (from the end of init to the
//! first `/next` request). `total` runs from process start to that request.
//! Owns the measurements and the line; the phases are timed where they happen.

use std::borrow::Cow;
use std::fmt::Display;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::logging;

pub(crate) struct StartupTrace {
    before_main: Duration,
    started: Instant,
    last_mark: Instant,
    phases: Vec<(Cow<'static, str>, Duration)>,
}

static TRACE: Mutex<Option<StartupTrace>> = Mutex::new(None);

impl StartupTrace {
    /// Starts the clock; call first thing.
    pub(crate) fn begin() -> Self {
        let started = Instant::now();
        Self {
            before_main: process_cpu_time(),
            started,
            last_mark: started,
            phases: Vec::with_capacity(8),
        }
    }

    /// Records a phase that ended now and began at the previous mark.
    pub(crate) fn lap(&mut self, name: &'static str) {
        let now = Instant::now();
        self.phases.push((name.into(), now - self.last_mark));
        self.last_mark = now;
    }

    /// Records a phase measured by the caller (one that overlapped others).
    pub(crate) fn record(&mut self, name: impl Into<Cow<'static, str>>, took: Duration) {
        self.phases.push((name.into(), took));
    }

    /// Records a lap whose time is `total` minus what the sub-phases in it
    /// already account for (the user's init minus its config loading).
    pub(crate) fn lap_excluding(&mut self, name: &'static str, already: Duration) {
        let now = Instant::now();
        let took = (now - self.last_mark).saturating_sub(already);
        self.phases.push((name.into(), took));
        self.last_mark = now;
    }

    /// Keeps the trace until the first invocation writes it.
    pub(crate) fn publish(self) {
        *TRACE.lock().unwrap_or_else(|e| e.into_inner()) = Some(self);
    }
}

/// Marks the first `/next` request as sent (later calls do nothing).
pub(crate) fn first_next_sent() {
    if let Some(trace) = TRACE.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        if !trace.phases.iter().any(|(name, _)| name == "first_next") {
            trace.lap("first_next");
        }
    }
}

/// Writes the trace as one log line, the first time only.
pub(crate) fn write_once() {
    let Some(trace) = TRACE.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    let total = trace.before_main + (trace.last_mark - trace.started);
    let millis = |d: &Duration| Millis(*d);
    let mut fields: Vec<(&str, Millis)> = Vec::with_capacity(trace.phases.len() + 2);
    fields.push(("process_start_to_main", millis(&trace.before_main)));
    fields.extend(trace.phases.iter().map(|(name, d)| (&**name, millis(d))));
    fields.push(("total", millis(&total)));
    logging::with_buffer(|buffer| {
        let mut line = logging::Line::start(buffer, logging::format(), tracing::Level::INFO);
        line.message(&"startup trace (milliseconds)");
        for (name, value) in &fields {
            line.field_raw(name, value as &dyn Display);
        }
        line.finish();
    });
}

struct Millis(Duration);

impl Display for Millis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Integer arithmetic: float formatting would add ~10 KB to every binary.
        let micros = self.0.as_micros() as u64;
        write!(f, "{}.{:03}", micros / 1000, micros % 1000)
    }
}

fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    if unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
