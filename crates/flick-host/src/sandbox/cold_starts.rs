//! The cold starts in progress on the host, so that preparing sandboxes
//! can keep out of their way.
//!
//! Preparing a sandbox (a fork of the host, the shell's exec, its mounts)
//! costs about a millisecond of CPU; a runtime's init and the first
//! invocation's round trip are CPU-bound too. On a two-core machine a
//! refill started next to a cold start made it a third slower (official
//! Rust echo, from outside: p50 2.5 ms with the refill alongside, 1.9 ms
//! with it after; four cold starts at once 5.6 ms and 3.5 ms; `bench/host`);
//! a refill that waited for the init alone, but ran beside the first
//! invocation, won only half of that. So a refill waits until no cold start
//! is running (from the runtime's exec to its first answer, or to the end
//! of init for a sandbox started without an event), but not longer than a
//! bound: a runtime that inits for seconds (a JVM) must not leave the
//! reserve empty behind it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// The longest a refill waits for the host's cold starts to end.
pub const REFILL_DEFER_MAX: Duration = Duration::from_millis(50);

/// How many cold starts are in progress.
pub struct ColdStarts {
    running: watch::Sender<usize>,
}

/// One cold start in progress; it ends when this is dropped.
pub struct ColdStart {
    starts: Arc<ColdStarts>,
}

impl ColdStarts {
    pub fn new() -> Arc<ColdStarts> {
        Arc::new(ColdStarts {
            running: watch::Sender::new(0),
        })
    }

    pub fn begin(self: &Arc<Self>) -> ColdStart {
        self.running.send_modify(|n| *n += 1);
        ColdStart {
            starts: self.clone(),
        }
    }

    /// Returns once no cold start runs, or after `at_most`.
    pub async fn quiet(&self, at_most: Duration) {
        let mut running = self.running.subscribe();
        let _ = tokio::time::timeout(at_most, running.wait_for(|n| *n == 0)).await;
    }
}

impl Drop for ColdStart {
    fn drop(&mut self) {
        self.starts
            .running
            .send_modify(|n| *n = n.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn quiet_waits_for_the_last_cold_start_to_end() {
        let starts = ColdStarts::new();
        let (first, second) = (starts.begin(), starts.begin());
        let started = Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            drop(first);
            tokio::time::sleep(Duration::from_millis(5)).await;
            drop(second);
        });
        starts.quiet(REFILL_DEFER_MAX).await;
        assert_eq!(started.elapsed(), Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn quiet_gives_up_on_an_init_that_lasts() {
        let starts = ColdStarts::new();
        let _jvm = starts.begin();
        let started = Instant::now();
        starts.quiet(REFILL_DEFER_MAX).await;
        assert_eq!(started.elapsed(), REFILL_DEFER_MAX);
    }

    #[tokio::test]
    async fn quiet_returns_at_once_when_nothing_starts() {
        let starts = ColdStarts::new();
        drop(starts.begin());
        tokio::time::timeout(
            Duration::from_secs(5),
            starts.quiet(Duration::from_secs(60)),
        )
        .await
        .expect("no cold start runs");
    }
}
