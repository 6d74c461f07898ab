//! What a handler can read about a request beyond method, URI, headers and
//! body: the normalised [`RequestContext`] (and, under Lambda, the
//! [`crate::Context`]), both put in the request's extensions.
//!
//! Owns the shapes handlers see. Filling them from an event is the `request_*`
//! modules' job, from a TCP connection the `port` module's.

use std::collections::HashMap;

/// Who delivered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Source {
    /// API Gateway REST API (payload 1.0).
    RestApi,
    /// API Gateway HTTP API (payload 2.0).
    HttpApi,
    /// An Application Load Balancer target group.
    Alb,
    /// A Lambda Function URL (payload 2.0 shape).
    FunctionUrl,
    /// Plain HTTP on `PORT`, outside Lambda.
    Direct,
}

/// The request facts every source gives in its own shape, normalised.
///
/// ```no_run
/// use axum::Extension;
///
/// async fn whoami(Extension(rc): Extension<flick::http::RequestContext>) -> String {
///     format!("{:?} from {}", rc.source(), rc.source_ip().unwrap_or("?"))
/// }
/// ```
#[derive(Debug, Clone)]
pub struct RequestContext {
    pub(crate) source: Source,
    pub(crate) source_ip: Option<String>,
    pub(crate) route_key: Option<String>,
    pub(crate) stage: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) path_parameters: HashMap<String, String>,
    pub(crate) authorizer: Option<serde_json::Value>,
}

impl RequestContext {
    pub(crate) fn new(source: Source) -> Self {
        Self {
            source,
            source_ip: None,
            route_key: None,
            stage: None,
            request_id: None,
            path_parameters: HashMap::new(),
            authorizer: None,
        }
    }

    /// Which source delivered the request.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The client's IP address as the source saw it (ALB: the first
    /// `X-Forwarded-For` address).
    pub fn source_ip(&self) -> Option<&str> {
        self.source_ip.as_deref()
    }

    /// The route that matched: `GET /items/{id}` or `$default` (HTTP API),
    /// `GET /items/{id}` built from method and resource (REST API).
    pub fn route_key(&self) -> Option<&str> {
        self.route_key.as_deref()
    }

    /// The API Gateway stage (`$default`, `prod`, …); its prefix is already
    /// removed from the request's path.
    pub fn stage(&self) -> Option<&str> {
        self.stage.as_deref()
    }

    /// The source's own request id (API Gateway's `requestContext.requestId`),
    /// not the Lambda request id (that is `Context::request_id`).
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// The path parameters API Gateway matched (`{id}` → `"42"`).
    pub fn path_parameters(&self) -> &HashMap<String, String> {
        &self.path_parameters
    }

    /// The authorizer's claims, whatever kind of authorizer: JWT claims (HTTP
    /// API), Cognito claims (REST), a Lambda authorizer's context, IAM facts.
    pub fn authorizer_claims(&self) -> Option<&serde_json::Value> {
        self.authorizer.as_ref()
    }

    /// One claim as text, e.g. `claim("sub")`.
    pub fn claim(&self, name: &str) -> Option<&str> {
        self.authorizer.as_ref()?.get(name)?.as_str()
    }
}

/// The claims inside an authorizer block, by its kind: `jwt.claims` (HTTP
/// API JWT), `claims` (REST Cognito), `lambda` (HTTP API Lambda authorizer),
/// `iam` (IAM auth), else the block itself (REST Lambda authorizer context).
pub(crate) fn authorizer_claims(
    authorizer: Option<serde_json::Value>,
) -> Option<serde_json::Value> {
    let mut authorizer = authorizer.filter(|a| a.is_object())?;
    if let Some(claims) = authorizer.pointer_mut("/jwt/claims") {
        return Some(claims.take());
    }
    for key in ["claims", "lambda", "iam"] {
        if let Some(claims) = authorizer.get_mut(key).filter(|c| c.is_object()) {
            return Some(claims.take());
        }
    }
    Some(authorizer)
}
