//! Hostile input over real sockets: ids, filter values, oversized and malformed requests. The
//! legacy API must receive hostile values as data (one encoded path segment, one form-encoded
//! query value) or not at all; every refusal is a SCIM error with the right status and
//! `scimType` that echoes no secret and no Rust internals; and the gateway keeps answering.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Env, Legacy, TOKEN};
use scim_gateway::config::ScimConfig;
use scim_gateway_example_apis::RequestCounts;
use serde_json::{json, Value};

const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// An answer read off a raw socket.
struct Raw {
    status: u16,
    head: String,
    body: Value,
    text: String,
}

/// Sends one request exactly as given (the request target is not normalised or encoded) and
/// reads the answer until the server closes the connection.
fn raw(env: &Env, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Raw {
    let addr = env.scim_addr();
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/scim+json\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut writer = stream.try_clone().unwrap();
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    // Written beside the reading: a refused body is not read to its end.
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&request);
    });
    let mut bytes = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(_) if !bytes.is_empty() => break,
            Err(e) => panic!("{method} {target}: no answer: {e}"),
        }
        if complete(&bytes) {
            break;
        }
    }
    drop(stream);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{method} {target}: no status line: {head}"));
    let body = if rest.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(rest)
            .unwrap_or_else(|e| panic!("{method} {target}: body is not JSON ({e}): {rest}"))
    };
    Raw {
        status,
        head: head.to_string(),
        body,
        text: rest.to_string(),
    }
}

/// Whether `bytes` hold a whole response with a `Content-Length`.
fn complete(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    let Some((head, rest)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .is_some_and(|n| rest.len() >= n)
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

/// A SCIM error with `status` (and `scim_type` when given) that echoes no secret and no Rust
/// internals.
fn assert_scim_error(env: &Env, what: &str, status: u16, scim_type: Option<&str>, body: &Value) {
    assert_eq!(body["schemas"], json!([ERROR_URN]), "{what}: {body}");
    assert_eq!(body["status"], status.to_string(), "{what}: {body}");
    if let Some(t) = scim_type {
        assert_eq!(body["scimType"], t, "{what}: {body}");
    }
    assert_no_secrets(env, what, &body.to_string());
}

fn assert_no_secrets(env: &Env, what: &str, text: &str) {
    for secret in [TOKEN, env.backend_secret.as_str()] {
        assert!(!text.contains(secret), "{what} echoes a secret: {text}");
    }
    for internal in [
        "::",
        "panicked",
        "backtrace",
        "RUST_BACKTRACE",
        "ScimError",
        "serde_json",
    ] {
        assert!(
            !text.contains(internal),
            "{what} shows {internal:?}: {text}"
        );
    }
}

fn requests(env: &Env) -> &RequestCounts {
    match env.legacy {
        Legacy::AcmeHr => env.acme().requests(),
        Legacy::Crewbase => env.crewbase().requests(),
        Legacy::Keystone => env.keystone().requests(),
        Legacy::Orbit | Legacy::OrbitRoles => env.orbit().requests(),
        Legacy::Tallybook => env.tallybook().requests(),
    }
}

/// The legacy API's own collection paths (users, groups) under the shipped mappings.
fn legacy_collections(env: &Env) -> (&'static str, &'static str) {
    match env.legacy {
        Legacy::AcmeHr => ("/api/v1/users", "/api/v1/teams"),
        Legacy::Crewbase => ("/v2/people", "/v2/teams"),
        Legacy::Keystone => ("/api/users", "/api/teams"),
        Legacy::Orbit => ("/api/v2/users", "/api/v2/teams"),
        Legacy::OrbitRoles => ("/api/v2/users", "/api/v2/roles"),
        // Its groups are the gateway's: the roles are all it reads besides users.
        Legacy::Tallybook => ("/api/users", "/api/roles"),
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Every request the legacy API received names `id` as one whole path segment, and its other
/// segments are the legacy API's own literal words: no traversal, no extra path, no query
/// smuggled in through the id.
fn assert_id_is_one_segment(env: &Env, what: &str, id: &str) {
    for target in requests(env).targets() {
        let (_, rest) = target.split_once(' ').unwrap();
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let mut saw_id = false;
        for seg in path.split('/').skip(1) {
            if decode(seg) == id {
                saw_id = true;
            } else {
                assert!(
                    !seg.is_empty()
                        && seg
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
                    "{what}: the legacy API received {target:?}"
                );
            }
        }
        assert!(saw_id, "{what}: the legacy API received {target:?}");
        assert!(
            query.is_empty() || !decode(query).contains(id),
            "{what}: the id reached the legacy query: {target:?}"
        );
    }
}

/// How a client sends a SCIM id in a URL: one percent-encoded segment.
fn encode(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, scim_gateway::server::wire::SEGMENT).to_string()
}

const HOSTILE_IDS: [&str; 6] = [
    "../admin",
    "..%2F..%2Fadmin",
    "%2F",
    "a?b=c",
    "a#b",
    "x%00y",
];

fn hostile_ids_reach_the_legacy_api_as_one_segment(env: &Env) {
    let base_path = ScimConfig::default().base_path;
    let user_patch = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let group_patch = json!({"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]});
    for (collection, patch) in [("Users", &user_patch), ("Groups", &group_patch)] {
        let patch = serde_json::to_vec(patch).unwrap();
        for id in HOSTILE_IDS {
            // As written in the URL (`..`, `?`, `#` are structure there), and as the id value a
            // client percent-encodes into one segment.
            for (target, as_value) in [
                (format!("{base_path}/{collection}/{id}"), None),
                (format!("{base_path}/{collection}/{}", encode(id)), Some(id)),
            ] {
                if as_value.is_none() && id.contains('#') {
                    continue; // a fragment is never sent by an HTTP client
                }
                for method in ["GET", "PATCH", "DELETE"] {
                    requests(env).reset();
                    let body: &[u8] = if method == "PATCH" { &patch } else { b"" };
                    let what = format!("{} {method} {target}", env_name(env));
                    let a = raw(env, method, &target, &[("Authorization", &bearer())], body);
                    assert_eq!(a.status, 404, "{what}: {}", a.text);
                    assert_scim_error(env, &what, 404, None, &a.body);
                    match as_value {
                        Some(id) => {
                            if method == "GET" {
                                assert!(
                                    !requests(env).targets().is_empty(),
                                    "{what}: no legacy call"
                                );
                            }
                            assert_id_is_one_segment(env, &what, id)
                        }
                        None => {
                            // Whatever the URL said, what reached the legacy API stays under
                            // its collections, one id segment deep, never a traversal.
                            let (users, groups) = legacy_collections(env);
                            for t in requests(env).targets() {
                                let path = t.split_once(' ').unwrap().1;
                                let path = path.split_once('?').map_or(path, |(p, _)| p);
                                assert!(
                                    path.starts_with(users) || path.starts_with(groups),
                                    "{what}: the legacy API received {t:?}"
                                );
                                assert!(
                                    !path.split('/').any(|s| s == ".." || s == "admin"),
                                    "{what}: the legacy API received {t:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    // A control character or an over-long id never reaches the legacy API.
    for id in ["x%00y", "a%0D%0Ab", &"a".repeat(257)] {
        requests(env).reset();
        let a = raw(
            env,
            "GET",
            &format!("{base_path}/Users/{id}"),
            &[("Authorization", &bearer())],
            b"",
        );
        assert_scim_error(env, id, 404, None, &a.body);
        assert_eq!(
            requests(env).total(),
            0,
            "{id}: {:?}",
            requests(env).targets()
        );
    }
    still_answers(env);
}

fn env_name(env: &Env) -> &'static str {
    match env.legacy {
        Legacy::AcmeHr => "acme-hr",
        Legacy::Crewbase => "crewbase",
        Legacy::Keystone => "keystone",
        Legacy::Orbit | Legacy::OrbitRoles => "orbit",
        Legacy::Tallybook => "tallybook",
    }
}

/// The gateway still serves a normal request.
fn still_answers(env: &Env) {
    let a = env.get("/Users?count=1");
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(
        a.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
}

/// A mapping without declared id forms sends every id to the legacy API: there, a hostile id
/// must arrive as data, one path segment.
fn without_id_forms(legacy: Legacy) -> Env {
    Env::start_tweaked(
        legacy,
        |m| {
            m.users.id_format = None;
            if let Some(g) = m.groups.as_mut() {
                g.resource.id_format = None;
            }
        },
        |_| {},
    )
}

#[test]
fn hostile_ids_reach_a_legacy_api_without_id_forms_as_one_segment() {
    for legacy in [Legacy::AcmeHr, Legacy::Crewbase] {
        hostile_ids_reach_the_legacy_api_as_one_segment(&without_id_forms(legacy));
    }
}

/// With the shipped mappings' id forms, no hostile id reaches the legacy API at all.
#[test]
fn hostile_ids_of_no_declared_form_cost_no_legacy_call() {
    for legacy in [Legacy::AcmeHr, Legacy::Crewbase, Legacy::Keystone] {
        let env = Env::start(legacy);
        let base_path = ScimConfig::default().base_path;
        for collection in ["Users", "Groups"] {
            for id in HOSTILE_IDS {
                let target = format!("{base_path}/{collection}/{}", encode(id));
                for method in ["GET", "PUT", "PATCH", "DELETE"] {
                    requests(&env).reset();
                    let body: &[u8] = match (method, collection) {
                        ("PATCH", _) => br#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}"#,
                        ("PUT", "Users") => br#"{"userName": "x"}"#,
                        ("PUT", _) => br#"{"displayName": "x"}"#,
                        _ => b"",
                    };
                    let a = raw(&env, method, &target, &[("Authorization", &bearer())], body);
                    let what = format!("{legacy:?} {method} {target}");
                    assert_eq!(a.status, 404, "{what}: {}", a.text);
                    assert!(
                        requests(&env).targets().is_empty(),
                        "{what}: the legacy API received {:?}",
                        requests(&env).targets()
                    );
                }
            }
        }
    }
}

/// The query pairs of the last list request the legacy API received.
fn last_list_query(env: &Env) -> Vec<(String, String)> {
    let (users, _) = legacy_collections(env);
    let target = requests(env)
        .targets()
        .into_iter()
        .rev()
        .find(|t| t.starts_with(&format!("GET {users}?")))
        .expect("a list call reached the legacy API");
    let query = target.split_once('?').unwrap().1.to_string();
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

fn filter_values_reach_the_legacy_query_as_one_value(env: &Env) {
    // An attribute the mapping passes down (Orbit can search by externalId only).
    let attr = match env.legacy {
        Legacy::Orbit | Legacy::OrbitRoles => "externalId",
        _ => "userName",
    };
    let query_for = |value: &str| {
        let filter = format!("{attr} eq {}", serde_json::to_string(value).unwrap());
        format!(
            "/Users?filter={}",
            percent_encoding::utf8_percent_encode(&filter, percent_encoding::NON_ALPHANUMERIC)
        )
    };
    requests(env).reset();
    assert_eq!(env.get(&query_for("plain")).status, 200);
    let plain = last_list_query(env);
    let keys: Vec<&String> = plain.iter().map(|(k, _)| k).collect();
    for value in [
        "x&role=owner",
        "x%26role%3Downer",
        "a\"b",
        "zoë@例え.jp 👩‍💻",
        "a\r\nX-Injected: 1",
        "a=b; c",
    ] {
        requests(env).reset();
        let a = env.get(&query_for(value));
        assert_eq!(a.status, 200, "{value:?}: {}", a.body);
        assert_eq!(a.body["totalResults"], 0, "{value:?}: {}", a.body);
        let got = last_list_query(env);
        let got_keys: Vec<&String> = got.iter().map(|(k, _)| k).collect();
        assert_eq!(
            got_keys, keys,
            "{value:?}: the legacy query has other parameters"
        );
        assert_eq!(
            got.iter().filter(|(_, v)| v == value).count(),
            1,
            "{value:?}: not one whole value in {got:?}"
        );
        assert!(!got.iter().any(|(k, _)| k == "role"));
    }
    still_answers(env);
}

all_mappings!(filters, filter_values_reach_the_legacy_query_as_one_value);

#[test]
fn request_bounds_are_refused_with_scim_errors() {
    let env = Env::start(Legacy::AcmeHr);
    let auth = bearer();
    let auth_h = [("Authorization", auth.as_str())];

    // A filter nested deeper than the parser's bound.
    let nested = format!("{}userName pr{}", "(".repeat(200), ")".repeat(200));
    let q = percent_encoding::utf8_percent_encode(&nested, percent_encoding::NON_ALPHANUMERIC);
    let a = env.get(&format!("/Users?filter={q}"));
    assert_eq!(a.status, 400, "{}", a.body);
    assert_scim_error(&env, "deep filter", 400, Some("invalidFilter"), &a.body);

    // A filter with more comparisons than its bound (sent in a search body).
    let long = vec!["userName pr"; 1200].join(" or ");
    let a = env.post("/Users/.search", &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": long}));
    assert_eq!(a.status, 400, "{}", a.body);
    assert_scim_error(&env, "long filter", 400, Some("invalidFilter"), &a.body);

    // count is capped at scim.max_results; a negative startIndex counts as 1.
    env.seed_users(3);
    let max = ScimConfig::default().max_results;
    let a = env.get("/Users?count=1000000&startIndex=-5");
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.body["itemsPerPage"].as_u64().unwrap() <= max as u64,
        "{}",
        a.body
    );
    assert_eq!(a.body["startIndex"], 1, "{}", a.body);
    assert_eq!(a.body["totalResults"], 3, "{}", a.body);

    // A 2 MB body: 413, before any legacy call.
    requests(&env).reset();
    let big = json!({"schemas": [USER_URN], "userName": "big", "title": "x".repeat(2 << 20)});
    let a = raw(
        &env,
        "POST",
        "/scim/v2/Users",
        &auth_h,
        &serde_json::to_vec(&big).unwrap(),
    );
    assert_eq!(a.status, 413, "{}", a.text);
    assert_scim_error(&env, "2 MB body", 413, None, &a.body);
    assert_eq!(requests(&env).total(), 0);

    // 20 KB of headers: 431, valid token or not.
    let filler = "f".repeat(1000);
    let many: Vec<(String, &str)> = (0..20)
        .map(|i| (format!("X-Filler-{i}"), filler.as_str()))
        .collect();
    let mut headers: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    headers.push(("Authorization", &auth));
    let a = raw(&env, "GET", "/scim/v2/Users", &headers, b"");
    assert_eq!(a.status, 431, "{}", a.text);
    assert_scim_error(&env, "20 KB of headers", 431, None, &a.body);

    // A 2 KB bearer: 401 before any hashing, not echoed.
    let long_token = format!("Bearer {}", "k".repeat(2048));
    let a = raw(
        &env,
        "GET",
        "/scim/v2/Users",
        &[("Authorization", &long_token)],
        b"",
    );
    assert_eq!(a.status, 401, "{}", a.text);
    assert_scim_error(&env, "2 KB bearer", 401, None, &a.body);
    assert!(!a.text.contains(&"k".repeat(64)), "{}", a.text);
    assert!(
        a.head
            .to_ascii_lowercase()
            .contains("www-authenticate: bearer"),
        "{}",
        a.head
    );

    // A wrong bearer token is not echoed either.
    let a = env.call_with(
        "GET",
        "/Users",
        None,
        Some("Bearer guess-guess-guess-guess"),
    );
    assert_eq!(a.status, 401);
    assert_scim_error(&env, "wrong bearer", 401, None, &a.body);
    assert!(!a.body.to_string().contains("guess-guess"), "{}", a.body);

    assert_eq!(requests(&env).total(), 0, "{:?}", requests(&env).targets());
    still_answers(&env);
}

#[test]
fn malformed_bodies_are_400_without_crash() {
    let env = Env::start(Legacy::AcmeHr);
    let auth = bearer();
    let auth_h = [("Authorization", auth.as_str())];
    let deep_array = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_member = format!(
        "{{\"schemas\":[\"{USER_URN}\"],\"userName\":\"d\",\"title\":{}1{}}}",
        "{\"a\":".repeat(5_000),
        "}".repeat(5_000)
    );
    for (what, target, body) in [
        ("an array", "/scim/v2/Users", "[1, 2, 3]".to_string()),
        ("a string", "/scim/v2/Users", "\"userName\"".to_string()),
        ("a number", "/scim/v2/Groups", "42".to_string()),
        ("null", "/scim/v2/Users/.search", "null".to_string()),
        ("deeply nested arrays", "/scim/v2/Users", deep_array),
        ("a deeply nested member", "/scim/v2/Users", deep_member),
        ("not JSON", "/scim/v2/Users", "{\"userName\": ".to_string()),
    ] {
        requests(&env).reset();
        let a = raw(&env, "POST", target, &auth_h, body.as_bytes());
        assert_eq!(a.status, 400, "{what}: {}", a.text);
        let t = a.body["scimType"].as_str().unwrap_or("");
        assert!(
            ["invalidSyntax", "invalidValue"].contains(&t),
            "{what}: {}",
            a.body
        );
        assert_scim_error(&env, what, 400, None, &a.body);
        assert_eq!(requests(&env).total(), 0, "{what}");
    }
    // The same for PATCH and PUT of an existing user.
    let id = &env.seed_users(1)[0];
    for method in ["PATCH", "PUT"] {
        let a = raw(
            &env,
            method,
            &format!("/scim/v2/Users/{id}"),
            &auth_h,
            b"[\"Operations\"]",
        );
        assert_eq!(a.status, 400, "{method}: {}", a.text);
        assert_scim_error(&env, method, 400, None, &a.body);
    }
    still_answers(&env);
}

#[test]
fn a_user_name_with_crlf_is_data_never_a_header() {
    let env = Env::start(Legacy::AcmeHr);
    let name = "mallory\r\nX-Injected: yes\r\n\r\n<html>";
    let a = env.post(
        "/Users",
        &json!({"schemas": [USER_URN], "userName": name, "active": true}),
    );
    assert!(a.header("x-injected").is_none(), "{:?}", a.headers);
    match a.status {
        201 => {
            let id = a.body["id"].as_str().unwrap().to_string();
            assert_eq!(a.body["userName"], name);
            let stored = env.acme().user(id.parse().unwrap()).unwrap();
            assert_eq!(stored["login"], name, "stored as data");
            let back = env.get(&format!("/Users/{id}"));
            assert_eq!(back.status, 200);
            assert_eq!(back.body["userName"], name);
            assert!(back.header("x-injected").is_none(), "{:?}", back.headers);
            // Found again by a filter on the same value.
            let filter = format!("userName eq {}", serde_json::to_string(name).unwrap());
            let q =
                percent_encoding::utf8_percent_encode(&filter, percent_encoding::NON_ALPHANUMERIC);
            let found = env.get(&format!("/Users?filter={q}"));
            assert_eq!(found.body["totalResults"], 1, "{}", found.body);
        }
        400 => assert_scim_error(&env, "CRLF userName", 400, None, &a.body),
        other => panic!("CRLF userName: {other} {}", a.body),
    }
    still_answers(&env);
}

/// Sends `head` (a request head without its final blank line, every header as given: no Host
/// is added) with `body`, and reads the answer.
fn raw_head(env: &Env, head: &str, body: &[u8]) -> Raw {
    let addr = env.scim_addr();
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!(
        "{head}\r\nConnection: close\r\nContent-Length: {}\r\nContent-Type: application/scim+json\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    stream.write_all(&request).unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = serde_json::from_str(rest).unwrap_or(Value::Null);
    Raw {
        status,
        head: head.to_string(),
        body,
        text: rest.to_string(),
    }
}

#[test]
fn a_host_outside_allowed_hosts_is_refused_before_any_work_and_never_echoed() {
    let env = Env::start_with(Legacy::AcmeHr, |c| {
        c.scim.allowed_hosts = vec!["127.0.0.1".into(), "LocalHost".into()];
    });
    let addr = env.scim_addr();
    let user =
        serde_json::to_vec(&json!({"schemas": [USER_URN], "userName": "eve@example.com"})).unwrap();
    let auth = format!("Authorization: {}", bearer());
    let before = env.backend_requests();
    for (what, head) in [
        (
            "Host: evil.example",
            format!("POST /scim/v2/Users HTTP/1.1\r\nHost: evil.example\r\n{auth}"),
        ),
        (
            "an absolute URI naming evil.example",
            format!(
                "POST http://evil.example/scim/v2/Users HTTP/1.1\r\nHost: evil.example\r\n{auth}"
            ),
        ),
        (
            "Host: evil.example on the allowed port",
            format!(
                "POST /scim/v2/Users HTTP/1.1\r\nHost: evil.example:{}\r\n{auth}",
                addr.rsplit(':').next().unwrap()
            ),
        ),
    ] {
        let a = raw_head(&env, &head, &user);
        assert_eq!(a.status, 421, "{what}: {}", a.text);
        assert_scim_error(&env, what, 421, None, &a.body);
        assert!(!a.text.contains("evil"), "{what} echoed: {}", a.text);
        assert!(
            !a.head.to_ascii_lowercase().contains("evil"),
            "{what}: {}",
            a.head
        );
    }
    // Ambiguous ones: refused by the HTTP layer (a 400 or a closed connection), or by the
    // gateway with 400; never served.
    for (what, head) in [
        (
            "an absolute URI naming evil.example, Host the gateway",
            format!("POST http://evil.example/scim/v2/Users HTTP/1.1\r\nHost: {addr}\r\n{auth}"),
        ),
        (
            "two Host headers",
            format!("POST /scim/v2/Users HTTP/1.1\r\nHost: {addr}\r\nHost: evil.example\r\n{auth}"),
        ),
        (
            "no Host header",
            format!("POST /scim/v2/Users HTTP/1.1\r\n{auth}"),
        ),
    ] {
        let a = raw_head(&env, &head, &user);
        assert!(
            a.status == 0 || a.status == 400,
            "{what}: {} {}",
            a.status,
            a.text
        );
        assert!(!a.text.contains("evil"), "{what} echoed: {}", a.text);
    }
    assert_eq!(
        env.backend_requests(),
        before,
        "no legacy call for a refused host"
    );
    assert_eq!(env.acme().user_count(), 0);

    // An allowed host, in any case and on any port: served, its URLs named after it.
    let port = addr.rsplit(':').next().unwrap();
    let a = raw_head(
        &env,
        &format!("POST /scim/v2/Users HTTP/1.1\r\nHost: LOCALHOST:{port}\r\n{auth}"),
        &user,
    );
    assert_eq!(a.status, 201, "{}", a.text);
    assert_eq!(
        a.body["meta"]["location"],
        format!(
            "http://LOCALHOST:{port}/scim/v2/Users/{}",
            a.body["id"].as_str().unwrap()
        )
    );
}

#[test]
fn with_public_url_the_host_header_never_reaches_the_urls() {
    let env = Env::start_with(Legacy::AcmeHr, |c| {
        c.scim.public_url = "https://scim.example.com/scim/v2".into();
    });
    let user =
        serde_json::to_vec(&json!({"schemas": [USER_URN], "userName": "eve@example.com"})).unwrap();
    let a = raw_head(
        &env,
        &format!(
            "POST /scim/v2/Users HTTP/1.1\r\nHost: evil.example\r\nAuthorization: {}",
            bearer()
        ),
        &user,
    );
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.body["id"].as_str().unwrap();
    let expected = format!("https://scim.example.com/scim/v2/Users/{id}");
    assert_eq!(a.body["meta"]["location"], expected);
    assert!(
        a.head
            .lines()
            .any(|l| l.eq_ignore_ascii_case(&format!("location: {expected}"))),
        "{}",
        a.head
    );
    assert!(
        !a.text.contains("evil") && !a.head.contains("evil"),
        "{}",
        a.text
    );
    let a = raw_head(
        &env,
        &format!(
            "GET /scim/v2/Users?count=5 HTTP/1.1\r\nHost: evil.example\r\nAuthorization: {}",
            bearer()
        ),
        b"",
    );
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(!a.text.contains("evil"), "{}", a.text);
}

#[test]
fn serve_without_public_url_or_allowed_hosts_refuses_to_start_and_says_how_to_fix_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::write(
        &config,
        format!(
            "[listen]\naddress = \"127.0.0.1:0\"\n[admin]\naddress = \"\"\n[mapping]\nfile = \"{root}/mappings/acme-hr.yaml\"\n[scim]\npublic_url = \"\"\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("SCIM_GATEWAY_SCIM__PUBLIC_URL")
        .env_remove("SCIM_GATEWAY_SCIM__ALLOWED_HOSTS")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for part in [
        config.display().to_string().as_str(),
        "public_url",
        "allowed_hosts",
        "fix:",
        "Host",
    ] {
        assert!(err.contains(part), "{part:?} missing from: {err}");
    }
}

/// A PATCH is applied operation by operation to the user's lists, so its cost grows with its
/// operations times the values it carries: a 500 KB PATCH of 1,000 operations of 18 e-mails
/// each took about a minute of CPU before both were bounded. Past either bound the answer is
/// 400 tooMany at once, before any legacy call; at the bounds the PATCH is applied.
#[test]
fn a_patch_with_too_many_operations_or_values_is_refused_before_any_legacy_call() {
    let env = Env::start(Legacy::AcmeHr);
    let id = env.seed_users(1).remove(0);
    let path = format!("/Users/{id}");
    let email = |i: usize| json!({"value": format!("u{i}@example.com"), "type": "other"});
    let patch = |ops: Vec<Value>| json!({"schemas": [PATCH_OP], "Operations": ops});
    let refused = [
        (
            "1,001 operations",
            patch(vec![json!({"op": "replace", "path": "title", "value": "t"}); 1001]),
            "at most 1000",
        ),
        (
            "1,001 values in one operation",
            patch(vec![json!({"op": "add", "path": "emails",
                              "value": (0..1001).map(email).collect::<Vec<_>>()})]),
            "at most 1000",
        ),
        (
            "1,000 operations of 18 values",
            patch(
                (0..1000)
                    .map(|i| json!({"op": "add", "path": "emails",
                                    "value": (0..18).map(|j| email(i * 18 + j)).collect::<Vec<_>>()}))
                    .collect(),
            ),
            "at most 1000",
        ),
    ];
    for (what, body, says) in refused {
        let before = env.backend_requests();
        let answer = env.patch(&path, &body);
        assert_eq!(answer.status, 400, "{what}: {:?}", answer.body);
        assert_scim_error(&env, what, 400, Some("tooMany"), &answer.body);
        assert!(
            answer.body["detail"].as_str().unwrap().contains(says),
            "{what}: {:?}",
            answer.body
        );
        assert_eq!(env.backend_requests(), before, "{what}: no legacy call");
    }
    // At the bounds: 1,000 values in one operation, and 1,000 small operations.
    let at_bound = patch(vec![json!({"op": "add", "path": "emails",
                                      "value": (0..1000).map(email).collect::<Vec<_>>()})]);
    assert_eq!(env.patch(&path, &at_bound).status, 200);
    let many_ops = patch(vec![
        json!({"op": "replace", "path": "title", "value": "Lead"});
        1000
    ]);
    let answer = env.patch(&path, &many_ops);
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["title"], "Lead");
}
