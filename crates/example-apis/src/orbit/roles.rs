//! Orbit's roles: a fixed set, each named by a UUID generated when the [`Orbit`] is made, so
//! that no two instances agree on them (a mapping must look them up by name). A user's role is
//! its `role_id`. `GET /api/v2/roles` lists them; nothing changes them.

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::{json_response, Orbit};

/// The roles every Orbit has, in the order they are listed.
pub const ROLE_NAMES: [&str; 5] = ["Administrator", "Editor", "Member", "Viewer", "Billing"];

/// The roles of a new instance: (id, name), ids fresh UUIDs.
pub(super) fn generate() -> Vec<(String, &'static str)> {
    ROLE_NAMES
        .iter()
        .map(|name| (uuid::Uuid::new_v4().to_string(), *name))
        .collect()
}

impl Orbit {
    /// The id of the role named `name` (one of [`ROLE_NAMES`], as written).
    ///
    /// # Panics
    /// When Orbit has no such role: a test asked for something that cannot exist.
    pub fn role_id(&self, name: &str) -> String {
        self.inner
            .roles
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("Orbit has no role named {name:?} (see ROLE_NAMES)"))
    }

    /// Every role as (id, name), in [`ROLE_NAMES`] order.
    pub fn roles(&self) -> Vec<(String, String)> {
        self.inner
            .roles
            .iter()
            .map(|(id, name)| (id.clone(), (*name).to_string()))
            .collect()
    }

    pub(super) fn list_roles(&self) -> Response<Vec<u8>> {
        let roles: Vec<Value> = self
            .inner
            .roles
            .iter()
            .map(|(id, name)| json!({"id": id, "name": name}))
            .collect();
        json_response(StatusCode::OK, &json!({ "data": roles }))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{running, CLIENT_ID, SECRET};
    use super::super::{Orbit, ROLES};
    use super::ROLE_NAMES;

    #[test]
    fn roles_are_listed_with_ids_that_differ_per_instance() {
        let t = running();
        let reply = t.client.get(ROLES);
        assert_eq!(reply.status, 200);
        let listed = reply.json["data"].as_array().unwrap();
        let names: Vec<&str> = listed.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ROLE_NAMES);
        for role in listed {
            let id = role["id"].as_str().unwrap();
            assert_eq!(id, t.api.role_id(role["name"].as_str().unwrap()));
            let parsed = uuid::Uuid::parse_str(id).unwrap();
            assert_eq!(parsed.get_version_num(), 4, "{id}");
        }
        let other = Orbit::new(CLIENT_ID, SECRET);
        for name in ROLE_NAMES {
            assert_ne!(other.role_id(name), t.api.role_id(name), "{name}");
        }
        assert_eq!(t.api.roles().len(), 5);
    }

    #[test]
    fn roles_are_read_only() {
        let t = running();
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let reply = t
                .client
                .send(method, ROLES, &json!({"role": {"name": "Owner"}}));
            assert_eq!(reply.status, 405, "{method}");
            assert_eq!(reply.header("allow"), Some("GET"));
            assert_eq!(
                reply.json,
                json!({"errors": [{"status": "405", "code": "method_not_allowed"}]})
            );
        }
        assert_eq!(
            t.client.get(ROLES).json["data"].as_array().unwrap().len(),
            5
        );
        assert_eq!(t.client.with_auth(None).get(ROLES).status, 401);
    }

    #[test]
    #[should_panic(expected = "no role named \"Owner\"")]
    fn an_unknown_role_name_is_a_test_mistake() {
        Orbit::new(CLIENT_ID, SECRET).role_id("Owner");
    }
}
