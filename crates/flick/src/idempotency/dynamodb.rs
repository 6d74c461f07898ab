//! A DynamoDB store of idempotency records (feature `idempotency-dynamodb`),
//! through the AWS SDK for Rust, in a table laid out as Powertools lays its
//! own: partition key `id` (a string), `expiration` in epoch seconds (the
//! attribute to give DynamoDB's TTL), `in_progress_expiration` in epoch ms,
//! `status` (`INPROGRESS`/`COMPLETED`), `data` (the result), `validation`.
//!
//! Owns the mapping between [`Record`] and items and the one conditional
//! write that makes a claim atomic. A key longer than [`LONGEST_ID`] is
//! stored as its SHA-256 (DynamoDB takes partition keys of 2 KB at most).
//! The AWS SDK is async on tokio and the [`Store`] contract is blocking (as
//! Redis's is), so the SDK runs on one tokio runtime of the SDK's own, on a
//! thread of its own: a call blocks its caller, never a runtime the handler
//! may be running on, and gives up after [`CALL_LIMIT`].

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use tokio::runtime::Handle;

use super::store::{Record, Status, Store};

type Item = HashMap<String, AttributeValue>;

/// Ids up to this long are the key itself; longer ones, its digest.
const LONGEST_ID: usize = 1024;

/// Longest one store call may take (the SDK's own operation limit, set by
/// [`DynamoDbStore::from_env`], is shorter).
const CALL_LIMIT: Duration = Duration::from_secs(10);

/// A claim succeeds when no record holds the key: none, an expired one, or
/// an in-progress one whose invocation's deadline has passed.
const FREE: &str = "attribute_not_exists(id) OR expiration <= :now_s \
    OR (#status = :in_progress AND (attribute_not_exists(in_progress_expiration) \
    OR in_progress_expiration <= :now_ms))";

/// Records in the DynamoDB table `table`.
#[derive(Debug)]
pub struct DynamoDbStore {
    client: Client,
    table: String,
    runtime: Handle,
}

impl DynamoDbStore {
    /// A store using `client`, which should be its own: the SDK's
    /// connections belong to the runtime they were made on, and a client
    /// the handler also uses on its runtime could hand the store one whose
    /// runtime is not running.
    pub fn new(client: Client, table: impl Into<String>) -> io::Result<Self> {
        Ok(DynamoDbStore {
            client,
            table: table.into(),
            runtime: runtime()?,
        })
    }

    /// A store with the client the environment describes (credentials,
    /// region, `AWS_ENDPOINT_URL_DYNAMODB`), as `aws_config` reads it, each
    /// operation limited to 5 s.
    pub fn from_env(table: impl Into<String>) -> io::Result<Self> {
        let runtime = runtime()?;
        let limits = aws_config::timeout::TimeoutConfig::builder()
            .operation_timeout(Duration::from_secs(5))
            .build();
        let config =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(limits);
        let config = run_on(&runtime, config.load())?;
        Ok(DynamoDbStore {
            client: Client::new(&config),
            table: table.into(),
            runtime,
        })
    }

    fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> io::Result<T> {
        run_on(&self.runtime, work)
    }

    /// The item of `key`, read consistently.
    fn get(&self, key: &str) -> io::Result<Option<Record>> {
        let request = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(item_id(key)))
            .consistent_read(true);
        let found = self
            .run(request.send())?
            .map_err(|e| failure("GetItem", &e))?;
        found.item.as_ref().map(from_item).transpose()
    }
}

/// The current-thread tokio runtime every store shares, driven by a thread
/// that lives as long as the process.
fn runtime() -> io::Result<Handle> {
    static RUNTIME: OnceLock<Handle> = OnceLock::new();
    if let Some(handle) = RUNTIME.get() {
        return Ok(handle.clone());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    crate::threads::spawn(move || runtime.block_on(std::future::pending::<()>()))?;
    // Two first stores at once: one runtime wins, the other idles.
    Ok(RUNTIME.get_or_init(|| handle).clone())
}

/// Runs `work` on `runtime` and waits for it on this thread.
fn run_on<T: Send + 'static>(
    runtime: &Handle,
    work: impl Future<Output = T> + Send + 'static,
) -> io::Result<T> {
    let (done, result) = mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = done.send(work.await);
    });
    result.recv_timeout(CALL_LIMIT).map_err(|e| match e {
        mpsc::RecvTimeoutError::Timeout => io::Error::new(
            io::ErrorKind::TimedOut,
            format!("DynamoDB did not answer within {} s", CALL_LIMIT.as_secs()),
        ),
        mpsc::RecvTimeoutError::Disconnected => {
            io::Error::other("the DynamoDB client's runtime has stopped")
        }
    })
}

fn failure(operation: &str, error: &dyn std::error::Error) -> io::Error {
    io::Error::other(format!(
        "DynamoDB {operation}: {}",
        DisplayErrorContext(error)
    ))
}

impl Store for DynamoDbStore {
    fn claim(&self, record: &Record, now_ms: i64) -> io::Result<Option<Record>> {
        // Free, or find the record there; one that vanishes meanwhile is tried again.
        for _ in 0..3 {
            let request = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(to_item(record)))
                .condition_expression(FREE)
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":now_s", number(now_ms.div_euclid(1000)))
                .expression_attribute_values(":now_ms", number(now_ms))
                .expression_attribute_values(":in_progress", AttributeValue::S("INPROGRESS".into()))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            let error = match self.run(request.send())? {
                Ok(_) => return Ok(None),
                Err(e) => e,
            };
            let found = match error.into_service_error() {
                PutItemError::ConditionalCheckFailedException(held) => match held.item {
                    Some(item) => Some(from_item(&item)?),
                    // A table or service that does not return the old item;
                    // one that has just expired is tried again.
                    None => self.get(&record.key)?.filter(|r| r.is_live(now_ms)),
                },
                other => return Err(failure("PutItem", &other)),
            };
            match found {
                // Our own claim, whose answer was lost: it is ours.
                Some(found) if found.claim_id == record.claim_id => return Ok(None),
                Some(found) => return Ok(Some(found)),
                None => {}
            }
        }
        Err(io::Error::other(
            "the idempotency record kept changing under this request",
        ))
    }

    fn put(&self, record: &Record) -> io::Result<()> {
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)));
        self.run(request.send())?
            .map_err(|e| failure("PutItem", &e))?;
        Ok(())
    }

    fn delete(&self, key: &str) -> io::Result<()> {
        let request = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("id", AttributeValue::S(item_id(key)));
        self.run(request.send())?
            .map_err(|e| failure("DeleteItem", &e))?;
        Ok(())
    }
}

/// The item's `id` for `key`: the key itself, or, past [`LONGEST_ID`],
/// its function-and-work prefix and the SHA-256 of the whole key.
fn item_id(key: &str) -> String {
    use sha2::{Digest, Sha256};
    if key.len() <= LONGEST_ID {
        return key.to_owned();
    }
    let prefix = key.split('#').next().unwrap_or_default();
    let digest: String = Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{prefix}#sha256:{digest}")
}

fn number(n: i64) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

fn to_item(record: &Record) -> Item {
    let status = match record.status {
        Status::InProgress => "INPROGRESS",
        Status::Completed => "COMPLETED",
    };
    // Whole seconds, rounded up: DynamoDB's TTL reads seconds, and a record
    // must not end before its expiry.
    let expiration = record.expires_ms.div_euclid(1000) + i64::from(record.expires_ms % 1000 != 0);
    let mut item = Item::from([
        ("id".into(), AttributeValue::S(item_id(&record.key))),
        ("status".into(), AttributeValue::S(status.into())),
        ("expiration".into(), number(expiration)),
        (
            "claim_id".into(),
            AttributeValue::S(record.claim_id.clone()),
        ),
    ]);
    let optional = [
        (
            "in_progress_expiration",
            record.in_progress_until_ms.map(number),
        ),
        (
            "validation",
            record.validation.clone().map(AttributeValue::S),
        ),
        ("data", record.result.clone().map(AttributeValue::S)),
    ];
    item.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_owned(), value?))),
    );
    item
}

fn from_item(item: &Item) -> io::Result<Record> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let int = |name: &str| {
        let value = item.get(name).and_then(|v| v.as_n().ok());
        value
            .map(|n| n.parse::<i64>())
            .transpose()
            .map_err(|_| bad(name))
    };
    let status = match text("status").as_deref() {
        Some("INPROGRESS") => Status::InProgress,
        Some("COMPLETED") => Status::Completed,
        _ => return Err(bad("status")),
    };
    Ok(Record {
        key: text("id").ok_or_else(|| bad("id"))?,
        status,
        expires_ms: int("expiration")?
            .and_then(|s| s.checked_mul(1000))
            .ok_or_else(|| bad("expiration"))?,
        in_progress_until_ms: int("in_progress_expiration")?,
        validation: text("validation"),
        result: text("data"),
        claim_id: text("claim_id").unwrap_or_default(),
    })
}

fn bad(attribute: &str) -> io::Error {
    io::Error::other(format!(
        "an idempotency item has no valid `{attribute}` attribute"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_the_trip_through_an_item() {
        let record = Record {
            key: "f#\"k\"".into(),
            status: Status::Completed,
            expires_ms: 1_700_000_000_000,
            in_progress_until_ms: Some(1_699_999_999_123),
            validation: Some("abc".into()),
            result: Some("{\"ok\":true}".into()),
            claim_id: "req#1".into(),
        };
        assert_eq!(from_item(&to_item(&record)).unwrap(), record);
        let running = Record {
            status: Status::InProgress,
            expires_ms: 1_700_000_000_001,
            validation: None,
            result: None,
            ..record
        };
        let item = to_item(&running);
        assert_eq!(item["expiration"], number(1_700_000_001), "rounded up");
        assert!(!item.contains_key("data") && !item.contains_key("validation"));
    }

    #[test]
    fn a_long_key_is_stored_as_its_digest() {
        assert_eq!(item_id("f.handler#\"k\""), "f.handler#\"k\"");
        let long = format!("f.handler#\"{}\"", "x".repeat(3000));
        let id = item_id(&long);
        assert!(
            id.starts_with("f.handler#sha256:") && id.len() == "f.handler#sha256:".len() + 64,
            "{id}"
        );
        assert_eq!(item_id(&long), id, "stable");
        assert_ne!(item_id(&format!("{long}y")), id);
    }

    #[test]
    fn a_foreign_item_is_named_not_guessed() {
        let mut item = to_item(&Record {
            key: "k".into(),
            status: Status::Completed,
            expires_ms: 5_000,
            in_progress_until_ms: None,
            validation: None,
            result: None,
            claim_id: String::new(),
        });
        item.insert("status".into(), AttributeValue::S("DONE".into()));
        assert!(from_item(&item)
            .unwrap_err()
            .to_string()
            .contains("`status`"));
        item.remove("status");
        item.insert("status".into(), AttributeValue::S("COMPLETED".into()));
        item.insert("expiration".into(), AttributeValue::N("soon".into()));
        assert!(from_item(&item)
            .unwrap_err()
            .to_string()
            .contains("`expiration`"));
    }
}
