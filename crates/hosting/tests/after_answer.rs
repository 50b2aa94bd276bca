//! Work an app leaves for after its answer (`AfterAnswer`): the answer goes out without waiting
//! for it, and it is done before the connection's next request is served.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use scim_gateway_hosting::{free_loopback_addr, http_service, server_conf, start, AfterAnswer};
use tokio::sync::Notify;

/// Answers each request with the number of the request and whether the work the first request
/// left was done; the first request leaves work that waits for `release`, then sets `done`.
struct App {
    requests: AtomicUsize,
    release: Arc<Notify>,
    done: Arc<AtomicBool>,
}

#[async_trait]
impl ServeHttp for App {
    async fn response(&self, _: &mut ServerSession) -> Response<Vec<u8>> {
        let n = self.requests.fetch_add(1, Ordering::SeqCst) + 1;
        let body = format!("{n} {}", self.done.load(Ordering::SeqCst)).into_bytes();
        let mut response = Response::builder()
            .status(200)
            .header("content-length", body.len())
            .body(body)
            .expect("a response");
        if n == 1 {
            let (release, done) = (self.release.clone(), self.done.clone());
            response
                .extensions_mut()
                .insert(AfterAnswer::new(async move {
                    release.notified().await;
                    done.store(true, Ordering::SeqCst);
                }));
        }
        response
    }
}

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

/// Reads the next answer on `s` and gives its body (the app's answers are short and sized).
fn answer(s: &mut TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = s.read(&mut buf).expect("an answer");
        assert!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().expect("a length"))
                })
                .expect("a content-length");
            if body.len() >= length {
                return body.to_string();
            }
        }
    }
}

#[test]
fn the_answer_goes_out_before_the_work_and_the_next_request_after_it() {
    let addr = free_loopback_addr().expect("a free port");
    let release = Arc::new(Notify::new());
    let done = Arc::new(AtomicBool::new(false));
    let app = App {
        requests: AtomicUsize::new(0),
        release: release.clone(),
        done: done.clone(),
    };
    let server = start(
        server_conf(1, 1),
        vec![http_service("after-answer", addr, 1, app)],
        &[addr],
    )
    .expect("the server starts");
    let mut s = TcpStream::connect(addr).expect("connected");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // The first answer arrives while its work still waits.
    s.write_all(REQUEST).expect("request sent");
    assert_eq!(answer(&mut s), "1 false");
    std::thread::sleep(Duration::from_millis(100));
    assert!(!done.load(Ordering::SeqCst));
    // The next request on the connection is served once the work is done.
    s.write_all(REQUEST).expect("request sent");
    std::thread::sleep(Duration::from_millis(100));
    release.notify_one();
    assert_eq!(answer(&mut s), "2 true");
    assert!(done.load(Ordering::SeqCst));
    server.stop(scim_gateway_hosting::Stop::Fast);
}
