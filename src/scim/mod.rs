//! The SCIM 2.0 protocol core (RFC 7643, RFC 7644): resource schemas, attribute paths, the
//! filter language, the PATCH engine, list/query handling, the error type, and JSON text.
//!
//! Everything here is pure: no I/O, no HTTP, no knowledge of the legacy API or the mapping.
//! SCIM resources are handled as `serde_json::Value` objects, interpreted through [`schema`].

pub mod address;
pub(crate) mod discovery;
pub mod error;
pub(crate) mod etag;
pub mod filter;
pub(crate) mod json_text;
pub mod list;
pub mod patch;
pub mod path;
pub mod schema;

pub use error::ScimError;
pub(crate) use error::ScimType;

use serde_json::{Map, Value};

/// The member `name` of a SCIM object: the key spelled so if there is one, else the first key
/// equal to it ignoring ASCII case (attribute names are case-insensitive, RFC 7643 §2.1). One
/// pass, hashing nothing: most look-ups are of attributes a resource does not have, which
/// cost a hash and then this pass anyway.
pub(crate) fn member<'v>(map: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    let mut folded = None;
    for (key, value) in map {
        if key == name {
            return Some(value);
        }
        if folded.is_none() && key.eq_ignore_ascii_case(name) {
            folded = Some(value);
        }
    }
    folded
}

/// Whether two JSON values are equal (as `==`: objects equal whatever their keys' order),
/// comparing objects whose keys come in the same order pair by pair, hashing nothing — a record
/// and its copy with a few fields written, the usual case — and only objects in another order
/// as maps.
pub(crate) fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() {
                return false;
            }
            for ((kx, vx), (ky, vy)) in x.iter().zip(y) {
                if kx != ky {
                    return x == y;
                }
                // Keys are unique: `y`'s value for this key is `vy`.
                if !same_json(vx, vy) {
                    return false;
                }
            }
            true
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_json(p, q))
        }
        _ => a == b,
    }
}

/// Schema URNs used across the crate.
pub(crate) mod urn {
    pub(crate) const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    pub(crate) const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    #[cfg(test)]
    pub(crate) const ENTERPRISE_USER: &str =
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    pub(crate) const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    pub(crate) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    pub(crate) const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
    pub(crate) const SERVICE_PROVIDER_CONFIG: &str =
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
    pub(crate) const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
    pub(crate) const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_member_is_the_key_spelled_so_else_the_first_equal_ignoring_case() {
        let object = json!({"USERNAME": "a", "userName": "b", "Title": "c", "TITLE": "d"});
        let map = object.as_object().unwrap();
        assert_eq!(member(map, "userName"), Some(&json!("b")));
        assert_eq!(member(map, "username"), Some(&json!("a")));
        assert_eq!(member(map, "title"), Some(&json!("c")));
        assert_eq!(member(map, "displayName"), None);
    }

    #[test]
    fn same_json_is_equality_whatever_the_order_of_keys() {
        let cases = [
            (
                json!({"a": 1, "b": {"c": [1, 2]}}),
                json!({"a": 1, "b": {"c": [1, 2]}}),
                true,
            ),
            (json!({"a": 1, "b": 2}), json!({"b": 2, "a": 1}), true),
            (
                json!({"a": {"x": 1, "y": 2}}),
                json!({"a": {"y": 2, "x": 1}}),
                true,
            ),
            (json!({"a": 1, "b": 2}), json!({"a": 1, "b": 3}), false),
            (json!({"a": 1, "b": 2}), json!({"b": 3, "a": 1}), false),
            (json!({"a": 1}), json!({"a": 1, "b": null}), false),
            (json!({"a": 1, "b": 2}), json!({"a": 1, "c": 2}), false),
            (json!([1, {"k": "v"}]), json!([1, {"k": "v"}]), true),
            (json!([1, 2]), json!([2, 1]), false),
            (json!(1), json!(1.0), json!(1) == json!(1.0)),
            (json!("x"), json!(null), false),
        ];
        for (a, b, equal) in cases {
            assert_eq!(same_json(&a, &b), equal, "{a} vs {b}");
            assert_eq!(same_json(&a, &b), a == b, "{a} vs {b}: as ==");
        }
    }
}
