//! A connection whose reads stop at a deadline: the listener ([`crate::listener`]) wraps each
//! accepted connection in a [`DeadlineStream`] and moves its [`Clock`] from phase to phase
//! (waiting idle between requests, reading a request head, reading its body). A read past the
//! phase's deadline fails with `TimedOut`, and the clock remembers which phase ran out, so that
//! the listener can tell a slow head from a slow body from an idle connection.
//!
//! The deadline is a total one: a client trickling one byte at a time does not push it back
//! (pingora's own timeouts are per read, and a header line every few seconds never trips them).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use async_trait::async_trait;
use pingora::protocols::raw_connect::ProxyDigest;
use pingora::protocols::tls::{SslDigest, TlsRef};
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// What a connection is doing, as far as its deadlines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Between two requests of a kept-alive connection: no byte of the next one yet.
    Idle,
    /// Reading a request head (from the connection's start, or from the first byte after
    /// an idle wait).
    Head,
    /// Reading a request body, or draining what the app left unread (the app at work reads
    /// nothing, so this deadline does not bound its time).
    Body,
}

#[derive(Debug)]
struct State {
    phase: Phase,
    deadline: Option<Instant>,
    /// The phase whose deadline ran out, if one did.
    expired: Option<Phase>,
}

/// The deadlines of one connection, shared between the listener and the connection's
/// [`DeadlineStream`].
#[derive(Debug)]
pub(crate) struct Clock {
    header_timeout: Duration,
    state: Mutex<State>,
}

impl Clock {
    /// A clock in `phase` whose deadline is `timeout` from now.
    pub(crate) fn new(header_timeout: Duration, phase: Phase, timeout: Duration) -> Arc<Clock> {
        Arc::new(Clock {
            header_timeout,
            state: Mutex::new(State {
                phase,
                deadline: Some(Instant::now() + timeout),
                expired: None,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state half-written: use it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enters `phase`, with a deadline `timeout` from now (none for `None`).
    pub(crate) fn enter(&self, phase: Phase, timeout: Option<Duration>) {
        let mut s = self.state();
        s.phase = phase;
        s.deadline = timeout.map(|t| Instant::now() + t);
    }

    pub(crate) fn phase(&self) -> Phase {
        self.state().phase
    }

    /// The phase whose deadline ran out, if one did.
    pub(crate) fn expired(&self) -> Option<Phase> {
        self.state().expired
    }

    fn deadline(&self) -> Option<Instant> {
        self.state().deadline
    }

    fn expire(&self) {
        let mut s = self.state();
        s.expired = Some(s.phase);
    }

    /// Bytes arrived: an idle connection starts reading a head, under the header timeout.
    fn bytes_read(&self) {
        let mut s = self.state();
        if s.phase == Phase::Idle {
            s.phase = Phase::Head;
            s.deadline = Some(Instant::now() + self.header_timeout);
        }
    }
}

/// A connection whose reads fail with `TimedOut` past its [`Clock`]'s deadline. Writes and
/// everything else go straight to the connection.
#[derive(Debug)]
pub(crate) struct DeadlineStream {
    inner: Stream,
    clock: Arc<Clock>,
    timer: Option<Pin<Box<Sleep>>>,
}

impl DeadlineStream {
    pub(crate) fn new(inner: Stream, clock: Arc<Clock>) -> DeadlineStream {
        DeadlineStream {
            inner,
            clock,
            timer: None,
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the client was too slow")
}

impl AsyncRead for DeadlineStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let deadline = this.clock.deadline();
        if let Some(deadline) = deadline {
            if Instant::now() >= deadline {
                this.clock.expire();
                return Poll::Ready(Err(timed_out()));
            }
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.bytes_read();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some(deadline) = deadline else {
                    return Poll::Pending;
                };
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        this.clock.expire();
                        Poll::Ready(Err(timed_out()))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl AsyncWrite for DeadlineStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[async_trait]
impl Shutdown for DeadlineStream {
    async fn shutdown(&mut self) {
        self.inner.shutdown().await
    }
}

impl UniqueID for DeadlineStream {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for DeadlineStream {
    fn get_ssl(&self) -> Option<&TlsRef> {
        self.inner.get_ssl()
    }

    fn get_ssl_digest(&self) -> Option<Arc<SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for DeadlineStream {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }

    fn get_read_pending_time(&self) -> Duration {
        self.inner.get_read_pending_time()
    }

    fn get_write_pending_time(&self) -> Duration {
        self.inner.get_write_pending_time()
    }
}

impl GetProxyDigest for DeadlineStream {
    fn get_proxy_digest(&self) -> Option<Arc<ProxyDigest>> {
        self.inner.get_proxy_digest()
    }

    fn set_proxy_digest(&mut self, digest: ProxyDigest) {
        self.inner.set_proxy_digest(digest)
    }
}

impl GetSocketDigest for DeadlineStream {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}

#[async_trait]
impl Peek for DeadlineStream {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}
