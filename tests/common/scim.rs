//! SCIM request bodies and answer readings that several integration tests share.

use serde_json::{json, Value};

use super::Env;

/// The enterprise extension's schema URN.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The body of Entra ID's POST /Users for `upn`, as its documentation shows it: the enterprise
/// schema listed, `meta` and empty `roles` echoed, unused attributes sent as null.
pub fn entra_user(upn: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": upn,
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": upn}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
        "roles": [],
        "addresses": null,
        "phoneNumbers": null
    })
}

/// A PatchOp request body with these `Operations`.
pub fn patch_op(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

/// The member ids of a SCIM Group, sorted.
pub fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| {
            m.iter()
                .map(|x| x["value"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// These ids, owned and sorted: what `member_ids` returns for a group of exactly them.
pub fn sorted(ids: &[&String]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

/// Creates a group named `name` through the gateway; its id.
pub fn create_group(env: &Env, name: &str) -> String {
    let r = env.post(
        "/Groups",
        &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}),
    );
    assert_eq!(r.status, 201, "{:?}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}
