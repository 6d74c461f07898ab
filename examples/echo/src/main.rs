//! The smallest Flick function: returns its JSON event unchanged.
//! It is also the SDK's benchmark subject (see bench/sdk).

use flick::{Context, Error};
use serde_json::Value;

async fn echo(event: Value, _: Context) -> Result<Value, Error> {
    Ok(event)
}

fn main() {
    flick::run(echo)
}
