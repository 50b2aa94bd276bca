//! What the mapping says about protecting the legacy API (its `backend:` keys, `docs/security.md`,
//! "Backend-facing"): the concurrency bound and its queue, retries, the circuit breaker, as plain
//! options with their defaults. `load::protection` compiles the YAML into them.
//!
//! Not here: the mechanisms that act on these options (`backend::limiter`, `backend::retry`,
//! `backend::breaker`, put in order by `backend::protect`).

use std::time::Duration;

/// How the calls to one legacy API are protected: the concurrency bound and its queue,
/// retries, the circuit breaker.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Protection {
    pub limits: LimiterOptions,
    pub retry: RetryPolicy,
    pub breaker: BreakerOptions,
}

/// How many calls may be in flight and how many may wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimiterOptions {
    /// Calls in flight to the legacy API at once (at least 1).
    pub max_concurrency: usize,
    /// Calls that may wait for a free slot; 0: none wait, a call finding every slot taken is
    /// refused.
    pub queue: usize,
    /// The longest a call waits for a slot.
    pub queue_timeout: Duration,
}

impl Default for LimiterOptions {
    fn default() -> Self {
        LimiterOptions {
            max_concurrency: 32,
            // More than the connections an IdP, or a load balancer in front, opens at once:
            // only a real pile-up is refused.
            queue: 1024,
            queue_timeout: Duration::from_secs(2),
        }
    }
}

/// When and how often a failed call is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first one included: 1 never retries.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles before each further one, up to
    /// `max_backoff`. The wait actually taken is between half of it and all of it (jitter), so
    /// that calls that failed together do not come back together.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` of the legacy API up to this long is waited for, then the call is sent
    /// again; a longer one ends the retries (and is passed on to the identity provider).
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            max_retry_after: Duration::from_secs(5),
        }
    }
}

/// When the circuit opens and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerOptions {
    /// Consecutive failed calls that open the circuit; 0: never by count.
    pub failures: u32,
    /// The share of failed calls in the window that opens the circuit, in `(0, 1]`; 0: never
    /// by ratio.
    pub failure_ratio: f64,
    /// How far back the ratio looks.
    pub(crate) window: Duration,
    /// The ratio counts only once the window holds at least this many calls.
    pub(crate) min_calls: u32,
    /// How long the circuit stays open before a probe is let through.
    pub open_for: Duration,
}

impl Default for BreakerOptions {
    fn default() -> Self {
        BreakerOptions {
            failures: 5,
            failure_ratio: 0.5,
            window: Duration::from_secs(10),
            min_calls: 20,
            open_for: Duration::from_secs(10),
        }
    }
}

impl BreakerOptions {
    /// Whether the circuit can open at all.
    #[cfg(test)]
    pub(crate) fn enabled(&self) -> bool {
        self.failures > 0 || self.failure_ratio > 0.0
    }
}
