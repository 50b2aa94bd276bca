//! Microsoft Entra ID's user provisioning sequence (`docs/idp/entra.md`, "What Entra sends on
//! the wire"), replayed over real HTTP against the gateway in front of each example legacy API.

mod common;

use common::scim::{entra_user, ENTERPRISE};
use common::{Env, Legacy};
use serde_json::{json, Value};

fn filter_query(attr: &str, value: &str) -> String {
    // Entra is a .NET client: spaces as '+', quotes and '@' percent-encoded.
    let encoded: String =
        form_urlencoded::byte_serialize(format!("{attr} eq \"{value}\"").as_bytes()).collect();
    format!("/Users?filter={encoded}")
}

fn lifecycle(env: &Env) {
    // 1. Test connection: a random GUID matches nobody → 200 with an empty ListResponse.
    let probe = env.get(&filter_query(
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
    assert!(probe
        .content_type
        .as_deref()
        .unwrap_or("")
        .starts_with("application/scim+json"));
    // The groups probe answers the same way.
    let groups = env.get("/Groups?excludedAttributes=members&filter=displayName+eq+%22a2b1c3%22");
    assert_eq!(groups.status, 200);
    assert_eq!(groups.body["totalResults"], 0);

    // 2. Match before create: nothing yet.
    let upn = "ada.lovelace@contoso.example";
    assert_eq!(
        env.get(&filter_query("userName", upn)).body["totalResults"],
        0
    );

    // 3. Create → 201 with id and Location.
    let created = env.post("/Users", &entra_user(upn));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = created.body["id"].as_str().expect("an id").to_string();
    assert_eq!(created.body["userName"], upn);
    assert_eq!(created.body["name"]["givenName"], "Ada");
    assert_eq!(created.body["name"]["familyName"], "Lovelace");
    assert_eq!(created.body["active"], true);
    assert_eq!(created.body["emails"][0]["value"], upn);
    assert_eq!(created.body["meta"]["resourceType"], "User");
    let location = created.location.clone().expect("a Location header");
    assert!(location.ends_with(&format!("/Users/{id}")), "{location}");
    assert_eq!(created.body["meta"]["location"], location.as_str());

    // 4. A duplicate → 409 uniqueness with a detail.
    let dup = env.post("/Users", &entra_user(upn));
    assert_eq!(dup.status, 409, "{:?}", dup.body);
    assert_eq!(dup.body["scimType"], "uniqueness");
    assert_eq!(
        dup.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert!(dup.body["detail"].as_str().is_some_and(|d| !d.is_empty()));

    // 5. Read, and match by filter — userName is case-insensitive, externalId too is filterable.
    let got = env.get(&format!("/Users/{id}"));
    assert_eq!(got.status, 200);
    assert_eq!(got.body["id"], id.as_str());
    let by_upper = env.get(&filter_query("userName", &upn.to_uppercase()));
    assert_eq!(by_upper.body["totalResults"], 1, "{:?}", by_upper.body);
    assert_eq!(by_upper.body["Resources"][0]["id"], id.as_str());
    let by_ext = env.get(&filter_query(
        "externalId",
        "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    ));
    assert_eq!(by_ext.body["totalResults"], 1, "{:?}", by_ext.body);
    let by_email = env.get(&filter_query("emails[type eq \"work\"].value", upn));
    assert_eq!(by_email.body["totalResults"], 1, "{:?}", by_email.body);

    // 6. Unknown id → 404 with the SCIM error body.
    let missing = env.get("/Users/999999");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );

    // 7. PATCH the Entra way (flag off): capitalised ops, one op per attribute, paths with value
    //    filters and enterprise URNs.
    let patch = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "name.givenName", "value": "Augusta"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "augusta@contoso.example"},
            {"op": "Add", "path": "title", "value": "Analyst"},
            {"op": "Replace", "path": "externalId", "value": "ada-ext-2"},
            {"op": "Add", "path": format!("{ENTERPRISE}:employeeNumber"), "value": "1815"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+44 20 7946 0018"}
        ]
    });
    let patched = env.patch(&format!("/Users/{id}"), &patch);
    assert_eq!(patched.status, 200, "{:?}", patched.body);
    assert_eq!(patched.body["name"]["givenName"], "Augusta");
    assert_eq!(patched.body["title"], "Analyst");
    assert_eq!(patched.body["externalId"], "ada-ext-2");
    assert_eq!(patched.body[ENTERPRISE]["employeeNumber"], "1815");
    let emails = patched.body["emails"].as_array().unwrap();
    assert!(emails
        .iter()
        .any(|e| e["value"] == "augusta@contoso.example" && e["type"] == "work"));
    let phones = patched.body["phoneNumbers"].as_array().unwrap();
    assert!(phones
        .iter()
        .any(|p| p["value"] == "+44 20 7946 0018" && p["type"] == "mobile"));
    // The change is stored, not just echoed.
    let again = env.get(&format!("/Users/{id}"));
    assert_eq!(again.body["name"]["givenName"], "Augusta");
    assert_eq!(again.body[ENTERPRISE]["employeeNumber"], "1815");

    // 8. PATCH the flag-on way: a replace without path, dotted and URN keys.
    let flagged = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {
            "name.familyName": "King",
            format!("{ENTERPRISE}:department"): "Mathematics"
        }}]
    });
    let r = env.patch(&format!("/Users/{id}"), &flagged);
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["name"]["familyName"], "King");
    assert_eq!(r.body[ENTERPRISE]["department"], "Mathematics");
    assert!(r.body.get("name.familyName").is_none());

    // 9. Disable with a string boolean; the user is still found by GET and by filter.
    let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    let r = env.patch(&format!("/Users/{id}"), &off);
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["active"], false);
    assert_eq!(env.get(&format!("/Users/{id}")).body["active"], false);
    let found = env.get(&filter_query("userName", upn));
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0]["active"], false);

    // 10. Re-enable (flag on: a real boolean).
    let on = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": true}]});
    assert_eq!(env.patch(&format!("/Users/{id}"), &on).body["active"], true);

    // 10b. The manager, sent as a bare id in a later update (docs/idp/entra.md), where the mapping
    //      stores it.
    if env.legacy == Legacy::AcmeHr {
        let manager = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": "1"}]});
        let r = env.patch(&format!("/Users/{id}"), &manager);
        assert_eq!(r.status, 200, "{:?}", r.body);
        assert_eq!(r.body[ENTERPRISE]["manager"]["value"], "1");
        let remove = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Remove", "path": format!("{ENTERPRISE}:manager")}]});
        let r = env.patch(&format!("/Users/{id}"), &remove);
        assert!(r.body[ENTERPRISE].get("manager").is_none(), "{:?}", r.body);
    }

    // 11. Delete → 204; the legacy record is kept, deactivated.
    let del = env.delete(&format!("/Users/{id}"));
    assert_eq!(del.status, 204, "{:?}", del.body);
    assert_eq!(del.body, Value::Null);
}

all_mappings!(entra_lifecycle, lifecycle);

fn create_with_string_boolean_and_nulls(env: &Env) {
    // Microsoft's reference test "Post emp1 with string True", with unused attributes as null.
    let mut body = entra_user("emp1@contoso.example");
    body["active"] = json!("True");
    body["title"] = Value::Null;
    let r = env.post("/Users", &body);
    assert_eq!(r.status, 201, "{:?}", r.body);
    assert_eq!(r.body["active"], true);
    assert!(r.body.get("title").is_none());
}

all_mappings!(entra_create_quirks, create_with_string_boolean_and_nulls);

#[test]
fn wrong_token_gets_401_with_www_authenticate() {
    let env = Env::start(Legacy::AcmeHr);
    let r = env.call_with("GET", "/Users", None, Some("Bearer wrong"));
    assert_eq!(r.status, 401);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert!(r
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Bearer")));
    let none = env.call_with("GET", "/Users", None, None);
    assert_eq!(none.status, 401);
}
