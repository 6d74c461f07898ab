//! The error taxonomy: the event `{"fail": "..."}` picks how the handler fails.
//!
//! - `client`: bad input, named `InvalidOrder` (not retried, 4xx behind HTTP)
//! - `transient`: a dependency failed (retried)
//! - `fatal`: the sandbox is unusable (reported, then the process exits)
//! - `io`: a `std::io::Error` through `?`, with its source chain
//! - `anyhow`: an `anyhow::Error` with context through `?`
//! - `panic`: a panic, reported as this invocation's `Panic` error
//!
//! Anything else succeeds.

use anyhow::Context as _;
use flick::{Context, Error};
use serde::Deserialize;

#[derive(Deserialize)]
struct Request {
    #[serde(default)]
    fail: String,
}

async fn handle(request: Request, _: Context) -> Result<&'static str, Error> {
    match request.fail.as_str() {
        "client" => Err(Error::client("order id must not be empty").with_type("InvalidOrder")),
        "transient" => Err(Error::transient("inventory service answered 503")),
        "fatal" => Err(Error::fatal("database pool is poisoned")),
        "io" => {
            std::fs::read("/nonexistent/flick/order.json")?;
            Ok("unreachable")
        }
        "anyhow" => {
            let order: Result<u32, anyhow::Error> =
                "x1".parse::<u32>().context("reading the order number");
            order.context("loading the order")?;
            Ok("unreachable")
        }
        "panic" => panic!("the handler hit a bug"),
        _ => Ok("ok"),
    }
}

fn main() {
    flick::run(handle)
}
