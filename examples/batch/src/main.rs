//! One function per event source, chosen by `BATCH_SOURCE` (`sqs`,
//! `kinesis` or `dynamodb`): each record is an order; an order whose
//! `fail` is true fails, so the response names it in `batchItemFailures`
//! and Lambda retries only that one. `BATCH_CONCURRENCY` records at once.

use flick::batch::events::dynamodb::{Event as DynamoDbEvent, EventRecord};
use flick::batch::events::kinesis::{KinesisEvent, KinesisEventRecord};
use flick::batch::events::sqs::{SqsEvent, SqsMessage};
use flick::batch::{json_body, json_data, Batch};
use flick::{Context, Error};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Order {
    id: String,
    #[serde(default)]
    fail: bool,
    /// For the tests: a bug in the code that handles this order.
    #[serde(default)]
    panic: bool,
}

fn process(order: Order) -> Result<(), Error> {
    assert!(!order.panic, "order {} hit a bug", order.id);
    if order.fail {
        return Err(
            Error::transient(format!("order {} could not be stored", order.id))
                .with_type("StoreUnavailable"),
        );
    }
    tracing::info!(order = %order.id, "stored");
    Ok(())
}

fn batch() -> Batch {
    let n = std::env::var("BATCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    Batch::new().concurrency(n)
}

async fn sqs(event: SqsEvent, _: Context) -> Result<Value, Error> {
    let response = batch()
        .sqs(event, async |message: SqsMessage| {
            process(json_body(&message)?)
        })
        .await?;
    Ok(serde_json::to_value(response)?)
}

async fn kinesis(event: KinesisEvent, _: Context) -> Result<Value, Error> {
    let response = batch()
        .kinesis(event, async |record: KinesisEventRecord| {
            process(json_data(&record)?)
        })
        .await?;
    Ok(serde_json::to_value(response)?)
}

async fn dynamodb(event: DynamoDbEvent, _: Context) -> Result<Value, Error> {
    let response = batch()
        .dynamodb(event, async |record: EventRecord| {
            // The new image's attributes, as DynamoDB JSON: {"id": {"S": "..."}, "fail": {"BOOL": true}}.
            let image = serde_json::to_value(&record.change.new_image)?;
            let order = Order {
                id: image["id"]["S"].as_str().unwrap_or("-").to_string(),
                fail: image["fail"]["BOOL"].as_bool().unwrap_or(false),
                panic: false,
            };
            process(order)
        })
        .await?;
    Ok(serde_json::to_value(response)?)
}

fn main() {
    match std::env::var("BATCH_SOURCE").as_deref() {
        Ok("kinesis") => flick::run(kinesis),
        Ok("dynamodb") => flick::run(dynamodb),
        _ => flick::run(sqs),
    }
}
