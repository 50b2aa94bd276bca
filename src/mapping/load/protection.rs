//! The `backend:` keys that protect the legacy API (`docs/security.md`, "Backend-facing"): the timeouts besides
//! `timeout_ms` (`connect_timeout_ms`, `read_timeout_ms`), the concurrency bound and its queue
//! (`max_concurrency`, `queue`, `queue_timeout_ms`), `retry:` and `circuit_breaker:`. Each key is
//! optional, with the default documented in docs/mapping.md; a value out of range is reported
//! at its line and column with the range and an example. The options it compiles into are in
//! `mapping::protection`; not here: the mechanisms themselves (`backend::limiter`,
//! `backend::retry`, `backend::breaker`).

use std::time::Duration;

use serde_saphyr::Spanned;

use super::{loc, Cx};
use crate::mapping::model::{BackendFile, BreakerFile, RetryFile};
use crate::mapping::protection::{BreakerOptions, LimiterOptions, Protection, RetryPolicy};

/// The compiled protection keys of `backend:`.
pub(super) struct Guarded {
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) protection: Protection,
}

/// The default bound on opening a connection (at most `timeout_ms`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest any of these durations may be: an hour.
const MAX_MS: u64 = 3_600_000;

/// A whole-number key within `range`, or `default` when absent; `None` (reported) when out of
/// range. `example` is the value shown in the fix.
fn number(
    cx: &mut Cx<'_>,
    value: &Option<Spanned<u64>>,
    at: &str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
    example: u64,
) -> Option<u64> {
    match value {
        None => Some(default),
        Some(v) => checked(cx, v, at, range, example),
    }
}

/// `v` when within `range`; else reported, with the range and `example` in the fix.
fn checked(
    cx: &mut Cx<'_>,
    v: &Spanned<u64>,
    at: &str,
    range: std::ops::RangeInclusive<u64>,
    example: u64,
) -> Option<u64> {
    if range.contains(&v.value) {
        return Some(v.value);
    }
    let key = at.rsplit('.').next().unwrap_or(at);
    cx.report(
        loc(v),
        at,
        format!("{} is out of range", v.value),
        Some(format!(
            "write a value between {} and {}, e.g. {key}: {example}",
            range.start(),
            range.end()
        )),
    );
    None
}

fn millis(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Compiles the protection keys of `b`; `timeout` is the compiled `timeout_ms` (`None` when it
/// was invalid: then nothing is compared with it).
pub(super) fn compile(
    cx: &mut Cx<'_>,
    b: &BackendFile,
    timeout: Option<Duration>,
) -> Option<Guarded> {
    let connect_timeout = match &b.connect_timeout_ms {
        None => Some(timeout.map_or(CONNECT_TIMEOUT, |t| t.min(CONNECT_TIMEOUT))),
        Some(v) => within_timeout(cx, v, "backend.connect_timeout_ms", timeout),
    };
    let read_timeout = match &b.read_timeout_ms {
        None => Some(None),
        Some(v) => within_timeout(cx, v, "backend.read_timeout_ms", timeout).map(Some),
    };
    let defaults = LimiterOptions::default();
    let max_concurrency = number(
        cx,
        &b.max_concurrency,
        "backend.max_concurrency",
        1..=10_000,
        defaults.max_concurrency as u64,
        16,
    );
    let queue = number(
        cx,
        &b.queue,
        "backend.queue",
        0..=100_000,
        defaults.queue as u64,
        100,
    );
    let queue_timeout = number(
        cx,
        &b.queue_timeout_ms,
        "backend.queue_timeout_ms",
        1..=MAX_MS,
        defaults.queue_timeout.as_millis() as u64,
        2000,
    );
    let retry = match &b.retry {
        None => Some(RetryPolicy::default()),
        Some(r) => retry(cx, r),
    };
    let breaker = match &b.circuit_breaker {
        None => Some(BreakerOptions::default()),
        Some(c) => breaker(cx, c),
    };
    Some(Guarded {
        connect_timeout: connect_timeout?,
        read_timeout: read_timeout?,
        protection: Protection {
            limits: LimiterOptions {
                max_concurrency: max_concurrency? as usize,
                queue: queue? as usize,
                queue_timeout: millis(queue_timeout?),
            },
            retry: retry?,
            breaker: breaker?,
        },
    })
}

/// A timeout of one part of a call: 1 ms to an hour, and no longer than `timeout_ms`, which
/// bounds the whole call.
fn within_timeout(
    cx: &mut Cx<'_>,
    v: &Spanned<u64>,
    at: &str,
    timeout: Option<Duration>,
) -> Option<Duration> {
    let key = at.rsplit('.').next().unwrap_or(at);
    let ms = checked(cx, v, at, 1..=MAX_MS, 1000)?;
    match timeout {
        Some(t) if millis(ms) > t => {
            cx.report(
                loc(v),
                at,
                format!(
                    "{ms} ms is longer than timeout_ms ({} ms), which bounds the whole call",
                    t.as_millis()
                ),
                Some(format!(
                    "write at most {}, or raise timeout_ms (e.g. {key}: {})",
                    t.as_millis(),
                    t.as_millis().min(1000)
                )),
            );
            None
        }
        _ => Some(millis(ms)),
    }
}

fn retry(cx: &mut Cx<'_>, spanned: &Spanned<RetryFile>) -> Option<RetryPolicy> {
    let r = &spanned.value;
    let d = RetryPolicy::default();
    let attempts = number(cx, &r.attempts, "backend.retry.attempts", 1..=10, 3, 3);
    let backoff = number(
        cx,
        &r.backoff_ms,
        "backend.retry.backoff_ms",
        1..=MAX_MS,
        d.backoff.as_millis() as u64,
        100,
    );
    // Absent, the cap is at least the first back-off.
    let default_max = (d.max_backoff.as_millis() as u64).max(backoff.unwrap_or(0));
    let max_backoff = number(
        cx,
        &r.max_backoff_ms,
        "backend.retry.max_backoff_ms",
        1..=MAX_MS,
        default_max,
        2000,
    );
    if let (Some(first), Some(cap), Some(v)) = (backoff, max_backoff, &r.max_backoff_ms) {
        if cap < first {
            cx.report(
                loc(v),
                "backend.retry.max_backoff_ms",
                format!("{cap} ms is shorter than backoff_ms ({first} ms)"),
                Some(format!(
                    "write at least {first}, e.g. max_backoff_ms: {}",
                    first * 10
                )),
            );
            return None;
        }
    }
    let max_retry_after = number(
        cx,
        &r.max_retry_after_ms,
        "backend.retry.max_retry_after_ms",
        0..=MAX_MS,
        d.max_retry_after.as_millis() as u64,
        5000,
    );
    Some(RetryPolicy {
        attempts: attempts? as u32,
        backoff: millis(backoff?),
        max_backoff: millis(max_backoff?),
        max_retry_after: millis(max_retry_after?),
    })
}

fn breaker(cx: &mut Cx<'_>, spanned: &Spanned<BreakerFile>) -> Option<BreakerOptions> {
    let c = &spanned.value;
    let d = BreakerOptions::default();
    let failures = number(
        cx,
        &c.failures,
        "backend.circuit_breaker.failures",
        0..=100_000,
        u64::from(d.failures),
        5,
    );
    let failure_ratio = match &c.failure_ratio {
        None => Some(d.failure_ratio),
        Some(v) if (0.0..=1.0).contains(&v.value) => Some(v.value),
        Some(v) => {
            cx.report(
                loc(v),
                "backend.circuit_breaker.failure_ratio",
                format!("{} is not a share of calls", v.value),
                Some(
                    "write a number between 0 and 1, e.g. failure_ratio: 0.5 (0: never by ratio)"
                        .into(),
                ),
            );
            None
        }
    };
    let window = number(
        cx,
        &c.window_ms,
        "backend.circuit_breaker.window_ms",
        1..=MAX_MS,
        d.window.as_millis() as u64,
        10_000,
    );
    let min_calls = number(
        cx,
        &c.min_calls,
        "backend.circuit_breaker.min_calls",
        1..=1_000_000,
        u64::from(d.min_calls),
        20,
    );
    let open = number(
        cx,
        &c.open_ms,
        "backend.circuit_breaker.open_ms",
        1..=MAX_MS,
        d.open_for.as_millis() as u64,
        10_000,
    );
    Some(BreakerOptions {
        failures: failures? as u32,
        failure_ratio: failure_ratio?,
        window: millis(window?),
        min_calls: min_calls? as u32,
        open_for: millis(open?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::{load_str, Mapping, Problem};

    const SOURCE: &str = "mappings/test.yaml";

    /// A valid mapping whose `backend:` section ends with `extra` (indented two spaces).
    fn mapping(extra: &str) -> String {
        format!(
            "name: test\nbackend:\n  base_url: http://127.0.0.1:8081\n  timeout_ms: 5000\n{extra}\
             users:\n  id: $.id\n  endpoints:\n    create: {{ method: POST, path: /users }}\n    \
             get: {{ method: GET, path: \"/users/{{id}}\" }}\n    update: {{ method: PUT, path: \
             \"/users/{{id}}\" }}\n    delete: {{ method: DELETE, path: \"/users/{{id}}\" }}\n    list: {{ method: GET, path: /users, items: $.data, \
             pagination: {{ style: page, page_param: page, size_param: per_page }} }}\n  \
             on_delete: delete\n  attributes:\n    - {{ scim: userName, legacy: $.login }}\n"
        )
    }

    fn load(extra: &str) -> Mapping {
        load_str(SOURCE, &mapping(extra)).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The one problem of a mapping with `extra` in its backend section.
    fn problem(extra: &str) -> Problem {
        let err = load_str(SOURCE, &mapping(extra)).unwrap_err();
        let problems = err.problems();
        assert_eq!(problems.len(), 1, "{err}");
        problems[0].clone()
    }

    #[test]
    fn absent_keys_take_their_defaults() {
        let m = load("");
        assert_eq!(m.backend.connect_timeout, Duration::from_secs(2));
        assert_eq!(m.backend.read_timeout, None);
        assert_eq!(m.backend.protection, Protection::default());
        let short = load_str(
            SOURCE,
            &mapping("").replace("timeout_ms: 5000", "timeout_ms: 800"),
        )
        .unwrap();
        assert_eq!(
            short.backend.connect_timeout,
            Duration::from_millis(800),
            "never longer than timeout_ms"
        );
    }

    #[test]
    fn every_key_is_compiled() {
        let m = load(
            "  connect_timeout_ms: 500\n  read_timeout_ms: 1500\n  max_concurrency: 8\n  \
             queue: 0\n  queue_timeout_ms: 250\n  retry: { attempts: 5, backoff_ms: 20, \
             max_backoff_ms: 400, max_retry_after_ms: 0 }\n  circuit_breaker: { failures: 0, \
             failure_ratio: 0.25, window_ms: 30000, min_calls: 50, open_ms: 60000 }\n",
        );
        let ms = Duration::from_millis;
        assert_eq!(m.backend.connect_timeout, ms(500));
        assert_eq!(m.backend.read_timeout, Some(ms(1500)));
        assert_eq!(
            m.backend.protection,
            Protection {
                limits: LimiterOptions {
                    max_concurrency: 8,
                    queue: 0,
                    queue_timeout: ms(250),
                },
                retry: RetryPolicy {
                    attempts: 5,
                    backoff: ms(20),
                    max_backoff: ms(400),
                    max_retry_after: Duration::ZERO,
                },
                breaker: BreakerOptions {
                    failures: 0,
                    failure_ratio: 0.25,
                    window: ms(30_000),
                    min_calls: 50,
                    open_for: ms(60_000),
                },
            }
        );
    }

    #[test]
    fn a_long_first_back_off_raises_the_default_cap() {
        let m = load("  retry: { backoff_ms: 5000 }\n");
        assert_eq!(
            m.backend.protection.retry.max_backoff,
            Duration::from_secs(5)
        );
        assert_eq!(m.backend.protection.retry.attempts, 3);
    }

    #[test]
    fn out_of_range_values_are_reported_where_they_are_with_the_range() {
        let p = problem("  max_concurrency: 0\n");
        assert_eq!((p.line, p.column), (5, 20));
        assert_eq!(p.at, "backend.max_concurrency");
        assert_eq!(p.message, "0 is out of range");
        assert_eq!(
            p.fix.as_deref(),
            Some("write a value between 1 and 10000, e.g. max_concurrency: 16")
        );
        let p = problem("  retry:\n    attempts: 50\n");
        assert_eq!((p.line, p.at.as_str()), (6, "backend.retry.attempts"));
        let p = problem("  circuit_breaker: { failure_ratio: 1.5 }\n");
        assert_eq!(p.at, "backend.circuit_breaker.failure_ratio");
        assert!(p.fix.unwrap().contains("between 0 and 1"));
    }

    #[test]
    fn a_part_of_the_call_cannot_take_longer_than_the_whole_call() {
        let p = problem("  connect_timeout_ms: 6000\n");
        assert_eq!(p.at, "backend.connect_timeout_ms");
        assert_eq!(
            p.message,
            "6000 ms is longer than timeout_ms (5000 ms), which bounds the whole call"
        );
        let p = problem("  read_timeout_ms: 9000\n");
        assert_eq!(p.at, "backend.read_timeout_ms");
    }

    #[test]
    fn a_back_off_cap_below_the_first_back_off_is_refused() {
        let p = problem("  retry: { backoff_ms: 500, max_backoff_ms: 100 }\n");
        assert_eq!(p.at, "backend.retry.max_backoff_ms");
        assert_eq!(p.message, "100 ms is shorter than backoff_ms (500 ms)");
    }

    #[test]
    fn a_misspelt_key_gets_the_closest_one() {
        let p = problem("  circuit_breaker: { opn_ms: 5000 }\n");
        assert!(p.message.contains("opn_ms"), "{}", p.message);
        assert_eq!(p.fix.as_deref(), Some("did you mean `open_ms`?"));
        let p = problem("  max_concurency: 4\n");
        assert_eq!(p.fix.as_deref(), Some("did you mean `max_concurrency`?"));
    }
}
