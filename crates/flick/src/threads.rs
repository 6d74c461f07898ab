//! Threads that live as long as the process: the extra invocation loops
//! (`AWS_LAMBDA_MAX_CONCURRENCY` > 1) and the shutdown watcher.
//!
//! Started with `pthread_create` directly because `std::thread`'s spawn
//! machinery (names, join packets, spawn hooks, per-thread guard pages
//! bookkeeping) costs ~12 KB in every binary, and none of it is needed for
//! threads that are never joined and never end before the process does.
//! Everything they touch is `'static` (leaked at init), so no lifetime is
//! stretched.

use std::ffi::c_void;
use std::io;

type Task = Box<dyn FnOnce() + Send + 'static>;

/// The stack a thread gets: Rust's own default for its threads. libc's
/// default differs (musl's is 128 KB), and a handler deep in serde or an
/// async state machine needs Rust's.
const STACK_BYTES: usize = 2 * 1024 * 1024;

/// Thread attributes asking for [`STACK_BYTES`] of stack.
struct StackSize(libc::pthread_attr_t);

impl StackSize {
    fn new() -> io::Result<StackSize> {
        // SAFETY: pthread_attr_init initialises the zeroed attributes it is given.
        let mut attr = StackSize(unsafe { std::mem::zeroed() });
        let rc = unsafe { libc::pthread_attr_init(&mut attr.0) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        // SAFETY: `attr` was initialised just above.
        let rc = unsafe { libc::pthread_attr_setstacksize(&mut attr.0, STACK_BYTES) };
        if rc != 0 {
            attr.destroy();
            return Err(io::Error::from_raw_os_error(rc));
        }
        Ok(attr)
    }

    fn destroy(&mut self) {
        // SAFETY: initialised in `new`; pthread_create copied what it needed.
        unsafe { libc::pthread_attr_destroy(&mut self.0) };
    }
}

/// Runs `task` on a new detached thread.
pub(crate) fn spawn(task: impl FnOnce() + Send + 'static) -> io::Result<()> {
    let task: *mut Task = Box::into_raw(Box::new(Box::new(task)));
    // An integer on glibc, a pointer on musl: zero is a valid start for both.
    // SAFETY: pthread_t is plain data on every target; all-zero is valid.
    let mut thread: libc::pthread_t = unsafe { std::mem::zeroed() };
    let mut attr = StackSize::new()?;
    // SAFETY: `start` takes ownership of `task` exactly once; on failure the
    // thread never ran, so ownership comes back here.
    let rc = unsafe { libc::pthread_create(&mut thread, &attr.0, start, task.cast()) };
    attr.destroy();
    if rc != 0 {
        // SAFETY: not handed to any thread (see above).
        drop(unsafe { Box::from_raw(task) });
        return Err(io::Error::from_raw_os_error(rc));
    }
    // SAFETY: `thread` was just created and is joined by no one.
    unsafe { libc::pthread_detach(thread) };
    Ok(())
}

extern "C" fn start(task: *mut c_void) -> *mut c_void {
    // SAFETY: `spawn` passes a `Box<Task>` made with `Box::into_raw`.
    let task = unsafe { Box::from_raw(task.cast::<Task>()) };
    // A panic cannot unwind through this `extern "C"` frame; the loops catch
    // their handlers' panics, so one arriving here is a bug and aborts.
    task();
    std::ptr::null_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_gets_rusts_stack_size_not_libcs() {
        let (tx, rx) = std::sync::mpsc::channel();
        spawn(move || {
            // SAFETY: attributes of the calling thread, initialised by the call.
            let size = unsafe {
                let mut attr: libc::pthread_attr_t = std::mem::zeroed();
                libc::pthread_getattr_np(libc::pthread_self(), &mut attr);
                let mut size = 0;
                libc::pthread_attr_getstacksize(&attr, &mut size);
                libc::pthread_attr_destroy(&mut attr);
                size
            };
            let _ = tx.send(size);
        })
        .unwrap();
        let size = rx.recv().unwrap();
        // glibc's default follows `ulimit -s` (8 MiB), musl's is 128 KiB.
        assert!((STACK_BYTES..2 * STACK_BYTES).contains(&size), "{size}");
    }
}
