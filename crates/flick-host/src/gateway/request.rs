//! An HTTP request as both event builders read it.
//!
//! Owns what the two payload versions share: the facts taken from the wire
//! (method, raw path and query, headers, source address, arrival time), the
//! identifiers API Gateway adds, the parsed query string, and the rule that
//! decides whether a body travels as text or as base64. It does not know
//! either event's shape.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::http::HeaderMap;
use base64::Engine;
use bytes::Bytes;

pub use crate::function::ACCOUNT_ID;
/// The id of the one API the host serves.
pub const API_ID: &str = "flick";

/// One request, read off the wire, with the route it matched.
#[derive(Debug, Clone)]
pub struct GatewayRequest {
    pub method: String,
    /// Still percent-encoded, as received.
    pub raw_path: String,
    /// Without the `?`; empty when there is none.
    pub raw_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// `HTTP/1.1` or `HTTP/1.0`.
    pub protocol: String,
    pub source_ip: String,
    /// The gateway's own id for the request (`apigw-requestid`), not the
    /// Lambda invocation's.
    pub request_id: String,
    pub time: SystemTime,
    /// The matched route key, as written in the manifest.
    pub route_key: String,
    /// The matched path template (`/items/{id}`).
    pub resource: String,
    pub path_parameters: BTreeMap<String, String>,
}

impl GatewayRequest {
    /// The `Host` header, which is the API's domain name.
    pub fn domain_name(&self) -> String {
        self.header("host").unwrap_or("localhost").to_string()
    }

    /// The first label of the domain name.
    pub fn domain_prefix(&self) -> String {
        let domain = self.domain_name();
        domain.split(['.', ':']).next().unwrap_or("").to_string()
    }

    pub fn user_agent(&self) -> String {
        self.header("user-agent").unwrap_or("").to_string()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Header values by lower-case name, in arrival order. Values that are
    /// not UTF-8 are read as Latin-1, as HTTP defines them.
    pub fn header_values(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (name, value) in &self.headers {
            let value = match value.to_str() {
                Ok(v) => v.to_string(),
                Err(_) => value.as_bytes().iter().map(|&b| b as char).collect(),
            };
            out.entry(name.as_str().to_string())
                .or_default()
                .push(value);
        }
        out
    }

    /// Query parameters, decoded, by name, in arrival order.
    pub fn query_values(&self) -> BTreeMap<String, Vec<String>> {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(self.raw_query.as_bytes()) {
            out.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        out
    }

    /// The body as the event carries it: `(body, isBase64Encoded)`, `None`
    /// when there is no body.
    ///
    /// A body travels as text when it is UTF-8 and its content type is
    /// textual (or absent); anything else is base64, so binary uploads reach
    /// the function byte for byte.
    pub fn event_body(&self) -> Option<(String, bool)> {
        if self.body.is_empty() {
            return None;
        }
        let textual = match self.header("content-type") {
            None => true,
            Some(t) => is_text_type(t),
        };
        match std::str::from_utf8(&self.body) {
            Ok(text) if textual => Some((text.to_string(), false)),
            _ => Some((
                base64::engine::general_purpose::STANDARD.encode(&self.body),
                true,
            )),
        }
    }
}

/// Content types whose bodies are text, as API Gateway and Function URLs
/// treat them.
fn is_text_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/javascript"
                | "application/xml"
                | "application/x-www-form-urlencoded"
                | "application/graphql"
                | "application/yaml"
        )
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::time::{Duration, UNIX_EPOCH};

    /// A request like the one in AWS's published samples.
    pub(crate) fn sample() -> GatewayRequest {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("api.example.com"));
        headers.insert("user-agent", HeaderValue::from_static("agent/1.0"));
        headers.append("header1", HeaderValue::from_static("value1"));
        headers.append("header1", HeaderValue::from_static("value2"));
        headers.append("cookie", HeaderValue::from_static("cookie1=a; cookie2=b"));
        headers.insert("content-type", HeaderValue::from_static("text/plain"));
        GatewayRequest {
            method: "POST".into(),
            raw_path: "/my/path".into(),
            raw_query: "parameter1=value1&parameter1=value2&parameter2=value".into(),
            headers,
            body: Bytes::from_static(b"Hello from Lambda"),
            protocol: "HTTP/1.1".into(),
            source_ip: "192.0.2.1".into(),
            request_id: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef".into(),
            time: UNIX_EPOCH + Duration::from_millis(1_583_348_638_390),
            route_key: "ANY /my/{rest+}".into(),
            resource: "/my/{rest+}".into(),
            path_parameters: [("rest".to_string(), "path".to_string())].into(),
        }
    }

    #[test]
    fn text_and_binary_bodies() {
        let mut r = sample();
        assert_eq!(r.event_body(), Some(("Hello from Lambda".into(), false)));
        r.headers
            .insert("content-type", HeaderValue::from_static("image/png"));
        assert_eq!(
            r.event_body(),
            Some(("SGVsbG8gZnJvbSBMYW1iZGE=".into(), true))
        );
        r.headers.remove("content-type");
        r.body = Bytes::from_static(&[0xff, 0x00]);
        assert_eq!(r.event_body(), Some(("/wA=".into(), true)));
        r.body = Bytes::new();
        assert_eq!(r.event_body(), None);
        assert!(is_text_type("application/vnd.api+json; charset=utf-8"));
    }

    #[test]
    fn query_keeps_repeats_and_decodes() {
        let mut r = sample();
        r.raw_query = "a=1&a=2&b=x%20y&c".into();
        let q = r.query_values();
        assert_eq!(q["a"], ["1", "2"]);
        assert_eq!(q["b"], ["x y"]);
        assert_eq!(q["c"], [""]);
    }
}
