//! Serves [`example_io_buffers::reused`], or [`example_io_buffers::naive`]
//! with `IMPLEMENTATION=naive` (typed configuration, read once at init).

use example_io_buffers::{naive, reused, State};
use serde::Deserialize;

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Implementation {
    Naive,
    Reused,
}

#[derive(Deserialize)]
struct Config {
    implementation: Option<Implementation>,
}

fn main() {
    let function = flick::init(|init| {
        let config: Config = init.config()?;
        let implementation = config.implementation.unwrap_or(Implementation::Reused);
        Ok::<_, flick::Error>((implementation, State::new(64 * 1024)))
    });
    function.run(
        async |(implementation, state): &(Implementation, State), event, ctx| match implementation {
            Implementation::Naive => naive(state, event, ctx).await,
            Implementation::Reused => reused(state, event, ctx).await,
        },
    )
}
