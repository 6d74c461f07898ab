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

/// Runs `task` on a new detached thread.
pub(crate) fn spawn(task: impl FnOnce() + Send + 'static) -> io::Result<()> {
    let task: *mut Task = Box::into_raw(Box::new(Box::new(task)));
    // An integer on glibc, a pointer on musl: zero is a valid start for both.
    // SAFETY: pthread_t is plain data on every target; all-zero is valid.
    let mut thread: libc::pthread_t = unsafe { std::mem::zeroed() };
    // SAFETY: `start` takes ownership of `task` exactly once; on failure the
    // thread never ran, so ownership comes back here.
    let rc = unsafe { libc::pthread_create(&mut thread, std::ptr::null(), start, task.cast()) };
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
