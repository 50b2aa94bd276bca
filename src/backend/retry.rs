//! Retrying failed calls to the legacy API: which calls may be sent again, after which failures,
//! and how long to wait first (jittered exponential back-off, or the legacy API's own
//! `Retry-After` up to a cap). Pure: the caller gives the attempt number, how it ended and a
//! random number, and gets a delay or "stop"; nothing here sleeps or sends.
//!
//! A call is retried only when sending it twice has the effect of sending it once (GET, HEAD,
//! OPTIONS, PUT, DELETE, and a PATCH guarded by `If-Match`: the second one finds the version
//! changed and is refused), and only after a failure that says the legacy API did not act on it
//! or asks to be called again: no connection could be opened (nothing was sent), or it answered
//! 429, 502, 503 or 504. A POST is never retried, and neither is a call that timed out or broke
//! after it was sent (the legacy API may have acted on it).

use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method};

use super::client::BackendResponse;
use super::error::{BackendError, TimeoutPhase};
use crate::mapping::protection::RetryPolicy;

/// Whether a request may be sent twice with the effect of sending it once: GET, HEAD, OPTIONS,
/// PUT and DELETE; a PATCH only when it carries `If-Match`; never a POST.
pub(crate) fn is_idempotent(method: &Method, if_match: bool) -> bool {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE => true,
        Method::PATCH => if_match,
        _ => false,
    }
}

/// How one attempt ended, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// The legacy API answered with `status`; `retry_after` is its `Retry-After`, if any.
    Answered {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No connection could be opened (refused, unreachable, or the connect timeout): not a byte
    /// of the request was sent.
    NotSent,
    /// Anything else: a timeout or a broken answer after the request may have been sent, or a
    /// failure that another attempt would not change.
    Failed,
}

impl Attempt {
    /// How `result` ended; `now` dates a `Retry-After` given as an HTTP date.
    pub(crate) fn of(result: &Result<BackendResponse, BackendError>, now: SystemTime) -> Attempt {
        match result {
            Ok(r) => Attempt::Answered {
                status: r.status,
                retry_after: retry_after(&r.headers, now),
            },
            Err(BackendError::Connect { .. })
            | Err(BackendError::Timeout {
                phase: TimeoutPhase::Connect,
                ..
            }) => Attempt::NotSent,
            Err(_) => Attempt::Failed,
        }
    }
}

/// The statuses that ask for the call to be made again later.
const RETRY_STATUSES: [u16; 4] = [429, 502, 503, 504];

impl RetryPolicy {
    /// After attempt number `attempt` (1 for the first) of a call ended as `how`: the wait
    /// before the next attempt, or `None` to stop. `idempotent` is [`is_idempotent`] of the
    /// call; `jitter` is a random number in `[0, 1)`.
    pub(crate) fn next(
        &self,
        attempt: u32,
        idempotent: bool,
        how: Attempt,
        jitter: f64,
    ) -> Option<Duration> {
        if !idempotent || attempt >= self.attempts {
            return None;
        }
        match how {
            Attempt::NotSent => Some(self.backoff(attempt, jitter)),
            Attempt::Answered {
                status,
                retry_after,
            } if RETRY_STATUSES.contains(&status) => match retry_after {
                Some(asked) if asked > self.max_retry_after => None,
                Some(asked) => Some(asked.max(self.backoff(attempt, jitter))),
                None => Some(self.backoff(attempt, jitter)),
            },
            Attempt::Answered { .. } | Attempt::Failed => None,
        }
    }

    /// The jittered wait after attempt number `attempt`: `backoff × 2^(attempt-1)`, at most
    /// `max_backoff`, of which the upper half is scaled by `jitter` (in `[0, 1)`).
    pub(crate) fn backoff(&self, attempt: u32, jitter: f64) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        let full = self
            .backoff
            .saturating_mul(1u32 << doublings)
            .min(self.max_backoff);
        let half = full / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

/// The `Retry-After` of a response: delay-seconds, or an HTTP date (a date in the past is a
/// wait of zero). `None` when absent or unreadable.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at: SystemTime = time::PrimitiveDateTime::parse(value, format)
        .ok()?
        .assume_utc()
        .into();
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// A wait as the whole seconds of a `Retry-After` header: rounded up, at least 1.
pub(crate) fn retry_after_seconds(wait: Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http::HeaderValue;

    const MS: Duration = Duration::from_millis(1);

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            backoff: 100 * MS,
            max_backoff: 1000 * MS,
            max_retry_after: 5000 * MS,
        }
    }

    fn answered(status: u16) -> Attempt {
        Attempt::Answered {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn only_calls_that_can_be_sent_twice_are_idempotent() {
        for m in [Method::GET, Method::HEAD, Method::PUT, Method::DELETE] {
            assert!(is_idempotent(&m, false), "{m}");
        }
        assert!(!is_idempotent(&Method::POST, false));
        assert!(!is_idempotent(&Method::POST, true), "never a POST");
        assert!(!is_idempotent(&Method::PATCH, false));
        assert!(is_idempotent(&Method::PATCH, true), "a guarded PATCH");
    }

    #[test]
    fn a_call_that_was_not_sent_or_was_answered_busy_is_retried() {
        let p = policy();
        for how in [
            Attempt::NotSent,
            answered(429),
            answered(502),
            answered(503),
            answered(504),
        ] {
            assert!(p.next(1, true, how, 0.5).is_some(), "{how:?}");
        }
    }

    #[test]
    fn failures_after_sending_and_other_answers_are_not_retried() {
        let p = policy();
        for how in [
            Attempt::Failed,
            answered(200),
            answered(404),
            answered(409),
            answered(500),
            answered(501),
        ] {
            assert_eq!(p.next(1, true, how, 0.5), None, "{how:?}");
        }
    }

    #[test]
    fn a_post_or_an_unguarded_patch_is_never_retried() {
        let p = policy();
        assert_eq!(p.next(1, false, Attempt::NotSent, 0.5), None);
        assert_eq!(p.next(1, false, answered(503), 0.5), None);
    }

    #[test]
    fn retries_stop_after_the_last_attempt() {
        let p = policy();
        assert!(p.next(2, true, answered(503), 0.0).is_some());
        assert_eq!(p.next(3, true, answered(503), 0.0), None);
        let once = RetryPolicy {
            attempts: 1,
            ..policy()
        };
        assert_eq!(once.next(1, true, Attempt::NotSent, 0.0), None);
    }

    #[test]
    fn the_back_off_doubles_up_to_its_cap_and_is_jittered_within_its_upper_half() {
        let p = policy();
        assert_eq!(p.backoff(1, 0.0), 50 * MS);
        assert_eq!(p.backoff(1, 0.999_999), 100 * MS - Duration::from_nanos(50));
        assert_eq!(p.backoff(2, 0.0), 100 * MS);
        assert_eq!(p.backoff(3, 0.0), 200 * MS);
        assert_eq!(p.backoff(5, 0.0), 500 * MS, "capped at max_backoff");
        assert_eq!(p.backoff(40, 0.0), 500 * MS, "no overflow");
        let waits: Vec<Duration> = [0.0, 0.25, 0.5, 0.75]
            .iter()
            .map(|j| p.backoff(2, *j))
            .collect();
        assert!(waits.windows(2).all(|w| w[0] < w[1]), "{waits:?}");
    }

    #[test]
    fn a_short_retry_after_is_waited_for_and_a_long_one_ends_the_retries() {
        let p = policy();
        let asked = |s: u64| Attempt::Answered {
            status: 429,
            retry_after: Some(Duration::from_secs(s)),
        };
        assert_eq!(p.next(1, true, asked(2), 0.0), Some(Duration::from_secs(2)));
        assert_eq!(p.next(1, true, asked(30), 0.0), None);
        let zero = Attempt::Answered {
            status: 503,
            retry_after: Some(Duration::ZERO),
        };
        assert_eq!(
            p.next(1, true, zero, 0.0),
            Some(50 * MS),
            "never sooner than the back-off"
        );
    }

    fn with_retry_after(value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn retry_after_is_read_as_seconds_or_as_an_http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(
            retry_after(&with_retry_after("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(&with_retry_after("Sun, 06 Nov 1994 08:50:07 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&with_retry_after("Sun, 06 Nov 1994 08:00:00 GMT"), now),
            Some(Duration::ZERO),
            "a date in the past"
        );
        assert_eq!(retry_after(&with_retry_after("soon"), now), None);
        assert_eq!(retry_after(&with_retry_after("-3"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn an_attempt_is_classified_by_whether_anything_was_sent() {
        let now = SystemTime::now();
        let connect = Err(BackendError::Connect {
            backend: "b".into(),
            reason: "ConnectRefused".into(),
        });
        let connect_timeout = Err(BackendError::Timeout {
            backend: "b".into(),
            phase: TimeoutPhase::Connect,
            after: MS,
        });
        let request_timeout = Err(BackendError::Timeout {
            backend: "b".into(),
            phase: TimeoutPhase::Request,
            after: MS,
        });
        let broken = Err(BackendError::Protocol {
            backend: "b".into(),
            reason: "ConnectionClosed".into(),
        });
        assert_eq!(Attempt::of(&connect, now), Attempt::NotSent);
        assert_eq!(Attempt::of(&connect_timeout, now), Attempt::NotSent);
        assert_eq!(Attempt::of(&request_timeout, now), Attempt::Failed);
        assert_eq!(Attempt::of(&broken, now), Attempt::Failed);
        let busy = Ok(BackendResponse {
            status: 429,
            headers: with_retry_after("7"),
            body: Bytes::new(),
        });
        assert_eq!(
            Attempt::of(&busy, now),
            Attempt::Answered {
                status: 429,
                retry_after: Some(Duration::from_secs(7))
            }
        );
    }

    #[test]
    fn retry_after_seconds_round_up_and_are_at_least_one() {
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(300 * MS), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(2001 * MS), 3);
    }
}
