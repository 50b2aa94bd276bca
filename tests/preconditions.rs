//! Lost updates, end to end over real sockets (RFC 7644 §3.14): every single-resource answer
//! carries an `ETag` equal to `meta.version`; a PUT, PATCH or DELETE whose `If-Match` names no
//! current version is refused with 412 and changes nothing; `If-None-Match` on a GET answers
//! 304 while the version holds. Users on Keystone (its users have `lock_version`, and its
//! update refuses a stale `If-Match` itself), groups held by the gateway on Tallybook (the
//! store's version), and a mapping whose users have no version (Tallybook's users), where the
//! headers are ignored. Also what a group PATCH answers (`scim.group_patch_answer`).

mod common;

use common::scim::{entra_user, member_ids, patch_op};
use common::{Answer, Env, Legacy};
use scim_gateway::config::GroupPatchAnswer;
use serde_json::{json, Value};

const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// A call with the valid token and extra headers.
fn call(
    env: &Env,
    method: &str,
    path: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Answer {
    env.call_with_headers(
        method,
        path,
        body,
        Some(&format!("Bearer {}", common::TOKEN)),
        headers,
    )
}

/// The answer's `ETag`, which must be its `meta.version` when it has a body with one.
fn etag(a: &Answer) -> String {
    let tag = a
        .header("etag")
        .unwrap_or_else(|| panic!("an ETag header: {} {:?}", a.status, a.body))
        .to_string();
    if let Some(v) = a.body.pointer("/meta/version") {
        assert_eq!(v.as_str(), Some(tag.as_str()), "ETag is meta.version");
    }
    tag
}

/// Keystone's record of user `id`.
fn keystone_user(env: &Env, id: &str) -> Value {
    env.keystone()
        .user(id.parse().unwrap())
        .expect("Keystone has the user")
}

fn title_patch(title: &str) -> Value {
    patch_op(json!([{"op": "replace", "path": "title", "value": title}]))
}

#[test]
fn keystone_users_answer_etags_and_refuse_stale_if_match() {
    let env = Env::start(Legacy::Keystone);
    let spc = env.get("/ServiceProviderConfig");
    assert_eq!(spc.body["etag"]["supported"], true);

    let created = env.post("/Users", &entra_user("ada@example.com"));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let first = etag(&created);
    assert!(first.starts_with("W/\""), "{first}");
    let id = created.body["id"].as_str().unwrap().to_string();
    let path = format!("/Users/{id}");

    let got = env.get(&path);
    assert_eq!((got.status, etag(&got)), (200, first.clone()));
    // `attributes` may leave meta out of the body; the ETag stays.
    let thin = env.get(&format!("{path}?attributes=userName"));
    assert_eq!(thin.status, 200);
    assert!(thin.body.get("meta").is_none(), "{:?}", thin.body);
    assert_eq!(thin.header("etag"), Some(first.as_str()));

    // A stale If-Match: 412 for PATCH, PUT and DELETE, and Keystone's record untouched.
    let before = keystone_user(&env, &id);
    let stale = [("If-Match", "W/\"999\"")];
    let refused = call(&env, "PATCH", &path, Some(&title_patch("Boss")), &stale);
    assert_eq!(refused.status, 412, "{:?}", refused.body);
    assert_eq!(refused.body["status"], "412");
    assert_eq!(
        refused.body["scimType"], "preconditionFailed",
        "{:?}",
        refused.body
    );
    let mut replaced = entra_user("ada@example.com");
    replaced["title"] = json!("Boss");
    assert_eq!(
        call(&env, "PUT", &path, Some(&replaced), &stale).status,
        412
    );
    assert_eq!(call(&env, "DELETE", &path, None, &stale).status, 412);
    assert_eq!(keystone_user(&env, &id), before, "nothing written");
    assert_eq!(env.get(&path).status, 200, "not deleted");

    // An If-Match that cannot be read is refused too, never applied unguarded.
    let garbled = call(
        &env,
        "PATCH",
        &path,
        Some(&title_patch("Boss")),
        &[("If-Match", "999")],
    );
    assert_eq!(garbled.status, 400, "{:?}", garbled.body);
    assert_eq!(garbled.body["scimType"], "invalidSyntax");
    assert_eq!(keystone_user(&env, &id), before);

    // The current version: written, and the answer's ETag is the new version.
    let current = [("If-Match", first.as_str())];
    let patched = call(&env, "PATCH", &path, Some(&title_patch("Lead")), &current);
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    let second = etag(&patched);
    assert_ne!(second, first);
    assert_eq!(keystone_user(&env, &id)["title"], "Lead");

    // The same If-Match again is now stale: a second writer that read the first version loses.
    let late = call(&env, "PATCH", &path, Some(&title_patch("Late")), &current);
    assert_eq!(late.status, 412, "{:?}", late.body);
    assert_eq!(keystone_user(&env, &id)["title"], "Lead");

    // Changed in Keystone behind the gateway, which still holds the record it wrote: the
    // client's old tag is refused (Keystone's own 412 becomes the client's), and the tag of
    // the record now is accepted, although the gateway's copy is older.
    let mut edit = serde_json::Map::new();
    edit.insert("title".into(), json!("Edited in Keystone"));
    assert!(env.keystone().edit_user(id.parse().unwrap(), &edit));
    let behind = call(
        &env,
        "PATCH",
        &path,
        Some(&title_patch("Mine")),
        &[("If-Match", second.as_str())],
    );
    assert_eq!(behind.status, 412, "{:?}", behind.body);
    assert_eq!(keystone_user(&env, &id)["title"], "Edited in Keystone");
    let now = format!("W/\"{}\"", keystone_user(&env, &id)["lock_version"]);
    let put = call(
        &env,
        "PUT",
        &path,
        Some(&replaced),
        &[("If-Match", now.as_str())],
    );
    assert_eq!(put.status, 200, "{:?}", put.body);
    let third = etag(&put);
    assert_eq!(keystone_user(&env, &id)["title"], "Boss");

    // `*` and a list with the current tag among others.
    let any = call(
        &env,
        "PATCH",
        &path,
        Some(&title_patch("Any")),
        &[("If-Match", "*")],
    );
    assert_eq!(any.status, 200, "{:?}", any.body);
    let fourth = etag(&any);
    let list = format!("W/\"1\", {fourth}");
    let listed = call(
        &env,
        "PATCH",
        &path,
        Some(&title_patch("Listed")),
        &[("If-Match", list.as_str())],
    );
    assert_eq!(listed.status, 200, "{:?}", listed.body);
    let fifth = etag(&listed);
    assert_ne!(third, fifth);

    // If-None-Match: 304 without a body while the version holds, 200 after a change.
    let cached = call(
        &env,
        "GET",
        &path,
        None,
        &[("If-None-Match", fifth.as_str())],
    );
    assert_eq!(cached.status, 304);
    assert_eq!(cached.body, Value::Null);
    assert_eq!(cached.header("etag"), Some(fifth.as_str()));
    let other = call(&env, "GET", &path, None, &[("If-None-Match", "W/\"1\"")]);
    assert_eq!(other.status, 200);
    edit.insert("title".into(), json!("Changed"));
    assert!(env.keystone().edit_user(id.parse().unwrap(), &edit));
    let changed = call(
        &env,
        "GET",
        &path,
        None,
        &[("If-None-Match", fifth.as_str())],
    );
    assert_eq!(changed.status, 200);
    assert_eq!(changed.body["title"], "Changed");
    let sixth = etag(&changed);

    // DELETE with the current version.
    let deleted = call(&env, "DELETE", &path, None, &[("If-Match", sixth.as_str())]);
    assert_eq!(deleted.status, 204, "{:?}", deleted.body);
    assert_eq!(env.get(&path).status, 404);
}

#[test]
fn keystone_teams_have_no_version_and_ignore_if_match() {
    let env = Env::start(Legacy::Keystone);
    let created = env.post(
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "Ops"}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert!(created.header("etag").is_none());
    let id = created.body["id"].as_str().unwrap();
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Ops 2"}]));
    let patched = call(
        &env,
        "PATCH",
        &format!("/Groups/{id}"),
        Some(&rename),
        &[("If-Match", "W/\"999\"")],
    );
    assert_eq!(patched.status, 204, "{:?}", patched.body);
    assert_eq!(
        env.get(&format!("/Groups/{id}")).body["displayName"],
        "Ops 2"
    );
}

#[test]
fn held_groups_answer_etags_and_refuse_stale_if_match() {
    let env = Env::start(Legacy::Tallybook);
    // Tallybook's users have no version: the one flag for the service follows the users.
    let spc = env.get("/ServiceProviderConfig");
    assert_eq!(spc.body["etag"]["supported"], false);

    let users = env.seed_users(2);
    let created = env.post(
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "Night shift", "members": [{"value": users[0]}]}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let first = etag(&created);
    let id = created.body["id"].as_str().unwrap().to_string();
    let path = format!("/Groups/{id}");
    assert_eq!(etag(&env.get(&path)), first);

    let stale = [("If-Match", "W/\"999\"")];
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": users[1]}]}]));
    assert_eq!(call(&env, "PATCH", &path, Some(&add), &stale).status, 412);
    let put_body = json!({"schemas": [GROUP], "displayName": "Day shift", "members": []});
    assert_eq!(
        call(&env, "PUT", &path, Some(&put_body), &stale).status,
        412
    );
    let refused = call(&env, "DELETE", &path, None, &stale);
    assert_eq!(refused.status, 412, "{:?}", refused.body);
    let still = env.get(&path);
    assert_eq!(still.body["displayName"], "Night shift");
    assert_eq!(member_ids(&still.body), vec![users[0].clone()]);
    assert_eq!(etag(&still), first, "the version did not move");

    // A request refused for what it asks leaves the version as it was.
    let current = [("If-Match", first.as_str())];
    let empty_name = patch_op(json!([{"op": "replace", "path": "displayName", "value": ""}]));
    let invalid = call(&env, "PATCH", &path, Some(&empty_name), &current);
    assert_eq!(invalid.status, 400, "{:?}", invalid.body);
    assert_eq!(etag(&env.get(&path)), first);

    // The current version: applied (204 by default), and the version moved.
    let patched = call(&env, "PATCH", &path, Some(&add), &current);
    assert_eq!(patched.status, 204, "{:?}", patched.body);
    let after = env.get(&path);
    assert_eq!(member_ids(&after.body).len(), 2);
    let second = etag(&after);
    assert_ne!(second, first);
    // A second writer holding the first version loses.
    assert_eq!(
        call(&env, "PUT", &path, Some(&put_body), &current).status,
        412
    );
    assert_eq!(member_ids(&env.get(&path).body).len(), 2);

    // If-None-Match: 304 while the version holds, 200 once a member leaves.
    let cached = call(
        &env,
        "GET",
        &path,
        None,
        &[("If-None-Match", second.as_str())],
    );
    assert_eq!((cached.status, cached.body.clone()), (304, Value::Null));
    assert_eq!(cached.header("etag"), Some(second.as_str()));
    let remove =
        patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[1])}]));
    assert_eq!(
        call(&env, "PATCH", &path, Some(&remove), &[("If-Match", "*")]).status,
        204
    );
    let changed = call(
        &env,
        "GET",
        &path,
        None,
        &[("If-None-Match", second.as_str())],
    );
    assert_eq!(changed.status, 200);
    assert_eq!(member_ids(&changed.body), vec![users[0].clone()]);
    let third = etag(&changed);

    let put = call(
        &env,
        "PUT",
        &path,
        Some(&put_body),
        &[("If-Match", third.as_str())],
    );
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["displayName"], "Day shift");
    let fourth = etag(&put);
    assert_eq!(
        call(&env, "DELETE", &path, None, &[("If-Match", third.as_str())]).status,
        412
    );
    assert_eq!(
        call(
            &env,
            "DELETE",
            &path,
            None,
            &[("If-Match", fourth.as_str())]
        )
        .status,
        204
    );
    assert_eq!(env.get(&path).status, 404);

    // Tallybook's users have no version: If-Match and If-None-Match are ignored for them.
    let user = format!("/Users/{}", users[0]);
    let got = env.get(&user);
    assert!(got.header("etag").is_none());
    let rename = patch_op(json!([{"op": "replace", "path": "name.givenName", "value": "Renamed"}]));
    let patched = call(&env, "PATCH", &user, Some(&rename), &stale);
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["name"]["givenName"], "Renamed");
    assert_eq!(
        call(&env, "GET", &user, None, &[("If-None-Match", "*")]).status,
        200
    );
}

#[test]
fn a_group_patch_answers_the_group_when_configured() {
    let env = Env::start_with(Legacy::Tallybook, |c| {
        c.scim.group_patch_answer = GroupPatchAnswer::Group;
    });
    let users = env.seed_users(1);
    let created = env.post(
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "Auditors", "members": [{"value": users[0]}]}),
    );
    let id = created.body["id"].as_str().unwrap().to_string();
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Auditors 2"}]));
    let answered = env.patch(&format!("/Groups/{id}"), &rename);
    assert_eq!(answered.status, 200, "{:?}", answered.body);
    assert_eq!(answered.body["displayName"], "Auditors 2");
    assert!(
        answered.body.get("members").is_none(),
        "members only when asked: {:?}",
        answered.body
    );
    etag(&answered);
    let asked = env.patch(&format!("/Groups/{id}?attributes=members"), &rename);
    assert_eq!(asked.status, 200, "{:?}", asked.body);
    assert_eq!(member_ids(&asked.body), vec![users[0].clone()]);
    // The default answer is 204 (shown in held_groups_answer_etags_and_refuse_stale_if_match).
}

#[test]
fn a_guarded_patch_after_a_read_costs_keystone_one_call() {
    let env = Env::start(Legacy::Keystone);
    let id = env.seed_users(1).remove(0);
    let path = format!("/Users/{id}");
    let got = env.get(&path);
    let tag = etag(&got);
    let before = env.backend_requests();
    let patched = call(
        &env,
        "PATCH",
        &path,
        Some(&title_patch("Lead")),
        &[("If-Match", tag.as_str())],
    );
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    // The record read a moment ago is the read half; Keystone gets the update alone.
    assert_eq!(env.backend_requests() - before, 1);
    let before = env.backend_requests();
    let stale = call(
        &env,
        "PATCH",
        &path,
        Some(&title_patch("Late")),
        &[("If-Match", tag.as_str())],
    );
    assert_eq!(stale.status, 412);
    // A tag that is not the cached record's is checked on a fresh read before the refusal.
    assert_eq!(env.backend_requests() - before, 1);
}

#[test]
fn orbit_teams_have_a_version_that_covers_their_members() {
    let env = Env::start(Legacy::Orbit);
    let users = env.seed_users(2);
    let created = env.post(
        "/Groups",
        &json!({"schemas": [GROUP], "displayName": "Platform", "members": [{"value": users[0]}]}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let path = format!("/Groups/{id}");
    let got = env.get(&path);
    let first = etag(&got);
    assert_eq!(member_ids(&got.body), vec![users[0].clone()]);

    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": users[1]}]}]));
    let stale = call(
        &env,
        "PATCH",
        &path,
        Some(&add),
        &[("If-Match", "W/\"999\"")],
    );
    assert_eq!(stale.status, 412, "{:?}", stale.body);
    assert_eq!(
        call(&env, "DELETE", &path, None, &[("If-Match", "W/\"999\"")]).status,
        412
    );
    assert_eq!(member_ids(&env.get(&path).body), vec![users[0].clone()]);

    // The members are a list on the team: with them shown, 304 while the version holds, and
    // a member added moves the version.
    let cached = call(
        &env,
        "GET",
        &path,
        None,
        &[("If-None-Match", first.as_str())],
    );
    assert_eq!(cached.status, 304);
    let patched = call(
        &env,
        "PATCH",
        &path,
        Some(&add),
        &[("If-Match", first.as_str())],
    );
    assert_eq!(patched.status, 204, "{:?}", patched.body);
    let changed = call(
        &env,
        "GET",
        &path,
        None,
        &[("If-None-Match", first.as_str())],
    );
    assert_eq!(changed.status, 200);
    assert_eq!(member_ids(&changed.body).len(), 2);
    let second = etag(&changed);
    assert_eq!(
        call(
            &env,
            "DELETE",
            &path,
            None,
            &[("If-Match", second.as_str())]
        )
        .status,
        204
    );
}
