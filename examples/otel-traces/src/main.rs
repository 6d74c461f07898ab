//! A checkout traced with OpenTelemetry: the invocation is a span under the
//! caller's X-Ray trace, `reserve` and `charge` are its children (through
//! `#[tracing::instrument]`), and the `info!` events are span events. All of
//! it is exported over OTLP/HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT` before the
//! next event. An order with `"decline": true` fails with `PaymentDeclined`,
//! which marks the invocation's span as an error.

use flick::{Context, Error};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Order {
    id: String,
    items: u32,
    #[serde(default)]
    decline: bool,
}

// `i64`: the bridge records signed integers as numbers, unsigned ones as text.
#[tracing::instrument(skip_all, fields(order.items = i64::from(order.items)))]
async fn reserve(order: &Order) {
    tracing::info!(order.id = %order.id, "stock reserved");
}

#[tracing::instrument(skip_all, fields(order.id = %order.id))]
async fn charge(order: &Order) -> Result<String, Error> {
    if order.decline {
        return Err(Error::client("the card was declined").with_type("PaymentDeclined"));
    }
    Ok(format!("ch-{}", order.id))
}

async fn handle(order: Order, context: Context) -> Result<Value, Error> {
    reserve(&order).await;
    let charge_id = charge(&order).await?;
    Ok(json!({"charge": charge_id, "trace": context.trace_id()}))
}

fn main() {
    flick::run(handle)
}
