//! A bytes-in, bytes-out function written as a plain `fn`: the payload is not
//! parsed, and the runtime reuses the buffer it arrived in for the answer.

use flick::{Bytes, Context, Error};

fn echo(event: Bytes, _: Context) -> Result<Bytes, Error> {
    Ok(event)
}

fn main() {
    flick::run_blocking(echo)
}
