//! The unprivileged user each sandbox runs as, as every Lambda execution
//! environment runs its function as a user of its own.
//!
//! A host that runs as root gives every sandbox a uid (and gid) of its own
//! from `server.sandbox_uids`: the kernel then keeps a sandbox from reading
//! another's `/proc/PID/environ`, signalling it, or the host, and a
//! sandbox's Runtime API can tell its own runtime's connections from any
//! other's. Uids are handed out in turn and wrap around the range, so one
//! comes back only after as many sandboxes have been made as the range
//! holds. A host that is not root cannot change users; its sandboxes run as
//! the host's user, and only the other protections (own process group,
//! cgroup, `/tmp`) hold.

use std::sync::atomic::{AtomicU32, Ordering};

/// The default range: far above the uids of ordinary accounts and of the
/// usual subordinate-uid ranges.
pub const DEFAULT_RANGE: (u32, u32) = (2_000_000, 2_999_999);

#[derive(Debug)]
pub struct SandboxUsers {
    first: u32,
    count: u32,
    next: AtomicU32,
}

impl SandboxUsers {
    /// The users of `range` (inclusive), if this host may switch to them.
    pub fn new(range: (u32, u32)) -> Option<SandboxUsers> {
        if !super::host_is_root() {
            return None;
        }
        Some(SandboxUsers {
            first: range.0,
            count: range.1 - range.0 + 1,
            next: AtomicU32::new(0),
        })
    }

    /// The next sandbox's uid (and gid).
    pub fn next(&self) -> u32 {
        self.first + self.next.fetch_add(1, Ordering::Relaxed) % self.count
    }

    pub fn describe(&self) -> String {
        format!(
            "a user of its own per sandbox (uids {} to {})",
            self.first,
            self.first + (self.count - 1)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_go_round_the_range() {
        let users = SandboxUsers {
            first: 10,
            count: 3,
            next: AtomicU32::new(0),
        };
        let got: Vec<u32> = (0..5).map(|_| users.next()).collect();
        assert_eq!(got, [10, 11, 12, 10, 11]);
    }
}
