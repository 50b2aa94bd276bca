//! Slow and greedy clients against the SCIM listener, over raw sockets: a request head or body
//! trickled in is cut at `listen.header_timeout_seconds` / `body_timeout_seconds` however often
//! the client sends a byte, an idle kept-alive connection is closed after
//! `idle_timeout_seconds`, a connection past `listen.max_connections` is answered 503, each
//! counted in `/metrics`; and a client that keeps one connection for several prompt requests is
//! not disturbed.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{Env, Legacy, TOKEN};

/// The SCIM listener's address of `env`.
fn scim_addr(env: &Env) -> SocketAddr {
    env.scim_addr().parse().unwrap()
}

fn connect(env: &Env) -> TcpStream {
    let s = TcpStream::connect(scim_addr(env)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Whether the server closed `s`: a read gives EOF or an error, rather than waiting.
fn closed_by_server(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 1024];
    let closed = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break false
            }
            Err(_) => break true,
        }
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    closed
}

/// Reads one HTTP response from `s`: its status, its headers (lower-case names) and body.
fn read_response(s: &mut TcpStream) -> (u16, Vec<(String, String)>, String) {
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).expect("the response arrives");
        assert!(n > 0, "connection closed before a response: {data:?}");
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = s.read(&mut buf).expect("the body arrives");
        assert!(n > 0, "connection closed in the body");
        data.extend_from_slice(&buf[..n]);
    }
    let body = String::from_utf8_lossy(&data[head_end..head_end + length]).to_string();
    (status, headers, body)
}

fn get_users(s: &mut TcpStream) {
    write!(
        s,
        "GET /scim/v2/Users?count=1 HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
}

/// The value of `scim_gateway_connections_refused_total` for the SCIM listener and `reason`.
fn refused(env: &Env, reason: &str) -> f64 {
    let (_, text) = env.admin_get("/metrics");
    let series =
        format!("scim_gateway_connections_refused_total{{listener=\"scim\",reason=\"{reason}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series)?.parse().ok())
        .unwrap_or_else(|| panic!("{series} missing"))
}

/// Waits until the SCIM listener holds no connection: the start-up check that the listener
/// accepts (a connection opened and dropped at once) takes a slot until the listener sees it
/// closed, which on a busy machine can be after the test's first connections.
fn wait_until_no_connection(env: &Env) {
    let series = "scim_gateway_connections_open{listener=\"scim\"} ";
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, text) = env.admin_get("/metrics");
        let open: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix(series)?.parse().ok())
            .unwrap_or(0.0);
        if open == 0.0 {
            return;
        }
        assert!(Instant::now() < deadline, "{open} connections still open");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_request_head_trickled_in_is_cut_at_the_header_timeout() {
    let env = Env::start_with(Legacy::AcmeHr, |c| c.listen.header_timeout_seconds = 1);
    let mut s = connect(&env);
    let start = Instant::now();
    s.write_all(b"GET /scim/v2/Users HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    // One header line every 200 ms: each read is prompt, the head never ends.
    let mut cut = None;
    for i in 0..25 {
        std::thread::sleep(Duration::from_millis(200));
        if s.write_all(format!("X-Slow-{i}: {i}\r\n").as_bytes())
            .is_err()
            || closed_by_server(&mut s, Duration::from_millis(1))
        {
            cut = Some(start.elapsed());
            break;
        }
    }
    let cut = cut.expect("the slow head was never cut");
    assert!(
        cut >= Duration::from_millis(900) && cut < Duration::from_secs(4),
        "cut after {cut:?}"
    );
    assert_eq!(refused(&env, "header_timeout"), 1.0);
    // The listener still serves others.
    assert_eq!(env.get("/Users?count=1").status, 200);
}

#[test]
fn a_request_body_trickled_in_is_answered_400_and_cut_at_the_body_timeout() {
    let env = Env::start_with(Legacy::AcmeHr, |c| c.listen.body_timeout_seconds = 1);
    let mut s = connect(&env);
    let start = Instant::now();
    write!(
        s,
        "POST /scim/v2/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 200\r\n\r\n{{"
    )
    .unwrap();
    let trickle = {
        let mut w = s.try_clone().unwrap();
        std::thread::spawn(move || {
            for _ in 0..20 {
                std::thread::sleep(Duration::from_millis(200));
                if w.write_all(b" ").is_err() {
                    break;
                }
            }
        })
    };
    let (status, _, body) = read_response(&mut s);
    let answered = start.elapsed();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("could not be read"), "{body}");
    assert!(
        answered >= Duration::from_millis(900) && answered < Duration::from_secs(4),
        "answered after {answered:?}"
    );
    assert!(
        closed_by_server(&mut s, Duration::from_secs(3)),
        "the connection is closed"
    );
    trickle.join().unwrap();
    assert_eq!(refused(&env, "body_timeout"), 1.0);
    assert_eq!(env.acme().user_count(), 0, "nothing was created");
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let env = Env::start_with(Legacy::AcmeHr, |c| c.listen.idle_timeout_seconds = 1);
    let mut s = connect(&env);
    get_users(&mut s);
    assert_eq!(read_response(&mut s).0, 200);
    let idle = Instant::now();
    assert!(
        closed_by_server(&mut s, Duration::from_secs(5)),
        "the idle connection was left open"
    );
    let after = idle.elapsed();
    assert!(
        after >= Duration::from_millis(900) && after < Duration::from_secs(4),
        "closed after {after:?}"
    );
    assert_eq!(refused(&env, "idle_timeout"), 1.0);
}

#[test]
fn a_connection_past_the_cap_is_answered_503_and_counted() {
    let env = Env::start_with(Legacy::AcmeHr, |c| c.listen.max_connections = 2);
    wait_until_no_connection(&env);
    let mut held: Vec<TcpStream> = (0..2).map(|_| connect(&env)).collect();
    // Both held connections are served (and stay open, kept alive).
    for s in &mut held {
        get_users(s);
        assert_eq!(read_response(s).0, 200);
    }
    let mut extra = connect(&env);
    get_users(&mut extra);
    let (status, headers, body) = read_response(&mut extra);
    assert_eq!(status, 503, "{body}");
    assert!(
        headers.contains(&("retry-after".into(), "1".into())),
        "{headers:?}"
    );
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        error["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(error["status"], "503");
    assert!(closed_by_server(&mut extra, Duration::from_secs(3)));
    assert_eq!(refused(&env, "max_connections"), 1.0);
    let (_, text) = env.admin_get("/metrics");
    assert!(
        text.contains("scim_gateway_connections_open{listener=\"scim\"} 2"),
        "{text}"
    );
    // Once a held connection goes, a new one is served.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut s = connect(&env);
        get_users(&mut s);
        if read_response(&mut s).0 == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the freed slot was never reused");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_prompt_client_keeps_its_connection_across_requests() {
    let env = Env::start_with(Legacy::AcmeHr, |c| {
        c.listen.header_timeout_seconds = 1;
        c.listen.body_timeout_seconds = 1;
        c.listen.idle_timeout_seconds = 2;
    });
    let mut s = connect(&env);
    let start = Instant::now();
    // Five requests on one connection over more than twice the header and body timeouts.
    for i in 0..5 {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(600));
        }
        let body = format!(
            "{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"userName\":\"prompt{i}@example.com\",\
             \"name\":{{\"givenName\":\"P\",\"familyName\":\"Rompt\"}},\"emails\":[{{\"value\":\"prompt{i}@example.com\",\"primary\":true}}]}}"
        );
        write!(
            s,
            "POST /scim/v2/Users HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let (status, _, answer) = read_response(&mut s);
        assert_eq!(status, 201, "request {i}: {answer}");
    }
    assert!(start.elapsed() > Duration::from_secs(2));
    get_users(&mut s);
    assert_eq!(read_response(&mut s).0, 200);
    assert_eq!(env.acme().user_count(), 5);
    for reason in ["header_timeout", "body_timeout", "idle_timeout"] {
        assert_eq!(refused(&env, reason), 0.0, "{reason}");
    }
}
