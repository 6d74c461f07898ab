//! A Rust function as Lambda wants it: the `lambda` profile (size-optimised,
//! LTO, abort on panic), linked statically — with musl where its target is
//! installed, else glibc with `+crt-static` — so that it needs nothing of
//! the machine it lands on, stripped, named `bootstrap`. Before stripping,
//! its symbols say which crates take the room.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use super::{run_step, Built};

const MUSL: &str = "x86_64-unknown-linux-musl";
const GNU: &str = "x86_64-unknown-linux-gnu";
const PROFILE: &str = "lambda";

pub fn build(package: &str, bin: &str, workdir: &Path, out: &Path) -> Result<Built, String> {
    let target = if musl_installed() { MUSL } else { GNU };
    let mut cargo = Command::new("cargo");
    cargo
        .current_dir(workdir)
        .args(["build", "--profile", PROFILE, "-p", package, "--bin", bin])
        .args(["--target", target])
        // The symbols are read before this command strips the copy it keeps.
        .args(["--config", &format!("profile.{PROFILE}.strip=false")]);
    if target == GNU {
        let flags = std::env::var("RUSTFLAGS").unwrap_or_default();
        cargo.env(
            "RUSTFLAGS",
            format!("{flags} -C target-feature=+crt-static").trim(),
        );
    }
    run_step(&mut cargo)?;
    let built = super::cargo_target_dir(workdir)
        .ok_or("cargo metadata named no target folder")?
        .join(target)
        .join(PROFILE)
        .join(bin);
    let contributors = crate_sizes(&built);
    let bootstrap = out.join("bootstrap");
    run_step(Command::new("strip").arg("-o").arg(&bootstrap).arg(&built))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("cannot make {} executable: {e}", bootstrap.display()))?;
    Ok(Built {
        binary: Some(bootstrap),
        contributors,
    })
}

fn musl_installed() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == MUSL)
        })
}

/// The room each crate takes in `binary`, from its symbols (`nm`, sizes
/// and demangled names): the ten biggest. Empty where `nm` cannot tell.
fn crate_sizes(binary: &Path) -> Vec<(String, u64)> {
    let Ok(out) = Command::new("nm")
        .args(["--size-sort", "-S", "-C"])
        .arg(binary)
        .output()
    else {
        return Vec::new();
    };
    let mut sizes: HashMap<String, u64> = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // ADDRESS SIZE TYPE NAME
        let mut parts = line.splitn(4, ' ');
        let (Some(_), Some(size), Some(_), Some(name)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        if let Ok(size) = u64::from_str_radix(size, 16) {
            *sizes.entry(crate_of(name)).or_default() += size;
        }
    }
    let mut sizes: Vec<_> = sizes.into_iter().collect();
    sizes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    sizes.truncate(10);
    sizes
}

/// The crate a demangled Rust symbol belongs to: `tokio` of
/// `tokio::runtime::...`, the implementing type's crate of
/// `<hyper::Body as http_body::Body>::poll`; C symbols are `[C]`.
fn crate_of(symbol: &str) -> String {
    let path = symbol
        .trim_start_matches('<')
        .trim_start_matches('&')
        .trim_start_matches("mut ");
    match path.split_once("::") {
        Some((first, _))
            if !first.is_empty() && first.chars().all(|c| c.is_alphanumeric() || c == '_') =>
        {
            first.to_string()
        }
        _ => "[C]".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_are_put_to_their_crate() {
        assert_eq!(crate_of("tokio::runtime::park::Inner::park"), "tokio");
        assert_eq!(
            crate_of("<hyper::body::Incoming as http_body::Body>::poll_frame"),
            "hyper"
        );
        assert_eq!(
            crate_of("<&mut serde_json::de::Deserializer<R>>::parse"),
            "serde_json"
        );
        assert_eq!(crate_of("memcpy"), "[C]");
    }
}
