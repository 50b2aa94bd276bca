//! Groups held by the gateway, end to end over real sockets: Tallybook (users only, one
//! `role_id` each and a `licensed` flag, `mappings/tallybook.yaml`) provisioned with the group
//! traffic of Entra, Okta and JumpCloud; each user's role and licence follow its groups held in
//! the gateway's store (each test on SQLite and on PostgreSQL), with one read and at
//! most one update of the legacy user per member change.

mod common;

use common::scim::patch_op;
use common::{postgres, Env, Legacy};
use serde_json::{json, Value};

/// Where a test's groups are held.
#[derive(Clone, Copy)]
enum Store {
    Sqlite,
    Postgres,
}

/// Tallybook and a gateway whose groups are held in `store` (a fresh SQLite file, or a fresh
/// database on the tests' PostgreSQL server).
fn start(store: Store) -> Env {
    match store {
        Store::Sqlite => Env::start(Legacy::Tallybook),
        Store::Postgres => {
            let db = postgres::database();
            Env::start_with(Legacy::Tallybook, |c| c.store.url = db.url.clone())
        }
    }
}

/// `#[test]`s of `body` on both stores.
macro_rules! on_both_stores {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Store::Sqlite)
            }
            #[test]
            fn postgres() {
                super::$name(super::Store::Postgres)
            }
        }
    };
}

fn role(env: &Env, user: &str) -> &'static str {
    env.tallybook()
        .role_of(user.parse().unwrap())
        .expect("a Tallybook user")
}

fn licensed(env: &Env, user: &str) -> bool {
    env.tallybook().user(user.parse().unwrap()).unwrap()["licensed"] == json!(true)
}

fn create_group(env: &Env, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let r = env.post(
        "/Groups",
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": name,
            "members": members,
        }),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// Entra's member add: `"op": "Add"`, a list of values.
fn add(env: &Env, group: &str, user: &str) {
    let body = patch_op(json!([{"op": "Add", "path": "members", "value": [{"value": user}]}]));
    let r = env.patch(&format!("/Groups/{group}"), &body);
    assert_eq!(r.status, 204, "{}", r.body);
}

/// Entra's member removal: a value filter in the path.
fn remove(env: &Env, group: &str, user: &str) {
    let path = format!("members[value eq \"{user}\"]");
    let body = patch_op(json!([{"op": "Remove", "path": path}]));
    let r = env.patch(&format!("/Groups/{group}"), &body);
    assert_eq!(r.status, 204, "{}", r.body);
}

fn member_values(group: &Value) -> Vec<String> {
    group["members"]
        .as_array()
        .map(|ms| {
            ms.iter()
                .map(|m| m["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn entra_group_traffic_sets_roles_and_the_licence_with_one_read_and_one_update_per_change(
    store: Store,
) {
    let env = start(store);
    let u = env.seed_users(2);
    assert_eq!(role(&env, &u[0]), "Assistant");
    // Entra's test connection and its look-up before a create.
    let none = env.get("/Groups?filter=displayName%20eq%20%22Tallybook%20Managers%22");
    assert_eq!(
        (none.status, none.body["totalResults"].clone()),
        (200, json!(0))
    );
    let managers = create_group(&env, "Tallybook Managers", &[]);
    let found = env.get("/Groups?filter=displayName%20eq%20%22tallybook%20managers%22");
    assert_eq!(
        found.body["totalResults"], 1,
        "displayName compares ignoring case"
    );
    assert_eq!(found.body["Resources"][0]["id"], json!(managers));

    let before = env.tallybook().request_count();
    add(&env, &managers, &u[0]);
    assert_eq!(role(&env, &u[0]), "Manager");
    assert_eq!(
        env.tallybook().request_count() - before,
        2,
        "one read of the user, one update of its role"
    );
    // Entra checks the membership it made.
    let check = env.get(&format!(
        "/Groups?filter=id%20eq%20%22{managers}%22%20and%20members%5Bvalue%20eq%20%22{}%22%5D&excludedAttributes=members",
        u[0]
    ));
    assert_eq!(check.body["totalResults"], 1, "{}", check.body);
    assert!(check.body["Resources"][0].get("members").is_none());

    // The licence follows "Tallybook Pro"; the highest role wins.
    let pro = create_group(&env, "Tallybook Pro", &[&u[0]]);
    assert!(licensed(&env, &u[0]));
    let advisers = create_group(&env, "Tallybook Advisers", &[&u[0], &u[1]]);
    assert_eq!(role(&env, &u[0]), "Manager", "Manager outranks Adviser");
    assert_eq!(role(&env, &u[1]), "Adviser");
    remove(&env, &managers, &u[0]);
    assert_eq!(
        role(&env, &u[0]),
        "Adviser",
        "the next highest of its groups"
    );
    remove(&env, &pro, &u[0]);
    assert!(!licensed(&env, &u[0]), "out of Pro: the seat is released");

    // The user's groups come from the store.
    let user = env.get(&format!("/Users/{}", u[0])).body;
    let groups: Vec<&str> = user["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["value"].as_str().unwrap())
        .collect();
    assert_eq!(groups, [advisers.as_str()]);
    assert_eq!(user["groups"][0]["display"], "Tallybook Advisers");

    // A group deleted: its former members keep their role (no group names another), and the
    // group is gone.
    assert_eq!(env.delete(&format!("/Groups/{advisers}")).status, 204);
    assert_eq!(env.get(&format!("/Groups/{advisers}")).status, 404);
    assert_eq!(
        role(&env, &u[1]),
        "Adviser",
        "no matching group: the role is kept"
    );
}

fn a_duplicate_display_name_is_409_and_unknown_members_are_skipped_while_the_rest_apply(
    store: Store,
) {
    let env = start(store);
    let u = env.seed_users(1);
    let g = create_group(&env, "Tallybook Pro", &[]);
    let dup = env.post(
        "/Groups",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "TALLYBOOK PRO"}),
    );
    assert_eq!(dup.status, 409, "{}", dup.body);
    assert_eq!(dup.body["scimType"], "uniqueness");
    let body = patch_op(
        json!([{"op": "Add", "path": "members", "value": [{"value": "999999"}, {"value": u[0]}]}]),
    );
    assert_eq!(env.patch(&format!("/Groups/{g}"), &body).status, 204);
    let group = env.get(&format!("/Groups/{g}")).body;
    assert_eq!(member_values(&group), [u[0].clone()]);
    assert!(licensed(&env, &u[0]));
}

fn okta_replaces_members_with_put_and_jumpcloud_removes_them_by_value(store: Store) {
    let env = start(store);
    let u = env.seed_users(3);
    let g = create_group(&env, "Tallybook Managers", &[&u[0], &u[1]]);
    // Okta: the whole group, members and all.
    let put = env.put(
        &format!("/Groups/{g}"),
        &json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": g,
            "displayName": "Tallybook Managers",
            "members": [{"value": u[1]}, {"value": u[2]}],
        }),
    );
    assert_eq!(put.status, 200, "{}", put.body);
    let mut members = member_values(&put.body);
    members.sort();
    let mut want = vec![u[1].clone(), u[2].clone()];
    want.sort();
    assert_eq!(members, want);
    assert_eq!(role(&env, &u[2]), "Manager");
    // JumpCloud: remove with a value list, no path filter.
    let body = patch_op(json!([{"op": "remove", "path": "members", "value": [{"value": u[2]}]}]));
    assert_eq!(env.patch(&format!("/Groups/{g}"), &body).status, 204);
    assert_eq!(
        member_values(&env.get(&format!("/Groups/{g}")).body),
        [u[1].clone()]
    );
    // A rename through PATCH keeps the members.
    let rename =
        patch_op(json!([{"op": "replace", "path": "displayName", "value": "Tallybook Advisers"}]));
    assert_eq!(env.patch(&format!("/Groups/{g}"), &rename).status, 204);
    let renamed = env.get(&format!("/Groups/{g}")).body;
    assert_eq!(renamed["displayName"], "Tallybook Advisers");
    assert_eq!(member_values(&renamed), [u[1].clone()]);
}

fn an_owner_is_never_lowered_by_a_group(store: Store) {
    let env = start(store);
    let owner = env
        .tallybook()
        .seed_owner("boss@example.com")
        .unwrap()
        .to_string();
    let g = create_group(&env, "Tallybook Assistants", &[&owner]);
    assert_eq!(role(&env, &owner), "Owner");
    assert_eq!(
        member_values(&env.get(&format!("/Groups/{g}")).body),
        [owner]
    );
}

#[test]
fn groups_are_kept_per_tenant_and_survive_a_restart() {
    let store = common::temp_store_file();
    let url = format!("sqlite:{}", store.display());
    let env = Env::start_with(Legacy::Tallybook, |c| c.store.url = url.clone());
    let g = create_group(&env, "Tallybook Pro", &[]);
    env.stop();
    let again = Env::start_with(Legacy::Tallybook, |c| c.store.url = url.clone());
    let r = again.get(&format!("/Groups/{g}"));
    assert_eq!(r.status, 200, "the group is in the store file: {}", r.body);
    assert_eq!(r.body["displayName"], "Tallybook Pro");
}

on_both_stores!(
    entra_group_traffic_sets_roles_and_the_licence_with_one_read_and_one_update_per_change
);
on_both_stores!(
    a_duplicate_display_name_is_409_and_unknown_members_are_skipped_while_the_rest_apply
);
on_both_stores!(okta_replaces_members_with_put_and_jumpcloud_removes_them_by_value);
on_both_stores!(an_owner_is_never_lowered_by_a_group);

#[test]
fn a_user_deleted_leaves_its_groups_only_when_the_mapping_says_so() {
    for remove in [false, true] {
        let env = Env::start_tweaked(
            Legacy::Tallybook,
            |m| {
                if let Some(h) = m.held_groups.as_mut() {
                    h.remove_deleted_users = remove;
                }
            },
            |_| {},
        );
        let u = env.seed_users(1);
        let g = create_group(&env, "Tallybook Pro", &[&u[0]]);
        assert_eq!(env.delete(&format!("/Users/{}", u[0])).status, 204);
        let members = member_values(&env.get(&format!("/Groups/{g}")).body);
        if remove {
            assert!(members.is_empty(), "remove_deleted_users: it left");
        } else {
            assert_eq!(members, [u[0].clone()], "Entra re-sends memberships: kept");
        }
    }
}

#[test]
fn oktas_rename_with_the_id_in_the_value_keeps_the_members() {
    let env = Env::start(Legacy::Tallybook);
    let u = env.seed_users(2);
    let g = create_group(&env, "Tallybook Advisers", &[&u[0], &u[1]]);
    let rename = patch_op(
        json!([{"op": "replace", "value": {"id": g, "displayName": "Tallybook Managers"}}]),
    );
    let r = env.patch(&format!("/Groups/{g}"), &rename);
    assert!(r.status == 200 || r.status == 204, "{}", r.body);
    let group = env.get(&format!("/Groups/{g}")).body;
    assert_eq!(group["displayName"], "Tallybook Managers");
    assert_eq!(member_values(&group).len(), 2);
    // Okta's full push replaces the set.
    let push = patch_op(json!([{"op": "replace", "path": "members", "value": [{"value": u[1]}]}]));
    assert_eq!(env.patch(&format!("/Groups/{g}"), &push).status, 204);
    assert_eq!(
        member_values(&env.get(&format!("/Groups/{g}")).body),
        [u[1].clone()]
    );
}
