//! A payment charged once per order: the event's `order_id` is the
//! idempotency key and its `amount` must match on a repeat. A repeat gets
//! the first charge's result (same `charge_id`) instead of a second charge.
//! The store is the DynamoDB table `IDEMPOTENCY_TABLE` when set (with the
//! credentials, region and endpoint the environment gives the AWS SDK), else
//! Redis or Valkey at `REDIS_ADDR` when set (both shared by every sandbox),
//! else this process's memory.
//!
//! For the tests, `fail: true` makes the charge fail (a retry charges
//! again) and `sleep_ms` makes it slow (a concurrent repeat is refused as in
//! progress).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flick::idempotency::{Idempotency, MemoryStore, RedisStore, Store};
use flick::{Context, Error, Init};
use serde_json::{json, Value};

type State = Idempotency<Box<dyn Store + Send + Sync>>;

fn init(_: &mut Init) -> Result<State, Error> {
    let table = std::env::var("IDEMPOTENCY_TABLE").ok();
    let store: Box<dyn Store + Send + Sync> = match (table, std::env::var("REDIS_ADDR")) {
        #[cfg(feature = "dynamodb")]
        (Some(table), _) => Box::new(flick::idempotency::DynamoDbStore::from_env(table)?),
        (_, Ok(addr)) => Box::new(RedisStore::new(addr)),
        _ => Box::new(MemoryStore::default()),
    };
    Ok(Idempotency::new(store)
        .key_path("/order_id")
        .validate_path("/amount"))
}

async fn handle(charges: &State, order: Value, context: Context) -> Result<Value, Error> {
    charges
        .run(&order, &context, async || {
            if order["fail"].as_bool().unwrap_or(false) {
                return Err(Error::transient("the card processor did not answer")
                    .with_type("ProcessorUnavailable"));
            }
            if let Some(ms) = order["sleep_ms"].as_u64() {
                std::thread::sleep(Duration::from_millis(ms));
            }
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            Ok(json!({"charge_id": format!("ch_{nanos:x}"), "amount": order["amount"]}))
        })
        .await
}

fn main() {
    flick::init(init).run(handle)
}
