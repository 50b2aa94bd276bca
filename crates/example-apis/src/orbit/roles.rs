//! Orbit's roles: a fixed set, each named by a UUID generated when the [`Orbit`] is made, so
//! that no two instances agree on them (a mapping must look them up by name). A user's role is
//! its `role_id`. `GET /api/v2/roles` lists them (`id` and `name`); `GET /api/v2/roles/{id}`
//! reads one, with the number of users holding it (`user_count`), and answers an unknown id
//! 403 like Orbit's other records. A role id in a path is resolved by prefix like a user's.
//! Nothing changes them (405).

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::{data, decode_segment, json_response, ApiError, Orbit};

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

    /// `GET /api/v2/roles/{id}`: the role whose id starts with `segment` (the only one), with
    /// its user count; none or several: 403.
    pub(super) fn get_role(&self, segment: &str) -> Result<Response<Vec<u8>>, ApiError> {
        let prefix = decode_segment(segment)
            .filter(|p| !p.is_empty())
            .ok_or(ApiError::Forbidden)?;
        let mut matches = self
            .inner
            .roles
            .iter()
            .filter(|(id, _)| id.starts_with(&prefix));
        let (Some((id, name)), None) = (matches.next(), matches.next()) else {
            return Err(ApiError::Forbidden);
        };
        let user_count = self
            .read()
            .users
            .values()
            .filter(|u| u.get("role_id").and_then(Value::as_str) == Some(id))
            .count();
        Ok(json_response(
            StatusCode::OK,
            &data(json!({"id": id, "name": name, "user_count": user_count})),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{create, ids, running, CLIENT_ID, SECRET};
    use super::super::{Orbit, ROLES, USERS};
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
    fn a_role_is_read_by_its_id_with_its_user_count() {
        let t = running();
        let editor = t.api.role_id("Editor");
        create(
            &t.client,
            json!({"email": "ada@example.com", "role_id": editor}),
        );
        create(&t.client, json!({"email": "bob@example.com"}));
        let reply = t.client.get(&format!("{ROLES}/{editor}"));
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        assert_eq!(
            reply.json,
            json!({"data": {"id": editor, "name": "Editor", "user_count": 1}})
        );
        let billing = t.api.role_id("Billing");
        let reply = t.client.get(&format!("{ROLES}/{billing}"));
        assert_eq!(reply.json["data"]["user_count"], 0);
        // A prefix names the one role it starts; an unknown id is 403, as for users and teams.
        let reply = t.client.get(&format!("{ROLES}/{}", &editor[..13]));
        assert_eq!(reply.json["data"]["id"], editor.as_str());
        let unknown = uuid::Uuid::new_v4().to_string();
        for id in [unknown.as_str(), "%FF", "no-such-role"] {
            let reply = t.client.get(&format!("{ROLES}/{id}"));
            assert_eq!(reply.status, 403, "{id}");
            assert_eq!(
                reply.json,
                json!({"errors": [{"status": "403", "code": "forbidden", "title": "Forbidden"}]})
            );
        }
        assert_eq!(t.client.get(&format!("{ROLES}/{editor}/x")).status, 404);
        let reply = t
            .client
            .send("PATCH", &format!("{ROLES}/{editor}"), &json!({}));
        assert_eq!(reply.status, 405);
        assert_eq!(reply.header("allow"), Some("GET"));
        assert_eq!(
            t.client
                .with_auth(None)
                .get(&format!("{ROLES}/{editor}"))
                .status,
            401
        );
    }

    #[test]
    fn users_are_filtered_by_their_exact_role_id() {
        let t = running();
        let editor = t.api.role_id("Editor");
        let ada = create(
            &t.client,
            json!({"email": "ada@example.com", "role_id": editor}),
        );
        create(&t.client, json!({"email": "bob@example.com"}));
        let found = |query: &str| ids(&t.client.get(&format!("{USERS}?{query}")));
        assert_eq!(
            found(&format!("filter[role_id]={editor}")),
            [ada["id"].as_str().unwrap()]
        );
        assert!(
            found(&format!("filter[role_id]={}", &editor[..8])).is_empty(),
            "no prefix"
        );
        assert!(found(&format!("filter[role_id]={}", editor.to_uppercase())).is_empty());
        assert_eq!(
            found(&format!("filter[role_id]={}", t.api.role_id("Member"))).len(),
            1
        );
        assert!(found(&format!("filter[role_id]={}", t.api.role_id("Billing"))).is_empty());
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
