//! The bytes echo with an allocation counter, for the SDK's allocation test:
//! the event `allocations?` is answered with the number of heap allocations
//! the process has made so far; every other event is echoed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use flick::{Bytes, Context, Error};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: defers to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn echo(mut event: Bytes, _: Context) -> Result<Bytes, Error> {
    if event.as_slice() == b"allocations?" {
        // Written into the event's own buffer: answering allocates nothing.
        let count = ALLOCATIONS.load(Ordering::Relaxed);
        event.clear();
        let mut digits = [0u8; 20];
        let mut n = count;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        event.extend_from_slice(&digits[i..]);
    }
    Ok(event)
}

fn main() {
    flick::run_blocking(echo)
}
