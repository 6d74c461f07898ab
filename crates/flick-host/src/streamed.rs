//! An invocation whose response may come as a stream, read piece by piece:
//! the runtime's content type if it streams, the chunks as it writes them,
//! then the end, which the function's answer marks.
//!
//! Both the HTTP gateway and `InvokeWithResponseStream` pass a stream on as
//! it is written; this is the one place that knows how the scheduler hands
//! it over (a bounded channel of [`StreamPart`]s beside the invocation). An
//! invocation whose runtime does not stream ends at once with its answer.

use bytes::Bytes;
use tokio::sync::mpsc;

use crate::outcome::Outcome;
use crate::runtime_api::StreamPart;
use crate::sandbox::{InvokeRequest, InvokeResult};
use crate::scheduler::{Running, ScheduleError, Scheduler};

/// Chunks held between the runtime and a slow reader before the runtime
/// has to wait.
pub const CHUNKS_IN_FLIGHT: usize = 16;

/// One piece of the answer.
#[derive(Debug)]
pub enum Piece {
    /// The runtime started a stream, with this content type.
    Start(Option<String>),
    Data(Bytes),
    /// The invocation's answer: the whole response if nothing was streamed,
    /// else only how the stream ended.
    End(Result<Outcome, ScheduleError>),
}

pub struct Streamed {
    parts: mpsc::Receiver<StreamPart>,
    running: Running,
}

impl Streamed {
    /// Starts `req` on function `name` with a channel for its stream.
    pub async fn start(
        scheduler: &Scheduler,
        name: &str,
        mut req: InvokeRequest,
    ) -> Result<Streamed, ScheduleError> {
        let (sink, parts) = mpsc::channel(CHUNKS_IN_FLIGHT);
        req.stream = Some(sink);
        let running = scheduler.start(name, req).await?;
        Ok(Streamed { parts, running })
    }

    /// The next piece; after `End`, `End` again.
    pub async fn next(&mut self) -> Piece {
        // The answer to a stream comes after its last part: what is queued goes first.
        if let Ok(part) = self.parts.try_recv() {
            return part.into();
        }
        tokio::select! {
            biased;
            Some(part) = self.parts.recv() => part.into(),
            outcome = self.running.answer() => match self.parts.try_recv() {
                Ok(part) => part.into(),
                Err(_) => Piece::End(outcome),
            },
        }
    }

    /// Waits for the end of the invoke phase (for its log tail).
    pub async fn finish(self) -> Result<InvokeResult, ScheduleError> {
        self.running.result().await
    }
}

impl From<StreamPart> for Piece {
    fn from(part: StreamPart) -> Piece {
        match part {
            StreamPart::Start { content_type } => Piece::Start(content_type),
            StreamPart::Data(data) => Piece::Data(data),
        }
    }
}
