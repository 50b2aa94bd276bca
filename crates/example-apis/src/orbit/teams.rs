//! Orbit's teams, `{"id", "name", "external_id", "member_ids", "version", "created_at",
//! "updated_at"}`: the members are a list of user ids on the team, replaced whole by a write,
//! guarded by the team's `version`.
//!
//! The rules, as Orbit's own clients see them:
//! - `GET /api/v2/teams` answers every team in one response, in id order, with no total and
//!   thin items (`id`, `name`); `?member_id=usr_…` keeps the teams whose `member_ids` hold
//!   exactly that id; any other parameter (`name`, paging) is ignored;
//! - `POST /api/v2/teams` `{"team": {"name", "member_ids"?}}` → 200 `{"data": {…}}`, version
//!   1. Names are not unique; a blank name is 422;
//! - `PATCH /api/v2/teams/{id}` `{"team": {"name"?, "member_ids"?}}` → 204 with no body, and
//!   the version moves on by one. An `If-Match` that does not name the current version is 412
//!   `{"errors": [{"status": "412", "code": "stale"}]}`. `member_ids` replaces the list whole,
//!   and the ids in it are not checked (nor made unique). An id that names no team is 204 and
//!   nothing changes;
//! - `DELETE /api/v2/teams/{id}` → 204, unknown id too; deleting a user takes it out of every
//!   team (and moves those teams' versions on).
//!
//! Users, auth, errors and paging are in `orbit.rs`.

use http::{Method, Response, StatusCode};
use pingora::protocols::http::ServerSession;
use serde_json::{json, Map, Value};

use super::{
    data, empty_response, first_param, json_response, new_id, now_rfc3339, require, resolve, thin,
    ApiError, Errors, Orbit, RequestHead, Route, State,
};
use crate::common::version_matches;

/// The fields of a team in a list item.
const LISTED_TEAM_FIELDS: [&str; 2] = ["id", "name"];

/// A new team record: `name`, no members, version 1, the timestamps now.
fn new_team(id: &str, name: &str, now: &str) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert("id".into(), json!(id));
    record.insert("name".into(), json!(name));
    record.insert("external_id".into(), json!(""));
    record.insert("member_ids".into(), json!([]));
    record.insert("version".into(), json!(1));
    record.insert("created_at".into(), json!(now));
    record.insert("updated_at".into(), json!(now));
    record
}

/// A team's `version`.
fn version(team: &Map<String, Value>) -> u64 {
    team.get("version").and_then(Value::as_u64).unwrap_or(1)
}

/// Records a write to `team`: the version moves on, `updated_at` is `now`.
fn touch(team: &mut Map<String, Value>, now: &str) {
    let next = version(team) + 1;
    team.insert("version".into(), json!(next));
    team.insert("updated_at".into(), json!(now));
}

/// Takes user `user_id` out of `team`'s members, if it is one (a write: the version moves on).
pub(super) fn remove_member(team: &mut Map<String, Value>, user_id: &str, now: &str) {
    let Some(Value::Array(members)) = team.get_mut("member_ids") else {
        return;
    };
    let before = members.len();
    members.retain(|m| m.as_str() != Some(user_id));
    if members.len() != before {
        touch(team, now);
    }
}

/// `team` with `params` applied (`name`, `external_id`, `member_ids`; other keys ignored),
/// validated.
fn apply(
    team: &Map<String, Value>,
    params: &Map<String, Value>,
) -> Result<Map<String, Value>, ApiError> {
    let mut record = team.clone();
    let mut errors = Errors::new("team");
    match params.get("name") {
        None => {}
        Some(Value::String(name)) if !name.trim().is_empty() => {
            record.insert("name".into(), json!(name));
        }
        Some(_) => errors.add("name", "can't be blank"),
    }
    // The directory's id for the team, kept for it: text, "" when none (null sent is "").
    match params.get("external_id") {
        None => {}
        Some(Value::Null) => {
            record.insert("external_id".into(), json!(""));
        }
        Some(Value::String(external)) => {
            record.insert("external_id".into(), json!(external));
        }
        Some(_) => errors.add("external_id", "must be a string"),
    }
    match params.get("member_ids") {
        None => {}
        Some(Value::Array(ids)) if ids.iter().all(Value::is_string) => {
            record.insert("member_ids".into(), Value::Array(ids.clone()));
        }
        Some(_) => errors.add("member_ids", "must be a list of user ids"),
    }
    errors.check()?;
    Ok(record)
}

impl Orbit {
    /// Adds a team named `name` whose `member_ids` are `member_ids` (as given: not checked),
    /// without going through HTTP, and returns its id.
    pub fn seed_team(&self, name: &str, member_ids: &[&str]) -> String {
        let mut state = self.write();
        let id = new_id("tm_", &state.teams);
        let mut record = new_team(&id, name, &now_rfc3339());
        record.insert("member_ids".into(), json!(member_ids));
        state.teams.insert(id.clone(), record);
        id
    }

    /// How many teams exist.
    pub fn team_count(&self) -> usize {
        self.read().teams.len()
    }

    /// Team `id`'s record (the full id), as `GET /api/v2/teams/{id}` renders it inside
    /// `{"data": …}`.
    pub fn team(&self, id: &str) -> Option<Value> {
        self.read().teams.get(id).cloned().map(Value::Object)
    }

    /// The ids of the teams named `name` (names are not unique), in id order.
    pub fn teams_named(&self, name: &str) -> Vec<String> {
        self.read()
            .teams
            .iter()
            .filter(|(_, t)| t.get("name").and_then(Value::as_str) == Some(name))
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Changes team `id` as the product's own screens would (the rules of `PATCH
    /// /api/v2/teams/{id}`, the version moves on): a change the gateway did not make, e.g. a
    /// member added by someone else between the gateway's read and its write. `false` if
    /// there is no such team or the change is refused.
    pub fn edit_team(&self, id: &str, changes: &Map<String, Value>) -> bool {
        let mut state = self.write();
        let Some(current) = state.teams.get(id) else {
            return false;
        };
        match apply(current, changes) {
            Ok(mut record) => {
                touch(&mut record, &now_rfc3339());
                state.teams.insert(id.to_string(), record);
                true
            }
            Err(_) => false,
        }
    }

    /// Serves the team routes (after authentication).
    pub(super) async fn handle_teams(
        &self,
        head: &RequestHead,
        route: Route<'_>,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        match (route, &head.method) {
            (Route::Teams, &Method::GET) => Ok(self.list_teams(head)),
            (Route::Teams, &Method::POST) => {
                let body = self.read_object(head, session).await?;
                self.create_team(&body)
            }
            (Route::Teams, _) => Err(ApiError::MethodNotAllowed("GET, POST")),
            (Route::Team(segment), &Method::GET) => {
                let state = self.read();
                let record = resolve(&state.teams, segment)
                    .and_then(|id| state.teams.get(id))
                    .cloned()
                    .ok_or(ApiError::Forbidden)?;
                drop(state);
                Ok(json_response(StatusCode::OK, &data(Value::Object(record))))
            }
            (Route::Team(segment), &Method::PATCH) => {
                let body = self.read_object(head, session).await?;
                self.patch_team(segment, &body, head.header("if-match"))?;
                Ok(empty_response(StatusCode::NO_CONTENT))
            }
            (Route::Team(segment), &Method::DELETE) => {
                let mut state = self.write();
                if let Some(id) = resolve(&state.teams, segment).map(str::to_string) {
                    state.teams.remove(&id);
                }
                Ok(empty_response(StatusCode::NO_CONTENT))
            }
            (Route::Team(_), _) => Err(ApiError::MethodNotAllowed("GET, PATCH, DELETE")),
            _ => Err(ApiError::NotFound),
        }
    }

    fn list_teams(&self, head: &RequestHead) -> Response<Vec<u8>> {
        let pairs = head.query_pairs();
        let member = first_param(&pairs, "member_id");
        let state = self.read();
        let teams: Vec<Value> = state
            .teams
            .values()
            .filter(|team| {
                member.is_none_or(|m| {
                    team.get("member_ids")
                        .and_then(Value::as_array)
                        .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(m)))
                })
            })
            .map(|team| thin(team, &LISTED_TEAM_FIELDS))
            .collect();
        drop(state);
        json_response(StatusCode::OK, &json!({ "data": teams }))
    }

    fn create_team(&self, body: &Map<String, Value>) -> Result<Response<Vec<u8>>, ApiError> {
        let params = require(body, "team")?;
        let mut state = self.write();
        let id = new_id("tm_", &state.teams);
        let mut blank = new_team(&id, "", &now_rfc3339());
        blank.insert("name".into(), Value::Null);
        let mut with_name = params.clone();
        with_name
            .entry("name")
            .or_insert_with(|| Value::String(String::new()));
        let record = apply(&blank, &with_name)?;
        state.teams.insert(id, record.clone());
        drop(state);
        Ok(json_response(StatusCode::OK, &data(Value::Object(record))))
    }

    /// `PATCH /api/v2/teams/{id}`: nothing (and no error) when the segment names no team;
    /// 412 when `if_match` does not name its version, before the body's values are looked at.
    fn patch_team(
        &self,
        segment: &str,
        body: &Map<String, Value>,
        if_match: Option<&str>,
    ) -> Result<(), ApiError> {
        let params = require(body, "team")?;
        let mut state: std::sync::RwLockWriteGuard<'_, State> = self.write();
        let Some(id) = resolve(&state.teams, segment).map(str::to_string) else {
            return Ok(());
        };
        let Some(current) = state.teams.get(&id) else {
            return Ok(());
        };
        if let Some(tags) = if_match {
            if !version_matches(tags, version(current)) {
                return Err(ApiError::Stale);
            }
        }
        let mut record = apply(current, params)?;
        touch(&mut record, &now_rfc3339());
        state.teams.insert(id, record);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::tests::{ids, running, Running};
    use super::super::{TEAM, TEAMS, USERS};
    use crate::common::test_client::Reply;

    fn create_team(t: &Running, team: Value) -> Value {
        let reply = t.client.send("POST", TEAMS, &json!({ "team": team }));
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        reply.json["data"].clone()
    }

    fn patch(t: &Running, id: &str, team: Value, if_match: Option<&str>) -> Reply {
        let headers: Vec<(&str, &str)> = if_match.map(|v| ("If-Match", v)).into_iter().collect();
        t.client.call_with(
            "PATCH",
            &format!("{TEAMS}/{id}"),
            Some(&json!({ "team": team }).to_string()),
            &headers,
        )
    }

    #[test]
    fn a_team_is_created_200_and_read_in_data() {
        let t = running();
        let team = create_team(&t, json!({"name": "Field Ops", "id": "tm_x", "version": 9}));
        let id = team["id"].as_str().unwrap();
        assert!(id.starts_with("tm_") && id.len() == 19, "{id}");
        assert_eq!(team["name"], "Field Ops");
        assert_eq!(team["member_ids"], json!([]));
        assert_eq!(team["version"], 1);
        assert!(team["created_at"].is_string() && team["updated_at"].is_string());
        let read = t.client.get(&format!("{TEAMS}/{id}"));
        assert_eq!(read.status, 200);
        assert_eq!(read.json, json!({ "data": team }));
        assert_eq!(t.api.team(id).unwrap(), team);

        let twin = create_team(&t, json!({"name": "Field Ops", "member_ids": ["usr_1"]}));
        assert_eq!(twin["member_ids"], json!(["usr_1"]), "names are not unique");
        assert_eq!(t.api.teams_named("Field Ops").len(), 2);
        for bad in [
            json!({}),
            json!({"name": " "}),
            json!({"name": "x", "member_ids": [1]}),
        ] {
            let reply = t.client.send("POST", TEAMS, &json!({ "team": bad }));
            assert_eq!(reply.status, 422, "{bad}");
        }
        assert_eq!(t.api.team_count(), 2);
    }

    #[test]
    fn members_are_a_list_replaced_whole_and_guarded_by_the_version() {
        let t = running();
        let users = t.api.seed(3);
        let id = t.api.seed_team("Ops", &[&users[0]]);
        let reply = patch(
            &t,
            &id,
            json!({"member_ids": [users[0], users[1]]}),
            Some("1"),
        );
        assert_eq!(reply.status, 204);
        assert_eq!(reply.json, Value::Null, "no body");
        let team = t.api.team(&id).unwrap();
        assert_eq!(team["member_ids"], json!([users[0], users[1]]));
        assert_eq!(team["version"], 2);

        // A write from an older read is refused, and changes nothing.
        let stale = patch(&t, &id, json!({"member_ids": [users[2]]}), Some("1"));
        assert_eq!(stale.status, 412);
        assert_eq!(
            stale.json,
            json!({"errors": [{"status": "412", "code": "stale"}]})
        );
        assert_eq!(t.api.team(&id).unwrap(), team);
        let stale_and_invalid = patch(&t, &id, json!({"member_ids": 5}), Some("1"));
        assert_eq!(stale_and_invalid.status, 412, "checked before the values");
        for tag in ["2", "\"3\"", "W/\"4\"", "*"] {
            assert_eq!(
                patch(&t, &id, json!({"name": "Ops"}), Some(tag)).status,
                204,
                "{tag}"
            );
        }
        // Without If-Match the write is not guarded; ids are not checked.
        let blind = patch(
            &t,
            &id,
            json!({"member_ids": ["usr_nobody", "usr_nobody"]}),
            None,
        );
        assert_eq!(blind.status, 204);
        let team = t.api.team(&id).unwrap();
        assert_eq!(team["member_ids"], json!(["usr_nobody", "usr_nobody"]));
        assert_eq!(team["version"], 7);
        assert_eq!(team["name"], "Ops", "absent keys are kept");

        // Someone else's change moves the version on too.
        assert!(t
            .api
            .edit_team(&id, json!({"name": "Ops 2"}).as_object().unwrap()));
        assert_eq!(patch(&t, &id, json!({"name": "x"}), Some("7")).status, 412);
        assert!(!t
            .api
            .edit_team("tm_none", json!({"name": "x"}).as_object().unwrap()));
    }

    #[test]
    fn an_unknown_team_is_403_to_read_and_204_to_write() {
        let t = running();
        let id = t.api.seed_team("Ops", &[]);
        let before = t.api.team(&id).unwrap();
        for unknown in ["tm_ffffffffffffffff0", "nothing", "%FF"] {
            let path = format!("{TEAMS}/{unknown}");
            let read = t.client.get(&path);
            assert_eq!(read.status, 403, "{unknown}");
            assert_eq!(read.json["errors"][0]["code"], "forbidden");
            assert_eq!(
                patch(&t, unknown, json!({"name": "x"}), Some("99")).status,
                204
            );
            assert_eq!(t.client.call("DELETE", &path, None).status, 204);
        }
        assert_eq!(t.api.team(&id).unwrap(), before);
        let prefix = &id[..id.len() - 3];
        assert_eq!(
            t.client.get(&format!("{TEAMS}/{prefix}")).json["data"]["id"],
            *id.as_str()
        );
        assert_eq!(
            t.client
                .call("DELETE", &format!("{TEAMS}/{id}"), None)
                .status,
            204
        );
        assert_eq!(t.api.team_count(), 0);
        assert_eq!(
            t.client
                .call("PUT", &format!("{TEAMS}/{id}"), Some("{}"))
                .status,
            405
        );
        assert_eq!(t.client.call("DELETE", TEAMS, None).status, 405);
        t.client
            .send("PATCH", &format!("{TEAMS}/{id}"), &json!({"team": {}}));
        let bodies = t.api.bodies("PATCH", TEAM);
        assert_eq!(bodies.len(), 4, "a body sent to nobody is kept too");
        assert_eq!(bodies.last(), Some(&json!({"team": {}})));
    }

    #[test]
    fn the_list_is_every_team_thin_and_member_id_selects() {
        let t = running();
        let users = t.api.seed(2);
        let a = t.api.seed_team("A", &[&users[0], &users[1]]);
        let b = t.api.seed_team("B", &[&users[1]]);
        let c = t.api.seed_team("C", &[]);
        let mut all = vec![a.clone(), b.clone(), c.clone()];
        all.sort();
        let list = t.client.get(&format!("{TEAMS}?page[size]=1&name=A"));
        assert_eq!(list.status, 200);
        assert_eq!(ids(&list), all, "unpaged; name ignored");
        assert!(list.json.get("meta").is_none(), "no total");
        let item = list.json["data"][0].as_object().unwrap();
        assert_eq!(
            item.keys().collect::<Vec<_>>(),
            ["id", "name"],
            "thin items"
        );

        let of = |user: &str| ids(&t.client.get(&format!("{TEAMS}?member_id={user}")));
        assert_eq!(of(&users[0]), [a.as_str()]);
        let mut both = vec![a.clone(), b.clone()];
        both.sort();
        assert_eq!(of(&users[1]), both);
        assert_eq!(
            of(&users[1][..8]),
            Vec::<String>::new(),
            "exact, not a prefix"
        );

        // Deleting a user takes it out of its teams.
        let version_before = t.api.team(&b).unwrap()["version"].clone();
        assert_eq!(
            t.client
                .call("DELETE", &format!("{USERS}/{}", users[1]), None)
                .status,
            204
        );
        assert_eq!(t.api.team(&b).unwrap()["member_ids"], json!([]));
        assert_ne!(t.api.team(&b).unwrap()["version"], version_before);
        assert_eq!(t.api.team(&a).unwrap()["member_ids"], json!([users[0]]));
        assert_eq!(of(&users[1]), Vec::<String>::new());
    }
}
