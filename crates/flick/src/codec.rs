//! How event payloads become handler arguments and results become response
//! payloads: JSON through serde for any `Deserialize`/`Serialize` type, or raw
//! [`Bytes`] untouched.
//!
//! Owns the two buffers an invocation loop reuses. A `Bytes` handler takes the
//! event buffer and hands it back as its output, and the loop's previous output
//! buffer becomes the next event buffer: an echo allocates nothing.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;

/// A payload taken as raw bytes, not parsed as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl std::ops::Deref for Bytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl std::ops::DerefMut for Bytes {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl From<Vec<u8>> for Bytes {
    fn from(bytes: Vec<u8>) -> Self {
        Bytes(bytes)
    }
}

impl From<&[u8]> for Bytes {
    fn from(bytes: &[u8]) -> Self {
        Bytes(bytes.to_vec())
    }
}

impl From<&str> for Bytes {
    fn from(text: &str) -> Self {
        Bytes(text.as_bytes().to_vec())
    }
}

/// The event buffer (filled by `/next`) and the output buffer (sent by
/// `/response`) of one loop thread.
///
/// Public only because the sealed [`Event`]/[`Output`] methods name it; it
/// cannot be named outside the crate.
#[derive(Debug, Default)]
pub struct Buffers {
    pub(crate) event: Vec<u8>,
    pub(crate) output: Vec<u8>,
}

/// A handler's event type: anything `Deserialize` (read as JSON), or [`Bytes`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a handler's event",
    label = "the handler's first argument",
    note = "an event is any type that implements `serde::Deserialize` (read as JSON), or `flick::Bytes` for the raw bytes"
)]
pub trait Event: Sized {
    #[doc(hidden)]
    fn decode(buffers: &mut Buffers) -> Result<Self, Error>;
}

/// A handler's result type: anything `Serialize` (written as JSON), or [`Bytes`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a handler's result",
    label = "returned in the handler's `Ok`",
    note = "a result is any type that implements `serde::Serialize` (written as JSON), or `flick::Bytes` for raw bytes"
)]
pub trait Output {
    #[doc(hidden)]
    fn encode(self, buffers: &mut Buffers) -> Result<(), Error>;
}

impl<T: DeserializeOwned> Event for T {
    fn decode(buffers: &mut Buffers) -> Result<Self, Error> {
        serde_json::from_slice(&buffers.event).map_err(|e| {
            Error::client(format!(
                "the event is not the JSON this function expects: {e}"
            ))
            .with_type("InvalidEvent")
        })
    }
}

impl<T: Serialize> Output for T {
    fn encode(self, buffers: &mut Buffers) -> Result<(), Error> {
        buffers.output.clear();
        serde_json::to_writer(&mut buffers.output, &self).map_err(|e| {
            Error::transient(format!(
                "the handler's result cannot be written as JSON: {e}"
            ))
            .with_type("InvalidResponse")
        })
    }
}

impl Event for Bytes {
    fn decode(buffers: &mut Buffers) -> Result<Self, Error> {
        Ok(Bytes(std::mem::take(&mut buffers.event)))
    }
}

impl Output for Bytes {
    fn encode(self, buffers: &mut Buffers) -> Result<(), Error> {
        let previous = std::mem::replace(&mut buffers.output, self.0);
        if buffers.event.capacity() < previous.capacity() {
            buffers.event = previous;
        }
        Ok(())
    }
}

/// One invocation's data path: decode the event from `buffers`, `call` the
/// handler, encode its result into `buffers`. Shared by every handler form.
pub(crate) fn decode_call_encode<Ev, O, E>(
    buffers: &mut Buffers,
    call: impl FnOnce(Ev) -> Result<O, E>,
) -> Result<(), Error>
where
    Ev: Event,
    O: Output,
    E: Into<Error>,
{
    let event = Ev::decode(buffers)?;
    call(event).map_err(Into::into)?.encode(buffers)
}
