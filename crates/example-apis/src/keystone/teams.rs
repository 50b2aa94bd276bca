//! Keystone's teams, `{"id", "name", "external_id", "created_at", "updated_at"}`, and their
//! memberships, each one user in one team, added and removed one at a time. There is no
//! endpoint that lists a user's teams: only a team's memberships are listed.
//!
//! The rules, as Keystone's own clients see them:
//! - team names are unique and compared as written, case included (422 `{"errors": {"name":
//!   ["has already been taken"]}}`); a blank name is `can't be blank`;
//! - `GET /api/teams` answers every team in one response, with no total: `page` and
//!   `per_page` are ignored; `?name=` keeps the team with exactly that name (case included),
//!   and a blank `name` is no filter; list items carry `id`, `name` and `external_id`;
//! - `POST /api/teams/{id}/memberships` `{"membership": {"user_id": 5}}` (the id a number, or
//!   text read by its leading digits) refuses, each in its own way: an unknown team 404
//!   `{"error": "not found"}`, a missing or unknown user 422 `{"errors": {"user": ["must
//!   exist"]}}`, a locked user 403 `{"error": "user is locked"}`, a user already in the team
//!   422 `{"errors": {"user_id": ["has already been taken"]}}`;
//! - `DELETE /api/teams/{id}/memberships/{user_id}` is 404 when the user is not in the team;
//! - memberships are listed in the order they were made, paged like users, with
//!   `total_count`; deleting a team deletes its memberships, and so does deleting a user.
//!
//! Users, auth, errors and paging are in `keystone.rs`.

use http::{header, HeaderValue, Method, Response, StatusCode};
use pingora::protocols::http::ServerSession;
use serde_json::{json, Map, Value};

use super::{
    assign, empty_response, first_param, id_of, json_response, now_rfc3339, paged_list, require,
    ruby_to_i, wrap, ApiError, Cast, Errors, Keystone, Paging, RequestHead, Route, State, TEAMS,
};

/// The attributes of a team a request body may set.
const TEAM_ATTRIBUTES: &[(&str, Cast)] = &[("name", Cast::Text), ("external_id", Cast::Text)];

/// The fields of a team in a list item.
const LISTED_TEAM_FIELDS: [&str; 3] = ["id", "name", "external_id"];

/// Why [`Keystone::seed_team`] refused to create a team.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedTeamError {
    #[error("a team name must not be blank")]
    BlankName,
    #[error("team name '{0}' has already been taken")]
    NameTaken(String),
    #[error("no user with id {0}")]
    UnknownUser(u64),
}

/// A new team record: no name yet, the timestamps now.
fn new_team(id: u64, now: &str) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert("id".into(), json!(id));
    record.insert("name".into(), Value::Null);
    record.insert("external_id".into(), Value::Null);
    record.insert("created_at".into(), json!(now));
    record.insert("updated_at".into(), json!(now));
    record
}

/// One membership as Keystone renders it (inside `{"membership": …}`).
fn membership(team_id: u64, user_id: u64) -> Value {
    json!({"user_id": user_id, "team_id": team_id})
}

impl State {
    /// The validation errors of team record `record` (id `id`, `None` when new).
    fn team_errors(&self, id: Option<u64>, record: &Map<String, Value>) -> Errors {
        let mut errors = Errors::default();
        match record.get("name").and_then(Value::as_str) {
            Some(name) if !name.trim().is_empty() => {
                let owner = self.team_names.get(name).copied();
                if owner.is_some_and(|owner| Some(owner) != id) {
                    errors.add("name", "has already been taken");
                }
            }
            _ => errors.add("name", "can't be blank"),
        }
        errors
    }

    fn insert_team(&mut self, id: u64, record: Map<String, Value>) {
        if let Some(name) = record.get("name").and_then(Value::as_str) {
            self.team_names.insert(name.to_string(), id);
        }
        self.teams.insert(id, record);
        self.last_team_id = self.last_team_id.max(id);
    }

    /// Deletes team `id` and its memberships. `false` if there is no such team.
    fn delete_team(&mut self, id: u64) -> bool {
        let Some(record) = self.teams.remove(&id) else {
            return false;
        };
        if let Some(name) = record.get("name").and_then(Value::as_str) {
            self.team_names.remove(name);
        }
        self.remove_memberships(|team, _| team == id);
        true
    }

    /// Makes `user_id` a member of team `team_id` (both exist, not yet a member).
    fn add_membership(&mut self, team_id: u64, user_id: u64) {
        let id = self.last_membership_id + 1;
        self.last_membership_id = id;
        self.memberships.insert(id, (team_id, user_id));
        self.membership_ids.insert((team_id, user_id), id);
    }

    /// Deletes every membership (team id, user id) for which `which` holds.
    pub(super) fn remove_memberships(&mut self, which: impl Fn(u64, u64) -> bool) {
        self.memberships
            .retain(|_, (team, user)| !which(*team, *user));
        self.membership_ids
            .retain(|(team, user), _| !which(*team, *user));
    }

    /// The user ids of team `team_id`'s members, in the order they were added.
    fn members_of(&self, team_id: u64) -> impl Iterator<Item = u64> + '_ {
        self.memberships
            .values()
            .filter(move |(team, _)| *team == team_id)
            .map(|(_, user)| *user)
    }
}

/// The user a membership body names, read as ActiveRecord casts an integer column: a number
/// (truncated), or text by its leading digits. `None` when it names no possible user.
fn member_user_id(params: &Map<String, Value>) -> Option<u64> {
    let n = match params.get("user_id")? {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64))?,
        Value::String(s) => ruby_to_i(s),
        _ => return None,
    };
    u64::try_from(n).ok().filter(|id| *id > 0)
}

impl Keystone {
    /// Adds a team named `name` whose members are the users `member_ids` (in that order),
    /// without going through HTTP, and returns its id.
    pub fn seed_team(&self, name: &str, member_ids: &[u64]) -> Result<u64, SeedTeamError> {
        if name.trim().is_empty() {
            return Err(SeedTeamError::BlankName);
        }
        let mut state = self.write();
        if state.team_names.contains_key(name) {
            return Err(SeedTeamError::NameTaken(name.to_string()));
        }
        if let Some(unknown) = member_ids.iter().find(|id| !state.users.contains_key(id)) {
            return Err(SeedTeamError::UnknownUser(*unknown));
        }
        let id = state.last_team_id + 1;
        let mut record = new_team(id, &now_rfc3339());
        record.insert("name".into(), json!(name));
        state.insert_team(id, record);
        for user in member_ids {
            if !state.membership_ids.contains_key(&(id, *user)) {
                state.add_membership(id, *user);
            }
        }
        Ok(id)
    }

    /// How many teams exist.
    pub fn team_count(&self) -> usize {
        self.read().teams.len()
    }

    /// Team `id`'s record, as `GET /api/teams/{id}` renders it inside `{"team": …}`.
    pub fn team(&self, id: u64) -> Option<Value> {
        self.read().teams.get(&id).cloned().map(Value::Object)
    }

    /// The user ids of a team's members, in the order they were added; `None` if there is no
    /// such team.
    pub fn member_ids(&self, team_id: u64) -> Option<Vec<u64>> {
        let state = self.read();
        state.teams.get(&team_id)?;
        Some(state.members_of(team_id).collect())
    }

    /// Serves the team and membership routes (after authentication).
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
            (Route::Team(id), &Method::GET) => {
                let record = id_of(id)
                    .and_then(|id| self.team(id))
                    .ok_or(ApiError::NotFound)?;
                Ok(json_response(StatusCode::OK, &wrap("team", record)))
            }
            (Route::Team(id), &Method::PATCH | &Method::PUT) => {
                let id = self.existing_team(id)?;
                let body = self.read_object(head, session).await?;
                self.update_team(id, &body)
            }
            (Route::Team(id), &Method::DELETE) => {
                let deleted = id_of(id).is_some_and(|id| self.write().delete_team(id));
                if deleted {
                    Ok(empty_response(StatusCode::NO_CONTENT))
                } else {
                    Err(ApiError::NotFound)
                }
            }
            (Route::Memberships(id), &Method::GET) => {
                let id = self.existing_team(id)?;
                Ok(self.list_memberships(id, head))
            }
            (Route::Memberships(id), &Method::POST) => {
                let id = self.existing_team(id)?;
                let body = self.read_object(head, session).await?;
                self.add_member(id, &body)
            }
            (Route::Membership(id, user), &Method::DELETE) => {
                let id = self.existing_team(id)?;
                let user = id_of(user).ok_or(ApiError::NotFound)?;
                let mut state = self.write();
                if !state.membership_ids.contains_key(&(id, user)) {
                    return Err(ApiError::NotFound);
                }
                state.remove_memberships(|team, member| team == id && member == user);
                Ok(empty_response(StatusCode::NO_CONTENT))
            }
            _ => Err(ApiError::NotFound),
        }
    }

    /// The id of the team a path segment names: 404 unless it exists.
    fn existing_team(&self, segment: &str) -> Result<u64, ApiError> {
        id_of(segment)
            .filter(|id| self.read().teams.contains_key(id))
            .ok_or(ApiError::NotFound)
    }

    fn list_teams(&self, head: &RequestHead) -> Response<Vec<u8>> {
        let pairs = head.query_pairs();
        let name = first_param(&pairs, "name").filter(|n| !n.trim().is_empty());
        let state = self.read();
        let teams: Vec<Value> = state
            .teams
            .values()
            .filter(|team| name.is_none_or(|n| team.get("name").and_then(Value::as_str) == Some(n)))
            .map(|team| {
                let fields = LISTED_TEAM_FIELDS.iter().map(|k| {
                    (
                        (*k).to_string(),
                        team.get(*k).cloned().unwrap_or(Value::Null),
                    )
                });
                wrap("team", Value::Object(fields.collect()))
            })
            .collect();
        drop(state);
        json_response(StatusCode::OK, &json!({ "teams": teams }))
    }

    fn create_team(&self, body: &Map<String, Value>) -> Result<Response<Vec<u8>>, ApiError> {
        let params = require(body, "team")?;
        let mut state = self.write();
        let id = state.last_team_id + 1;
        let mut record = new_team(id, &now_rfc3339());
        assign(&mut record, params, TEAM_ATTRIBUTES);
        state.team_errors(None, &record).check()?;
        state.insert_team(id, record.clone());
        drop(state);
        let mut resp = json_response(StatusCode::CREATED, &wrap("team", Value::Object(record)));
        if let Ok(location) = HeaderValue::from_str(&format!("{TEAMS}/{id}")) {
            resp.headers_mut().insert(header::LOCATION, location);
        }
        Ok(resp)
    }

    fn update_team(
        &self,
        id: u64,
        body: &Map<String, Value>,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        let params = require(body, "team")?;
        let mut state = self.write();
        let current = state.teams.get(&id).cloned().ok_or(ApiError::NotFound)?;
        let mut record = current.clone();
        assign(&mut record, params, TEAM_ATTRIBUTES);
        if record != current {
            state.team_errors(Some(id), &record).check()?;
            record.insert("updated_at".into(), json!(now_rfc3339()));
            if let Some(old) = current.get("name").and_then(Value::as_str) {
                state.team_names.remove(old);
            }
            state.insert_team(id, record.clone());
        }
        drop(state);
        Ok(json_response(
            StatusCode::OK,
            &wrap("team", Value::Object(record)),
        ))
    }

    fn list_memberships(&self, id: u64, head: &RequestHead) -> Response<Vec<u8>> {
        let paging = Paging::of(&head.query_pairs());
        let state = self.read();
        let (items, total) = paging.take(state.members_of(id).map(|user| membership(id, user)));
        drop(state);
        paged_list("memberships", "membership", items, total)
    }

    fn add_member(
        &self,
        id: u64,
        body: &Map<String, Value>,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        let params = require(body, "membership")?;
        let mut state = self.write();
        if !state.teams.contains_key(&id) {
            return Err(ApiError::NotFound);
        }
        let user_id =
            member_user_id(params).ok_or_else(|| ApiError::invalid("user", "must exist"))?;
        let user = state
            .users
            .get(&user_id)
            .ok_or_else(|| ApiError::invalid("user", "must exist"))?;
        if user.get("state").and_then(Value::as_str) == Some("locked") {
            return Err(ApiError::Forbidden("user is locked"));
        }
        if state.membership_ids.contains_key(&(id, user_id)) {
            return Err(ApiError::invalid("user_id", "has already been taken"));
        }
        state.add_membership(id, user_id);
        drop(state);
        Ok(json_response(
            StatusCode::CREATED,
            &wrap("membership", membership(id, user_id)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::tests::{create, ids, running, Running, TOKEN};
    use super::super::{Keystone, MEMBERSHIP, MEMBERSHIPS, TEAM, TEAMS, USERS};
    use super::SeedTeamError;
    use crate::common::test_client::{Client, Reply};

    fn create_team(client: &Client, team: Value) -> Value {
        let reply = client.send("POST", TEAMS, &json!({ "team": team }));
        assert_eq!(reply.status, 201, "{:?}", reply.json);
        reply.json["team"].clone()
    }

    fn add(t: &Running, team: &str, user_id: Value) -> Reply {
        t.client.send(
            "POST",
            &format!("{TEAMS}/{team}/memberships"),
            &json!({"membership": {"user_id": user_id}}),
        )
    }

    fn members(reply: &Reply) -> Vec<u64> {
        reply.json["memberships"]
            .as_array()
            .unwrap_or_else(|| panic!("no memberships in {:?}", reply.json))
            .iter()
            .map(|m| m["membership"]["user_id"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn teams_are_wrapped_and_found_by_their_leading_digits() {
        let t = running();
        let team = create_team(
            &t.client,
            json!({"name": "Field Ops", "external_id": "fo-1"}),
        );
        assert_eq!(team["id"], 1);
        assert_eq!(team["name"], "Field Ops");
        assert_eq!(team["external_id"], "fo-1");
        assert!(team["created_at"].is_string() && team["updated_at"].is_string());
        for segment in ["1", "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed", "1x"] {
            let reply = t.client.get(&format!("{TEAMS}/{segment}"));
            assert_eq!(reply.status, 200, "{segment}");
            assert_eq!(reply.json, json!({ "team": team }), "{segment}");
        }
        for segment in ["2", "x1", "0"] {
            let reply = t.client.get(&format!("{TEAMS}/{segment}"));
            assert_eq!(reply.status, 404, "{segment}");
            assert_eq!(reply.json, json!({"error": "not found"}));
        }
        let renamed = t.client.send(
            "PATCH",
            "/api/teams/1-field-ops",
            &json!({"team": {"name": "Field", "id": 5}}),
        );
        assert_eq!(renamed.status, 200);
        assert_eq!(renamed.json["team"]["name"], "Field");
        assert_eq!(
            renamed.json["team"]["external_id"], "fo-1",
            "absent keys kept"
        );
        assert_eq!(renamed.json["team"]["id"], 1);
        let put = t.client.send(
            "PUT",
            "/api/teams/1",
            &json!({"team": {"external_id": null}}),
        );
        assert_eq!(put.json["team"]["name"], "Field", "PUT is PATCH");
        assert_eq!(put.json["team"]["external_id"], Value::Null);
        assert_eq!(t.api.team(1).unwrap(), put.json["team"]);
        let empty = t.client.send("PATCH", "/api/teams/1", &json!({"team": {}}));
        assert_eq!(
            empty.json,
            json!({"error": "param is missing or the value is empty: team"})
        );
        assert_eq!(t.client.call("DELETE", "/api/teams/1abc", None).status, 204);
        assert_eq!(t.api.team_count(), 0);
        assert_eq!(t.client.call("DELETE", "/api/teams/1", None).status, 404);
        assert_eq!(
            create_team(&t.client, json!({"name": "Field"}))["id"],
            2,
            "ids are not reused"
        );
    }

    #[test]
    fn team_names_are_unique_as_written() {
        let t = running();
        create_team(&t.client, json!({"name": "Sales"}));
        let taken = t
            .client
            .send("POST", TEAMS, &json!({"team": {"name": "Sales"}}));
        assert_eq!(taken.status, 422);
        assert_eq!(
            taken.json,
            json!({"errors": {"name": ["has already been taken"]}})
        );
        create_team(&t.client, json!({"name": "sales"}));
        for team in [
            json!({"name": ""}),
            json!({"name": null}),
            json!({"external_id": "x"}),
        ] {
            let reply = t.client.send("POST", TEAMS, &json!({ "team": team }));
            assert_eq!(reply.status, 422, "{team}");
            assert_eq!(reply.json, json!({"errors": {"name": ["can't be blank"]}}));
        }
        let renamed = t
            .client
            .send("PATCH", "/api/teams/2", &json!({"team": {"name": "Sales"}}));
        assert_eq!(renamed.status, 422);
        assert_eq!(t.api.team(2).unwrap()["name"], "sales");
        assert_eq!(t.api.team_count(), 2);
        let same = t
            .client
            .send("PATCH", "/api/teams/1", &json!({"team": {"name": "Sales"}}));
        assert_eq!(same.status, 200, "a team keeps its own name");
    }

    #[test]
    fn teams_are_listed_in_one_unpaged_answer() {
        let t = running();
        for i in 1..=130 {
            t.api.seed_team(&format!("Team {i}"), &[]).unwrap();
        }
        for query in ["", "?page=2&per_page=10", "?per_page=1", "?page=9"] {
            let reply = t.client.get(&format!("{TEAMS}{query}"));
            assert_eq!(reply.status, 200, "{query}");
            assert_eq!(
                ids(&reply, "teams", "team"),
                (1..=130).collect::<Vec<u64>>(),
                "{query}: every team"
            );
            let keys: Vec<&String> = reply.json.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["teams"], "{query}: no total");
        }
        let item = &t.client.get(TEAMS).json["teams"][0];
        assert_eq!(
            *item,
            json!({"team": {"id": 1, "name": "Team 1", "external_id": null}}),
            "thin items"
        );
    }

    #[test]
    fn the_name_filter_is_exact_and_case_sensitive() {
        let t = running();
        for name in ["Sales", "sales", "Sales EMEA"] {
            t.api.seed_team(name, &[]).unwrap();
        }
        let found = |query: &str| ids(&t.client.get(&format!("{TEAMS}?{query}")), "teams", "team");
        assert_eq!(found("name=Sales"), [1]);
        assert_eq!(found("name=sales"), [2]);
        assert_eq!(found("name=SALES"), Vec::<u64>::new());
        assert_eq!(found("name=Sal"), Vec::<u64>::new());
        assert_eq!(found("name=Sales+EMEA"), [3]);
        assert_eq!(found("name="), [1, 2, 3], "a blank name is no filter");
    }

    #[test]
    fn member_calls_refuse_each_in_their_own_way() {
        let t = running();
        t.api.seed(3);
        t.api.seed_team("Field Ops", &[]).unwrap();
        assert!(t
            .api
            .edit_user(3, json!({"state": "locked"}).as_object().unwrap()));

        let added = add(&t, "1", json!(1));
        assert_eq!(added.status, 201);
        assert_eq!(
            added.json,
            json!({"membership": {"user_id": 1, "team_id": 1}})
        );

        let unknown_team = add(&t, "9", json!(2));
        assert_eq!(unknown_team.status, 404);
        assert_eq!(unknown_team.json, json!({"error": "not found"}));

        for user in [
            json!(99),
            json!(null),
            json!("x"),
            json!(0),
            json!(-1),
            json!([2]),
        ] {
            let reply = add(&t, "1", user.clone());
            assert_eq!(reply.status, 422, "{user}");
            assert_eq!(
                reply.json,
                json!({"errors": {"user": ["must exist"]}}),
                "{user}"
            );
        }

        let again = add(&t, "1", json!(1));
        assert_eq!(again.status, 422);
        assert_eq!(
            again.json,
            json!({"errors": {"user_id": ["has already been taken"]}})
        );

        let locked = add(&t, "1", json!(3));
        assert_eq!(locked.status, 403);
        assert_eq!(locked.json, json!({"error": "user is locked"}));

        let unwrapped = t
            .client
            .send("POST", "/api/teams/1/memberships", &json!({"user_id": 2}));
        assert_eq!(unwrapped.status, 400);
        assert_eq!(
            unwrapped.json,
            json!({"error": "param is missing or the value is empty: membership"})
        );

        // A user id sent as text is read by its leading digits, like any other id.
        let by_text = add(&t, "1", json!("2-ada"));
        assert_eq!(by_text.status, 201);
        assert_eq!(by_text.json["membership"]["user_id"], 2);
        assert_eq!(t.api.member_ids(1), Some(vec![1, 2]));
    }

    #[test]
    fn a_membership_is_removed_by_its_user() {
        let t = running();
        let users = t.api.seed(3);
        t.api.seed_team("Field Ops", &users[..2]).unwrap();
        let remove = |path: &str| t.client.call("DELETE", path, None);
        assert_eq!(remove("/api/teams/1/memberships/2").status, 204);
        assert_eq!(t.api.member_ids(1), Some(vec![1]));
        let not_member = remove("/api/teams/1/memberships/2");
        assert_eq!(not_member.status, 404);
        assert_eq!(not_member.json, json!({"error": "not found"}));
        assert_eq!(remove("/api/teams/1/memberships/3").status, 404);
        assert_eq!(remove("/api/teams/2/memberships/1").status, 404);
        assert_eq!(remove("/api/teams/1/memberships/x").status, 404);
        assert_eq!(
            remove("/api/teams/1/memberships/1c0ffee").status,
            204,
            "the user id is read by its leading digits too"
        );
        assert_eq!(t.api.member_ids(1), Some(vec![]));
        assert_eq!(t.api.user_count(), 3, "users stay");
    }

    #[test]
    fn memberships_are_paged_with_a_total() {
        let t = running();
        let users = t.api.seed(60);
        let mut order: Vec<u64> = users[10..].iter().rev().copied().collect();
        order.extend(&users[..3]);
        t.api.seed_team("Big", &order).unwrap();
        t.api.seed_team("Empty", &[]).unwrap();
        let page = |query: &str| -> (Vec<u64>, u64) {
            let reply = t.client.get(&format!("/api/teams/1/memberships?{query}"));
            assert_eq!(reply.status, 200, "{query}");
            (members(&reply), reply.json["total_count"].as_u64().unwrap())
        };
        assert_eq!(page(""), (order[..25].to_vec(), 53), "in the order added");
        assert_eq!(page("page=3&per_page=20"), (order[40..].to_vec(), 53));
        assert_eq!(page("per_page=500").0, order);
        assert_eq!(page("per_page=0"), (vec![], 53));
        let first = t.client.get("/api/teams/1/memberships?per_page=1");
        assert_eq!(
            first.json["memberships"][0],
            json!({"membership": {"user_id": 60, "team_id": 1}})
        );
        let empty = t.client.get("/api/teams/2/memberships");
        assert_eq!(empty.json, json!({"memberships": [], "total_count": 0}));
        assert_eq!(t.client.get("/api/teams/3/memberships").status, 404);
    }

    #[test]
    fn deleting_a_team_or_a_user_deletes_their_memberships() {
        let t = running();
        let users = t.api.seed(3);
        t.api.seed_team("A", &users).unwrap();
        t.api.seed_team("B", &users).unwrap();
        assert_eq!(t.client.call("DELETE", "/api/users/2", None).status, 204);
        assert_eq!(t.api.member_ids(1), Some(vec![1, 3]));
        assert_eq!(t.api.member_ids(2), Some(vec![1, 3]));
        assert_eq!(t.client.call("DELETE", "/api/teams/1", None).status, 204);
        assert_eq!(t.api.member_ids(1), None);
        assert_eq!(
            t.api.member_ids(2),
            Some(vec![1, 3]),
            "other teams keep theirs"
        );
        // A user created again under a new id is in no team.
        let again = create(&t.client, json!({"login": "seed.user2"}));
        assert_eq!(again["id"], 4);
        assert_eq!(add(&t, "2", json!(2)).status, 422, "user 2 is gone");
        assert_eq!(t.api.member_ids(2), Some(vec![1, 3]));
    }

    #[test]
    fn no_endpoint_lists_a_users_teams_and_counts_are_kept() {
        let t = running();
        t.api.seed(1);
        t.api.seed_team("A", &[1]).unwrap();
        t.api.requests().reset();
        for path in [
            "/api/users/1/teams",
            "/api/users/1/memberships",
            "/api/memberships",
        ] {
            assert_eq!(t.client.get(path).status, 404, "{path}");
        }
        for (method, path) in [
            ("GET", "/api/teams/1/memberships/1"),
            ("PATCH", "/api/teams/1/memberships/1"),
            ("DELETE", TEAMS),
            ("PUT", "/api/teams/1/memberships"),
        ] {
            let reply = t.client.call(method, path, Some("{}"));
            assert_eq!(
                reply.status, 404,
                "{method} {path}: Rails routes no other method"
            );
        }
        t.client.get(TEAMS);
        t.client.get("/api/teams/1");
        t.client.get("/api/teams/1/memberships");
        add(&t, "1", json!(1));
        t.client.call("DELETE", "/api/teams/1/memberships/1", None);
        t.client.get(USERS);
        let counts = t.api.requests();
        assert_eq!(t.api.request_count(), 13);
        assert_eq!(counts.get("GET", TEAMS), 1);
        assert_eq!(counts.get("GET", TEAM), 1);
        assert_eq!(counts.get("GET", MEMBERSHIPS), 1);
        assert_eq!(counts.get("POST", MEMBERSHIPS), 1);
        assert_eq!(counts.get("PUT", MEMBERSHIPS), 1);
        assert_eq!(counts.get("GET", MEMBERSHIP), 1);
        assert_eq!(counts.get("DELETE", MEMBERSHIP), 1);
    }

    #[test]
    fn seed_team_checks_its_input() {
        let api = Keystone::new(TOKEN);
        let users = api.seed(3);
        assert_eq!(api.seed_team("Field Ops", &users[1..]), Ok(1));
        assert_eq!(api.member_ids(1), Some(vec![2, 3]));
        assert_eq!(
            api.seed_team("Field Ops", &[]),
            Err(SeedTeamError::NameTaken("Field Ops".into()))
        );
        assert_eq!(
            api.seed_team("field ops", &[1, 1]),
            Ok(2),
            "names are case-sensitive"
        );
        assert_eq!(api.member_ids(2), Some(vec![1]), "each member once");
        assert_eq!(
            api.seed_team("Sales", &[1, 9]),
            Err(SeedTeamError::UnknownUser(9))
        );
        assert_eq!(api.seed_team(" ", &[]), Err(SeedTeamError::BlankName));
        assert_eq!(api.team_count(), 2, "refused seeds add nothing");
        assert_eq!(api.team(2).unwrap()["name"], "field ops");
        assert_eq!(api.member_ids(3), None);
    }
}
