//! An HTTP API (payload 2.0) or Function URL event as a request.
//!
//! `rawPath` and `rawQueryString` are the URI as the client sent it (minus a
//! named stage's prefix), `cookies` go back into one `Cookie` header, and the
//! comma-joined header values stay joined (HTTP allows that for every header
//! but `Set-Cookie`, which a request does not carry).

use http::Request;

use super::body;
use super::event::RawEvent;
use super::extensions::Source;
use super::request::{assemble, request_context, strip_stage, Body, Parts};
use crate::error::Error;

pub(crate) fn build(event: RawEvent, source: Source) -> Result<Request<Body>, Error> {
    let method = event
        .request_context
        .as_ref()
        .and_then(|c| c.http.as_ref())
        .and_then(|h| h.method.clone());
    let mut context = request_context(source, event.request_context);
    context.path_parameters = event.path_parameters.unwrap_or_default();
    let path = strip_stage(event.raw_path.unwrap_or_default(), context.stage.as_deref());
    let parts = Parts {
        method,
        path,
        query: event.raw_query_string.unwrap_or_default(),
        body: body::decode(event.body, event.is_base64_encoded)?,
        context,
    };
    let cookies = event
        .cookies
        .filter(|c| !c.is_empty())
        .map(|c| ("cookie".to_owned(), c.join("; ")));
    let headers = event.headers.unwrap_or_default().into_iter().chain(cookies);
    assemble(parts, headers)
}
