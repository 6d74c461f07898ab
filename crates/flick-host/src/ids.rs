//! Fresh identifiers: request ids (UUID v4) and X-Ray style trace headers.
//!
//! They come from a per-thread generator that is seeded once from the OS,
//! not from a `getrandom` call per id: a gateway request draws two ids, and
//! those system calls showed up in the host's profile at a few thousand
//! requests per second. None of these ids is a secret; they only have to be
//! unique, also across restarts (queued events keep theirs on disk).

use std::cell::RefCell;
use std::time::SystemTime;

use crate::clock;

thread_local! {
    static RNG: RefCell<fastrand::Rng> = RefCell::new(seeded());
}

fn seeded() -> fastrand::Rng {
    // One OS draw per thread, through uuid's own getrandom.
    fastrand::Rng::with_seed(uuid::Uuid::new_v4().as_u64_pair().0)
}

fn random_u128() -> u128 {
    RNG.with(|rng| rng.borrow_mut().u128(..))
}

/// A random (version 4) UUID.
pub fn uuid() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(random_u128().to_le_bytes()).into_uuid()
}

/// An id in the form API Gateway's HTTP APIs give requests
/// (`apigw-requestid`): 11 random bytes in base64, e.g. `YxHBEhzwoAMEV2Q=`.
pub fn apigw_request_id() -> String {
    use base64::Engine;
    let bytes = random_u128().to_le_bytes();
    base64::engine::general_purpose::STANDARD.encode(&bytes[..11])
}

/// The X-Ray trace header an invocation gets:
/// `Root=1-<epoch hex>-<96 bits>;Parent=<64 bits>;Sampled=<0|1>`.
///
/// A caller's `X-Amzn-Trace-Id` that names a well-formed root is passed on,
/// as Lambda does in its default `PassThrough` mode: its root, its parent
/// (or a fresh one, standing for the segment Lambda would add), its sampling
/// decision (or the function's). Anything else starts a trace here, sampled
/// when the function has active tracing (Lambda samples by the X-Ray
/// sampling rules then; the host samples every request).
pub fn trace_header(caller: Option<&str>, active: bool) -> String {
    let field = |key: &str| {
        caller?
            .split(';')
            .find_map(|pair| pair.trim().strip_prefix(key)?.strip_prefix('='))
    };
    let root = field("Root").filter(|root| {
        let mut parts = root.split('-');
        parts.next() == Some("1")
            && is_hex(parts.next(), 8)
            && is_hex(parts.next(), 24)
            && parts.next().is_none()
    });
    let random = random_u128();
    let Some(root) = root else {
        // Not a trace of the caller's: nothing of its header is kept.
        let secs = clock::epoch_ms(SystemTime::now()) / 1000;
        let (root, parent) = (random >> 32, random as u64);
        let sampled = u8::from(active);
        return format!("Root=1-{secs:08x}-{root:024x};Parent={parent:016x};Sampled={sampled}");
    };
    let root = root.to_ascii_lowercase();
    let parent = field("Parent").filter(|p| is_hex(Some(p), 16));
    let parent = parent.map_or_else(
        || format!("{:016x}", random as u64),
        str::to_ascii_lowercase,
    );
    let sampled = match field("Sampled") {
        Some("1") => true,
        Some("0") => false,
        _ => active,
    };
    let sampled = u8::from(sampled);
    format!("Root={root};Parent={parent};Sampled={sampled}")
}

fn is_hex(part: Option<&str>, len: usize) -> bool {
    part.is_some_and(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4_and_differ() {
        let (a, b) = (uuid(), uuid());
        assert_eq!(a.get_version_num(), 4);
        assert_eq!(a.get_variant(), uuid::Variant::RFC4122);
        assert_ne!(a, b);
    }

    #[test]
    fn threads_draw_different_ids() {
        let here = uuid();
        let there = std::thread::spawn(uuid).join().unwrap();
        assert_ne!(here, there);
    }

    #[test]
    fn apigw_ids_have_http_api_shape() {
        let id = apigw_request_id();
        assert_eq!(id.len(), 16);
        assert!(id.ends_with('=') && !id.ends_with("=="));
        assert_ne!(apigw_request_id(), id);
    }

    #[test]
    fn trace_header_has_xray_shape() {
        let h = trace_header(None, false);
        let (root, rest) = h.strip_prefix("Root=1-").unwrap().split_once(';').unwrap();
        let (epoch, random) = root.split_once('-').unwrap();
        assert_eq!((epoch.len(), random.len()), (8, 24));
        let parent = rest
            .strip_prefix("Parent=")
            .unwrap()
            .strip_suffix(";Sampled=0")
            .unwrap();
        assert_eq!(parent.len(), 16);
        assert!(epoch
            .chars()
            .chain(random.chars())
            .chain(parent.chars())
            .all(|c| c.is_ascii_hexdigit()));
        assert_ne!(trace_header(None, false), h);
        assert!(trace_header(None, true).ends_with(";Sampled=1"));
    }

    #[test]
    fn a_callers_trace_is_passed_on_when_it_names_a_root() {
        let root = "1-5759e988-bd862e3fe1be46a994272793";
        let full = format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=1");
        assert_eq!(trace_header(Some(&full), false), full);
        let sampled_by_function = trace_header(Some(&format!("Self=1-1-2;Root={root}")), true);
        assert!(sampled_by_function.starts_with(&format!("Root={root};Parent=")));
        assert!(
            sampled_by_function.ends_with(";Sampled=1"),
            "{sampled_by_function}"
        );
        let unsampled = trace_header(Some(&format!("Root={root};Parent=zz;Sampled=0")), true);
        assert!(unsampled.ends_with(";Sampled=0") && !unsampled.contains("zz"));
        for bad in [
            "Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=1-5759e988-bd862e3fe1be46a99427279;Parent=53995c3f42cd8ad8;Sampled=1",
            "Root=2-5759e988-bd862e3fe1be46a994272793;Sampled=1",
            "Root=1-5759e98g-bd862e3fe1be46a994272793;Sampled=1",
        ] {
            let fresh = trace_header(Some(bad), false);
            assert!(!fresh.contains("5759e98"), "{bad}");
            assert!(
                !fresh.contains("53995c3f42cd8ad8"),
                "no parent from a bad header: {bad}"
            );
            assert!(
                fresh.ends_with(";Sampled=0"),
                "no sampling from a bad header: {bad}"
            );
        }
    }
}
