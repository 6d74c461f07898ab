//! The graceful shutdown hook: SIGTERM runs the function's hook, then the
//! process exits 0 before the host's grace period (300–500 ms on Lambda) ends.
//!
//! SIGTERM is blocked in every thread (the mask is inherited, so it is set
//! before any thread starts) and one watcher thread takes it with `sigwait`:
//! the hook then runs as ordinary code, not inside a signal handler, and may
//! lock, allocate and log. Without a hook SIGTERM keeps its default action.

use std::io;

/// Blocks SIGTERM in the calling thread and every thread it starts later.
pub(crate) fn block_sigterm() -> io::Result<()> {
    let set = sigterm_set();
    // SAFETY: `set` is a valid, initialised signal set; a null old-set is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// Waits until SIGTERM arrives (it must be blocked, see [`block_sigterm`]).
pub(crate) fn wait_for_sigterm() {
    let set = sigterm_set();
    let mut signal = 0;
    // SAFETY: `set` is initialised and `signal` is a valid place to write to.
    while unsafe { libc::sigwait(&set, &mut signal) } != 0 || signal != libc::SIGTERM {}
}

fn sigterm_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set before sigaddset reads it.
    unsafe {
        let mut set = std::mem::zeroed::<libc::sigset_t>();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}
