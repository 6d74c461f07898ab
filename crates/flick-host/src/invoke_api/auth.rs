//! Who may call the Lambda API: with keys configured (`[server.auth]` or
//! `FLICK_AUTH_KEYS`), every request must carry an AWS Signature Version 4
//! made with one of them, as every AWS SDK and the AWS CLI make it; what
//! fails gets the service's own answer (403 with its error type and words).
//!
//! The body is read here, since the signature covers its hash, and handed
//! on whole. Without keys nothing is checked (a host on loopback for one
//! developer); the server refuses to listen elsewhere without keys unless
//! told `--insecure`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::payload::{self, Refusal, MAX_SYNC_PAYLOAD};
use super::sigv4::{self, SignatureError, Signed};
use super::ApiError;

/// The access keys a host accepts: key id → secret.
#[derive(Debug, Default)]
pub struct Keys(HashMap<String, String>);

impl Keys {
    pub fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Keys {
        Keys(pairs.into_iter().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
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
    let Some(header) = parts.headers.get("authorization") else {
        return Err(ApiError::MissingAuthentication.into());
    };
    let header = header.to_str().map_err(|_| {
        ApiError::IncompleteSignature("the Authorization header is not text".into())
    })?;
    let auth = sigv4::parse_authorization(header).map_err(signature_error)?;
    let secret = keys
        .0
        .get(auth.access_key_id)
        .ok_or(ApiError::UnrecognizedClient)?;
    // Any operation's body: the largest is Invoke's, read whole (see payload).
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
    sigv4::verify(&auth, &signed, secret, SystemTime::now()).map_err(signature_error)?;
    Ok(Request::from_parts(parts, Body::from(bytes)))
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
    };
    error.into()
}
