//! An Application Load Balancer event as a request.
//!
//! Like a REST API event, with two differences: ALB passes query parameters
//! exactly as the client encoded them (so they are joined, not re-encoded),
//! and there is no stage. The source IP is the first `X-Forwarded-For`
//! address, the only place ALB gives it.

use http::Request;

use super::body;
use super::event::RawEvent;
use super::extensions::{RequestContext, Source};
use super::request::{assemble, request_context, Body, Parts};
use super::request_rest_api::multi_or_single;
use crate::error::Error;

pub(crate) fn build(event: RawEvent) -> Result<Request<Body>, Error> {
    let context = request_context(Source::Alb, event.request_context);
    let query = match (
        &event.multi_value_query_string_parameters,
        &event.query_string_parameters,
    ) {
        (Some(multi), _) => join(
            multi
                .iter()
                .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str()))),
        ),
        (None, Some(single)) => join(single.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        (None, None) => String::new(),
    };
    let parts = Parts {
        method: event.http_method,
        path: event.path.unwrap_or_default(),
        query,
        body: body::decode(event.body, event.is_base64_encoded)?,
        context,
    };
    let mut request = assemble(
        parts,
        multi_or_single(event.multi_value_headers, event.headers),
    )?;
    let forwarded = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|ip| ip.trim().to_owned());
    if let Some(rc) = request.extensions_mut().get_mut::<RequestContext>() {
        rc.source_ip = forwarded;
    }
    Ok(request)
}

fn join<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
    }
    out
}
