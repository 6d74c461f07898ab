//! The embedded store's in-memory index of its events: which are due, which
//! wait for a retry time, how many are in flight or being committed, per
//! function. It lets `claim` answer without a query and `max_queued` be
//! checked without a count. It mirrors the database and is rebuilt from it
//! at every start; it never decides what is durable.

use std::collections::{BTreeMap, HashMap};

use super::{Claim, QueuedEvent};

#[derive(Default)]
pub(super) struct Ready {
    functions: HashMap<String, FunctionQueue>,
}

#[derive(Default)]
struct FunctionQueue {
    /// Due events by sequence number: oldest first.
    due: BTreeMap<i64, QueuedEvent>,
    /// Events waiting for their retry time, by (time, sequence number).
    waiting: BTreeMap<(i64, i64), QueuedEvent>,
    in_flight: usize,
    /// Acceptances counted against the limit while their commit is under way.
    reserved: usize,
}

impl FunctionQueue {
    fn depth(&self) -> usize {
        self.due.len() + self.waiting.len() + self.in_flight + self.reserved
    }
}

impl Ready {
    fn function(&mut self, name: &str) -> &mut FunctionQueue {
        if !self.functions.contains_key(name) {
            self.functions
                .insert(name.to_string(), FunctionQueue::default());
        }
        self.functions.get_mut(name).expect("inserted above")
    }

    /// Counts one more event of `function` unless it already has `limit`.
    pub(super) fn reserve(&mut self, function: &str, limit: usize) -> bool {
        let q = self.function(function);
        let room = q.depth() < limit;
        if room {
            q.reserved += 1;
        }
        room
    }

    pub(super) fn unreserve(&mut self, function: &str) {
        let q = self.function(function);
        q.reserved = q.reserved.saturating_sub(1);
    }

    /// Enters a committed event; `reserved` when `reserve` counted it before.
    pub(super) fn insert(&mut self, event: QueuedEvent, reserved: bool) {
        let q = self.function(&event.event.function);
        if reserved {
            q.reserved = q.reserved.saturating_sub(1);
        }
        q.waiting.insert((event.not_before_ms, event.seq), event);
    }

    /// Takes the oldest due event, or says when the next one is due.
    pub(super) fn claim(&mut self, function: &str, now_ms: i64) -> Claim {
        let q = self.function(function);
        while let Some(entry) = q.waiting.first_entry() {
            if entry.key().0 > now_ms {
                break;
            }
            let event = entry.remove();
            q.due.insert(event.seq, event);
        }
        match q.due.pop_first() {
            Some((_, event)) => {
                q.in_flight += 1;
                Claim::Event(event)
            }
            None => Claim::Wait {
                until_ms: q.waiting.first_key_value().map(|(k, _)| k.0),
            },
        }
    }

    /// A claimed event is no longer in flight (settled, or put back by `insert`).
    pub(super) fn finish(&mut self, function: &str) {
        let q = self.function(function);
        q.in_flight = q.in_flight.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{Counters, NewEvent};

    fn event(seq: i64, not_before_ms: i64) -> QueuedEvent {
        QueuedEvent {
            seq,
            event: NewEvent {
                id: format!("id-{seq}"),
                function: "f".into(),
                payload: "{}".into(),
                client_context: None,
                tenant_id: None,
                trace: None,
                accepted_ms: 0,
            },
            counters: Counters::default(),
            not_before_ms,
        }
    }

    fn claimed(c: Claim) -> i64 {
        match c {
            Claim::Event(e) => e.seq,
            Claim::Wait { .. } => panic!("nothing claimed"),
        }
    }

    #[test]
    fn oldest_due_first_and_waits_for_retry_time() {
        let mut r = Ready::default();
        r.insert(event(2, 0), false);
        r.insert(event(1, 0), false);
        r.insert(event(3, 500), false);
        assert_eq!(claimed(r.claim("f", 100)), 1);
        assert_eq!(claimed(r.claim("f", 100)), 2);
        assert!(matches!(
            r.claim("f", 100),
            Claim::Wait {
                until_ms: Some(500)
            }
        ));
        assert_eq!(claimed(r.claim("f", 500)), 3);
        assert!(matches!(r.claim("g", 0), Claim::Wait { until_ms: None }));
    }

    #[test]
    fn limit_counts_reserved_waiting_and_in_flight() {
        let mut r = Ready::default();
        assert!(r.reserve("f", 2));
        assert!(r.reserve("f", 2));
        assert!(!r.reserve("f", 2), "two commits under way");
        r.unreserve("f");
        r.insert(event(1, 0), true);
        assert!(r.reserve("f", 2));
        assert!(!r.reserve("f", 2), "one queued, one reserved");
        r.claim("f", 0);
        assert!(!r.reserve("f", 2), "in flight still counts");
        r.finish("f");
        assert!(r.reserve("f", 2));
    }
}
