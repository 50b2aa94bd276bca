//! Acme HR's teams: named groups of users with ids of their own (a sequence separate from user
//! ids), and member endpoints that add or remove one user at a time. Membership lives on the
//! team side, ordered by user id, with a reverse index per user, so that adding or removing one
//! member of a team of any size costs O(log n) and never rewrites the member list.
//!
//! The rules, as Acme HR's own clients see them:
//! - team names are unique, compared case-insensitively (422 `name_taken`);
//! - adding a user who already is a member answers 200 with the existing membership (identity
//!   providers repeat adds), a new member 201; an unknown user is 422 `unknown_user`;
//! - removing a user who is not a member is 404 `not_found`;
//! - adding or removing a member changes the team's `updated_at`; deleting a team releases its
//!   members, and deleting a user removes it from every team.
//!
//! Users themselves, auth, errors and pagination rules are in `acme_hr.rs`.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;
use std::sync::Arc;

use http::{header, HeaderValue, Method, Response, StatusCode};
use pingora::protocols::http::ServerSession;
use serde_json::{json, Map, Value};

use super::{
    empty_response, first_param, json_response, now_rfc3339, parse_id, read_object, AcmeHr,
    ApiError, Paging, RequestHead, Route, State, WriteMode, TEAMS,
};

/// One team: its fields and its members.
pub(super) struct Team {
    name: String,
    description: Option<String>,
    external_ref: Option<String>,
    created_at: String,
    updated_at: String,
    /// User id → when it was added (shared by every member added at the same instant).
    members: BTreeMap<u64, Arc<str>>,
}

impl Team {
    /// The team as the API renders it.
    fn render(&self, id: u64) -> Value {
        json!({
            "id": id,
            "name": self.name,
            "description": self.description,
            "external_ref": self.external_ref,
            "member_count": self.members.len(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

/// One membership as the API renders it.
fn membership(user_id: u64, added_at: &str) -> Value {
    json!({"user_id": user_id, "added_at": added_at})
}

/// Why [`AcmeHr::seed_team`] refused to create a team.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedTeamError {
    #[error("a team name must not be empty")]
    EmptyName,
    #[error("team name '{0}' is already taken")]
    NameTaken(String),
    #[error("no user with id {0}")]
    UnknownUser(u64),
}

impl ApiError {
    fn team_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("team {id} not found"),
        )
    }

    fn name_taken(name: &str) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name_taken",
            format!("team name '{name}' is already taken"),
        )
    }
}

impl State {
    /// The id of the team named `name` (case-insensitively), other than `except`.
    fn team_name_owner(&self, name: &str, except: Option<u64>) -> Option<u64> {
        self.team_names
            .get(&name.to_lowercase())
            .copied()
            .filter(|id| Some(*id) != except)
    }

    /// Stores a new team, its name and its members in the indexes.
    fn insert_team(&mut self, id: u64, team: Team) {
        self.team_names.insert(team.name.to_lowercase(), id);
        for user_id in team.members.keys() {
            self.user_teams.entry(*user_id).or_default().insert(id);
        }
        self.teams.insert(id, team);
        self.last_team_id = self.last_team_id.max(id);
    }

    /// Removes a team and releases its members. `None` if there is no such team.
    fn remove_team(&mut self, id: u64) -> Option<Team> {
        let team = self.teams.remove(&id)?;
        self.team_names.remove(&team.name.to_lowercase());
        for user_id in team.members.keys() {
            if let Some(teams) = self.user_teams.get_mut(user_id) {
                teams.remove(&id);
                if teams.is_empty() {
                    self.user_teams.remove(user_id);
                }
            }
        }
        Some(team)
    }

    /// Makes `user_id` a member of team `team_id` (both must exist). Returns whether it is a
    /// new member, and when it was added; `None` if there is no such team.
    fn add_member(
        &mut self,
        team_id: u64,
        user_id: u64,
        now: &Arc<str>,
    ) -> Option<(bool, Arc<str>)> {
        let team = self.teams.get_mut(&team_id)?;
        match team.members.entry(user_id) {
            Entry::Occupied(e) => Some((false, e.get().clone())),
            Entry::Vacant(e) => {
                e.insert(now.clone());
                team.updated_at = now.to_string();
                self.user_teams.entry(user_id).or_default().insert(team_id);
                Some((true, now.clone()))
            }
        }
    }

    /// Removes `user_id` from team `team_id`. `None` if there is no such team, `Some(false)` if
    /// the user was not a member.
    fn remove_member(&mut self, team_id: u64, user_id: u64, now: &str) -> Option<bool> {
        let team = self.teams.get_mut(&team_id)?;
        if team.members.remove(&user_id).is_none() {
            return Some(false);
        }
        team.updated_at = now.to_string();
        if let Some(teams) = self.user_teams.get_mut(&user_id) {
            teams.remove(&team_id);
            if teams.is_empty() {
                self.user_teams.remove(&user_id);
            }
        }
        Some(true)
    }

    /// Removes `user_id` from every team it belongs to (when the user is deleted).
    pub(super) fn release_user(&mut self, user_id: u64, now: &str) {
        let Some(team_ids) = self.user_teams.remove(&user_id) else {
            return;
        };
        for team_id in team_ids {
            if let Some(team) = self.teams.get_mut(&team_id) {
                team.members.remove(&user_id);
                team.updated_at = now.to_string();
            }
        }
    }
}

/// The known fields of a team body, checked. `Some(None)` clears a field.
struct TeamFields {
    name: Option<String>,
    description: Option<Option<String>>,
    external_ref: Option<Option<String>>,
}

impl TeamFields {
    /// Checks a POST (`Full`: name required) or PATCH (`Partial`) body. Unknown fields, and
    /// `id`, `member_count` and the timestamps, are ignored.
    fn validate(body: &Map<String, Value>, mode: WriteMode) -> Result<Self, ApiError> {
        let name = match (body.get("name"), mode) {
            (None | Some(Value::Null), WriteMode::Full) => {
                return Err(ApiError::bad_request("name is required"))
            }
            (None, WriteMode::Partial) => None,
            (Some(Value::Null), WriteMode::Partial) => {
                return Err(ApiError::invalid_field("name cannot be cleared"))
            }
            (Some(Value::String(s)), _) if s.trim().is_empty() => {
                return Err(ApiError::invalid_field("name must not be empty"))
            }
            (Some(Value::String(s)), _) => Some(s.clone()),
            (Some(v), _) => {
                return Err(ApiError::invalid_field(format!(
                    "name must be a string, not {v}"
                )))
            }
        };
        Ok(TeamFields {
            name,
            description: optional_text(body, "description")?,
            external_ref: optional_text(body, "external_ref")?,
        })
    }
}

/// A field that is a string or null: `None` when absent, `Some(None)` when null.
fn optional_text(
    body: &Map<String, Value>,
    name: &str,
) -> Result<Option<Option<String>>, ApiError> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
        Some(v) => Err(ApiError::invalid_field(format!(
            "{name} must be a string, not {v}"
        ))),
    }
}

/// The query of `GET /api/v1/teams`.
struct TeamQuery {
    paging: Paging,
    name: Option<String>,
    external_ref: Option<String>,
}

impl TeamQuery {
    fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        Ok(TeamQuery {
            paging: Paging::parse(pairs)?,
            name: first_param(pairs, "name"),
            external_ref: first_param(pairs, "external_ref"),
        })
    }

    fn matches(&self, team: &Team) -> bool {
        let name_ok = self
            .name
            .as_ref()
            .is_none_or(|want| team.name.to_lowercase() == want.to_lowercase());
        let ref_ok = self
            .external_ref
            .as_ref()
            .is_none_or(|want| team.external_ref.as_deref() == Some(want.as_str()));
        name_ok && ref_ok
    }
}

impl AcmeHr {
    /// Adds a team named `name` whose members are `member_ids`, without going through HTTP,
    /// and returns its id. Built in one pass, so that a team of 100,000 members is quick to
    /// set up for tests and benchmarks.
    pub fn seed_team(&self, name: &str, member_ids: &[u64]) -> Result<u64, SeedTeamError> {
        if name.trim().is_empty() {
            return Err(SeedTeamError::EmptyName);
        }
        let now: Arc<str> = now_rfc3339().into();
        let mut state = self.write();
        if state.team_name_owner(name, None).is_some() {
            return Err(SeedTeamError::NameTaken(name.to_string()));
        }
        if let Some(unknown) = member_ids.iter().find(|id| !state.users.contains_key(id)) {
            return Err(SeedTeamError::UnknownUser(*unknown));
        }
        let id = state.last_team_id + 1;
        let team = Team {
            name: name.to_string(),
            description: None,
            external_ref: None,
            created_at: now.to_string(),
            updated_at: now.to_string(),
            members: member_ids.iter().map(|u| (*u, now.clone())).collect(),
        };
        state.insert_team(id, team);
        Ok(id)
    }

    /// How many teams exist.
    pub fn team_count(&self) -> usize {
        self.read().teams.len()
    }

    /// One team as `GET /api/v1/teams/{id}` would render it.
    pub fn team(&self, id: u64) -> Option<Value> {
        self.read().teams.get(&id).map(|t| t.render(id))
    }

    /// The user ids of a team's members, in order; `None` if there is no such team.
    pub fn member_ids(&self, team_id: u64) -> Option<Vec<u64>> {
        let state = self.read();
        let team = state.teams.get(&team_id)?;
        Some(team.members.keys().copied().collect())
    }

    /// The ids of the teams `user_id` belongs to, in order, read from the reverse index.
    pub fn team_ids_of(&self, user_id: u64) -> Vec<u64> {
        self.read()
            .user_teams
            .get(&user_id)
            .map(|teams| teams.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Serves the team routes and `GET /api/v1/users/{id}/teams` (after authentication).
    pub(super) async fn handle_teams(
        &self,
        head: &RequestHead,
        route: Route<'_>,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        let method = &head.method;
        match route {
            Route::UserTeams(user) => match *method {
                Method::GET => self.teams_of_user(parse_id(user, ApiError::user_not_found)?),
                _ => Err(ApiError::method_not_allowed(method, "GET")),
            },
            Route::Teams => match *method {
                Method::GET => self.list_teams(head),
                Method::POST => {
                    let body = read_object(session).await?;
                    self.create_team(&body)
                }
                _ => Err(ApiError::method_not_allowed(method, "GET, POST")),
            },
            Route::Team(team) => {
                if !matches!(*method, Method::GET | Method::PATCH | Method::DELETE) {
                    return Err(ApiError::method_not_allowed(method, "GET, PATCH, DELETE"));
                }
                let id = parse_id(team, ApiError::team_not_found)?;
                match *method {
                    Method::GET => self.get_team(id),
                    Method::DELETE => self.delete_team(id),
                    _ => {
                        let body = read_object(session).await?;
                        self.update_team(id, &body)
                    }
                }
            }
            Route::TeamMembers(team) => {
                if !matches!(*method, Method::GET | Method::POST) {
                    return Err(ApiError::method_not_allowed(method, "GET, POST"));
                }
                let id = parse_id(team, ApiError::team_not_found)?;
                if *method == Method::GET {
                    self.list_members(id, head)
                } else {
                    let body = read_object(session).await?;
                    self.add_member(id, &body)
                }
            }
            Route::TeamMember(team, user) => {
                if !matches!(*method, Method::GET | Method::DELETE) {
                    return Err(ApiError::method_not_allowed(method, "GET, DELETE"));
                }
                let id = parse_id(team, ApiError::team_not_found)?;
                let user_id = parse_id(user, ApiError::user_not_found)?;
                if *method == Method::GET {
                    self.get_member(id, user_id)
                } else {
                    self.remove_member(id, user_id)
                }
            }
            Route::Users | Route::User(_) | Route::None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no such endpoint: {method} {}", head.path),
            )),
        }
    }

    fn list_teams(&self, head: &RequestHead) -> Result<Response<Vec<u8>>, ApiError> {
        let query = TeamQuery::parse(&head.query_pairs())?;
        let paging = query.paging;
        let state = self.read();
        let render = |(id, team): (&u64, &Team)| team.render(*id);
        let (data, total) = match &query.name {
            // The name index answers `?name=` without a scan.
            Some(name) => {
                let found = state
                    .team_name_owner(name, None)
                    .and_then(|id| state.teams.get_key_value(&id))
                    .filter(|(_, team)| query.matches(team));
                paging.take(found.into_iter().map(render))
            }
            None if query.external_ref.is_some() => paging.take(
                state
                    .teams
                    .iter()
                    .filter(|(_, t)| query.matches(t))
                    .map(render),
            ),
            None => (
                paging.slice(state.teams.iter().map(render)),
                state.teams.len() as u64,
            ),
        };
        drop(state);
        Ok(json_response(StatusCode::OK, &paging.body(data, total)))
    }

    fn get_team(&self, id: u64) -> Result<Response<Vec<u8>>, ApiError> {
        let state = self.read();
        let team = state
            .teams
            .get(&id)
            .ok_or_else(|| ApiError::team_not_found(&id.to_string()))?;
        Ok(json_response(StatusCode::OK, &team.render(id)))
    }

    fn create_team(&self, body: &Map<String, Value>) -> Result<Response<Vec<u8>>, ApiError> {
        let fields = TeamFields::validate(body, WriteMode::Full)?;
        let name = fields.name.unwrap_or_default();
        let now = now_rfc3339();
        let mut state = self.write();
        if state.team_name_owner(&name, None).is_some() {
            return Err(ApiError::name_taken(&name));
        }
        let id = state.last_team_id + 1;
        let team = Team {
            name,
            description: fields.description.flatten(),
            external_ref: fields.external_ref.flatten(),
            created_at: now.clone(),
            updated_at: now,
            members: BTreeMap::new(),
        };
        let rendered = team.render(id);
        state.insert_team(id, team);
        drop(state);
        let mut resp = json_response(StatusCode::CREATED, &rendered);
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
        let fields = TeamFields::validate(body, WriteMode::Partial)?;
        let now = now_rfc3339();
        let mut state = self.write();
        if !state.teams.contains_key(&id) {
            return Err(ApiError::team_not_found(&id.to_string()));
        }
        if let Some(name) = &fields.name {
            if state.team_name_owner(name, Some(id)).is_some() {
                return Err(ApiError::name_taken(name));
            }
        }
        let state = &mut *state;
        let Some(team) = state.teams.get_mut(&id) else {
            return Err(ApiError::team_not_found(&id.to_string()));
        };
        if let Some(name) = fields.name {
            state.team_names.remove(&team.name.to_lowercase());
            state.team_names.insert(name.to_lowercase(), id);
            team.name = name;
        }
        if let Some(description) = fields.description {
            team.description = description;
        }
        if let Some(external_ref) = fields.external_ref {
            team.external_ref = external_ref;
        }
        team.updated_at = now;
        Ok(json_response(StatusCode::OK, &team.render(id)))
    }

    fn delete_team(&self, id: u64) -> Result<Response<Vec<u8>>, ApiError> {
        self.write()
            .remove_team(id)
            .ok_or_else(|| ApiError::team_not_found(&id.to_string()))?;
        Ok(empty_response(StatusCode::NO_CONTENT))
    }

    fn list_members(&self, id: u64, head: &RequestHead) -> Result<Response<Vec<u8>>, ApiError> {
        let paging = Paging::parse(&head.query_pairs())?;
        let state = self.read();
        let team = state
            .teams
            .get(&id)
            .ok_or_else(|| ApiError::team_not_found(&id.to_string()))?;
        let data = paging.slice(team.members.iter().map(|(u, at)| membership(*u, at)));
        let body = paging.body(data, team.members.len() as u64);
        drop(state);
        Ok(json_response(StatusCode::OK, &body))
    }

    fn add_member(
        &self,
        id: u64,
        body: &Map<String, Value>,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        let user_id = match body.get("user_id") {
            None | Some(Value::Null) => return Err(ApiError::bad_request("user_id is required")),
            Some(v) => v.as_u64().ok_or_else(|| {
                ApiError::invalid_field(format!("user_id must be a user id (an integer), not {v}"))
            })?,
        };
        let now: Arc<str> = now_rfc3339().into();
        let mut state = self.write();
        if !state.teams.contains_key(&id) {
            return Err(ApiError::team_not_found(&id.to_string()));
        }
        if !state.users.contains_key(&user_id) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_user",
                format!("user {user_id} does not exist"),
            ));
        }
        let Some((added, at)) = state.add_member(id, user_id, &now) else {
            return Err(ApiError::team_not_found(&id.to_string()));
        };
        drop(state);
        let status = if added {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        let mut resp = json_response(status, &membership(user_id, &at));
        if added {
            if let Ok(location) = HeaderValue::from_str(&format!("{TEAMS}/{id}/members/{user_id}"))
            {
                resp.headers_mut().insert(header::LOCATION, location);
            }
        }
        Ok(resp)
    }

    fn get_member(&self, id: u64, user_id: u64) -> Result<Response<Vec<u8>>, ApiError> {
        let state = self.read();
        let team = state
            .teams
            .get(&id)
            .ok_or_else(|| ApiError::team_not_found(&id.to_string()))?;
        let added_at = team
            .members
            .get(&user_id)
            .ok_or_else(|| not_a_member(id, user_id))?;
        Ok(json_response(
            StatusCode::OK,
            &membership(user_id, added_at),
        ))
    }

    fn remove_member(&self, id: u64, user_id: u64) -> Result<Response<Vec<u8>>, ApiError> {
        let now = now_rfc3339();
        match self.write().remove_member(id, user_id, &now) {
            None => Err(ApiError::team_not_found(&id.to_string())),
            Some(false) => Err(not_a_member(id, user_id)),
            Some(true) => Ok(empty_response(StatusCode::NO_CONTENT)),
        }
    }

    fn teams_of_user(&self, user_id: u64) -> Result<Response<Vec<u8>>, ApiError> {
        let state = self.read();
        if !state.users.contains_key(&user_id) {
            return Err(ApiError::user_not_found(&user_id.to_string()));
        }
        let data: Vec<Value> = state
            .user_teams
            .get(&user_id)
            .into_iter()
            .flatten()
            .filter_map(|id| {
                state
                    .teams
                    .get(id)
                    .map(|t| json!({"id": id, "name": t.name}))
            })
            .collect();
        drop(state);
        Ok(json_response(StatusCode::OK, &json!({ "data": data })))
    }
}

fn not_a_member(team_id: u64, user_id: u64) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("user {user_id} is not a member of team {team_id}"),
    )
}

#[cfg(test)]
mod tests {

    use serde_json::{json, Value};

    use super::super::tests::{create, error_code, running, Running, KEY};
    use super::super::{AcmeHr, TEAM, TEAMS, TEAM_MEMBER, TEAM_MEMBERS, USER, USERS, USER_TEAMS};
    use super::SeedTeamError;
    use crate::common::test_client::{Client, Reply};

    fn create_team(client: &Client, body: Value) -> Value {
        let reply = client.send("POST", TEAMS, &body);
        assert_eq!(reply.status, 201, "{:?}", reply.json);
        reply.json
    }

    fn add(client: &Client, team: u64, user: u64) -> Reply {
        client.send(
            "POST",
            &format!("{TEAMS}/{team}/members"),
            &json!({ "user_id": user }),
        )
    }

    fn ids(reply: &Reply, key: &str) -> Vec<u64> {
        reply.json["data"]
            .as_array()
            .unwrap_or_else(|| panic!("no data: {:?}", reply.json))
            .iter()
            .map(|item| item[key].as_u64().unwrap())
            .collect()
    }

    /// A running API with `n` seeded users.
    fn with_users(n: usize) -> Running {
        let t = running();
        t.api.seed(n);
        t
    }

    #[test]
    fn create_renders_a_team_with_its_own_id_sequence() {
        let t = with_users(3);
        let team = create_team(
            &t.client,
            json!({"id": 40, "member_count": 9, "created_at": "2000-01-01T00:00:00.000Z",
                   "name": "Engineering", "description": "Builds things", "colour": "red"}),
        );
        assert_eq!(team["id"], 1, "team ids do not follow user ids");
        assert_eq!(team["name"], "Engineering");
        assert_eq!(team["description"], "Builds things");
        assert_eq!(team["external_ref"], Value::Null);
        assert_eq!(team["member_count"], 0);
        assert_ne!(team["created_at"], "2000-01-01T00:00:00.000Z");
        assert_eq!(team["created_at"], team["updated_at"]);
        let keys: Vec<&str> = team
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "name",
                "description",
                "external_ref",
                "member_count",
                "created_at",
                "updated_at"
            ]
        );
        let second = t.client.send(
            "POST",
            TEAMS,
            &json!({"name": "Sales", "external_ref": "grp-7"}),
        );
        assert_eq!(second.status, 201);
        assert_eq!(second.json["id"], 2);
        assert_eq!(second.header("location"), Some("/api/v1/teams/2"));
        assert_eq!(t.client.get("/api/v1/teams/1").json, team);
        assert_eq!(t.api.team(2).unwrap()["external_ref"], "grp-7");
        assert_eq!(create(&t.client, json!({"login": "new"}))["id"], 4);
    }

    #[test]
    fn create_refuses_taken_names_and_bad_bodies() {
        let t = running();
        create_team(&t.client, json!({"name": "Engineering"}));
        let taken = t
            .client
            .send("POST", TEAMS, &json!({"name": "ENGINEERING"}));
        assert_eq!(taken.status, 422);
        assert_eq!(
            taken.json,
            json!({"error": {"code": "name_taken",
                             "message": "team name 'ENGINEERING' is already taken"}})
        );
        let cases: &[(&str, u16, &str)] = &[
            (r#"{"description": "no name"}"#, 400, "bad_request"),
            (r#"{"name": null}"#, 400, "bad_request"),
            (r#"{"name": "x""#, 400, "bad_request"),
            (r#"["name"]"#, 400, "bad_request"),
            (r#"{"name": 5}"#, 422, "invalid_field"),
            (r#"{"name": "  "}"#, 422, "invalid_field"),
            (r#"{"name": "x", "description": 1}"#, 422, "invalid_field"),
            (
                r#"{"name": "x", "external_ref": ["a"]}"#,
                422,
                "invalid_field",
            ),
        ];
        for (body, status, code) in cases {
            let reply = t.client.call("POST", TEAMS, Some(body));
            assert_eq!(reply.status, *status, "{body}: {:?}", reply.json);
            assert_eq!(error_code(&reply), *code, "{body}");
        }
        assert_eq!(t.api.team_count(), 1, "no refused body created a team");
    }

    #[test]
    fn patch_changes_only_the_given_keys_and_keeps_names_unique() {
        let t = running();
        let before = create_team(
            &t.client,
            json!({"name": "Eng", "description": "Builds", "external_ref": "g-1"}),
        );
        create_team(&t.client, json!({"name": "Sales"}));
        let reply = t.client.send(
            "PATCH",
            "/api/v1/teams/1",
            &json!({"description": null, "id": 9, "member_count": 3}),
        );
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        assert_eq!(reply.json["id"], 1);
        assert_eq!(reply.json["name"], "Eng", "absent keys are kept");
        assert_eq!(reply.json["external_ref"], "g-1");
        assert_eq!(reply.json["description"], Value::Null, "null clears");
        assert_eq!(reply.json["member_count"], 0);
        assert_eq!(reply.json["created_at"], before["created_at"]);
        assert!(reply.json["updated_at"].as_str() >= before["updated_at"].as_str());

        let taken = t
            .client
            .send("PATCH", "/api/v1/teams/1", &json!({"name": "sales"}));
        assert_eq!(taken.status, 422);
        assert_eq!(error_code(&taken), "name_taken");
        for (body, status, code) in [
            (r#"{"name": null}"#, 422, "invalid_field"),
            (r#"{"name": ""}"#, 422, "invalid_field"),
            (r#"{"external_ref": 3}"#, 422, "invalid_field"),
            (r#"{"name": "#, 400, "bad_request"),
        ] {
            let reply = t.client.call("PATCH", "/api/v1/teams/1", Some(body));
            assert_eq!(reply.status, status, "{body}");
            assert_eq!(error_code(&reply), code, "{body}");
        }
        assert_eq!(
            t.api.team(1).unwrap()["name"],
            "Eng",
            "refused writes change nothing"
        );

        let recased = t
            .client
            .send("PATCH", "/api/v1/teams/1", &json!({"name": "ENG"}));
        assert_eq!(
            recased.status, 200,
            "a team may change the case of its own name"
        );
        let renamed = t
            .client
            .send("PATCH", "/api/v1/teams/1", &json!({"name": "Engineering"}));
        assert_eq!(renamed.json["name"], "Engineering");
        assert_eq!(
            t.client.get("/api/v1/teams?name=eng").json["meta"]["total"],
            0
        );
        create_team(&t.client, json!({"name": "Eng"}));
        let missing = t
            .client
            .send("PATCH", "/api/v1/teams/42", &json!({"name": "x"}));
        assert_eq!(missing.status, 404);
        assert_eq!(
            missing.json,
            json!({"error": {"code": "not_found", "message": "team 42 not found"}})
        );
    }

    #[test]
    fn delete_removes_the_team_releases_members_and_frees_its_name() {
        let t = with_users(3);
        create_team(&t.client, json!({"name": "Eng"}));
        create_team(&t.client, json!({"name": "Ops"}));
        for user in [1, 2] {
            assert_eq!(add(&t.client, 1, user).status, 201);
        }
        assert_eq!(add(&t.client, 2, 2).status, 201);
        let reply = t.client.call("DELETE", "/api/v1/teams/1", None);
        assert_eq!(reply.status, 204);
        assert_eq!(reply.json, Value::Null, "no body");
        assert_eq!(t.client.get("/api/v1/teams/1").status, 404);
        assert_eq!(t.client.get("/api/v1/teams/1/members").status, 404);
        assert_eq!(t.client.call("DELETE", "/api/v1/teams/1", None).status, 404);
        assert_eq!(
            t.api.team_ids_of(1),
            Vec::<u64>::new(),
            "members are released"
        );
        assert_eq!(t.api.team_ids_of(2), vec![2]);
        assert_eq!(ids(&t.client.get("/api/v1/users/2/teams"), "id"), vec![2]);
        assert_eq!(t.api.user_count(), 3, "the users themselves stay");
        let again = create_team(&t.client, json!({"name": "eng"}));
        assert_eq!(again["id"], 3, "team ids are not reused");
        assert_eq!(again["member_count"], 0);
    }

    #[test]
    fn list_pages_in_id_order_with_exact_filters() {
        let t = running();
        for i in 1..=30 {
            let body =
                json!({"name": format!("Team {i}"), "external_ref": format!("ref-{}", i % 3)});
            create_team(&t.client, body);
        }
        create_team(
            &t.client,
            json!({"name": "Ünïcode Crew", "external_ref": "REF-1"}),
        );
        let first = t.client.get(TEAMS);
        assert_eq!(first.status, 200);
        assert_eq!(
            first.json["meta"],
            json!({"page": 1, "per_page": 25, "total": 31})
        );
        assert_eq!(ids(&first, "id"), (1..=25).collect::<Vec<u64>>());
        assert_eq!(first.json["data"][0], t.api.team(1).unwrap());
        let second = t.client.get("/api/v1/teams?page=2");
        assert_eq!(ids(&second, "id"), (26..=31).collect::<Vec<u64>>());
        let small = t.client.get("/api/v1/teams?page=3&per_page=4");
        assert_eq!(ids(&small, "id"), (9..=12).collect::<Vec<u64>>());
        assert_eq!(
            small.json["meta"],
            json!({"page": 3, "per_page": 4, "total": 31})
        );
        assert!(ids(&t.client.get("/api/v1/teams?page=9"), "id").is_empty());
        for query in ["per_page=101", "per_page=0", "page=0", "page=x"] {
            let reply = t.client.get(&format!("{TEAMS}?{query}"));
            assert_eq!(reply.status, 400, "{query}");
            assert_eq!(error_code(&reply), "bad_request", "{query}");
        }
        let found = |query: &str| -> Vec<u64> {
            let reply = t.client.get(&format!("{TEAMS}?{query}"));
            assert_eq!(reply.status, 200, "{query}");
            assert_eq!(
                reply.json["meta"]["total"],
                reply.json["data"].as_array().unwrap().len()
            );
            ids(&reply, "id")
        };
        assert_eq!(
            found("name=team%2012"),
            vec![12],
            "names match case-insensitively"
        );
        assert_eq!(found("name=TEAM+12"), vec![12]);
        assert_eq!(found("name=Team%201"), vec![1], "and exactly");
        assert_eq!(found("name=Team"), Vec::<u64>::new());
        assert_eq!(found("name=%C3%BCn%C3%AFcode%20crew"), vec![31]);
        assert_eq!(
            found("external_ref=REF-1"),
            vec![31],
            "external_ref is case-sensitive"
        );
        let paged = t
            .client
            .get("/api/v1/teams?external_ref=ref-0&per_page=3&page=2");
        assert_eq!(
            ids(&paged, "id"),
            vec![12, 15, 18],
            "filters and pages combine"
        );
        assert_eq!(
            paged.json["meta"],
            json!({"page": 2, "per_page": 3, "total": 10})
        );
        assert_eq!(found("name=Team%203&external_ref=ref-0"), vec![3]);
        assert_eq!(found("name=Team%203&external_ref=ref-1"), Vec::<u64>::new());
        let unknown = t.client.get("/api/v1/teams?colour=red");
        assert_eq!(unknown.json, first.json, "unknown parameters are ignored");
    }

    #[test]
    fn adding_a_member_is_idempotent() {
        let t = with_users(3);
        create_team(&t.client, json!({"name": "Eng"}));
        let first = add(&t.client, 1, 2);
        assert_eq!(first.status, 201, "{:?}", first.json);
        let added_at = first.json["added_at"].as_str().unwrap().to_string();
        assert_eq!(first.json, json!({"user_id": 2, "added_at": added_at}));
        assert_eq!(first.header("location"), Some("/api/v1/teams/1/members/2"));
        let team = t.api.team(1).unwrap();
        assert_eq!(team["member_count"], 1);
        assert_eq!(
            team["updated_at"],
            added_at.as_str(),
            "a new member changes the team"
        );
        let again = add(&t.client, 1, 2);
        assert_eq!(again.status, 200, "a repeated add is not an error");
        assert_eq!(again.json, first.json, "and keeps the first membership");
        assert_eq!(again.header("location"), None);
        assert_eq!(t.api.team(1).unwrap(), team, "and changes nothing");
        assert_eq!(t.api.member_ids(1), Some(vec![2]));
    }

    #[test]
    fn adding_refuses_unknown_users_teams_and_bad_bodies() {
        let t = with_users(2);
        create_team(&t.client, json!({"name": "Eng"}));
        let unknown = add(&t.client, 1, 17);
        assert_eq!(unknown.status, 422);
        assert_eq!(
            unknown.json,
            json!({"error": {"code": "unknown_user", "message": "user 17 does not exist"}})
        );
        let no_team = add(&t.client, 9, 1);
        assert_eq!(no_team.status, 404);
        assert_eq!(no_team.json["error"]["message"], "team 9 not found");
        let path = "/api/v1/teams/1/members";
        for (body, status, code) in [
            (r#"{}"#, 400, "bad_request"),
            (r#"{"user_id": null}"#, 400, "bad_request"),
            (r#"{"user_id": "#, 400, "bad_request"),
            (r#"[1]"#, 400, "bad_request"),
            (r#"{"user_id": "1"}"#, 422, "invalid_field"),
            (r#"{"user_id": -1}"#, 422, "invalid_field"),
            (r#"{"user_id": 1.5}"#, 422, "invalid_field"),
        ] {
            let reply = t.client.call("POST", path, Some(body));
            assert_eq!(reply.status, status, "{body}: {:?}", reply.json);
            assert_eq!(error_code(&reply), code, "{body}");
        }
        assert_eq!(t.api.member_ids(1), Some(vec![]));
        assert_eq!(t.api.team_ids_of(17), Vec::<u64>::new());
    }

    #[test]
    fn members_are_listed_in_user_id_order_with_pages() {
        let t = with_users(40);
        create_team(&t.client, json!({"name": "Eng"}));
        for user in (1..=40).rev().filter(|u| u % 3 != 0) {
            assert_eq!(add(&t.client, 1, user).status, 201);
        }
        let expected: Vec<u64> = (1..=40).filter(|u| u % 3 != 0).collect();
        assert_eq!(expected.len(), 27);
        let first = t.client.get("/api/v1/teams/1/members");
        assert_eq!(first.status, 200);
        assert_eq!(
            first.json["meta"],
            json!({"page": 1, "per_page": 25, "total": 27})
        );
        assert_eq!(ids(&first, "user_id"), expected[..25]);
        let item = &first.json["data"][0];
        assert_eq!(item.as_object().unwrap().len(), 2, "{item}");
        assert!(item["added_at"].as_str().unwrap().ends_with('Z'));
        let second = t.client.get("/api/v1/teams/1/members?page=2");
        assert_eq!(ids(&second, "user_id"), expected[25..]);
        let small = t.client.get("/api/v1/teams/1/members?page=3&per_page=5");
        assert_eq!(ids(&small, "user_id"), expected[10..15]);
        assert_eq!(
            small.json["meta"],
            json!({"page": 3, "per_page": 5, "total": 27})
        );
        assert!(ids(&t.client.get("/api/v1/teams/1/members?page=4"), "user_id").is_empty());
        for query in ["per_page=101", "per_page=0", "page=0", "page=-2"] {
            let reply = t.client.get(&format!("/api/v1/teams/1/members?{query}"));
            assert_eq!(reply.status, 400, "{query}");
            assert_eq!(error_code(&reply), "bad_request");
        }
        assert_eq!(t.api.team(1).unwrap()["member_count"], 27);
        let missing = t.client.get("/api/v1/teams/2/members");
        assert_eq!(missing.status, 404);
        assert_eq!(error_code(&missing), "not_found");
    }

    #[test]
    fn removing_a_member() {
        let t = with_users(3);
        create_team(&t.client, json!({"name": "Eng"}));
        add(&t.client, 1, 1);
        add(&t.client, 1, 3);
        let one = t.client.get("/api/v1/teams/1/members/3");
        assert_eq!(one.status, 200);
        assert_eq!(one.json["user_id"], 3);
        let reply = t.client.call("DELETE", "/api/v1/teams/1/members/3", None);
        assert_eq!(reply.status, 204);
        assert_eq!(reply.json, Value::Null);
        assert_eq!(t.api.member_ids(1), Some(vec![1]), "only that member left");
        assert_eq!(t.api.team(1).unwrap()["member_count"], 1);
        assert_eq!(t.api.team_ids_of(3), Vec::<u64>::new());
        for path in ["/api/v1/teams/1/members/3", "/api/v1/teams/1/members/2"] {
            for method in ["DELETE", "GET"] {
                let reply = t.client.call(method, path, None);
                assert_eq!(reply.status, 404, "{method} {path}");
                assert_eq!(error_code(&reply), "not_found");
            }
        }
        let gone = t.client.call("DELETE", "/api/v1/teams/1/members/3", None);
        assert_eq!(
            gone.json["error"]["message"],
            "user 3 is not a member of team 1"
        );
        let no_team = t.client.call("DELETE", "/api/v1/teams/7/members/1", None);
        assert_eq!(no_team.json["error"]["message"], "team 7 not found");
        let odd = t.client.call("DELETE", "/api/v1/teams/1/members/abc", None);
        assert_eq!(odd.status, 404);
        assert_eq!(
            add(&t.client, 1, 3).status,
            201,
            "a removed member can come back"
        );
    }

    #[test]
    fn a_users_teams_come_from_the_reverse_index() {
        let t = with_users(3);
        for name in ["Eng", "Ops", "Sales"] {
            create_team(&t.client, json!({"name": name}));
        }
        add(&t.client, 3, 2);
        add(&t.client, 1, 2);
        add(&t.client, 2, 1);
        let teams = t.client.get("/api/v1/users/2/teams");
        assert_eq!(teams.status, 200);
        assert_eq!(
            teams.json,
            json!({"data": [{"id": 1, "name": "Eng"}, {"id": 3, "name": "Sales"}]})
        );
        assert_eq!(
            t.client.get("/api/v1/users/3/teams").json,
            json!({"data": []})
        );
        t.client
            .send("PATCH", "/api/v1/teams/3", &json!({"name": "Field Sales"}));
        assert_eq!(
            t.client.get("/api/v1/users/2/teams").json["data"][1]["name"],
            "Field Sales",
            "names are current"
        );
        let missing = t.client.get("/api/v1/users/9/teams");
        assert_eq!(missing.status, 404);
        assert_eq!(missing.json["error"]["message"], "user 9 not found");

        // Deleting a user removes its memberships.
        assert_eq!(t.client.call("DELETE", "/api/v1/users/2", None).status, 204);
        assert_eq!(t.api.member_ids(1), Some(vec![]));
        assert_eq!(t.api.member_ids(3), Some(vec![]));
        assert_eq!(t.api.team(1).unwrap()["member_count"], 0);
        assert_eq!(t.api.team_ids_of(2), Vec::<u64>::new());
        assert_eq!(t.api.member_ids(2), Some(vec![1]), "other memberships stay");
        assert_eq!(t.client.get("/api/v1/users/2/teams").status, 404);
        assert_eq!(
            add(&t.client, 1, 2).status,
            422,
            "a deleted user is unknown"
        );
    }

    #[test]
    fn odd_ids_and_other_methods() {
        let t = with_users(1);
        create_team(&t.client, json!({"name": "Eng"}));
        for path in [
            "/api/v1/teams/abc",
            "/api/v1/teams/-1",
            "/api/v1/teams/..%2F1",
            "/api/v1/teams/99999999999999999999999",
            "/api/v1/teams/x/members",
            "/api/v1/teams/1/members/x/extra",
            "/api/v1/teams/1/owners",
            "/api/v1/teamz",
            "/api/v1/users/1/teams/1",
        ] {
            let reply = t.client.get(path);
            assert_eq!(reply.status, 404, "{path}");
            assert_eq!(error_code(&reply), "not_found", "{path}");
        }
        assert_eq!(t.client.get("/api/v1/teams/%31").status, 200, "%31 is 1");
        for (method, path, allow) in [
            ("DELETE", TEAMS, "GET, POST"),
            ("PUT", "/api/v1/teams/1", "GET, PATCH, DELETE"),
            ("POST", "/api/v1/teams/1", "GET, PATCH, DELETE"),
            ("PUT", "/api/v1/teams/1/members", "GET, POST"),
            ("DELETE", "/api/v1/teams/1/members", "GET, POST"),
            ("PATCH", "/api/v1/teams/1/members/1", "GET, DELETE"),
            ("POST", "/api/v1/users/1/teams", "GET"),
        ] {
            let reply = t.client.call(method, path, Some(r#"{"user_id": 1}"#));
            assert_eq!(reply.status, 405, "{method} {path}");
            assert_eq!(error_code(&reply), "method_not_allowed");
            assert_eq!(reply.header("allow"), Some(allow), "{method} {path}");
        }
        assert_eq!(t.api.member_ids(1), Some(vec![]));
        let anonymous = t.client.with_auth(None);
        for (method, path) in [
            ("GET", TEAMS),
            ("POST", "/api/v1/teams/1/members"),
            ("DELETE", "/api/v1/teams/1/members/1"),
            ("GET", "/api/v1/users/1/teams"),
        ] {
            let reply = anonymous.call(method, path, Some(r#"{"user_id": 1}"#));
            assert_eq!(reply.status, 401, "{method} {path}");
        }
        assert_eq!(t.api.member_ids(1), Some(vec![]));
    }

    #[test]
    fn team_requests_are_counted_per_endpoint() {
        let t = with_users(2);
        create_team(&t.client, json!({"name": "Eng"}));
        t.client.get(TEAMS);
        t.client.get("/api/v1/teams/1");
        t.client
            .send("PATCH", "/api/v1/teams/1", &json!({"description": "d"}));
        add(&t.client, 1, 1);
        add(&t.client, 1, 1);
        t.client.get("/api/v1/teams/1/members");
        t.client.get("/api/v1/teams/1/members/1");
        t.client.call("DELETE", "/api/v1/teams/1/members/1", None);
        t.client.get("/api/v1/users/1/teams");
        t.client.call("DELETE", "/api/v1/teams/1", None);
        let counts = t.api.requests();
        assert_eq!(t.api.request_count(), 11);
        assert_eq!(counts.get("POST", TEAMS), 1);
        assert_eq!(counts.get("GET", TEAMS), 1);
        assert_eq!(counts.get("GET", TEAM), 1);
        assert_eq!(counts.get("PATCH", TEAM), 1);
        assert_eq!(counts.get("DELETE", TEAM), 1);
        assert_eq!(counts.get("POST", TEAM_MEMBERS), 2);
        assert_eq!(counts.get("GET", TEAM_MEMBERS), 1);
        assert_eq!(counts.get("GET", TEAM_MEMBER), 1);
        assert_eq!(counts.get("DELETE", TEAM_MEMBER), 1);
        assert_eq!(counts.get("GET", USER_TEAMS), 1);
        assert_eq!(counts.get("GET", USER), 0);
        assert_eq!(counts.get("GET", USERS), 0);
    }

    #[test]
    fn seed_team_checks_its_input() {
        let api = AcmeHr::new(KEY);
        api.seed(3);
        assert_eq!(api.seed_team("Eng", &[3, 1]), Ok(1));
        assert_eq!(api.member_ids(1), Some(vec![1, 3]));
        assert_eq!(api.team_ids_of(3), vec![1]);
        assert_eq!(
            api.seed_team("eng", &[]),
            Err(SeedTeamError::NameTaken("eng".into()))
        );
        assert_eq!(
            api.seed_team("Ops", &[2, 4]),
            Err(SeedTeamError::UnknownUser(4))
        );
        assert_eq!(api.seed_team(" ", &[]), Err(SeedTeamError::EmptyName));
        assert_eq!(api.team_count(), 1, "refused seeds add nothing");
        assert_eq!(api.team_ids_of(2), Vec::<u64>::new());
        assert_eq!(
            api.seed_team("Ops", &[2, 2]),
            Ok(2),
            "duplicates count once"
        );
        assert_eq!(api.team(2).unwrap()["member_count"], 1);
    }

    #[test]
    fn a_100k_member_team_changes_one_member_per_request() {
        let t = running();
        let users = t.api.seed(100_001);
        let (newcomer, members) = users.split_last().unwrap();
        let team = t.api.seed_team("Everyone", members).unwrap();
        assert_eq!(t.api.team(team).unwrap()["member_count"], 100_000);
        assert_eq!(t.api.team_ids_of(100_000), vec![team]);
        t.api.requests().reset();

        let added = add(&t.client, team, *newcomer);
        assert_eq!(added.status, 201, "{:?}", added.json);
        assert_eq!(added.json["user_id"], *newcomer);
        let removed = t
            .client
            .call("DELETE", &format!("{TEAMS}/{team}/members/50000"), None);
        assert_eq!(removed.status, 204);
        assert_eq!(t.api.request_count(), 2, "one request each");
        assert_eq!(t.api.requests().get("POST", TEAM_MEMBERS), 1);
        assert_eq!(t.api.requests().get("DELETE", TEAM_MEMBER), 1);

        let got = t.client.get(&format!("{TEAMS}/{team}"));
        assert_eq!(got.json["member_count"], 100_000);
        let last = t
            .client
            .get(&format!("{TEAMS}/{team}/members?page=1000&per_page=100"));
        assert_eq!(last.json["meta"]["total"], 100_000);
        let page = ids(&last, "user_id");
        assert_eq!(page.len(), 100);
        assert_eq!(
            page.last(),
            Some(newcomer),
            "the newcomer is last by user id"
        );
        assert_eq!(page.first(), Some(&99_902));
        let around = t
            .client
            .get(&format!("{TEAMS}/{team}/members?page=500&per_page=100"));
        assert_eq!(
            ids(&around, "user_id")[98..],
            [49_999, 50_001],
            "the removed member is gone"
        );
        assert_eq!(t.api.team_ids_of(50_000), Vec::<u64>::new());
        assert_eq!(t.api.team_ids_of(*newcomer), vec![team]);
    }
}
