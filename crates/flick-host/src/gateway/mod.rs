//! The HTTP gateway: plain HTTP requests on the host's listen address become
//! API Gateway events, as an HTTP API (or a REST API) would send them.
//!
//! One request reads straight through: [`routes`] picks the function, the
//! request is read into a [`request::GatewayRequest`], [`event_v2`] or
//! [`event_v1`] builds the event, the scheduler invokes the function exactly
//! as the Invoke API does, and [`answer_stream`] with [`response`] turns its
//! result back into HTTP, passing a streamed response on as it arrives.
//! [`answers`] holds API Gateway's own answers (404, 429, 502, 504...).
//! The manifest table is read in [`config`]. This module does not run
//! functions: that is the scheduler's job.

mod answer_stream;
mod answers;
pub mod config;
mod event_v1;
mod event_v2;
mod request;
mod response;
pub mod routes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{ConnectInfo, Request};
use axum::http::Version;
use axum::response::Response;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::sandbox::InvokeRequest;
use crate::scheduler::Scheduler;
use crate::streamed::Streamed;
use answer_stream::Answering;
use answers::Answer;
use config::PayloadVersion;
use request::GatewayRequest;
use routes::RouteTable;

/// API Gateway's limit for a request body.
const MAX_BODY: usize = 10 * 1024 * 1024;

/// Where a route leads.
#[derive(Debug)]
struct Target {
    function: String,
    payload: PayloadVersion,
}

/// The routes of every function, and the scheduler that runs them.
pub struct Gateway {
    scheduler: Arc<Scheduler>,
    routes: RouteTable<Target>,
}

impl Gateway {
    /// Collects the routes of the scheduler's functions; the manifest has
    /// already refused duplicates.
    pub fn new(scheduler: Arc<Scheduler>) -> Gateway {
        let mut routes = RouteTable::new();
        for function in scheduler.functions() {
            if let Some(http) = &function.config.http {
                for key in &http.routes {
                    routes.add(
                        key.clone(),
                        Target {
                            function: function.config.name.clone(),
                            payload: http.payload,
                        },
                    );
                }
            }
        }
        Gateway { scheduler, routes }
    }

    /// Serves one request; every failure is one of API Gateway's answers.
    /// The request has two ids, as on AWS: the gateway's own
    /// (`apigw-requestid`, the event's `requestContext.requestId`) and the
    /// Lambda invocation's (`context.aws_request_id`, the log's RequestId).
    pub async fn handle(&self, req: Request) -> Response {
        let request_id = crate::ids::apigw_request_id();
        match self.serve(req, &request_id).await {
            Ok(resp) => answers::with_request_id(resp, &request_id),
            Err(answer) => answer.into_response(&request_id),
        }
    }

    async fn serve(&self, req: Request, request_id: &str) -> Result<Response, Answer> {
        let time = SystemTime::now();
        let method = req.method().as_str().to_string();
        let raw_path = req.uri().path().to_string();
        let matched = self
            .routes
            .find(&method, &raw_path)
            .ok_or(Answer::NotFound)?;
        let source_ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "127.0.0.1".to_string(), |c| c.0.ip().to_string());
        let protocol = match req.version() {
            Version::HTTP_10 => "HTTP/1.0",
            _ => "HTTP/1.1",
        };
        let raw_query = req.uri().query().unwrap_or("").to_string();
        let (parts, body) = req.into_parts();
        let body = Limited::new(body, MAX_BODY)
            .collect()
            .await
            .map_err(|e| match e.is::<LengthLimitError>() {
                true => Answer::TooLarge,
                false => Answer::BadRequest,
            })?
            .to_bytes();
        let request = GatewayRequest {
            method,
            raw_path,
            raw_query,
            headers: parts.headers,
            body,
            protocol: protocol.to_string(),
            source_ip,
            request_id: request_id.to_string(),
            time,
            route_key: matched.key.as_str().to_string(),
            resource: matched.key.resource(),
            path_parameters: matched.path_parameters,
        };
        let target = matched.target;
        let event = match target.payload {
            PayloadVersion::V2 => event_v2::event(&request),
            PayloadVersion::V1 => event_v1::event(&request),
        };

        let invocation_id = crate::ids::uuid().to_string();
        // API Gateway passes a client's trace on, as the Invoke API does.
        let trace = (request.headers.get("x-amzn-trace-id"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let invoke = InvokeRequest {
            request_id: invocation_id.clone(),
            payload: Bytes::from(event.to_string()),
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
            trace,
            stream: None,
        };
        let streamed = Streamed::start(&self.scheduler, &target.function, invoke)
            .await
            .map_err(answer_stream::schedule_answer)?;
        Answering {
            version: target.payload,
            function: target.function.clone(),
            request_id: invocation_id,
            streamed,
        }
        .respond()
        .await
    }
}

/// Asserts that every field of `ours` is one AWS's sample `aws` has, and
/// that the only sample fields missing from `ours` start with one of `lacking`
/// (the features the host does not have).
#[cfg(test)]
pub(crate) fn assert_fields_match(ours: &serde_json::Value, aws: &str, lacking: &[&str]) {
    let ours = field_paths(ours);
    let aws = field_paths(&serde_json::from_str(aws).expect("the AWS sample is JSON"));
    let extra: Vec<_> = ours.difference(&aws).collect();
    assert!(extra.is_empty(), "fields AWS does not send: {extra:?}");
    let missing: Vec<_> = aws
        .difference(&ours)
        .filter(|p| !lacking.iter().any(|l| p.starts_with(l)))
        .collect();
    assert!(
        missing.is_empty(),
        "fields AWS sends that the host does not: {missing:?}"
    );
}

/// The dotted paths of an event's fields, descending only into the request
/// context: the keys of headers and parameters are data, not fields.
#[cfg(test)]
fn field_paths(v: &serde_json::Value) -> std::collections::BTreeSet<String> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
        let Some(o) = v.as_object() else { return };
        for (k, child) in o {
            let path = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.insert(path.clone());
            if ["requestContext", "http", "identity"].contains(&k.as_str()) {
                walk(&path, child, out);
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    walk("", v, &mut out);
    out
}

#[cfg(test)]
mod properties {
    use super::*;
    use axum::http::{HeaderMap, HeaderName, HeaderValue};
    use base64::Engine;
    use proptest::prelude::*;

    fn decoded_body(event: &serde_json::Value) -> Vec<u8> {
        match (event["body"].as_str(), event["isBase64Encoded"].as_bool()) {
            (Some(b), Some(true)) => base64::engine::general_purpose::STANDARD.decode(b).unwrap(),
            (Some(b), _) => b.as_bytes().to_vec(),
            (None, _) => Vec::new(),
        }
    }

    proptest! {
        /// Whatever a client sends, both payload versions carry its path,
        /// query and body unchanged.
        #[test]
        fn events_carry_any_request_whole(
            path in "/[a-zA-Z0-9/%._~-]{0,60}",
            query in "[a-zA-Z0-9=&%+._-]{0,60}",
            headers in proptest::collection::vec(("[a-z][a-z0-9-]{0,15}", "[ -~]{0,30}"), 0..6),
            body in proptest::collection::vec(any::<u8>(), 0..300),
            content_type in prop::sample::select(vec!["text/plain", "application/json", "image/png", ""]),
        ) {
            let mut r = request::tests::sample();
            r.raw_path = path.clone();
            r.raw_query = query.clone();
            r.headers = HeaderMap::new();
            for (name, value) in &headers {
                if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::from_str(value)) {
                    r.headers.append(n, v);
                }
            }
            if !content_type.is_empty() {
                r.headers.insert("content-type", HeaderValue::from_static(content_type));
            }
            r.body = bytes::Bytes::from(body.clone());
            let v2 = event_v2::event(&r);
            prop_assert_eq!(v2["rawPath"].as_str(), Some(path.as_str()));
            prop_assert_eq!(v2["rawQueryString"].as_str(), Some(query.as_str()));
            prop_assert_eq!(decoded_body(&v2), body.clone());
            let v1 = event_v1::event(&r);
            prop_assert_eq!(v1["path"].as_str(), Some(path.as_str()));
            prop_assert_eq!(decoded_body(&v1), body);
        }
    }
}
