//! Batch processing with partial failures (feature `batch`): a handler for
//! SQS, Kinesis or DynamoDB Streams events runs a function per record and
//! answers with the `batchItemFailures` of the records that failed, so
//! Lambda (with `ReportBatchItemFailures` on the event source mapping)
//! retries only those. The events and responses are the community's
//! `aws_lambda_events` types, re-exported in [`events`].
//!
//! ```no_run
//! use flick::batch::{events::sqs::{SqsBatchResponse, SqsEvent, SqsMessage}, Batch};
//!
//! async fn handle(event: SqsEvent, _: flick::Context) -> Result<SqsBatchResponse, flick::Error> {
//!     Batch::new().concurrency(4).sqs(event, async |message: SqsMessage| {
//!         let order: serde_json::Value = flick::batch::json_body(&message)?;
//!         tracing::info!(id = %order["id"], "stored");
//!         Ok(())
//!     }).await
//! }
//!
//! fn main() {
//!     flick::run(handle)
//! }
//! ```
//!
//! Rules, as Powertools for AWS Lambda applies them:
//! - records are processed one at a time, or up to [`Batch::concurrency`]
//!   at once (their awaits overlap; blocking calls still run one at a
//!   time); each failure, a panic included, is logged with the record's id;
//! - an SQS FIFO queue's batch (its source ARN ends in `.fifo`) is
//!   processed in order and stops at the first failure: that record and
//!   every one after it are reported, so that none is processed out of
//!   order;
//! - if every record failed, the handler fails (`BatchProcessingError`)
//!   and Lambda retries the whole batch, as it would without partial
//!   responses;
//! - a record without an identifier cannot be reported alone: its failure
//!   fails the batch.

mod bounded;

use std::future::Future;

use aws_lambda_events::event::dynamodb::{Event as DynamoDbEvent, EventRecord as DynamoDbRecord};
use aws_lambda_events::event::kinesis::{KinesisEvent, KinesisEventRecord};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_lambda_events::event::streams::{
    DynamoDbBatchItemFailure, DynamoDbEventResponse, KinesisBatchItemFailure, KinesisEventResponse,
};
use serde::de::DeserializeOwned;

use crate::Error;

/// The event and response types of the event sources, from `aws_lambda_events`.
pub mod events {
    pub use aws_lambda_events::event::{dynamodb, kinesis, sqs, streams};
}

/// How a batch is processed; [`Batch::new`] is one record at a time.
#[derive(Debug, Clone, Copy)]
pub struct Batch {
    concurrency: usize,
}

impl Default for Batch {
    fn default() -> Self {
        Self::new()
    }
}

impl Batch {
    /// One record at a time.
    pub fn new() -> Self {
        Batch { concurrency: 1 }
    }

    /// Up to `n` records at once (at least 1). An SQS FIFO batch is still
    /// processed in order.
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Runs `handler` on each message; the response names the failed ones.
    pub async fn sqs<F>(&self, event: SqsEvent, handler: F) -> Result<SqsBatchResponse, Error>
    where
        F: AsyncFn(SqsMessage) -> Result<(), Error>,
    {
        let fifo = event
            .records
            .first()
            .and_then(|m| m.event_source_arn.as_deref())
            .is_some_and(|arn| arn.ends_with(".fifo"));
        let ids = event.records.iter().map(|m| m.message_id.clone()).collect();
        let failed = match fifo {
            true => in_order(event.records, ids, &handler).await,
            false => self.all(event.records, ids, &handler).await,
        }?;
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failed.into_iter().map(sqs_failure).collect();
        Ok(response)
    }

    /// Runs `handler` on each Kinesis record; failures are reported by
    /// sequence number.
    pub async fn kinesis<F>(
        &self,
        event: KinesisEvent,
        handler: F,
    ) -> Result<KinesisEventResponse, Error>
    where
        F: AsyncFn(KinesisEventRecord) -> Result<(), Error>,
    {
        let ids = event
            .records
            .iter()
            .map(|r| Some(r.kinesis.sequence_number.clone()))
            .collect();
        let failed = self.all(event.records, ids, &handler).await?;
        let mut response = KinesisEventResponse::default();
        response.batch_item_failures = failed.into_iter().map(kinesis_failure).collect();
        Ok(response)
    }

    /// Runs `handler` on each DynamoDB Streams record; failures are
    /// reported by sequence number.
    pub async fn dynamodb<F>(
        &self,
        event: DynamoDbEvent,
        handler: F,
    ) -> Result<DynamoDbEventResponse, Error>
    where
        F: AsyncFn(DynamoDbRecord) -> Result<(), Error>,
    {
        let ids = event
            .records
            .iter()
            .map(|r| r.change.sequence_number.clone())
            .collect();
        let failed = self.all(event.records, ids, &handler).await?;
        let mut response = DynamoDbEventResponse::default();
        response.batch_item_failures = failed.into_iter().map(dynamodb_failure).collect();
        Ok(response)
    }

    /// Every record, up to `concurrency` at once; the ids of those that failed.
    async fn all<R, F>(
        &self,
        records: Vec<R>,
        ids: Vec<Option<String>>,
        handler: &F,
    ) -> Result<Vec<String>, Error>
    where
        F: AsyncFn(R) -> Result<(), Error>,
    {
        let total = records.len();
        let futures = records.into_iter().map(|r| caught(handler(r)));
        let results = bounded::join(futures, self.concurrency).await;
        let failed: Vec<(Option<String>, Error)> = ids
            .into_iter()
            .zip(results)
            .filter_map(|(id, result)| result.err().map(|e| (id, e)))
            .collect();
        report(failed, total)
    }
}

/// An SQS FIFO batch: in order, stopping at the first failure, which and
/// every record after it are reported.
async fn in_order<F>(
    records: Vec<SqsMessage>,
    ids: Vec<Option<String>>,
    handler: &F,
) -> Result<Vec<String>, Error>
where
    F: AsyncFn(SqsMessage) -> Result<(), Error>,
{
    let total = records.len();
    let mut failed = Vec::new();
    let mut ids = ids.into_iter();
    for (record, id) in records.into_iter().zip(ids.by_ref()) {
        if let Err(e) = caught(handler(record)).await {
            failed.push((id, e));
            break;
        }
    }
    for id in ids {
        let skipped =
            Error::transient("not processed: an earlier message of the FIFO batch failed");
        failed.push((id, skipped.with_type("BatchProcessingSkipped")));
    }
    report(failed, total)
}

/// A record's outcome, a panic in its handler being its failure (as an
/// exception is in Powertools), where panics unwind: with `panic = "abort"`
/// (the `lambda` profile) a panic ends the process, and Lambda retries the batch.
async fn caught(work: impl Future<Output = Result<(), Error>>) -> Result<(), Error> {
    let mut work = std::pin::pin!(work);
    std::future::poll_fn(|cx| {
        let polled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work.as_mut().poll(cx)));
        polled.unwrap_or_else(|_| {
            let panicked = Error::transient("the record's handler panicked").with_type("Panic");
            std::task::Poll::Ready(Err(panicked))
        })
    })
    .await
}

/// Logs each failure; the ids to report, or the batch's failure when every
/// record failed or one without an id did.
fn report(failed: Vec<(Option<String>, Error)>, total: usize) -> Result<Vec<String>, Error> {
    let mut ids = Vec::with_capacity(failed.len());
    for (id, error) in &failed {
        tracing::warn!(
            record = id.as_deref().unwrap_or("-"),
            error_type = error.error_type(),
            "record failed: {error}"
        );
        let Some(id) = id else {
            let message = format!(
                "a record without an identifier failed ({error}): the batch cannot report it alone"
            );
            return Err(Error::transient(message).with_type("BatchProcessingError"));
        };
        ids.push(id.clone());
    }
    if total > 0 && failed.len() == total {
        return Err(Error::transient(format!(
            "All records failed processing. {total} individual errors logged separately."
        ))
        .with_type("BatchProcessingError"));
    }
    Ok(ids)
}

/// An SQS message's body as JSON of type `T`; a body that is not one is the
/// record's failure (`Client`, `InvalidRecord`), never a panic.
pub fn json_body<T: DeserializeOwned>(message: &SqsMessage) -> Result<T, Error> {
    let id = message.message_id.as_deref().unwrap_or("-");
    let body = message
        .body
        .as_deref()
        .ok_or_else(|| invalid(format!("message {id} has no body")))?;
    serde_json::from_str(body).map_err(|e| {
        invalid(format!(
            "message {id}: the body is not the JSON expected: {e}"
        ))
    })
}

/// A Kinesis record's data as JSON of type `T` (as [`json_body`]).
pub fn json_data<T: DeserializeOwned>(record: &KinesisEventRecord) -> Result<T, Error> {
    let id = &record.kinesis.sequence_number;
    serde_json::from_slice(&record.kinesis.data.0).map_err(|e| {
        invalid(format!(
            "record {id}: the data is not the JSON expected: {e}"
        ))
    })
}

fn invalid(message: String) -> Error {
    Error::client(message).with_type("InvalidRecord")
}

fn sqs_failure(id: String) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = id;
    f
}

fn kinesis_failure(id: String) -> KinesisBatchItemFailure {
    let mut f = KinesisBatchItemFailure::default();
    f.item_identifier = Some(id);
    f
}

fn dynamodb_failure(id: String) -> DynamoDbBatchItemFailure {
    let mut f = DynamoDbBatchItemFailure::default();
    f.item_identifier = Some(id);
    f
}
