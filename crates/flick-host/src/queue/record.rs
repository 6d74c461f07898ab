//! The invocation record Lambda sends to an asynchronous invocation's
//! destinations (and Flick keeps in the dead-letter table): the request,
//! why it left the queue, and the function's last answer.

use std::time::SystemTime;

use bytes::Bytes;
use serde_json::{json, Value};

use crate::clock;

use super::policy::Condition;

/// The function's last answer, when it was invoked at all.
#[derive(Debug, Clone)]
pub struct LastResponse {
    pub payload: Bytes,
    /// `Unhandled` when the function failed.
    pub function_error: bool,
}

pub fn invocation_record(
    request_id: &str,
    function_arn: &str,
    condition: Condition,
    approximate_invoke_count: u32,
    request_payload: &[u8],
    response: Option<&LastResponse>,
) -> Bytes {
    let mut record = json!({
        "version": "1.0",
        "timestamp": clock::iso8601(SystemTime::now()),
        "requestContext": {
            "requestId": request_id,
            "functionArn": format!("{function_arn}:$LATEST"),
            "condition": condition.as_str(),
            "approximateInvokeCount": approximate_invoke_count,
        },
        "requestPayload": json_or_text(request_payload),
    });
    if let Some(response) = response {
        let mut context = json!({"statusCode": 200, "executedVersion": "$LATEST"});
        if response.function_error {
            context["functionError"] = "Unhandled".into();
        }
        record["responseContext"] = context;
        record["responsePayload"] = json_or_text(&response.payload);
    }
    Bytes::from(record.to_string())
}

/// A payload as JSON when it is JSON, else as a string.
fn json_or_text(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_record_has_lambdas_shape() {
        let response = LastResponse {
            payload: Bytes::from_static(br#"{"errorType":"E","errorMessage":"m"}"#),
            function_error: true,
        };
        let record = invocation_record(
            "rid",
            "arn:aws:lambda:us-east-1:000000000000:function:f",
            Condition::RetriesExhausted,
            3,
            br#"{"a":1}"#,
            Some(&response),
        );
        let v: Value = serde_json::from_slice(&record).unwrap();
        assert_eq!(v["version"], "1.0");
        assert_eq!(v["requestContext"]["requestId"], "rid");
        assert_eq!(v["requestContext"]["condition"], "RetriesExhausted");
        assert_eq!(v["requestContext"]["approximateInvokeCount"], 3);
        assert_eq!(
            v["requestContext"]["functionArn"],
            "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST"
        );
        assert_eq!(v["requestPayload"], json!({"a": 1}));
        assert_eq!(v["responseContext"]["functionError"], "Unhandled");
        assert_eq!(v["responsePayload"]["errorType"], "E");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn never_invoked_has_no_response() {
        let record = invocation_record("r", "arn", Condition::EventAgeExceeded, 0, b"{}", None);
        let v: Value = serde_json::from_slice(&record).unwrap();
        assert!(v.get("responseContext").is_none() && v.get("responsePayload").is_none());
        let text = LastResponse {
            payload: Bytes::from_static(b"plain"),
            function_error: false,
        };
        let record = invocation_record("r", "arn", Condition::Success, 1, b"{}", Some(&text));
        let v: Value = serde_json::from_slice(&record).unwrap();
        assert_eq!(v["responsePayload"], "plain");
        assert!(v["responseContext"].get("functionError").is_none());
    }
}
