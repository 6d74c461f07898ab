//! What a request says, read and checked as the service checks it: the
//! function reference in the path, `?Qualifier=`, and the invocation headers.
//!
//! Each control header may be given once (a second `X-Amz-Invocation-Type`
//! is refused, not ignored); values are checked against the service's
//! bounds; any failure is a typed [`ApiError`]. Owns reading only; running
//! anything is the handlers' business.

use std::sync::Arc;

use axum::http::{HeaderMap, Uri};
use base64::Engine;

use super::names::{self, RefError};
use super::{ApiError, InvokeApi};
use crate::function::{function_arn, Function};

/// Lambda's limit for `X-Amz-Client-Context`, in bytes of base64.
const MAX_CLIENT_CONTEXT: usize = 3583;
const MAX_TENANT_ID: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

/// The invocation headers of `Invoke` and `InvokeWithResponseStream`.
#[derive(Debug)]
pub struct InvokeHeaders {
    pub invocation_type: InvocationType,
    pub tail: bool,
    /// Decoded JSON, as the Runtime API passes it on.
    pub client_context: Option<String>,
    pub tenant_id: Option<String>,
    /// The caller's `X-Amzn-Trace-Id`.
    pub trace: Option<String>,
}

impl InvokeApi {
    /// The function a request's path names: its segment `index` (from 0,
    /// after the API version) and the `Qualifier` of its query. `invoke`:
    /// a name without qualifier means `$LATEST` in the not-found message.
    pub fn resolve(
        &self,
        uri: &Uri,
        index: usize,
        invoke: bool,
    ) -> Result<Arc<Function>, ApiError> {
        let raw = path_segment(uri, index)?;
        let qualifier = query_qualifier(uri)?;
        let r = names::parse(&raw, qualifier.as_deref()).map_err(|e| match e {
            RefError::Invalid(errors) => ApiError::Validation(names::validation_message(&errors)),
            RefError::QualifierMismatch => ApiError::InvalidParameter(
                "The derived qualifier from the function name does not match the specified qualifier."
                    .into(),
            ),
        })?;
        let not_found = || {
            let mut arn = function_arn(&self.region, &r.name);
            match (&r.qualifier, invoke) {
                (Some(q), _) => arn = format!("{arn}:{q}"),
                (None, true) => arn.push_str(":$LATEST"),
                (None, false) => {}
            }
            ApiError::FunctionNotFound { arn }
        };
        // Only $LATEST exists here: the host serves the code on disk.
        if r.qualifier.as_deref().is_some_and(|q| q != "$LATEST") {
            return Err(not_found());
        }
        self.scheduler
            .function(&r.name)
            .cloned()
            .ok_or_else(not_found)
    }
}

/// `X-Amz-Durable-Execution-Name`: 1 to 64 of `[a-zA-Z0-9-_]`, as the service checks it.
pub fn durable_execution_name(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("x-amz-durable-execution-name") else {
        return Ok(None);
    };
    let name = value.to_str().unwrap_or_default();
    if !crate::durable::model::valid_id(name) {
        return Err(ApiError::Validation(names::validation_message(&[format!(
            "Value '{name}' at 'durableExecutionName' failed to satisfy constraint: Member must satisfy \
             regular expression pattern: [a-zA-Z0-9-_]+ and have length between 1 and 64"
        )])));
    }
    Ok(Some(name.to_string()))
}

/// Reads the invocation headers; `allowed` are the invocation types the operation takes.
pub fn invoke_headers(
    headers: &HeaderMap,
    function: &Function,
    allowed: &[InvocationType],
) -> Result<InvokeHeaders, ApiError> {
    let invocation_type = match single(headers, "x-amz-invocation-type")? {
        None | Some("RequestResponse") => InvocationType::RequestResponse,
        Some("Event") => InvocationType::Event,
        Some("DryRun") => InvocationType::DryRun,
        Some(other) => {
            return Err(enum_violation(
                other,
                "invocationType",
                "[Event, RequestResponse, DryRun]",
            ))
        }
    };
    if !allowed.contains(&invocation_type) {
        return Err(enum_violation(
            &format!("{invocation_type:?}"),
            "invocationType",
            "[RequestResponse, DryRun]",
        ));
    }
    let tail = match single(headers, "x-amz-log-type")? {
        None | Some("None") => false,
        Some("Tail") => true,
        Some(other) => return Err(enum_violation(other, "logType", "[None, Tail]")),
    };
    let client_context = single(headers, "x-amz-client-context")?
        .map(decode_client_context)
        .transpose()?;
    let tenant_id = single(headers, "x-amz-tenant-id")?.map(str::to_string);
    check_tenant(function, tenant_id.as_deref())?;
    // Tracing is never a reason to refuse an invocation: a header given
    // twice or not text is treated as absent.
    let trace = single(headers, "x-amzn-trace-id")
        .ok()
        .flatten()
        .map(str::to_string);
    Ok(InvokeHeaders {
        invocation_type,
        tail,
        client_context,
        tenant_id,
        trace,
    })
}

/// A control header's value; a header given twice, or not text, is refused.
fn single<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::InvalidParameter(format!(
            "the header {name} was given more than once"
        )));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| ApiError::InvalidParameter(format!("the header {name} is not text")))
}

fn enum_violation(value: &str, member: &str, set: &str) -> ApiError {
    ApiError::Validation(names::validation_message(&[format!(
        "Value '{value}' at '{member}' failed to satisfy constraint: Member must satisfy enum value set: {set}"
    )]))
}

/// A tenant id goes with, and only with, a function in per-tenant isolation.
fn check_tenant(function: &Function, tenant: Option<&str>) -> Result<(), ApiError> {
    if let Some(t) = tenant {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._:/=+-@ ".contains(c);
        let problem = if t.is_empty() || t.len() > MAX_TENANT_ID {
            Some(format!(
                "Member must have length between 1 and {MAX_TENANT_ID}"
            ))
        } else if !t.chars().all(allowed) {
            Some(r"Member must satisfy regular expression pattern: [a-zA-Z0-9\._:\/=+\-@ ]+".into())
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(ApiError::Validation(names::validation_message(&[format!(
                "Value '{t}' at 'tenantId' failed to satisfy constraint: {problem}"
            )])));
        }
    }
    match (function.config.per_tenant, tenant) {
        (true, None) => Err(ApiError::InvalidParameter(format!(
            "The function {} has tenant isolation enabled: every invocation must carry a tenant id (X-Amz-Tenant-Id).",
            function.name
        ))),
        (false, Some(_)) => Err(ApiError::InvalidParameter(format!(
            "The function {} does not have tenant isolation enabled: an invocation of it must not carry a tenant id.",
            function.name
        ))),
        _ => Ok(()),
    }
}

/// The header carries base64 of a JSON object; the runtime gets the JSON.
fn decode_client_context(b64: &str) -> Result<String, ApiError> {
    if b64.len() > MAX_CLIENT_CONTEXT {
        return Err(ApiError::InvalidClientContext(format!(
            "is {} bytes, more than the {MAX_CLIENT_CONTEXT} Lambda accepts",
            b64.len()
        )));
    }
    let invalid =
        || ApiError::InvalidClientContext("must be a valid Base64-encoded JSON object.".into());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(serde_json::Value::Object(_)) => Ok(text),
        _ => Err(invalid()),
    }
}

/// The path's segment `index` after the API version, percent-decoded
/// (names, ARNs and callback ids arrive with `:` and `/` escaped); when it
/// is not UTF-8, its lossy decoding, for the caller's error.
pub(super) fn decoded_segment(uri: &Uri, index: usize) -> Result<String, String> {
    let raw = uri.path().split('/').nth(index + 2).unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(raw);
    decoded
        .clone()
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| decoded.decode_utf8_lossy().into_owned())
}

/// A function name's path segment, refused as the service refuses a name.
fn path_segment(uri: &Uri, index: usize) -> Result<String, ApiError> {
    decoded_segment(uri, index).map_err(|lossy| {
        ApiError::Validation(names::validation_message(&[format!(
            "Value '{lossy}' at 'functionName' failed to satisfy constraint: Member must be valid UTF-8"
        )]))
    })
}

/// `?Qualifier=`, once at most.
fn query_qualifier(uri: &Uri) -> Result<Option<String>, ApiError> {
    let query = uri.query().unwrap_or("");
    let mut found = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "Qualifier")
        .map(|(_, v)| v.into_owned());
    let first = found.next();
    if found.next().is_some() {
        return Err(ApiError::InvalidParameter(
            "the Qualifier parameter was given more than once".into(),
        ));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_context_must_be_base64_json_object_within_the_limit() {
        let ok = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"a":"b"}}"#);
        assert_eq!(
            decode_client_context(&ok).unwrap(),
            r#"{"custom":{"a":"b"}}"#
        );
        assert!(decode_client_context("%%%").is_err());
        let array = base64::engine::general_purpose::STANDARD.encode("[1]");
        assert!(decode_client_context(&array).is_err());
        let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(2680));
        let encoded = base64::engine::general_purpose::STANDARD.encode(&big);
        assert_eq!(encoded.len(), 3584);
        assert!(matches!(
            decode_client_context(&encoded),
            Err(ApiError::InvalidClientContext(m)) if m.contains("3584 bytes")
        ));
    }

    #[test]
    fn names_in_paths_and_queries() {
        let uri: Uri = "/2015-03-31/functions/a%20b/invocations?Qualifier=%24LATEST"
            .parse()
            .unwrap();
        assert_eq!(path_segment(&uri, 1).unwrap(), "a b");
        assert_eq!(query_qualifier(&uri).unwrap().as_deref(), Some("$LATEST"));
        let bad: Uri = "/2015-03-31/functions/%FF/invocations?Qualifier=a&Qualifier=b"
            .parse()
            .unwrap();
        assert!(matches!(
            path_segment(&bad, 1),
            Err(ApiError::Validation(_))
        ));
        assert!(matches!(
            query_qualifier(&bad),
            Err(ApiError::InvalidParameter(_))
        ));
    }
}
