//! The parts of building an `http::Request` that every event source shares:
//! the URI (escaping what an event may carry unescaped), headers, the stage
//! prefix, and the extensions ([`Context`], [`RequestContext`]).
//!
//! Owns [`Body`], the request body type services receive. What each source
//! puts where is in `request_http_api`, `request_rest_api` and `request_alb`.

use http::{HeaderName, HeaderValue, Method, Request, Uri};

use super::event::{RawContext, RawEvent};
use super::extensions::{authorizer_claims, RequestContext, Source};
use crate::context::Context;
use crate::error::Error;

/// The body of a request handed to the service: the whole body, already read.
pub type Body = http_body_util::Full<bytes::Bytes>;

/// Builds the request a service receives from an event of `source`.
pub(crate) fn from_event(
    event: RawEvent,
    source: Source,
    context: Option<Context>,
) -> Result<Request<Body>, Error> {
    let mut request = match source {
        Source::HttpApi | Source::FunctionUrl => super::request_http_api::build(event, source)?,
        Source::RestApi => super::request_rest_api::build(event)?,
        Source::Alb => super::request_alb::build(event)?,
        // A `Direct` request never comes from an event: `port` builds it.
        Source::Direct => unreachable!("no event is recognised as Direct"),
    };
    if let Some(context) = context {
        request.extensions_mut().insert(context);
    }
    Ok(request)
}

/// The common shape: method, URI, body, and the request context taken from
/// the event's `requestContext`.
pub(crate) struct Parts {
    pub(crate) method: Option<String>,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) body: Vec<u8>,
    pub(crate) context: RequestContext,
}

pub(crate) fn assemble(
    parts: Parts,
    headers: impl Iterator<Item = (String, String)>,
) -> Result<Request<Body>, Error> {
    let method = parts.method.as_deref().unwrap_or("GET");
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| invalid(format!("`{method}` is not an HTTP method")))?;
    let uri = uri(&parts.path, &parts.query)?;
    let mut request = Request::new(Body::new(parts.body.into()));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    let map = request.headers_mut();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("`{name}` is not a header name")))?;
        let value = HeaderValue::from_str(&value)
            .map_err(|_| invalid(format!("the value of header `{name}` is not valid")))?;
        map.append(name, value);
    }
    request.extensions_mut().insert(parts.context);
    Ok(request)
}

/// The request context every source shares the shape of.
pub(crate) fn request_context(source: Source, context: Option<RawContext>) -> RequestContext {
    let mut rc = RequestContext::new(source);
    let Some(c) = context else { return rc };
    rc.source_ip = c
        .http
        .and_then(|h| h.source_ip)
        .or_else(|| c.identity.and_then(|i| i.source_ip));
    rc.route_key = c.route_key;
    rc.stage = c.stage;
    rc.request_id = c.request_id;
    rc.authorizer = authorizer_claims(c.authorizer);
    if rc.route_key.is_none() {
        if let (Some(method), Some(resource)) = (c.http_method, c.resource_path) {
            rc.route_key = Some(format!("{method} {resource}"));
        }
    }
    rc
}

/// `path` without the `/{stage}` prefix API Gateway keeps in it for a named
/// stage (never for `$default`).
pub(crate) fn strip_stage(path: String, stage: Option<&str>) -> String {
    let Some(stage) = stage.filter(|s| !s.is_empty() && *s != "$default") else {
        return path;
    };
    match path.strip_prefix('/').and_then(|p| p.strip_prefix(stage)) {
        Some("") => "/".to_owned(),
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => path,
    }
}

/// `path?query` as a URI; characters a URI cannot hold are percent-encoded
/// (events carry paths as the client sent them, or decoded).
fn uri(path: &str, query: &str) -> Result<Uri, Error> {
    let mut text = String::with_capacity(path.len() + query.len() + 2);
    if !path.starts_with('/') {
        text.push('/');
    }
    escape_into(&mut text, path, b"");
    if !query.is_empty() {
        text.push('?');
        escape_into(&mut text, query, b"");
    }
    Uri::try_from(text.as_str()).map_err(|e| invalid(format!("`{path}` is not a valid path: {e}")))
}

/// Appends `raw`, percent-encoding bytes outside a URI's characters and those
/// in `also`.
pub(crate) fn escape_into(out: &mut String, raw: &str, also: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in raw.as_bytes() {
        let allowed = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b);
        if allowed && !also.contains(&b) {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
}

/// `key=value&…` from decoded parameters (REST API events give them decoded).
pub(crate) fn encode_query<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    const COMPONENT: &[u8] = b"!$&'()*+,;=:@/?%";
    let mut out = String::new();
    for (key, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        escape_into(&mut out, key, COMPONENT);
        out.push('=');
        escape_into(&mut out, value, COMPONENT);
    }
    out
}

fn invalid(message: String) -> Error {
    Error::client(format!("the HTTP event cannot become a request: {message}"))
        .with_type("InvalidEvent")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_prefix_is_removed_only_when_it_is_one() {
        assert_eq!(strip_stage("/prod/items".into(), Some("prod")), "/items");
        assert_eq!(strip_stage("/prod".into(), Some("prod")), "/");
        assert_eq!(
            strip_stage("/production".into(), Some("prod")),
            "/production"
        );
        assert_eq!(strip_stage("/items".into(), Some("$default")), "/items");
    }

    #[test]
    fn uris_escape_what_they_cannot_hold() {
        assert_eq!(uri("/a b", "q=x y").unwrap().to_string(), "/a%20b?q=x%20y");
        assert_eq!(encode_query([("a b", "c&d")].into_iter()), "a%20b=c%26d");
    }
}
