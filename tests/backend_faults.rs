//! When the legacy API is down, slow, or refuses the gateway's credentials, the identity provider
//! gets a SCIM error with the right status — never a hang, a panic or a leaked secret.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TOKEN;
use scim_gateway::config::Config;
use scim_gateway::mapping::{self, BackendAuth, SecretSource};
use scim_gateway::server::app::ScimApp;
use scim_gateway::server::auth::token_digest_hex;
use scim_gateway::server::gateway::Gateway;
use scim_gateway_example_apis::acme_hr::AcmeHr;
use scim_gateway_hosting::{free_loopback_addr, http_service, server_conf, start, RunningServer};
use serde_json::Value;

/// A gateway (Acme HR mapping) whose backend is `backend_url`, with `secret` as the legacy key.
fn gateway_to(backend_url: &str, secret: &str, timeout: Duration) -> (RunningServer, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut mapping = mapping::load_file(&root.join("mappings/acme-hr.yaml")).unwrap();
    mapping.backend.base_url = backend_url.to_string();
    mapping.backend.timeout = timeout;
    mapping.backend.auth = Some(BackendAuth::Header {
        name: "X-Acme-Api-Key".into(),
        secret: SecretSource::Value(secret.into()),
    });
    let mut config = Config::default();
    config.auth.token_sha256 = vec![token_digest_hex(TOKEN)];
    let gateway = Arc::new(Gateway::new(config, mapping).unwrap());
    let addr = free_loopback_addr().unwrap();
    let server = start(
        server_conf(0, 1),
        vec![http_service("scim", addr, 1, ScimApp::new(gateway))],
        &[addr],
    )
    .unwrap();
    (server, format!("http://{addr}/scim/v2"))
}

fn get(url: &str) -> (u16, Value, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    let mut r = agent
        .get(url)
        .header("Authorization", &format!("Bearer {TOKEN}"))
        .call()
        .unwrap();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    )
}

#[test]
fn a_backend_that_is_down_gives_502() {
    // A port nobody listens on.
    let dead = free_loopback_addr().unwrap();
    let (_server, base) = gateway_to(&format!("http://{dead}"), "k", Duration::from_secs(2));
    let (status, body, _) = get(&format!("{base}/Users/1"));
    assert_eq!(status, 502);
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    let (status, _, _) = get(&format!("{base}/Users?filter=userName+eq+%22x%22"));
    assert_eq!(status, 502);
}

#[test]
fn a_backend_slower_than_the_timeout_gives_504_within_the_bound() {
    // Accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 1024];
            let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
            let _ = s.read(&mut buf);
            held.push(s);
        }
    });
    let (_server, base) = gateway_to(&format!("http://{addr}"), "k", Duration::from_millis(400));
    let started = Instant::now();
    let (status, body, _) = get(&format!("{base}/Users/1"));
    assert_eq!(status, 504, "{body:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn refused_legacy_credentials_are_the_gateways_problem_and_never_echoed() {
    let api = AcmeHr::new("the-right-key");
    let addr = free_loopback_addr().unwrap();
    let _backend = start(
        server_conf(0, 1),
        vec![http_service("acme", addr, 1, api)],
        &[addr],
    )
    .unwrap();
    let (_server, base) = gateway_to(
        &format!("http://{addr}"),
        "a-wrong-key-4711",
        Duration::from_secs(2),
    );
    let (status, body, text) = get(&format!("{base}/Users/1"));
    assert_eq!(status, 502, "{body:?}");
    assert!(!text.contains("a-wrong-key-4711"));
    assert!(!text.contains("the-right-key"));
}

#[test]
fn the_gateway_recovers_when_the_backend_comes_back() {
    let addr = free_loopback_addr().unwrap();
    let (_server, base) = gateway_to(&format!("http://{addr}"), "key", Duration::from_secs(2));
    assert_eq!(
        get(&format!("{base}/Users?count=1")).0,
        502,
        "backend not started yet"
    );
    let api = AcmeHr::new("key");
    api.seed(1);
    let _backend = start(
        server_conf(0, 1),
        vec![http_service("acme", addr, 1, api)],
        &[addr],
    )
    .unwrap();
    let (status, body, _) = get(&format!("{base}/Users?count=1"));
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(body["totalResults"], 1);
}
