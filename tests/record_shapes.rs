//! Records in the shapes real legacy APIs give them, over real sockets: answers and request
//! bodies wrapped in an envelope (`{"data": {…}}`, `{"user": {…}}`, list items `{"user": {…}}`),
//! a create answered 200, or 201/204 with no body and the id only in `Location`, an update
//! answered 204, a `get` answering 403 for an id it does not know, and writes answered success
//! for ids that do not exist. The legacy API is "Ledger", a small users API written here that
//! answers each way on demand and records what the gateway sent it.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::TOKEN;
use http::{header, HeaderValue, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use scim_gateway::config::Config;
use scim_gateway::mapping;
use scim_gateway::server::app::ScimApp;
use scim_gateway::server::auth::token_digest_hex;
use scim_gateway::server::gateway::Gateway;
use scim_gateway_hosting::{free_loopback_addr, http_service, server_conf, start, RunningServer};
use serde_json::{json, Value};

/// The mapping of Ledger: records in envelopes both ways, attribute paths relative to them.
const MAPPING: &str = r#"
name: ledger
backend:
  base_url: http://127.0.0.1:1
users:
  envelope: { answer: data, body: user, item: user }
  id: $.id
  id_format: { pattern: '^u[0-9]+$' }
  endpoints:
    create: { method: POST, path: /api/users }
    get:
      method: GET
      path: "/api/users/{id}"
      errors:
        - { status: 403, scim_status: 404 }
    update:
      method: PATCH
      path: "/api/users/{id}"
      mode: partial
      exists: read_first
      errors:
        - { status: 403, scim_status: 403, detail: "Ledger refuses changes to this user" }
    delete: { method: DELETE, path: "/api/users/{id}", exists: read_first }
    list:
      method: GET
      path: /api/users
      items: $.items
      total: { body: $.total }
      pagination: { style: page, page_param: page, size_param: per_page }
  on_delete: delete
  attributes:
    - { scim: userName, legacy: $.email, required: true }
    - { scim: name.givenName, legacy: $.first_name }
    - { scim: name.familyName, legacy: $.last_name }
    - scim: active
      legacy: $.status
      values:
        - { scim: true, legacy: active }
        - { scim: false, legacy: suspended }
  filters:
    - { scim: userName, op: eq, param: email }
groups:
  envelope: { answer: data, body: team, item: team }
  id: $.id
  id_format: { pattern: '^t[0-9]+$' }
  endpoints:
    create: { method: POST, path: /api/teams }
    get:
      method: GET
      path: "/api/teams/{id}"
      errors:
        - { status: 403, scim_status: 404 }
    update: { method: PATCH, path: "/api/teams/{id}" }
    delete: { method: DELETE, path: "/api/teams/{id}", exists: read_first }
    list: { method: GET, path: /api/teams, items: $.items, total: { body: $.total }, pagination: { style: page, page_param: page, size_param: per_page } }
  attributes:
    - { scim: displayName, legacy: $.name, required: true }
  membership:
    endpoints:
      add: { method: POST, path: "/api/teams/{id}/members/{member}" }
      remove: { method: DELETE, path: "/api/teams/{id}/members/{member}" }
      list: { method: GET, path: "/api/teams/{id}/members", items: $.data, member: $.id, pagination: { style: none } }
"#;

/// How Ledger answers a create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CreateAnswer {
    /// 200 `{"data": {…}}`.
    Data200,
    /// 201, no body, `Location: /api/users/<id>`.
    Location201,
    /// 204, no body, `Location: http://<host>/api/users/<id>`.
    Location204,
    /// 200 `{"data": {"id": <id>, "message": "success"}}`: the id, not the record.
    IdOnly200,
    /// 201, no body, no `Location`.
    Bare201,
}

#[derive(Debug)]
struct State {
    users: BTreeMap<String, Value>,
    teams: BTreeMap<String, Value>,
    next: u64,
    create: CreateAnswer,
    /// Every request: method, path and query, body (Null when none).
    requests: Vec<(String, String, Value)>,
    /// The `X-App-Id` and `Accept` headers of every request, with its method and target.
    headers: Vec<(String, String, Option<String>, Option<String>)>,
    /// A user's DELETE keeps the record with `status: removed` (a soft delete), which still
    /// reads and lists, and refuses changes with 409.
    soft_delete: bool,
}

/// The legacy API: `/api/users` answering `{"data": {…}}`, read by id (403 for an unknown id),
/// changed with PATCH `{"user": {…}}` answered 204 (also for an unknown id: nothing changes),
/// deleted with 204 (unknown too), listed as `{"items": [{"user": {…}}…], "total": n}`. A user
/// whose `locked` is true refuses changes with 403.
#[derive(Clone)]
struct Ledger(Arc<Mutex<State>>);

impl Ledger {
    fn new() -> Ledger {
        Ledger(Arc::new(Mutex::new(State {
            users: BTreeMap::new(),
            teams: BTreeMap::new(),
            next: 1,
            create: CreateAnswer::Data200,
            requests: Vec::new(),
            headers: Vec::new(),
            soft_delete: false,
        })))
    }

    fn answer_creates(&self, how: CreateAnswer) {
        self.0.lock().unwrap().create = how;
    }

    fn soft_deletes(&self) {
        self.0.lock().unwrap().soft_delete = true;
    }

    fn insert(&self, mut record: Value) -> String {
        let mut s = self.0.lock().unwrap();
        let id = format!("u{}", s.next);
        s.next += 1;
        record["id"] = json!(id);
        s.users.insert(id.clone(), record);
        id
    }

    fn user(&self, id: &str) -> Option<Value> {
        self.0.lock().unwrap().users.get(id).cloned()
    }

    fn user_count(&self) -> usize {
        self.0.lock().unwrap().users.len()
    }

    /// The requests received since the last call, as "METHOD target".
    fn take_requests(&self) -> Vec<(String, String, Value)> {
        std::mem::take(&mut self.0.lock().unwrap().requests)
    }

    fn handle(&self, method: &str, target: &str, body: Value) -> Response<Vec<u8>> {
        let mut s = self.0.lock().unwrap();
        s.requests
            .push((method.to_string(), target.to_string(), body.clone()));
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            ("POST", ["api", "users"]) => {
                let Some(fields) = body.get("user").and_then(Value::as_object).cloned() else {
                    return json_response(422, &json!({"errors": [{"code": "no_user"}]}));
                };
                // GitLab-style refusals: a message that is an object of field errors, or an
                // `error` string.
                match fields.get("email").and_then(Value::as_str) {
                    Some(e) if e.starts_with("taken@") => {
                        let message = json!({"email": ["has already been taken"]});
                        return json_response(422, &json!({ "message": message }));
                    }
                    Some(e) if e.starts_with("blocked@") => {
                        return json_response(400, &json!({"error": "blocked address"}));
                    }
                    _ => {}
                }
                let id = format!("u{}", s.next);
                s.next += 1;
                let mut record = Value::Object(fields);
                record["id"] = json!(id);
                if record.get("status").is_none() {
                    record["status"] = json!("active");
                }
                s.users.insert(id.clone(), record.clone());
                match s.create {
                    CreateAnswer::Data200 => json_response(200, &json!({"data": record})),
                    CreateAnswer::Location201 => {
                        with_location(empty(201), &format!("/api/users/{id}"))
                    }
                    CreateAnswer::Location204 => {
                        with_location(empty(204), &format!("http://ledger.example/api/users/{id}"))
                    }
                    CreateAnswer::Bare201 => empty(201),
                    CreateAnswer::IdOnly200 => {
                        json_response(200, &json!({"data": {"id": id, "message": "success"}}))
                    }
                }
            }
            ("GET", ["api", "users"]) => {
                let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect();
                let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v);
                let page: usize = param("page").and_then(|v| v.parse().ok()).unwrap_or(1);
                let size: usize = param("per_page").and_then(|v| v.parse().ok()).unwrap_or(50);
                let matching: Vec<&Value> = s
                    .users
                    .values()
                    .filter(|u| param("email").is_none_or(|e| u["email"] == json!(e)))
                    .collect();
                if let Some(limit) = param("limit").and_then(|v| v.parse::<usize>().ok()) {
                    // Zendesk-style cursor pages: a cursor on every page, the last one too,
                    // and `has_more` saying whether another follows.
                    let after = param("after");
                    let rest: Vec<&&Value> = matching
                        .iter()
                        .filter(|u| after.is_none_or(|a| u["id"].as_str() > Some(a.as_str())))
                        .collect();
                    let page: Vec<Value> = rest
                        .iter()
                        .take(limit)
                        .map(|u| json!({"user": u}))
                        .collect();
                    let cursor = page
                        .last()
                        .map_or(json!(after), |u| u["user"]["id"].clone());
                    let meta = json!({"after_cursor": cursor, "has_more": rest.len() > limit});
                    return json_response(200, &json!({"items": page, "meta": meta}));
                }
                let items: Vec<Value> = matching
                    .iter()
                    .skip((page.max(1) - 1) * size)
                    .take(size)
                    .map(|u| json!({"user": u}))
                    .collect();
                json_response(200, &json!({"items": items, "total": matching.len()}))
            }
            ("GET", ["api", "users", id]) => match s.users.get(*id) {
                Some(u) => json_response(200, &json!({"data": u})),
                None => forbidden(),
            },
            ("PATCH", ["api", "users", id]) => {
                let Some(u) = s.users.get_mut(*id) else {
                    return empty(204);
                };
                if u["locked"] == json!(true) {
                    return forbidden();
                }
                if let Some(fields) = body.get("user").and_then(Value::as_object) {
                    for (k, v) in fields {
                        u[k] = v.clone();
                    }
                }
                empty(204)
            }
            ("DELETE", ["api", "users", id]) => {
                if s.soft_delete {
                    if let Some(u) = s.users.get_mut(*id) {
                        u["status"] = json!("removed");
                    }
                } else {
                    s.users.remove(*id);
                }
                empty(204)
            }
            // Teams: created 201 with the id only in Location, read `{"data": {…}}` (403 for
            // an unknown id), deleted 204 (unknown too), without members.
            ("POST", ["api", "teams"]) => {
                let Some(name) = body.pointer("/team/name").cloned() else {
                    return json_response(422, &json!({"errors": [{"code": "no_team"}]}));
                };
                let id = format!("t{}", s.next);
                s.next += 1;
                s.teams.insert(id.clone(), json!({"id": id, "name": name}));
                with_location(empty(201), &format!("/api/teams/{id}"))
            }
            ("GET", ["api", "teams"]) => {
                let items: Vec<Value> = s.teams.values().map(|t| json!({"team": t})).collect();
                json_response(200, &json!({"total": items.len(), "items": items}))
            }
            ("GET", ["api", "teams", id]) => match s.teams.get(*id) {
                Some(t) => json_response(200, &json!({"data": t})),
                None => forbidden(),
            },
            ("GET", ["api", "teams", _, "members"]) => json_response(200, &json!({"data": []})),
            ("DELETE", ["api", "teams", id]) => {
                s.teams.remove(*id);
                empty(204)
            }
            _ => json_response(404, &json!({"errors": [{"code": "no_route"}]})),
        }
    }
}

fn json_response(status: u16, body: &Value) -> Response<Vec<u8>> {
    let bytes = serde_json::to_vec(body).unwrap();
    let len = bytes.len();
    let mut resp = Response::new(bytes);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    resp
}

fn empty(status: u16) -> Response<Vec<u8>> {
    let mut resp = Response::new(Vec::new());
    *resp.status_mut() = StatusCode::from_u16(status).unwrap();
    resp.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
    resp
}

fn with_location(mut resp: Response<Vec<u8>>, location: &str) -> Response<Vec<u8>> {
    resp.headers_mut()
        .insert(header::LOCATION, HeaderValue::from_str(location).unwrap());
    resp
}

fn forbidden() -> Response<Vec<u8>> {
    json_response(
        403,
        &json!({"errors": [{"status": "403", "code": "forbidden", "title": "Forbidden"}]}),
    )
}

#[async_trait]
impl ServeHttp for Ledger {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let head = session.req_header();
        let method = head.method.to_string();
        let target = head
            .uri
            .path_and_query()
            .map_or_else(|| head.uri.path().to_string(), |pq| pq.as_str().to_string());
        let mut bytes = Vec::new();
        while let Ok(Some(chunk)) = session.read_request_body().await {
            bytes.extend_from_slice(&chunk);
        }
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let seen = |name: &str| {
            let head = session.req_header();
            head.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let (app, accept) = (seen("x-app-id"), seen("accept"));
        self.0
            .lock()
            .unwrap()
            .headers
            .push((method.clone(), target.clone(), app, accept));
        self.handle(&method, &target, body)
    }
}

/// A gateway in front of a [`Ledger`], with the mapping [`MAPPING`] changed by `edit`.
struct Bench {
    ledger: Ledger,
    base: String,
    agent: ureq::Agent,
    _servers: (RunningServer, RunningServer),
}

#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
}

/// A gateway with the mapping `yaml` in front of the legacy API at `backend`: its SCIM base URL
/// and its server. (The harness of `tests/common` serves the example APIs, not Ledger.)
fn gateway(yaml: &str, backend: SocketAddr) -> (String, RunningServer) {
    let mut mapping = mapping::load_str("mappings/test.yaml", yaml).unwrap();
    mapping.backend.base_url = format!("http://{backend}");
    let mut config = Config::default();
    config.auth.token_sha256 = vec![token_digest_hex(TOKEN)];
    let gateway = Arc::new(Gateway::new(config, mapping).unwrap());
    let addr = free_loopback_addr().unwrap();
    let server = start(
        server_conf(0, 1),
        vec![http_service("scim", addr, 2, ScimApp::new(gateway))],
        &[addr],
    )
    .unwrap();
    (format!("http://{addr}/scim/v2"), server)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// A SCIM call over `agent` to the gateway at `base`.
fn scim(agent: &ureq::Agent, base: &str, method: &str, path: &str, body: Option<&Value>) -> Answer {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("Authorization", format!("Bearer {TOKEN}"));
    let bytes = match body {
        Some(b) => {
            request = request.header("Content-Type", "application/scim+json");
            serde_json::to_vec(b).unwrap()
        }
        None => Vec::new(),
    };
    let response = agent
        .run(request.body(bytes).unwrap())
        .expect("the gateway answers");
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap_or_default();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

impl Bench {
    fn start(edit: impl FnOnce(String) -> String) -> Bench {
        let ledger = Ledger::new();
        let backend_addr = free_loopback_addr().unwrap();
        let backend = start(
            server_conf(0, 1),
            vec![http_service("ledger", backend_addr, 1, ledger.clone())],
            &[backend_addr],
        )
        .unwrap();
        let (base, server) = gateway(&edit(MAPPING.to_string()), backend_addr);
        Bench {
            ledger,
            base,
            agent: agent(),
            _servers: (backend, server),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Answer {
        scim(&self.agent, &self.base, method, path, body)
    }
}

impl Bench {
    /// The calls Ledger received since the last look, as "METHOD path" (query left out).
    fn calls(&self) -> Vec<String> {
        self.ledger
            .take_requests()
            .into_iter()
            .map(|(m, t, _)| format!("{m} {}", t.split('?').next().unwrap_or(&t)))
            .collect()
    }
}

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "active": true
    })
}

fn rename(family: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "name.familyName", "value": family}]
    })
}

#[test]
fn a_create_answered_200_in_an_envelope_is_a_201_with_the_record_and_sent_wrapped() {
    let b = Bench::start(|m| m);
    let created = b.call("POST", "/Users", Some(&user("ada@example.com")));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["userName"], "ada@example.com");
    assert_eq!(created.body["name"]["familyName"], "Lovelace");
    assert_eq!(created.body["active"], true);
    // The body went wrapped in `user`, with the record's own field names inside.
    let sent = b.ledger.take_requests();
    let (_, _, body) = sent
        .iter()
        .find(|(m, t, _)| m == "POST" && t == "/api/users")
        .expect("the create was sent");
    assert_eq!(body["user"]["email"], "ada@example.com");
    assert_eq!(body["user"]["last_name"], "Lovelace");
    assert!(body.get("email").is_none(), "{body}");
    assert_eq!(b.ledger.user(&id).unwrap()["first_name"], "Ada");

    // Read back through the envelope of the get, and found in a list of wrapped items.
    let got = b.call("GET", &format!("/Users/{id}"), None);
    assert_eq!(got.status, 200, "{:?}", got.body);
    assert_eq!(got.body["userName"], "ada@example.com");
    let listed = b.call(
        "GET",
        "/Users?filter=userName%20eq%20%22ada@example.com%22",
        None,
    );
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["totalResults"], 1);
    assert_eq!(listed.body["Resources"][0]["id"], json!(id));
}

#[test]
fn a_create_answered_without_the_record_is_read_by_the_id_in_its_location_or_body() {
    let b = Bench::start(|m| m);
    for (how, name) in [
        (CreateAnswer::Location201, "grace@example.com"),
        (CreateAnswer::Location204, "edsger@example.com"),
        (CreateAnswer::IdOnly200, "frances@example.com"),
    ] {
        b.ledger.answer_creates(how);
        b.calls();
        let created = b.call("POST", "/Users", Some(&user(name)));
        assert_eq!(created.status, 201, "{how:?}: {:?}", created.body);
        let id = created.body["id"].as_str().unwrap().to_string();
        assert_eq!(created.body["userName"], name, "{how:?}");
        assert_eq!(created.body["name"]["givenName"], "Ada", "{how:?}");
        assert!(b.ledger.user(&id).is_some(), "{how:?}");
        // The record was read by the id the Location (or the body) named.
        let calls = b.calls();
        let after_create = calls
            .iter()
            .skip_while(|c| c.as_str() != "POST /api/users")
            .skip(1)
            .cloned()
            .collect::<Vec<_>>();
        assert_eq!(after_create, [format!("GET /api/users/{id}")], "{how:?}");
    }
}

#[test]
fn a_create_answered_with_neither_record_nor_location_is_undone() {
    let b = Bench::start(|m| m);
    b.ledger.answer_creates(CreateAnswer::Bare201);
    let created = b.call("POST", "/Users", Some(&user("barbara@example.com")));
    assert_eq!(created.status, 502, "{:?}", created.body);
    let detail = created.body["detail"].as_str().unwrap();
    assert!(
        detail.contains(
            "holds no record under \"data\" (the mapping's envelope) and no Location header"
        ) && detail.contains("was deleted again"),
        "{detail}"
    );
    // Found by its userName and deleted: the IdP's retry creates it afresh.
    assert_eq!(b.ledger.user_count(), 0);
    b.ledger.answer_creates(CreateAnswer::Data200);
    let again = b.call("POST", "/Users", Some(&user("barbara@example.com")));
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(b.ledger.user_count(), 1);
}

#[test]
fn an_update_answered_204_is_read_again_by_default() {
    let b = Bench::start(|m| m);
    let id = b.ledger.insert(json!({"email": "alan@example.com", "first_name": "Alan", "last_name": "T", "status": "active"}));
    b.calls();
    let patched = b.call("PATCH", &format!("/Users/{id}"), Some(&rename("Turing")));
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["name"]["familyName"], "Turing");
    assert_eq!(b.ledger.user(&id).unwrap()["last_name"], "Turing");
    let calls = b.calls();
    assert_eq!(
        calls,
        [
            format!("GET /api/users/{id}"),
            format!("PATCH /api/users/{id}"),
            format!("GET /api/users/{id}"),
        ]
    );
}

#[test]
fn an_update_answered_204_is_taken_as_written_when_the_mapping_says_so() {
    let b = Bench::start(|m| {
        m.replace(
            "      exists: read_first\n",
            "      after_empty_answer: as_written\n",
        )
    });
    let id = b.ledger.insert(json!({"email": "alan@example.com", "first_name": "Alan", "last_name": "T", "status": "active"}));
    b.ledger.take_requests();
    let patched = b.call("PATCH", &format!("/Users/{id}"), Some(&rename("Turing")));
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["name"]["familyName"], "Turing");
    assert_eq!(patched.body["userName"], "alan@example.com");
    let sent = b.ledger.take_requests();
    let methods: Vec<&str> = sent.iter().map(|(m, _, _)| m.as_str()).collect();
    assert_eq!(methods, ["GET", "PATCH"], "no read after the write");
    assert_eq!(sent[1].2, json!({"user": {"last_name": "Turing"}}));
}

#[test]
fn a_get_answered_403_for_an_unknown_id_is_no_such_user_everywhere() {
    let b = Bench::start(|m| m);
    let gone = "u999";
    let got = b.call("GET", &format!("/Users/{gone}"), None);
    assert_eq!(got.status, 404, "{:?}", got.body);
    assert_eq!(
        got.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    // The writes read first: 404, and nothing is written (Ledger would answer them 204).
    let patched = b.call("PATCH", &format!("/Users/{gone}"), Some(&rename("X")));
    assert_eq!(patched.status, 404, "{:?}", patched.body);
    let put = b.call(
        "PUT",
        &format!("/Users/{gone}"),
        Some(&user("x@example.com")),
    );
    assert_eq!(put.status, 404, "{:?}", put.body);
    let deleted = b.call("DELETE", &format!("/Users/{gone}"), None);
    assert_eq!(deleted.status, 404, "{:?}", deleted.body);
    let calls = b.calls();
    assert!(
        calls.iter().all(|c| c.starts_with("GET ")),
        "only reads were sent: {calls:?}"
    );
    assert!(!calls.is_empty());
}

#[test]
fn an_update_answered_403_stays_a_refusal() {
    let b = Bench::start(|m| m);
    let id = b.ledger.insert(
        json!({"email": "kurt@example.com", "last_name": "G", "status": "active", "locked": true}),
    );
    let patched = b.call("PATCH", &format!("/Users/{id}"), Some(&rename("Gödel")));
    assert_eq!(patched.status, 403, "{:?}", patched.body);
    assert_eq!(
        patched.body["detail"],
        "Ledger refuses changes to this user"
    );
    assert_eq!(b.ledger.user(&id).unwrap()["last_name"], "G");
}

#[test]
fn without_an_existence_check_a_delete_of_an_unknown_id_is_believed() {
    // Ledger answers 204 to a DELETE of any id: without `exists: read_first`, the gateway has
    // only its word (the id has the mapping's form, so it is sent as is).
    let b = Bench::start(|m| {
        m.replace(
            "delete: { method: DELETE, path: \"/api/users/{id}\", exists: read_first }",
            "delete: { method: DELETE, path: \"/api/users/{id}\" }",
        )
    });
    let deleted = b.call("DELETE", "/Users/u999", None);
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    assert_eq!(b.calls(), ["DELETE /api/users/u999"]);

    // With it, a user that exists is read, then deleted.
    let b = Bench::start(|m| m);
    let id = b
        .ledger
        .insert(json!({"email": "ada@example.com", "status": "active"}));
    let deleted = b.call("DELETE", &format!("/Users/{id}"), None);
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    assert_eq!(
        b.calls(),
        [
            format!("GET /api/users/{id}"),
            format!("DELETE /api/users/{id}")
        ]
    );
    assert_eq!(b.ledger.user_count(), 0);
}

#[test]
fn list_items_are_read_inside_their_envelope_and_a_bare_item_is_a_502() {
    let b = Bench::start(|m| m);
    for i in 0..3 {
        b.ledger
            .insert(json!({"email": format!("user{i}@example.com"), "status": "active"}));
    }
    let listed = b.call("GET", "/Users?startIndex=1&count=2", None);
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["totalResults"], 3);
    assert_eq!(listed.body["Resources"].as_array().unwrap().len(), 2);
    assert_eq!(listed.body["Resources"][0]["userName"], "user0@example.com");

    // A mapping that says items are wrapped in `account`: Ledger's are not, and the gateway
    // says so rather than list users without ids.
    let b = Bench::start(|m| m.replace("item: user }", "item: account }"));
    b.ledger
        .insert(json!({"email": "ada@example.com", "status": "active"}));
    let listed = b.call("GET", "/Users", None);
    assert_eq!(listed.status, 502, "{:?}", listed.body);
    let detail = listed.body["detail"].as_str().unwrap();
    assert!(detail.contains("no object under \"account\""), "{detail}");
}

#[test]
fn static_headers_go_with_every_legacy_call_and_an_endpoints_own_win() {
    let b = Bench::start(|m| {
        m.replace(
            "  base_url: http://127.0.0.1:1\n",
            "  base_url: http://127.0.0.1:1\n  headers: { X-App-Id: scim-7, Accept: application/vnd.ledger+json }\n",
        )
        .replace(
            "      path: \"/api/users/{id}\"\n      errors:",
            "      path: \"/api/users/{id}\"\n      headers: { accept: application/json }\n      errors:",
        )
    });
    let created = b.call("POST", "/Users", Some(&user("ada@example.com")));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(b.call("GET", &format!("/Users/{id}"), None).status, 200);
    assert_eq!(b.call("GET", "/Users", None).status, 200);
    let seen = std::mem::take(&mut b.ledger.0.lock().unwrap().headers);
    let app = Some("scim-7".to_string());
    let vendor = Some("application/vnd.ledger+json".to_string());
    let json = Some("application/json".to_string());
    let create = seen.iter().find(|(m, _, _, _)| m == "POST").unwrap();
    assert_eq!((&create.2, &create.3), (&app, &vendor), "{seen:?}");
    let get = seen
        .iter()
        .find(|(m, t, _, _)| m == "GET" && *t == format!("/api/users/{id}"))
        .unwrap();
    assert_eq!((&get.2, &get.3), (&app, &json), "{seen:?}");
    let list = seen
        .iter()
        .find(|(m, t, _, _)| m == "GET" && t.starts_with("/api/users?"))
        .unwrap();
    assert_eq!((&list.2, &list.3), (&app, &vendor), "{seen:?}");
}

/// The list of [`MAPPING`] paged by cursor, ending where `has_more` is false.
fn cursor_paged(mapping: String, more: &str) -> String {
    mapping.replace(
        "      pagination: { style: page, page_param: page, size_param: per_page }\n  on_delete",
        &format!(
            "      pagination:\n        style: cursor\n        cursor_param: after\n        \
             size_param: limit\n        max_page_size: 2\n        \
             next: {{ cursor: $.meta.after_cursor{more} }}\n  on_delete"
        ),
    )
}

#[test]
fn a_cursor_list_ends_where_its_more_flag_says_although_a_cursor_is_given() {
    let b = Bench::start(|m| cursor_paged(m, ", more: $.meta.has_more"));
    for i in 1..=5 {
        b.ledger
            .insert(json!({"email": format!("user{i}@example.com"), "status": "active"}));
    }
    b.calls();
    let listed = b.call("GET", "/Users", None);
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    assert_eq!(listed.body["totalResults"], 5);
    let names: Vec<&str> = listed.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert_eq!(names[4], "user5@example.com");
    // Pages of 2, 2 and 1 (walked once to count, once to cut SCIM's page): the third says
    // has_more: false and is the last one asked for, its cursor u5 never sent.
    let lists = b.ledger.take_requests();
    let targets: Vec<&str> = lists.iter().map(|(_, t, _)| t.as_str()).collect();
    let walk = [
        "/api/users?limit=2",
        "/api/users?limit=2&after=u2",
        "/api/users?limit=2&after=u4",
    ];
    assert!(targets.chunks(3).all(|w| w == walk), "{targets:?}");

    // Without the flag the gateway follows the last page's cursor too, to an empty page.
    let b = Bench::start(|m| cursor_paged(m, ""));
    for i in 1..=5 {
        b.ledger
            .insert(json!({"email": format!("user{i}@example.com"), "status": "active"}));
    }
    b.calls();
    let listed = b.call("GET", "/Users", None);
    assert_eq!(listed.body["totalResults"], 5);
    let lists = b.ledger.take_requests();
    assert!(
        lists
            .iter()
            .any(|(_, t, _)| t == "/api/users?limit=2&after=u5"),
        "{lists:?}"
    );
}

#[test]
fn an_error_message_is_read_from_the_first_path_that_has_one() {
    let b = Bench::start(|m| {
        m.replace(
            "  filters:\n",
            "  errors: { message: [$.message, $.error] }\n  filters:\n",
        )
    });
    let refused = b.call("POST", "/Users", Some(&user("taken@example.com")));
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(refused.body["scimType"], "invalidValue");
    assert_eq!(
        refused.body["detail"],
        "legacy API: email: has already been taken"
    );
    let refused = b.call("POST", "/Users", Some(&user("blocked@example.com")));
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(refused.body["detail"], "legacy API: blocked address");
}

#[test]
fn a_group_created_201_with_a_location_is_read_and_an_unknown_one_is_never_deleted() {
    let b = Bench::start(|m| m);
    let created = b.call(
        "POST",
        "/Groups",
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Ops"})),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["displayName"], "Ops");
    let sent = b.ledger.take_requests();
    let create = sent
        .iter()
        .find(|(m, t, _)| m == "POST" && t == "/api/teams")
        .expect("the create was sent");
    assert_eq!(create.2, json!({"team": {"name": "Ops"}}));
    assert!(
        sent.iter()
            .any(|(m, t, _)| m == "GET" && *t == format!("/api/teams/{id}")),
        "read by the Location's id: {sent:?}"
    );
    let listed = b.call("GET", "/Groups?excludedAttributes=members", None);
    assert_eq!(listed.body["totalResults"], 1, "{:?}", listed.body);
    assert_eq!(listed.body["Resources"][0]["displayName"], "Ops");

    assert_eq!(b.call("GET", "/Groups/t99", None).status, 404);
    assert_eq!(b.call("DELETE", "/Groups/t99", None).status, 404);
    assert!(
        !b.calls().iter().any(|c| c.starts_with("DELETE")),
        "nothing deleted"
    );
    assert_eq!(b.call("DELETE", &format!("/Groups/{id}"), None).status, 204);
    assert_eq!(b.call("GET", &format!("/Groups/{id}"), None).status, 404);
}

// --- Orbit ----------------------------------------------------------------------------------

/// Orbit's users, as a mapping for it says them: records in `{"data"}` answers and `{"user"}`
/// bodies, a 403 from `get` for an id it does not know, writes it answers 204 checked first.
const ORBIT: &str = r#"
name: orbit
backend:
  base_url: http://127.0.0.1:1
users:
  envelope: { answer: data, body: user }
  id: $.id
  id_format: { pattern: '^usr_[0-9a-f]{16}$' }
  created: $.created_at
  last_modified: $.updated_at
  endpoints:
    create: { method: POST, path: /api/v2/users }
    get:
      method: GET
      path: "/api/v2/users/{id}"
      errors:
        - { status: 403, scim_status: 404 }
    update: { method: PATCH, path: "/api/v2/users/{id}", mode: partial, exists: read_first }
    delete: { method: DELETE, path: "/api/v2/users/{id}", exists: read_first }
    list:
      method: GET
      path: /api/v2/users
      items: $.data
      total: { body: $.meta.total }
      pagination: { style: page, page_param: "page[number]", size_param: "page[size]", first_page: 1, max_page_size: 50 }
      carries: [userName, name]
  on_delete: delete
  attributes:
    - { scim: userName, legacy: $.email, required: true }
    - { scim: name.givenName, legacy: $.first_name }
    - { scim: name.familyName, legacy: $.last_name }
    - { scim: title, legacy: $.title }
    - scim: active
      legacy: $.status
      values:
        - { scim: true, legacy: active }
        - { scim: false, legacy: suspended }
  filters:
    - { scim: userName, op: eq, param: "filter[email]" }
"#;

/// Orbit with a gateway in front of it, the mapping `yaml` in place of the shipped one.
fn orbit(yaml: &str) -> common::Env {
    with_mapping(common::Legacy::Orbit, yaml)
}

#[test]
fn orbit_provisions_a_user_through_its_envelopes_200_creates_and_204_updates() {
    use scim_gateway_example_apis::orbit::{USER, USERS};
    let b = orbit(ORBIT);
    let mut ada = user("ada@example.com");
    ada["title"] = json!("Analyst");
    let created = b.call("POST", "/Users", Some(&ada));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("usr_"), "{id}");
    assert_eq!(created.body["userName"], "ada@example.com");
    assert_eq!(created.body["title"], "Analyst");
    assert!(
        created.body["meta"]["created"].is_string(),
        "{:?}",
        created.body
    );
    let sent = b.orbit().bodies("POST", USERS);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["user"]["email"], "ada@example.com");
    assert_eq!(sent[0]["user"]["first_name"], "Ada");

    // Orbit answers the PATCH 204: the gateway reads the user again and answers it.
    let gets = b.orbit().requests().get("GET", USER);
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Chief Analyst"}]
    });
    let patched = b.call("PATCH", &format!("/Users/{id}"), Some(&patch));
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["title"], "Chief Analyst");
    assert_eq!(b.orbit().user(&id).unwrap()["title"], "Chief Analyst");
    assert_eq!(
        b.orbit().requests().get("GET", USER) - gets,
        2,
        "read before, and again after, the 204"
    );
    assert_eq!(
        b.orbit().bodies("PATCH", USER).last().unwrap(),
        &json!({"user": {"title": "Chief Analyst"}})
    );

    // Deactivated by a field: suspended.
    let off = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]
    });
    let patched = b.call("PATCH", &format!("/Users/{id}"), Some(&off));
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["active"], false);
    assert_eq!(b.orbit().user(&id).unwrap()["status"], "suspended");

    // Found by its userName among thin list items, read in full.
    let found = b.call(
        "GET",
        "/Users?filter=userName%20eq%20%22ada@example.com%22",
        None,
    );
    assert_eq!(found.status, 200, "{:?}", found.body);
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["title"], "Chief Analyst");

    let deleted = b.call("DELETE", &format!("/Users/{id}"), None);
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    assert!(b.orbit().user(&id).is_none());
    assert_eq!(b.call("GET", &format!("/Users/{id}"), None).status, 404);
}

#[test]
fn orbit_ids_it_does_not_know_are_404_and_never_written() {
    use scim_gateway_example_apis::orbit::USER;
    let b = orbit(ORBIT);
    let ids = b.orbit().seed(1);
    let unknown = "usr_0000000000000000";
    assert_ne!(ids[0], unknown);
    let got = b.call("GET", &format!("/Users/{unknown}"), None);
    assert_eq!(got.status, 404, "{:?}", got.body);
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "X"}]
    });
    assert_eq!(
        b.call("PATCH", &format!("/Users/{unknown}"), Some(&patch))
            .status,
        404
    );
    assert_eq!(
        b.call("DELETE", &format!("/Users/{unknown}"), None).status,
        404
    );
    assert_eq!(
        b.orbit().requests().get("PATCH", USER),
        0,
        "nothing written"
    );
    assert_eq!(
        b.orbit().requests().get("DELETE", USER),
        0,
        "nothing deleted"
    );
    // A prefix Orbit would resolve to the seeded user is not an id of Orbit's form: never sent.
    let prefix = &ids[0][..8];
    let before = b.orbit().request_count();
    assert_eq!(b.call("GET", &format!("/Users/{prefix}"), None).status, 404);
    assert_eq!(
        b.call("DELETE", &format!("/Users/{prefix}"), None).status,
        404
    );
    assert_eq!(b.orbit().request_count(), before);
    assert_eq!(b.orbit().user_count(), 1);
}

#[test]
fn orbit_without_the_get_rule_a_403_is_the_gateways_credentials_refused() {
    // The same mapping without the get's rule: Orbit's 403 for an unknown id reads as a refusal
    // of the gateway's credentials (502), as for any other API.
    let yaml = ORBIT.replace(
        "      errors:\n        - { status: 403, scim_status: 404 }\n",
        "",
    );
    assert_ne!(yaml, ORBIT);
    let b = orbit(&yaml);
    let got = b.call("GET", "/Users/usr_0000000000000000", None);
    assert_eq!(got.status, 502, "{:?}", got.body);
}

// --- Keystone: envelopes on a shipped mapping, and an existence check over the record cache ---

/// Keystone with its shipped mapping, its text changed by `edit`.
fn keystone(edit: impl Fn(&str) -> String) -> common::Env {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("mappings/keystone.yaml")).unwrap();
    with_mapping(common::Legacy::Keystone, &edit(&text))
}

/// The example API `legacy` with a gateway in front of it whose mapping is `yaml` (the
/// harness's backend and credentials kept).
fn with_mapping(legacy: common::Legacy, yaml: &str) -> common::Env {
    let mine = mapping::load_str("mappings/test.yaml", yaml).unwrap_or_else(|e| panic!("{e}"));
    common::Env::start_tweaked(
        legacy,
        move |m| {
            let backend = m.backend.clone();
            *m = mine;
            m.backend = backend;
        },
        |_| {},
    )
}

#[test]
fn an_existence_check_on_a_versioned_update_reads_the_user_now_not_from_the_cache() {
    use scim_gateway_example_apis::keystone::USER;
    let title = |t: &str| {
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": t}]
        })
    };
    for (read_first, reads) in [(false, 1), (true, 2)] {
        let env = keystone(|text| {
            if read_first {
                text.replace(
                    "mode: partial, if_match: true }",
                    "mode: partial, if_match: true, exists: read_first }",
                )
            } else {
                text.to_string()
            }
        });
        let id = env.seed_users(1).remove(0);
        let before = env.keystone().requests().get("GET", USER);
        assert_eq!(env.get(&format!("/Users/{id}")).status, 200);
        let patched = env.patch(&format!("/Users/{id}"), &title("Analyst"));
        assert_eq!(patched.status, 200, "{:?}", patched.body);
        assert_eq!(patched.body["title"], "Analyst");
        let gets = env.keystone().requests().get("GET", USER) - before;
        assert_eq!(gets, reads, "exists: read_first = {read_first}");
    }
}

#[test]
fn a_soft_delete_by_the_legacy_api_reads_as_gone_with_a_deleted_marker_and_is_never_restored() {
    let b = Bench::start(|m| {
        m.replacen(
            "  on_delete: delete\n",
            "  on_delete: delete\n  deleted: { legacy: $.status, value: removed }\n",
            1,
        )
    });
    b.ledger.soft_deletes();
    let created = b.call("POST", "/Users", Some(&user("ada@example.com")));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(b.call("DELETE", &format!("/Users/{id}"), None).status, 204);
    assert_eq!(
        b.ledger.user(&id).unwrap()["status"],
        "removed",
        "Ledger keeps it"
    );
    // From then on it is gone for SCIM: read, listed, counted, deleted again.
    assert_eq!(b.call("GET", &format!("/Users/{id}"), None).status, 404);
    let list = b.call(
        "GET",
        "/Users?filter=userName%20eq%20%22ada@example.com%22",
        None,
    );
    assert_eq!(list.body["totalResults"], 0, "{:?}", list.body);
    assert_eq!(
        b.call("GET", "/Users?count=0", None).body["totalResults"],
        0
    );
    assert_eq!(b.call("DELETE", &format!("/Users/{id}"), None).status, 404);
    // The same userName again is a new user; the removed record is left as Ledger keeps it.
    let again = b.call("POST", "/Users", Some(&user("ada@example.com")));
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_ne!(again.body["id"], json!(id));
    assert_eq!(b.ledger.user(&id).unwrap()["status"], "removed");
}
