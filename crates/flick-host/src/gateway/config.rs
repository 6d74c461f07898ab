//! The `[functions.NAME.http]` manifest table: a function's routes and the
//! payload version of its events.
//!
//! Owns the table's shape and its checks, including that no route is claimed
//! twice across the manifest; the manifest module calls in here and turns the
//! errors (a message and the span of the offending value) into its own.

use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;

use super::routes::RouteKey;

/// The table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHttp {
    routes: Vec<Spanned<String>>,
    #[serde(default)]
    payload: Option<Spanned<String>>,
}

/// A function's place behind the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    pub routes: Vec<RouteKey>,
    pub payload: PayloadVersion,
}

/// The event and response shape a function speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadVersion {
    /// The REST API shape: `multiValueHeaders`, `httpMethod`, `resource`...
    V1,
    /// The HTTP API shape (also Function URLs'): `rawPath`, `cookies`...
    V2,
}

/// A refused table: what is wrong and where.
#[derive(Debug)]
pub struct HttpConfigError {
    pub span: Option<Range<usize>>,
    pub message: String,
}

/// The routes claimed so far, so that a second claim is refused.
#[derive(Debug, Default)]
pub struct RouteClaims {
    claimed: Vec<(RouteKey, String)>,
}

impl RouteClaims {
    /// Checks `function`'s table and claims its routes.
    pub fn check(&mut self, function: &str, raw: RawHttp) -> Result<HttpConfig, HttpConfigError> {
        let key = |field: &str| format!("functions.{function}.http.{field}");
        let payload = match raw.payload {
            None => PayloadVersion::V2,
            Some(p) => match p.get_ref().as_str() {
                "2.0" => PayloadVersion::V2,
                "1.0" => PayloadVersion::V1,
                other => {
                    return Err(HttpConfigError {
                        span: Some(p.span()),
                        message: format!("{}: `{other}` is not \"1.0\" or \"2.0\"", key("payload")),
                    })
                }
            },
        };
        let mut routes = Vec::with_capacity(raw.routes.len());
        for text in raw.routes {
            let span = Some(text.span());
            let route = RouteKey::parse(text.get_ref()).map_err(|m| HttpConfigError {
                span: span.clone(),
                message: format!("{}: {m}", key("routes")),
            })?;
            if let Some((_, owner)) = self.claimed.iter().find(|(r, _)| r.same_route(&route)) {
                let owner = if owner == function {
                    "this function already".to_string()
                } else {
                    format!("function `{owner}`")
                };
                return Err(HttpConfigError {
                    span,
                    message: format!(
                        "{}: route `{route}` is already served by {owner}; a route belongs to one function",
                        key("routes")
                    ),
                });
            }
            self.claimed.push((route.clone(), function.to_string()));
            routes.push(route);
        }
        Ok(HttpConfig { routes, payload })
    }
}
