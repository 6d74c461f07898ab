//! A function's result turned back into the HTTP response API Gateway sends.
//!
//! Owns the response rules of both payload versions: `statusCode`,
//! `headers` and `multiValueHeaders` (merged, the multi-value list winning
//! for a name in both), `cookies` as one `Set-Cookie` each (2.0), base64
//! bodies, and 2.0's bare-result rule (a result that is not an object with a
//! `statusCode` is a 200 `application/json` whose body is the result itself).
//! A result that breaks the rules is [`Malformed`]; the caller answers 502.
//! A response the runtime streams in Lambda's HTTP integration format (a
//! JSON prelude, eight NUL bytes, the body) gets its head from the prelude
//! alone: [`prelude_end`] finds it, [`prelude_head`] reads it.

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
pub const PRELUDE_END: [u8; 8] = [0; 8];

/// Where the eight NUL bytes that end a prelude begin in `bytes`, looking
/// only from near `from`: the bytes before it were looked at already.
pub fn prelude_end(bytes: &[u8], from: usize) -> Option<usize> {
    let from = from.saturating_sub(PRELUDE_END.len() - 1).min(bytes.len());
    bytes[from..]
        .windows(PRELUDE_END.len())
        .position(|w| w == PRELUDE_END)
        .map(|i| from + i)
}

/// The head of a streamed HTTP response from its prelude
/// `{statusCode, headers, cookies}`: a 200 when it has no status, and an
/// empty body, since the body is what follows the prelude.
pub fn prelude_head(version: PayloadVersion, prelude: &[u8]) -> Result<Response, Malformed> {
    let Ok(Value::Object(mut prelude)) = serde_json::from_slice(prelude) else {
        return Err(Malformed("the prelude is not a JSON object".into()));
    };
    prelude.entry("statusCode").or_insert(Value::from(200));
    prelude.remove("body");
    prelude.remove("isBase64Encoded");
    structured(version, &prelude)
}

pub fn to_http(version: PayloadVersion, result: &[u8]) -> Result<Response, Malformed> {
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

    #[test]
    fn prelude_end_is_found_across_chunk_boundaries() {
        let stream = b"{\"statusCode\":201}\0\0\0\0\0\0\0\0body";
        assert_eq!(prelude_end(stream, 0), Some(18));
        // The first chunk ended six NULs into the run; the next search
        // starts from there and still finds where the run began.
        assert_eq!(prelude_end(&stream[..24], 0), None);
        assert_eq!(prelude_end(stream, 24), Some(18));
        assert_eq!(prelude_end(b"{}", 10), None);
    }

    #[tokio::test]
    async fn prelude_gives_status_headers_and_cookies() {
        let prelude = br#"{"statusCode":201,"headers":{"content-type":"text/plain"},"cookies":["a=1"],"body":"ignored"}"#;
        for version in [PayloadVersion::V2, PayloadVersion::V1] {
            let resp = prelude_head(version, prelude).unwrap();
            assert_eq!(resp.status().as_u16(), 201);
            assert_eq!(resp.headers()["content-type"], "text/plain");
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert!(
                body.is_empty(),
                "the body follows the prelude, it is not in it"
            );
        }
        let resp = prelude_head(PayloadVersion::V2, prelude).unwrap();
        assert_eq!(resp.headers()["set-cookie"], "a=1");
        // No statusCode in the prelude means 200, as on Lambda.
        let resp = prelude_head(PayloadVersion::V2, b"{}").unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        assert!(prelude_head(PayloadVersion::V2, b"[1]").is_err());
        assert!(prelude_head(PayloadVersion::V2, br#"{"statusCode":"x"}"#).is_err());
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
