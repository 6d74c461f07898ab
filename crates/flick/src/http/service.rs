//! What `flick::http` can run: any tower `Service` from `http::Request<Body>`
//! to `http::Response<B>`, which every axum `Router` is.
//!
//! Owns [`HttpService`], one name for those bounds so that public signatures
//! stay readable, and calling a service once (`poll_ready`, then `call`).

use std::future::{poll_fn, Future};

use http::{Request, Response};

use super::request::Body;
use crate::error::BoxError;

/// A tower `Service` that answers HTTP requests; implemented for every such
/// service (an axum `Router`, a `tower::ServiceBuilder` stack, …) that is
/// `Clone + Sync + 'static`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot serve HTTP events",
    label = "not an HTTP service",
    note = "an axum `Router` (after `.with_state(..)`, so that it is `Router<()>`) or any tower `Service<Request<flick::http::Body>>` that is `Clone + Sync + 'static` serves them"
)]
pub trait HttpService: Clone + Sync + 'static {
    /// The response body type.
    type ResponseBody: http_body::Body<Data = bytes::Bytes, Error: Into<BoxError>> + 'static;
    /// Serves one request on a clone of the service.
    fn handle(
        &self,
        request: Request<Body>,
    ) -> impl Future<Output = Result<Response<Self::ResponseBody>, BoxError>> + 'static;
}

impl<T, B> HttpService for T
where
    T: tower_service::Service<Request<Body>, Response = Response<B>> + Clone + Sync + 'static,
    T::Error: Into<BoxError>,
    T::Future: 'static,
    B: http_body::Body<Data = bytes::Bytes, Error: Into<BoxError>> + 'static,
{
    type ResponseBody = B;

    fn handle(
        &self,
        request: Request<Body>,
    ) -> impl Future<Output = Result<Response<B>, BoxError>> + 'static {
        let mut service = self.clone();
        async move {
            poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(Into::into)?;
            service.call(request).await.map_err(Into::into)
        }
    }
}
