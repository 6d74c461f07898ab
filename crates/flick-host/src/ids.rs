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

/// An X-Ray style trace header: `Root=1-<epoch hex>-<96 random bits>;Parent=<64 bits>;Sampled=0`.
pub fn trace_header() -> String {
    let secs = clock::epoch_ms(SystemTime::now()) / 1000;
    let random = random_u128();
    let (root, parent) = (random >> 32, random as u64);
    format!("Root=1-{secs:08x}-{root:024x};Parent={parent:016x};Sampled=0")
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
        let h = trace_header();
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
        assert_ne!(trace_header(), h);
    }
}
