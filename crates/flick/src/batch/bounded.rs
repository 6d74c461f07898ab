//! Runs futures with at most `n` in progress at once and keeps their
//! results in order: what a batch needs, without an async runtime's join
//! set (the SDK's own executor polls it like any other future).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The outputs of `futures`, in their order, polling at most `limit` at once.
pub async fn join<I, F>(futures: I, limit: usize) -> Vec<F::Output>
where
    I: Iterator<Item = F>,
    F: Future,
{
    Join {
        waiting: futures.enumerate().collect::<Vec<_>>().into_iter(),
        running: Vec::new(),
        results: Vec::new(),
        limit: limit.max(1),
    }
    .await
}

struct Join<F: Future> {
    waiting: std::vec::IntoIter<(usize, F)>,
    running: Vec<(usize, Pin<Box<F>>)>,
    results: Vec<(usize, F::Output)>,
    limit: usize,
}

impl<F: Future> Unpin for Join<F> {}

impl<F: Future> Future for Join<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            while this.running.len() < this.limit {
                let Some((i, f)) = this.waiting.next() else {
                    break;
                };
                this.running.push((i, Box::pin(f)));
            }
            let before = this.running.len();
            let mut k = 0;
            while k < this.running.len() {
                match this.running[k].1.as_mut().poll(cx) {
                    Poll::Ready(out) => {
                        let (i, _) = this.running.swap_remove(k);
                        this.results.push((i, out));
                    }
                    Poll::Pending => k += 1,
                }
            }
            if this.running.is_empty() && this.waiting.len() == 0 {
                let mut results = std::mem::take(&mut this.results);
                results.sort_by_key(|(i, _)| *i);
                return Poll::Ready(results.into_iter().map(|(_, out)| out).collect());
            }
            // Finished ones made room: start more now rather than at the next wake.
            if this.running.len() == before {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// Pending once, then ready: each future takes two polls.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                return Poll::Ready(());
            }
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[test]
    fn at_most_the_limit_run_at_once_and_results_keep_their_order() {
        let running = Rc::new(Cell::new(0));
        let most = Rc::new(Cell::new(0));
        let futures = (0..10).map(|i| {
            let (running, most) = (running.clone(), most.clone());
            async move {
                running.set(running.get() + 1);
                most.set(most.get().max(running.get()));
                YieldOnce(false).await;
                running.set(running.get() - 1);
                i * 2
            }
        });
        let out = crate::executor::Executor::new()
            .unwrap()
            .block_on(join(futures, 3));
        assert_eq!(out, (0..10).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(most.get(), 3);
    }

    #[test]
    fn nothing_to_do_is_done_at_once() {
        let out: Vec<()> = crate::executor::Executor::new()
            .unwrap()
            .block_on(join(std::iter::empty::<YieldOnce>(), 4));
        assert!(out.is_empty());
    }
}
