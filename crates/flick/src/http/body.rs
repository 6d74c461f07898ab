//! Bodies across the JSON boundary: an event's body is text or base64, and a
//! response body goes back as text only when it is text.
//!
//! Owns the rule for "text": a textual `Content-Type` (or none) and valid
//! UTF-8, and no `Content-Encoding` (compressed bytes are never text). Every
//! other body travels base64, so binary bodies round-trip unchanged.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use http::HeaderMap;

use crate::error::Error;

/// The bytes of an event's body.
pub(crate) fn decode(body: Option<String>, base64: bool) -> Result<Vec<u8>, Error> {
    match body {
        None => Ok(Vec::new()),
        Some(text) if !base64 => Ok(text.into_bytes()),
        Some(encoded) => STANDARD.decode(encoded.as_bytes()).map_err(|e| {
            Error::client(format!("the event's body is marked base64 but is not: {e}"))
                .with_type("InvalidEvent")
        }),
    }
}

/// A response body as the event sources want it: `(body, isBase64Encoded)`.
pub(crate) fn encode(headers: &HeaderMap, body: Vec<u8>) -> (String, bool) {
    if textual(headers) {
        match String::from_utf8(body) {
            Ok(text) => return (text, false),
            Err(e) => return (STANDARD.encode(e.as_bytes()), true),
        }
    }
    (STANDARD.encode(&body), true)
}

fn textual(headers: &HeaderMap) -> bool {
    if headers.contains_key(http::header::CONTENT_ENCODING) {
        return false;
    }
    let Some(content_type) = headers.get(http::header::CONTENT_TYPE) else {
        return true;
    };
    let Ok(content_type) = content_type.to_str() else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
                | "image/svg+xml"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_stays_text_and_bytes_go_base64() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            "application/json; charset=utf-8".parse().unwrap(),
        );
        assert_eq!(encode(&h, b"{}".to_vec()), ("{}".into(), false));
        h.insert("content-type", "image/png".parse().unwrap());
        assert_eq!(encode(&h, vec![0x89, 0x50]), ("iVA=".into(), true));
        h.insert("content-type", "text/plain".parse().unwrap());
        assert_eq!(encode(&h, vec![0xff]), ("/w==".into(), true));
        h.insert("content-encoding", "gzip".parse().unwrap());
        assert!(encode(&h, b"x".to_vec()).1);
        assert_eq!(decode(Some("iVA=".into()), true).unwrap(), vec![0x89, 0x50]);
        assert!(decode(Some("***".into()), true).is_err());
    }
}
