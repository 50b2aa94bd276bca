//! How the gateway authenticates to the legacy API (`backend.auth`, `backend.tls`), over real
//! sockets: HTTP Basic, a key in a query parameter, OAuth 2.0 client credentials and a TLS
//! client certificate, each against a legacy API that checks it — Acme HR behind a small
//! front ([`Front`]) that accepts only the credential under test and otherwise answers 401 —
//! and never a secret, a token or a key in a log line, a metric or an error body.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use http::Response;
use pingora::apps::http_app::{HttpServer, ServeHttp};
use pingora::protocols::http::ServerSession;
use pingora::services::listening::Service;
use scim_gateway::mapping;
use scim_gateway_example_apis::acme_hr::AcmeHr;
use scim_gateway_example_apis::orbit::{ClientAuth, TokenGrant};
use scim_gateway_example_apis::Orbit;
use scim_gateway_hosting::{free_loopback_addr, http_service, server_conf, start, RunningServer};
use serde_json::{json, Value};

use common::{logs, Env, Legacy};

/// What the front accepts.
enum Check {
    /// `Authorization` must be exactly this.
    Header(String),
    /// `?<name>=<value>` (form-decoded) must be in the query.
    Query { name: String, value: String },
    /// As `Query`, and every create is refused with a message quoting the URL, key included
    /// (as some frameworks' error pages do).
    QueryQuotedOnCreate { name: String, value: String },
    /// A bearer token from its own `/oauth/token`.
    OAuth(Arc<Tokens>),
    /// Nothing (the TLS layer checks the client certificate).
    Nothing,
}

/// The token endpoint of the front: client credentials grant, tokens it issued.
struct Tokens {
    client_id: String,
    client_secret: String,
    expires_in: u64,
    /// How long a token request takes (to see concurrent calls share one fetch).
    delay: Duration,
    /// Answer token requests with this status instead.
    failing: Mutex<Option<u16>>,
    /// Issue tokens that the API then refuses (a client without the API's permission).
    useless: bool,
    valid: Mutex<HashSet<String>>,
    issued: AtomicU64,
    /// How each token request authenticated the client: `form` or `basic`.
    client_auth: Mutex<Vec<String>>,
}

impl Tokens {
    fn new(client_id: &str, client_secret: &str) -> Tokens {
        Tokens {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            expires_in: 3600,
            delay: Duration::ZERO,
            failing: Mutex::new(None),
            useless: false,
            valid: Mutex::new(HashSet::new()),
            issued: AtomicU64::new(0),
            client_auth: Mutex::new(Vec::new()),
        }
    }

    /// Every token issued so far stops working.
    fn expire_all(&self) {
        self.valid.lock().unwrap().clear();
    }

    fn issued(&self) -> u64 {
        self.issued.load(Ordering::SeqCst)
    }

    async fn answer(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        tokio::time::sleep(self.delay).await;
        if let Some(status) = *self.failing.lock().unwrap() {
            return json_response(status, json!({"error": "temporarily_unavailable"}));
        }
        let basic = session
            .req_header()
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .map(str::to_string);
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = session.read_request_body().await {
            body.extend_from_slice(&chunk);
        }
        let form: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
        let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let (id, secret, how) = match basic {
            Some(b) => {
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .unwrap_or_default();
                let decoded = String::from_utf8(decoded).unwrap_or_default();
                let (id, secret) = decoded.split_once(':').unwrap_or_default();
                let decode = |s: &str| {
                    form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                        .unwrap_or_default()
                };
                (Some(decode(id)), Some(decode(secret)), "basic")
            }
            None => (field("client_id"), field("client_secret"), "form"),
        };
        self.client_auth.lock().unwrap().push(how.into());
        let granted = field("grant_type").as_deref() == Some("client_credentials")
            && id.as_deref() == Some(self.client_id.as_str())
            && secret.as_deref() == Some(self.client_secret.as_str());
        if !granted {
            return json_response(401, json!({"error": "invalid_client"}));
        }
        let token = format!("tok-{}", uuid::Uuid::new_v4().simple());
        if !self.useless {
            self.valid.lock().unwrap().insert(token.clone());
        }
        self.issued.fetch_add(1, Ordering::SeqCst);
        json_response(
            200,
            json!({"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}),
        )
    }
}

/// Acme HR behind a credential check: a request with the right credential goes on to Acme HR
/// (with Acme HR's own key, the credential removed); any other is answered 401.
struct Front {
    api: AcmeHr,
    acme_key: String,
    check: Check,
    /// Every request target received (path and query, as sent).
    targets: Arc<Mutex<Vec<String>>>,
    refused: Arc<AtomicU64>,
}

#[async_trait]
impl ServeHttp for Front {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let target = session.req_header().uri.to_string();
        self.targets.lock().unwrap().push(target.clone());
        let authorization = session
            .req_header()
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let mut forward = target.clone();
        let accepted = match &self.check {
            Check::Header(expected) => authorization.as_deref() == Some(expected),
            Check::QueryQuotedOnCreate { .. }
                if session.req_header().method == http::Method::POST =>
            {
                return json_response(
                    422,
                    json!({"error": {"code": "invalid", "message": format!("POST {target} is not allowed")}}),
                );
            }
            Check::Query { name, value } | Check::QueryQuotedOnCreate { name, value } => {
                let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect();
                let found = pairs.iter().any(|(k, v)| k == name && v == value);
                let rest: Vec<String> = query
                    .split('&')
                    .filter(|p| !p.is_empty() && !p.starts_with(&format!("{name}=")))
                    .map(str::to_string)
                    .collect();
                forward = if rest.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}?{}", rest.join("&"))
                };
                found
            }
            Check::OAuth(tokens) => {
                if path == "/oauth/token" {
                    return tokens.answer(session).await;
                }
                authorization
                    .as_deref()
                    .and_then(|a| a.strip_prefix("Bearer "))
                    .is_some_and(|t| tokens.valid.lock().unwrap().contains(t))
            }
            Check::Nothing => true,
        };
        if !accepted {
            self.refused.fetch_add(1, Ordering::SeqCst);
            return json_response(
                401,
                json!({"error": {"code": "unauthorized", "message": "no valid credential"}}),
            );
        }
        let head = session.req_header_mut();
        head.set_uri(forward.parse().unwrap());
        head.remove_header("authorization");
        head.insert_header("X-Acme-Api-Key", self.acme_key.as_str())
            .unwrap();
        self.api.response(session).await
    }
}

fn json_response(status: u16, body: Value) -> Response<Vec<u8>> {
    let body = body.to_string().into_bytes();
    Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .header("Content-Length", body.len())
        .body(body)
        .unwrap()
}

/// A running front and what it saw.
struct Running {
    url: String,
    targets: Arc<Mutex<Vec<String>>>,
    refused: Arc<AtomicU64>,
    _server: RunningServer,
}

impl Running {
    fn targets(&self) -> Vec<String> {
        self.targets.lock().unwrap().clone()
    }
}

fn front(check: Check) -> (Front, Arc<Mutex<Vec<String>>>, Arc<AtomicU64>) {
    let acme_key = format!("acme-{}", uuid::Uuid::new_v4().simple());
    let targets = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(AtomicU64::new(0));
    let front = Front {
        api: AcmeHr::new(acme_key.clone()),
        acme_key,
        check,
        targets: targets.clone(),
        refused: refused.clone(),
    };
    (front, targets, refused)
}

fn serve(check: Check) -> Running {
    let (front, targets, refused) = front(check);
    let addr = free_loopback_addr().unwrap();
    let server = start(
        server_conf(0, 1),
        vec![http_service("front", addr, 2, front)],
        &[addr],
    )
    .unwrap();
    Running {
        url: format!("http://{addr}"),
        targets,
        refused,
        _server: server,
    }
}

/// The shipped Acme HR mapping with its `backend:` lines up to `timeout_ms` replaced by
/// `backend` (the lines under `backend:`, indented by 2).
fn acme_mapping(backend: &str) -> mapping::Mapping {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("mappings/acme-hr.yaml")).unwrap();
    let start = text.find("  base_url:").unwrap();
    let end = text.find("  timeout_ms:").unwrap();
    let text = format!("{}{backend}{}", &text[..start], &text[end..]);
    mapping::load_str("acme-hr-auth.yaml", &text).unwrap_or_else(|e| panic!("{e}"))
}

/// The gateway in front of `mapping` (the harness's own Acme HR is left unused).
fn gateway(mapping: mapping::Mapping) -> Env {
    Env::start_tweaked(Legacy::AcmeHr, move |m| *m = mapping, |_| {})
}

/// A file holding `content`, in a directory removed with the returned guard.
fn secret_file(content: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, format!("{content}\n")).unwrap();
    (dir, path)
}

fn new_user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("{name}@example.com"),
        "name": {"givenName": "Ada", "familyName": name},
        "emails": [{"type": "work", "value": format!("{name}@example.com"), "primary": true}],
        "active": true,
    })
}

/// Create, read, update, list and delete one user: every kind of legacy call.
fn round_trip(env: &Env, name: &str) {
    let created = env.post("/Users", &new_user(name));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let got = env.get(&format!("/Users/{id}"));
    assert_eq!(got.status, 200, "{:?}", got.body);
    let patched = env.patch(
        &format!("/Users/{id}"),
        &json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Engineer"}],
        }),
    );
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let listed = env.get(&format!(
        "/Users?filter=userName%20eq%20%22{name}@example.com%22"
    ));
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["totalResults"], 1, "{:?}", listed.body);
    assert_eq!(env.delete(&format!("/Users/{id}")).status, 204);
}

/// Everything the gateway logged, and its metrics, must not contain any of `secrets`.
fn assert_nowhere(env: &Env, secrets: &[&str]) {
    let logged: String = logs::lines()
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    let (_, metrics) = env.admin_get("/metrics");
    for secret in secrets {
        assert!(!logged.contains(secret), "{secret:?} was logged");
        assert!(!metrics.contains(secret), "{secret:?} is in the metrics");
    }
}

// --- HTTP Basic ------------------------------------------------------------------------------

#[test]
fn basic_credentials_are_sent_on_every_call() {
    logs::capture();
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let (_dir, file) = secret_file(&password);
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("svc-scim:{password}"))
    );
    let legacy = serve(Check::Header(expected.clone()));
    let env = gateway(acme_mapping(&format!(
        "  base_url: {}\n  auth:\n    basic: {{ username: svc-scim, password_from_file: {} }}\n",
        legacy.url,
        file.display()
    )));

    round_trip(&env, "basic");

    assert!(legacy.targets().len() >= 5, "{:?}", legacy.targets());
    assert_eq!(legacy.refused.load(Ordering::SeqCst), 0);
    assert_nowhere(&env, &[&password, expected.trim_start_matches("Basic ")]);
}

#[test]
fn a_wrong_basic_password_is_a_scim_error_without_the_password() {
    logs::capture();
    let password = format!("wrong-{}", uuid::Uuid::new_v4().simple());
    let (_dir, file) = secret_file(&password);
    let legacy = serve(Check::Header("Basic bm9ib2R5Omtub3dz".into()));
    let env = gateway(acme_mapping(&format!(
        "  base_url: {}\n  auth:\n    basic: {{ username: svc-scim, password_from_file: {} }}\n",
        legacy.url,
        file.display()
    )));

    let answer = env.get("/Users?count=1");

    assert!(answer.status >= 400, "{:?}", answer.body);
    assert!(!answer.body.to_string().contains(&password));
    assert_eq!(legacy.refused.load(Ordering::SeqCst), 1);
    assert_nowhere(&env, &[&password]);
}

// --- a key in a query parameter -------------------------------------------------------------

#[test]
fn a_query_key_is_sent_encoded_on_every_call_and_never_logged() {
    logs::capture();
    // Characters that are structure in a query: sent as data.
    let key = format!("k/{}+&=#?", uuid::Uuid::new_v4().simple());
    let (_dir, file) = secret_file(&key);
    let legacy = serve(Check::Query {
        name: "api_key".into(),
        value: key.clone(),
    });
    let env = gateway(acme_mapping(&format!(
        "  base_url: {}\n  auth:\n    query: api_key\n    from_file: {}\n",
        legacy.url,
        file.display()
    )));

    round_trip(&env, "querykey");
    // A call that fails, and one whose id is not even sent: their logs and errors too.
    let missing = env.get("/Users/987654");
    assert_eq!(missing.status, 404);

    let encoded: String = form_urlencoded::byte_serialize(key.as_bytes()).collect();
    let targets = legacy.targets();
    assert!(targets.len() >= 6, "{targets:?}");
    for target in &targets {
        assert!(
            target.ends_with(&format!("api_key={encoded}")),
            "the key is the last parameter of {target}"
        );
    }
    assert!(
        targets.iter().any(|t| t.contains("&page=1&")),
        "after the call's own: {targets:?}"
    );
    assert_eq!(legacy.refused.load(Ordering::SeqCst), 0);
    assert!(!missing.body.to_string().contains(&encoded));
    assert_nowhere(&env, &[&key, &encoded]);
}

#[test]
fn a_legacy_error_quoting_the_url_reaches_the_idp_and_the_log_without_the_key() {
    logs::capture();
    let key = format!("quoted-{}", uuid::Uuid::new_v4().simple());
    let (_dir, file) = secret_file(&key);
    let legacy = serve(Check::QueryQuotedOnCreate {
        name: "api_key".into(),
        value: key.clone(),
    });
    let env = gateway(acme_mapping(&format!(
        "  base_url: {}\n  auth:\n    query: api_key\n    from_file: {}\n",
        legacy.url,
        file.display()
    )));

    let refused = env.post("/Users", &new_user("quoted"));

    assert_eq!(refused.status, 400, "{:?}", refused.body);
    let detail = refused.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("POST /api/v1/users?api_key=<redacted> is not allowed"),
        "{detail}"
    );
    assert_nowhere(&env, &[&key]);
}

// --- OAuth 2.0 client credentials -------------------------------------------------------------

fn oauth_backend(legacy: &Running, secret_file: &Path, extra: &str) -> String {
    format!(
        "  base_url: {}\n  auth:\n    oauth2:\n      token_url: /oauth/token\n      client_id: scim-gateway\n      client_secret_from_file: {}\n{extra}",
        legacy.url,
        secret_file.display()
    )
}

/// `scim_gateway_backend_token_fetches_total{outcome}` as the admin listener shows it.
fn token_fetches(env: &Env, outcome: &str) -> f64 {
    let (_, text) = env.admin_get("/metrics");
    let series = format!("scim_gateway_backend_token_fetches_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series)?.parse().ok())
        .unwrap_or_else(|| panic!("no {series}in\n{text}"))
}

fn serve_oauth(tokens: Tokens) -> (Running, Arc<Tokens>) {
    let tokens = Arc::new(tokens);
    (serve(Check::OAuth(tokens.clone())), tokens)
}

/// `GET path` on the gateway from another thread's agent.
fn get_from_thread(base: &str, path: &str) -> u16 {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    agent
        .get(&format!("{base}{path}"))
        .header("Authorization", &format!("Bearer {}", common::TOKEN))
        .call()
        .unwrap()
        .status()
        .as_u16()
}

#[test]
fn one_token_serves_many_concurrent_calls_and_is_fetched_again_once_after_a_401() {
    logs::capture();
    let secret = format!("cs-{}", uuid::Uuid::new_v4().simple());
    let (_dir, file) = secret_file(&secret);
    let (legacy, tokens) = serve_oauth(Tokens {
        // Slow enough that the first calls all wait for the same fetch.
        delay: Duration::from_millis(300),
        ..Tokens::new("scim-gateway", &secret)
    });
    let env = gateway(acme_mapping(&oauth_backend(&legacy, &file, "")));

    let statuses: Vec<u16> = std::thread::scope(|s| {
        let calls: Vec<_> = (0..8)
            .map(|_| s.spawn(|| get_from_thread(&env.base, "/Users?count=1")))
            .collect();
        calls.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(statuses, vec![200; 8]);
    assert_eq!(tokens.issued(), 1, "concurrent calls share one token fetch");
    round_trip(&env, "oauth");
    assert_eq!(tokens.issued(), 1, "the token is kept");

    tokens.expire_all();
    assert_eq!(env.get("/Users?count=1").status, 200);
    assert_eq!(tokens.issued(), 2, "a 401 fetches one new token");
    assert_eq!(env.get("/Users?count=1").status, 200);
    assert_eq!(tokens.issued(), 2);
    assert_eq!(
        legacy.refused.load(Ordering::SeqCst),
        1,
        "one call was refused"
    );
    assert_eq!(*tokens.client_auth.lock().unwrap(), vec!["form", "form"]);
    assert_eq!(
        token_fetches(&env, "fetched"),
        2.0,
        "the operator sees both"
    );
    assert_eq!(token_fetches(&env, "refused"), 0.0);

    let issued: Vec<String> = tokens.valid.lock().unwrap().iter().cloned().collect();
    let mut secrets = vec![secret.as_str()];
    secrets.extend(issued.iter().map(String::as_str));
    assert_nowhere(&env, &secrets);
}

#[test]
fn a_token_the_api_keeps_refusing_is_fetched_again_once_per_call_not_more() {
    let (_dir, file) = secret_file("s");
    let (legacy, tokens) = serve_oauth(Tokens {
        useless: true,
        ..Tokens::new("scim-gateway", "s")
    });
    let env = gateway(acme_mapping(&oauth_backend(&legacy, &file, "")));

    let answer = env.get("/Users?count=1");

    assert!(answer.status >= 400, "{:?}", answer.body);
    assert_eq!(
        tokens.issued(),
        2,
        "the first token, and one more after the 401"
    );
    assert_eq!(
        legacy.refused.load(Ordering::SeqCst),
        2,
        "the call, and its one repeat"
    );
}

#[test]
fn a_token_is_fetched_again_shortly_before_it_expires() {
    let secret = "short-lived";
    let (_dir, file) = secret_file(secret);
    let (legacy, tokens) = serve_oauth(Tokens {
        expires_in: 1,
        ..Tokens::new("scim-gateway", secret)
    });
    let env = gateway(acme_mapping(&oauth_backend(&legacy, &file, "")));

    assert_eq!(env.get("/Users?count=1").status, 200);
    assert_eq!(env.get("/Users?count=1").status, 200);
    assert_eq!(tokens.issued(), 1);
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(env.get("/Users?count=1").status, 200);

    assert_eq!(tokens.issued(), 2);
    assert_eq!(
        legacy.refused.load(Ordering::SeqCst),
        0,
        "renewed before the legacy API refused it"
    );
}

#[test]
fn client_auth_basic_sends_the_client_credentials_in_a_basic_header() {
    let secret = "a secret/with:odd&chars";
    let (_dir, file) = secret_file(secret);
    let (legacy, tokens) = serve_oauth(Tokens::new("scim gateway", secret));
    let env = gateway(acme_mapping(
        &oauth_backend(&legacy, &file, "      client_auth: basic\n")
            .replace("client_id: scim-gateway", "client_id: scim gateway"),
    ));

    assert_eq!(env.get("/Users?count=1").status, 200);

    assert_eq!(*tokens.client_auth.lock().unwrap(), vec!["basic"]);
}

#[test]
fn a_wrong_client_secret_is_a_clear_scim_error_and_the_api_is_not_called() {
    logs::capture();
    let secret = format!("wrong-{}", uuid::Uuid::new_v4().simple());
    let (_dir, file) = secret_file(&secret);
    let (legacy, tokens) = serve_oauth(Tokens::new("scim-gateway", "the-right-one"));
    let env = gateway(acme_mapping(&oauth_backend(&legacy, &file, "")));

    let answer = env.get("/Users?count=1");

    assert_eq!(answer.status, 502, "{:?}", answer.body);
    assert_eq!(
        answer.body["detail"],
        "the legacy API's token endpoint refused the gateway's client credentials \
         (invalid_client)"
    );
    assert_eq!(tokens.issued(), 0);
    assert_eq!(
        legacy.targets(),
        vec!["/oauth/token"],
        "only the token endpoint"
    );
    assert_eq!(token_fetches(&env, "refused"), 1.0);
    assert_eq!(token_fetches(&env, "fetched"), 0.0);
    let logged = logs::lines();
    assert!(
        logged.iter().any(|l| l
            .to_string()
            .contains("refused the gateway's client credentials")
            && l.to_string().contains("check backend.auth.oauth2")),
        "the log says what to check"
    );
    assert_nowhere(&env, &[&secret]);
}

#[test]
fn a_failing_token_endpoint_is_a_503_and_the_next_call_tries_again() {
    let (_dir, file) = secret_file("s");
    let (legacy, tokens) = serve_oauth(Tokens::new("scim-gateway", "s"));
    *tokens.failing.lock().unwrap() = Some(500);
    let env = gateway(acme_mapping(&oauth_backend(&legacy, &file, "")));

    let answer = env.get("/Users?count=1");
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap()
            .contains("token endpoint is unavailable"),
        "{:?}",
        answer.body
    );

    assert_eq!(token_fetches(&env, "failed"), 1.0);

    *tokens.failing.lock().unwrap() = None;
    assert_eq!(env.get("/Users?count=1").status, 200);
    assert_eq!(tokens.issued(), 1);
    assert_eq!(token_fetches(&env, "fetched"), 1.0);
    assert_eq!(token_fetches(&env, "failed"), 1.0);
}

#[test]
fn an_unreachable_token_endpoint_is_a_503() {
    let (_dir, file) = secret_file("s");
    let (legacy, _tokens) = serve_oauth(Tokens::new("scim-gateway", "s"));
    let nowhere = free_loopback_addr().unwrap();
    let env = gateway(acme_mapping(&oauth_backend(&legacy, &file, "").replace(
        "token_url: /oauth/token",
        &format!("token_url: http://{nowhere}/oauth/token"),
    )));

    let answer = env.get("/Users?count=1");

    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert!(legacy.targets().is_empty());
}

// --- secrets at start-up ----------------------------------------------------------------------

#[test]
fn a_missing_secret_stops_start_up_naming_it_not_its_value() {
    use scim_gateway::config::Config;
    use scim_gateway::server::gateway::Gateway;

    let var = "SCIM_GATEWAY_TEST_LEGACY_AUTH_SURELY_UNSET";
    let cases = [
        format!("  base_url: http://127.0.0.1:9\n  auth:\n    basic: {{ username: svc, password_from_env: {var} }}\n"),
        format!("  base_url: http://127.0.0.1:9\n  auth:\n    query: api_key\n    from_env: {var}\n"),
        format!("  base_url: http://127.0.0.1:9\n  auth:\n    oauth2: {{ token_url: /t, client_id: c, client_secret_from_env: {var} }}\n"),
        "  base_url: http://127.0.0.1:9\n  auth:\n    oauth2: { token_url: /t, client_id: c, client_secret_from_file: /nonexistent/secret }\n".to_string(),
    ];
    for backend in cases {
        let error = match Gateway::new(Config::default(), acme_mapping(&backend)) {
            Ok(_) => panic!("starts without its secret: {backend}"),
            Err(e) => e.to_string(),
        };
        assert!(
            error.contains(var) || error.contains("/nonexistent/secret"),
            "{error}"
        );
        assert!(
            error.contains("is not set") || error.contains("cannot be read"),
            "{error}"
        );
    }
}

#[test]
fn a_reload_reads_the_secrets_again_and_a_missing_one_keeps_the_running_generation() {
    let (_dir, file) = secret_file("first");
    let legacy = serve(Check::Header(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("svc:first")
    )));
    let backend = format!(
        "  base_url: {}\n  auth:\n    basic: {{ username: svc, password_from_file: {} }}\n",
        legacy.url,
        file.display()
    );
    let env = gateway(acme_mapping(&backend));
    assert_eq!(env.get("/Users?count=1").status, 200);

    std::fs::remove_file(&file).unwrap();
    let current = env.live.current();
    let error = match current.reloaded(current.config.clone(), acme_mapping(&backend)) {
        Ok(_) => panic!("a reload without its secret file is accepted"),
        Err(e) => e.to_string(),
    };
    assert!(error.contains(&file.display().to_string()), "{error}");
    assert!(error.contains("cannot be read"), "{error}");
    assert_eq!(
        env.get("/Users?count=1").status,
        200,
        "the running one goes on"
    );

    std::fs::write(&file, "second\n").unwrap();
    assert!(current
        .reloaded(current.config.clone(), acme_mapping(&backend))
        .is_ok());
}

// --- a TLS client certificate -----------------------------------------------------------------

/// A test CA, a server certificate for `localhost` and a client certificate it signed, as PEM
/// files.
struct Pki {
    dir: tempfile::TempDir,
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    ca_der: Vec<u8>,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Legacy API test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&server_key, &ca)
        .unwrap();

    let client_key = rcgen::KeyPair::generate().unwrap();
    let mut client_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    client_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "scim-gateway");
    client_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let client = client_params.signed_by(&client_key, &ca).unwrap();

    let write = |name: &str, pem: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, pem).unwrap();
        path
    };
    Pki {
        ca: write("ca.pem", ca.pem()),
        server_cert: write("server.pem", server.pem()),
        server_key: write("server.key", server_key.serialize_pem()),
        client_cert: write("client.pem", client.pem()),
        client_key: write("client.key", client_key.serialize_pem()),
        ca_der: ca.der().to_vec(),
        dir,
    }
}

/// Acme HR over TLS, requiring a client certificate signed by the test CA.
fn serve_mutual_tls(pki: &Pki) -> Running {
    use pingora::listeners::tls::TlsSettings;
    use pingora::tls::{CertificateDer, RootCertStore, WebPkiClientVerifier};

    pingora::tls::install_default_crypto_provider();
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(pki.ca_der.clone())).unwrap();
    let verifier = WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .unwrap();
    let mut settings = TlsSettings::intermediate(
        pki.server_cert.to_str().unwrap(),
        pki.server_key.to_str().unwrap(),
    )
    .unwrap();
    settings.set_client_cert_verifier(verifier);

    let (front, targets, refused) = front(Check::Nothing);
    let addr = free_loopback_addr().unwrap();
    let mut service = Service::new("mtls-front".into(), HttpServer::new_app(front));
    service.add_tls_with_settings(&addr.to_string(), None, settings);
    service.threads = Some(2);
    let server = start(server_conf(0, 1), vec![Box::new(service)], &[addr]).unwrap();
    Running {
        url: format!("https://localhost:{}", addr.port()),
        targets,
        refused,
        _server: server,
    }
}

#[test]
fn a_client_certificate_is_presented_to_a_legacy_api_that_requires_one() {
    let pki = pki();
    let legacy = serve_mutual_tls(&pki);
    let env = gateway(acme_mapping(&format!(
        "  base_url: {}\n  tls:\n    ca_file: {}\n    client_cert: {}\n    client_key: {}\n",
        legacy.url,
        pki.ca.display(),
        pki.client_cert.display(),
        pki.client_key.display()
    )));

    round_trip(&env, "mtls");

    assert!(legacy.targets().len() >= 5);
    drop(pki.dir);
}

#[test]
fn without_its_client_certificate_the_handshake_is_refused() {
    let pki = pki();
    let legacy = serve_mutual_tls(&pki);
    let env = gateway(acme_mapping(&format!(
        "  base_url: {}\n  tls:\n    ca_file: {}\n",
        legacy.url,
        pki.ca.display(),
    )));

    let answer = env.get("/Users?count=1");

    assert_eq!(answer.status, 502, "{:?}", answer.body);
    assert_eq!(
        answer.body["detail"],
        "the TLS handshake with the legacy API failed"
    );
    assert!(legacy.targets().is_empty());
}

#[test]
fn a_client_key_that_is_not_the_certificate_s_stops_start_up_naming_the_file() {
    use scim_gateway::config::Config;
    use scim_gateway::server::gateway::Gateway;

    let pki = pki();
    for (cert, key, expected) in [
        (
            &pki.client_cert,
            &pki.server_key,
            "is not the key of the certificate",
        ),
        (
            &pki.client_cert,
            &pki.client_cert,
            "contains no PEM private key",
        ),
        (
            &pki.client_key,
            &pki.client_key,
            "contains no PEM certificate",
        ),
    ] {
        let backend = format!(
            "  base_url: https://127.0.0.1:9\n  tls:\n    ca_file: {}\n    client_cert: {}\n    client_key: {}\n",
            pki.ca.display(),
            cert.display(),
            key.display()
        );
        let error = match Gateway::new(Config::default(), acme_mapping(&backend)) {
            Ok(_) => panic!("starts with {cert:?} and {key:?}"),
            Err(e) => e.to_string(),
        };
        assert!(error.contains(expected), "{error}");
        assert!(
            error.contains(&pki.dir.path().display().to_string()),
            "{error}"
        );
        assert!(!error.contains("PRIVATE KEY"), "{error}");
    }
}

// --- Orbit: OAuth 2.0 client credentials as a SaaS product does it -----------------------------

/// A mapping of Orbit's users that reads them from the list (enough to see every call carry a
/// token), with `oauth2` and the client secret in `secret_file`.
fn orbit_mapping(orbit_url: &str, secret_file: &Path) -> mapping::Mapping {
    orbit_mapping_with(orbit_url, secret_file, "")
}

/// [`orbit_mapping`] with more `oauth2` keys (lines indented by 6).
fn orbit_mapping_with(orbit_url: &str, secret_file: &Path, oauth2: &str) -> mapping::Mapping {
    let yaml = format!(
        r#"name: orbit-auth
backend:
  base_url: {orbit_url}
  auth:
    oauth2:
      token_url: /oauth/token
      client_id: scim-gateway
      client_secret_from_file: {}
{oauth2}users:
  id: $.id
  id_format: {{ pattern: '^usr_[0-9a-f]{{16}}$' }}
  endpoints:
    create: {{ method: POST, path: /api/v2/users }}
    get: {{ method: GET, path: "/api/v2/users/{{id}}" }}
    update: {{ method: PATCH, path: "/api/v2/users/{{id}}", mode: partial }}
    delete: {{ method: DELETE, path: "/api/v2/users/{{id}}" }}
    list:
      method: GET
      path: /api/v2/users
      items: $.data
      total: {{ body: $.meta.total }}
      pagination: {{ style: page, page_param: "page[number]", size_param: "page[size]" }}
  on_delete: delete
  attributes:
    - {{ scim: userName, legacy: $.email, required: true }}
    - {{ scim: name.givenName, legacy: $.first_name }}
    - {{ scim: name.familyName, legacy: $.last_name }}
"#,
        secret_file.display()
    );
    mapping::load_str("orbit-auth.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"))
}

fn serve_orbit(secret: &str) -> (Orbit, String, RunningServer) {
    let orbit = Orbit::new("scim-gateway", secret);
    let addr = free_loopback_addr().unwrap();
    let server = orbit.serve(addr).unwrap();
    (orbit, format!("http://{addr}"), server)
}

#[test]
fn orbit_gets_one_token_for_many_calls_and_one_more_after_its_tokens_expire() {
    logs::capture();
    let secret = format!("orbit-{}", uuid::Uuid::new_v4().simple());
    let (_dir, file) = secret_file(&secret);
    let (orbit, url, _server) = serve_orbit(&secret);
    orbit.seed(3);
    let env = gateway(orbit_mapping(&url, &file));

    for _ in 0..5 {
        let listed = env.get("/Users?count=10");
        assert_eq!(listed.status, 200, "{:?}", listed.body);
        assert_eq!(listed.body["totalResults"], 3);
    }
    assert_eq!(orbit.tokens_issued(), 1);

    orbit.expire_tokens();
    let listed = env.get("/Users?count=10");
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(orbit.tokens_issued(), 2, "fetched again once after the 401");
    assert_eq!(env.get("/Users?count=10").status, 200);
    assert_eq!(orbit.tokens_issued(), 2);

    assert_nowhere(&env, &[&secret, "orb_at_"]);
}

#[test]
fn orbit_refusing_the_client_secret_is_a_502_saying_so() {
    logs::capture();
    let (_dir, file) = secret_file("not-orbit-s-secret");
    let (orbit, url, _server) = serve_orbit("orbit-s-secret");
    orbit.seed(1);
    let env = gateway(orbit_mapping(&url, &file));

    let answer = env.get("/Users?count=10");

    assert_eq!(answer.status, 502, "{:?}", answer.body);
    assert_eq!(
        answer.body["detail"],
        "the legacy API's token endpoint refused the gateway's client credentials \
         (invalid_client)"
    );
    assert_eq!(orbit.tokens_issued(), 0);
    assert_nowhere(&env, &["not-orbit-s-secret"]);
}

#[test]
fn orbit_grants_the_scope_asked_to_a_client_authenticated_with_basic() {
    let secret = format!("orbit-{}", uuid::Uuid::new_v4().simple());
    let (_dir, file) = secret_file(&secret);
    let (orbit, url, _server) = serve_orbit(&secret);
    orbit.seed(2);
    let env = gateway(orbit_mapping_with(
        &url,
        &file,
        "      scope: \"users teams\"\n      client_auth: basic\n",
    ));

    let listed = env.get("/Users?count=10");

    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["totalResults"], 2);
    assert_eq!(
        orbit.token_grants(),
        vec![TokenGrant {
            client_auth: ClientAuth::Basic,
            scope: Some("users teams".into()),
        }]
    );
}
