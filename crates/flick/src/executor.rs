//! Drives a handler's future to completion on the loop thread.
//!
//! By default a park/unpark `block_on`: a handler that only awaits its own
//! computations, or libraries that bring their own reactor, needs nothing more,
//! and it costs a few hundred bytes instead of a runtime. With the `tokio`
//! feature each loop thread owns a current-thread tokio runtime instead, so
//! handlers can use tokio I/O and timers. Neither needs `Send` futures: an
//! invocation never leaves its thread.

use std::future::Future;
use std::io;

#[cfg(not(feature = "tokio"))]
pub(crate) struct Executor {
    waker: std::task::Waker,
}

#[cfg(not(feature = "tokio"))]
impl Executor {
    pub(crate) fn new() -> io::Result<Self> {
        use std::sync::Arc;
        use std::task::Wake;

        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
            fn wake_by_ref(self: &Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Arc::new(Unpark(std::thread::current())).into();
        Ok(Self { waker })
    }

    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        use std::task::{Context, Poll};
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(&self.waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            // A wake before this park makes it return at once: no lost wake-ups.
            std::thread::park();
        }
    }
}

#[cfg(feature = "tokio")]
pub(crate) struct Executor {
    runtime: tokio::runtime::Runtime,
}

#[cfg(feature = "tokio")]
impl Executor {
    pub(crate) fn new() -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Self { runtime })
    }

    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}
