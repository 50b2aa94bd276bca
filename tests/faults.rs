//! Fault injection over real sockets: a gateway in front of a legacy API that misbehaves on
//! demand (`common::faulty`). For each fault the identity provider gets the right SCIM error
//! (502/503/504, or the legacy 429, with `Retry-After` where due), the gateway neither panics nor
//! leaks connections, and once the legacy API is healthy again the same request succeeds. Also:
//! retries (GET yes, POST never), the concurrency bound under 50 parallel requests, the circuit
//! opening and closing, and the per-tenant rate limit. Timeouts and open times are short so the
//! suite stays fast; no assertion is about speed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::faulty::{Fault, Faulty, MAPPING};
use common::TOKEN;
use scim_gateway::config::Config;
use scim_gateway::mapping::{self, Mapping};
use scim_gateway::server::app::ScimApp;
use scim_gateway::server::auth::token_digest_hex;
use scim_gateway::server::gateway::Gateway;
use scim_gateway_hosting::{free_loopback_addr, http_service, server_conf, start, RunningServer};
use serde_json::{json, Value};

const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// The concurrency bound of the test gateways.
const MAX_CONCURRENCY: usize = 4;
/// How long their circuit stays open.
const OPEN: Duration = Duration::from_millis(300);

/// A gateway in front of a [`Faulty`] legacy API.
struct Bench {
    faulty: Faulty,
    gateway: Arc<Gateway>,
    base: String,
    agent: ureq::Agent,
    _server: RunningServer,
}

/// An answer of the gateway.
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
}

/// Short timeouts, a bound of [`MAX_CONCURRENCY`], fast retries, a circuit that opens after 3
/// consecutive failures for [`OPEN`]; then `tweak`.
fn bench(tweak: impl FnOnce(&mut Mapping, &mut Config)) -> Bench {
    let faulty = Faulty::start();
    let mut mapping = mapping::load_str("faulty.yaml", MAPPING).unwrap();
    mapping.backend.base_url = faulty.url();
    mapping.backend.timeout = Duration::from_millis(400);
    mapping.backend.connect_timeout = Duration::from_millis(200);
    let p = &mut mapping.backend.protection;
    p.limits.max_concurrency = MAX_CONCURRENCY;
    p.limits.queue = 64;
    p.limits.queue_timeout = Duration::from_secs(4);
    p.retry.attempts = 3;
    p.retry.backoff = Duration::from_millis(10);
    p.retry.max_backoff = Duration::from_millis(40);
    p.retry.max_retry_after = Duration::from_millis(1500);
    p.breaker.failures = 3;
    p.breaker.failure_ratio = 0.0;
    p.breaker.open_for = OPEN;
    let mut config = Config::default();
    config.auth.token_sha256 = vec![token_digest_hex(TOKEN)];
    tweak(&mut mapping, &mut config);
    let gateway = Arc::new(Gateway::new(config, mapping).unwrap());
    let addr = free_loopback_addr().unwrap();
    let server = start(
        server_conf(0, 1),
        vec![http_service("scim", addr, 2, ScimApp::new(gateway.clone()))],
        &[addr],
    )
    .unwrap();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    Bench {
        faulty,
        gateway,
        base: format!("http://{addr}/scim/v2"),
        agent,
        _server: server,
    }
}

impl Bench {
    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {TOKEN}"));
        let bytes = match body {
            Some(b) => {
                request = request.header("Content-Type", "application/scim+json");
                serde_json::to_vec(b).unwrap()
            }
            None => Vec::new(),
        };
        let response = self
            .agent
            .run(request.body(bytes).unwrap())
            .expect("the gateway answers");
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.into_body().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer {
            status,
            retry_after,
            body,
        }
    }

    fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None)
    }

    /// The value of the series `series` (name and labels as exported) in `/metrics`.
    fn metric(&self, series: &str) -> Option<f64> {
        let text = self.gateway.metrics.render(self.gateway.membership.stats());
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
    }

    /// Waits until the circuit has been open for its whole open time.
    fn wait_for_the_circuit(&self) {
        std::thread::sleep(OPEN + Duration::from_millis(100));
    }
}

/// Waits (polling, up to 3 s) until `condition` holds; panics naming `what` if it never does.
fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while !condition() {
        assert!(std::time::Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn assert_scim_error(answer: &Answer, status: u16, what: &str) {
    assert_eq!(answer.status, status, "{what}: {answer:?}");
    assert_eq!(
        answer.body["schemas"][0], ERROR_SCHEMA,
        "{what}: {answer:?}"
    );
    assert_eq!(
        answer.body["status"],
        status.to_string(),
        "{what}: {answer:?}"
    );
    let detail = answer.body["detail"].as_str().unwrap_or_default();
    assert!(
        !detail.contains("127.0.0.1"),
        "{what}: the address leaked: {detail}"
    );
}

/// One fault: a healthy call first (a kept-alive connection in the pool), then the fault and
/// its SCIM error, then health again and the same request succeeding, with no connection
/// left over beyond the bound. Returns the faulty answer.
fn fault_case(fault: Fault, status: u16) -> Answer {
    let b = bench(|_, _| {});
    assert_eq!(b.get("/Users/1").status, 200, "healthy at first");
    match &fault {
        Fault::ResetOnAccept => {
            // Only new connections are reset: close the pooled one first.
            b.faulty.down();
            b.faulty.up();
            b.faulty.set(fault.clone());
        }
        _ => b.faulty.set(fault.clone()),
    }
    let answer = b.get("/Users/1");
    assert_scim_error(&answer, status, &format!("{fault:?}"));

    b.faulty.set(Fault::Healthy);
    b.wait_for_the_circuit();
    let again = b.get("/Users/1");
    assert_eq!(again.status, 200, "{fault:?}, then healthy: {again:?}");
    assert_eq!(again.body["userName"], "user-1");
    let open = b.faulty.settle_open_connections(MAX_CONCURRENCY);
    assert!(
        open <= MAX_CONCURRENCY,
        "{fault:?}: {open} connections open"
    );
    answer
}

#[test]
fn a_legacy_api_that_is_down_is_502_unreachable_then_recovers() {
    let b = bench(|_, _| {});
    assert_eq!(b.get("/Users/1").status, 200);
    b.faulty.down();

    let answer = b.get("/Users/1");

    assert_scim_error(&answer, 502, "down");
    assert_eq!(answer.body["detail"], "the legacy API is unreachable");
    assert_eq!(
        b.metric(
            r#"scim_gateway_backend_requests_total{endpoint="users.get",status="unreachable"}"#
        ),
        Some(3.0),
        "a GET that could not connect is tried 3 times"
    );
    assert_eq!(
        b.metric(r#"scim_gateway_backend_retries_total{endpoint="users.get"}"#),
        Some(2.0)
    );
    b.faulty.up();
    b.wait_for_the_circuit();
    assert_eq!(b.get("/Users/1").status, 200);
    assert!(b.faulty.settle_open_connections(MAX_CONCURRENCY) <= MAX_CONCURRENCY);
}

#[test]
fn connections_reset_on_accept_are_502() {
    let answer = fault_case(Fault::ResetOnAccept, 502);
    // Depending on when the reset arrives, the connection fails while it is being set up or
    // while the request waits for its answer.
    let detail = answer.body["detail"].as_str().unwrap();
    assert!(
        [
            "the legacy API is unreachable",
            "the legacy API sent an invalid response"
        ]
        .contains(&detail),
        "{detail}"
    );
}

#[test]
fn a_legacy_api_slower_than_the_timeout_is_504() {
    let answer = fault_case(Fault::Slow(Duration::from_secs(3)), 504);
    assert_eq!(
        answer.body["detail"],
        "the legacy API did not answer within 400 ms"
    );
}

#[test]
fn a_legacy_500_is_502() {
    let answer = fault_case(Fault::Status(500), 502);
    assert_eq!(answer.body["detail"], "the legacy API answered 500");
}

#[test]
fn a_legacy_503_is_retried_then_502() {
    let b = bench(|_, _| {});
    b.faulty.set(Fault::Status(503));
    assert_scim_error(&b.get("/Users/1"), 502, "503");
    assert_eq!(b.faulty.count("GET", "/users/1"), 3);
    b.faulty.set(Fault::Healthy);
    b.wait_for_the_circuit();
    assert_eq!(b.get("/Users/1").status, 200);
}

#[test]
fn a_legacy_429_with_a_long_retry_after_is_passed_on_at_once() {
    let answer = fault_case(Fault::TooMany(30), 429);
    assert_eq!(answer.retry_after.as_deref(), Some("30"));
}

#[test]
fn a_legacy_429_with_a_short_retry_after_is_waited_for_and_retried() {
    let b = bench(|_, _| {});
    b.faulty.next([Fault::TooMany(1)]);

    let answer = b.get("/Users/7");

    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(b.faulty.count("GET", "/users/7"), 2);
}

#[test]
fn a_body_that_is_not_json_is_502() {
    let answer = fault_case(Fault::Malformed, 502);
    let detail = answer.body["detail"].as_str().unwrap();
    assert!(detail.contains("not JSON"), "{detail}");
}

#[test]
fn a_truncated_body_is_502() {
    let answer = fault_case(Fault::Truncated, 502);
    assert_eq!(
        answer.body["detail"],
        "the legacy API sent an invalid response"
    );
}

#[test]
fn a_connection_reset_mid_response_is_502() {
    let answer = fault_case(Fault::ResetMidResponse, 502);
    assert_eq!(
        answer.body["detail"],
        "the legacy API sent an invalid response"
    );
}

#[test]
fn a_get_is_retried_and_a_post_never() {
    let b = bench(|_, _| {});
    b.faulty.next([Fault::Status(503), Fault::Status(502)]);
    let got = b.get("/Users/5");
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(b.faulty.count("GET", "/users/5"), 3, "two retries");

    // The look-up of the userName first (a list call, answered), then the create.
    b.faulty.next([Fault::Healthy, Fault::Status(503)]);
    let created = b.call(
        "POST",
        "/Users",
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada"
        })),
    );
    assert_scim_error(&created, 502, "POST answered 503");
    assert_eq!(b.faulty.count("POST", "/users"), 1, "never sent twice");

    assert_eq!(
        b.metric(r#"scim_gateway_backend_retries_total{endpoint="users.get"}"#),
        Some(2.0)
    );
    assert_eq!(
        b.metric(r#"scim_gateway_backend_retries_total{endpoint="users.create"}"#),
        None
    );
    let created = b.call(
        "POST",
        "/Users",
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada"
        })),
    );
    assert_eq!(created.status, 201, "{created:?}");
}

#[test]
fn no_more_than_max_concurrency_calls_reach_the_legacy_api_under_50_parallel_requests() {
    let b = Arc::new(bench(|_, _| {}));
    b.faulty.set(Fault::Slow(Duration::from_millis(40)));

    let threads: Vec<_> = (0..50)
        .map(|i| {
            let b = b.clone();
            std::thread::spawn(move || b.get(&format!("/Users/{i}")).status)
        })
        .collect();
    let statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(b.faulty.requests().len(), 50);
    let most = b.faulty.max_in_flight();
    assert!(most <= MAX_CONCURRENCY, "{most} calls in flight at once");
    assert!(most >= 2, "the calls ran in parallel ({most})");
    assert_eq!(b.metric("scim_gateway_backend_queue_depth"), Some(0.0));
    assert!(b.faulty.settle_open_connections(MAX_CONCURRENCY) <= MAX_CONCURRENCY);
}

#[test]
fn a_full_queue_is_503_with_retry_after() {
    let b = Arc::new(bench(|m, _| {
        m.backend.timeout = Duration::from_secs(2);
        m.backend.protection.limits.max_concurrency = 1;
        m.backend.protection.limits.queue = 1;
    }));
    b.faulty.set(Fault::Slow(Duration::from_millis(800)));
    let spawn = |i: u32| {
        let b = b.clone();
        std::thread::spawn(move || b.get(&format!("/Users/{i}")).status)
    };
    let first = spawn(1);
    wait_until("the first call reaches the legacy API", || {
        !b.faulty.requests().is_empty()
    });
    let second = spawn(2);
    wait_until("the second call waits in the queue", || {
        b.gateway.backend.guard().queue_depth() == 1
    });

    let third = b.get("/Users/3");

    assert_scim_error(&third, 503, "queue full");
    assert_eq!(third.retry_after.as_deref(), Some("1"));
    assert_eq!(first.join().unwrap(), 200);
    assert_eq!(second.join().unwrap(), 200, "the queued call went through");
    assert_eq!(b.faulty.count("GET", "/users/3"), 0);
}

#[test]
fn the_circuit_opens_after_repeated_failures_and_closes_after_a_good_probe() {
    let b = bench(|_, _| {});
    b.faulty.set(Fault::Status(500));
    for _ in 0..3 {
        assert_scim_error(&b.get("/Users/1"), 502, "500");
    }
    let circuit = r#"scim_gateway_backend_circuit_open{backend="faulty"}"#;
    assert_eq!(b.metric(circuit), Some(1.0));

    let refused = b.get("/Users/1");
    assert_scim_error(&refused, 503, "open circuit");
    assert_eq!(
        refused.retry_after.as_deref(),
        Some("1"),
        "300 ms, rounded up"
    );
    assert_eq!(b.faulty.count("GET", "/users/1"), 3, "not sent");

    b.faulty.set(Fault::Healthy);
    b.wait_for_the_circuit();
    assert_eq!(b.get("/Users/1").status, 200, "the probe");
    assert_eq!(b.metric(circuit), Some(0.0));
    assert_eq!(b.get("/Users/2").status, 200);
}

#[test]
fn a_failed_probe_keeps_the_circuit_open() {
    let b = bench(|_, _| {});
    b.faulty.set(Fault::Status(500));
    for _ in 0..3 {
        b.get("/Users/1");
    }
    b.wait_for_the_circuit();
    assert_scim_error(&b.get("/Users/1"), 502, "the probe fails");
    assert_eq!(b.faulty.count("GET", "/users/1"), 4);
    assert_scim_error(&b.get("/Users/1"), 503, "open again");
    assert_eq!(b.faulty.count("GET", "/users/1"), 4);
}

#[test]
fn a_tenant_over_its_rate_gets_429_with_retry_after() {
    let b = bench(|_, c| {
        c.limits.requests_per_second = 0.2;
        c.limits.burst = 2;
    });

    assert_eq!(b.get("/Users/1").status, 200);
    assert_eq!(b.get("/Users/1").status, 200);
    let limited = b.get("/Users/1");

    assert_scim_error(&limited, 429, "over the rate");
    assert_eq!(
        limited.retry_after.as_deref(),
        Some("5"),
        "one token per 5 s"
    );
    assert_eq!(b.faulty.count("GET", "/users/1"), 2, "not passed on");
    assert_eq!(
        b.metric(r#"scim_gateway_rate_limited_total{tenant="default"}"#),
        Some(1.0)
    );
}
