//! Keystone, end to end over real sockets, driven the way Entra ID, Okta and JumpCloud drive a
//! SCIM server: what the identity provider is answered, and what Keystone received and stored.
//! Keystone reads ids by their leading digits, wraps every record (`{"user": …}`), lists thin
//! items without `state`, searches loosely with `q`, keeps users deleted through SCIM in its
//! list, lists its teams unpaged, refuses a member added twice, and applies whatever
//! server-owned field it is sent (`admin`, `api_key`, the timestamps): the gateway sends it
//! only the fields a change touches. Its identity guard, member refusals and unreadable creates
//! are in `identity_guard.rs`, `member_refusals.rs` and `partial_failures.rs`.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use common::scim::{entra_user, member_ids, patch_op, sorted};
use common::{Env, Legacy};
use scim_gateway_example_apis::keystone;
use serde_json::{json, Value};

/// Keystone's record of user `id`, unwrapped.
fn stored(env: &Env, id: &str) -> Value {
    env.keystone()
        .user(id.parse().unwrap())
        .unwrap_or_else(|| panic!("Keystone has user {id}"))
}

/// The last body Keystone received on `method` `pattern`.
fn last_body(env: &Env, method: &str, pattern: &str) -> Value {
    let bodies = env.keystone().bodies(method, pattern);
    bodies.last().cloned().expect("a body was received")
}

/// `GET /Users?filter=<attr> eq "<value>"` as Entra, a .NET client, encodes it.
fn users_where(attr: &str, value: &str) -> String {
    let encoded: String =
        form_urlencoded::byte_serialize(format!("{attr} eq \"{value}\"").as_bytes()).collect();
    format!("/Users?filter={encoded}")
}

fn ids_of(answer: &Value) -> Vec<String> {
    answer["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn entra_provisions_a_user_from_the_test_connection_to_its_deletion_and_back() {
    let env = Env::start(Legacy::Keystone);
    env.seed_users(3);

    // Test connection: a random GUID matches nobody.
    let probe = env.get(&users_where(
        "userName",
        "5e1c1ab2-0f43-4b1c-9d36-97a0f0a0c0de",
    ));
    assert_eq!(probe.status, 200, "{:?}", probe.body);
    assert_eq!(
        probe.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:ListResponse"
    );
    assert_eq!(probe.body["totalResults"], 0);
    assert_eq!(probe.body["Resources"], json!([]));

    // Match by userName, nothing yet, then create.
    let upn = "ada.lovelace@contoso.example";
    assert_eq!(
        env.get(&users_where("userName", upn)).body["totalResults"],
        0
    );
    let created = env.post("/Users", &entra_user(upn));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["active"], true);
    assert!(created
        .location
        .as_deref()
        .is_some_and(|l| l.ends_with(&format!("/Users/{id}"))));
    let sent = last_body(&env, "POST", keystone::USERS);
    assert_eq!(
        sent,
        json!({"user": {"login": upn, "email": upn, "first_name": "Ada",
                        "last_name": "Lovelace", "state": "active"}}),
        "the user wrapped, its mapped fields only"
    );
    let record = stored(&env, &id);
    assert_eq!(record["login"], upn);
    assert_eq!(record["admin"], false, "Keystone's own default");

    // Read, and matched by userName whatever its case (`q` is a search; the gateway keeps the
    // equal one), `active` shown although list items carry no state.
    let got = env.get(&format!("/Users/{id}"));
    assert_eq!(got.status, 200, "{:?}", got.body);
    assert_eq!(got.body["userName"], upn);
    assert_eq!(got.body["name"]["givenName"], "Ada");
    let found = env.get(&users_where("userName", &upn.to_uppercase()));
    assert_eq!(ids_of(&found.body), [id.as_str()], "{:?}", found.body);
    assert_eq!(found.body["Resources"][0]["active"], true);

    // PATCH the Entra way: capitalised ops, value-filtered paths.
    let patched = env.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([
            {"op": "Replace", "path": "name.givenName", "value": "Augusta"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "augusta@contoso.example"},
            {"op": "Add", "path": "title", "value": "Analyst"},
            {"op": "Add", "path": "phoneNumbers[type eq \"work\"].value", "value": "+44 20 7946 0018"}
        ])),
    );
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["name"]["givenName"], "Augusta");
    assert_eq!(patched.body["title"], "Analyst");
    assert_eq!(
        last_body(&env, "PATCH", keystone::USER),
        json!({"user": {"first_name": "Augusta", "email": "augusta@contoso.example",
                        "title": "Analyst", "phone": "+44 20 7946 0018"}})
    );
    let record = stored(&env, &id);
    assert_eq!(record["first_name"], "Augusta");
    assert_eq!(record["phone"], "+44 20 7946 0018");

    // A replace without a path, with dotted keys.
    let r = env.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "value": {
            "name.familyName": "King", "title": "Countess"
        }}])),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["name"]["familyName"], "King");
    assert!(r.body.get("name.familyName").is_none());
    assert_eq!(
        last_body(&env, "PATCH", keystone::USER),
        json!({"user": {"last_name": "King", "title": "Countess"}})
    );

    // Deactivate with a string boolean: locked in Keystone, still a SCIM user.
    let r = env.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}])),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(stored(&env, &id)["state"], "locked");
    let found = env.get(&users_where("userName", upn));
    assert_eq!(
        found.body["Resources"][0]["active"], false,
        "{:?}",
        found.body
    );
    assert_eq!(env.get("/Users?count=0").body["totalResults"], 4);

    // DELETE: Keystone keeps the record, in state "deleted", and lists it; SCIM no longer
    // shows it anywhere, nor counts it.
    let del = env.delete(&format!("/Users/{id}"));
    assert_eq!(del.status, 204, "{:?}", del.body);
    assert_eq!(stored(&env, &id)["state"], "deleted");
    assert_eq!(env.get(&format!("/Users/{id}")).status, 404);
    let found = env.get(&users_where("userName", upn));
    assert_eq!(found.body["totalResults"], 0, "{:?}", found.body);
    let listed = env.get("/Users?startIndex=1&count=2");
    assert_eq!(listed.body["totalResults"], 3, "{:?}", listed.body);
    let all = env.get("/Users?startIndex=3&count=10");
    assert_eq!(all.body["totalResults"], 3);
    assert_eq!(
        ids_of(&all.body),
        ["3"],
        "the last page, without the deleted user"
    );
    assert_eq!(env.get("/Users?count=0").body["totalResults"], 3);

    // Provisioned again (the user is back in scope): the same record, restored.
    let again = env.post("/Users", &entra_user(upn));
    assert_eq!(again.status, 201, "{:?}", again.body);
    assert_eq!(again.body["id"], id.as_str());
    assert_eq!(again.body["active"], true);
    assert_eq!(again.body["name"]["givenName"], "Ada");
    assert_eq!(stored(&env, &id)["state"], "active");
    assert_eq!(env.keystone().user_count(), 4, "no second record");
    let found = env.get(&users_where("userName", upn));
    assert_eq!(ids_of(&found.body), [id.as_str()]);
    assert_eq!(env.get("/Users?count=0").body["totalResults"], 4);
}

#[test]
fn entra_provisions_a_group_and_its_members() {
    let env = Env::start(Legacy::Keystone);
    let users = env.seed_users(3);
    let probe = env.get("/Groups?excludedAttributes=members&filter=displayName+eq+%22Sales%22");
    assert_eq!(probe.status, 200, "{:?}", probe.body);
    assert_eq!(probe.body["totalResults"], 0);

    let created = env.post(
        "/Groups",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "externalId": "8aa1a0c0-1", "displayName": "Sales"}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let team: u64 = id.parse().unwrap();
    assert_eq!(
        last_body(&env, "POST", keystone::TEAMS),
        json!({"team": {"name": "Sales", "external_id": "8aa1a0c0-1"}})
    );
    // Matched by displayName whatever its case, although Keystone's own name filter is not.
    let probe = env.get("/Groups?excludedAttributes=members&filter=displayName+eq+%22sales%22");
    assert_eq!(ids_of(&probe.body), [id.as_str()], "{:?}", probe.body);

    let add = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "Add", "path": "members", "value": [
            {"$ref": null, "value": users[0]}, {"$ref": null, "value": users[1]}]}])),
    );
    assert_eq!(add.status, 204, "{:?}", add.body);
    assert_eq!(env.keystone().member_ids(team), Some(vec![1, 2]));
    assert_eq!(
        last_body(&env, "POST", keystone::MEMBERSHIPS),
        json!({"membership": {"user_id": 2}}),
        "the member id as the number Keystone's ids are"
    );
    let got = env.get(&format!("/Groups/{id}"));
    assert_eq!(member_ids(&got.body), sorted(&[&users[0], &users[1]]));

    // Entra's membership check.
    let is_member = |user: &str| {
        let r = env.get(&format!(
            "/Groups?excludedAttributes=members&filter=id+eq+%22{id}%22+and+members%5Bvalue+eq+%22{user}%22%5D"
        ));
        assert_eq!(r.status, 200, "{:?}", r.body);
        r.body["totalResults"].as_u64().unwrap()
    };
    assert_eq!(is_member(&users[1]), 1);
    assert_eq!(is_member(&users[2]), 0);

    let rm = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "Remove", "path": "members",
                           "value": [{"$ref": null, "value": users[0]}]}])),
    );
    assert_eq!(rm.status, 204, "{:?}", rm.body);
    assert_eq!(env.keystone().member_ids(team), Some(vec![2]));
    assert_eq!(is_member(&users[0]), 0);

    let rename = env.patch(
        &format!("/Groups/{id}"),
        &patch_op(json!([{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}])),
    );
    assert_eq!(rename.status, 204, "{:?}", rename.body);
    assert_eq!(
        last_body(&env, "PATCH", keystone::TEAM),
        json!({"team": {"name": "Sales EMEA"}})
    );
    assert_eq!(env.keystone().team(team).unwrap()["name"], "Sales EMEA");
    assert_eq!(
        env.keystone().member_ids(team),
        Some(vec![2]),
        "members kept"
    );

    assert_eq!(env.delete(&format!("/Groups/{id}")).status, 204);
    assert!(env.keystone().team(team).is_none());
    assert_eq!(env.get(&format!("/Groups/{id}")).status, 404);
    assert_eq!(env.get("/Groups?count=0").body["totalResults"], 0);
}

fn okta_user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Test User",
        "locale": "en-US",
        "externalId": "00u1",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

#[test]
fn okta_imports_in_pages_then_creates_updates_and_deactivates() {
    let env = Env::start(Legacy::Keystone);
    let ids = env.seed_users(7);
    // One user deleted through SCIM and one locked in Keystone, both in its list.
    assert_eq!(env.delete(&format!("/Users/{}", ids[2])).status, 204);
    let locked = json!({"state": "locked"});
    assert!(env.keystone().edit_user(5, locked.as_object().unwrap()));

    // Import in pages of two: the same total on each, every page full but the last, the
    // pages adding up to it, `active` on each user.
    let mut seen = Vec::new();
    let mut total = None;
    let mut start = 1;
    loop {
        let page = env.get(&format!("/Users?startIndex={start}&count=2"));
        assert_eq!(page.status, 200, "{:?}", page.body);
        let t = page.body["totalResults"].as_u64().unwrap() as usize;
        assert_eq!(t, *total.get_or_insert(t), "the same total from {start}");
        let resources = page.body["Resources"].as_array().unwrap();
        assert_eq!(resources.len(), (t - seen.len()).min(2), "from {start}");
        for u in resources {
            let active = u["active"].as_bool().expect("active on each user");
            assert_eq!(active, u["id"] != "5", "{u}");
            seen.push(u["id"].as_str().unwrap().to_string());
        }
        start += 2;
        if start > t {
            break;
        }
    }
    assert_eq!(seen.len(), total.unwrap(), "the pages add up to the total");
    assert_eq!(
        seen,
        ["1", "2", "4", "5", "6", "7"],
        "without the deleted user"
    );
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());

    // Create, with Okta's pre-check and a password (not a Keystone field: never sent).
    let name = "user0@okta.example";
    let pre =
        env.get("/Users?filter=userName%20eq%20%22user0%40okta.example%22&startIndex=1&count=100");
    assert_eq!(pre.body["totalResults"], 0, "{:?}", pre.body);
    let created = env.post("/Users", &okta_user(name));
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert!(created.body.get("password").is_none());
    let id = created.body["id"].as_str().unwrap().to_string();
    let sent = last_body(&env, "POST", keystone::USERS);
    assert!(
        !sent.to_string().contains("1mz050nq"),
        "no password is sent: {sent}"
    );

    // PUT the whole user back with one change: Keystone is sent the change.
    let mut user = env.get(&format!("/Users/{id}")).body;
    user["name"]["givenName"] = json!("Changed");
    let put = env.put(&format!("/Users/{id}"), &user);
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["name"]["givenName"], "Changed");
    assert_eq!(put.body["name"]["familyName"], "User");
    assert_eq!(
        last_body(&env, "PATCH", keystone::USER),
        json!({"user": {"first_name": "Changed"}})
    );

    // Deactivate: a replace without a path.
    let r = env.patch(
        &format!("/Users/{id}"),
        &patch_op(json!([{"op": "replace", "value": {"active": false}}])),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(
        last_body(&env, "PATCH", keystone::USER),
        json!({"user": {"state": "locked"}})
    );
    let record = stored(&env, &id);
    assert_eq!(record["state"], "locked");
    assert_eq!(record["first_name"], "Changed");
    let listed = env.get("/Users?startIndex=7&count=2");
    assert_eq!(listed.body["totalResults"], 7, "{:?}", listed.body);
    assert_eq!(listed.body["Resources"][0]["id"], id.as_str());
    assert_eq!(listed.body["Resources"][0]["active"], false);
}

#[test]
fn jumpcloud_adds_a_member_again_and_it_stays_one_membership() {
    let env = Env::start(Legacy::Keystone);
    let users = env.seed_users(1);
    let created = env.post("/Groups", &json!({"displayName": "JC"}));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().unwrap().to_string();
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": users[0]}]}]));
    for _ in 0..3 {
        // Keystone refuses the second and third adds: 422 "has already been taken".
        let r = env.patch(&format!("/Groups/{id}"), &add);
        assert_eq!(r.status, 204, "{:?}", r.body);
    }
    assert_eq!(
        env.keystone().requests().get("POST", keystone::MEMBERSHIPS),
        3
    );
    assert_eq!(
        env.keystone().member_ids(id.parse().unwrap()),
        Some(vec![1])
    );
    let got = env.get(&format!("/Groups/{id}"));
    assert_eq!(member_ids(&got.body), [users[0].clone()]);
}

#[test]
fn a_title_change_sends_the_title_alone_and_a_concurrent_change_in_keystone_survives() {
    let env = Env::start(Legacy::Keystone);
    let ids = env.seed_users(1);
    let id = ids[0].clone();
    let before = stored(&env, &id);
    assert_eq!(before["admin"], false);

    // The gateway reads the user and writes the title; while its write is on the way, an
    // administrator makes the user an admin in Keystone itself.
    env.keystone()
        .requests()
        .slow("PATCH", keystone::USER, 1, Duration::from_millis(400));
    let answer = std::thread::scope(|s| {
        let patch = s.spawn(|| {
            env.patch(
                &format!("/Users/{id}"),
                &patch_op(json!([{"op": "replace", "path": "title", "value": "Lead"}])),
            )
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while env.keystone().requests().get("PATCH", keystone::USER) == 0 {
            assert!(Instant::now() < deadline, "the gateway's write arrives");
            std::thread::sleep(Duration::from_millis(5));
        }
        let admin = json!({"admin": true});
        assert!(env.keystone().edit_user(1, admin.as_object().unwrap()));
        patch.join().unwrap()
    });
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(answer.body["title"], "Lead");

    // Each write Keystone received is the title, and nothing else: no `admin`, `api_key`,
    // timestamp or `login` sent back as read.
    // Two: the first refused for its If-Match (the record changed), the second written over
    // the record read afresh.
    let bodies = env.keystone().bodies("PATCH", keystone::USER);
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    for body in &bodies {
        assert_eq!(body, &json!({"user": {"title": "Lead"}}));
    }
    let after = stored(&env, &id);
    assert_eq!(after["title"], "Lead");
    assert_eq!(after["admin"], true, "the change made in Keystone survives");
    for kept in ["login", "api_key", "created_at", "email", "state"] {
        assert_eq!(after[kept], before[kept], "{kept}");
    }
}

/// The counts a vendor bills on are never wrong: Keystone's list items cannot tell a user
/// deleted through SCIM, nor a locked one, so the users are not counted (unknown, `null`); its
/// teams, listed whole, are.
#[test]
fn the_admin_counts_are_unknown_where_the_list_items_cannot_tell() {
    let env = Env::start(Legacy::Keystone);
    let users = env.seed_users(3);
    assert_eq!(env.delete(&format!("/Users/{}", users[0])).status, 204);
    for name in ["Sales", "Ops"] {
        let r = env.post("/Groups", &json!({ "displayName": name }));
        assert_eq!(r.status, 201, "{:?}", r.body);
    }
    let (status, body) = env.admin_get("/status");
    assert_eq!(status, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    let t = &doc["tenants"]["default"];
    assert_eq!(t["users_active"], Value::Null, "{doc}");
    assert_eq!(t["users_inactive"], Value::Null, "{doc}");
    assert_eq!(t["groups"], 2, "{doc}");
}
