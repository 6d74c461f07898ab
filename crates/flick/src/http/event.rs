//! Which event source sent an HTTP event, decided in one pass over its JSON.
//!
//! Owns [`RawEvent`], one struct holding every field any of the four sources
//! (API Gateway REST 1.0, HTTP API 2.0, ALB, Function URL) may send, and
//! [`RawEvent::source`], which names the source from the fields present.
//! Decoding into one struct instead of trying each source's type in turn
//! reads the event once, and lets the error for an event that is none of
//! them say what arrived instead of "did not match any variant". Turning the
//! fields into a request is the `request_*` modules' job.
//!
//! Hand-written rather than `aws_lambda_events`' types: those are one type
//! per source (so recognising means trying several) and pull in `chrono` and
//! their own header-map codecs, which cost more than this whole adapter.

use std::collections::HashMap;

use serde::Deserialize;

use super::extensions::Source;
use crate::error::Error;

/// Every field of every HTTP event source; absent ones stay `None`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawEvent {
    pub(crate) version: Option<String>,
    // HTTP API 2.0 and Function URLs
    pub(crate) route_key: Option<String>,
    pub(crate) raw_path: Option<String>,
    pub(crate) raw_query_string: Option<String>,
    pub(crate) cookies: Option<Vec<String>>,
    // REST 1.0 and ALB
    pub(crate) resource: Option<String>,
    pub(crate) path: Option<String>,
    pub(crate) http_method: Option<String>,
    pub(crate) multi_value_headers: Option<HashMap<String, Vec<String>>>,
    pub(crate) multi_value_query_string_parameters: Option<HashMap<String, Vec<String>>>,
    // all of them
    pub(crate) headers: Option<HashMap<String, String>>,
    pub(crate) query_string_parameters: Option<HashMap<String, String>>,
    pub(crate) path_parameters: Option<HashMap<String, String>>,
    pub(crate) request_context: Option<RawContext>,
    pub(crate) body: Option<String>,
    pub(crate) is_base64_encoded: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawContext {
    pub(crate) http: Option<RawHttp>,
    pub(crate) elb: Option<serde::de::IgnoredAny>,
    pub(crate) stage: Option<String>,
    pub(crate) route_key: Option<String>,
    pub(crate) resource_path: Option<String>,
    pub(crate) http_method: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) domain_name: Option<String>,
    pub(crate) identity: Option<RawIdentity>,
    pub(crate) authorizer: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawHttp {
    pub(crate) method: Option<String>,
    pub(crate) source_ip: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(crate) struct RawIdentity {
    pub(crate) source_ip: Option<String>,
}

impl RawEvent {
    /// Reads `payload` and names its source, or explains what it is instead.
    pub(crate) fn parse(payload: &[u8]) -> Result<(RawEvent, Source), Error> {
        let event: RawEvent = serde_json::from_slice(payload)
            .map_err(|e| unrecognised(payload, Some(&e.to_string())))?;
        match event.source() {
            Some(source) => Ok((event, source)),
            None => Err(unrecognised(payload, None)),
        }
    }

    /// The source whose fields are present: `requestContext.elb` only comes
    /// from ALB, `version` "2.0" with `requestContext.http` from HTTP API or a
    /// Function URL (told apart by the `lambda-url` domain), and `httpMethod`
    /// with a request context from a REST API.
    pub(crate) fn source(&self) -> Option<Source> {
        let context = self.request_context.as_ref()?;
        let v2 = self.version.as_deref() == Some("2.0");
        match (&context.elb, &context.http, &self.http_method) {
            (Some(_), _, Some(_)) => Some(Source::Alb),
            (None, Some(_), _) if v2 => {
                let domain = context.domain_name.as_deref().unwrap_or_default();
                Some(if domain.contains(".lambda-url.") {
                    Source::FunctionUrl
                } else {
                    Source::HttpApi
                })
            }
            (None, _, Some(_)) => Some(Source::RestApi),
            _ => None,
        }
    }
}

/// The error for a payload that is not an HTTP event: what was expected and
/// what arrived (its top-level keys, or why it is not a JSON object).
fn unrecognised(payload: &[u8], parse_error: Option<&str>) -> Error {
    let received = match serde_json::from_slice::<serde_json::Value>(payload) {
        Ok(serde_json::Value::Object(map)) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(12).collect();
            let more = if map.len() > keys.len() { ", …" } else { "" };
            match parse_error {
                Some(e) => format!("an object with keys [{}{more}] ({e})", keys.join(", ")),
                None => format!("an object with keys [{}{more}]", keys.join(", ")),
            }
        }
        Ok(other) => format!("a JSON {}", json_kind(&other)),
        Err(_) => format!("{} bytes that are not JSON", payload.len()),
    };
    Error::client(format!(
        "not an HTTP event: expected one from API Gateway (REST payload 1.0 with `httpMethod`, \
         HTTP API payload 2.0 with `requestContext.http`), an ALB (`requestContext.elb`) or a \
         Function URL; received {received}"
    ))
    .with_type("UnrecognizedEvent")
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(json: &str) -> Result<Source, String> {
        RawEvent::parse(json.as_bytes())
            .map(|(_, s)| s)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn names_each_source_from_its_fields() {
        let v2 = r#"{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET"},"domainName":"abc.execute-api.us-east-1.amazonaws.com"}}"#;
        let url = r#"{"version":"2.0","rawPath":"/","requestContext":{"http":{"method":"GET"},"domainName":"abc.lambda-url.us-east-1.on.aws"}}"#;
        let v1 = r#"{"httpMethod":"GET","path":"/","requestContext":{"stage":"prod"}}"#;
        let alb =
            r#"{"httpMethod":"GET","path":"/","requestContext":{"elb":{"targetGroupArn":"arn"}}}"#;
        assert_eq!(source(v2), Ok(Source::HttpApi));
        assert_eq!(source(url), Ok(Source::FunctionUrl));
        assert_eq!(source(v1), Ok(Source::RestApi));
        assert_eq!(source(alb), Ok(Source::Alb));
    }

    #[test]
    fn an_unrecognised_event_says_what_arrived() {
        let e = source(r#"{"Records":[{"eventSource":"aws:sqs"}],"x":1}"#).unwrap_err();
        assert!(
            e.contains("received an object with keys [Records, x]"),
            "{e}"
        );
        let e = source("[1,2]").unwrap_err();
        assert!(e.contains("received a JSON array"), "{e}");
        let e = source("nope").unwrap_err();
        assert!(e.contains("received 4 bytes that are not JSON"), "{e}");
        let e = source(r#"{"httpMethod":3}"#).unwrap_err();
        assert!(e.contains("keys [httpMethod] (invalid type"), "{e}");
    }
}
