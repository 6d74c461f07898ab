//! Lambda's retry rules for asynchronous invocations, as pure decisions:
//! given how often an event was tried, how the last try ended and the time,
//! is it done, retried when, or given up and why.
//!
//! Function errors (timeouts and crashes included) are retried up to
//! `max_retry_attempts` times, waiting `retry_delays_s`; throttles and host
//! errors are retried with a backoff from 1 s doubling to 5 min and do not
//! count as attempts. Nothing is tried past `max_event_age_s`: an event whose
//! next try would fall after it is given up at once, which ends the same way
//! Lambda's does, only sooner.

use crate::manifest::AsyncConfig;

use super::Counters;

const BACKOFF_FIRST_MS: i64 = 1_000;
const BACKOFF_MAX_MS: i64 = 300_000;

/// How one try ended, as far as retrying goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Success,
    /// The function failed: its error, a timeout, a crash, a failed init.
    FunctionError,
    /// No sandbox was free, or the host could not run it.
    Throttled,
}

/// Why an event left the queue, in the words of Lambda's destination record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    Success,
    RetriesExhausted,
    EventAgeExceeded,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Success => "Success",
            Condition::RetriesExhausted => "RetriesExhausted",
            Condition::EventAgeExceeded => "EventAgeExceeded",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Done,
    RetryAt(i64),
    GiveUp(Condition),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retry_attempts: u32,
    max_event_age_ms: i64,
    retry_delays_ms: Vec<i64>,
}

impl RetryPolicy {
    pub fn new(config: &AsyncConfig) -> RetryPolicy {
        RetryPolicy {
            max_retry_attempts: config.max_retry_attempts,
            max_event_age_ms: config.max_event_age_s as i64 * 1000,
            retry_delays_ms: config
                .retry_delays_s
                .iter()
                .map(|s| *s as i64 * 1000)
                .collect(),
        }
    }

    /// Whether an event accepted at `accepted_ms` is too old to be tried now.
    pub fn expired(&self, accepted_ms: i64, now_ms: i64) -> bool {
        now_ms - accepted_ms > self.max_event_age_ms
    }

    /// Counts the try in `counters` and decides what comes next.
    pub fn after(
        &self,
        counters: &mut Counters,
        attempt: Attempt,
        accepted_ms: i64,
        now_ms: i64,
    ) -> Decision {
        let delay = match attempt {
            Attempt::Success => {
                counters.invokes += 1;
                return Decision::Done;
            }
            Attempt::FunctionError => {
                counters.invokes += 1;
                counters.function_errors += 1;
                counters.throttles = 0;
                if counters.function_errors > self.max_retry_attempts {
                    return Decision::GiveUp(Condition::RetriesExhausted);
                }
                let nth = counters.function_errors as usize - 1;
                let last = self.retry_delays_ms.last().copied().unwrap_or(0);
                self.retry_delays_ms.get(nth).copied().unwrap_or(last)
            }
            Attempt::Throttled => {
                counters.throttles += 1;
                let doublings = counters.throttles.saturating_sub(1).min(20);
                (BACKOFF_FIRST_MS << doublings).min(BACKOFF_MAX_MS)
            }
        };
        let at = now_ms + delay;
        if self.expired(accepted_ms, at) {
            Decision::GiveUp(Condition::EventAgeExceeded)
        } else {
            Decision::RetryAt(at)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(retries: u32, age_s: u64, delays: &[u64]) -> RetryPolicy {
        RetryPolicy::new(&AsyncConfig {
            max_retry_attempts: retries,
            max_event_age_s: age_s,
            retry_delays_s: delays.to_vec(),
            ..AsyncConfig::default()
        })
    }

    #[test]
    fn function_errors_are_retried_with_the_delays_then_given_up() {
        let p = policy(2, 21_600, &[60, 120]);
        let mut c = Counters::default();
        assert_eq!(
            p.after(&mut c, Attempt::FunctionError, 0, 1_000),
            Decision::RetryAt(61_000)
        );
        assert_eq!(
            p.after(&mut c, Attempt::FunctionError, 0, 61_000),
            Decision::RetryAt(181_000)
        );
        assert_eq!(
            p.after(&mut c, Attempt::FunctionError, 0, 181_000),
            Decision::GiveUp(Condition::RetriesExhausted)
        );
        assert_eq!((c.invokes, c.function_errors), (3, 3));
    }

    #[test]
    fn failing_twice_then_succeeding_is_three_invokes() {
        let p = policy(2, 21_600, &[1]);
        let mut c = Counters::default();
        assert_eq!(
            p.after(&mut c, Attempt::FunctionError, 0, 0),
            Decision::RetryAt(1_000)
        );
        assert_eq!(
            p.after(&mut c, Attempt::FunctionError, 0, 1_000),
            Decision::RetryAt(2_000)
        );
        assert_eq!(p.after(&mut c, Attempt::Success, 0, 2_000), Decision::Done);
        assert_eq!(c.invokes, 3);
    }

    #[test]
    fn no_retries_gives_up_at_the_first_error() {
        let p = policy(0, 21_600, &[60]);
        let mut c = Counters::default();
        assert_eq!(
            p.after(&mut c, Attempt::FunctionError, 0, 0),
            Decision::GiveUp(Condition::RetriesExhausted)
        );
    }

    #[test]
    fn throttles_back_off_without_counting_as_attempts() {
        let p = policy(2, 21_600, &[60]);
        let mut c = Counters::default();
        let delays: Vec<_> = (0..12)
            .map(|_| match p.after(&mut c, Attempt::Throttled, 0, 0) {
                Decision::RetryAt(at) => at,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(&delays[..4], [1_000, 2_000, 4_000, 8_000]);
        assert_eq!(*delays.last().unwrap(), 300_000);
        assert_eq!((c.invokes, c.function_errors), (0, 0));
    }

    #[test]
    fn nothing_is_retried_past_the_maximum_age() {
        let p = policy(2, 60, &[120]);
        let mut c = Counters::default();
        assert_eq!(
            p.after(&mut c, Attempt::FunctionError, 0, 0),
            Decision::GiveUp(Condition::EventAgeExceeded)
        );
        let mut c = Counters::default();
        assert_eq!(
            p.after(&mut c, Attempt::Throttled, 0, 59_500),
            Decision::GiveUp(Condition::EventAgeExceeded)
        );
        assert!(p.expired(0, 60_001));
        assert!(!p.expired(0, 60_000));
    }
}
