//! The circuit breaker in front of the legacy API: after repeated failures the gateway stops
//! calling it for a while, answering at once (503 with `Retry-After`) rather than piling calls
//! onto a service that is already failing, then lets one trial call through to see whether it
//! has recovered.
//!
//! Closed → open after `failures` consecutive failed calls, or when at least `failure_ratio` of
//! the calls in the last `window` failed (once there were `min_calls` of them). Open → half-open
//! when `open_for` has passed: the next call is the probe, the others are still refused. The
//! probe's success closes the circuit; its failure opens it again for `open_for`.
//!
//! A pure state machine: time is given to every method (`now`), so tests need no sleeping; the
//! caller decides what a failure is and holds it behind a lock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::mapping::protection::BreakerOptions;

/// Where the circuit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Calls go through.
    Closed,
    /// Calls are refused until `until`.
    Open { until: Instant },
    /// `open_for` has passed; `probing` while the one trial call is under way.
    HalfOpen { probing: bool },
}

/// The breaker's answer to a call that wants to go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Go ahead; report the outcome with [`Breaker::record`].
    Allowed,
    /// Go ahead as the trial call of a half-open circuit; report the outcome with
    /// [`Breaker::record`], or [`Breaker::abandon_probe`] when it is not sent after all.
    Probe,
    /// Refused: the circuit is open (or a probe is under way). Try again after this long.
    Refused { retry_after: Duration },
}

/// How long a call is told to wait while a probe is under way.
const WHILE_PROBING: Duration = Duration::from_secs(1);

/// How many buckets the failure-ratio window is made of.
const BUCKETS: u32 = 10;

/// Calls and failures in one slice of the window.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Which slice of time since the breaker's `epoch` (`elapsed / bucket length`).
    slot: u64,
    calls: u32,
    failed: u32,
}

/// The circuit breaker of one legacy API.
#[derive(Debug)]
pub(crate) struct Breaker {
    options: BreakerOptions,
    state: State,
    consecutive: u32,
    epoch: Instant,
    buckets: VecDeque<Bucket>,
}

impl Breaker {
    /// A closed breaker; `now` starts its clock.
    pub(crate) fn new(options: BreakerOptions, now: Instant) -> Breaker {
        Breaker {
            options,
            state: State::Closed,
            consecutive: 0,
            epoch: now,
            buckets: VecDeque::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn state(&self) -> State {
        self.state
    }

    /// Whether calls go through freely (for the `circuit_open` gauge: 0 when closed).
    pub(crate) fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// Whether a call may go through at `now`.
    pub(crate) fn admit(&mut self, now: Instant) -> Admission {
        match self.state {
            State::Closed => Admission::Allowed,
            State::Open { until } if now < until => Admission::Refused {
                retry_after: until - now,
            },
            State::Open { .. } | State::HalfOpen { probing: false } => {
                self.state = State::HalfOpen { probing: true };
                Admission::Probe
            }
            State::HalfOpen { probing: true } => Admission::Refused {
                retry_after: WHILE_PROBING,
            },
        }
    }

    /// The outcome of a call admitted as `admitted`, at `now`. Outcomes of calls admitted while
    /// the circuit was closed but ending after it opened do not change it.
    pub(crate) fn record(&mut self, admitted: Admission, failed: bool, now: Instant) {
        match (admitted, self.state) {
            (Admission::Probe, State::HalfOpen { .. }) => {
                if failed {
                    self.open(now);
                } else {
                    self.close();
                }
            }
            (Admission::Allowed, State::Closed) => {
                self.count(failed, now);
                if self.should_open(now) {
                    self.open(now);
                }
            }
            _ => {}
        }
    }

    /// The probe was admitted but never sent (refused by the concurrency limit, or its caller
    /// went away): the next call may probe instead.
    pub(crate) fn abandon_probe(&mut self) {
        if self.state == (State::HalfOpen { probing: true }) {
            self.state = State::HalfOpen { probing: false };
        }
    }

    fn open(&mut self, now: Instant) {
        self.state = State::Open {
            until: now + self.options.open_for,
        };
        self.consecutive = 0;
        self.buckets.clear();
    }

    fn close(&mut self) {
        self.state = State::Closed;
        self.consecutive = 0;
        self.buckets.clear();
    }

    fn bucket_length(&self) -> Duration {
        (self.options.window / BUCKETS).max(Duration::from_millis(1))
    }

    fn slot(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.epoch).as_nanos();
        (elapsed / self.bucket_length().as_nanos()) as u64
    }

    /// Drops the buckets older than the window ending at `now`.
    fn expire(&mut self, now: Instant) {
        let current = self.slot(now);
        while self
            .buckets
            .front()
            .is_some_and(|b| b.slot + u64::from(BUCKETS) <= current)
        {
            self.buckets.pop_front();
        }
    }

    fn count(&mut self, failed: bool, now: Instant) {
        self.consecutive = if failed { self.consecutive + 1 } else { 0 };
        self.expire(now);
        let slot = self.slot(now);
        if self.buckets.back().is_none_or(|b| b.slot != slot) {
            self.buckets.push_back(Bucket {
                slot,
                calls: 0,
                failed: 0,
            });
        }
        if let Some(b) = self.buckets.back_mut() {
            b.calls += 1;
            b.failed += u32::from(failed);
        }
    }

    fn should_open(&mut self, now: Instant) -> bool {
        if self.options.failures > 0 && self.consecutive >= self.options.failures {
            return true;
        }
        if self.options.failure_ratio <= 0.0 {
            return false;
        }
        self.expire(now);
        let (calls, failed) = self
            .buckets
            .iter()
            .fold((0u32, 0u32), |(c, f), b| (c + b.calls, f + b.failed));
        calls > 0
            && calls >= self.options.min_calls
            && f64::from(failed) / f64::from(calls) >= self.options.failure_ratio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn options() -> BreakerOptions {
        BreakerOptions {
            failures: 3,
            failure_ratio: 0.0,
            window: 1000 * MS,
            min_calls: 10,
            open_for: 500 * MS,
        }
    }

    /// Runs `n` calls at `at` with the given outcome; returns the last admission.
    fn calls(b: &mut Breaker, n: u32, failed: bool, at: Instant) -> Admission {
        let mut last = Admission::Allowed;
        for _ in 0..n {
            last = b.admit(at);
            b.record(last, failed, at);
        }
        last
    }

    #[test]
    fn consecutive_failures_open_the_circuit_and_a_success_resets_the_count() {
        let t0 = Instant::now();
        let mut b = Breaker::new(options(), t0);
        calls(&mut b, 2, true, t0);
        calls(&mut b, 1, false, t0);
        calls(&mut b, 2, true, t0);
        assert!(b.is_closed(), "2 + 2 failures with a success between");
        calls(&mut b, 1, true, t0);
        assert_eq!(
            b.state(),
            State::Open {
                until: t0 + 500 * MS
            }
        );
    }

    #[test]
    fn an_open_circuit_refuses_at_once_saying_how_long_it_stays_open() {
        let t0 = Instant::now();
        let mut b = Breaker::new(options(), t0);
        calls(&mut b, 3, true, t0);
        assert_eq!(
            b.admit(t0 + 200 * MS),
            Admission::Refused {
                retry_after: 300 * MS
            }
        );
        assert_eq!(
            b.admit(t0 + 499 * MS),
            Admission::Refused { retry_after: MS }
        );
    }

    #[test]
    fn after_the_open_time_one_probe_goes_through_and_its_success_closes_the_circuit() {
        let t0 = Instant::now();
        let mut b = Breaker::new(options(), t0);
        calls(&mut b, 3, true, t0);
        let later = t0 + 500 * MS;
        assert_eq!(b.admit(later), Admission::Probe);
        assert_eq!(
            b.admit(later),
            Admission::Refused {
                retry_after: WHILE_PROBING
            },
            "one probe at a time"
        );
        b.record(Admission::Probe, false, later);
        assert!(b.is_closed());
        assert_eq!(b.admit(later), Admission::Allowed);
    }

    #[test]
    fn a_failed_probe_opens_the_circuit_again_for_the_full_time() {
        let t0 = Instant::now();
        let mut b = Breaker::new(options(), t0);
        calls(&mut b, 3, true, t0);
        let later = t0 + 600 * MS;
        assert_eq!(b.admit(later), Admission::Probe);
        b.record(Admission::Probe, true, later);
        assert_eq!(
            b.state(),
            State::Open {
                until: later + 500 * MS
            }
        );
    }

    #[test]
    fn an_abandoned_probe_lets_the_next_call_probe() {
        let t0 = Instant::now();
        let mut b = Breaker::new(options(), t0);
        calls(&mut b, 3, true, t0);
        let later = t0 + 500 * MS;
        assert_eq!(b.admit(later), Admission::Probe);
        b.abandon_probe();
        assert_eq!(b.admit(later), Admission::Probe);
    }

    #[test]
    fn late_outcomes_of_calls_admitted_before_the_circuit_opened_change_nothing() {
        let t0 = Instant::now();
        let mut b = Breaker::new(options(), t0);
        let early = b.admit(t0);
        calls(&mut b, 3, true, t0);
        b.record(early, false, t0 + MS);
        assert!(
            !b.is_closed(),
            "a slow success does not close an open circuit"
        );
        let later = t0 + 500 * MS;
        assert_eq!(b.admit(later), Admission::Probe);
        b.record(early, true, later);
        assert_eq!(b.state(), State::HalfOpen { probing: true });
    }

    #[test]
    fn a_failure_ratio_in_the_window_opens_the_circuit_once_there_are_enough_calls() {
        let t0 = Instant::now();
        let o = BreakerOptions {
            failures: 0,
            failure_ratio: 0.5,
            ..options()
        };
        let mut b = Breaker::new(o, t0);
        // Alternating: never two failures in a row, half of the calls failed.
        for i in 0..4 {
            calls(&mut b, 1, true, t0 + i * 10 * MS);
            calls(&mut b, 1, false, t0 + i * 10 * MS);
        }
        assert!(b.is_closed(), "8 calls: fewer than min_calls");
        calls(&mut b, 1, true, t0 + 50 * MS);
        assert!(b.is_closed(), "9 calls");
        calls(&mut b, 1, false, t0 + 60 * MS);
        assert!(!b.is_closed(), "10 calls, 5 failed");
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let t0 = Instant::now();
        let o = BreakerOptions {
            failures: 0,
            failure_ratio: 0.5,
            ..options()
        };
        let mut b = Breaker::new(o, t0);
        calls(&mut b, 9, true, t0);
        // A second later the failures have left the window: 10 calls, 1 failed.
        let later = t0 + 1100 * MS;
        calls(&mut b, 9, false, later);
        calls(&mut b, 1, true, later);
        assert!(b.is_closed());
    }

    #[test]
    fn a_breaker_with_neither_count_nor_ratio_never_opens() {
        let t0 = Instant::now();
        let o = BreakerOptions {
            failures: 0,
            failure_ratio: 0.0,
            ..options()
        };
        assert!(!o.enabled());
        let mut b = Breaker::new(o, t0);
        calls(&mut b, 100, true, t0);
        assert!(b.is_closed());
    }
}
