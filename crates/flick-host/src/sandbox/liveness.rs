//! Whether a runtime process can still take an event, asked at the instant
//! an event would be handed to it.
//!
//! A runtime killed while it waits in `/next` leaves that request pending
//! until the kernel has torn the process down, and the host learns of the
//! death only after that. An event handed over in between would be lost
//! with the process and its caller would get `Runtime.ExitError` for an
//! event no code ever saw. The kernel marks such a process at once: a
//! pending SIGKILL, then the exiting flag, then the zombie state, all in
//! `/proc/PID/stat`, read through a descriptor kept open (a few
//! microseconds, and it keeps pointing at this process whatever reuses its pid).

use std::fs::File;
use std::os::unix::fs::FileExt;

/// `PF_EXITING` in the flags field: the process is in `do_exit`.
const PF_EXITING: u64 = 0x4;
/// SIGKILL's bit in the pending-signals field.
const SIGKILL_PENDING: u64 = 1 << (libc::SIGKILL - 1);

pub struct Probe {
    stat: File,
}

impl Probe {
    pub fn open(pid: u32) -> Option<Probe> {
        File::open(format!("/proc/{pid}/stat"))
            .ok()
            .map(|stat| Probe { stat })
    }

    /// False once the process is dying or gone.
    pub fn alive(&self) -> bool {
        let mut buf = [0u8; 1024];
        match self.stat.read_at(&mut buf, 0) {
            Ok(n) => std::str::from_utf8(&buf[..n]).is_ok_and(stat_says_alive),
            // A reaped process can no longer be read.
            Err(_) => false,
        }
    }
}

/// Reads a `/proc/PID/stat` line: state (field 3), flags (9), pending signals (31).
fn stat_says_alive(stat: &str) -> bool {
    // The command name (field 2) may hold spaces and parentheses; what
    // follows its last ')' is plain.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return true;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let number = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let zombie = matches!(fields.first(), Some(&"Z") | Some(&"X"));
    !zombie && number(6) & PF_EXITING == 0 && number(28) & SIGKILL_PENDING == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(state: &str, flags: u64, signal: u64) -> String {
        let mut fields = vec!["0".to_string(); 50];
        fields[0] = state.into();
        fields[6] = flags.to_string();
        fields[28] = signal.to_string();
        format!("42 (python3 (a) b) {}", fields.join(" "))
    }

    #[test]
    fn reads_state_flags_and_pending_kill() {
        assert!(stat_says_alive(&stat("S", 0x40_0000, 0)));
        assert!(!stat_says_alive(&stat("Z", 0, 0)));
        assert!(!stat_says_alive(&stat("R", 0x40_0004, 0)));
        assert!(!stat_says_alive(&stat("S", 0, 1 << 8)));
        assert!(
            stat_says_alive(&stat("S", 0, 1 << 14)),
            "SIGTERM pending is not death"
        );
    }

    #[test]
    fn this_process_is_alive_and_a_killed_one_is_not() {
        let me = Probe::open(std::process::id()).unwrap();
        assert!(me.alive());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let probe = Probe::open(child.id()).unwrap();
        assert!(probe.alive());
        child.kill().unwrap();
        // Dying at once, but for the instant between the signal's dequeue
        // (the pending bit clears) and do_exit (PF_EXITING is set).
        let since = std::time::Instant::now();
        while probe.alive() && since.elapsed() < std::time::Duration::from_millis(100) {
            std::hint::spin_loop();
        }
        assert!(!probe.alive(), "dying right after SIGKILL is sent");
        child.wait().unwrap();
        assert!(!probe.alive());
    }
}
