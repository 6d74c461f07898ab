//! An external extension, written with the official `lambda-extension`
//! crate: Lambda (or Flick) starts it from `/opt/extensions` before the
//! runtime; it registers for INVOKE and SHUTDOWN and logs one line per
//! event. What an extension prints lands in the function's log, as on
//! Lambda. See `flick.toml` here for the layer and the manifest.

use lambda_extension::{service_fn, Error, LambdaEvent, NextEvent};

async fn on_event(event: LambdaEvent) -> Result<(), Error> {
    match event.next {
        NextEvent::Invoke(e) => println!("[events-extension] INVOKE {}", e.request_id),
        NextEvent::Shutdown(e) => {
            println!("[events-extension] SHUTDOWN ({})", e.shutdown_reason);
            // Nothing left to flush: leave at once rather than wait for the deadline.
            std::process::exit(0);
        }
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_extension::run(service_fn(on_event)).await
}
