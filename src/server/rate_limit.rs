//! The per-tenant rate limit toward the identity providers (`[limits]`): one token bucket per
//! tenant, checked right after authentication. A request that finds its tenant's bucket empty is
//! answered 429 with `Retry-After` (the seconds until a token is back, at least 1), which Entra
//! and Okta honour, and is counted in `rate_limited_total{tenant}`. One tenant's burst never
//! slows another tenant down.
//!
//! [`TokenBucket`] is pure (time is given to it); [`TenantRateLimits`] keeps one per tenant.
//! Not here: the protection of the legacy API itself (`backend::protect`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::backend::retry::retry_after_seconds;
use crate::config::Limits;
use crate::metrics::Metrics;
use crate::scim::ScimError;

/// A token bucket: holds up to `burst` tokens, refilled at `rate` tokens per second; each
/// request takes one.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket at `now`. `rate` must be positive.
    pub fn new(rate: f64, burst: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token at `now`, or says how long until one is there.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = self.last.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// One token bucket per tenant, made on the tenant's first request.
#[derive(Debug)]
pub struct TenantRateLimits {
    /// `None`: no limit.
    rate: Option<(f64, f64)>,
    buckets: Mutex<HashMap<String, TokenBucket>>,
}

impl TenantRateLimits {
    pub fn new(limits: &Limits) -> TenantRateLimits {
        let rate = limits.requests_per_second;
        let rate = (rate.is_finite() && rate > 0.0).then(|| {
            let burst = match limits.burst {
                0 => rate.ceil().max(1.0),
                b => f64::from(b),
            };
            (rate, burst)
        });
        TenantRateLimits {
            rate,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// The limits of a reloaded configuration's generation: `previous` (its buckets as they
    /// are) when `[limits]` did not change, else new buckets.
    pub fn carried_over(
        previous: &Arc<TenantRateLimits>,
        limits: &Limits,
    ) -> Arc<TenantRateLimits> {
        let next = TenantRateLimits::new(limits);
        if next.rate == previous.rate {
            previous.clone()
        } else {
            Arc::new(next)
        }
    }

    /// Takes one of `tenant`'s tokens at `now`, or says how long until one is there.
    pub fn check(&self, tenant: &str, now: Instant) -> Result<(), Duration> {
        let Some((rate, burst)) = self.rate else {
            return Ok(());
        };
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(bucket) = buckets.get_mut(tenant) {
            return bucket.take(now);
        }
        let mut bucket = TokenBucket::new(rate, burst, now);
        let taken = bucket.take(now);
        buckets.insert(tenant.to_string(), bucket);
        taken
    }
}

/// The 429 for a tenant over its rate: retry after `wait`, in whole seconds (at least 1).
pub fn too_many_requests(tenant: &str, wait: Duration) -> ScimError {
    let seconds = retry_after_seconds(wait);
    ScimError::new(
        429,
        None,
        format!(
            "tenant {tenant:?} is sending requests faster than this gateway allows; retry after {seconds} s"
        ),
    )
    .with_retry_after(seconds)
}

/// Admits a request of `tenant`, or refuses it with 429 (counted in `metrics`).
pub fn admit(limits: &TenantRateLimits, metrics: &Metrics, tenant: &str) -> Result<(), ScimError> {
    limits.check(tenant, Instant::now()).map_err(|wait| {
        metrics.record_rate_limited(tenant);
        too_many_requests(tenant, wait)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn limits(requests_per_second: f64, burst: u32) -> TenantRateLimits {
        TenantRateLimits::new(&Limits {
            requests_per_second,
            burst,
        })
    }

    #[test]
    fn a_bucket_lets_a_burst_through_then_one_request_per_token() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 3.0, t0);
        for _ in 0..3 {
            assert_eq!(b.take(t0), Ok(()));
        }
        let wait = b.take(t0).unwrap_err();
        assert!((wait.as_secs_f64() - 0.1).abs() < 1e-9, "{wait:?}");
        assert_eq!(b.take(t0 + 100 * MS), Ok(()), "one token every 100 ms");
        assert!(b.take(t0 + 150 * MS).is_err());
    }

    #[test]
    fn a_bucket_never_holds_more_than_its_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10.0, 2.0, t0);
        let later = t0 + Duration::from_secs(60);
        assert_eq!(b.take(later), Ok(()));
        assert_eq!(b.take(later), Ok(()));
        assert!(b.take(later).is_err());
    }

    #[test]
    fn tenants_have_their_own_buckets() {
        let l = limits(1.0, 2);
        let t0 = Instant::now();
        assert_eq!(l.check("acme", t0), Ok(()));
        assert_eq!(l.check("acme", t0), Ok(()));
        assert!(l.check("acme", t0).is_err());
        assert_eq!(
            l.check("globex", t0),
            Ok(()),
            "acme's burst is not globex's"
        );
    }

    #[test]
    fn a_rate_of_zero_is_no_limit() {
        let l = limits(0.0, 0);
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert_eq!(l.check("acme", t0), Ok(()));
        }
    }

    #[test]
    fn without_a_burst_the_bucket_holds_one_second_of_requests() {
        let t0 = Instant::now();
        let l = limits(2.5, 0);
        for _ in 0..3 {
            assert_eq!(l.check("acme", t0), Ok(()));
        }
        assert!(l.check("acme", t0).is_err());
        let slow = limits(0.2, 0);
        assert_eq!(slow.check("acme", t0), Ok(()));
        let wait = slow.check("acme", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(5));
    }

    #[test]
    fn a_reload_keeps_the_buckets_unless_the_limits_changed() {
        let t0 = Instant::now();
        let before = Arc::new(limits(1.0, 1));
        assert_eq!(before.check("acme", t0), Ok(()));
        let same = TenantRateLimits::carried_over(
            &before,
            &Limits {
                requests_per_second: 1.0,
                burst: 1,
            },
        );
        assert!(
            same.check("acme", t0).is_err(),
            "the same bucket, still empty"
        );
        let raised = TenantRateLimits::carried_over(
            &before,
            &Limits {
                requests_per_second: 5.0,
                burst: 5,
            },
        );
        assert_eq!(raised.check("acme", t0), Ok(()), "new buckets");
    }

    #[test]
    fn the_429_says_when_to_come_back_in_whole_seconds() {
        let e = too_many_requests("acme", 1200 * MS);
        assert_eq!(e.status, 429);
        assert_eq!(e.retry_after, Some(2));
        assert!(e.detail.contains("\"acme\""), "{}", e.detail);
        assert_eq!(too_many_requests("acme", 10 * MS).retry_after, Some(1));
    }
}
