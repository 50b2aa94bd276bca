//! The identity guard, over real sockets: the gateway never shows, writes or deletes a legacy
//! record whose id, as read, is not the id the SCIM request named. Keystone reads an id by its
//! leading digits (`/api/users/6x` is user 6) and Acme HR by its digits (`/api/v1/users/007` is
//! user 7): through SCIM, `/Users/6x` and `/Users/007` are 404 on every operation and the
//! records they would have reached are untouched. A mapping that declares the form of its ids
//! (`id_format`) answers an id of another form 404 without calling the legacy API at all.

mod common;

use common::scim::{member_ids, patch_op};
use common::{logs, Env, Legacy};
use scim_gateway::mapping::plan::IdFormat;
use scim_gateway::mapping::{Mapping, OnDelete};
use scim_gateway_example_apis::acme_hr::{TEAM, TEAM_MEMBER, TEAM_MEMBERS, USER};
use scim_gateway_example_apis::crewbase::PERSON;
use scim_gateway_example_apis::keystone;
use serde_json::{json, Value};

fn user_body(name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "name": {"givenName": "Ida", "familyName": "Other"},
        "title": "Overwritten",
    })
}

fn group_body(name: &str, members: &[&str]) -> Value {
    let members: Vec<Value> = members.iter().map(|m| json!({ "value": m })).collect();
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": members,
    })
}

fn add_members(ids: &[&str]) -> Value {
    let members: Vec<Value> = ids.iter().map(|m| json!({ "value": m })).collect();
    patch_op(json!([{"op": "add", "path": "members", "value": members}]))
}

fn remove_member(id: &str) -> Value {
    patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]))
}

/// Every write the IdP can send to one URL, each answered 404.
fn assert_every_operation_is_404(env: &Env, path: &str, put: &Value, patch: &Value) {
    for (method, body) in [
        ("GET", None),
        ("PUT", Some(put)),
        ("PATCH", Some(patch)),
        ("DELETE", None),
    ] {
        let r = env.call(method, path, body);
        assert_eq!(r.status, 404, "{method} {path}: {:?}", r.body);
        assert_eq!(r.body["status"], "404", "{method} {path}: {:?}", r.body);
    }
}

/// No id form declared: each record is read, and its id compared.
fn undeclared_ids(m: &mut Mapping) {
    m.users.id_format = None;
    if let Some(g) = m.groups.as_mut() {
        g.resource.id_format = None;
    }
}

fn declare_integer_ids(m: &mut Mapping) {
    m.users.id_format = Some(IdFormat::Integer);
    if let Some(g) = m.groups.as_mut() {
        g.resource.id_format = Some(IdFormat::Integer);
    }
}

#[test]
fn a_user_id_the_legacy_api_reads_as_another_users_is_404_and_that_user_is_untouched() {
    logs::capture();
    let env = Env::start_tweaked(Legacy::AcmeHr, undeclared_ids, |_| {});
    let ids = env.seed_users(7);
    assert_eq!(ids[6], "7");
    // Read first, so that user 7's record is in the record cache of the next writes.
    let seven = env.get("/Users/7");
    assert_eq!(seven.status, 200, "{:?}", seven.body);
    let before = env.acme().user(7).unwrap();

    let title = patch_op(json!([{"op": "replace", "path": "title", "value": "Overwritten"}]));
    assert_every_operation_is_404(&env, "/Users/007", &user_body("ida@example.com"), &title);

    assert_eq!(env.acme().user(7).unwrap(), before, "user 7 is untouched");
    assert_eq!(
        env.acme().requests().get("PUT", USER),
        0,
        "no write reached it"
    );
    assert_eq!(env.acme().requests().get("DELETE", USER), 0);
    let again = env.get("/Users/7");
    assert_eq!(again.body, seven.body, "user 7 reads as before");

    // The warning names both ids and nothing of the user.
    let login = before["login"].as_str().unwrap();
    let warnings: Vec<Value> = logs::lines()
        .into_iter()
        .filter(|l| {
            l["level"] == "WARN"
                && l["fields"]["asked"] == "\"007\""
                && l["fields"]["answered"] == "\"7\""
        })
        .collect();
    assert!(!warnings.is_empty(), "a warning names both ids");
    for w in &warnings {
        assert!(!w.to_string().contains(login), "no user data: {w}");
    }
}

#[test]
fn a_deleting_mapping_reads_the_record_before_it_deletes_it() {
    let env = Env::start_tweaked(
        Legacy::AcmeHr,
        |m| {
            undeclared_ids(m);
            m.users.on_delete = OnDelete::Delete;
        },
        |_| {},
    );
    let ids = env.seed_users(7);
    let team = env.acme().seed_team("Ops", &[7]).unwrap();

    let r = env.delete("/Users/007");
    assert_eq!(r.status, 404, "{:?}", r.body);
    let r = env.delete(&format!("/Groups/0{team}"));
    assert_eq!(r.status, 404, "{:?}", r.body);
    assert_eq!(env.acme().requests().get("DELETE", USER), 0);
    assert_eq!(env.acme().requests().get("DELETE", TEAM), 0);
    assert!(env.acme().user(7).is_some(), "user 7 is still there");
    assert_eq!(
        env.acme().member_ids(team),
        Some(vec![7]),
        "and so is team {team}"
    );

    // The ids as the legacy API has them are deleted.
    assert_eq!(env.delete(&format!("/Users/{}", ids[6])).status, 204);
    assert!(env.acme().user(7).is_none());
    assert_eq!(env.delete(&format!("/Groups/{team}")).status, 204);
    assert!(env.acme().team(team).is_none());
}

#[test]
fn a_group_id_the_legacy_api_reads_as_another_groups_is_404_and_that_group_is_untouched() {
    let env = Env::start_tweaked(Legacy::AcmeHr, undeclared_ids, |_| {});
    let ids = env.seed_users(3);
    let team = env.acme().seed_team("Ops", &[1]).unwrap();
    let before = env.acme().team(team).unwrap();
    let path = format!("/Groups/0{team}");

    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]));
    assert_every_operation_is_404(&env, &path, &group_body("Renamed", &[]), &rename);
    for member_change in [add_members(&[&ids[1], &ids[2]]), remove_member(&ids[0])] {
        let r = env.patch(&path, &member_change);
        assert_eq!(r.status, 404, "{:?}", r.body);
    }

    assert_eq!(
        env.acme().team(team).unwrap(),
        before,
        "team {team} is untouched"
    );
    assert_eq!(env.acme().member_ids(team), Some(vec![1]));
    for (method, pattern) in [
        ("PATCH", TEAM),
        ("DELETE", TEAM),
        ("POST", TEAM_MEMBERS),
        ("DELETE", TEAM_MEMBER),
    ] {
        assert_eq!(
            env.acme().requests().get(method, pattern),
            0,
            "{method} {pattern}"
        );
    }
}

#[test]
fn a_member_id_the_legacy_api_reads_as_another_user_is_skipped() {
    let env = Env::start_tweaked(Legacy::AcmeHr, undeclared_ids, |_| {});
    let ids = env.seed_users(7);
    let team = env.acme().seed_team("Ops", &[]).unwrap();

    let r = env.patch(&format!("/Groups/{team}"), &add_members(&["007", &ids[0]]));
    assert_eq!(r.status, 204, "{:?}", r.body);
    assert_eq!(
        env.acme().member_ids(team),
        Some(vec![1]),
        "user 7 was never named, and is not added"
    );
    assert_eq!(env.acme().requests().get("POST", TEAM_MEMBERS), 1);

    let created = env.post("/Groups", &group_body("Created", &["007", &ids[1]]));
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(member_ids(&created.body), [ids[1].clone()]);
    let id: u64 = created.body["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(env.acme().member_ids(id), Some(vec![2]));
}

#[test]
fn with_declared_id_forms_an_id_of_another_form_costs_no_legacy_call() {
    let env = Env::start_tweaked(Legacy::AcmeHr, declare_integer_ids, |_| {});
    env.seed_users(7);
    let team = env.acme().seed_team("Ops", &[7]).unwrap();
    let title = patch_op(json!([{"op": "replace", "path": "title", "value": "Overwritten"}]));
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]));

    let before = env.backend_requests();
    for id in ["007", "6x", "8dded348-3c5b-4c2e-9d1a-0f6f1b2c3d4e", "-7"] {
        assert_every_operation_is_404(&env, &format!("/Users/{id}"), &user_body("x@y.z"), &title);
        let group = format!("/Groups/{id}");
        assert_every_operation_is_404(&env, &group, &group_body("Renamed", &[]), &rename);
        assert_eq!(env.patch(&group, &add_members(&["1"])).status, 404);
    }
    assert_eq!(env.backend_requests(), before, "not one legacy call");
    let r = env.get("/Users/6x");
    assert_eq!(r.body["detail"], "no user with id \"6x\"", "{:?}", r.body);

    // A member of another form is no user: skipped (or nothing to remove), no member call.
    let path = format!("/Groups/{team}");
    assert_eq!(env.patch(&path, &add_members(&["007"])).status, 204);
    assert_eq!(env.patch(&path, &remove_member("007")).status, 204);
    assert_eq!(env.acme().requests().get("POST", TEAM_MEMBERS), 0);
    assert_eq!(env.acme().requests().get("DELETE", TEAM_MEMBER), 0);
    assert_eq!(env.acme().member_ids(team), Some(vec![7]));
}

#[test]
fn a_declared_pattern_refuses_other_ids_and_members_held_on_the_user() {
    let env = Env::start_tweaked(
        Legacy::Crewbase,
        |m| {
            m.users.id_format = Some(IdFormat::Pattern(
                regex::Regex::new("^p_[0-9]{4}$").unwrap(),
            ))
        },
        |_| {},
    );
    let ids = env.seed_users(2);
    let r = env.post("/Groups", &group_body("Crew", &["p_1", &ids[0]]));
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(
        member_ids(&r.body),
        [ids[0].clone()],
        "p_1 is no user: skipped"
    );
    let before = env.crewbase().requests().get("GET", PERSON);
    assert_eq!(env.get("/Users/p_1").status, 404);
    assert_eq!(env.get(&format!("/Users/{}x", ids[1])).status, 404);
    assert_eq!(env.crewbase().requests().get("GET", PERSON), before);
    assert_eq!(env.get(&format!("/Users/{}", ids[1])).status, 200);
}

#[test]
fn keystone_ids_read_by_their_leading_digits_never_reach_another_record() {
    // As shipped, Keystone's ids are declared integers: no legacy call at all. Without the
    // declaration, each record is read first and its id compared.
    for declared in [true, false] {
        let env = Env::start_tweaked(
            Legacy::Keystone,
            |m| {
                if !declared {
                    undeclared_ids(m)
                }
            },
            |_| {},
        );
        let ids = env.seed_users(6);
        let team = env.keystone().seed_team("Ops", &[1]).unwrap();
        let user_before = env.keystone().user(6).unwrap();
        let team_before = env.keystone().team(team).unwrap();
        let title = patch_op(json!([{"op": "replace", "path": "title", "value": "Overwritten"}]));
        let rename =
            patch_op(json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]));
        let group = format!("/Groups/{team}b589c-3c5b-4c2e-9d1a-0f6f1b2c3d4e");

        let calls = env.backend_requests();
        assert_every_operation_is_404(&env, "/Users/6x", &user_body("ida@example.com"), &title);
        assert_every_operation_is_404(&env, &group, &group_body("Renamed", &[]), &rename);
        for member_change in [add_members(&[&ids[1]]), remove_member(&ids[0])] {
            let r = env.patch(&group, &member_change);
            assert_eq!(r.status, 404, "declared: {declared}: {:?}", r.body);
        }
        if declared {
            assert_eq!(env.backend_requests(), calls, "not one legacy call");
        }

        assert_eq!(
            env.keystone().user(6).unwrap(),
            user_before,
            "declared: {declared}"
        );
        assert_eq!(env.keystone().team(team).unwrap(), team_before);
        assert_eq!(env.keystone().member_ids(team), Some(vec![1]));
        for (method, pattern) in [
            ("PATCH", keystone::USER),
            ("PUT", keystone::USER),
            ("DELETE", keystone::USER),
            ("PATCH", keystone::TEAM),
            ("PUT", keystone::TEAM),
            ("DELETE", keystone::TEAM),
            ("POST", keystone::MEMBERSHIPS),
            ("DELETE", keystone::MEMBERSHIP),
        ] {
            let n = env.keystone().requests().get(method, pattern);
            assert_eq!(n, 0, "declared: {declared}: {method} {pattern}");
        }

        // A member named `6x` is not user 6.
        let r = env.patch(&format!("/Groups/{team}"), &add_members(&["6x"]));
        assert_eq!(r.status, 204, "{:?}", r.body);
        assert_eq!(env.keystone().member_ids(team), Some(vec![1]));
        assert_eq!(
            env.keystone().requests().get("POST", keystone::MEMBERSHIPS),
            0
        );
    }
}
