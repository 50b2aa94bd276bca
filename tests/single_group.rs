//! One group per user, and the groups the identity provider must not touch, over real HTTP: a
//! mapping written here puts Crewbase teams in front of SCIM with the team held in the person's
//! one `position` field (`user_attribute` with `single: true`). A user put in two groups gets the
//! highest-ranked one (or, without a ranking, the most recent); a protected group keeps its
//! name, its members and its existence whatever the identity provider sends, and is answered
//! as if the change had been made; a hidden group is never listed, is 404 by id and is in no
//! user's groups; `create: false` refuses POST /Groups.

mod common;

use common::scim::patch_op;
use common::{Env, Legacy};
use scim_gateway::mapping;
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
    let env = Env::start_tweaked(
        Legacy::Crewbase,
        move |m| {
            let backend = m.backend.clone();
            *m = mine;
            m.backend = backend;
        },
        |_| {},
    );
    let none: [&str; 0] = [];
    let tids = teams
        .iter()
        .map(|t| env.crewbase().seed_team(t, &none).unwrap())
        .collect();
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
fn a_protected_group_is_shown_but_never_changed() {
    let (env, t) = start(
        "  protected: [ { name: administrators } ]",
        "      ranking: [Staff]",
        &["Administrators", "Staff"],
    );
    let (admins, staff) = (&t[0], &t[1]);
    let users = seed(&env, 2);
    // An administrator made in the application.
    let mut changes = serde_json::Map::new();
    changes.insert("position".into(), json!(admins));
    assert!(env.crewbase().edit_person(&users[0], &changes));

    // Listed and readable, with its member.
    let listed = env.get("/Groups?filter=displayName+eq+%22Administrators%22");
    assert_eq!(listed.body["totalResults"], 1, "{:?}", listed.body);
    let g = env.get(&format!("/Groups/{admins}"));
    assert_eq!(g.status, 200);
    assert_eq!(g.body["members"][0]["value"], json!(users[0]));

    // Members added or removed, a rename, a PUT, a DELETE: answered as done, nothing changes.
    assert_eq!(add(&env, admins, &users[1]), 204);
    assert_eq!(position(&env, &users[1]), Value::Null);
    remove(&env, admins, &users[0]);
    assert_eq!(position(&env, &users[0]), json!(admins));
    let r = env.patch(
        &format!("/Groups/{admins}"),
        &patch_op(json!([{"op": "replace", "path": "displayName", "value": "Admins2"}])),
    );
    assert!(matches!(r.status, 200 | 204), "{:?}", r.body);
    let r = env.put(
        &format!("/Groups/{admins}"),
        &json!({"displayName": "Admins3", "members": []}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["displayName"], "Administrators");
    assert_eq!(r.body["members"][0]["value"], json!(users[0]));
    assert_eq!(env.delete(&format!("/Groups/{admins}")).status, 204);
    assert_eq!(env.get(&format!("/Groups/{admins}")).status, 200);
    assert_eq!(
        env.crewbase().team(admins).unwrap()["title"],
        "Administrators"
    );

    // An administrator is not moved to another group by the identity provider.
    add(&env, staff, &users[0]);
    assert_eq!(position(&env, &users[0]), json!(admins));
    // A group of the protected name cannot be created.
    let r = env.post("/Groups", &json!({"displayName": "ADMINISTRATORS"}));
    assert_eq!(r.status, 409, "{:?}", r.body);
}

#[test]
fn a_hidden_group_is_never_seen() {
    let (env, t) = start("  hidden: [ { name: Billing } ]", "", &["Billing", "Staff"]);
    let (billing, staff) = (&t[0], &t[1]);
    let users = seed(&env, 2);
    let mut changes = serde_json::Map::new();
    changes.insert("position".into(), json!(billing));
    assert!(env.crewbase().edit_person(&users[0], &changes));

    let all = env.get("/Groups");
    assert_eq!(all.status, 200);
    let ids: Vec<&str> = all.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [staff.as_str()]);
    assert_eq!(all.body["totalResults"], 1);
    let by_name = env.get("/Groups?filter=displayName+eq+%22Billing%22");
    assert_eq!(by_name.body["totalResults"], 0, "{:?}", by_name.body);
    for r in [
        env.get(&format!("/Groups/{billing}")),
        env.patch(
            &format!("/Groups/{billing}"),
            &patch_op(json!([{"op": "add", "path": "members", "value": [{"value": users[1]}]}])),
        ),
        env.put(&format!("/Groups/{billing}"), &json!({"displayName": "x"})),
        env.delete(&format!("/Groups/{billing}")),
    ] {
        assert_eq!(r.status, 404, "{:?}", r.body);
    }
    assert!(env.crewbase().team(billing).is_some());
    assert_eq!(position(&env, &users[1]), Value::Null);
    // Not among the user's groups, and the user stays in it when the IdP adds another group.
    assert!(user_groups(&env, &users[0]).is_empty());
    let by_member = env.get(&format!(
        "/Groups?filter=members%5Bvalue+eq+%22{}%22%5D",
        users[0]
    ));
    assert_eq!(by_member.body["totalResults"], 0, "{:?}", by_member.body);
    add(&env, staff, &users[0]);
    assert_eq!(position(&env, &users[0]), json!(billing));
    // Its name is taken, without saying by what.
    let r = env.post("/Groups", &json!({"displayName": "billing"}));
    assert_eq!(r.status, 409, "{:?}", r.body);
    assert!(!r.body["detail"]
        .as_str()
        .unwrap()
        .contains(billing.as_str()));
}

#[test]
fn groups_are_not_created_where_the_mapping_says_so() {
    let yaml = mapping_yaml("  create: false", "")
        .replace("    create: { method: POST, path: /v2/teams }\n", "");
    let mine = mapping::load_str("single.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"));
    let env = Env::start_tweaked(
        Legacy::Crewbase,
        move |m| {
            let backend = m.backend.clone();
            *m = mine;
            m.backend = backend;
        },
        |_| {},
    );
    let before = env.crewbase().team_count();
    let r = env.post("/Groups", &json!({"displayName": "Sales"}));
    assert_eq!(r.status, 403, "{:?}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("create the group in the application"),
        "{:?}",
        r.body
    );
    assert_eq!(env.crewbase().team_count(), before);
}
