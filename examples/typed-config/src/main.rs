//! Typed configuration: the struct is read from environment variables at init
//! (`TABLE_NAME`, `PORT`, ...). A missing or invalid variable fails init with
//! one message listing every problem; requests never see a half-read config.

use flick::{Context, Error, Init};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    Fast,
    Safe,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
struct Config {
    table_name: String,
    port: u16,
    mode: Mode,
    #[serde(default)]
    verbose: bool,
    region: Option<String>,
}

fn init(init: &mut Init) -> Result<Config, Error> {
    init.config::<Config>()
}

async fn show(config: &Config, _event: serde::de::IgnoredAny, _: Context) -> Result<Config, Error> {
    Ok(config.clone())
}

fn main() {
    flick::init(init).run(show)
}
