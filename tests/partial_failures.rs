//! Requests that take several legacy calls, when the legacy API fails part way, and POSTs the
//! identity provider sends again: over real HTTP, against the example APIs told to fail one
//! endpoint (`RequestCounts::fail`) or to answer late (`RequestCounts::slow`). The IdP gets a
//! SCIM error that says what was applied and what was not; sending the same request again
//! completes it (member changes are safe to repeat) or starts it afresh (a create that failed
//! part way is undone); a create whose answer cannot be read is found and undone (Keystone
//! told to answer creates without the record); and a POST sent again never creates a second
//! user or group.

mod common;

use std::time::{Duration, Instant};

use common::scim::{create_group, member_ids, patch_op, sorted};
use common::{Answer, Env, Legacy};
use scim_gateway_example_apis::acme_hr::{TEAM_MEMBER, TEAM_MEMBERS, USERS};
use scim_gateway_example_apis::crewbase::{DEACTIVATE, PEOPLE};
use scim_gateway_example_apis::keystone;
use serde_json::{json, Value};

const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

fn members(ids: &[&String]) -> Value {
    Value::Array(ids.iter().map(|id| json!({ "value": id })).collect())
}

/// The sorted member ids of group `group`, read through the gateway.
fn members_of(env: &Env, group: &str) -> Vec<String> {
    let r = env.get(&format!("/Groups/{group}"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    member_ids(&r.body)
}

fn detail(answer: &Answer) -> &str {
    answer.body["detail"].as_str().unwrap_or_default()
}

fn assert_scim_error(answer: &Answer, status: u16) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_eq!(answer.body["schemas"][0], ERROR_SCHEMA, "{:?}", answer.body);
    assert_eq!(
        answer.body["status"],
        status.to_string(),
        "{:?}",
        answer.body
    );
}

fn groups_named(env: &Env, name: &str) -> u64 {
    let r = env.get(&format!(
        "/Groups?excludedAttributes=members&filter=displayName+eq+%22{name}%22"
    ));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["totalResults"].as_u64().unwrap()
}

fn users_named(env: &Env, name: &str) -> Vec<Value> {
    let r = env.get(&format!("/Users?filter=userName+eq+%22{name}%22"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["Resources"].as_array().cloned().unwrap_or_default()
}

fn new_user(name: &str, active: bool) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": "Pat", "familyName": "Lee"},
        "emails": [{"type": "work", "value": name, "primary": true}],
        "active": active,
    })
}

#[test]
fn member_adds_that_fail_part_way_say_what_was_applied_and_the_same_patch_completes_them() {
    let env = Env::start(Legacy::AcmeHr);
    let u = env.seed_users(3);
    let group = create_group(&env, "Ops");
    // The product's member service fails after the first add.
    env.acme().requests().fail("POST", TEAM_MEMBERS, 1, 1);
    let add_all = patch_op(
        json!([{"op": "add", "path": "members", "value": members(&[&u[0], &u[1], &u[2]])}]),
    );
    let r = env.patch(&format!("/Groups/{group}"), &add_all);
    assert_scim_error(&r, 502);
    let d = detail(&r);
    assert!(
        d.contains(&format!(
            "Not applied: adding users {}, {} to group {group}",
            u[1], u[2]
        )),
        "{d}"
    );
    assert!(
        d.contains(&format!(
            "Already applied: added user {} to group {group}",
            u[0]
        )),
        "{d}"
    );
    assert_eq!(
        members_of(&env, &group),
        sorted(&[&u[0]]),
        "exactly what the error says"
    );

    // The IdP sends the same request again: the first add is repeated harmlessly.
    let again = env.patch(&format!("/Groups/{group}"), &add_all);
    assert_eq!(again.status, 204, "{:?}", again.body);
    assert_eq!(members_of(&env, &group), sorted(&[&u[0], &u[1], &u[2]]));
}

#[test]
fn a_remove_that_fails_after_an_add_is_reported_and_completed_by_a_retry() {
    let env = Env::start(Legacy::AcmeHr);
    let u = env.seed_users(2);
    let group = create_group(&env, "Support");
    let r = env.patch(
        &format!("/Groups/{group}"),
        &patch_op(json!([{"op": "add", "path": "members", "value": members(&[&u[0]])}])),
    );
    assert_eq!(r.status, 204, "{:?}", r.body);
    // Removes are idempotent and retried by the gateway: fail every attempt.
    env.acme().requests().fail("DELETE", TEAM_MEMBER, 0, 3);
    let swap = patch_op(json!([
        {"op": "add", "path": "members", "value": members(&[&u[1]])},
        {"op": "remove", "path": format!("members[value eq \"{}\"]", u[0])},
    ]));
    let r = env.patch(&format!("/Groups/{group}"), &swap);
    assert_scim_error(&r, 502);
    let d = detail(&r);
    assert!(
        d.contains(&format!(
            "Not applied: removing user {} from group {group}",
            u[0]
        )),
        "{d}"
    );
    assert!(
        d.contains(&format!(
            "Already applied: added user {} to group {group}",
            u[1]
        )),
        "{d}"
    );
    assert_eq!(members_of(&env, &group), sorted(&[&u[0], &u[1]]));

    let again = env.patch(&format!("/Groups/{group}"), &swap);
    assert_eq!(again.status, 204, "{:?}", again.body);
    assert_eq!(members_of(&env, &group), sorted(&[&u[1]]));
}

#[test]
fn a_group_create_that_fails_part_way_is_undone_so_the_same_post_creates_it() {
    let env = Env::start(Legacy::AcmeHr);
    let u = env.seed_users(2);
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "Field Sales",
        "members": members(&[&u[0], &u[1]]),
    });
    env.acme().requests().fail("POST", TEAM_MEMBERS, 1, 1);
    let r = env.post("/Groups", &body);
    assert_scim_error(&r, 502);
    let d = detail(&r);
    assert!(d.contains("was deleted again"), "{d}");
    assert!(d.contains("nothing was applied"), "{d}");
    assert!(
        !d.contains("Already applied"),
        "nothing is left applied: {d}"
    );
    assert_eq!(
        groups_named(&env, "Field+Sales"),
        0,
        "no half-made group is left"
    );

    let again = env.post("/Groups", &body);
    assert_eq!(again.status, 201, "{:?}", again.body);
    let id = again.body["id"].as_str().unwrap();
    assert_eq!(members_of(&env, id), sorted(&[&u[0], &u[1]]));
    assert_eq!(groups_named(&env, "Field+Sales"), 1);
}

#[test]
fn a_group_posted_again_is_409_and_the_legacy_api_is_not_asked_to_create_it_twice() {
    let env = Env::start(Legacy::AcmeHr);
    let id = create_group(&env, "Legal");
    let r = env.post(
        "/Groups",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "legal"}),
    );
    assert_scim_error(&r, 409);
    assert_eq!(r.body["scimType"], "uniqueness");
    assert!(detail(&r).contains(&format!("group {id}")), "{:?}", r.body);
    assert_eq!(env.acme().requests().get("POST", "/api/v1/teams"), 1);
}

#[test]
fn a_user_post_sent_again_after_a_lost_answer_finds_the_user_instead_of_creating_it_twice() {
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        |m| m.backend.timeout = Duration::from_millis(300),
        |_| {},
    );
    let name = "lost.answer@example.com";
    // The product creates the user, but answers after the gateway gave up on it.
    env.acme()
        .requests()
        .slow("POST", USERS, 1, Duration::from_millis(900));
    let first = env.post("/Users", &new_user(name, true));
    assert_scim_error(&first, 504);
    let deadline = Instant::now() + Duration::from_secs(5);
    while users_named(&env, name).is_empty() {
        assert!(Instant::now() < deadline, "the slow create never landed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let id = users_named(&env, name)[0]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // The IdP never saw an answer and sends the POST again.
    let again = env.post("/Users", &new_user(name, true));
    assert_scim_error(&again, 409);
    assert_eq!(again.body["scimType"], "uniqueness");
    assert!(
        detail(&again).contains(&format!("user {id}")),
        "{:?}",
        again.body
    );
    assert_eq!(users_named(&env, name).len(), 1);
    assert_eq!(
        env.acme().requests().get("POST", USERS),
        2,
        "the second POST's create was refused by Acme HR (its mapping says `unique: userName`), \
         then the user looked up to be named"
    );
}

#[test]
fn concurrent_posts_of_one_user_name_create_it_once() {
    // The gateway's own look-up first (Acme HR's refusal of a taken login is what stops them
    // with the shipped mapping's `unique: userName`: tests/unique_creates.rs).
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        |m| m.users.endpoints.create_unique = false,
        |_| {},
    );
    let name = "twice@example.com";
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let env = &env;
        let handles: Vec<_> = (0..6)
            .map(|_| s.spawn(move || env.post("/Users", &new_user(name, true)).status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(users_named(&env, name).len(), 1);
    assert_eq!(
        env.acme().requests().get("POST", USERS),
        1,
        "the gateway, not the legacy API's own rule, stopped the duplicates"
    );
}

#[test]
fn an_inactive_user_whose_deactivation_fails_is_reported_and_repaired_by_the_idps_next_steps() {
    let env = Env::start(Legacy::Crewbase);
    let name = "half.made@example.com";
    env.crewbase().requests().fail("POST", DEACTIVATE, 0, 1);
    let r = env.post("/Users", &new_user(name, false));
    assert_scim_error(&r, 502);
    let found = users_named(&env, name);
    assert_eq!(found.len(), 1, "the create itself went through");
    let id = found[0]["id"].as_str().unwrap().to_string();
    let d = detail(&r);
    assert!(
        d.contains(&format!("Not applied: deactivating user {id}")),
        "{d}"
    );
    // Crewbase's mapping has no delete endpoint for people and no deleted marker: the create
    // is undone as far as it can be, by deactivating the person.
    assert!(
        d.contains(&format!("The user created as id {id} was deactivated")),
        "{d}"
    );
    assert!(d.contains("409"), "{d}");
    assert!(
        d.contains(&format!(
            "Already applied: created user {id}, deactivated user {id}"
        )),
        "{d}"
    );
    assert_eq!(found[0]["active"], false);

    // The IdP's retry is refused as a duplicate (no second person), then its match by
    // userName finds the user, and its update leaves it inactive.
    let again = env.post("/Users", &new_user(name, false));
    assert_scim_error(&again, 409);
    // Crewbase refuses the second person itself (`unique: userName`).
    assert_eq!(env.crewbase().requests().get("POST", PEOPLE), 2);
    assert_eq!(users_named(&env, name).len(), 1);
    let r = env.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}])),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["active"], false);
}

#[test]
fn a_user_create_whose_answer_cannot_be_read_is_undone_and_the_retry_creates_it() {
    let env = Env::start(Legacy::Keystone);
    let name = "unread.answer@example.com";
    // Keystone creates the user but answers 200 {"status": "ok"}.
    env.keystone().break_create_answers(1);
    let r = env.post("/Users", &new_user(name, true));
    assert_scim_error(&r, 502);
    let d = detail(&r);
    assert!(d.contains("its answer could not be read"), "{d}");
    assert!(
        d.contains("was deleted again") && d.contains("sending the request again creates it"),
        "{d}"
    );
    assert!(!d.contains("Already applied"), "{d}");
    assert!(
        env.keystone().user_by_login(name).is_none(),
        "no half-created user is left"
    );

    let again = env.post("/Users", &new_user(name, true));
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(users_named(&env, name).len(), 1);
    assert_eq!(env.keystone().requests().get("POST", keystone::USERS), 2);
}

#[test]
fn without_a_delete_endpoint_an_unreadable_create_is_marked_deleted_and_the_retry_restores_it() {
    let env = Env::start_tweaked(
        Legacy::Keystone,
        |m| m.users.endpoints.delete = None,
        |_| {},
    );
    let name = "unread.restored@example.com";
    env.keystone().break_create_answers(1);
    let r = env.post("/Users", &new_user(name, true));
    assert_scim_error(&r, 502);
    let d = detail(&r);
    let left = env
        .keystone()
        .user_by_login(name)
        .expect("the record is kept");
    let id = left["id"].to_string();
    assert!(
        d.contains(&format!(
            "The user created as id {id} was deactivated and marked deleted"
        )) && d.contains("sending the request again restores it"),
        "{d}"
    );
    assert_eq!(left["state"], "deleted");
    let gone = env.get(&format!("/Users/{id}"));
    assert_eq!(gone.status, 404, "SCIM no longer shows it: {:?}", gone.body);

    let again = env.post("/Users", &new_user(name, true));
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body["id"], id.as_str(), "the same record, restored");
    assert_eq!(again.body["active"], true);
    // The retry's create refused by Keystone (`unique: userName`), then the record restored.
    assert_eq!(env.keystone().requests().get("POST", keystone::USERS), 2);
}
