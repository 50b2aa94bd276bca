//! The HTTP/1.1 listener app of every server started here, in place of pingora's `HttpServer`:
//! it serves a `ServeHttp` app the same way (keep-alive reuse, `Connection: close` once the
//! server is shutting down) and adds the limits pingora lacks against slow or greedy clients:
//!
//! - a total deadline to read a request head (`header_timeout`), from the connection's start or
//!   from the first byte after an idle wait: a client trickling one header line at a time is cut
//!   when it runs out, however often it sends;
//! - a total deadline to read the body (`body_timeout`), from the end of the head: the app's
//!   body read fails, the app answers its error and the connection is closed;
//! - an idle keep-alive connection is closed after `idle_timeout` without a new request (and at
//!   once when the server starts shutting down);
//! - at most `max_connections` open connections per listener: one more is answered 503 (with
//!   `Retry-After: 1` and the caller's body) and closed, without reading its request.
//!
//! Each of these is reported to the listener's [`ListenerEvents`] (the gateway counts them), and
//! every request from its head read to its response written is counted in an [`InFlight`]
//! (what a draining server waits for). HTTP/2 is not served.
//!
//! An app may leave work for after its answer is out ([`AfterAnswer`], in the response's
//! extensions: a cache insert the answer does not depend on): it runs on the connection's task
//! once the response is written, before the connection's next request is read, still counted
//! in flight.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::apps::{HttpPersistentSettings, ReusedHttpStream, ServerApp};
use pingora::http::ResponseHeader;
use pingora::protocols::http::{HttpTask, ServerSession};
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::deadline::{Clock, DeadlineStream, Phase};

/// Work a `ServeHttp` app leaves for after its answer is written: put in the response's
/// extensions, taken out by the listener, run once the response is out (before the connection's
/// next request is read). For what the answer does not wait on (a cache insert whose
/// bookkeeping would otherwise sit in the answer's latency). Cloned as extensions must be; only
/// one clone runs it.
#[derive(Clone)]
pub struct AfterAnswer(Arc<Mutex<Option<Work>>>);

type Work = Pin<Box<dyn Future<Output = ()> + Send>>;

impl AfterAnswer {
    pub fn new(work: impl Future<Output = ()> + Send + 'static) -> AfterAnswer {
        AfterAnswer(Arc::new(Mutex::new(Some(Box::pin(work)))))
    }

    async fn run(self) {
        let work = self.0.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(work) = work {
            work.await;
        }
    }
}

impl fmt::Debug for AfterAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AfterAnswer")
    }
}

/// The limits of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The longest a client may take to send a whole request head.
    pub header_timeout: Duration,
    /// The longest a client may take to send a whole request body, from the end of its head.
    pub body_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// The most connections open at once on the listener.
    pub max_connections: usize,
}

impl Limits {
    /// Limits no well-behaved client meets (for the example APIs and tests): a minute for a
    /// head, five for a body, a minute idle, 10,000 connections.
    pub const GENEROUS: Limits = Limits {
        header_timeout: Duration::from_secs(60),
        body_timeout: Duration::from_secs(300),
        idle_timeout: Duration::from_secs(60),
        max_connections: 10_000,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::GENEROUS
    }
}

/// Why a listener closed a connection on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// The request head did not arrive within `header_timeout`.
    HeaderTimeout,
    /// The request body did not arrive within `body_timeout`.
    BodyTimeout,
    /// A kept-alive connection sent no new request within `idle_timeout`.
    IdleTimeout,
    /// The listener already had `max_connections` open.
    MaxConnections,
}

impl Refusal {
    pub const ALL: [Refusal; 4] = [
        Refusal::HeaderTimeout,
        Refusal::BodyTimeout,
        Refusal::IdleTimeout,
        Refusal::MaxConnections,
    ];

    /// `header_timeout`, `body_timeout`, `idle_timeout`, `max_connections`.
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::HeaderTimeout => "header_timeout",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::IdleTimeout => "idle_timeout",
            Refusal::MaxConnections => "max_connections",
        }
    }

    fn of(phase: Phase) -> Refusal {
        match phase {
            Phase::Idle => Refusal::IdleTimeout,
            Phase::Head => Refusal::HeaderTimeout,
            Phase::Body => Refusal::BodyTimeout,
        }
    }
}

/// What a listener reports as it goes (called on its worker threads: keep it cheap).
pub trait ListenerEvents: Send + Sync {
    /// The listener named `listener` closed a connection for `reason`.
    fn refused(&self, listener: &str, reason: Refusal);
    /// The listener named `listener` has `open` connections now.
    fn connections(&self, _listener: &str, _open: usize) {}
}

/// The requests being answered by the listeners that share it, each from its head read to its
/// response written. Clones count together.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub fn new() -> InFlight {
        InFlight::default()
    }

    /// Requests in flight now.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    fn enter(&self) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self.0.clone())
    }

    /// Waits (blocking) until no request is in flight or `limit` has passed; returns the number
    /// still in flight (0 when all were answered).
    pub fn wait_idle(&self, limit: Duration) -> usize {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let n = self.count();
            if n == 0 || std::time::Instant::now() >= deadline {
                return n;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

struct InFlightGuard(Arc<AtomicUsize>);

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The answer to a connection past `max_connections` (always a 503 with `Retry-After: 1`
/// and `Connection: close`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusyAnswer {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// How one listener behaves: its limits, who hears of its refusals, what counts its requests.
#[derive(Clone, Default)]
pub struct ListenerOptions {
    pub limits: Limits,
    pub events: Option<Arc<dyn ListenerEvents>>,
    pub in_flight: InFlight,
    /// The body of the 503 past `max_connections`; `None`: an empty one.
    pub busy_answer: Option<BusyAnswer>,
}

impl fmt::Debug for ListenerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenerOptions")
            .field("limits", &self.limits)
            .field("in_flight", &self.in_flight)
            .finish_non_exhaustive()
    }
}

/// An HTTP/1.1 listener serving `app` under `options` (see the module's documentation).
pub struct HttpListener<A> {
    name: String,
    app: A,
    options: ListenerOptions,
    open: Arc<AtomicUsize>,
}

impl<A> HttpListener<A> {
    pub fn new(name: &str, app: A, options: ListenerOptions) -> HttpListener<A> {
        HttpListener {
            name: name.to_string(),
            app,
            options,
            open: Arc::new(AtomicUsize::new(0)),
        }
    }

    fn refused(&self, reason: Refusal) {
        if let Some(events) = &self.options.events {
            events.refused(&self.name, reason);
        }
    }

    fn report_open(&self, open: usize) {
        if let Some(events) = &self.options.events {
            events.connections(&self.name, open);
        }
    }

    /// Takes one of the listener's connection slots, if one is free.
    fn slot(self: &Arc<Self>) -> Option<Slot<A>> {
        let before = self.open.fetch_add(1, Ordering::SeqCst);
        if before >= self.options.limits.max_connections {
            self.open.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        self.report_open(before + 1);
        Some(Slot(self.clone()))
    }

    /// Answers 503 on a connection past the cap and closes it. The client's request is read
    /// (briefly) after the answer: closing with it unread would reset the connection and could
    /// lose the answer.
    async fn answer_busy(&self, mut stream: Stream) {
        let (content_type, body) = match &self.options.busy_answer {
            Some(a) => (a.content_type.as_str(), a.body.as_slice()),
            None => ("text/plain", &[][..]),
        };
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nConnection: close\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let write = async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
            stream.flush().await?;
            AsyncWriteExt::shutdown(&mut stream).await
        };
        if !matches!(
            tokio::time::timeout(Duration::from_secs(1), write).await,
            Ok(Ok(()))
        ) {
            return;
        }
        let mut sink = [0u8; 4096];
        let drain = async {
            while let Ok(n) = stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
    }
}

/// One open connection of a listener, given back when dropped.
struct Slot<A>(Arc<HttpListener<A>>);

impl<A> Drop for Slot<A> {
    fn drop(&mut self) {
        let before = self.0.open.fetch_sub(1, Ordering::SeqCst);
        self.0.report_open(before.saturating_sub(1));
    }
}

/// Reads a request head. A connection still idle (no byte of its next request) when the server
/// starts shutting down is given up at once: `Ok(false)`, as when the client closes it.
async fn read_head(
    session: &mut ServerSession,
    clock: &Clock,
    shutdown: &ShutdownWatch,
) -> pingora::Result<bool> {
    let mut shutdown = shutdown.clone();
    let mut watching = true;
    let read = session.read_request();
    tokio::pin!(read);
    loop {
        tokio::select! {
            head = &mut read => return head,
            changed = shutdown.changed(), if watching => {
                if changed.is_err() {
                    watching = false;
                } else if *shutdown.borrow() && clock.phase() == Phase::Idle {
                    return Ok(false);
                }
            }
        }
    }
}

#[async_trait]
impl<A> ServerApp for HttpListener<A>
where
    A: ServeHttp + Send + Sync + 'static,
{
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let Some(_slot) = self.slot() else {
            self.refused(Refusal::MaxConnections);
            self.answer_busy(stream).await;
            return None;
        };
        let limits = self.options.limits;
        let clock = Clock::new(limits.header_timeout, Phase::Head, limits.header_timeout);
        let mut stream: Stream = Box::new(DeadlineStream::new(stream, clock.clone()));
        let mut settings: Option<HttpPersistentSettings> = None;
        loop {
            let mut session = ServerSession::new_http1(stream);
            if let Some(s) = settings.take() {
                s.apply_to_session(&mut session);
            }
            // Keep-alive without pingora's per-read timeout: the clock's deadlines rule.
            session.set_keepalive(if *shutdown.borrow() { None } else { Some(0) });
            // pingora reports a read error before the first byte as the client's close.
            if !matches!(read_head(&mut session, &clock, shutdown).await, Ok(true)) {
                if let Some(phase) = clock.expired() {
                    self.refused(Refusal::of(phase));
                }
                return None;
            }
            let request = self.options.in_flight.enter();
            clock.enter(Phase::Body, Some(limits.body_timeout));
            if *shutdown.borrow() {
                session.set_keepalive(None);
            }
            let mut response = self.app.response(&mut session).await;
            let after = response.extensions_mut().remove::<AfterAnswer>();
            // What the app left of the body is drained before the connection is reused: under
            // the body deadline again.
            clock.enter(Phase::Body, Some(limits.body_timeout));
            // A client that stops reading its answer holds the connection no longer than a
            // slow body would: each write of the response waits at most `body_timeout`.
            session.set_write_timeout(Some(limits.body_timeout));
            write_response(&mut session, response).await;
            let persistent = HttpPersistentSettings::for_session(&session);
            let finished = session.finish().await;
            if let Some(after) = after {
                after.run().await;
            }
            drop(request);
            if let Some(phase) = clock.expired() {
                self.refused(Refusal::of(phase));
                return None;
            }
            match finished {
                Ok(Some(reusable)) => {
                    let (next, next_settings) =
                        ReusedHttpStream::from_reusable_stream(reusable, persistent).consume();
                    if *shutdown.borrow() {
                        return None;
                    }
                    stream = next;
                    settings = next_settings;
                    clock.enter(Phase::Idle, Some(limits.idle_timeout));
                }
                Ok(None) | Err(_) => return None,
            }
        }
    }
}

/// Writes the app's response, as pingora's `HttpServer` does (a failed write shows in
/// `finish`, which then does not offer the connection for reuse).
async fn write_response(session: &mut ServerSession, response: http::Response<Vec<u8>>) {
    let (parts, body) = response.into_parts();
    let header: ResponseHeader = parts.into();
    let empty = body.is_empty();
    let head = HttpTask::Header(Box::new(header), empty);
    if session.response_duplex_vec(vec![head]).await.is_err() || empty {
        return;
    }
    let _ = session
        .response_duplex_vec(vec![HttpTask::Body(Some(body.into()), true)])
        .await;
}
