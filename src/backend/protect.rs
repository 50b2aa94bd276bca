//! Protecting the legacy API (`docs/security.md`, "Backend-facing") around each call of the
//! backend client: the circuit breaker first (an open circuit refuses at once), then a slot of
//! the concurrency bound (or a place in its queue), then the call itself, then — for a call that
//! may be sent twice and a failure that says so — a jittered wait and the next attempt, through
//! the breaker and the bound again.
//!
//! [`Protection`] is what the mapping's `backend:` section says; [`Guard`] is its running state,
//! one per backend client. The mechanisms are in their own pure modules (`breaker`, `limiter`,
//! `retry`); this file only puts them in order. Metrics are not kept here: the caller passes a
//! [`CallObserver`], told of every attempt, retry, queue change and circuit state.

use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use super::breaker::{Admission, Breaker};
use super::client::{BackendClient, BackendRequest, BackendResponse};
use super::error::BackendError;
use super::limiter::Limiter;
use super::oauth::TokenFetch;
use super::retry::{self, Attempt};
use crate::mapping::protection::{Protection, RetryPolicy};

/// What a protected call reports as it goes, for the caller's metrics. Every method has an
/// empty default; `()` observes nothing.
pub(crate) trait CallObserver: Sync {
    /// One attempt reached the legacy API (or tried to) and ended with `result` after
    /// `elapsed`. Calls refused by the breaker or the bound never get here.
    fn attempt(&self, _result: &Result<BackendResponse, BackendError>, _elapsed: Duration) {}
    /// A failed attempt will be sent again after `after`.
    fn retry(&self, _after: Duration) {}
    /// A call started (+1) or stopped (-1) waiting for a free slot.
    fn queue(&self, _delta: i64) {}
    /// The circuit's state after an attempt or a refusal: `true` while it is not closed.
    fn circuit(&self, _open: bool) {}
    /// A request for an OAuth 2.0 access token ended (a fetch shared by waiting calls is told
    /// to the one that made it).
    fn token_fetch(&self, _outcome: TokenFetch) {}
}

impl CallObserver for () {}

/// The running protection of one legacy API.
#[derive(Debug)]
pub struct Guard {
    limiter: Limiter,
    breaker: Mutex<Breaker>,
    retry: RetryPolicy,
}

impl Guard {
    pub(crate) fn new(protection: &Protection) -> Guard {
        Guard {
            limiter: Limiter::new(protection.limits.clone()),
            breaker: Mutex::new(Breaker::new(protection.breaker.clone(), Instant::now())),
            retry: protection.retry.clone(),
        }
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether the circuit is closed now.
    pub(crate) fn circuit_closed(&self) -> bool {
        self.breaker().is_closed()
    }

    /// Calls waiting for a slot now.
    pub fn queue_depth(&self) -> usize {
        self.limiter.waiting()
    }

    /// The breaker's admission at `now`: a ticket, or how long the circuit stays open.
    fn admit(&self, now: Instant) -> Result<Ticket<'_>, Duration> {
        match self.breaker().admit(now) {
            Admission::Refused { retry_after } => Err(retry_after),
            admission => Ok(Ticket {
                guard: self,
                admission,
                recorded: false,
            }),
        }
    }
}

/// A call let through by the breaker. Its outcome is recorded once; a probe dropped without an
/// outcome (refused by the bound, or its caller went away) is abandoned, so that another call
/// can probe.
struct Ticket<'a> {
    guard: &'a Guard,
    admission: Admission,
    recorded: bool,
}

impl Ticket<'_> {
    fn record(mut self, failed: bool, now: Instant) {
        self.recorded = true;
        self.guard.breaker().record(self.admission, failed, now);
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if !self.recorded && self.admission == Admission::Probe {
            self.guard.breaker().abandon_probe();
        }
    }
}

/// Whether an attempt's outcome says the legacy API is failing: no connection, a timeout, a
/// broken answer, a 5xx, or a 429 (it is overloaded). A certificate refused, an answer too
/// large or a request the client could not build say nothing about its health.
fn is_failure(result: &Result<BackendResponse, BackendError>) -> bool {
    match result {
        Ok(r) => r.status >= 500 || r.status == 429,
        Err(
            BackendError::Connect { .. }
            | BackendError::Timeout { .. }
            | BackendError::Protocol { .. }
            | BackendError::TlsHandshake { .. },
        ) => true,
        Err(_) => false,
    }
}

impl BackendClient {
    /// Sends `request` under the protection of `docs/security.md` ("Backend-facing"): refused
    /// at once while the circuit is open ([`BackendError::CircuitOpen`]) or when the concurrency
    /// bound and its queue are full or the queue wait times out ([`BackendError::Busy`]); retried
    /// after the failures and for the methods that [`retry`](super::retry) allows. The result is that of the last
    /// attempt (also when the circuit opened meanwhile and refuses the next one).
    ///
    /// With an OAuth 2.0 credential, the access token is the outermost layer: taken (or
    /// fetched, [`BackendError::Token`] when that fails) before the call; when the legacy API
    /// answers 401, the token is dropped, a new one fetched, and the call made once more —
    /// whatever its method: a 401 says the legacy API did not act on it.
    pub(crate) async fn send_protected(
        &self,
        mut request: BackendRequest,
        observer: &dyn CallObserver,
    ) -> Result<BackendResponse, BackendError> {
        let Some(tokens) = self.tokens() else {
            return self.send_guarded(&request, observer).await;
        };
        let token = tokens.token(observer).await?;
        set_authorization(&mut request, token.header());
        let response = self.send_guarded(&request, observer).await?;
        if response.status != http::StatusCode::UNAUTHORIZED.as_u16() {
            return Ok(response);
        }
        tokens.invalidate(&token).await;
        let token = tokens.token(observer).await?;
        set_authorization(&mut request, token.header());
        self.send_guarded(&request, observer).await
    }

    /// [`BackendClient::send_protected`] without the token layer.
    async fn send_guarded(
        &self,
        request: &BackendRequest,
        observer: &dyn CallObserver,
    ) -> Result<BackendResponse, BackendError> {
        let guard = self.guard();
        let if_match = request
            .headers
            .iter()
            .any(|(name, _)| name == http::header::IF_MATCH);
        let idempotent = retry::is_idempotent(&request.method, if_match);
        let on_queue = |delta: i64| observer.queue(delta);
        let mut attempt = 1;
        let mut last = None;
        loop {
            let ticket = match guard.admit(Instant::now()) {
                Ok(ticket) => ticket,
                Err(retry_after) => {
                    observer.circuit(true);
                    // A retry the circuit refuses: the call did reach the legacy API, and what
                    // it answered says more than "open".
                    return last.unwrap_or_else(|| Err(self.circuit_open(retry_after)));
                }
            };
            let result = {
                let _slot = guard
                    .limiter
                    .acquire(&on_queue)
                    .await
                    .map_err(|refusal| self.busy(refusal))?;
                let started = Instant::now();
                let result = self.send_one(request).await;
                observer.attempt(&result, started.elapsed());
                result
            };
            ticket.record(is_failure(&result), Instant::now());
            observer.circuit(!guard.circuit_closed());
            let how = Attempt::of(&result, SystemTime::now());
            match guard
                .retry
                .next(attempt, idempotent, how, rand::random::<f64>())
            {
                None => return result,
                Some(wait) => {
                    observer.retry(wait);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    last = Some(result);
                }
            }
        }
    }
}

/// Sets the request's `Authorization` header to `value`, replacing any other.
fn set_authorization(request: &mut BackendRequest, value: &http::HeaderValue) {
    request
        .headers
        .retain(|(name, _)| name != http::header::AUTHORIZATION);
    request
        .headers
        .push((http::header::AUTHORIZATION, value.clone()));
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, AtomicU32, AtomicUsize, Ordering};
    use std::sync::Arc;

    use async_trait::async_trait;
    use http::{Method, Response};
    use pingora::apps::http_app::ServeHttp;
    use pingora::protocols::http::ServerSession;

    use super::*;
    use crate::backend::ClientOptions;
    use crate::mapping::protection::{BreakerOptions, LimiterOptions};
    use scim_gateway_hosting::{free_loopback_addr, http_service, server_conf, start};

    /// Answers each request with the next status of `script` (then 200), counting requests and
    /// the most in flight at once; waits `delay` before answering.
    struct Scripted {
        script: Mutex<Vec<(u16, Option<&'static str>)>>,
        requests: AtomicU32,
        in_flight: AtomicUsize,
        max_in_flight: AtomicUsize,
        delay: Duration,
    }

    impl Scripted {
        fn new(script: Vec<(u16, Option<&'static str>)>, delay: Duration) -> Arc<Scripted> {
            Arc::new(Scripted {
                script: Mutex::new(script.into_iter().rev().collect()),
                requests: AtomicU32::new(0),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
                delay,
            })
        }
    }

    struct App(Arc<Scripted>);

    #[async_trait]
    impl ServeHttp for App {
        async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
            while let Ok(Some(_)) = session.read_request_body().await {}
            let this = &self.0;
            this.requests.fetch_add(1, Ordering::SeqCst);
            let now = this.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            this.max_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(this.delay).await;
            this.in_flight.fetch_sub(1, Ordering::SeqCst);
            let (status, retry_after) = this.script.lock().unwrap().pop().unwrap_or((200, None));
            let mut r = Response::builder()
                .status(status)
                .header("Content-Type", "application/json")
                .header("Content-Length", 2);
            if let Some(v) = retry_after {
                r = r.header("Retry-After", v);
            }
            r.body(b"{}".to_vec()).unwrap()
        }
    }

    fn protection() -> Protection {
        Protection {
            limits: LimiterOptions {
                max_concurrency: 4,
                queue: 64,
                queue_timeout: Duration::from_secs(3),
            },
            retry: RetryPolicy {
                attempts: 3,
                backoff: Duration::from_millis(5),
                max_backoff: Duration::from_millis(20),
                max_retry_after: Duration::from_secs(1),
            },
            breaker: BreakerOptions {
                failures: 3,
                failure_ratio: 0.0,
                open_for: Duration::from_millis(300),
                ..BreakerOptions::default()
            },
        }
    }

    fn serve(
        app: Arc<Scripted>,
        protection: Protection,
    ) -> (scim_gateway_hosting::RunningServer, BackendClient) {
        let addr = free_loopback_addr().unwrap();
        let server = start(
            server_conf(0, 1),
            vec![http_service("scripted", addr, 2, App(app))],
            &[addr],
        )
        .unwrap();
        let options = ClientOptions {
            protection,
            ..ClientOptions::default()
        };
        (
            server,
            BackendClient::new(&format!("http://{addr}"), options).unwrap(),
        )
    }

    #[derive(Default)]
    struct Counts {
        attempts: AtomicU32,
        retries: AtomicU32,
        queue: AtomicI64,
        max_queue: AtomicI64,
        open: std::sync::atomic::AtomicBool,
    }

    impl CallObserver for Counts {
        fn attempt(&self, _: &Result<BackendResponse, BackendError>, _: Duration) {
            self.attempts.fetch_add(1, Ordering::SeqCst);
        }
        fn retry(&self, _: Duration) {
            self.retries.fetch_add(1, Ordering::SeqCst);
        }
        fn queue(&self, delta: i64) {
            let now = self.queue.fetch_add(delta, Ordering::SeqCst) + delta;
            self.max_queue.fetch_max(now, Ordering::SeqCst);
        }
        fn circuit(&self, open: bool) {
            self.open.store(open, Ordering::SeqCst);
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_get_answered_503_is_retried_until_it_succeeds() {
        let app = Scripted::new(vec![(503, None), (503, None)], Duration::ZERO);
        let (_server, client) = serve(app.clone(), protection());
        let counts = Counts::default();

        let r = client
            .send_protected(BackendRequest::new(Method::GET, "/users/1"), &counts)
            .await
            .unwrap();

        assert_eq!(r.status, 200);
        assert_eq!(app.requests.load(Ordering::SeqCst), 3);
        assert_eq!(counts.attempts.load(Ordering::SeqCst), 3);
        assert_eq!(counts.retries.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_post_is_sent_once_whatever_the_answer() {
        let app = Scripted::new(vec![(503, None)], Duration::ZERO);
        let (_server, client) = serve(app.clone(), protection());
        let counts = Counts::default();

        let r = client
            .send_protected(
                BackendRequest::new(Method::POST, "/users").with_json(b"{}".to_vec()),
                &counts,
            )
            .await
            .unwrap();

        assert_eq!(r.status, 503);
        assert_eq!(app.requests.load(Ordering::SeqCst), 1);
        assert_eq!(counts.retries.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_patch_is_retried_only_when_guarded_by_if_match() {
        let app = Scripted::new(vec![(503, None), (503, None)], Duration::ZERO);
        let (_server, client) = serve(app.clone(), protection());

        let bare = BackendRequest::new(Method::PATCH, "/users/1").with_json(b"{}".to_vec());
        let guarded = bare.clone().with_header(
            http::header::IF_MATCH,
            http::HeaderValue::from_static("\"3\""),
        );
        assert_eq!(client.send_protected(bare, &()).await.unwrap().status, 503);
        assert_eq!(app.requests.load(Ordering::SeqCst), 1);
        assert_eq!(
            client.send_protected(guarded, &()).await.unwrap().status,
            200
        );
        assert_eq!(app.requests.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_long_retry_after_is_not_waited_for() {
        let app = Scripted::new(vec![(429, Some("30"))], Duration::ZERO);
        let (_server, client) = serve(app.clone(), protection());

        let r = client
            .send_protected(BackendRequest::new(Method::GET, "/users/1"), &())
            .await
            .unwrap();

        assert_eq!(r.status, 429);
        assert_eq!(r.headers["retry-after"], "30");
        assert_eq!(app.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn the_circuit_opens_refuses_without_calling_and_closes_after_a_good_probe() {
        let app = Scripted::new(vec![(500, None); 3], Duration::ZERO);
        let (_server, client) = serve(app.clone(), protection());
        let counts = Counts::default();
        let get = || BackendRequest::new(Method::GET, "/users/1");

        for _ in 0..3 {
            assert_eq!(
                client.send_protected(get(), &counts).await.unwrap().status,
                500
            );
        }
        assert!(counts.open.load(Ordering::SeqCst));
        let refused = client.send_protected(get(), &counts).await.unwrap_err();
        assert!(
            matches!(refused, BackendError::CircuitOpen { retry_after, .. } if retry_after <= Duration::from_millis(300)),
            "{refused}"
        );
        assert_eq!(app.requests.load(Ordering::SeqCst), 3, "not sent");

        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(
            client.send_protected(get(), &counts).await.unwrap().status,
            200
        );
        assert!(!counts.open.load(Ordering::SeqCst));
        assert!(client.guard().circuit_closed());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn no_more_than_max_concurrency_calls_are_in_flight() {
        let app = Scripted::new(Vec::new(), Duration::from_millis(30));
        let (_server, client) = serve(app.clone(), protection());
        let client = Arc::new(client);
        let counts = Arc::new(Counts::default());

        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..24 {
            let (client, counts) = (client.clone(), counts.clone());
            tasks.spawn(async move {
                let request = BackendRequest::new(Method::GET, format!("/users/{i}"));
                client
                    .send_protected(request, &*counts)
                    .await
                    .map(|r| r.status)
            });
        }
        while let Some(done) = tasks.join_next().await {
            assert_eq!(done.unwrap(), Ok(200));
        }

        assert!(app.max_in_flight.load(Ordering::SeqCst) <= 4);
        assert!(counts.max_queue.load(Ordering::SeqCst) > 0, "calls waited");
        assert_eq!(counts.queue.load(Ordering::SeqCst), 0, "and none waits now");
        assert_eq!(client.guard().queue_depth(), 0);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_full_queue_is_refused_as_busy() {
        let app = Scripted::new(Vec::new(), Duration::from_millis(300));
        let mut p = protection();
        p.limits = LimiterOptions {
            max_concurrency: 1,
            queue: 0,
            queue_timeout: Duration::from_secs(1),
        };
        let (_server, client) = serve(app.clone(), p);
        let client = Arc::new(client);

        let first = {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .send_protected(BackendRequest::new(Method::GET, "/users/1"), &())
                    .await
                    .map(|r| r.status)
            })
        };
        while app.requests.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let refused = client
            .send_protected(BackendRequest::new(Method::GET, "/users/2"), &())
            .await
            .unwrap_err();

        assert!(matches!(refused, BackendError::Busy { .. }), "{refused}");
        assert_eq!(first.await.unwrap(), Ok(200));
        assert_eq!(app.requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn an_unreachable_backend_is_retried_then_reported_unreachable() {
        let addr = free_loopback_addr().unwrap();
        let options = ClientOptions {
            protection: protection(),
            ..ClientOptions::default()
        };
        let client = BackendClient::new(&format!("http://{addr}"), options).unwrap();
        let counts = Counts::default();

        let error = client
            .send_protected(BackendRequest::new(Method::GET, "/users/1"), &counts)
            .await
            .unwrap_err();

        assert!(matches!(error, BackendError::Connect { .. }), "{error}");
        assert_eq!(counts.attempts.load(Ordering::SeqCst), 3);
        assert!(
            counts.open.load(Ordering::SeqCst),
            "3 failures open the circuit"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_circuit_that_opens_during_the_retries_ends_them_with_the_real_error() {
        let addr = free_loopback_addr().unwrap();
        let mut p = protection();
        p.breaker.failures = 2;
        let options = ClientOptions {
            protection: p,
            ..ClientOptions::default()
        };
        let client = BackendClient::new(&format!("http://{addr}"), options).unwrap();
        let counts = Counts::default();
        let get = || BackendRequest::new(Method::GET, "/users/1");

        let first = client.send_protected(get(), &counts).await.unwrap_err();
        let second = client.send_protected(get(), &counts).await.unwrap_err();

        assert!(matches!(first, BackendError::Connect { .. }), "{first}");
        assert_eq!(
            counts.attempts.load(Ordering::SeqCst),
            2,
            "the third was refused"
        );
        assert!(
            matches!(second, BackendError::CircuitOpen { .. }),
            "{second}"
        );
    }
}
