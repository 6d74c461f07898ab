//! The queue store alone, without HTTP: how many events per second 64
//! concurrent producers get committed (durably, `synchronous=FULL`) with
//! group commit and with one commit per event. Used by `bench/queue/run`.
//!
//! `cargo run --release -p flick-host --example queue_store -- DIR EVENTS MAX_BATCH`
//! prints one JSON line: events, seconds, events_per_s, commits.

use std::sync::Arc;
use std::time::Instant;

use flick_host::queue::sqlite::{SqliteStore, StoreOptions};
use flick_host::queue::{now_ms, NewEvent, QueueStore};

const PRODUCERS: usize = 64;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, events, max_batch] = &args[..] else {
        eprintln!("usage: queue_store DIR EVENTS MAX_BATCH");
        std::process::exit(2);
    };
    let events: usize = events.parse().expect("EVENTS is a number");
    let max_batch: usize = max_batch.parse().expect("MAX_BATCH is a number");
    let path = std::path::Path::new(dir).join("queue.db");
    let store =
        Arc::new(SqliteStore::open(&path, StoreOptions { max_batch }).expect("open the store"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("a runtime");
    let started = Instant::now();
    runtime.block_on(async {
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in (p..events).step_by(PRODUCERS) {
                        let event = NewEvent {
                            id: format!("event-{i}"),
                            function: "sink".into(),
                            payload: br#"{"hello":"world"}"#.as_slice().into(),
                            client_context: None,
                            tenant_id: None,
                            trace: None,
                            accepted_ms: now_ms(),
                        };
                        store.enqueue(event, usize::MAX).await.expect("enqueue");
                    }
                })
            })
            .collect();
        for p in producers {
            p.await.expect("producer");
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"events\":{events},\"seconds\":{seconds:.3},\"events_per_s\":{:.0},\"commits\":{}}}",
        events as f64 / seconds,
        store.commits()
    );
    runtime.block_on(store.close()).expect("close");
}
