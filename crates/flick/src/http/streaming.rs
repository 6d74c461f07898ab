//! Response streaming: the service's body goes to the Runtime API frame by
//! frame as it is produced, in the HTTP integration format (a JSON prelude
//! `{statusCode, headers, cookies}`, 8 NUL bytes, then the body), and a body
//! that fails midway ends the stream with the error in the
//! `Lambda-Runtime-Function-Error-Type`/`-Body` trailers.
//!
//! Owns the streaming handler. Sending chunks and trailers is the
//! `responder`'s and `runtime_api`'s job.

use http_body_util::BodyExt;

use super::event::RawEvent;
use super::request;
use super::response;
use super::service::HttpService;
use crate::codec::Buffers;
use crate::context::Context;
use crate::error::Error;
use crate::executor::Executor;
use crate::handler::Invoke;
use crate::responder::Responder;

/// The content type of a streamed HTTP integration response.
const CONTENT_TYPE: &str = "application/vnd.awslambda.http-integration-response";

/// Serves each invocation by streaming the service's response.
pub(crate) struct Streaming;

impl<S: HttpService> Invoke<S> for Streaming {
    fn invoke(
        &self,
        service: &S,
        buffers: &mut Buffers,
        context: Context,
        executor: &Executor,
        responder: &mut Responder<'_>,
    ) -> Result<(), Error> {
        executor.block_on(async {
            let (raw, source) = RawEvent::parse(&buffers.event)?;
            let request = request::from_event(raw, source, Some(context))?;
            let response = service
                .handle(request)
                .await
                .map_err(|e| Error::transient(format!("the HTTP service failed: {e}")))?;
            let (parts, body) = response.into_parts();
            let mut body = std::pin::pin!(body);
            response::write_prelude(&parts, &mut buffers.output);
            responder.open(CONTENT_TYPE)?;
            responder.write(&buffers.output)?;
            while let Some(frame) = body.as_mut().frame().await {
                let frame = frame.map_err(|e| {
                    Error::transient(format!("the response body failed midway: {}", e.into()))
                        .with_type("StreamError")
                })?;
                if let Ok(data) = frame.into_data() {
                    responder.write(&data)?;
                }
            }
            Ok(())
        })
    }
}
