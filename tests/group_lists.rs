//! Membership held as a list on the legacy group (`membership.group_attribute`), over real
//! sockets against the Orbit example API, whose teams carry `member_ids` and a `version` that a
//! `PATCH` with a stale `If-Match` is refused for (412): a group's members are read from its
//! record, a change of members is one read-modify-write of the whole list, guarded by the
//! version and serialised per group inside the gateway, so that a member added meanwhile — by
//! another request, another gateway or the product's own screens — is never lost; a list that
//! was not read whole is never written; a user's groups are found by a query.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::scim::{member_ids, patch_op};
use common::{Env, Legacy, TOKEN};
use scim_gateway::config::Config;
use scim_gateway::mapping::{self, BackendAuth, SecretSource};
use scim_gateway::server::app::ScimApp;
use scim_gateway::server::auth::token_digest_hex;
use scim_gateway::server::gateway::Gateway;
use scim_gateway::server::reload::Live;
use scim_gateway::server::runner::gateway_services;
use scim_gateway_example_apis::orbit::{self, Orbit, TEAM, TEAMS, USER};
use scim_gateway_hosting::{free_loopback_addr, http_service, server_conf, start, RunningServer};
use serde_json::{json, Map, Value};

/// Orbit's users and teams; each team's members a list on the team.
const MAPPING: &str = r#"
name: orbit-lists
backend:
  base_url: http://127.0.0.1:1
users:
  envelope: { answer: data, body: user }
  id: $.id
  id_format: { pattern: '^usr_[0-9a-f]{16}$' }
  endpoints:
    create: { method: POST, path: /api/v2/users }
    get:
      method: GET
      path: "/api/v2/users/{id}"
      errors: [ { status: 403, scim_status: 404 } ]
    update: { method: PATCH, path: "/api/v2/users/{id}", mode: partial }
    delete: { method: DELETE, path: "/api/v2/users/{id}", exists: read_first }
    list:
      method: GET
      path: /api/v2/users
      items: $.data
      envelope: { item: null }
      total: { body: $.meta.total }
      pagination: { style: page, page_param: "page[number]", size_param: "page[size]", first_page: 1, max_page_size: 50 }
      carries: [userName, name.givenName, name.familyName]
  on_delete: delete
  attributes:
    - { scim: userName, legacy: $.email, required: true }
    - { scim: name.givenName, legacy: $.first_name }
    - { scim: name.familyName, legacy: $.last_name }
  filters:
    - { scim: userName, op: eq, param: "filter[email]" }
groups:
  envelope: { answer: data, body: team }
  id: $.id
  id_format: { pattern: '^tm_[0-9a-f]{16}$' }
  endpoints:
    create: { method: POST, path: /api/v2/teams }
    get:
      method: GET
      path: "/api/v2/teams/{id}"
      errors: [ { status: 403, scim_status: 404 } ]
    update: { method: PATCH, path: "/api/v2/teams/{id}", mode: partial }
    delete: { method: DELETE, path: "/api/v2/teams/{id}", exists: read_first }
    list:
      method: GET
      path: /api/v2/teams
      items: $.data
      envelope: { item: null }
      pagination: { style: none }
      carries: [displayName]
  attributes:
    - { scim: displayName, legacy: $.name, required: true }
  membership:
    group_attribute:
      legacy: $.member_ids
      if_match: $.version
      user_groups: { method: GET, path: /api/v2/teams, query: { member_id: "{id}" }, items: $.data, group: $.id }
"#;

/// Orbit with a gateway in front of it whose mapping is `yaml` (the harness's backend and OAuth
/// 2.0 credentials kept).
fn orbit(yaml: &str) -> Env {
    let mine = mapping::load_str("orbit-lists.yaml", yaml).unwrap_or_else(|e| panic!("{e}"));
    Env::start_tweaked(
        Legacy::Orbit,
        move |m| {
            let backend = m.backend.clone();
            *m = mine;
            m.backend = backend;
        },
        |_| {},
    )
}

/// A second gateway in front of `env`'s Orbit, with the same configuration and mapping and locks
/// of its own, as another replica has: its SCIM base URL, and its server.
fn replica(env: &Env) -> (String, RunningServer) {
    let current = env.live.current();
    let gateway = Gateway::new(current.config.clone(), (*current.mapping).clone()).unwrap();
    let addr = free_loopback_addr().unwrap();
    let server = start(
        server_conf(0, 1),
        vec![http_service(
            "scim",
            addr,
            4,
            ScimApp::new(Arc::new(gateway)),
        )],
        &[addr],
    )
    .unwrap();
    (format!("http://{addr}/scim/v2"), server)
}

/// Team `team`'s member ids, sorted.
fn members(env: &Env, team: &str) -> Vec<String> {
    let mut ids: Vec<String> = env.orbit().team(team).unwrap()["member_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The writes of a team Orbit received.
fn team_writes(env: &Env) -> u64 {
    env.orbit().requests().get("PATCH", TEAM)
}

fn add(users: &[&str]) -> Value {
    let values: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
    patch_op(json!([{"op": "add", "path": "members", "value": values}]))
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

#[test]
fn a_groups_members_are_read_from_its_record_and_a_users_groups_by_a_query() {
    let b = orbit(MAPPING);
    let u = b.orbit().seed(3);
    let team = b.orbit().seed_team("Platform", &[&u[0], &u[1]]);
    let other = b.orbit().seed_team("Design", &[&u[1]]);

    let g = b.get(&format!("/Groups/{team}"));
    assert_eq!(g.status, 200, "{:?}", g.body);
    assert_eq!(g.body["displayName"], "Platform");
    assert_eq!(member_ids(&g.body), sorted(&[&u[0], &u[1]]));
    assert_eq!(
        g.body["members"][0]["$ref"],
        json!(format!("{}/Users/{}", b.base, u[0]))
    );
    // Without members: the same one read.
    let reads = b.orbit().requests().get("GET", TEAM);
    let g = b.get(&format!("/Groups/{team}?excludedAttributes=members"));
    assert!(g.body.get("members").is_none(), "{:?}", g.body);
    assert_eq!(b.orbit().requests().get("GET", TEAM), reads + 1);
    // In a list, each group's members come from its record.
    let all = b.get("/Groups");
    assert_eq!(all.body["totalResults"], 2, "{:?}", all.body);
    let design = all.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["id"] == json!(other))
        .unwrap()
        .clone();
    assert_eq!(member_ids(&design), [u[1].clone()]);

    // A user's groups, found with ?member_id=.
    let user = b.get(&format!("/Users/{}", u[1]));
    assert_eq!(user.status, 200, "{:?}", user.body);
    let mut groups: Vec<&str> = user.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["value"].as_str().unwrap())
        .collect();
    groups.sort();
    let mut expected = vec![team.as_str(), other.as_str()];
    expected.sort();
    assert_eq!(groups, expected);
    assert!(b
        .orbit()
        .requests()
        .targets()
        .iter()
        .any(|t| t == &format!("GET /api/v2/teams?member_id={}", u[1])));
    // Entra's membership check.
    let found = b.get(&format!(
        "/Groups?filter=id+eq+%22{team}%22+and+members%5Bvalue+eq+%22{}%22%5D&excludedAttributes=members",
        u[0]
    ));
    assert_eq!(found.body["totalResults"], 1, "{:?}", found.body);
    let none = b.get(&format!(
        "/Groups?filter=id+eq+%22{other}%22+and+members%5Bvalue+eq+%22{}%22%5D",
        u[0]
    ));
    assert_eq!(none.body["totalResults"], 0, "{:?}", none.body);
}

#[test]
fn a_patch_of_several_members_is_one_guarded_write_of_the_list() {
    let b = orbit(MAPPING);
    let u = b.orbit().seed(4);
    let team = b.orbit().seed_team("Platform", &[&u[0], &u[1]]);
    let body = patch_op(json!([
        {"op": "add", "path": "members", "value": [{"value": u[2]}, {"value": u[3]}]},
        {"op": "remove", "path": format!("members[value eq \"{}\"]", u[0])},
    ]));
    let r = b.call("PATCH", &format!("/Groups/{team}"), Some(&body));
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(members(&b, &team), sorted(&[&u[1], &u[2], &u[3]]));
    assert_eq!(team_writes(&b), 1, "one write for the whole request");
    let sent = b.orbit().bodies("PATCH", TEAM);
    assert_eq!(
        sent,
        [json!({"team": {"member_ids": [u[1], u[2], u[3]]}})],
        "the whole list, in the group's body envelope"
    );
    assert_eq!(b.orbit().team(&team).unwrap()["version"], 2);
    // Nothing to change: no write.
    let r = b.call("PATCH", &format!("/Groups/{team}"), Some(&add(&[&u[1]])));
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(team_writes(&b), 1);
}

#[test]
fn a_member_added_in_the_product_meanwhile_is_not_lost() {
    let b = orbit(MAPPING);
    let u = b.orbit().seed(3);
    let team = b.orbit().seed_team("Platform", &[&u[0]]);
    // The gateway's write waits; meanwhile someone adds a member in Orbit's own screens.
    b.orbit()
        .requests()
        .slow("PATCH", TEAM, 1, Duration::from_millis(600));
    let (path, patch) = (format!("/Groups/{team}"), add(&[&u[1]]));
    thread::scope(|s| {
        let scim = s.spawn(|| b.call("PATCH", &path, Some(&patch)).status);
        thread::sleep(Duration::from_millis(250));
        let mut change = Map::new();
        change.insert("member_ids".into(), json!([u[0], u[2]]));
        assert!(b.orbit().edit_team(&team, &change));
        assert_eq!(scim.join().unwrap(), 204);
    });
    // The stale write was refused (412), the list read again and written with both.
    assert_eq!(members(&b, &team), sorted(&[&u[0], &u[1], &u[2]]));
    assert_eq!(team_writes(&b), 2);
}

#[test]
fn concurrent_changes_through_two_gateways_lose_no_member() {
    let b = orbit(MAPPING);
    let (second, _replica) = replica(&b);
    let bases = [b.base.clone(), second];
    let u = b.orbit().seed(8);
    let team = b.orbit().seed_team("Platform", &[] as &[&str]);
    thread::scope(|s| {
        let handles: Vec<_> = u
            .iter()
            .enumerate()
            .map(|(i, user)| {
                let url = format!("{}/Groups/{team}", bases[i % 2]);
                let patch = add(&[user]);
                let b = &b;
                s.spawn(move || {
                    // An identity provider retries a 409 ("kept changing").
                    for _ in 0..3 {
                        let r = b.call("PATCH", &url, Some(&patch));
                        if r.status != 409 {
                            return r.status;
                        }
                    }
                    409
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap(), 204);
        }
    });
    let all: Vec<&str> = u.iter().map(String::as_str).collect();
    assert_eq!(members(&b, &team), sorted(&all));
}

#[test]
fn unknown_users_are_skipped_and_a_missing_group_is_404() {
    let b = orbit(MAPPING);
    let u = b.orbit().seed(2);
    let team = b.orbit().seed_team("Platform", &[&u[0]]);
    // Orbit takes any id into the list: the gateway reads the user first.
    let r = b.call(
        "PATCH",
        &format!("/Groups/{team}"),
        Some(&add(&["usr_0000000000000000", "not-an-id", &u[1]])),
    );
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(members(&b, &team), sorted(&[&u[0], &u[1]]));

    // A group that is not there.
    let r = b.call("PATCH", "/Groups/tm_0000000000000000", Some(&add(&[&u[0]])));
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(team_writes(&b), 1);
}

#[test]
fn a_list_not_read_whole_is_never_written() {
    // The mapping names a field the team record does not carry: the list the gateway would
    // write back is not one it read.
    let yaml = MAPPING.replace("legacy: $.member_ids", "legacy: $.members");
    let b = orbit(&yaml);
    let u = b.orbit().seed(2);
    let team = b.orbit().seed_team("Platform", &[&u[0]]);
    let r = b.call("PATCH", &format!("/Groups/{team}"), Some(&add(&[&u[1]])));
    assert_eq!(r.status, 502, "{:?}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains("no member list at $.members"), "{detail}");
    assert!(
        detail.contains(&u[1]),
        "says which change was not made: {detail}"
    );
    assert_eq!(team_writes(&b), 0);
    assert_eq!(members(&b, &team), [u[0].clone()]);
    // Shown without members it reads fine; with them, the same 502.
    let g = b.get(&format!("/Groups/{team}?excludedAttributes=members"));
    assert_eq!(g.status, 200, "{:?}", g.body);
    assert_eq!(b.get(&format!("/Groups/{team}")).status, 502);
}

#[test]
fn a_put_replaces_the_list_and_a_new_group_starts_with_its_members() {
    let b = orbit(MAPPING);
    let u = b.orbit().seed(3);
    let team = b.orbit().seed_team("Platform", &[&u[0], &u[1]]);
    let r = b.call(
        "PUT",
        &format!("/Groups/{team}"),
        Some(&json!({"displayName": "Platform", "members": [{"value": u[1]}, {"value": u[2]}]})),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(members(&b, &team), sorted(&[&u[1], &u[2]]));
    assert_eq!(member_ids(&r.body), sorted(&[&u[1], &u[2]]));

    let created = b.call(
        "POST",
        "/Groups",
        Some(&json!({"displayName": "Ops", "members": [{"value": u[0]}]})),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(members(&b, id), [u[0].clone()]);
    assert_eq!(b.orbit().requests().get("POST", TEAMS), 1);
}

/// Roles from teams, named as Orbit's screens name them.
const ROLES: &str = r#"  roles:
    legacy: $.role_id
    lookup: { method: GET, path: /api/v2/roles, items: $.data, id: $.id, name: $.name }
    default: Member
    ranking: [Administrator, Editor, Member, Viewer]
    from_groups:
      - { group: "Orbit Admins", role: Administrator }
      - { group: "Editors", role: Editor }
"#;

/// A gateway over `yaml` in front of Orbit at `addr`, authenticated with `token`.
fn gateway(addr: std::net::SocketAddr, yaml: &str, token: String) -> Result<Gateway, String> {
    let mut mapping = mapping::load_str("orbit-lists.yaml", yaml).map_err(|e| e.to_string())?;
    mapping.backend.base_url = format!("http://{addr}");
    mapping.backend.auth = Some(BackendAuth::Bearer(SecretSource::Value(token)));
    let mut config = Config::default();
    config.auth.token_sha256 = vec![token_digest_hex(TOKEN)];
    Gateway::new(config, mapping).map_err(|e| e.to_string())
}

#[test]
fn roles_named_by_name_are_written_as_the_products_ids() {
    let b = orbit(&format!("{MAPPING}{ROLES}"));
    let u = b.orbit().seed(2);
    let admins = b.orbit().seed_team("Orbit Admins", &[] as &[&str]);
    let editors = b.orbit().seed_team("Editors", &[] as &[&str]);
    let role = |user: &str| b.orbit().user(user).unwrap()["role_id"].clone();
    assert_eq!(role(&u[0]), json!(b.orbit().role_id("Member")));
    let r = b.call("PATCH", &format!("/Groups/{admins}"), Some(&add(&[&u[0]])));
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(role(&u[0]), json!(b.orbit().role_id("Administrator")));
    let r = b.call(
        "PATCH",
        &format!("/Groups/{editors}"),
        Some(&add(&[&u[0], &u[1]])),
    );
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(
        role(&u[0]),
        json!(b.orbit().role_id("Administrator")),
        "the highest wins"
    );
    assert_eq!(role(&u[1]), json!(b.orbit().role_id("Editor")));
    // A user created through SCIM gets the default role's id.
    let created = b.call(
        "POST",
        "/Users",
        Some(&json!({"userName": "new.user@example.com", "name": {"givenName": "New", "familyName": "User"}})),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(role(id), json!(b.orbit().role_id("Member")));
}

#[test]
fn an_unknown_role_name_stops_the_start_and_a_reload_keeps_the_running_ids() {
    let orbit = Orbit::new("scim-gateway", "orbit-secret");
    let addr = free_loopback_addr().unwrap();
    let _server = orbit.serve(addr).unwrap();
    let yaml = format!("{MAPPING}{ROLES}").replace("role: Editor }", "role: Editors }");
    let yaml = yaml.replace(
        "ranking: [Administrator, Editor,",
        "ranking: [Administrator, Editors,",
    );
    let e = gateway(addr, &yaml, orbit.issue_token())
        .err()
        .expect("refused");
    let line = yaml
        .lines()
        .position(|l| l.contains("role: Editors"))
        .unwrap()
        + 1;
    assert!(
        e.contains(&format!("orbit-lists.yaml:{line}:")),
        "names where the role is written: {e}"
    );
    assert!(
        e.contains("role \"Editors\": no legacy role has this name"),
        "{e}"
    );
    assert!(
        e.contains("the legacy API's roles are: Administrator, Editor, Member, Viewer, Billing"),
        "{e}"
    );
    // At a reload the roles are looked up again: a generation refused keeps the running one.
    let good = gateway(addr, &format!("{MAPPING}{ROLES}"), orbit.issue_token()).unwrap();
    let mut bad = mapping::load_str("orbit-lists.yaml", &yaml).unwrap();
    bad.backend.base_url = format!("http://{addr}");
    bad.backend.auth = Some(BackendAuth::Bearer(SecretSource::Value(
        orbit.issue_token(),
    )));
    let e = good
        .reloaded(good.config.clone(), bad)
        .err()
        .expect("the reload is refused")
        .to_string();
    assert!(e.contains("no legacy role has this name"), "{e}");
    // A reload whose look-up cannot reach the legacy API keeps the running ids too.
    let nowhere = free_loopback_addr().unwrap();
    let mut unreachable =
        mapping::load_str("orbit-lists.yaml", &format!("{MAPPING}{ROLES}")).unwrap();
    unreachable.backend.base_url = format!("http://{nowhere}");
    let e = good
        .reloaded(good.config.clone(), unreachable)
        .err()
        .expect("the reload is refused")
        .to_string();
    assert!(
        e.contains("the running configuration keeps its legacy ids"),
        "{e}"
    );
    assert!(
        e.contains(&format!("GET http://{nowhere}/api/v2/roles")),
        "{e}"
    );
}

/// A gateway serving (SCIM, admin and the role look-up task) in front of `addr`, where nothing
/// may listen yet.
struct Serving {
    live: Live,
    scim: String,
    admin: String,
    agent: ureq::Agent,
    _server: RunningServer,
}

impl Serving {
    fn start(addr: std::net::SocketAddr, yaml: &str, token: String) -> Serving {
        let mut mapping = mapping::load_str("orbit-lists.yaml", yaml).unwrap();
        mapping.backend.base_url = format!("http://{addr}");
        mapping.backend.auth = Some(BackendAuth::Bearer(SecretSource::Value(token)));
        let mut config = Config::default();
        config.auth.token_sha256 = vec![token_digest_hex(TOKEN)];
        config.listen.address = free_loopback_addr().unwrap();
        let admin = free_loopback_addr().unwrap();
        config.admin.address = admin.to_string();
        config.admin.counts_interval_seconds = 0;
        let scim = config.listen.address;
        let live = Live::new(Gateway::new(config, mapping).expect("the gateway starts"));
        let (services, addrs) = gateway_services(&live);
        let server = start(server_conf(0, 1), services, &addrs).unwrap();
        Serving {
            live,
            scim: format!("http://{scim}/scim/v2"),
            admin: format!("http://{admin}"),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .build()
                .new_agent(),
            _server: server,
        }
    }

    /// An admin endpoint's status and text.
    fn admin(&self, path: &str) -> (u16, String) {
        let response = self
            .agent
            .get(format!("{}{path}", self.admin))
            .call()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.into_body().read_to_string().unwrap())
    }

    /// A SCIM request's status, `Retry-After` and body.
    fn scim(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Option<String>, Value) {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.scim))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/scim+json");
        let bytes = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        let response = self.agent.run(request.body(bytes).unwrap()).unwrap();
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_string());
        let text = response.into_body().read_to_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, retry_after, body)
    }

    /// Waits (up to `limit`) until `/readyz` answers 200.
    fn until_ready(&self, limit: Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if self.admin("/readyz").0 == 200 {
                return true;
            }
            thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

#[test]
fn a_gateway_started_before_orbit_waits_for_the_roles_then_writes_their_ids() {
    let orbit = Orbit::new("scim-gateway", "orbit-secret");
    let addr = free_loopback_addr().unwrap();
    let token = orbit.issue_token();
    // Nothing listens at Orbit's address yet: the gateway starts all the same.
    let g = Serving::start(addr, &format!("{MAPPING}{ROLES}"), token.clone());
    let (status, text) = g.admin("/readyz");
    assert_eq!(status, 503, "{text}");
    assert!(
        text.contains("the legacy role look-up (groups.roles.lookup) is pending"),
        "{text}"
    );
    assert!(text.contains("cannot connect to the legacy API"), "{text}");
    assert!(!text.contains(&token), "{text}");
    assert_eq!(g.admin("/healthz").0, 200, "alive while not ready");
    // A create needs the default role's id: 503, to be sent again.
    let new_user = json!({"userName": "early@example.com", "name": {"givenName": "Early", "familyName": "Bird"}});
    let (status, retry_after, body) = g.scim("POST", "/Users", Some(&new_user));
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry_after.as_deref(), Some("5"));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("needs the legacy role ids"),
        "{body}"
    );
    // Orbit listens: the roles are looked up in the background, and the gateway is ready.
    let _orbit = orbit.serve(addr).unwrap();
    assert!(
        g.until_ready(Duration::from_secs(10)),
        "{:?}",
        g.admin("/readyz")
    );
    assert_eq!(
        g.live.reloads().snapshot(),
        (1, 0),
        "installed as a reload is"
    );
    let (status, _, body) = g.scim("POST", "/Users", Some(&new_user));
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap();
    assert_eq!(
        orbit.user(id).unwrap()["role_id"],
        json!(orbit.role_id("Member")),
        "the default role written as Orbit's id"
    );
}

/// A front for Orbit that answers 503 to the list of its roles while `failing` (a product still
/// starting) and passes every other request on, one request per connection.
fn failing_roles_front(
    orbit: std::net::SocketAddr,
    failing: Arc<AtomicBool>,
) -> std::net::SocketAddr {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let failing = failing.clone();
            thread::spawn(move || {
                let mut reader = BufReader::new(client.try_clone().unwrap());
                let mut head = String::new();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    if line == "\r\n" {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                    if !lower.starts_with("connection:") {
                        head.push_str(&line);
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                // The list only: a role read by id passes.
                let lists_roles =
                    head.contains(" /api/v2/roles ") || head.contains(" /api/v2/roles?");
                if lists_roles && failing.load(Ordering::SeqCst) {
                    let _ = client.write_all(
                        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                    return;
                }
                let mut upstream = std::net::TcpStream::connect(orbit).unwrap();
                head.push_str("connection: close\r\n\r\n");
                upstream.write_all(head.as_bytes()).unwrap();
                upstream.write_all(&body).unwrap();
                let _ = std::io::copy(&mut upstream, &mut client);
            });
        }
    });
    addr
}

#[test]
fn while_the_roles_are_pending_what_needs_no_role_id_works() {
    let orbit = Orbit::new("scim-gateway", "orbit-secret");
    let orbit_addr = free_loopback_addr().unwrap();
    let _orbit = orbit.serve(orbit_addr).unwrap();
    let u = orbit.seed(2);
    let admins = orbit.seed_team("Orbit Admins", &[] as &[&str]);
    let support = orbit.seed_team("Support", &[] as &[&str]);
    let failing = Arc::new(AtomicBool::new(true));
    let front = failing_roles_front(orbit_addr, failing.clone());
    let g = Serving::start(front, &format!("{MAPPING}{ROLES}"), orbit.issue_token());
    let (status, text) = g.admin("/readyz");
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("answered 503"), "{text}");
    // Reads, filters and a membership change that gives no role work.
    let (status, _, body) = g.scim("GET", &format!("/Users/{}", u[0]), None);
    assert_eq!(status, 200, "{body}");
    let email = orbit.user(&u[0]).unwrap()["email"]
        .as_str()
        .unwrap()
        .to_string();
    let filter = format!("/Users?filter=userName%20eq%20%22{email}%22");
    let (status, _, body) = g.scim("GET", &filter, None);
    assert_eq!(
        (status, body["totalResults"].clone()),
        (200, json!(1)),
        "{body}"
    );
    let (status, _, body) = g.scim("PATCH", &format!("/Groups/{support}"), Some(&add(&[&u[0]])));
    assert_eq!(status, 204, "{body}");
    // One that gives a role: 503 before anything is written.
    let writes = orbit.requests().get("PATCH", TEAM);
    let (status, retry_after, body) =
        g.scim("PATCH", &format!("/Groups/{admins}"), Some(&add(&[&u[1]])));
    assert_eq!(status, 503, "{body}");
    assert!(retry_after.is_some());
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("gives its members a role"),
        "{body}"
    );
    assert_eq!(
        orbit.requests().get("PATCH", TEAM),
        writes,
        "nothing written"
    );
    // The product is up: the roles are looked up, and the same change goes through.
    failing.store(false, Ordering::SeqCst);
    assert!(
        g.until_ready(Duration::from_secs(10)),
        "{:?}",
        g.admin("/readyz")
    );
    let (status, _, body) = g.scim("PATCH", &format!("/Groups/{admins}"), Some(&add(&[&u[1]])));
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        orbit.user(&u[1]).unwrap()["role_id"],
        json!(orbit.role_id("Administrator"))
    );
}

#[test]
fn refused_credentials_start_the_gateway_not_ready_and_a_reload_waits_too() {
    let orbit = Orbit::new("scim-gateway", "orbit-secret");
    let addr = free_loopback_addr().unwrap();
    let _server = orbit.serve(addr).unwrap();
    // The look-up refused (401): started, not ready, saying why, without the token.
    let token = "not-a-token-of-orbit".to_string();
    let g = Serving::start(addr, &format!("{MAPPING}{ROLES}"), token.clone());
    let (status, text) = g.admin("/readyz");
    assert_eq!(status, 503, "{text}");
    assert!(text.contains("answered 401"), "{text}");
    assert!(text.contains("refused the backend's credentials"), "{text}");
    assert!(!text.contains(&token), "{text}");
    // A reload while still waiting installs a generation that waits too (and looks again).
    let pending = g.live.current();
    let reloaded = pending.reloaded(pending.config.clone(), (*pending.mapping).clone());
    assert!(reloaded.is_ok(), "{:?}", reloaded.err());
}

/// `scim_gateway_backend_token_fetches_total{outcome}` as `env`'s admin listener shows it.
fn token_fetches(env: &Env, outcome: &str) -> f64 {
    let (_, text) = env.admin_get("/metrics");
    let series = format!("scim_gateway_backend_token_fetches_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series)?.parse().ok())
        .unwrap_or_else(|| panic!("no {series}in\n{text}"))
}

#[test]
fn the_role_look_ups_own_access_token_is_counted() {
    // mappings/orbit.yaml looks Orbit's roles up at start, with an OAuth 2.0 token of its own.
    let env = Env::start(Legacy::Orbit);
    assert_eq!(env.orbit().tokens_issued(), 1, "the look-up's token");
    assert_eq!(token_fetches(&env, "fetched"), 1.0);
    assert_eq!(token_fetches(&env, "refused"), 0.0);
}

/// mappings/orbit-roles.yaml: Orbit's roles as groups, a user taken out of its role put in
/// `otherwise: { name: Member }`.
fn orbit_roles_yaml() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("mappings/orbit-roles.yaml")).unwrap()
}

/// A user's one role in Orbit, by id.
fn role_of(orbit: &Orbit, user: &str) -> Value {
    orbit.user(user).unwrap()["role_id"].clone()
}

/// A SCIM PATCH taking `user` out of a group.
fn remove(user: &str) -> Value {
    patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}]))
}

#[test]
fn the_otherwise_group_is_looked_up_at_start_and_waited_for_when_orbit_cannot_answer() {
    let orbit = Orbit::new("scim-gateway", "orbit-secret");
    let orbit_addr = free_loopback_addr().unwrap();
    let _orbit = orbit.serve(orbit_addr).unwrap();
    let u = orbit.seed(2);
    let (editor, viewer) = (orbit.role_id("Editor"), orbit.role_id("Viewer"));
    for user in &u {
        let mut changes = Map::new();
        changes.insert("role_id".into(), json!(editor));
        assert!(orbit.edit_user(user, &changes));
    }
    // Orbit lists no roles yet: the gateway starts, not ready, saying what it waits for.
    let failing = Arc::new(AtomicBool::new(true));
    let front = failing_roles_front(orbit_addr, failing.clone());
    let g = Serving::start(front, &orbit_roles_yaml(), orbit.issue_token());
    let (status, text) = g.admin("/readyz");
    assert_eq!(status, 503, "{text}");
    assert!(
        text.contains("groups.membership.user_attribute.otherwise")
            && text.contains("answered 503"),
        "{text}"
    );
    // What needs no Member id works: reads, and a user's groups.
    let (status, _, body) = g.scim("GET", &format!("/Users/{}", u[0]), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["groups"][0]["value"], json!(editor));
    // Taking a user out of Editor writes Member: 503, to be sent again, nothing written.
    let writes = orbit.requests().get("PATCH", USER);
    let (status, retry_after, body) =
        g.scim("PATCH", &format!("/Groups/{editor}"), Some(&remove(&u[0])));
    assert_eq!(status, 503, "{body}");
    assert_eq!(retry_after.as_deref(), Some("5"));
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("groups.membership.user_attribute.otherwise"),
        "{body}"
    );
    assert_eq!(
        orbit.requests().get("PATCH", USER),
        writes,
        "nothing written"
    );
    // Orbit lists its roles: Member is looked up once, and the unassignment goes through
    // without listing them again.
    failing.store(false, Ordering::SeqCst);
    assert!(
        g.until_ready(Duration::from_secs(10)),
        "{:?}",
        g.admin("/readyz")
    );
    for user in &u {
        orbit.requests().reset();
        let (status, _, body) = g.scim("PATCH", &format!("/Groups/{editor}"), Some(&remove(user)));
        assert_eq!(status, 204, "{body}");
        assert_eq!(role_of(&orbit, user), json!(orbit.role_id("Member")));
        assert_eq!(
            orbit.requests().get("GET", orbit::ROLES),
            0,
            "the roles list read again"
        );
    }
    // In Member, a user counts as in no role: Viewer replaces it.
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": u[0]}]}]));
    let (status, _, body) = g.scim("PATCH", &format!("/Groups/{viewer}"), Some(&add));
    assert_eq!(status, 204, "{body}");
    assert_eq!(role_of(&orbit, &u[0]), json!(viewer));
}

#[test]
fn an_otherwise_name_no_group_has_or_a_per_tenant_groups_list_stops_the_start() {
    let orbit = Orbit::new("scim-gateway", "orbit-secret");
    let addr = free_loopback_addr().unwrap();
    let _server = orbit.serve(addr).unwrap();
    let yaml = orbit_roles_yaml().replace(
        "otherwise: { name: Member }",
        "otherwise: { name: Members }",
    );
    let e = gateway(addr, &yaml, orbit.issue_token())
        .err()
        .expect("refused");
    assert!(
        e.contains("groups.membership.user_attribute.otherwise: group \"Members\""),
        "{e}"
    );
    assert!(
        e.contains("the legacy API has no group named \"Members\""),
        "{e}"
    );
    assert!(e.contains("otherwise: { id: … }"), "{e}");
    // Looked up once for every tenant: a groups list that names the tenant cannot answer it.
    let per_tenant =
        orbit_roles_yaml().replacen("backend:\n", "backend:\n  tenant: { query: org }\n", 1);
    let e = gateway(addr, &per_tenant, orbit.issue_token())
        .err()
        .expect("refused");
    assert!(
        e.contains("the groups list names the tenant") && e.contains("otherwise: { id: … }"),
        "{e}"
    );
}
