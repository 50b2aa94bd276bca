//! Okta's user provisioning sequence (`docs/idp/okta.md`, "What Okta sends on the wire"):
//! import with startIndex/count, create with the pre-check, PUT updates (full replace),
//! deactivate/reactivate by PATCH and by PUT, and the SPEC test's checks — over real HTTP
//! against each example legacy API.

mod common;

use common::Env;
use serde_json::{json, Value};

fn okta_user(user_name: &str, given: &str, family: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": format!("{given} {family}"),
        "locale": "en-US",
        "externalId": format!("00u{}", user_name.len()),
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

fn lifecycle(env: &Env) {
    // Create five users, then import them in pages of two.
    let mut ids = Vec::new();
    for i in 0..5 {
        let name = format!("user{i}@okta.example");
        // Okta's pre-check: spaces as %20.
        let pre = env.get(&format!(
            "/Users?filter=userName%20eq%20%22user{i}%40okta.example%22&startIndex=1&count=100"
        ));
        assert_eq!(pre.status, 200);
        assert_eq!(pre.body["totalResults"], 0);
        let r = env.post("/Users", &okta_user(&name, "Test", &format!("User{i}")));
        assert_eq!(r.status, 201, "{:?}", r.body);
        assert!(
            r.body.get("password").is_none(),
            "password must never be returned"
        );
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let page = env.get(&format!("/Users?startIndex={start}&count=2"));
        assert_eq!(page.status, 200, "{:?}", page.body);
        for key in ["totalResults", "itemsPerPage", "startIndex"] {
            assert!(
                page.body[key].is_u64(),
                "{key} must be an integer: {:?}",
                page.body[key]
            );
        }
        assert_eq!(page.body["startIndex"], start);
        let total = page.body["totalResults"].as_u64().unwrap();
        let resources = page.body["Resources"].as_array().unwrap();
        assert!(resources.len() <= 2);
        seen.extend(
            resources
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string()),
        );
        start += 2;
        if start as u64 > total {
            break;
        }
    }
    for id in &ids {
        assert!(
            seen.contains(id),
            "user {id} missing from the import: {seen:?}"
        );
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "the same user on two pages: {seen:?}"
    );

    // SPEC test: a random e-mail filter finds nothing; the upper-cased userName finds the user.
    let none = env.get("/Users?filter=userName%20eq%20%22random-4711%40okta.example%22");
    assert_eq!(none.body["totalResults"], 0);
    let upper = env.get("/Users?filter=userName%20eq%20%22USER0%40OKTA.EXAMPLE%22");
    assert_eq!(upper.body["totalResults"], 1, "{:?}", upper.body);

    // Update: GET, change, PUT the whole object back (with id, meta, groups).
    let id = &ids[0];
    let mut user = env.get(&format!("/Users/{id}")).body;
    user["name"]["givenName"] = json!("Changed");
    user["groups"] = json!([]);
    let put = env.put(&format!("/Users/{id}"), &user);
    assert_eq!(put.status, 200, "{:?}", put.body);
    assert_eq!(put.body["name"]["givenName"], "Changed");
    assert_eq!(put.body["name"]["familyName"], "User0");
    assert_eq!(put.body["active"], true);
    assert_eq!(
        env.get(&format!("/Users/{id}")).body["name"]["givenName"],
        "Changed"
    );

    // A PUT that leaves out `active` does not deactivate anybody.
    let mut no_active = user.clone();
    no_active.as_object_mut().unwrap().remove("active");
    assert_eq!(
        env.put(&format!("/Users/{id}"), &no_active).body["active"],
        true
    );

    // OIN deactivate / reactivate: PATCH replace without a path.
    let deactivate = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": false}}]});
    let r = env.patch(&format!("/Users/{id}"), &deactivate);
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["active"], false);
    let reactivate = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": true}}]});
    assert_eq!(
        env.patch(&format!("/Users/{id}"), &reactivate).body["active"],
        true
    );

    // AIW apps: deactivation arrives in a PUT.
    let mut off = env.get(&format!("/Users/{id}")).body;
    off["active"] = json!(false);
    let r = env.put(&format!("/Users/{id}"), &off);
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(env.get(&format!("/Users/{id}")).body["active"], false);
    // ... and reactivation too.
    off["active"] = json!(true);
    assert_eq!(env.put(&format!("/Users/{id}"), &off).body["active"], true);
}

all_mappings!(okta_lifecycle, lifecycle);

fn errors_are_scim_errors(env: &Env) {
    // Junk JSON → 400 invalidSyntax.
    let r = env.call("POST", "/Users", Some(&json!("not an object")));
    assert_eq!(r.status, 400);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    // No userName → 400.
    let r = env.post("/Users", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "name": {"givenName": "X"}}));
    assert_eq!(r.status, 400, "{:?}", r.body);
    // A filter that does not parse → 400 invalidFilter.
    let r = env.get("/Users?filter=userName%20eq");
    assert_eq!(r.status, 400);
    assert_eq!(r.body["scimType"], "invalidFilter");
    // A PATCH with an unknown attribute → 400 invalidPath.
    let created = env.post("/Users", &okta_user("errors@okta.example", "E", "Rr"));
    let id = created.body["id"].as_str().unwrap();
    let r = env.patch(
        &format!("/Users/{id}"),
        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "noSuchAttribute", "value": "x"}]}),
    );
    assert_eq!(r.status, 400, "{:?}", r.body);
    assert_eq!(r.body["scimType"], "invalidPath");
    // Unknown id on every method → 404.
    for method in ["GET", "PUT", "PATCH", "DELETE"] {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "title", "value": "x"}]});
        let put = okta_user("nobody@okta.example", "No", "Body");
        let r = env.call(
            method,
            "/Users/does-not-exist-42",
            (method != "GET" && method != "DELETE").then_some(if method == "PUT" {
                &put
            } else {
                &body
            }),
        );
        assert_eq!(r.status, 404, "{method}: {:?}", r.body);
    }
    // A hostile id reaches the legacy API as data, never as a path.
    let r = env.get("/Users/..%2F..%2Fadmin");
    assert_eq!(r.status, 404, "{:?}", r.body);
}

all_mappings!(scim_errors, errors_are_scim_errors);
