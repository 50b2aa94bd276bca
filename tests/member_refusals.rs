//! Member changes the legacy API refuses, over real sockets: a refused add is "unknown member,
//! skipped" only when the user really does not exist; "already a member" (a refusal the
//! mapping translates to 409) is done; any other refusal for a user that exists is an error the
//! identity provider sees (with what was and was not applied); removing a non-member is done.
//! The provisioning log's line for each member says what the identity provider was told: `ok`,
//! `skipped` or `error` with the status it got. Keystone refuses in each of these ways: 422
//! "must exist", 422 "has already been taken", 403 "user is locked".

mod common;

use common::scim::{create_group, member_ids, patch_op};
use common::{logs, Answer, Env, Legacy};
use scim_gateway::mapping::plan::IdFormat;
use scim_gateway::mapping::{self, Mapping};
use scim_gateway_example_apis::acme_hr::{TEAM_MEMBER, TEAM_MEMBERS};
use serde_json::{json, Value};

fn add_members(ids: &[&str]) -> Value {
    let members: Vec<Value> = ids.iter().map(|m| json!({ "value": m })).collect();
    patch_op(json!([{"op": "add", "path": "members", "value": members}]))
}

fn remove_member(id: &str) -> Value {
    patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]))
}

/// A PATCH sent with its own request id, to find its log lines.
fn patch_as(env: &Env, request_id: &str, path: &str, body: &Value) -> Answer {
    env.call_with_headers(
        "PATCH",
        path,
        Some(body),
        Some(&format!("Bearer {}", common::TOKEN)),
        &[("X-Request-Id", request_id)],
    )
}

fn request_id(test: &str) -> String {
    format!("{test}-{}", uuid::Uuid::new_v4().simple())
}

fn line(operation: &str, outcome: &str, status: u64) -> (String, String, u64) {
    (operation.to_string(), outcome.to_string(), status)
}

/// (operation, outcome, scim_status) of each member line of request `rid`.
fn member_outcomes(rid: &str) -> Vec<(String, String, u64)> {
    logs::member_lines(rid)
        .into_iter()
        .map(|(op, outcome, status, _)| (op, outcome, status))
        .collect()
}

fn declare_integer_user_ids(m: &mut Mapping) {
    m.users.id_format = Some(IdFormat::Integer);
}

/// No form declared for user ids: each member is read before it is added.
fn undeclared_user_ids(m: &mut Mapping) {
    m.users.id_format = None;
}

/// Acme HR's groups mapping with the member sent as a string: Acme HR refuses every such add
/// with 422 `invalid_field` ("user_id must be a user id (an integer)"), for users that exist.
fn member_sent_as_text(m: &mut Mapping) {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = std::fs::read_to_string(format!("{root}/mappings/acme-hr.yaml")).unwrap();
    let needle = "body: { member: $.user_id, legacy_type: integer }";
    assert!(
        text.contains(needle),
        "the shipped mapping sends the member as an integer"
    );
    let changed = text.replace(needle, "body: { member: $.user_id }");
    let loaded = mapping::load_str("acme-hr-text-member.yaml", &changed).unwrap();
    m.groups = loaded.groups;
}

#[test]
fn an_add_refused_for_a_user_that_does_not_exist_is_skipped_and_logged_as_skipped() {
    logs::capture();
    // Without an id form the member is read before the add; with one, the add is sent and
    // its refusal (Acme HR: 422 unknown_user) explained by reading the user.
    for (declared, adds_sent) in [(false, 1), (true, 2)] {
        let env = Env::start_tweaked(
            Legacy::AcmeHr,
            |m| {
                if declared {
                    declare_integer_user_ids(m)
                } else {
                    undeclared_user_ids(m)
                }
            },
            |_| {},
        );
        let ids = env.seed_users(1);
        let group = create_group(&env, "Ops");
        let rid = request_id("skipped");
        let r = patch_as(
            &env,
            &rid,
            &format!("/Groups/{group}"),
            &add_members(&["4242", &ids[0]]),
        );
        assert_eq!(r.status, 204, "{:?}", r.body);
        assert_eq!(
            member_ids(&env.get(&format!("/Groups/{group}")).body),
            [ids[0].clone()]
        );
        assert_eq!(env.acme().requests().get("POST", TEAM_MEMBERS), adds_sent);
        assert_eq!(
            member_outcomes(&rid),
            [
                line("add_member", "skipped", 204),
                line("add_member", "ok", 204)
            ],
            "declared: {declared}"
        );
        let (_, _, _, detail) = &logs::member_lines(&rid)[0];
        assert!(
            detail.contains("4242") && detail.contains("no such user"),
            "{detail}"
        );
        let patch = logs::provisioning(&rid)
            .into_iter()
            .find(|l| l["fields"]["operation"] == "patch")
            .expect("the PATCH's own line");
        assert_eq!(patch["fields"]["outcome"], "ok");
    }
}

#[test]
fn an_add_refused_for_a_user_that_exists_is_an_error_the_identity_provider_sees() {
    logs::capture();
    for declared in [false, true] {
        let env = Env::start_tweaked(
            Legacy::AcmeHr,
            |m| {
                member_sent_as_text(m);
                if declared {
                    declare_integer_user_ids(m)
                } else {
                    undeclared_user_ids(m)
                }
            },
            |_| {},
        );
        let ids = env.seed_users(2);
        let group = create_group(&env, "Ops");
        let rid = request_id("refused");
        let r = patch_as(
            &env,
            &rid,
            &format!("/Groups/{group}"),
            &add_members(&[&ids[0], &ids[1]]),
        );
        assert_eq!(r.status, 400, "{:?}", r.body);
        assert_eq!(r.body["scimType"], "invalidValue");
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains("user_id must be a user id"), "{detail}");
        assert!(
            detail.contains(&format!(
                "Not applied: adding users {}, {} to group {group}",
                ids[0], ids[1]
            )),
            "{detail}"
        );
        assert!(!detail.contains("Already applied"), "{detail}");
        assert_eq!(env.acme().requests().get("POST", TEAM_MEMBERS), 1);
        assert_eq!(
            member_outcomes(&rid),
            [line("add_member", "error", 400)],
            "declared: {declared}"
        );
        let patch = logs::provisioning(&rid)
            .into_iter()
            .find(|l| l["fields"]["operation"] == "patch")
            .expect("the PATCH's own line");
        assert_eq!(patch["fields"]["outcome"], "error");
        assert_eq!(patch["fields"]["scim_status"], 400);
    }
}

#[test]
fn a_group_created_with_a_member_the_legacy_api_refuses_is_undone() {
    let env = Env::start_tweaked(Legacy::AcmeHr, member_sent_as_text, |_| {});
    let ids = env.seed_users(1);
    let r = env.post(
        "/Groups",
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Refused",
            "members": [{"value": ids[0]}],
        }),
    );
    assert_eq!(r.status, 400, "{:?}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(detail.contains("was deleted again"), "{detail}");
    assert_eq!(env.acme().team_count(), 0, "no group is left behind");
}

#[test]
fn removing_a_non_member_is_done_but_a_missing_group_is_404() {
    logs::capture();
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        |m| {
            declare_integer_user_ids(m);
            if let Some(g) = m.groups.as_mut() {
                g.resource.id_format = Some(IdFormat::Integer);
            }
        },
        |_| {},
    );
    let ids = env.seed_users(2);
    let group = create_group(&env, "Ops");
    let rid = request_id("not-a-member");
    let r = patch_as(
        &env,
        &rid,
        &format!("/Groups/{group}"),
        &remove_member(&ids[1]),
    );
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(env.acme().requests().get("DELETE", TEAM_MEMBER), 1);
    assert_eq!(member_outcomes(&rid), [line("remove_member", "ok", 204)]);

    // The legacy API's 404 is about the group this time: the group's own read says so.
    let missing = patch_as(
        &env,
        &request_id("missing"),
        "/Groups/4242",
        &remove_member(&ids[1]),
    );
    assert_eq!(missing.status, 404, "{:?}", missing.body);
    assert_eq!(missing.body["detail"], "no group with id \"4242\"");
    let missing = env.patch("/Groups/4242", &add_members(&["4343"]));
    assert_eq!(missing.status, 404, "{:?}", missing.body);
}

#[test]
fn a_member_the_legacy_api_does_not_have_is_skipped_where_membership_is_on_the_user() {
    logs::capture();
    let env = Env::start(Legacy::Crewbase);
    let ids = env.seed_users(1);
    let group = create_group(&env, "Crew");
    let rid = request_id("crewbase");
    let r = patch_as(
        &env,
        &rid,
        &format!("/Groups/{group}"),
        &add_members(&["p_9999", &ids[0]]),
    );
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(
        member_ids(&env.get(&format!("/Groups/{group}")).body),
        [ids[0].clone()]
    );
    assert_eq!(
        member_outcomes(&rid),
        [
            line("add_member", "skipped", 204),
            line("add_member", "ok", 204)
        ]
    );
}

#[test]
fn a_member_user_that_is_deleted_through_scim_is_skipped() {
    // Without a declared id form, each member is read before it is added.
    let env = Env::start_tweaked(Legacy::AcmeHr, undeclared_user_ids, |_| {});
    let ids = env.seed_users(2);
    // Acme HR keeps a SCIM-deleted user, archived: for SCIM it is gone.
    assert_eq!(env.delete(&format!("/Users/{}", ids[0])).status, 204);
    let group = create_group(&env, "Ops");
    let r = env.patch(
        &format!("/Groups/{group}"),
        &add_members(&[&ids[0], &ids[1]]),
    );
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(
        member_ids(&env.get(&format!("/Groups/{group}")).body),
        [ids[1].clone()]
    );
}

#[test]
fn keystone_refusals_each_come_to_what_they_mean() {
    logs::capture();
    let env = Env::start(Legacy::Keystone);
    let ids = env.seed_users(3);
    let locked = json!({"state": "locked"});
    assert!(env.keystone().edit_user(3, locked.as_object().unwrap()));
    let team = env.keystone().seed_team("Ops", &[1]).unwrap();
    let path = format!("/Groups/{team}");

    // Already a member, no such user, a new member.
    let rid = request_id("keystone");
    let r = patch_as(&env, &rid, &path, &add_members(&[&ids[0], "999", &ids[1]]));
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(env.keystone().member_ids(team), Some(vec![1, 2]));
    assert_eq!(
        member_outcomes(&rid),
        [
            line("add_member", "ok", 204),
            line("add_member", "skipped", 204),
            line("add_member", "ok", 204)
        ]
    );

    // A locked user exists: its refusal is the identity provider's to see.
    let rid = request_id("locked");
    let r = patch_as(&env, &rid, &path, &add_members(&[&ids[2]]));
    assert_eq!(r.status, 400, "{:?}", r.body);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "Not applied: adding user {} to group {team}",
            ids[2]
        )),
        "{detail}"
    );
    assert_eq!(member_outcomes(&rid), [line("add_member", "error", 400)]);
    let patch = logs::provisioning(&rid)
        .into_iter()
        .find(|l| l["fields"]["operation"] == "patch")
        .expect("the PATCH's own line");
    assert_eq!(patch["fields"]["outcome"], "error");
    assert_eq!(patch["fields"]["scim_status"], 400);
    assert_eq!(env.keystone().member_ids(team), Some(vec![1, 2]));

    // Removing a non-member is done.
    let rid = request_id("not-a-member");
    let r = patch_as(&env, &rid, &path, &remove_member(&ids[2]));
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(member_outcomes(&rid), [line("remove_member", "ok", 204)]);
}
