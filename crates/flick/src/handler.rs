//! The handler shapes the SDK accepts, erased to one internal call the loop makes.
//!
//! Owns the adapters from `async fn(&State, Event, Context)` and
//! `fn(&State, Event, Context)` to [`Invoke`]: decode the event, call, encode
//! the result. The stateless forms are the same with `()` as state (see
//! `function`). Catching panics and reporting errors is the loop's job; a
//! handler that streams its answer (`flick::http`) writes through the
//! [`Responder`] instead of the output buffer.

use std::marker::PhantomData;

use crate::codec::{decode_call_encode, Buffers, Event, Output};
use crate::context::Context;
use crate::error::Error;
use crate::executor::Executor;
#[cfg(feature = "http")]
use crate::responder::Responder;

/// One invocation, from event bytes to output bytes.
pub(crate) trait Invoke<S>: Sync {
    fn invoke(
        &self,
        state: &S,
        buffers: &mut Buffers,
        context: Context,
        executor: &Executor,
        #[cfg(feature = "http")] responder: &mut Responder<'_>,
    ) -> Result<(), Error>;
}

/// An `async fn(&S, Event, Context) -> Result<Output, E>`.
pub(crate) struct AsyncHandler<F, Ev, O, E> {
    pub(crate) f: F,
    pub(crate) types: PhantomData<fn(Ev) -> Result<O, E>>,
}

/// A plain `fn(&S, Event, Context) -> Result<Output, E>`.
pub(crate) struct BlockingHandler<F, Ev, O, E> {
    pub(crate) f: F,
    pub(crate) types: PhantomData<fn(Ev) -> Result<O, E>>,
}

impl<S, F, Ev, O, E> Invoke<S> for AsyncHandler<F, Ev, O, E>
where
    F: AsyncFn(&S, Ev, Context) -> Result<O, E> + Sync,
    Ev: Event,
    O: Output,
    E: Into<Error>,
{
    fn invoke(
        &self,
        state: &S,
        buffers: &mut Buffers,
        context: Context,
        executor: &Executor,
        #[cfg(feature = "http")] _: &mut Responder<'_>,
    ) -> Result<(), Error> {
        decode_call_encode(buffers, |event: Ev| {
            executor.block_on((self.f)(state, event, context))
        })
    }
}

impl<S, F, Ev, O, E> Invoke<S> for BlockingHandler<F, Ev, O, E>
where
    F: Fn(&S, Ev, Context) -> Result<O, E> + Sync,
    Ev: Event,
    O: Output,
    E: Into<Error>,
{
    fn invoke(
        &self,
        state: &S,
        buffers: &mut Buffers,
        context: Context,
        _: &Executor,
        #[cfg(feature = "http")] _: &mut Responder<'_>,
    ) -> Result<(), Error> {
        decode_call_encode(buffers, |event: Ev| (self.f)(state, event, context))
    }
}
