//! One group per user, and the groups the identity provider must not touch, over real HTTP.
//! Mostly against Orbit behind `mappings/orbit-roles.yaml`: SCIM Groups are Orbit's roles, and
//! a user's one role is its `role_id`. A user put in two roles keeps the higher-ranked one; the
//! Administrator role keeps its members whatever the identity provider sends, and is answered
//! as if the change had been made; Billing is never listed, is 404 by id and is in no user's
//! groups; a user taken out of its role gets Member (the mapping's `otherwise`), which any
//! role replaces; roles are read-only (no rename, create or delete), their members not. What Orbit cannot show (a group ranked by id, a user taken
//! out of its group, no ranking at all, a group created with a protected or hidden name, a
//! protected `otherwise` group) runs
//! against Crewbase's teams behind a mapping written here, the team held in the person's one
//! `position` field.

mod common;

use common::scim::patch_op;
use common::{Env, Legacy};
use scim_gateway::mapping;
use scim_gateway_example_apis::orbit;
use serde_json::{json, Value};

/// Crewbase's users as shipped (without `title`: the group is written in `position`), and its
/// teams as groups whose one member field is the person's `position`.
fn mapping_yaml(groups_extra: &str, attribute_extra: &str) -> String {
    format!(
        r#"
name: crewbase-single
backend:
  base_url: http://127.0.0.1:1
users:
  id: $.uid
  id_format: {{ pattern: '^p_[0-9]{{4,}}$' }}
  version: $.meta.version
  endpoints:
    create: {{ method: POST, path: /v2/people }}
    get: {{ method: GET, path: "/v2/people/{{id}}" }}
    update: {{ method: PATCH, path: "/v2/people/{{id}}", mode: partial, if_match: true }}
    deactivate: {{ method: POST, path: "/v2/people/{{id}}/deactivate" }}
    reactivate: {{ method: POST, path: "/v2/people/{{id}}/activate" }}
    list:
      method: GET
      path: /v2/people
      items: $.people
      total: {{ header: X-Total-Count }}
      pagination: {{ style: offset, offset_param: offset, limit_param: limit, max_page_size: 50 }}
  on_delete: deactivate
  attributes:
    - {{ scim: userName, legacy: $.username, required: true }}
    - {{ scim: displayName, legacy: $.full_name, direction: read }}
    - {{ scim: active, legacy: $.is_active, direction: read, required: true }}
  filters:
    - {{ scim: userName, op: eq, param: username }}
groups:
  id: $.tid
  id_format: {{ pattern: '^t_[0-9]{{2,}}$' }}
  endpoints:
    create: {{ method: POST, path: /v2/teams }}
    get: {{ method: GET, path: "/v2/teams/{{id}}" }}
    update: {{ method: PATCH, path: "/v2/teams/{{id}}", mode: partial }}
    delete: {{ method: DELETE, path: "/v2/teams/{{id}}" }}
    list:
      method: GET
      path: /v2/teams
      items: $.teams
      total: {{ header: X-Total-Count }}
      pagination: {{ style: offset, offset_param: offset, limit_param: limit, max_page_size: 50 }}
  attributes:
    - {{ scim: displayName, legacy: $.title, required: true }}
  filters:
    - {{ scim: displayName, op: eq, param: title }}
  membership:
    user_attribute:
      legacy: $.position
      single: true
      if_match: $.meta.version
{attribute_extra}
{groups_extra}
"#
    )
}

/// Crewbase behind the mapping above, with `teams` seeded (title → tid).
fn start(groups_extra: &str, attribute_extra: &str, teams: &[&str]) -> (Env, Vec<String>) {
    let yaml = mapping_yaml(groups_extra, attribute_extra);
    let mine = mapping::load_str("single.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"));
    // The teams first: the gateway looks a team the mapping names by name up at start.
    let mut tids = Vec::new();
    let env = Env::start_prepared(
        Legacy::Crewbase,
        move |m| {
            let backend = m.backend.clone();
            *m = mine;
            m.backend = backend;
        },
        |_| {},
        |apis| {
            let crewbase = apis.crewbase.expect("Crewbase");
            let none: [&str; 0] = [];
            tids = teams
                .iter()
                .map(|t| crewbase.seed_team(t, &none).unwrap())
                .collect();
        },
    );
    (env, tids)
}

/// `n` people in no group (Crewbase seeds them with a `position` of their own).
fn seed(env: &Env, n: usize) -> Vec<String> {
    let users = env.seed_users(n);
    let mut none = serde_json::Map::new();
    none.insert("position".into(), Value::Null);
    for u in &users {
        assert!(env.crewbase().edit_person(u, &none));
    }
    users
}

fn position(env: &Env, user: &str) -> Value {
    env.crewbase().person(user).unwrap()["position"].clone()
}

fn add(env: &Env, group: &str, user: &str) -> u16 {
    let r = env.patch(
        &format!("/Groups/{group}"),
        &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": user}]}])),
    );
    assert!(matches!(r.status, 200 | 204), "{:?}", r.body);
    r.status
}

fn remove(env: &Env, group: &str, user: &str) {
    let r = env.patch(
        &format!("/Groups/{group}"),
        &patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}])),
    );
    assert!(matches!(r.status, 200 | 204), "{:?}", r.body);
}

fn user_groups(env: &Env, user: &str) -> Vec<String> {
    let r = env.get(&format!("/Users/{user}"));
    assert_eq!(r.status, 200, "{:?}", r.body);
    r.body["groups"]
        .as_array()
        .map(|g| {
            g.iter()
                .map(|x| x["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

// Orbit's roles as groups (mappings/orbit-roles.yaml).

/// The SCIM id of Orbit's role `name`: its legacy id.
fn role(env: &Env, name: &str) -> String {
    env.orbit().role_id(name)
}

/// The role id Orbit holds for `user`.
fn role_of(env: &Env, user: &str) -> Value {
    env.orbit().user(user).unwrap()["role_id"].clone()
}

fn set_role(env: &Env, user: &str, name: &str) {
    let mut changes = serde_json::Map::new();
    changes.insert("role_id".into(), json!(role(env, name)));
    assert!(env.orbit().edit_user(user, &changes));
}

fn members(env: &Env, group: &str) -> Vec<String> {
    let g = env.get(&format!("/Groups/{group}"));
    assert_eq!(g.status, 200, "{:?}", g.body);
    common::scim::member_ids(&g.body)
}

#[test]
fn a_users_groups_show_its_orbit_role() {
    let env = Env::start(Legacy::OrbitRoles);
    let users = env.seed_users(2);
    set_role(&env, &users[1], "Viewer");
    let r = env.get(&format!("/Users/{}", users[0]));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let groups = r.body["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["value"], json!(role(&env, "Member")));
    assert_eq!(user_groups(&env, &users[1]), [role(&env, "Viewer")]);
    // And each role lists its members (Orbit's list items do not carry `role_id`).
    let mut sorted = users[..1].to_vec();
    sorted.sort();
    assert_eq!(members(&env, &role(&env, "Member")), sorted);
    assert_eq!(members(&env, &role(&env, "Viewer")), [users[1].clone()]);
    assert!(members(&env, &role(&env, "Editor")).is_empty());
    // Found by a members filter too, as Entra ID asks.
    let by_member = env.get(&format!(
        "/Groups?filter=members%5Bvalue+eq+%22{}%22%5D",
        users[1]
    ));
    assert_eq!(by_member.body["totalResults"], 1, "{:?}", by_member.body);
    assert_eq!(by_member.body["Resources"][0]["displayName"], "Viewer");
}

#[test]
fn a_user_put_in_editor_then_viewer_stays_an_editor() {
    let env = Env::start(Legacy::OrbitRoles);
    let users = env.seed_users(2);
    let (editor, viewer) = (role(&env, "Editor"), role(&env, "Viewer"));
    // Entra ID's two assignments, one after the other: Editor ranks higher and stays.
    add(&env, &editor, &users[0]);
    assert_eq!(role_of(&env, &users[0]), json!(editor));
    add(&env, &viewer, &users[0]);
    assert_eq!(role_of(&env, &users[0]), json!(editor));
    assert_eq!(user_groups(&env, &users[0]), std::slice::from_ref(&editor));
    // The other order ends the same way.
    add(&env, &viewer, &users[1]);
    assert_eq!(role_of(&env, &users[1]), json!(viewer));
    add(&env, &editor, &users[1]);
    assert_eq!(role_of(&env, &users[1]), json!(editor));
    let mut both = users.clone();
    both.sort();
    assert_eq!(members(&env, &editor), both);
    assert!(members(&env, &viewer).is_empty());
    // Every write went to the user (`role_id` alone); Orbit's roles were only read.
    let written = env.orbit().bodies("PATCH", orbit::USER);
    assert!(!written.is_empty());
    for body in &written {
        assert_eq!(
            body["user"].as_object().unwrap().keys().collect::<Vec<_>>(),
            ["role_id"]
        );
    }
    assert!(env.orbit().bodies("PATCH", orbit::ROLE).is_empty());
}

#[test]
fn the_administrator_role_keeps_its_members() {
    let env = Env::start(Legacy::OrbitRoles);
    let users = env.seed_users(2);
    let admin = role(&env, "Administrator");
    set_role(&env, &users[0], "Administrator");
    assert_eq!(members(&env, &admin), [users[0].clone()]);

    // A member added or removed: answered as done, nothing changes.
    assert_eq!(add(&env, &admin, &users[1]), 204);
    assert_eq!(role_of(&env, &users[1]), json!(role(&env, "Member")));
    remove(&env, &admin, &users[0]);
    assert_eq!(role_of(&env, &users[0]), json!(admin));
    // A PUT or a DELETE: answered with the role as it is.
    let r = env.put(
        &format!("/Groups/{admin}"),
        &json!({"displayName": "Admins", "members": [{"value": users[1]}]}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Administrator");
    assert_eq!(common::scim::member_ids(&r.body), [users[0].clone()]);
    assert_eq!(env.delete(&format!("/Groups/{admin}")).status, 204);
    assert_eq!(members(&env, &admin), [users[0].clone()]);
    // An administrator put in another role stays an administrator.
    add(&env, &role(&env, "Editor"), &users[0]);
    assert_eq!(role_of(&env, &users[0]), json!(admin));
    assert_eq!(user_groups(&env, &users[0]), [admin]);
}

#[test]
fn billing_is_never_seen() {
    let env = Env::start(Legacy::OrbitRoles);
    let users = env.seed_users(2);
    let billing = role(&env, "Billing");
    set_role(&env, &users[0], "Billing");

    let all = env.get("/Groups");
    assert_eq!(all.status, 200, "{:?}", all.body);
    let mut names: Vec<&str> = all.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["displayName"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Administrator", "Editor", "Member", "Viewer"]);
    assert_eq!(all.body["totalResults"], 4);
    let by_name = env.get("/Groups?filter=displayName+eq+%22Billing%22");
    assert_eq!(by_name.body["totalResults"], 0, "{:?}", by_name.body);
    for r in [
        env.get(&format!("/Groups/{billing}")),
        env.patch(
            &format!("/Groups/{billing}"),
            &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": users[1]}]}])),
        ),
        env.put(
            &format!("/Groups/{billing}"),
            &json!({"displayName": "Billing"}),
        ),
        env.delete(&format!("/Groups/{billing}")),
    ] {
        assert_eq!(r.status, 404, "{:?}", r.body);
    }
    assert_eq!(role_of(&env, &users[1]), json!(role(&env, "Member")));
    // Not among the user's groups, and the user stays in it when put in another role.
    assert!(user_groups(&env, &users[0]).is_empty());
    let by_member = env.get(&format!(
        "/Groups?filter=members%5Bvalue+eq+%22{}%22%5D",
        users[0]
    ));
    assert_eq!(by_member.body["totalResults"], 0, "{:?}", by_member.body);
    add(&env, &role(&env, "Editor"), &users[0]);
    assert_eq!(role_of(&env, &users[0]), json!(billing));
}

#[test]
fn roles_are_neither_created_nor_changed_through_scim() {
    let env = Env::start(Legacy::OrbitRoles);
    let users = env.seed_users(1);
    // Orbit's roles are read-only (the mapping has no update or delete endpoint for them): a
    // rename or a delete is refused without a call to Orbit…
    let editor = role(&env, "Editor");
    let before = env.orbit().request_count();
    for (r, says) in [
        (
            env.patch(
                &format!("/Groups/{editor}"),
                &patch_op(json!([{"op": "replace", "path": "displayName", "value": "Editors"}])),
            ),
            "groups are not renamed or changed through SCIM here",
        ),
        (
            env.put(
                &format!("/Groups/{editor}"),
                &json!({"displayName": "Editors"}),
            ),
            "groups are not renamed or changed through SCIM here",
        ),
        (
            env.delete(&format!("/Groups/{editor}")),
            "groups are not deleted through SCIM here",
        ),
    ] {
        assert_eq!(r.status, 403, "{:?}", r.body);
        let detail = r.body["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{detail}");
    }
    assert!(env.orbit().bodies("PATCH", orbit::ROLE).is_empty());
    assert!(env.orbit().bodies("DELETE", orbit::ROLE).is_empty());
    assert_eq!(
        env.get(&format!("/Groups/{editor}")).body["displayName"],
        "Editor"
    );
    // …while its members still change (they are users' role_id), by PATCH or by a PUT that
    // keeps the name.
    add(&env, &editor, &users[0]);
    assert_eq!(role_of(&env, &users[0]), json!(editor));
    let r = env.put(
        &format!("/Groups/{editor}"),
        &json!({"displayName": "Editor", "members": []}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(role_of(&env, &users[0]), json!(role(&env, "Member")));
    let before_create = env.orbit().request_count();
    assert!(before_create > before);
    for name in ["Sales", "Editor"] {
        let r = env.post("/Groups", &json!({"displayName": name}));
        assert_eq!(r.status, 403, "{:?}", r.body);
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("create the group in the application"),
            "{:?}",
            r.body
        );
    }
    assert_eq!(env.orbit().roles().len(), 5);
    assert_eq!(
        env.orbit().request_count(),
        before_create,
        "nothing asked of Orbit"
    );
}

#[test]
fn a_user_taken_out_of_its_role_becomes_a_member_again() {
    let env = Env::start(Legacy::OrbitRoles);
    let users = env.seed_users(2);
    let (editor, member) = (role(&env, "Editor"), role(&env, "Member"));
    add(&env, &editor, &users[0]);
    // Entra ID's unassignment: Orbit refuses a user without a role (422), so the user gets
    // Member, the mapping's `otherwise`, and the identity provider is told success.
    remove(&env, &editor, &users[0]);
    assert_eq!(role_of(&env, &users[0]), json!(member));
    assert_eq!(user_groups(&env, &users[0]), std::slice::from_ref(&member));
    for body in env.orbit().bodies("PATCH", orbit::USER) {
        assert_ne!(body["user"]["role_id"], Value::Null, "{body}");
    }
    // Taken out of Member itself: a user is always in one role, and stays a member.
    remove(&env, &member, &users[0]);
    assert_eq!(role_of(&env, &users[0]), json!(member));
    // Taken out of a role it is not in: nothing changes.
    remove(&env, &editor, &users[1]);
    assert_eq!(role_of(&env, &users[1]), json!(member));
}

#[test]
fn an_unassignment_reads_the_group_and_the_user_and_writes_the_user() {
    let env = Env::start(Legacy::OrbitRoles);
    let users = env.seed_users(1);
    let editor = role(&env, "Editor");
    add(&env, &editor, &users[0]);
    env.orbit().requests().reset();
    // Member, the mapping's `otherwise` by name, was looked up at start: taking the user out
    // of Editor reads Editor, reads the user and writes it, without listing Orbit's roles
    // again (it did on every unassignment: four calls).
    remove(&env, &editor, &users[0]);
    assert_eq!(role_of(&env, &users[0]), json!(role(&env, "Member")));
    let targets = env.orbit().requests().targets();
    let path = |t: &str| t.split(['?', ' ']).nth(1).unwrap_or_default().to_string();
    assert!(
        !targets.iter().any(|t| path(t) == orbit::ROLES),
        "{targets:?}"
    );
    assert_eq!(
        targets
            .iter()
            .map(|t| t.split(' ').next().unwrap())
            .collect::<Vec<_>>(),
        ["GET", "GET", "PATCH"],
        "{targets:?}"
    );
}

#[test]
fn a_member_can_be_made_a_viewer() {
    let env = Env::start(Legacy::OrbitRoles);
    let users = env.seed_users(1);
    let (member, viewer) = (role(&env, "Member"), role(&env, "Viewer"));
    // Member ranks above Viewer, but a user in Member is in no role: any role replaces it.
    assert_eq!(role_of(&env, &users[0]), json!(member));
    add(&env, &viewer, &users[0]);
    assert_eq!(role_of(&env, &users[0]), json!(viewer));
    assert_eq!(members(&env, &viewer), [users[0].clone()]);
    assert!(members(&env, &member).is_empty());
    // Assigned Member as well, the user is written the higher-ranked of the two.
    add(&env, &member, &users[0]);
    assert_eq!(role_of(&env, &users[0]), json!(member));
}

#[test]
fn a_users_groups_are_shown_as_rfc_7643_describes_them() {
    let env = Env::start(Legacy::OrbitRoles);
    let users = env.seed_users(1);
    let member = role(&env, "Member");
    let r = env.get(&format!("/Users/{}", users[0]));
    assert_eq!(r.status, 200, "{:?}", r.body);
    let group = &r.body["groups"][0];
    assert_eq!(group["value"], json!(member));
    assert_eq!(group["type"], "direct");
    let uri = group["$ref"].as_str().expect("$ref");
    assert!(uri.ends_with(&format!("/scim/v2/Groups/{member}")), "{uri}");
    // The same in a list.
    let listed = env.get("/Users");
    assert_eq!(listed.body["Resources"][0]["groups"][0]["$ref"], uri);
    // And /Schemas lists exactly what the answers carry.
    let schema = env.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User");
    assert_eq!(schema.status, 200, "{:?}", schema.body);
    let groups = schema.body["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "groups")
        .expect("groups");
    let subs: Vec<&str> = groups["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["value", "$ref", "display", "type"]);
    for s in groups["subAttributes"].as_array().unwrap() {
        assert_eq!(s["mutability"], "readOnly", "{s}");
    }
}

// Crewbase's teams, one per person (a mapping written here).

#[test]
fn the_highest_ranked_group_is_written_whatever_the_order() {
    let (env, t) = start(
        "",
        "      ranking: [Leads, Staff, t_03]",
        &["Staff", "Leads", "Guests"],
    );
    let (staff, leads, guests) = (&t[0], &t[1], &t[2]);
    let users = seed(&env, 2);
    // Staff, then Leads: Leads ranks higher and replaces Staff.
    add(&env, staff, &users[0]);
    assert_eq!(position(&env, &users[0]), json!(staff));
    add(&env, leads, &users[0]);
    assert_eq!(position(&env, &users[0]), json!(leads));
    // Then Staff again (the IdP re-sends it): Leads stays, and the IdP is told success.
    add(&env, staff, &users[0]);
    assert_eq!(position(&env, &users[0]), json!(leads));
    assert_eq!(user_groups(&env, &users[0]), std::slice::from_ref(leads));
    // A group the ranking names by id (t_03 = Guests) ranks below Staff.
    add(&env, guests, &users[1]);
    add(&env, staff, &users[1]);
    assert_eq!(position(&env, &users[1]), json!(staff));
    add(&env, guests, &users[1]);
    assert_eq!(position(&env, &users[1]), json!(staff));
    // The group shows its one member; the other group none.
    let g = env.get(&format!("/Groups/{leads}"));
    assert_eq!(g.body["members"][0]["value"], json!(users[0]));
    // Removing the user from its group empties the field: the gateway keeps no state, so it
    // does not know the user's other groups in the identity provider.
    remove(&env, leads, &users[0]);
    assert_eq!(position(&env, &users[0]), Value::Null);
    assert!(user_groups(&env, &users[0]).is_empty());
    // Removing it from a group it is not in changes nothing.
    remove(&env, leads, &users[1]);
    assert_eq!(position(&env, &users[1]), json!(staff));
}

#[test]
fn several_groups_in_one_request_leave_the_best() {
    let (env, t) = start("", "      ranking: [Leads, Staff]", &["Staff", "Leads"]);
    let users = seed(&env, 1);
    // Okta's PUT of a group, then another group: the lower-ranked one never replaces.
    let r = env.put(
        &format!("/Groups/{}", t[1]),
        &json!({"displayName": "Leads", "members": [{"value": users[0]}]}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let r = env.put(
        &format!("/Groups/{}", t[0]),
        &json!({"displayName": "Staff", "members": [{"value": users[0]}]}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(position(&env, &users[0]), json!(t[1]));
    assert_eq!(r.body["members"], json!([]), "Staff shows no member");
}

#[test]
fn without_a_ranking_the_most_recent_group_wins() {
    let (env, t) = start("", "", &["Staff", "Leads"]);
    let users = seed(&env, 1);
    add(&env, &t[1], &users[0]);
    add(&env, &t[0], &users[0]);
    assert_eq!(position(&env, &users[0]), json!(t[0]));
    add(&env, &t[1], &users[0]);
    assert_eq!(position(&env, &users[0]), json!(t[1]));
}

#[test]
fn a_protected_otherwise_group_is_still_where_users_land_and_leave() {
    // Staff is the team of everyone in no other team, and only the product puts people in it
    // directly.
    let (env, t) = start(
        "  protected: [ { name: Staff } ]",
        "      otherwise: { name: Staff }",
        &["Staff", "Leads"],
    );
    let users = seed(&env, 2);
    add(&env, &t[1], &users[0]);
    assert_eq!(position(&env, &users[0]), json!(t[1]));
    // Taken out of Leads: into Staff, though it is protected.
    remove(&env, &t[1], &users[0]);
    assert_eq!(position(&env, &users[0]), json!(t[0]));
    assert_eq!(user_groups(&env, &users[0]), std::slice::from_ref(&t[0]));
    // In Staff, put in Leads: moved, though Staff is protected (it counts as no team).
    add(&env, &t[1], &users[0]);
    assert_eq!(position(&env, &users[0]), json!(t[1]));
    // Staff's own members are not the identity provider's to change: answered as done.
    add(&env, &t[0], &users[1]);
    assert_eq!(position(&env, &users[1]), Value::Null);
}

#[test]
fn protected_and_hidden_names_cannot_be_taken_by_a_new_group() {
    let (env, t) = start(
        "  protected: [ { name: administrators } ]\n  hidden: [ { name: Billing } ]",
        "",
        &["Administrators", "Billing"],
    );
    let before = env.crewbase().team_count();
    for name in ["ADMINISTRATORS", "billing"] {
        let r = env.post("/Groups", &json!({"displayName": name}));
        assert_eq!(r.status, 409, "{name}: {:?}", r.body);
        assert_eq!(r.body["scimType"], "uniqueness");
        // Without saying by what: the hidden group's id is not given away.
        assert!(!r.body["detail"].as_str().unwrap().contains(t[1].as_str()));
    }
    assert_eq!(env.crewbase().team_count(), before);
    // Another name is created.
    assert_eq!(
        env.post("/Groups", &json!({"displayName": "Staff"})).status,
        201
    );
}
