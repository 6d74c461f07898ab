//! A function's result turned back into the HTTP response API Gateway sends.
//!
//! Owns the response rules of both payload versions: `statusCode`,
//! `headers` and `multiValueHeaders` (merged, the multi-value list winning
//! for a name in both), `cookies` as one `Set-Cookie` each (2.0), base64
//! bodies, and 2.0's bare-result rule (a result that is not an object with a
//! `statusCode` is a 200 `application/json` whose body is the result itself).
//! A result that breaks the rules is [`Malformed`]; the caller answers 502.
//! A response the runtime streamed in Lambda's HTTP integration format (a
//! JSON prelude, eight NUL bytes, the body) gets its head from the prelude,
//! [`prelude`] as soon as it has arrived, or [`to_http`] from the whole.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{Map, Value};

use super::config::PayloadVersion;

/// Why a result cannot be an HTTP response; logged, never sent.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

/// What ends the prelude of a streamed HTTP response.
const PRELUDE_END: [u8; 8] = [0; 8];

/// What the start of a streamed response says about its head.
pub enum Prelude {
    /// A whole prelude: the response with an empty body, and where in the
    /// bytes seen so far the body begins.
    Complete(Result<Response, Malformed>, usize),
    /// It may be a prelude still arriving.
    Partial,
    /// Not the HTTP integration format: the result is read whole.
    Absent,
}

/// Reads the head of a response from the first bytes the runtime streamed.
pub fn prelude(version: PayloadVersion, start: &[u8]) -> Prelude {
    if start.first() != Some(&b'{') {
        return Prelude::Absent;
    }
    match split_prelude(start) {
        Some((prelude, body_at)) => Prelude::Complete(structured(version, &prelude), body_at),
        None if prelude_end(start).is_none() => Prelude::Partial,
        None => Prelude::Absent,
    }
}

pub fn to_http(version: PayloadVersion, result: &[u8]) -> Result<Response, Malformed> {
    if let Some((prelude, body_at)) = split_prelude(result) {
        let mut resp = structured(version, &prelude)?;
        *resp.body_mut() = Body::from(result[body_at..].to_vec());
        return Ok(resp);
    }
    let value: Value = serde_json::from_slice(result)
        .map_err(|e| Malformed(format!("the result is not JSON: {e}")))?;
    match (version, value) {
        (_, Value::Object(o)) if o.contains_key("statusCode") => structured(version, &o),
        (PayloadVersion::V2, _) => Ok(bare(result)),
        (PayloadVersion::V1, _) => Err(Malformed(
            "a payload 1.0 result must be an object with a statusCode".into(),
        )),
    }
}

/// `{statusCode, headers, cookies}`, eight NUL bytes, then the body as it
/// is: the prelude and where the body begins. JSON text never holds a NUL
/// byte, so no JSON result is taken for one.
fn split_prelude(result: &[u8]) -> Option<(Map<String, Value>, usize)> {
    if result.first() != Some(&b'{') {
        return None;
    }
    let at = prelude_end(result)?;
    let Ok(Value::Object(mut prelude)) = serde_json::from_slice(&result[..at]) else {
        return None;
    };
    prelude.entry("statusCode").or_insert(Value::from(200));
    // The body is what follows the prelude, never a field of it.
    prelude.remove("body");
    prelude.remove("isBase64Encoded");
    Some((prelude, at + PRELUDE_END.len()))
}

fn prelude_end(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(PRELUDE_END.len())
        .position(|w| w == PRELUDE_END)
}

/// 2.0's inferred response: the result, as it came, is the body.
fn bare(result: &[u8]) -> Response {
    let mut resp = Response::new(Body::from(result.to_vec()));
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    resp
}

fn structured(version: PayloadVersion, o: &Map<String, Value>) -> Result<Response, Malformed> {
    let status = o["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or_else(|| {
            Malformed(format!(
                "statusCode {} is not an HTTP status",
                o["statusCode"]
            ))
        })?;
    let base64 = match o.get("isBase64Encoded") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(Malformed(format!(
                "isBase64Encoded {other} is not a boolean"
            )))
        }
    };
    let body = match o.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) if base64 => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|e| Malformed(format!("body is not base64: {e}")))?,
        Some(Value::String(s)) => s.clone().into_bytes(),
        Some(other) => return Err(Malformed(format!("body must be a string, not {other}"))),
    };

    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    let multi = object(o, "multiValueHeaders")?;
    for (name, values) in &multi {
        let values = match values {
            Value::Array(a) => a.iter().collect(),
            single => vec![single],
        };
        for v in values {
            h.append(header_name(name)?, header_value(name, v)?);
        }
    }
    for (name, value) in &object(o, "headers")? {
        if !multi.contains_key(name) {
            h.insert(header_name(name)?, header_value(name, value)?);
        }
    }
    if version == PayloadVersion::V2 {
        match o.get("cookies") {
            None | Some(Value::Null) => {}
            Some(Value::Array(cookies)) => {
                for c in cookies {
                    h.append("set-cookie", header_value("set-cookie", c)?);
                }
            }
            Some(other) => return Err(Malformed(format!("cookies must be a list, not {other}"))),
        }
    }
    Ok(resp)
}

fn object(o: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, Malformed> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(other) => Err(Malformed(format!("{key} must be an object, not {other}"))),
    }
}

fn header_name(name: &str) -> Result<HeaderName, Malformed> {
    HeaderName::try_from(name).map_err(|_| Malformed(format!("`{name}` is not a header name")))
}

/// Strings, numbers and booleans are accepted as header values, as API
/// Gateway accepts them.
fn header_value(name: &str, v: &Value) -> Result<HeaderValue, Malformed> {
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => return Err(Malformed(format!("header {name}: {other} is not a value"))),
    };
    HeaderValue::try_from(text).map_err(|_| Malformed(format!("header {name}: not a valid value")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn parts(version: PayloadVersion, result: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let resp = to_http(version, result.as_bytes()).unwrap();
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        let body = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        (status, headers, body)
    }

    #[tokio::test]
    async fn streamed_prelude_then_raw_body() {
        let streamed = "{\"statusCode\":201,\"headers\":{\"content-type\":\"text/plain\"},\"cookies\":[\"a=1\"]}\0\0\0\0\0\0\0\0one\ntwo\0three";
        for version in [PayloadVersion::V2, PayloadVersion::V1] {
            let (status, headers, body) = parts(version, streamed).await;
            assert_eq!(status, 201);
            assert!(headers.contains(&("content-type".into(), "text/plain".into())));
            assert_eq!(body, b"one\ntwo\0three");
        }
        let (status, headers, _) = parts(PayloadVersion::V2, streamed).await;
        assert_eq!(status, 201);
        assert!(headers.contains(&("set-cookie".into(), "a=1".into())));
        // No statusCode in the prelude means 200, as on Lambda.
        let (status, _, body) = parts(PayloadVersion::V2, "{}\0\0\0\0\0\0\0\0x").await;
        assert_eq!((status, body.as_slice()), (200, &b"x"[..]));
    }

    #[test]
    fn prelude_is_known_as_soon_as_it_ends() {
        let v = PayloadVersion::V2;
        assert!(matches!(
            prelude(v, b"{\"statusCode\":201"),
            Prelude::Partial
        ));
        assert!(matches!(prelude(v, b"[1,2"), Prelude::Absent));
        // NUL bytes after something that is not a JSON object: not a prelude.
        assert!(matches!(
            prelude(v, b"{oops\0\0\0\0\0\0\0\0"),
            Prelude::Absent
        ));
        let start = b"{\"statusCode\":201}\0\0\0\0\0\0\0\0body";
        match prelude(v, start) {
            Prelude::Complete(Ok(resp), at) => {
                assert_eq!(resp.status().as_u16(), 201);
                assert_eq!(&start[at..], b"body");
            }
            _ => panic!("a whole prelude was not recognised"),
        }
        let bad = b"{\"statusCode\":\"x\"}\0\0\0\0\0\0\0\0";
        assert!(matches!(prelude(v, bad), Prelude::Complete(Err(_), _)));
    }

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    #[tokio::test]
    async fn v2_bare_results() {
        for result in [r#"{"hello":"world"}"#, r#""text""#, "[1,2]", "42"] {
            let (status, headers, body) = parts(PayloadVersion::V2, result).await;
            assert_eq!(status, 200);
            assert_eq!(headers, h(&[("content-type", "application/json")]));
            assert_eq!(body, result.as_bytes());
        }
    }

    #[tokio::test]
    async fn v2_structured_with_cookies_and_base64() {
        let (status, headers, body) = parts(
            PayloadVersion::V2,
            r#"{"statusCode":201,"headers":{"content-type":"image/png","x-n":5},
                "cookies":["a=1; Path=/","b=2"],"body":"AAH/","isBase64Encoded":true}"#,
        )
        .await;
        assert_eq!(status, 201);
        assert_eq!(
            headers,
            h(&[
                ("content-type", "image/png"),
                ("x-n", "5"),
                ("set-cookie", "a=1; Path=/"),
                ("set-cookie", "b=2")
            ])
        );
        assert_eq!(body, [0, 1, 255]);
    }

    #[tokio::test]
    async fn v1_multi_value_headers_win() {
        let (status, headers, body) = parts(
            PayloadVersion::V1,
            r#"{"statusCode":200,"headers":{"x-a":"one","x-b":"b"},
                "multiValueHeaders":{"x-a":["1","2"]},"body":"hi"}"#,
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(headers, h(&[("x-a", "1"), ("x-a", "2"), ("x-b", "b")]));
        assert_eq!(body, b"hi");
    }

    #[test]
    fn malformed_results() {
        let bad = |v, r: &str| to_http(v, r.as_bytes()).is_err();
        assert!(bad(PayloadVersion::V1, r#"{"hello":"world"}"#));
        assert!(bad(PayloadVersion::V2, "not json"));
        assert!(bad(PayloadVersion::V2, r#"{"statusCode":"x"}"#));
        assert!(bad(
            PayloadVersion::V2,
            r#"{"statusCode":200,"body":{"a":1}}"#
        ));
        assert!(bad(
            PayloadVersion::V2,
            r#"{"statusCode":200,"body":"%%","isBase64Encoded":true}"#
        ));
        assert!(bad(
            PayloadVersion::V1,
            r#"{"statusCode":200,"headers":{"bad name":"x"}}"#
        ));
    }
}
