//! Graceful shutdown of `scim-gateway serve` on SIGTERM (a Kubernetes pod being replaced): a
//! request in flight finishes, new connections are refused at once, and the process is gone
//! within `shutdown.grace_period_seconds` + `timeout_seconds`, even when a request would take
//! longer; an idle gateway exits at once. The log says when draining starts (with the number of
//! requests in flight) and when it ends.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use scim_gateway::server::auth::token_digest_hex;
use scim_gateway_example_apis::acme_hr::AcmeHr;
use scim_gateway_hosting::{free_loopback_addr, http_service, server_conf, start, RunningServer};

const BIN: &str = env!("CARGO_BIN_EXE_scim-gateway");
const TOKEN: &str = "shutdown-test-token";

/// A legacy API (one user) and the gateway binary in front of it (its log in [`log_file`]).
fn setup(name: &str, grace: u64, timeout: u64) -> (AcmeHr, RunningServer, Child, SocketAddr) {
    let api = AcmeHr::new("shutdown-legacy-key");
    api.seed(1);
    let backend = free_loopback_addr().unwrap();
    let legacy = start(
        server_conf(0, 1),
        vec![http_service("acme", backend, 1, api.clone())],
        &[backend],
    )
    .unwrap();
    let dir = dir(name);
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("gateway.toml");
    let scim = free_loopback_addr().unwrap();
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::write(
        &config,
        format!(
            "[listen]\naddress = \"{scim}\"\n[mapping]\nfile = \"{root}/mappings/acme-hr.yaml\"\nbackend_url = \"http://{backend}\"\n\
             [auth]\ntoken_sha256 = [\"{}\"]\n[admin]\naddress = \"\"\n[scim]\nallowed_hosts = [\"127.0.0.1\"]\n\
             [shutdown]\ngrace_period_seconds = {grace}\ntimeout_seconds = {timeout}\n",
            token_digest_hex(TOKEN)
        ),
    )
    .unwrap();
    let child = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&config)
        .env("ACME_API_KEY", "shutdown-legacy-key")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log_file(name)).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(scim).is_err() {
        assert!(Instant::now() < deadline, "serve did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    (api, legacy, child, scim)
}

fn dir(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("scim-gw-shutdown-{name}-{}", std::process::id()))
}

/// Where the gateway of [`setup`]`(name, …)` logs.
fn log_file(name: &str) -> PathBuf {
    dir(name).join("gateway.log")
}

/// The log line about draining that contains `what`.
fn drain_line(name: &str, what: &str) -> Option<String> {
    std::fs::read_to_string(log_file(name))
        .unwrap()
        .lines()
        .find(|l| l.contains("shutdown:") && l.contains(what))
        .map(str::to_owned)
}

/// `GET /Users/1` on its own connection, on a thread: its status, or `None` if the connection
/// broke.
fn slow_get(scim: SocketAddr) -> std::thread::JoinHandle<Option<u16>> {
    std::thread::spawn(move || {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent();
        agent
            .get(&format!("http://{scim}/scim/v2/Users/1"))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .call()
            .ok()
            .map(|r| r.status().as_u16())
    })
}

fn sigterm(child: &Child) {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
}

/// Waits for the process to exit; how long it took from `since`.
fn wait_exit(child: &mut Child, since: Instant, limit: Duration) -> Duration {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "serve exits cleanly: {status:?}");
            return since.elapsed();
        }
        assert!(
            since.elapsed() < limit,
            "serve still running after {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_in_flight_request_finishes_while_new_connections_are_refused() {
    let (api, _legacy, mut child, scim) = setup("finish", 3, 1);
    // The legacy API holds the next call for 1.5 s: the request is in flight at SIGTERM.
    api.requests().delay_next(Duration::from_millis(1500));
    let slow = slow_get(scim);
    let deadline = Instant::now() + Duration::from_secs(5);
    while api.request_count() == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the legacy API"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let term = Instant::now();
    sigterm(&child);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        TcpStream::connect_timeout(&scim, Duration::from_millis(500)).is_err(),
        "a new connection is refused during the grace period"
    );
    assert_eq!(
        slow.join().unwrap(),
        Some(200),
        "the in-flight request completes"
    );
    assert!(
        term.elapsed() < Duration::from_secs(3),
        "it finished within the grace"
    );
    let took = wait_exit(&mut child, term, Duration::from_secs(3 + 1 + 3));
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(
        took < Duration::from_secs(3),
        "it exited once the request was answered, not at the end of the grace period: {took:?}"
    );
    let start = drain_line("finish", "draining").expect("the start of draining is logged");
    assert!(start.contains("in_flight=1"), "{start}");
    assert!(
        drain_line("finish", "drained").is_some(),
        "the end of draining is logged"
    );
}

#[test]
fn an_idle_gateway_exits_at_once_on_sigterm_and_says_so() {
    let (_api, _legacy, mut child, scim) = setup("idle", 10, 5);
    // A request answered, its connection closed: nothing in flight.
    assert_eq!(slow_get(scim).join().unwrap(), Some(200));
    let term = Instant::now();
    sigterm(&child);
    let took = wait_exit(&mut child, term, Duration::from_secs(10 + 5 + 3));
    assert!(
        took < Duration::from_millis(1500),
        "an idle gateway waited {took:?} (grace period 10 s)"
    );
    let start = drain_line("idle", "draining").expect("the start of draining is logged");
    assert!(start.contains("in_flight=0"), "{start}");
    assert!(
        drain_line("idle", "drained").is_some(),
        "the end of draining is logged"
    );
}

#[test]
fn an_idle_kept_alive_connection_does_not_hold_the_exit() {
    let (_api, _legacy, mut child, scim) = setup("kept", 10, 5);
    // A client that keeps its connection open after its answer (as identity providers do).
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let answer = agent
        .get(&format!("http://{scim}/scim/v2/Users/1"))
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let term = Instant::now();
    sigterm(&child);
    let took = wait_exit(&mut child, term, Duration::from_secs(10 + 5 + 3));
    assert!(took < Duration::from_millis(1500), "{took:?}");
    drop(agent);
}

#[test]
fn a_request_longer_than_the_grace_period_does_not_hold_the_process() {
    let (api, _legacy, mut child, scim) = setup("bounded", 1, 1);
    api.requests().delay_next(Duration::from_secs(20));
    let slow = slow_get(scim);
    let deadline = Instant::now() + Duration::from_secs(5);
    while api.request_count() == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the legacy API"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let term = Instant::now();
    sigterm(&child);
    let took = wait_exit(&mut child, term, Duration::from_secs(1 + 1 + 3));
    assert!(took < Duration::from_secs(5), "{took:?}");
    let end = drain_line("bounded", "grace period over").expect("the cut is logged");
    assert!(end.contains("in_flight=1"), "{end}");
    assert_eq!(
        slow.join().unwrap(),
        None,
        "the request was cut when the process ended"
    );
}
