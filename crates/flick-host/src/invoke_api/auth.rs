//! Who may call the Lambda API: with keys configured (`[server.auth]` or
//! `FLICK_AUTH_KEYS`), every request must carry an AWS Signature Version 4
//! made with one of them, as every AWS SDK and the AWS CLI make it; what
//! fails gets the service's own answer (403 with its error type and words).
//!
//! The headers are checked first (a known key, a fresh signing time, a
//! credential scoped to this host's region and to Lambda); then the body
//! is read, since the signature covers its hash, and handed on whole. A
//! refused request's body is still read to its end (up to a bound), so that
//! a client still sending gets the answer instead of a broken pipe. Session
//! tokens (`X-Amz-Security-Token`) are signed over but not checked: the
//! host's keys are long-lived ones. Without keys nothing is checked (a host on loopback for one
//! developer); the server refuses to listen elsewhere without keys unless
//! told `--insecure`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::payload::{self, Refusal, MAX_SYNC_PAYLOAD};
use super::sigv4::{self, Authorization, SignatureError, Signed};
use super::ApiError;
use crate::function::Caller;

/// The access keys a host accepts (key id → secret), for its region.
#[derive(Debug, Default)]
pub struct Keys {
    secrets: HashMap<String, String>,
    region: String,
    /// The keys that are functions' own (key id → function).
    functions: HashMap<String, Caller>,
}

impl Keys {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>, region: &str) -> Keys {
        Keys {
            secrets: pairs.into_iter().collect(),
            region: region.to_string(),
            functions: HashMap::new(),
        }
    }

    /// Also accepts each function's own key (function → (key id, secret)),
    /// requests signed with it being that function's. Only where keys are
    /// required at all: a host without keys lets every request through.
    pub fn with_functions(mut self, keys: &HashMap<String, (String, String)>) -> Keys {
        if self.secrets.is_empty() {
            return self;
        }
        for (function, (key_id, secret)) in keys {
            self.secrets.insert(key_id.clone(), secret.clone());
            self.functions
                .insert(key_id.clone(), Caller(Arc::from(function.as_str())));
        }
        self
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }
}

/// Lets a request through only with a valid signature of a known key.
pub async fn check(State(keys): State<Arc<Keys>>, req: Request, next: Next) -> Response {
    match verified(&keys, req).await {
        Ok(req) => next.run(req).await,
        Err(refusal) => refusal.into_response(),
    }
}

async fn verified(keys: &Keys, req: Request) -> Result<Request, Refusal> {
    let (parts, body) = req.into_parts();
    // Everything but the signature itself is checked before the body is
    // read: a stranger must not make the host hold a body it will refuse.
    let checked = check_headers(keys, &parts.headers);
    let caller = checked
        .as_ref()
        .ok()
        .and_then(|(auth, _, _)| keys.functions.get(auth.access_key_id).cloned());
    let (auth, amz_date, secret) = match checked {
        Ok(found) => found,
        Err(error) => {
            // Read to its end all the same, or a client still sending dies of EPIPE.
            let close = payload::drain(&parts.headers, body).await;
            return Err(Refusal { error, close });
        }
    };
    let too_large = |_| ApiError::RequestTooLarge {
        limit: MAX_SYNC_PAYLOAD,
    };
    let bytes = payload::read(&parts.headers, body, usize::MAX, too_large).await?;
    let signed = Signed {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
        body: &bytes,
    };
    sigv4::verify(&auth, &signed, amz_date, secret).map_err(signature_error)?;
    let mut req = Request::from_parts(parts, Body::from(bytes));
    // A sandbox's own network already said whose request it is.
    if let Some(caller) = caller {
        if req.extensions().get::<Caller>().is_none() {
            req.extensions_mut().insert(caller);
        }
    }
    Ok(req)
}

/// The authorization, signing time and secret of a request whose headers pass.
fn check_headers<'a>(
    keys: &'a Keys,
    headers: &'a HeaderMap,
) -> Result<(Authorization<'a>, &'a str, &'a str), ApiError> {
    let header = headers
        .get("authorization")
        .ok_or(ApiError::MissingAuthentication)?
        .to_str()
        .map_err(|_| {
            ApiError::IncompleteSignature("the Authorization header is not text".into())
        })?;
    let auth = sigv4::parse_authorization(header).map_err(|e| signature_error(e).error)?;
    let secret = keys
        .secrets
        .get(auth.access_key_id)
        .ok_or(ApiError::UnrecognizedClient)?;
    let amz_date = sigv4::check_headers(&auth, headers, &keys.region, "lambda", SystemTime::now())
        .map_err(|e| signature_error(e).error)?;
    Ok((auth, amz_date, secret))
}

fn signature_error(e: SignatureError) -> Refusal {
    let error = match e {
        SignatureError::Incomplete(message) => ApiError::IncompleteSignature(message),
        SignatureError::Mismatch => ApiError::InvalidSignature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.".into(),
        ),
        SignatureError::Expired { signed, earliest, now } => ApiError::InvalidSignature(format!(
            "Signature expired: {signed} is now earlier than {earliest} ({now} - 5 min.)"
        )),
        SignatureError::NotYetCurrent { signed, latest, now } => ApiError::InvalidSignature(format!(
            "Signature not yet current: {signed} is still later than {latest} ({now} + 5 min.)"
        )),
        SignatureError::WrongScope(message) => ApiError::InvalidSignature(message),
    };
    error.into()
}
