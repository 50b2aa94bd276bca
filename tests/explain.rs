//! `scim-gateway explain` against the example legacy APIs, over real sockets: the legacy calls
//! a SCIM request makes, in order, with their bodies, none of the writes sent (the request
//! counters of the example API say so), and how a filter reaches the legacy list.

use std::path::Path;
use std::process::Command;

use http::Method;
use scim_gateway::config::Config;
use scim_gateway::mapping::{self, BackendAuth, Mapping, SecretSource};
use scim_gateway::onboard::driver::Driver;
use scim_gateway::onboard::explain::{explain, ExplainRequest, Explanation};
use scim_gateway_example_apis::acme_hr::AcmeHr;
use scim_gateway_example_apis::keystone::Keystone;
use scim_gateway_example_apis::orbit::Orbit;
use scim_gateway_hosting::{free_loopback_addr, RunningServer, Stop};
use serde_json::{json, Value};

/// A running example API: its handle (counters, records), its URL and secret.
struct Api<T> {
    api: T,
    url: String,
    secret: String,
    server: Option<RunningServer>,
}

impl<T> Drop for Api<T> {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop(Stop::Fast);
        }
    }
}

fn secret() -> String {
    format!("explain-secret-{}", uuid::Uuid::new_v4().simple())
}

fn acme() -> Api<AcmeHr> {
    let addr = free_loopback_addr().unwrap();
    let secret = secret();
    let api = AcmeHr::new(secret.clone());
    let server = api.serve(addr).expect("Acme HR starts");
    Api {
        api,
        url: format!("http://{addr}"),
        secret,
        server: Some(server),
    }
}

fn keystone() -> Api<Keystone> {
    let addr = free_loopback_addr().unwrap();
    let secret = secret();
    let api = Keystone::new(secret.clone());
    let server = api.serve(addr).expect("Keystone starts");
    Api {
        api,
        url: format!("http://{addr}"),
        secret,
        server: Some(server),
    }
}

fn orbit() -> Api<Orbit> {
    let addr = free_loopback_addr().unwrap();
    let secret = secret();
    let api = Orbit::new("scim-gateway", secret.clone());
    let server = api.serve(addr).expect("Orbit starts");
    Api {
        api,
        url: format!("http://{addr}"),
        secret,
        server: Some(server),
    }
}

/// The shipped mapping `file`, pointed at `url` with `auth`.
fn shipped(
    file: &str,
    url: &str,
    auth: impl FnOnce(Option<BackendAuth>) -> BackendAuth,
) -> Mapping {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut m = mapping::load_file(&root.join(file)).expect("shipped mapping loads");
    m.backend.base_url = url.to_string();
    m.backend.auth = Some(auth(m.backend.auth.take()));
    m
}

fn acme_mapping(api: &Api<AcmeHr>) -> Mapping {
    let secret = api.secret.clone();
    shipped("mappings/acme-hr.yaml", &api.url, |_| BackendAuth::Header {
        name: "X-Acme-Api-Key".into(),
        secret: SecretSource::Value(secret),
    })
}

fn keystone_mapping(api: &Api<Keystone>) -> Mapping {
    let secret = api.secret.clone();
    shipped("mappings/keystone.yaml", &api.url, |_| {
        BackendAuth::Header {
            name: "Authorization".into(),
            secret: SecretSource::Value(format!("Token token=\"{secret}\"")),
        }
    })
}

fn orbit_mapping(api: &Api<Orbit>) -> Mapping {
    let secret = api.secret.clone();
    shipped("mappings/orbit.yaml", &api.url, |auth| {
        auth.expect("orbit.yaml has oauth2")
            .with_secret(SecretSource::Value(secret))
    })
}

fn run(
    mapping: Mapping,
    method: Method,
    path: &str,
    body: Option<Value>,
    live: bool,
) -> Explanation {
    let driver = Driver::new(Config::default(), mapping, "default").expect("the gateway builds");
    let request = ExplainRequest {
        method,
        path: path.to_string(),
        body,
        live,
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(explain(driver, &request))
}

/// The calls as `METHOD target` lines.
fn lines(e: &Explanation) -> Vec<String> {
    e.calls.iter().map(|c| c.line()).collect()
}

/// Requests the API received other than GET.
fn writes(snapshot: impl IntoIterator<Item = (String, u64)>) -> u64 {
    snapshot
        .into_iter()
        .filter(|(method, _)| method != "GET")
        .map(|(_, n)| n)
        .sum()
}

fn acme_writes(api: &AcmeHr) -> u64 {
    writes(
        api.requests()
            .snapshot()
            .into_iter()
            .map(|(e, n)| (e.method, n)),
    )
}

#[test]
fn a_patch_on_acme_hr_shows_the_read_then_the_full_put_and_sends_nothing() {
    let api = acme();
    let e = run(
        acme_mapping(&api),
        Method::PATCH,
        "/Users/7",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Head of Sales"}]
        })),
        false,
    );
    assert!(e.error.is_none(), "{e:?}");
    // The record read, the user's teams (the answer shows its groups), then the PUT.
    assert_eq!(
        lines(&e),
        [
            "GET /api/v1/users/7",
            "GET /api/v1/users/7/teams",
            "PUT /api/v1/users/7"
        ],
        "{}",
        e.text()
    );
    assert!(e.calls.iter().all(|c| c.simulated));
    // The PUT is the record read, the title changed, without the timestamps `mode: full`
    // leaves out: exactly what the gateway would send.
    let read = &e.calls[0].answer;
    assert_eq!(read["id"], 7);
    // Every field the mapping writes, the rest of the record as read (a full update), null
    // for what the user has not (fax, manager), the flags derived from groups (licensed).
    let expected = json!({
        "login": read["login"], "external_ref": read["external_ref"],
        "display_name": read["display_name"], "nickname": read["nickname"],
        "first_name": read["first_name"], "last_name": read["last_name"],
        "middle_name": read["middle_name"], "salutation": read["salutation"],
        "job_title": "Head of Sales",
        "employment_type": read["employment_type"], "language": read["language"],
        "locale": read["locale"], "time_zone": read["time_zone"], "status": "enabled",
        "email": read["email"], "personal_email": read["personal_email"],
        "work_phone": read["work_phone"], "mobile_phone": read["mobile_phone"],
        "address": {
            "street": read["address"]["street"], "city": read["address"]["city"],
            "state": read["address"]["state"], "zip": read["address"]["zip"],
            "country": read["address"]["country"], "label": null
        },
        "employee_no": read["employee_no"], "department": read["department"],
        "cost_center": read["cost_center"], "organization": read["organization"],
        "division": read["division"], "source": "scim", "id": 7, "licensed": false,
        "manager_id": null, "version": read["version"], "fax": null
    });
    assert!(read.get("created_at").is_some());
    assert_eq!(e.calls[2].body.as_ref(), Some(&expected), "{}", e.text());
    assert_eq!(e.calls[2].method, "PUT");
    // The SCIM answer of the operation run to its end.
    let answer = e.answer.as_ref().unwrap();
    assert_eq!(answer.status, 200, "{}", e.text());
    assert_eq!(answer.body["title"], "Head of Sales");
    assert_eq!(answer.body["id"], "7");
    // Nothing reached Acme HR.
    assert_eq!(api.api.request_count(), 0);
    let text = e.text();
    assert!(
        text.contains("PUT /api/v1/users/7  [users.update]  not sent (simulated)"),
        "{text}"
    );
    assert!(text.contains("\"job_title\": \"Head of Sales\""), "{text}");
    assert!(text.contains("samples"), "{text}");
    assert!(text.contains("SCIM answer: 200"), "{text}");
}

#[test]
fn live_sends_the_read_only_and_shows_the_real_record() {
    let api = acme();
    let id = api.api.seed(1)[0];
    let before = api.api.user(id).unwrap();
    let e = run(
        acme_mapping(&api),
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "Head of Sales"}]
        })),
        true,
    );
    assert_eq!(
        lines(&e),
        [
            format!("GET /api/v1/users/{id}"),
            format!("GET /api/v1/users/{id}/teams"),
            format!("PUT /api/v1/users/{id}")
        ],
        "{}",
        e.text()
    );
    let (get, teams, put) = (&e.calls[0], &e.calls[1], &e.calls[2]);
    assert!(!get.simulated && !teams.simulated && put.simulated);
    assert_eq!(get.status, Some(200));
    // The real record: the seeded login, and the PUT is built on it.
    assert_eq!(get.answer["login"], before["login"]);
    let body = put.body.as_ref().unwrap();
    assert_eq!(body["login"], before["login"]);
    assert_eq!(body["job_title"], "Head of Sales");
    // The read was sent, the write was not: the record is as it was.
    assert_eq!(api.api.requests().get("GET", "/api/v1/users/{id}"), 1);
    assert_eq!(acme_writes(&api.api), 0);
    assert_eq!(api.api.request_count(), 2);
    assert_eq!(api.api.user(id).unwrap(), before);
    assert_eq!(e.sent(), 2);
    let text = e.text();
    assert!(
        text.contains(&format!("GET /api/v1/users/{id}  [users.get]  sent")),
        "{text}"
    );
    assert!(text.contains("--live"), "{text}");
}

#[test]
fn a_filter_passed_down_whole_uses_the_legacy_page_and_total() {
    let api = acme();
    let e = run(
        acme_mapping(&api),
        Method::GET,
        r#"/Users?filter=userName eq "ada@example.com""#,
        None,
        false,
    );
    assert_eq!(e.filters.len(), 1, "{}", e.text());
    let plan = &e.filters[0];
    assert_eq!(plan.mode, "exact");
    assert_eq!(plan.params[0].name, "login");
    assert_eq!(plan.params[0].value, "ada@example.com");
    assert_eq!(plan.max_calls, 2, "count 200 in pages of 100");
    assert!(plan.reasons.is_empty(), "{:?}", plan.reasons);
    // One list call, the filter in its query, and the sample it answered is the user asked.
    assert_eq!(e.calls.len(), 1, "{}", e.text());
    assert!(
        e.calls[0].target.contains("login=ada%40example.com"),
        "{}",
        e.calls[0].target
    );
    let answer = &e.answer.as_ref().unwrap().body;
    assert_eq!(answer["totalResults"], 1, "{}", e.text());
    assert_eq!(answer["Resources"][0]["userName"], "ada@example.com");
    let text = e.text();
    assert!(
        text.contains("passed down whole (exact) as ?login=ada@example.com"),
        "{text}"
    );
    assert!(text.contains("one call per page of up to 100"), "{text}");
    assert_eq!(api.api.request_count(), 0);
}

#[test]
fn a_filter_with_no_entry_is_scanned_up_to_scan_limit() {
    let api = acme();
    let e = run(
        acme_mapping(&api),
        Method::GET,
        r#"/Users?filter=title eq "Engineer""#,
        None,
        false,
    );
    let plan = &e.filters[0];
    assert_eq!(plan.mode, "scanned", "{}", e.text());
    assert!(plan.params.is_empty());
    assert_eq!(plan.scan_limit, 2000);
    assert_eq!(plan.max_calls, 20);
    assert!(
        plan.reasons[0].contains("no `filters:` entry"),
        "{:?}",
        plan.reasons
    );
    let text = e.text();
    assert!(
        text.contains("not passed down: the list is scanned"),
        "{text}"
    );
    assert!(
        text.contains("at most 20 calls (scan_limit 2000 / page size 100)"),
        "{text}"
    );
    // The walk asks for the largest page, without a login parameter.
    assert_eq!(e.calls.len(), 1);
    assert!(
        e.calls[0].target.contains("per_page=100"),
        "{}",
        e.calls[0].target
    );
    assert!(!e.calls[0].target.contains("login="));
}

#[test]
fn a_filter_passed_down_in_part_is_rechecked() {
    let api = acme();
    let e = run(
        acme_mapping(&api),
        Method::GET,
        r#"/Users?filter=userName eq "ada@example.com" and title eq "Engineer""#,
        None,
        false,
    );
    let plan = &e.filters[0];
    assert_eq!(plan.mode, "rechecked", "{}", e.text());
    assert_eq!(plan.params.len(), 1);
    assert!(plan
        .reasons
        .iter()
        .any(|r| r.contains("only part of the filter")));
    assert!(e.calls[0].target.contains("login=ada%40example.com"));
    // The sample satisfies the whole filter, so the re-check keeps it.
    let answer = &e.answer.as_ref().unwrap().body;
    assert_eq!(answer["totalResults"], 1, "{}", e.text());
    assert!(e
        .text()
        .contains("passed down as ?login=ada@example.com and re-checked"));
}

#[test]
fn a_loose_filter_on_keystone_is_rechecked_and_thin_items_read_in_full() {
    let api = keystone();
    let e = run(
        keystone_mapping(&api),
        Method::GET,
        r#"/Users?filter=userName eq "ada""#,
        None,
        false,
    );
    let plan = &e.filters[0];
    assert_eq!(plan.mode, "rechecked", "{}", e.text());
    assert_eq!(plan.params[0].name, "q");
    assert!(
        plan.reasons.iter().any(|r| r.contains("match: loose")),
        "{:?}",
        plan.reasons
    );
    assert!(plan
        .reasons
        .iter()
        .any(|r| r.contains("deleted through SCIM")));
    assert_eq!(plan.max_calls, 10);
    // Keystone's thin items: the one listed is read in full before it is shown.
    let l = lines(&e);
    assert!(l[0].starts_with("GET /api/users?"), "{l:?}");
    assert!(
        l.len() >= 2 && l[1].starts_with("GET /api/users/"),
        "{}",
        e.text()
    );
    assert_eq!(
        e.answer.as_ref().unwrap().body["totalResults"],
        1,
        "{}",
        e.text()
    );
    assert_eq!(api.api.request_count(), 0);
}

#[test]
fn a_create_on_orbit_shows_its_look_up_and_the_enveloped_body() {
    let api = orbit();
    let e = run(
        orbit_mapping(&api),
        Method::POST,
        "/Users",
        Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "grace@example.com",
            "name": {"givenName": "Grace", "familyName": "Hopper"},
            "emails": [{"type": "work", "value": "grace@example.com", "primary": true}],
            "active": true
        })),
        false,
    );
    assert!(e.error.is_none(), "{e:?}");
    let l = lines(&e);
    // The look-up first: Orbit cannot search by username, so the list is read.
    assert!(l[0].starts_with("GET /api/v2/users?"), "{}", e.text());
    let create = e
        .calls
        .iter()
        .find(|c| c.endpoint == "create")
        .unwrap_or_else(|| panic!("no create: {}", e.text()));
    assert_eq!(create.method, "POST");
    let body = create.body.as_ref().unwrap();
    assert_eq!(body["user"]["username"], "grace@example.com", "{body}");
    assert_eq!(body["user"]["first_name"], "Grace");
    assert!(
        body.get("username").is_none(),
        "the record is inside the envelope: {body}"
    );
    // The sample answer carries the record in `data`, with an id of Orbit's form.
    let id = create.answer["data"]["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("usr_") && id.len() == 20, "{id}");
    let plan = e
        .filters
        .iter()
        .find(|p| p.purpose == "look-up")
        .expect("a look-up plan");
    assert_eq!(plan.mode, "scanned");
    assert_eq!(plan.max_calls, 20, "scan_limit 1000 in pages of 50");
    let answer = e.answer.as_ref().unwrap();
    assert_eq!(answer.status, 201, "{}", e.text());
    assert_eq!(answer.body["id"], json!(id));
    assert_eq!(answer.body["userName"], "grace@example.com");
    let text = e.text();
    assert!(
        text.contains("Look-up in users first with filter `userName eq \"grace@example.com\"`"),
        "{text}"
    );
    assert!(text.contains("\"user\": {"), "{text}");
    // Nothing of the request reached Orbit: only what building the gateway does, as `serve`
    // does (the roles the mapping names by name looked up, with a token for it).
    let reached: Vec<String> = api
        .api
        .requests()
        .snapshot()
        .keys()
        .map(|e| e.to_string())
        .collect();
    assert_eq!(reached, ["GET /api/v2/roles", "POST /oauth/token"]);
    assert!(api.api.bodies("POST", "/api/v2/users").is_empty());
}

#[test]
fn a_member_added_on_orbit_is_a_read_modify_write_of_the_list_that_runs_to_its_end() {
    let api = orbit();
    let (team, user) = ("tm_0123456789abcdef", "usr_0123456789abcdef");
    let e = run(
        orbit_mapping(&api),
        Method::PATCH,
        &format!("/Groups/{team}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": user}]}]
        })),
        false,
    );
    // The team's member list is read (a sample with an empty `member_ids`), then written back
    // whole with the user in it, in the team envelope.
    let write = e
        .calls
        .iter()
        .find(|c| c.section == "groups" && c.endpoint == "update")
        .unwrap_or_else(|| panic!("no write of the list: {}", e.text()));
    assert_eq!(write.target, format!("/api/v2/teams/{team}"));
    assert_eq!(
        write.body.as_ref().unwrap(),
        &json!({"team": {"member_ids": [user]}}),
        "{}",
        e.text()
    );
    let read = e
        .calls
        .iter()
        .position(|c| c.line() == format!("GET /api/v2/teams/{team}"))
        .expect("the team read");
    let written = e.calls.iter().position(|c| c.endpoint == "update").unwrap();
    assert!(read < written, "{}", e.text());
    assert_eq!(e.calls[read].answer["data"]["member_ids"], json!([]));
    // The member is checked to exist before it is added.
    assert!(lines(&e).contains(&format!("GET /api/v2/users/{user}")));
    assert!(e.calls.iter().all(|c| c.simulated));
    assert_eq!(e.answer.as_ref().unwrap().status, 204, "{}", e.text());
    assert!(api.api.bodies("PATCH", "/api/v2/teams/{id}").is_empty());
}

#[test]
fn bad_input_is_one_clear_line() {
    let api = acme();
    for (method, path, body, says) in [
        (
            Method::GET,
            "/Accounts",
            None,
            "unknown SCIM path \"/Accounts\"",
        ),
        (
            Method::POST,
            "/Users",
            Some(json!([1, 2])),
            "the body is not a SCIM resource",
        ),
        (
            Method::POST,
            "/Users",
            Some(json!("ada")),
            "the body is not a SCIM resource",
        ),
        (
            Method::POST,
            "/Users",
            Some(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "x"}),
            ),
            "lack \"urn:ietf:params:scim:schemas:core:2.0:User\"",
        ),
        (
            Method::PATCH,
            "/Users/7",
            Some(json!({"title": "x"})),
            "not a SCIM PatchOp",
        ),
        (Method::PUT, "/Users/7", None, "needs a body"),
        (Method::GET, "/Groups", None, "has no groups"),
    ] {
        let mut m = acme_mapping(&api);
        if path == "/Groups" {
            m.groups = None;
        }
        let e = run(m, method.clone(), path, body, false);
        let text = e.text();
        assert!(e.failed(), "{method} {path}: {text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.starts_with("error: ") && text.contains(says),
            "{method} {path}: {text}"
        );
        assert!(e.calls.is_empty());
    }
    assert_eq!(api.api.request_count(), 0);
}

#[test]
fn the_command_explains_in_text_and_json() {
    let api = acme();
    let id = api.api.seed(1)[0];
    let before = api.api.user(id).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let patch = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}"#;
    let command = |json: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_scim-gateway"));
        c.current_dir(root)
            .args(["explain", "mappings/acme-hr.yaml", "PATCH"])
            .arg(format!("/Users/{id}"))
            .arg(patch)
            .arg("--live")
            .env("SCIM_GATEWAY_MAPPING__BACKEND_URL", &api.url)
            .env("ACME_API_KEY", &api.secret);
        if json {
            c.arg("--json");
        }
        c.output().expect("the binary runs")
    };
    let out = command(false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("GET /api/v1/users/{id}  [users.get]  sent")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "PUT /api/v1/users/{id}  [users.update]  not sent (simulated)"
        )),
        "{text}"
    );
    assert!(text.contains("\"status\": \"disabled\""), "{text}");

    let out = command(true);
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    let calls = report["calls"].as_array().unwrap();
    assert_eq!(calls.len(), 3, "{report}");
    assert_eq!(calls[0]["method"], "GET");
    assert!(calls[0].get("simulated").is_none());
    let put = &calls[2];
    assert_eq!(put["method"], "PUT");
    assert_eq!(put["simulated"], true);
    assert_eq!(put["body"]["status"], "disabled");
    assert_eq!(put["body"]["login"], before["login"]);
    assert_eq!(report["answer"]["status"], 200);
    assert_eq!(report["answer"]["body"]["active"], false);
    // Two runs, one read each, no write: the user is as it was.
    assert_eq!(api.api.requests().get("GET", "/api/v1/users/{id}"), 2);
    assert_eq!(acme_writes(&api.api), 0);
    assert_eq!(api.api.user(id).unwrap(), before);

    // Bad input through the command: one line.
    let out = Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .current_dir(root)
        .args(["explain", "mappings/acme-hr.yaml", "GET", "/Nope"])
        .env("SCIM_GATEWAY_MAPPING__BACKEND_URL", &api.url)
        .env("ACME_API_KEY", &api.secret)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.trim_end().lines().count(), 1, "{text}");
    assert!(text.contains("unknown SCIM path"), "{text}");
    assert_eq!(
        out.status.code(),
        Some(1),
        "bad input is a failure for a script"
    );
}

#[test]
fn without_live_no_credential_is_needed_and_with_live_its_absence_is_named() {
    let root = env!("CARGO_MANIFEST_DIR");
    let run = |live: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_scim-gateway"));
        c.current_dir(root)
            .args(["explain", "mappings/acme-hr.yaml", "GET", "/Users/7"])
            .env_remove("ACME_API_KEY");
        if live {
            c.arg("--live");
        }
        c.output().unwrap()
    };
    let offline = run(false);
    let text = String::from_utf8_lossy(&offline.stdout);
    assert!(
        offline.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&offline.stderr)
    );
    assert!(
        text.contains("GET /api/v1/users/7") && text.contains("not sent"),
        "{text}"
    );
    let live = run(true);
    let err = String::from_utf8_lossy(&live.stderr);
    assert_eq!(live.status.code(), Some(2), "{err}");
    assert!(err.contains("ACME_API_KEY"), "names what is missing: {err}");
}
