//! Hosting pingora servers inside a process: [`start`] runs a `pingora::server::Server` on its
//! own thread and returns a handle that stops it; [`http_service`] and [`http_service_with`]
//! make an HTTP listener of a `ServeHttp` app (our own [`HttpListener`], with deadlines for slow
//! clients and a cap on connections); [`server_conf`] and [`free_loopback_addr`] set up
//! in-process servers. The gateway (its SCIM and admin listeners), its `demo` command, the
//! example legacy APIs, the tests and the benchmarks all start their servers through here.
//!
//! Not here: what any server serves. This crate knows pingora and nothing of SCIM, the gateway
//! or the example APIs.
//!
//! pingora cannot report the port of a listener bound to port 0 (pingora #374), so callers that
//! want an ephemeral port reserve one first with [`free_loopback_addr`].

#![forbid(unsafe_code)]

mod deadline;
mod listener;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::apps::http_app::ServeHttp;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::server::configuration::ServerConf;
use pingora::server::{
    RunArgs, Server, ShutdownSignal, ShutdownSignalWatch, UnixShutdownSignalWatch,
};
use pingora::services::listening::Service;
use pingora::services::ServiceWithDependents;
use tokio::sync::watch;

pub use listener::{
    AfterAnswer, BusyAnswer, HttpListener, InFlight, Limits, ListenerEvents, ListenerOptions,
    Refusal,
};

/// The read buffer of each accepted connection. pingora's default (64 KiB, sized for proxying
/// large bodies) held 13 MB at 200 idle-or-waiting IdP connections; a SCIM request is a few KB
/// and a larger body is read straight into the body buffer, so 8 KiB costs no extra reads.
const READ_BUFFER_BYTES: usize = 8 * 1024;

/// An HTTP listener serving `app` on `addr`, with `threads` worker threads and the
/// [`Limits::GENEROUS`] limits (for the example APIs and tests).
pub fn http_service<A>(
    name: &str,
    addr: SocketAddr,
    threads: usize,
    app: A,
) -> Box<dyn ServiceWithDependents>
where
    A: ServeHttp + Send + Sync + 'static,
{
    http_service_with(name, addr, threads, app, ListenerOptions::default())
}

/// An HTTP listener named `name` serving `app` on `addr`, with `threads` worker threads, under
/// `options` (its limits, who hears of its refusals, what counts its requests in flight).
pub fn http_service_with<A>(
    name: &str,
    addr: SocketAddr,
    threads: usize,
    app: A,
    options: ListenerOptions,
) -> Box<dyn ServiceWithDependents>
where
    A: ServeHttp + Send + Sync + 'static,
{
    let listener = HttpListener::new(name, app, options);
    let mut service = Service::new(name.to_string(), listener);
    service.add_listener(
        ListenerConfig::tcp(addr.to_string())
            .l4_buffer(L4BufferSettings::default().read(READ_BUFFER_BYTES)),
    );
    service.threads = Some(threads.max(1));
    Box::new(service)
}

/// Finds a free TCP port on 127.0.0.1 and returns its address, for a listener that pingora
/// binds later (it takes an address, not a bound socket). The port is released before this
/// returns, so it is chosen where nothing else of this process will be given it in between:
/// below the kernel's ephemeral range (which `bind(…:0)` and outgoing connections draw from,
/// so a legacy API started beside on port 0, or a connection to it, never lands on it), and
/// never twice by this process until the range is used up (a process-wide counter, from an
/// offset of its own, so that test binaries or demos running side by side do not start on
/// the same port).
pub fn free_loopback_addr() -> std::io::Result<SocketAddr> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOWEST: u32 = 10_000;
    let below = ephemeral_low().max(LOWEST + 1_000);
    let span = below - LOWEST;
    let offset = std::process::id().wrapping_mul(2_654_435_761) % span;
    for _ in 0..span {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = LOWEST + (offset + n) % span;
        let Ok(port) = u16::try_from(port) else {
            continue;
        };
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            return listener.local_addr();
        }
    }
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// The first port of the kernel's ephemeral range (Linux: `ip_local_port_range`; else the
/// Linux default).
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

/// How a [`RunningServer`] is asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Stop accepting, let in-flight requests finish within the configured grace period.
    Graceful,
    /// Stop at once.
    Fast,
}

/// A pingora server running on its own thread. Dropping it stops the server fast.
pub struct RunningServer {
    stop: watch::Sender<Option<Stop>>,
    thread: Option<JoinHandle<()>>,
    /// For a server stopped by the process's signals: hears of the signal.
    signalled: Option<Mutex<mpsc::Receiver<Stop>>>,
}

struct WatchShutdown(watch::Receiver<Option<Stop>>);

#[async_trait]
impl ShutdownSignalWatch for WatchShutdown {
    async fn recv(&self) -> ShutdownSignal {
        let mut rx = self.0.clone();
        let stop = match rx.wait_for(|s| s.is_some()).await {
            Ok(s) => (*s).unwrap_or(Stop::Fast),
            // The handle was dropped without a word: stop fast.
            Err(_) => Stop::Fast,
        };
        match stop {
            Stop::Graceful => ShutdownSignal::GracefulTerminate,
            Stop::Fast => ShutdownSignal::FastShutdown,
        }
    }
}

/// Errors of [`start`].
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the server thread could not be started: {0}")]
    Thread(std::io::Error),
    #[error(
        "nothing answered on {addr} within {waited:?} after start-up (is the address in use?)"
    )]
    NotListening { addr: SocketAddr, waited: Duration },
}

/// Starts `services` in one pingora server on a new thread and waits until every address in
/// `addrs` accepts connections. The server stops when the returned handle says so (or is
/// dropped).
pub fn start(
    conf: ServerConf,
    services: Vec<Box<dyn ServiceWithDependents>>,
    addrs: &[SocketAddr],
) -> Result<RunningServer, StartError> {
    let (stop_tx, stop_rx) = watch::channel(None);
    start_inner(conf, services, addrs, stop_tx, Signals::Handle(stop_rx))
}

/// Like [`start`], but the server stops on the process's signals: SIGTERM (or SIGQUIT) stops
/// gracefully (the listeners stop accepting; pingora then waits the whole grace period), SIGINT
/// stops at once. [`RunningServer::wait_for_signal`] tells the caller of the signal, so that it
/// can wait for the requests in flight only ([`InFlight::wait_idle`]) and exit.
pub fn start_with_signals(
    conf: ServerConf,
    services: Vec<Box<dyn ServiceWithDependents>>,
    addrs: &[SocketAddr],
) -> Result<RunningServer, StartError> {
    let (stop_tx, _) = watch::channel(None);
    let (signal_tx, signal_rx) = mpsc::channel();
    let mut running = start_inner(conf, services, addrs, stop_tx, Signals::Process(signal_tx))?;
    running.signalled = Some(Mutex::new(signal_rx));
    Ok(running)
}

/// What stops a server.
enum Signals {
    Handle(watch::Receiver<Option<Stop>>),
    /// The process's signals, each also sent here.
    Process(mpsc::Sender<Stop>),
}

/// The process's signals, as pingora reads them, also told to the server's owner.
struct TellingSignals(mpsc::Sender<Stop>);

#[async_trait]
impl ShutdownSignalWatch for TellingSignals {
    async fn recv(&self) -> ShutdownSignal {
        let signal = UnixShutdownSignalWatch.recv().await;
        let stop = match signal {
            ShutdownSignal::FastShutdown => Stop::Fast,
            ShutdownSignal::GracefulTerminate | ShutdownSignal::GracefulUpgrade => Stop::Graceful,
        };
        // Nobody listening (the owner only waits for the thread): nothing to tell.
        let _ = self.0.send(stop);
        signal
    }
}

fn start_inner(
    conf: ServerConf,
    services: Vec<Box<dyn ServiceWithDependents>>,
    addrs: &[SocketAddr],
    stop_tx: watch::Sender<Option<Stop>>,
    signals: Signals,
) -> Result<RunningServer, StartError> {
    let thread = std::thread::Builder::new()
        .name("pingora-server".into())
        .spawn(move || {
            let mut server = Server::new_with_opt_and_conf(None, conf);
            server.add_services(services);
            server.bootstrap();
            let shutdown_signal: Box<dyn ShutdownSignalWatch> = match signals {
                Signals::Handle(rx) => Box::new(WatchShutdown(rx)),
                Signals::Process(tell) => Box::new(TellingSignals(tell)),
            };
            server.run(RunArgs { shutdown_signal });
        })
        .map_err(StartError::Thread)?;
    let running = RunningServer {
        stop: stop_tx,
        thread: Some(thread),
        signalled: None,
    };
    let waited = Duration::from_secs(10);
    for addr in addrs {
        let deadline = Instant::now() + waited;
        while TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_err() {
            if Instant::now() > deadline {
                return Err(StartError::NotListening {
                    addr: *addr,
                    waited,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(running)
}

/// A server configuration for in-process servers: small thread counts, and the given grace
/// period (pingora's own default is 300 s).
pub fn server_conf(grace_period_seconds: u64, shutdown_timeout_seconds: u64) -> ServerConf {
    ServerConf {
        grace_period_seconds: Some(grace_period_seconds),
        graceful_shutdown_timeout_seconds: Some(shutdown_timeout_seconds),
        ..ServerConf::default()
    }
}

impl RunningServer {
    /// Asks the server to stop and waits for its thread to end.
    pub fn stop(mut self, how: Stop) {
        let _ = self.stop.send(Some(how));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Waits until the server stops by itself (for `serve`, which runs until a signal).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// For a server started by [`start_with_signals`]: waits for the signal that stops it and
    /// says which. `None` when the server ended without one (or was started otherwise).
    pub fn wait_for_signal(&self) -> Option<Stop> {
        let signalled = self.signalled.as_ref()?;
        let rx = signalled.lock().unwrap_or_else(|e| e.into_inner());
        rx.recv().ok()
    }

    /// Leaves the server's thread to the end of the process, without waiting for it: for a
    /// caller that has seen the requests in flight answered and is about to exit (pingora
    /// itself would still sleep out its grace period).
    pub fn detach(mut self) {
        drop(self.thread.take());
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.stop.send(Some(Stop::Fast));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
