//! Creating users when the legacy API refuses a taken userName itself
//! (`users.endpoints.create.unique: userName`): one legacy call per new user, the 409 that names
//! the user holding the userName, a user deleted through SCIM restored, concurrent creates of one
//! userName; and the look-up first that stays for a mapping without the key (or a legacy API
//! that does not refuse duplicates). Over real sockets, counting the calls the legacy API
//! received.

mod common;

use std::time::Duration;

use common::{Env, Legacy, TOKEN};
use scim_gateway_example_apis::{acme_hr, orbit};
use serde_json::{json, Value};

fn user(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"type": "work", "value": "ada@example.com", "primary": true}],
        "active": true
    })
}

/// The calls Acme HR received since `from` (an index into its targets), as `METHOD path?query`.
fn acme_calls_since(env: &Env, from: usize) -> Vec<String> {
    env.acme().requests().targets()[from..].to_vec()
}

fn acme_calls(env: &Env) -> usize {
    env.acme().requests().targets().len()
}

/// `n` POSTs of `body` at once; their statuses and bodies.
fn post_at_once(env: &Env, n: usize, body: &Value) -> Vec<(u16, Value)> {
    std::thread::scope(|s| {
        let posts: Vec<_> = (0..n)
            .map(|_| {
                s.spawn(|| {
                    let a = env.call_with(
                        "POST",
                        "/Users",
                        Some(body),
                        Some(&format!("Bearer {TOKEN}")),
                    );
                    (a.status, a.body)
                })
            })
            .collect();
        posts
            .into_iter()
            .map(|p| p.join().expect("a POST thread"))
            .collect()
    })
}

#[test]
fn a_new_user_costs_one_legacy_call() {
    let env = Env::start(Legacy::AcmeHr);
    let from = acme_calls(&env);
    let made = env.post("/Users", &user("ada.lovelace"));
    assert_eq!(made.status, 201, "{:?}", made.body);
    assert_eq!(made.body["userName"], "ada.lovelace");
    assert_eq!(
        acme_calls_since(&env, from),
        vec!["POST /api/v1/users".to_string()],
        "no look-up before the create"
    );
    let id: u64 = made.body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(env.acme().user(id).unwrap()["login"], "ada.lovelace");
}

#[test]
fn a_taken_user_name_is_a_409_that_names_its_user() {
    let env = Env::start(Legacy::AcmeHr);
    let made = env.post("/Users", &user("grace.hopper"));
    assert_eq!(made.status, 201, "{:?}", made.body);
    let id = made.body["id"].as_str().unwrap().to_string();
    let users = env.acme().user_count();

    let from = acme_calls(&env);
    // SCIM compares userNames ignoring case, and so does Acme HR.
    let again = env.post("/Users", &user("Grace.Hopper"));
    assert_eq!(again.status, 409, "{:?}", again.body);
    assert_eq!(again.body["scimType"], "uniqueness");
    assert_eq!(
        again.body["detail"],
        format!("userName \"Grace.Hopper\" is already taken by user {id}")
    );
    let calls = acme_calls_since(&env, from);
    assert_eq!(
        calls.len(),
        2,
        "the refused create, then the look-up: {calls:?}"
    );
    assert_eq!(calls[0], "POST /api/v1/users");
    assert!(calls[1].starts_with("GET /api/v1/users?"), "{calls:?}");
    assert_eq!(env.acme().user_count(), users, "no second user");
}

#[test]
fn a_user_deleted_through_scim_is_restored_by_a_new_create() {
    let env = Env::start(Legacy::AcmeHr);
    let made = env.post("/Users", &user("alan.turing"));
    assert_eq!(made.status, 201, "{:?}", made.body);
    let id = made.body["id"].as_str().unwrap().to_string();
    assert_eq!(env.delete(&format!("/Users/{id}")).status, 204);
    let n: u64 = id.parse().unwrap();
    assert_eq!(env.acme().user(n).unwrap()["status"], "archived");

    let mut back = user("alan.turing");
    back["title"] = json!("Cryptanalyst");
    let restored = env.post("/Users", &back);
    assert_eq!(restored.status, 201, "{:?}", restored.body);
    assert_eq!(
        restored.body["id"],
        id.as_str(),
        "the same user, brought back"
    );
    assert_eq!(restored.body["active"], true);
    assert_eq!(restored.body["title"], "Cryptanalyst");
    let stored = env.acme().user(n).unwrap();
    assert_eq!(stored["status"], "enabled");
    assert_eq!(stored["job_title"], "Cryptanalyst");
    assert_eq!(env.get(&format!("/Users/{id}")).status, 200);
}

#[test]
fn concurrent_creates_of_one_user_name_make_one_user() {
    let env = Env::start(Legacy::AcmeHr);
    let users = env.acme().user_count();
    // Each create waits in the legacy API, so that they overlap.
    env.acme()
        .requests()
        .slow("POST", acme_hr::USERS, 6, Duration::from_millis(150));
    let answers = post_at_once(&env, 6, &user("katherine.johnson"));
    let made: Vec<_> = answers.iter().filter(|(s, _)| *s == 201).collect();
    assert_eq!(made.len(), 1, "{answers:?}");
    let id = made[0].1["id"].as_str().unwrap();
    for (status, body) in answers.iter().filter(|(s, _)| *s != 201) {
        assert_eq!(*status, 409, "{body:?}");
        assert_eq!(
            body["detail"],
            format!("userName \"katherine.johnson\" is already taken by user {id}")
        );
    }
    assert_eq!(env.acme().user_count(), users + 1);
}

#[test]
fn without_the_key_the_user_name_is_looked_up_first() {
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        |m| m.users.endpoints.create_unique = false,
        |_| {},
    );
    let from = acme_calls(&env);
    let made = env.post("/Users", &user("edsger.dijkstra"));
    assert_eq!(made.status, 201, "{:?}", made.body);
    let id = made.body["id"].as_str().unwrap().to_string();
    let calls = acme_calls_since(&env, from);
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert!(calls[0].starts_with("GET /api/v1/users?"), "{calls:?}");
    assert_eq!(calls[1], "POST /api/v1/users");

    let from = acme_calls(&env);
    let again = env.post("/Users", &user("EDSGER.dijkstra"));
    assert_eq!(again.status, 409, "{:?}", again.body);
    assert_eq!(
        again.body["detail"],
        format!("userName \"EDSGER.dijkstra\" is already taken by user {id}")
    );
    let calls = acme_calls_since(&env, from);
    assert_eq!(calls.len(), 1, "the look-up only: {calls:?}");
    assert!(calls[0].starts_with("GET /api/v1/users?"), "{calls:?}");
}

/// Orbit lets two users share a username: the gateway's look-up first, under the lock of the
/// userName, is all that keeps one userName to one user.
#[test]
fn concurrent_creates_on_an_api_that_allows_duplicates_make_one_user() {
    let env = Env::start(Legacy::Orbit);
    let users_before = env.get("/Users?count=0").body["totalResults"]
        .as_u64()
        .unwrap();
    env.orbit()
        .requests()
        .slow("POST", orbit::USERS, 5, Duration::from_millis(150));
    let answers = post_at_once(&env, 5, &user("barbara.liskov@example.com"));
    let made = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(made, 1, "{answers:?}");
    assert!(
        answers.iter().all(|(s, _)| *s == 201 || *s == 409),
        "{answers:?}"
    );
    let users_after = env.get("/Users?count=0").body["totalResults"]
        .as_u64()
        .unwrap();
    assert_eq!(users_after, users_before + 1);
    // And a different userName does not wait for them.
    let other = env.post("/Users", &user("frances.allen@example.com"));
    assert_eq!(other.status, 201, "{:?}", other.body);
}

#[test]
fn check_refuses_the_key_without_a_rule_for_the_duplicate_answer() {
    let yaml = r#"name: unique
backend:
  base_url: http://legacy.internal
users:
  id: $.id
  on_delete: delete
  endpoints:
    create: { method: POST, path: /users, unique: userName }
    get: { method: GET, path: "/users/{id}" }
    update: { method: PUT, path: "/users/{id}" }
    delete: { method: DELETE, path: "/users/{id}" }
    list: { method: GET, path: /users, items: $.data, pagination: { style: none } }
  attributes:
    - { scim: userName, legacy: $.login }
  errors:
    rules:
      - { status: 422, scim_status: 400, scim_type: invalidValue }
"#;
    let err = scim_gateway::mapping::load_str("m.yaml", yaml)
        .expect_err("unique without a uniqueness rule is refused")
        .to_string();
    assert!(
        err.contains("m.yaml:8:51: users.endpoints.create.unique: unique: userName leaves"),
        "{err}"
    );
    assert!(err.contains("fix: add to users.errors.rules"), "{err}");

    let fixed = yaml.replace(
        "      - { status: 422, scim_status: 400",
        "      - { status: 409, scim_status: 409, scim_type: uniqueness }\n      - { status: 422, scim_status: 400",
    );
    let m = scim_gateway::mapping::load_str("m.yaml", &fixed).expect("the rule makes it valid");
    assert!(m.users.endpoints.create_unique);

    let misplaced = fixed.replace(
        "get: { method: GET, path: \"/users/{id}\" }",
        "get: { method: GET, path: \"/users/{id}\", unique: userName }",
    );
    let err = scim_gateway::mapping::load_str("m.yaml", &misplaced)
        .expect_err("unique on get is refused")
        .to_string();
    assert!(
        err.contains("users.endpoints.get.unique: `unique` only applies to users.endpoints.create"),
        "{err}"
    );
}
