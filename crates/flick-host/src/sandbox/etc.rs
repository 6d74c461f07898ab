//! The `/etc/hosts` and `/etc/resolv.conf` a sandbox sees.
//!
//! Extensions listen on, and the Telemetry API delivers to,
//! `sandbox.localdomain` (or `sandbox`), which must resolve inside every
//! execution environment: each sandbox with a mount namespace sees the
//! host's `/etc/hosts` plus those names on loopback. A sandbox with a
//! private network asks the user-mode stack's DNS forwarder
//! ([`super::private_net::DNS`]), since the host's resolver may listen on a
//! loopback address the sandbox cannot reach. The host writes both files
//! once, in its state folder; the shells bind them read-only.

use std::io;
use std::path::{Path, PathBuf};

/// The names every sandbox resolves to its own loopback.
const SANDBOX_NAMES: &str = "sandbox.localdomain sandbox";

/// The files, written; their paths are what shells bind.
#[derive(Debug, Clone)]
pub struct EtcFiles {
    pub hosts: PathBuf,
    /// For sandboxes with a private network.
    pub resolv_private: PathBuf,
}

impl EtcFiles {
    /// Writes the files under `dir` (created), from the host's own.
    pub fn write(dir: &Path) -> io::Result<EtcFiles> {
        std::fs::create_dir_all(dir)?;
        let files = EtcFiles {
            hosts: dir.join("hosts"),
            resolv_private: dir.join("resolv.conf"),
        };
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        write_readable(&files.hosts, &sandbox_hosts(&hosts))?;
        let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        write_readable(&files.resolv_private, &private_resolv(&resolv))?;
        Ok(files)
    }
}

/// Readable by the sandboxes' users, whatever the host's umask.
fn write_readable(path: &Path, text: &str) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
}

fn sandbox_hosts(host: &str) -> String {
    let mut text = String::from(host);
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if !host.contains("localhost") {
        text.push_str("127.0.0.1\tlocalhost\n");
    }
    text.push_str(&format!("127.0.0.1\t{SANDBOX_NAMES}\n"));
    text
}

/// The host's search domains and options, with the forwarder as the one server.
fn private_resolv(host: &str) -> String {
    let mut text = format!("nameserver {}\n", super::private_net::DNS);
    for line in host.lines() {
        let keep = ["search ", "domain ", "options "]
            .iter()
            .any(|k| line.trim_start().starts_with(k));
        if keep {
            text.push_str(line.trim());
            text.push('\n');
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_names_resolve_to_loopback_beside_the_hosts_entries() {
        let text = sandbox_hosts("127.0.0.1 localhost\n10.1.2.3 db.internal");
        assert_eq!(
            text,
            "127.0.0.1 localhost\n10.1.2.3 db.internal\n127.0.0.1\tsandbox.localdomain sandbox\n"
        );
        assert!(sandbox_hosts("").starts_with("127.0.0.1\tlocalhost\n"));
    }

    #[test]
    fn private_resolv_keeps_search_and_options_but_not_the_hosts_servers() {
        let host = "# by systemd\nnameserver 127.0.0.53\nsearch corp.example\noptions edns0\n";
        assert_eq!(
            private_resolv(host),
            "nameserver 10.0.2.3\nsearch corp.example\noptions edns0\n"
        );
    }
}
