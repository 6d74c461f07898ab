//! One Lambda invocation of an HTTP service: event bytes in, result bytes out.
//!
//! Owns the order: recognise the event, build the request (with the
//! [`crate::Context`] in its extensions), call the service, collect the
//! body, write the source's result. The event buffer is reused for the
//! result.

use http_body_util::BodyExt;

use super::event::RawEvent;
use super::request;
use super::response::{self, Shape};
use super::service::HttpService;
use crate::codec::Bytes;
use crate::context::Context;
use crate::error::Error;

pub(crate) async fn invoke<S: HttpService>(
    service: &S,
    event: Bytes,
    context: Context,
) -> Result<Bytes, Error> {
    let (raw, source) = RawEvent::parse(&event)?;
    let shape = Shape {
        source,
        multi_value: raw.multi_value_headers.is_some(),
    };
    let request = request::from_event(raw, source, Some(context))?;
    let response = service
        .handle(request)
        .await
        .map_err(|e| Error::transient(format!("the HTTP service failed: {e}")))?;
    let (parts, body) = response.into_parts();
    let bytes = body
        .collect()
        .await
        .map_err(|e| Error::transient(format!("the response body failed: {}", e.into())))?
        .to_bytes();
    let mut out = event.0;
    response::write(shape, &parts, bytes.into(), &mut out);
    Ok(Bytes(out))
}
