//! The items API as a function: state built once at init from typed
//! configuration, then one router serving every route. The same binary runs
//! on Lambda, on `flick serve`'s gateway, or on `PORT`.

use example_http_api::{app, AppState, Config};

fn main() {
    flick::init(|init| {
        let config: Config = init.config()?;
        Ok::<_, flick::Error>(app(AppState::new(config)))
    })
    .run_http()
}
