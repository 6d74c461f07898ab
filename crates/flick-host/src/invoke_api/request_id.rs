//! Every answer of the Lambda API carries `x-amzn-RequestId`, errors
//! included, as the service's do (SDKs put it in every exception they raise).
//! The id is made once per request, here, and is also the invocation's
//! request id when the request invokes a function.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The request's id, for handlers to use (as an `Extension`).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Gives the request an id and its answer the header, unless the answer
/// has one: that of the host a durable request was passed to (`forward`),
/// which its logs name.
pub async fn stamp(mut req: Request, next: Next) -> Response {
    let id = crate::ids::uuid().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut resp = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        resp.headers_mut()
            .entry("x-amzn-requestid")
            .or_insert(value);
    }
    resp
}
