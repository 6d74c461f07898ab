//! The reused-buffer handler allocates nothing per invocation in steady
//! state, and the naive one allocates for every row: both are called through
//! `flick::testing` with a counting allocator that counts, per thread, only
//! the allocations made inside the handler.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use example_io_buffers::{naive, reused, State};
use flick::{testing, Bytes, Context, Error};

struct Counting;

thread_local! {
    // Const-initialised and without a destructor: usable inside the allocator.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: defers to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// 200 rows of 4 columns.
fn csv() -> String {
    let mut text = String::from("id, name ,city,amount\n");
    for i in 0..200 {
        text.push_str(&format!("{i},customer \"{i}\", Zürich ,{}.50\n", i * 7));
    }
    text
}

/// The handler's output and the allocations it made. The runtime hands a
/// handler the previous invocation's buffer as the event (see the SDK's
/// codec), so in steady state the event `Vec` has room for the output; the
/// test kit's event is a fresh copy, so that room is made here, outside the
/// count, as the loop would have it.
async fn measured<F>(
    handler: F,
    state: &State,
    mut event: Bytes,
    ctx: Context,
) -> Result<(Bytes, u64), Error>
where
    F: AsyncFn(&State, Bytes, Context) -> Result<Bytes, Error>,
{
    event.reserve(64 * 1024);
    let before = allocations();
    let output = handler(state, event, ctx).await?;
    Ok((output, allocations() - before))
}

/// Allocations per invocation of each of `runs` calls after one warm-up.
fn per_call<F>(handler: F, state: &State, event: &str, runs: usize) -> (Vec<u8>, Vec<u64>)
where
    F: AsyncFn(&State, Bytes, Context) -> Result<Bytes, Error> + Copy,
{
    let call = async |s: &State, e: Bytes, c: Context| measured(handler, s, e, c).await;
    let (first, _) = testing::call_with_state(state, call, event).unwrap();
    let counts = (0..runs)
        .map(|_| testing::call_with_state(state, call, event).unwrap().1)
        .collect();
    (first.0, counts)
}

fn json_lines(output: &[u8]) -> Vec<serde_json::Value> {
    std::str::from_utf8(output)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn reusing_buffers_removes_the_per_invocation_allocations() {
    let event = csv();
    let state = State::new(64 * 1024);

    let (naive_out, naive_counts) = per_call(naive, &state, &event, 100);
    let (reused_out, reused_counts) = per_call(reused, &state, &event, 100);

    assert_eq!(
        json_lines(&reused_out),
        json_lines(&naive_out),
        "same result"
    );
    assert_eq!(json_lines(&reused_out).len(), 200);

    let naive_per_call = naive_counts.iter().sum::<u64>() / naive_counts.len() as u64;
    let reused_total: u64 = reused_counts.iter().sum();
    println!(
        "allocations per invocation ({} B of CSV): naive {naive_per_call}, reused {} (total over {} calls: {reused_total})",
        event.len(),
        reused_total / reused_counts.len() as u64,
        reused_counts.len(),
    );
    assert!(
        naive_per_call >= 1000,
        "the naive handler allocates per row: {naive_per_call}"
    );
    assert_eq!(
        reused_total, 0,
        "steady state allocates nothing: {reused_counts:?}"
    );
}
