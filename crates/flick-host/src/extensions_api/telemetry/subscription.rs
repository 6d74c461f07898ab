//! A subscription request of the Telemetry API (`PUT /2022-07-01/telemetry`)
//! or of the older Logs API (`PUT /2020-08-15/logs`), checked as Lambda
//! checks it: the schema versions it knows, a destination inside the
//! sandbox (`sandbox.localdomain`, or `sandbox`; never port 9001), at least
//! one known type, and buffering within the documented ranges.

use serde::Deserialize;

/// Which of the two APIs a subscription came through: they share the
/// mechanism and differ in record shapes and defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    Telemetry,
    Logs,
}

const TELEMETRY_SCHEMAS: [&str; 3] = ["2022-07-01", "2022-12-13", "2025-01-29"];
const LOGS_SCHEMAS: [&str; 2] = ["2020-08-15", "2021-03-18"];
/// The Runtime API's own port on Lambda, which a destination may not use.
const RESERVED_PORT: u16 = 9001;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Types {
    pub platform: bool,
    pub function: bool,
    pub extension: bool,
}

impl Types {
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.platform, "platform"),
            (self.function, "function"),
            (self.extension, "extension"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffering {
    pub max_items: usize,
    pub max_bytes: usize,
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// POSTed JSON arrays to `http://sandbox.localdomain:port/path`.
    Http { port: u16, path: String },
    /// Newline-delimited JSON on a TCP connection to the port.
    Tcp { port: u16 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub api: Api,
    pub schema: String,
    pub types: Types,
    pub buffering: Buffering,
    pub destination: Destination,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body {
    schema_version: Option<String>,
    destination: Option<DestinationBody>,
    #[serde(default)]
    types: Vec<String>,
    buffering: Option<BufferingBody>,
}

#[derive(Deserialize)]
struct DestinationBody {
    protocol: String,
    #[serde(rename = "URI")]
    uri: Option<String>,
    port: Option<u16>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BufferingBody {
    max_items: Option<u64>,
    max_bytes: Option<u64>,
    timeout_ms: Option<u64>,
}

/// Parses and checks a subscription; the error is the `errorMessage` of a
/// 400 answer.
pub fn parse(api: Api, body: &[u8]) -> Result<Subscription, String> {
    let body: Body =
        serde_json::from_slice(body).map_err(|e| format!("invalid request body: {e}"))?;
    let schema = schema(api, body.schema_version)?;
    let destination = destination(body.destination)?;
    let types = types(&body.types)?;
    let buffering = buffering(api, body.buffering)?;
    Ok(Subscription {
        api,
        schema,
        types,
        buffering,
        destination,
    })
}

fn schema(api: Api, given: Option<String>) -> Result<String, String> {
    let (known, default): (&[&str], Option<&str>) = match api {
        Api::Telemetry => (&TELEMETRY_SCHEMAS, None),
        Api::Logs => (&LOGS_SCHEMAS, Some("2020-08-15")),
    };
    match given.as_deref().or(default) {
        Some(v) if known.contains(&v) => Ok(v.to_string()),
        Some(v) => Err(format!(
            "schemaVersion {v} is not one of {}",
            known.join(", ")
        )),
        None => Err("schemaVersion is required".into()),
    }
}

fn destination(given: Option<DestinationBody>) -> Result<Destination, String> {
    let d = given.ok_or("destination is required")?;
    let port = match (&d.uri, d.port) {
        (Some(uri), _) => uri_port(uri, &d.protocol)?,
        (None, Some(port)) if d.protocol == "TCP" => (port, String::new()),
        (None, _) => return Err("destination.URI is required".into()),
    };
    let (port, path) = port;
    if port == RESERVED_PORT {
        return Err(format!("destination port {RESERVED_PORT} is reserved"));
    }
    match d.protocol.as_str() {
        "HTTP" => Ok(Destination::Http { port, path }),
        "TCP" => Ok(Destination::Tcp { port }),
        other => Err(format!("destination.protocol {other} is not HTTP or TCP")),
    }
}

/// `http://sandbox.localdomain:PORT/path` (or `tcp://`): the port and path.
fn uri_port(uri: &str, protocol: &str) -> Result<(u16, String), String> {
    let scheme = if protocol == "TCP" {
        "tcp://"
    } else {
        "http://"
    };
    let rest = uri
        .strip_prefix(scheme)
        .ok_or_else(|| format!("destination.URI {uri} must start with {scheme}"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| format!("destination.URI {uri}: URI port is not provided"))?;
    if !matches!(host, "sandbox.localdomain" | "sandbox") {
        return Err(format!(
            "destination.URI host must be sandbox.localdomain, not {host}"
        ));
    }
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("destination.URI {uri}: {port} is not a port"))?;
    Ok((port, path.to_string()))
}

fn types(given: &[String]) -> Result<Types, String> {
    if given.is_empty() {
        return Err("types should not be empty".into());
    }
    let mut types = Types::default();
    for t in given {
        match t.as_str() {
            "platform" => types.platform = true,
            "function" => types.function = true,
            "extension" => types.extension = true,
            other => {
                return Err(format!(
                    "type {other} is not platform, function or extension"
                ))
            }
        }
    }
    Ok(types)
}

fn buffering(api: Api, given: Option<BufferingBody>) -> Result<Buffering, String> {
    let given = given.unwrap_or(BufferingBody {
        max_items: None,
        max_bytes: None,
        timeout_ms: None,
    });
    // The Logs API's documented default is ten times the Telemetry API's.
    let items_default = if api == Api::Logs { 10_000 } else { 1_000 };
    let check = |name: &str, value: Option<u64>, default: u64, min: u64, max: u64| match value {
        None => Ok(default),
        Some(v) if (min..=max).contains(&v) => Ok(v),
        Some(v) => Err(format!("buffering.{name} {v} is outside {min}..{max}")),
    };
    Ok(Buffering {
        max_items: check("maxItems", given.max_items, items_default, 1_000, 10_000)? as usize,
        max_bytes: check("maxBytes", given.max_bytes, 262_144, 262_144, 1_048_576)? as usize,
        timeout_ms: check("timeoutMs", given.timeout_ms, 1_000, 25, 30_000)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn telemetry(body: &str) -> Result<Subscription, String> {
        parse(Api::Telemetry, body.as_bytes())
    }

    #[test]
    fn the_rust_crates_request_is_accepted() {
        let s = telemetry(
            r#"{"schemaVersion":"2022-07-01","types":["platform","function"],
                "buffering":{"timeoutMs":1000,"maxBytes":262144,"maxItems":10000},
                "destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:9003"}}"#,
        )
        .unwrap();
        assert_eq!(
            s.destination,
            Destination::Http {
                port: 9003,
                path: "/".into()
            }
        );
        assert_eq!(s.types.names(), ["platform", "function"]);
        assert_eq!(s.buffering.max_items, 10_000);
    }

    #[test]
    fn what_lambda_refuses_is_named() {
        let dest = |uri: &str| {
            format!(
                r#"{{"schemaVersion":"2022-12-13","types":["platform"],"destination":{{"protocol":"HTTP","URI":"{uri}"}}}}"#
            )
        };
        let refused = |body: &str, needle: &str| {
            let e = telemetry(body).unwrap_err();
            assert!(e.contains(needle), "{e} should mention {needle}");
        };
        refused(&dest("http://example.com:80"), "sandbox.localdomain");
        refused(&dest("http://sandbox.localdomain"), "port");
        refused(&dest("http://sandbox:9001/x"), "9001");
        refused(
            r#"{"types":["platform"],"destination":{"protocol":"HTTP","URI":"http://sandbox:1"}}"#,
            "schemaVersion",
        );
        refused(
            r#"{"schemaVersion":"2022-07-01","types":[],"destination":{"protocol":"HTTP","URI":"http://sandbox:1"}}"#,
            "types",
        );
        refused(
            r#"{"schemaVersion":"2022-07-01","types":["platform"],"buffering":{"timeoutMs":5},"destination":{"protocol":"HTTP","URI":"http://sandbox:1"}}"#,
            "timeoutMs",
        );
        let logs = parse(
            Api::Logs,
            br#"{"types":["function"],"destination":{"protocol":"TCP","port":4243}}"#,
        )
        .unwrap();
        assert_eq!(
            (logs.schema.as_str(), logs.destination),
            ("2020-08-15", Destination::Tcp { port: 4243 })
        );
    }
}
