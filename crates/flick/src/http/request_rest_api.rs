//! A REST API (payload 1.0) event as a request.
//!
//! Headers and query parameters come from their multi-value forms when
//! present (every repeated value kept), else from the single-value ones; the
//! query parameters arrive decoded and are encoded again. The path loses a
//! named stage's prefix when a custom domain left it in.

use http::Request;

use super::body;
use super::event::RawEvent;
use super::extensions::Source;
use super::request::{assemble, encode_query, request_context, strip_stage, Body, Parts};
use crate::error::Error;

pub(crate) fn build(event: RawEvent) -> Result<Request<Body>, Error> {
    let mut context = request_context(Source::RestApi, event.request_context);
    context.path_parameters = event.path_parameters.unwrap_or_default();
    let query = match (
        &event.multi_value_query_string_parameters,
        &event.query_string_parameters,
    ) {
        (Some(multi), _) => encode_query(
            multi
                .iter()
                .flat_map(|(k, vs)| vs.iter().map(move |v| (k.as_str(), v.as_str()))),
        ),
        (None, Some(single)) => encode_query(single.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        (None, None) => String::new(),
    };
    let parts = Parts {
        method: event.http_method,
        path: strip_stage(event.path.unwrap_or_default(), context.stage.as_deref()),
        query,
        body: body::decode(event.body, event.is_base64_encoded)?,
        context,
    };
    assemble(
        parts,
        multi_or_single(event.multi_value_headers, event.headers),
    )
}

/// Header pairs from the multi-value map when the event has one, else from
/// the single-value map.
pub(crate) fn multi_or_single(
    multi: Option<std::collections::HashMap<String, Vec<String>>>,
    single: Option<std::collections::HashMap<String, String>>,
) -> Box<dyn Iterator<Item = (String, String)>> {
    match (multi, single) {
        (Some(multi), _) => Box::new(
            multi
                .into_iter()
                .flat_map(|(k, vs)| vs.into_iter().map(move |v| (k.clone(), v))),
        ),
        (None, Some(single)) => Box::new(single.into_iter()),
        (None, None) => Box::new(std::iter::empty()),
    }
}
