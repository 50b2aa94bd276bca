//! The bound on calls in flight to the legacy API, with a bounded wait queue: at most
//! `max_concurrency` calls at once; up to `queue` more wait (first come, first served) for at
//! most `queue_timeout`; beyond that a call is refused at once, so that the gateway answers the
//! identity provider "busy, retry later" instead of piling requests up in memory.
//!
//! A `tokio::sync::Semaphore` holds the slots (it is fair: a slot that frees up goes to the
//! longest waiter); the queue is a counter next to it. Not here: what a refusal becomes (a 503
//! with `Retry-After`, in `error.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, SemaphorePermit};

use crate::mapping::protection::LimiterOptions;

/// Why a call did not get a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Every slot is taken and the queue is full.
    QueueFull,
    /// The call waited `queue_timeout` without a slot freeing up.
    QueueTimeout,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::QueueFull => "every slot (max_concurrency) is taken and the queue is full",
            Refusal::QueueTimeout => "no slot freed up within queue_timeout_ms",
        })
    }
}

/// The slots and the queue of one legacy API.
#[derive(Debug)]
pub(crate) struct Limiter {
    slots: Semaphore,
    waiting: AtomicUsize,
    options: LimiterOptions,
}

/// A place in the queue; leaving it (with a slot, a timeout, or a caller that went away)
/// decrements the count and tells the caller.
struct InQueue<'a> {
    waiting: &'a AtomicUsize,
    on_change: &'a (dyn Fn(i64) + Sync),
}

impl Drop for InQueue<'_> {
    fn drop(&mut self) {
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        (self.on_change)(-1);
    }
}

impl Limiter {
    pub(crate) fn new(options: LimiterOptions) -> Limiter {
        Limiter {
            slots: Semaphore::new(options.max_concurrency.max(1)),
            waiting: AtomicUsize::new(0),
            options,
        }
    }

    /// A slot, held until the permit is dropped: at once if one is free, else after waiting in
    /// the queue. `on_queue` is told +1 when the call starts waiting and -1 when it stops (for
    /// the queue-depth gauge).
    pub(crate) async fn acquire(
        &self,
        on_queue: &(dyn Fn(i64) + Sync),
    ) -> Result<SemaphorePermit<'_>, Refusal> {
        if let Ok(permit) = self.slots.try_acquire() {
            return Ok(permit);
        }
        let queue = self.options.queue;
        self.waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| {
                (w < queue).then_some(w + 1)
            })
            .map_err(|_| Refusal::QueueFull)?;
        on_queue(1);
        let _in_queue = InQueue {
            waiting: &self.waiting,
            on_change: on_queue,
        };
        match tokio::time::timeout(self.options.queue_timeout, self.slots.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; a closed one could hand out nothing.
            Ok(Err(_)) | Err(_) => Err(Refusal::QueueTimeout),
        }
    }

    /// Calls waiting for a slot now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Slots free now.
    #[cfg(test)]
    pub(crate) fn available(&self) -> usize {
        self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicI64;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    fn limiter(max_concurrency: usize, queue: usize, queue_timeout_ms: u64) -> Arc<Limiter> {
        Arc::new(Limiter::new(LimiterOptions {
            max_concurrency,
            queue,
            queue_timeout: Duration::from_millis(queue_timeout_ms),
        }))
    }

    fn ignore(_: i64) {}

    /// Waits (briefly, polling) until `f` holds.
    async fn until(f: impl Fn() -> bool) {
        for _ in 0..500 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("the condition never held");
    }

    #[tokio::test]
    async fn up_to_max_concurrency_calls_go_at_once() {
        let l = limiter(2, 0, 1000);
        let a = l.acquire(&ignore).await.unwrap();
        let _b = l.acquire(&ignore).await.unwrap();
        assert_eq!(l.available(), 0);
        assert_eq!(l.acquire(&ignore).await.unwrap_err(), Refusal::QueueFull);
        drop(a);
        assert!(
            l.acquire(&ignore).await.is_ok(),
            "a freed slot is taken again"
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let l = limiter(1, 1, 5000);
        let held = l.acquire(&ignore).await.unwrap();
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move { l.acquire(&ignore).await.map(drop) })
        };
        until(|| l.waiting() == 1).await;
        assert_eq!(l.acquire(&ignore).await.unwrap_err(), Refusal::QueueFull);
        drop(held);
        assert_eq!(
            waiter.await.unwrap(),
            Ok(()),
            "the waiter got the freed slot"
        );
        assert_eq!(l.waiting(), 0);
    }

    #[tokio::test]
    async fn a_call_waiting_past_the_queue_timeout_is_refused_and_leaves_the_queue() {
        let l = limiter(1, 4, 20);
        let _held = l.acquire(&ignore).await.unwrap();
        let depth = AtomicI64::new(0);
        let track = |d: i64| {
            depth.fetch_add(d, Ordering::SeqCst);
        };
        assert_eq!(l.acquire(&track).await.unwrap_err(), Refusal::QueueTimeout);
        assert_eq!(l.waiting(), 0);
        assert_eq!(depth.load(Ordering::SeqCst), 0, "+1 then -1");
    }

    #[tokio::test]
    async fn a_waiter_that_goes_away_leaves_the_queue() {
        let l = limiter(1, 1, 5000);
        let _held = l.acquire(&ignore).await.unwrap();
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move { l.acquire(&ignore).await.map(drop) })
        };
        until(|| l.waiting() == 1).await;
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(l.waiting(), 0);
    }

    #[tokio::test]
    async fn waiters_get_slots_in_arrival_order() {
        let l = limiter(1, 8, 5000);
        let held = l.acquire(&ignore).await.unwrap();
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..4 {
            let (mine, order) = (l.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = mine.acquire(&ignore).await.unwrap();
                order.lock().unwrap().push(i);
            }));
            until(|| l.waiting() == i + 1).await;
        }
        drop(held);
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
    }
}
