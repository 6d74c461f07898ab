//! CloudWatch metrics from a function, in the Embedded Metric Format: one
//! JSON log line per invocation that CloudWatch Logs turns into metrics
//! (`Shop/OrderValue` by `service`), plus a `ColdStart` count on the first
//! invocation of each sandbox. `extra_metrics` adds that many more metrics,
//! to show what going past EMF's limit of 100 does: an `InvalidMetrics`
//! error naming it.

use flick::metrics::{Metrics, Unit};
use flick::{Context, Error};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
struct Order {
    value: f64,
    #[serde(default)]
    extra_metrics: usize,
}

async fn handle(order: Order, context: Context) -> Result<Value, Error> {
    let mut metrics = Metrics::new("Shop");
    metrics.add_dimension("service", "orders")?;
    metrics.add_cold_start(&context);
    metrics.add("OrderValue", order.value, Unit::None)?;
    metrics.add_property("requestId", context.request_id());
    for i in 0..order.extra_metrics {
        metrics.add(&format!("Extra{i}"), 1.0, Unit::Count)?;
    }
    // `metrics` is written as it goes out of scope: once per invocation.
    Ok(json!({"recorded": true}))
}

fn main() {
    flick::run(handle)
}
