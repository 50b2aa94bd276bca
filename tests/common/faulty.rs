//! A legacy API that misbehaves on demand, for the fault-injection tests: a hand-written HTTP/1.1
//! server on a real loopback socket (tokio, on its own runtime), answering a tiny users API
//! ([`MAPPING`]) when healthy, and otherwise as each test tells it ([`Fault`]): nothing
//! listening, connections reset, answers too slow, 5xx, 429 with `Retry-After`, bodies that are
//! not JSON, truncated, or cut by a reset. It records what the gateway did to it: the requests
//! (method and target), the connections open now, and the most requests in flight at once.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The mapping of the fixture's users API (its `base_url` is set by the test).
pub const MAPPING: &str = r#"
name: faulty
backend:
  base_url: http://127.0.0.1:1
users:
  id: $.id
  endpoints:
    create: { method: POST, path: /users }
    get: { method: GET, path: "/users/{id}" }
    update: { method: PUT, path: "/users/{id}" }
    delete: { method: DELETE, path: "/users/{id}" }
    list: { method: GET, path: /users, items: $.data, total: { body: $.total }, pagination: { style: page, page_param: page, size_param: per_page } }
  on_delete: delete
  attributes:
    - { scim: userName, legacy: $.login }
"#;

/// How the fixture answers a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// As a healthy users API.
    Healthy,
    /// Resets each new connection at once, before reading anything.
    ResetOnAccept,
    /// Answers (healthily) after this long; a gateway that gives up first is noticed.
    Slow(Duration),
    /// This status, with a small JSON error body.
    Status(u16),
    /// 429 with `Retry-After: <seconds>`.
    TooMany(u64),
    /// 200 with a body that is not JSON.
    Malformed,
    /// A head promising 100 bytes of body, 20 bytes, then the connection closed.
    Truncated,
    /// Part of the response head, then the connection reset.
    ResetMidResponse,
}

#[derive(Debug)]
struct Shared {
    fault: Mutex<Fault>,
    /// Faults for the next requests, in order, before `fault` again.
    next: Mutex<VecDeque<Fault>>,
    requests: Mutex<Vec<(String, String)>>,
    open: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Shared {
    fn fault_for_request(&self) -> Fault {
        match self.next.lock().unwrap().pop_front() {
            Some(f) => f,
            None => self.fault.lock().unwrap().clone(),
        }
    }
}

/// Counts a connection as open until dropped.
struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Counts a request as in flight until dropped.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The misbehaving legacy API. Dropping it stops it.
pub struct Faulty {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    /// Bumped by [`Faulty::down`]: every connection closes.
    generation: watch::Sender<u64>,
    listener: Mutex<Option<JoinHandle<()>>>,
    runtime: Runtime,
}

impl Faulty {
    /// A healthy fixture on a free loopback port.
    pub fn start() -> Faulty {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let faulty = Faulty {
            addr,
            shared: Arc::new(Shared {
                fault: Mutex::new(Fault::Healthy),
                next: Mutex::new(VecDeque::new()),
                requests: Mutex::new(Vec::new()),
                open: AtomicUsize::new(0),
                in_flight: AtomicUsize::new(0),
                max_in_flight: AtomicUsize::new(0),
            }),
            generation: watch::channel(0).0,
            listener: Mutex::new(None),
            runtime,
        };
        faulty.listen(listener);
        faulty
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn listen(&self, listener: TcpListener) {
        let shared = self.shared.clone();
        let generation = self.generation.clone();
        let task = self.runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                let closing = generation.subscribe();
                tokio::spawn(connection(stream, shared, closing));
            }
        });
        *self.listener.lock().unwrap() = Some(task);
    }

    /// How it answers from now on (any faults queued with [`Faulty::next`] are dropped).
    pub fn set(&self, fault: Fault) {
        self.shared.next.lock().unwrap().clear();
        *self.shared.fault.lock().unwrap() = fault;
    }

    /// How it answers the next requests, one fault each, before the current fault again.
    pub fn next(&self, faults: impl IntoIterator<Item = Fault>) {
        self.shared.next.lock().unwrap().extend(faults);
    }

    /// Nothing listens any more (connections are refused), and every open connection is
    /// closed (waits until they are).
    pub fn down(&self) {
        if let Some(task) = self.listener.lock().unwrap().take() {
            task.abort();
            let _ = self.runtime.block_on(task);
        }
        self.generation.send_modify(|g| *g += 1);
        let left = self.settle_open_connections(0);
        assert_eq!(left, 0, "the fixture's connections did not close");
    }

    /// Listens again, on the same port.
    pub fn up(&self) {
        let listener = self
            .runtime
            .block_on(TcpListener::bind(self.addr))
            .expect("the fixture's port is free again");
        self.listen(listener);
    }

    /// The requests received so far, as (method, target).
    pub fn requests(&self) -> Vec<(String, String)> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// How many requests had `method` and a target starting with `prefix`.
    pub fn count(&self, method: &str, prefix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|(m, t)| m == method && t.starts_with(prefix))
            .count()
    }

    /// Forgets the requests and the most in flight.
    pub fn clear(&self) {
        self.shared.requests.lock().unwrap().clear();
        self.shared.max_in_flight.store(0, Ordering::SeqCst);
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// The most requests that were being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }

    /// Waits (up to 3 s) for the open connections to be at most `n`; returns how many are
    /// open. A gateway that dropped a broken connection closes it at once, but the fixture
    /// notices on its own tasks.
    pub fn settle_open_connections(&self, n: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(3);
        while self.open_connections() > n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.open_connections()
    }
}

impl Drop for Faulty {
    fn drop(&mut self) {
        self.down();
    }
}

/// One request as read: method, target, body.
struct Request {
    method: String,
    target: String,
    body: Vec<u8>,
}

/// Reads one request (head, then a `Content-Length` body). `None` when the peer closed the
/// connection or sent something unreadable.
async fn read_request(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<Request> {
    let head_end = loop {
        if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buffer[..head_end].to_vec()).ok()?;
    let mut request_line = head.lines().next()?.split(' ');
    let method = request_line.next()?.to_string();
    let target = request_line.next()?.to_string();
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let body = buffer[head_end..head_end + length].to_vec();
    buffer.drain(..head_end + length);
    Some(Request {
        method,
        target,
        body,
    })
}

fn response(status: u16, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra_headers}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// The healthy answer of the users API.
fn healthy(request: &Request) -> Vec<u8> {
    let path = request.target.split('?').next().unwrap_or("");
    let id = path.strip_prefix("/users/").filter(|id| !id.is_empty());
    let user = |id: &str, login: &str| json!({ "id": id, "login": login });
    let (status, body) = match (request.method.as_str(), id) {
        ("GET", Some(id)) => (200, user(id, &format!("user-{id}"))),
        ("GET", None) => (200, json!({ "data": [user("1", "user-1")], "total": 1 })),
        ("POST", None) => {
            let sent: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let login = sent["login"].as_str().unwrap_or("new").to_string();
            (201, user("101", &login))
        }
        ("PUT" | "PATCH", Some(id)) => {
            let sent: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            let login = sent["login"].as_str().unwrap_or("changed").to_string();
            (200, user(id, &login))
        }
        ("DELETE", Some(_)) => return b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(),
        _ => (404, json!({ "error": "no such endpoint" })),
    };
    response(status, "", body.to_string().as_bytes())
}

/// Resolves when the peer closes the connection (or sends more, which a client waiting for its
/// answer does not).
async fn closed(stream: &mut TcpStream) {
    let mut byte = [0u8; 1];
    let _ = stream.read(&mut byte).await;
}

async fn connection(mut stream: TcpStream, shared: Arc<Shared>, mut closing: watch::Receiver<u64>) {
    shared.open.fetch_add(1, Ordering::SeqCst);
    let _open = Open(shared.clone());
    if *shared.fault.lock().unwrap() == Fault::ResetOnAccept {
        let _ = stream.set_zero_linger();
        return;
    }
    let mut buffer = Vec::new();
    loop {
        let request = tokio::select! {
            biased;
            _ = closing.changed() => return,
            r = read_request(&mut stream, &mut buffer) => r,
        };
        let Some(request) = request else { return };
        let fault = shared.fault_for_request();
        shared
            .requests
            .lock()
            .unwrap()
            .push((request.method.clone(), request.target.clone()));
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let _in_flight = InFlight(shared.clone());
        let answer = match fault {
            Fault::Healthy | Fault::ResetOnAccept => healthy(&request),
            Fault::Slow(delay) => {
                tokio::select! {
                    biased;
                    _ = closing.changed() => return,
                    _ = closed(&mut stream) => return,
                    _ = tokio::time::sleep(delay) => {}
                }
                healthy(&request)
            }
            Fault::Status(status) => response(status, "", br#"{"error":"the legacy API failed"}"#),
            Fault::TooMany(seconds) => response(
                429,
                &format!("Retry-After: {seconds}\r\n"),
                br#"{"error":"slow down"}"#,
            ),
            Fault::Malformed => response(200, "", br#"{"id": "1", "login": "#),
            Fault::Truncated => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\": \"1\", \"login\"")
                    .await;
                return;
            }
            Fault::ResetMidResponse => {
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Le").await;
                let _ = stream.flush().await;
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = stream.set_zero_linger();
                return;
            }
        };
        if stream.write_all(&answer).await.is_err() {
            return;
        }
    }
}
