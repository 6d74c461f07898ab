//! CloudWatch metrics in the Embedded Metric Format (EMF): a JSON log line
//! that CloudWatch Logs turns into metrics, with no API call and no agent.
//! Feature `metrics`.
//!
//! Make a [`Metrics`] per invocation, add dimensions and values, and let it
//! go: it is written when dropped (or on [`Metrics::flush`]), once per
//! invocation. Limits are the specification's, checked as values are
//! added: at most 30 dimensions and 100 metrics per document, 100 values per
//! metric, names of 1 to 255 characters, finite values.
//!
//! ```no_run
//! use flick::metrics::{Metrics, Unit};
//!
//! async fn handle(order: serde_json::Value, context: flick::Context) -> Result<(), flick::Error> {
//!     let mut metrics = Metrics::new("Shop");
//!     metrics.add_dimension("service", "orders")?;
//!     metrics.add_cold_start(&context);
//!     metrics.add("OrderValue", order["value"].as_f64().unwrap_or(0.0), Unit::None)?;
//!     Ok(())
//! }
//! ```

use std::io::Write;

use serde_json::{json, Map, Value};

use crate::{Context, Error};

/// EMF's limit on the dimensions of a document.
pub const MAX_DIMENSIONS: usize = 30;
/// EMF's limit on the metrics of a document.
pub const MAX_METRICS: usize = 100;
/// EMF's limit on the values of one metric in a document.
pub const MAX_VALUES: usize = 100;
const MAX_NAME: usize = 255;

/// CloudWatch's units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Unit {
    Seconds,
    Microseconds,
    Milliseconds,
    Bytes,
    Kilobytes,
    Megabytes,
    Gigabytes,
    Terabytes,
    Bits,
    Kilobits,
    Megabits,
    Gigabits,
    Terabits,
    Percent,
    Count,
    BytesPerSecond,
    KilobytesPerSecond,
    MegabytesPerSecond,
    GigabytesPerSecond,
    TerabytesPerSecond,
    BitsPerSecond,
    KilobitsPerSecond,
    MegabitsPerSecond,
    GigabitsPerSecond,
    TerabitsPerSecond,
    CountPerSecond,
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        use Unit::*;
        match self {
            Seconds => "Seconds",
            Microseconds => "Microseconds",
            Milliseconds => "Milliseconds",
            Bytes => "Bytes",
            Kilobytes => "Kilobytes",
            Megabytes => "Megabytes",
            Gigabytes => "Gigabytes",
            Terabytes => "Terabytes",
            Bits => "Bits",
            Kilobits => "Kilobits",
            Megabits => "Megabits",
            Gigabits => "Gigabits",
            Terabits => "Terabits",
            Percent => "Percent",
            Count => "Count",
            BytesPerSecond => "Bytes/Second",
            KilobytesPerSecond => "Kilobytes/Second",
            MegabytesPerSecond => "Megabytes/Second",
            GigabytesPerSecond => "Gigabytes/Second",
            TerabytesPerSecond => "Terabytes/Second",
            BitsPerSecond => "Bits/Second",
            KilobitsPerSecond => "Kilobits/Second",
            MegabitsPerSecond => "Megabits/Second",
            GigabitsPerSecond => "Gigabits/Second",
            TerabitsPerSecond => "Terabits/Second",
            CountPerSecond => "Count/Second",
            None => "None",
        }
    }
}

struct Metric {
    name: String,
    unit: Unit,
    high_resolution: bool,
    values: Vec<f64>,
}

/// One invocation's metrics, written as an EMF document when dropped.
pub struct Metrics {
    namespace: String,
    dimensions: Vec<(String, String)>,
    metrics: Vec<Metric>,
    properties: Map<String, Value>,
}

fn invalid(message: String) -> Error {
    Error::client(message).with_type("InvalidMetrics")
}

fn check_name(what: &str, name: &str) -> Result<(), Error> {
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(invalid(format!(
            "{what} `{name}` must be 1 to {MAX_NAME} characters"
        )));
    }
    Ok(())
}

impl Metrics {
    /// Metrics of the CloudWatch namespace `namespace`.
    pub fn new(namespace: impl Into<String>) -> Metrics {
        Metrics {
            namespace: namespace.into(),
            dimensions: Vec::new(),
            metrics: Vec::new(),
            properties: Map::new(),
        }
    }

    /// A dimension every metric of the document is recorded under.
    pub fn add_dimension(
        &mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<&mut Self, Error> {
        let name = name.into();
        check_name("dimension", &name)?;
        if self.dimensions.len() == MAX_DIMENSIONS {
            return Err(invalid(format!(
                "dimension `{name}` is one more than EMF's {MAX_DIMENSIONS}"
            )));
        }
        self.dimensions.push((name, value.into()));
        Ok(self)
    }

    /// A value of the metric `name` (standard resolution, one minute).
    pub fn add(&mut self, name: &str, value: f64, unit: Unit) -> Result<&mut Self, Error> {
        self.put(name, value, unit, false)
    }

    /// A value of the metric `name` at high resolution (one second).
    pub fn add_high_resolution(
        &mut self,
        name: &str,
        value: f64,
        unit: Unit,
    ) -> Result<&mut Self, Error> {
        self.put(name, value, unit, true)
    }

    fn put(&mut self, name: &str, value: f64, unit: Unit, high: bool) -> Result<&mut Self, Error> {
        check_name("metric", name)?;
        if !value.is_finite() {
            return Err(invalid(format!(
                "metric `{name}`: {value} is not a finite number"
            )));
        }
        let count = self.metrics.len();
        match self.metrics.iter_mut().find(|m| m.name == name) {
            Some(m) if m.unit != unit || m.high_resolution != high => {
                return Err(invalid(format!(
                    "metric `{name}` was added with another unit or resolution"
                )))
            }
            Some(m) if m.values.len() == MAX_VALUES => {
                return Err(invalid(format!(
                    "metric `{name}` already has EMF's {MAX_VALUES} values"
                )))
            }
            Some(m) => m.values.push(value),
            None if count == MAX_METRICS => {
                return Err(invalid(format!(
                    "metric `{name}` is one more than EMF's {MAX_METRICS}"
                )))
            }
            None => self.metrics.push(Metric {
                name: name.to_string(),
                unit,
                high_resolution: high,
                values: vec![value],
            }),
        }
        Ok(self)
    }

    /// A value carried in the document without being a metric (searchable
    /// in CloudWatch Logs Insights): a request id, an order number.
    pub fn add_property(&mut self, key: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// On a cold start, writes a document of its own with `ColdStart` = 1
    /// (Count), under this document's namespace and the dimension
    /// `function_name`, as Powertools does.
    pub fn add_cold_start(&mut self, context: &Context) {
        if !context.is_cold_start() {
            return;
        }
        let mut cold = Metrics::new(self.namespace.clone());
        let recorded = cold
            .add_dimension("function_name", context.function_name())
            .and_then(|m| m.add("ColdStart", 1.0, Unit::Count))
            .is_ok();
        if !recorded {
            cold.metrics.clear();
        }
    }

    /// The EMF document, or None when there is no metric to record.
    pub fn document(&self, timestamp_ms: u64) -> Option<Value> {
        if self.metrics.is_empty() {
            return None;
        }
        let definitions: Vec<Value> = self
            .metrics
            .iter()
            .map(|m| {
                let mut d = json!({"Name": m.name, "Unit": m.unit.as_str()});
                if m.high_resolution {
                    d["StorageResolution"] = json!(1);
                }
                d
            })
            .collect();
        let dimension_names: Vec<&str> = self.dimensions.iter().map(|(n, _)| n.as_str()).collect();
        let mut doc = self.properties.clone();
        for (name, value) in &self.dimensions {
            doc.insert(name.clone(), json!(value));
        }
        for m in &self.metrics {
            let value = match m.values.as_slice() {
                [one] => json!(one),
                many => json!(many),
            };
            doc.insert(m.name.clone(), value);
        }
        doc.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [dimension_names],
                    "Metrics": definitions,
                }],
            }),
        );
        Some(Value::Object(doc))
    }

    /// Writes the document (one line on stdout, where CloudWatch Logs reads
    /// it) and starts over with the same dimensions.
    pub fn flush(&mut self) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        if let Some(doc) = self.document(now) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{doc}");
            let _ = out.flush();
        }
        self.metrics.clear();
    }
}

impl Drop for Metrics {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_has_the_specifications_shape() {
        let mut m = Metrics::new("Shop");
        m.add_dimension("service", "orders").unwrap();
        m.add("OrderValue", 12.5, Unit::None).unwrap();
        m.add("OrderValue", 7.0, Unit::None).unwrap();
        m.add_high_resolution("Latency", 3.0, Unit::Milliseconds)
            .unwrap();
        m.add_property("orderId", "o-1");
        let doc = m.document(1_000).unwrap();
        assert_eq!(doc["service"], "orders");
        assert_eq!(doc["OrderValue"], json!([12.5, 7.0]));
        assert_eq!(doc["Latency"], 3.0);
        assert_eq!(doc["orderId"], "o-1");
        let aws = &doc["_aws"];
        assert_eq!(aws["Timestamp"], 1_000);
        let cw = &aws["CloudWatchMetrics"][0];
        assert_eq!(cw["Namespace"], "Shop");
        assert_eq!(cw["Dimensions"], json!([["service"]]));
        assert_eq!(
            cw["Metrics"][0],
            json!({"Name": "OrderValue", "Unit": "None"})
        );
        assert_eq!(
            cw["Metrics"][1],
            json!({"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 1})
        );
        m.metrics.clear();
    }

    #[test]
    fn the_limits_are_errors_naming_what_broke_them() {
        let mut m = Metrics::new("Shop");
        for i in 0..MAX_METRICS {
            m.add(&format!("m{i}"), 1.0, Unit::Count).unwrap();
        }
        let e = m.add("one-more", 1.0, Unit::Count).err().unwrap();
        assert_eq!(e.error_type(), "InvalidMetrics");
        for i in 0..MAX_DIMENSIONS {
            m.add_dimension(format!("d{i}"), "v").unwrap();
        }
        assert!(m.add_dimension("d30", "v").is_err());
        assert!(m.add("m0", f64::NAN, Unit::Count).is_err());
        assert!(m.add("m0", 1.0, Unit::Seconds).is_err(), "another unit");
        assert!(m.add("", 1.0, Unit::Count).is_err());
        m.metrics.clear();
    }
}
