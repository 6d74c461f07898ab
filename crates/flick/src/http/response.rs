//! A service's response as the JSON result each event source expects.
//!
//! Owns the three shapes: payload 2.0 (HTTP API, Function URL) with
//! comma-joined headers and `Set-Cookie` values in `cookies`; REST 1.0 with
//! every value in `multiValueHeaders`; ALB with `statusDescription`, and
//! multi-value headers only when the target group sent them (ALB answers in
//! the form it asked in). Bodies go through `body::encode`.

use std::collections::BTreeMap;

use http::header::SET_COOKIE;
use http::response::Parts;
use serde::Serialize;

use super::body;
use super::extensions::Source;

/// How to shape the result: the source, and for ALB whether the event came
/// with multi-value headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) source: Source,
    pub(crate) multi_value: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Result<'a> {
    status_code: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    status_description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<BTreeMap<&'a str, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    multi_value_headers: Option<BTreeMap<&'a str, Vec<&'a str>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cookies: Option<Vec<&'a str>>,
    body: String,
    is_base64_encoded: bool,
}

/// Writes the result for `parts` and `bytes` into `out`.
pub(crate) fn write(shape: Shape, parts: &Parts, bytes: Vec<u8>, out: &mut Vec<u8>) {
    let (body, is_base64_encoded) = body::encode(&parts.headers, bytes);
    let mut result = Result {
        status_code: parts.status.as_u16(),
        status_description: None,
        headers: None,
        multi_value_headers: None,
        cookies: None,
        body,
        is_base64_encoded,
    };
    let multi = || {
        let mut map: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (name, value) in &parts.headers {
            map.entry(name.as_str()).or_default().push(text(value));
        }
        map
    };
    let joined = |skip_cookies: bool| {
        let mut map: BTreeMap<&str, String> = BTreeMap::new();
        for (name, value) in &parts.headers {
            if skip_cookies && name == SET_COOKIE {
                continue;
            }
            map.entry(name.as_str())
                .and_modify(|v| {
                    v.push(',');
                    v.push_str(text(value));
                })
                .or_insert_with(|| text(value).to_owned());
        }
        map
    };
    match shape.source {
        Source::HttpApi | Source::FunctionUrl | Source::Direct => {
            result.headers = Some(joined(true));
            let cookies: Vec<&str> = parts.headers.get_all(SET_COOKIE).iter().map(text).collect();
            result.cookies = (!cookies.is_empty()).then_some(cookies);
        }
        Source::RestApi => result.multi_value_headers = Some(multi()),
        Source::Alb => {
            let reason = parts.status.canonical_reason().unwrap_or("");
            result.status_description = Some(format!("{} {reason}", parts.status.as_u16()));
            if shape.multi_value {
                result.multi_value_headers = Some(multi());
            } else {
                result.headers = Some(joined(false));
            }
        }
    }
    out.clear();
    // Only strings, numbers and string-keyed maps: writing them into a
    // `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, &result);
}

/// The JSON prelude of a streamed HTTP response (`statusCode`, `headers`,
/// `cookies`) and the 8 NUL bytes that end it, into `out`.
pub(crate) fn write_prelude(parts: &Parts, out: &mut Vec<u8>) {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Prelude<'a> {
        status_code: u16,
        headers: BTreeMap<&'a str, String>,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        cookies: Vec<&'a str>,
    }
    let mut headers: BTreeMap<&str, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        if name == SET_COOKIE {
            continue;
        }
        headers
            .entry(name.as_str())
            .and_modify(|v| {
                v.push(',');
                v.push_str(text(value));
            })
            .or_insert_with(|| text(value).to_owned());
    }
    let prelude = Prelude {
        status_code: parts.status.as_u16(),
        headers,
        cookies: parts.headers.get_all(SET_COOKIE).iter().map(text).collect(),
    };
    out.clear();
    let _ = serde_json::to_writer(&mut *out, &prelude);
    out.extend_from_slice(&[0; 8]);
}

/// A header value as text; values that are not visible ASCII become empty
/// (the event sources' JSON cannot carry them faithfully either).
fn text(value: &http::HeaderValue) -> &str {
    value.to_str().unwrap_or_default()
}
