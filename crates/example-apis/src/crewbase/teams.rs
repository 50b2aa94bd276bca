//! Crewbase's teams: `{tid, title, slug, meta}` documents with ids of their own (`t_01`, …),
//! listed with offset/limit and `X-Total-Count` like people. Crewbase keeps membership on the
//! person (`team_ids`), not here: a team has no member endpoints. The API indexes it per team
//! so that `GET /v2/people?team={tid}` reads only the members and deleting a team visits only
//! them.
//!
//! The rules, as Crewbase's own clients see them:
//! - titles are unique, compared case-insensitively (409 `title already exists`);
//! - `slug` is read-only, derived from the title (lower-case letters and digits joined by `-`,
//!   made unique with `-2`, `-3`…) and follows renames;
//! - deleting a team removes its tid from every person's `team_ids`, which is a change to each
//!   of those people (`meta.modified`, `meta.version`).
//!
//! People, auth, errors and the list rules are in `crewbase.rs`.

use http::{header, HeaderValue, Method, Response, StatusCode};
use pingora::protocols::http::ServerSession;
use serde_json::{json, Map, Value};

use super::{
    decode_uid, empty_response, first_param, json_response, list_response, now_rfc3339,
    read_object, seq_of, touch, uid_of, ApiError, Crewbase, RequestHead, Route, State, Window,
    TEAMS,
};

/// The tid of team sequence number `seq`: `t_01`, …, `t_99`, `t_100`, …
pub(super) fn tid_of(seq: u64) -> String {
    format!("t_{seq:02}")
}

/// The sequence number of `tid`, if it is exactly a tid this API hands out.
pub(super) fn tid_seq(tid: &str) -> Option<u64> {
    let seq = tid.strip_prefix("t_")?.parse::<u64>().ok()?;
    (tid_of(seq) == tid).then_some(seq)
}

/// The slug of a title before it is made unique: lower-case letters and digits, every other
/// run of characters one `-`; `team` if nothing is left.
fn slugify(title: &str) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        "team".to_string()
    } else {
        slug
    }
}

/// Why [`Crewbase::seed_team`] refused to create a team.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedTeamError {
    #[error("a team title must not be empty")]
    EmptyTitle,
    #[error("title '{0}' already exists")]
    TitleTaken(String),
    #[error("person {0} not found")]
    UnknownPerson(String),
}

impl ApiError {
    fn team_not_found(tid: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("team {tid} not found"))
    }
}

fn title_taken() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "title already exists")
}

impl State {
    /// The team whose title is `title` (case-insensitively), other than `except`.
    fn title_owner(&self, title: &str, except: Option<u64>) -> Option<u64> {
        self.titles
            .get(&title.to_lowercase())
            .copied()
            .filter(|seq| Some(*seq) != except)
    }

    /// The slug for `title`, unique among the teams other than `except`.
    fn unique_slug(&self, title: &str, except: Option<u64>) -> String {
        let base = slugify(title);
        let mut slug = base.clone();
        let mut k = 1;
        while self
            .slugs
            .get(&slug)
            .is_some_and(|seq| Some(*seq) != except)
        {
            k += 1;
            slug = format!("{base}-{k}");
        }
        slug
    }

    /// Checks that every tid of a validated `team_ids` value names a team.
    pub(super) fn check_team_ids(&self, team_ids: Option<&Value>) -> Result<(), ApiError> {
        for tid in team_ids.and_then(Value::as_array).into_iter().flatten() {
            let tid = tid.as_str().unwrap_or_default();
            if !tid_seq(tid).is_some_and(|seq| self.teams.contains_key(&seq)) {
                return Err(ApiError::bad_request(format!("unknown team {tid}")));
            }
        }
        Ok(())
    }

    /// Moves person `seq` in the team index from the teams `old` to the teams `new`.
    pub(super) fn relink(&mut self, seq: u64, old: &[u64], new: &[u64]) {
        for team in old.iter().filter(|t| !new.contains(t)) {
            if let Some(people) = self.members.get_mut(team) {
                people.remove(&seq);
                if people.is_empty() {
                    self.members.remove(team);
                }
            }
        }
        for team in new.iter().filter(|t| !old.contains(t)) {
            self.members.entry(*team).or_default().insert(seq);
        }
    }

    /// Stores a new team document under `seq`.
    fn insert_team(&mut self, seq: u64, doc: Map<String, Value>) {
        if let Some(title) = doc.get("title").and_then(Value::as_str) {
            self.titles.insert(title.to_lowercase(), seq);
        }
        if let Some(slug) = doc.get("slug").and_then(Value::as_str) {
            self.slugs.insert(slug.to_string(), seq);
        }
        self.teams.insert(seq, doc);
        self.last_team_seq = self.last_team_seq.max(seq);
    }

    /// Removes team `seq` and its tid from its members' `team_ids`. `false` if there is no
    /// such team.
    fn remove_team(&mut self, seq: u64) -> bool {
        let Some(doc) = self.teams.remove(&seq) else {
            return false;
        };
        if let Some(title) = doc.get("title").and_then(Value::as_str) {
            self.titles.remove(&title.to_lowercase());
        }
        if let Some(slug) = doc.get("slug").and_then(Value::as_str) {
            self.slugs.remove(slug);
        }
        let tid = Value::String(tid_of(seq));
        for person in self.members.remove(&seq).into_iter().flatten() {
            if let Some(doc) = self.people.get_mut(&person) {
                if let Some(Value::Array(ids)) = doc.get_mut("team_ids") {
                    ids.retain(|t| *t != tid);
                }
                touch(doc);
            }
        }
        true
    }
}

/// A new team document.
fn team_doc(seq: u64, title: &str, slug: String, now: &str) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("tid".into(), json!(tid_of(seq)));
    doc.insert("title".into(), json!(title));
    doc.insert("slug".into(), json!(slug));
    doc.insert("meta".into(), json!({"created": now, "modified": now}));
    doc
}

/// The title of a team body: required on create, optional on PATCH, always a non-empty string.
/// Unknown fields, `tid`, `slug` and `meta` are ignored.
fn validate_title(body: &Map<String, Value>, create: bool) -> Result<Option<String>, ApiError> {
    match body.get("title") {
        None if create => Err(ApiError::bad_request("title is required")),
        None => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request("title must be a non-empty string")),
    }
}

impl Crewbase {
    /// Adds a team titled `title` whose members are the people `member_uids`, without going
    /// through HTTP, and returns its tid. The tid is appended to each member's `team_ids`
    /// as if it had always been there (their `meta` is left as it is).
    pub fn seed_team(
        &self,
        title: &str,
        member_uids: &[impl AsRef<str>],
    ) -> Result<String, SeedTeamError> {
        if title.trim().is_empty() {
            return Err(SeedTeamError::EmptyTitle);
        }
        let mut state = self.write();
        if state.title_owner(title, None).is_some() {
            return Err(SeedTeamError::TitleTaken(title.to_string()));
        }
        let mut members = Vec::with_capacity(member_uids.len());
        for uid in member_uids {
            let uid = uid.as_ref();
            match seq_of(uid).filter(|seq| state.people.contains_key(seq)) {
                Some(seq) => members.push(seq),
                None => return Err(SeedTeamError::UnknownPerson(uid.to_string())),
            }
        }
        let seq = state.last_team_seq + 1;
        let tid = tid_of(seq);
        let slug = state.unique_slug(title, None);
        state.insert_team(seq, team_doc(seq, title, slug, &now_rfc3339()));
        for person in members {
            let Some(doc) = state.people.get_mut(&person) else {
                continue;
            };
            if let Some(Value::Array(ids)) = doc.get_mut("team_ids") {
                let tid = Value::String(tid.clone());
                if !ids.contains(&tid) {
                    ids.push(tid);
                }
            }
            state.members.entry(seq).or_default().insert(person);
        }
        Ok(tid)
    }

    /// How many teams exist.
    pub fn team_count(&self) -> usize {
        self.read().teams.len()
    }

    /// One team as `GET /v2/teams/{tid}` would render it.
    pub fn team(&self, tid: &str) -> Option<Value> {
        let seq = tid_seq(tid)?;
        self.read().teams.get(&seq).cloned().map(Value::Object)
    }

    /// The uids of the people whose `team_ids` hold `tid`, in creation order; `None` if there
    /// is no such team.
    pub fn member_uids(&self, tid: &str) -> Option<Vec<String>> {
        let seq = tid_seq(tid)?;
        let state = self.read();
        state.teams.get(&seq)?;
        let people = state.members.get(&seq).into_iter().flatten();
        Some(people.map(|p| uid_of(*p)).collect())
    }

    /// Serves the team routes (after authentication).
    pub(super) async fn handle_teams(
        &self,
        head: &RequestHead,
        route: Route<'_>,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        let method = &head.method;
        match route {
            Route::Teams => match *method {
                Method::GET => self.list_teams(head),
                Method::POST => {
                    let body = read_object(session).await?;
                    self.create_team(&body)
                }
                _ => Err(ApiError::method_not_allowed("GET, POST")),
            },
            Route::Team(tid) => match *method {
                Method::GET => self.get_team(&decode_uid(tid)),
                Method::PATCH => {
                    let tid = decode_uid(tid);
                    let body = read_object(session).await?;
                    self.patch_team(&tid, &body)
                }
                Method::DELETE => self.delete_team(&decode_uid(tid)),
                _ => Err(ApiError::method_not_allowed("GET, PATCH, DELETE")),
            },
            _ => Err(ApiError::new(StatusCode::NOT_FOUND, "not found")),
        }
    }

    fn list_teams(&self, head: &RequestHead) -> Result<Response<Vec<u8>>, ApiError> {
        let pairs = head.query_pairs();
        let window = Window::parse(&pairs)?;
        let title = first_param(&pairs, "title");
        let state = self.read();
        let render = |doc: &Map<String, Value>| Value::Object(doc.clone());
        let (teams, total) = match title {
            // The title index answers `?title=` without a scan.
            Some(title) => window.take(
                state
                    .title_owner(&title, None)
                    .and_then(|seq| state.teams.get(&seq))
                    .into_iter()
                    .map(render),
            ),
            None => (
                window.slice(state.teams.values().map(render)),
                state.teams.len() as u64,
            ),
        };
        drop(state);
        Ok(list_response("teams", teams, total))
    }

    fn get_team(&self, tid: &str) -> Result<Response<Vec<u8>>, ApiError> {
        let team = self
            .team(tid)
            .ok_or_else(|| ApiError::team_not_found(tid))?;
        Ok(json_response(StatusCode::OK, &team))
    }

    fn create_team(&self, body: &Map<String, Value>) -> Result<Response<Vec<u8>>, ApiError> {
        let title = validate_title(body, true)?.unwrap_or_default();
        let now = now_rfc3339();
        let mut state = self.write();
        if state.title_owner(&title, None).is_some() {
            return Err(title_taken());
        }
        let seq = state.last_team_seq + 1;
        let slug = state.unique_slug(&title, None);
        let doc = team_doc(seq, &title, slug, &now);
        state.insert_team(seq, doc.clone());
        drop(state);
        let mut resp = json_response(StatusCode::CREATED, &Value::Object(doc));
        if let Ok(location) = HeaderValue::from_str(&format!("{TEAMS}/{}", tid_of(seq))) {
            resp.headers_mut().insert(header::LOCATION, location);
        }
        Ok(resp)
    }

    fn patch_team(
        &self,
        tid: &str,
        body: &Map<String, Value>,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        let mut state = self.write();
        let seq = tid_seq(tid)
            .filter(|seq| state.teams.contains_key(seq))
            .ok_or_else(|| ApiError::team_not_found(tid))?;
        let title = validate_title(body, false)?;
        let renamed = match &title {
            Some(title) => {
                if state.title_owner(title, Some(seq)).is_some() {
                    return Err(title_taken());
                }
                Some((title.clone(), state.unique_slug(title, Some(seq))))
            }
            None => None,
        };
        let state = &mut *state;
        let Some(doc) = state.teams.get_mut(&seq) else {
            return Err(ApiError::team_not_found(tid));
        };
        if let Some((title, slug)) = renamed {
            if let Some(old) = doc.get("title").and_then(Value::as_str) {
                state.titles.remove(&old.to_lowercase());
            }
            if let Some(old) = doc.get("slug").and_then(Value::as_str) {
                state.slugs.remove(old);
            }
            state.titles.insert(title.to_lowercase(), seq);
            state.slugs.insert(slug.clone(), seq);
            doc.insert("title".into(), json!(title));
            doc.insert("slug".into(), json!(slug));
        }
        if let Some(Value::Object(meta)) = doc.get_mut("meta") {
            meta.insert("modified".into(), json!(now_rfc3339()));
        }
        Ok(json_response(StatusCode::OK, &Value::Object(doc.clone())))
    }

    fn delete_team(&self, tid: &str) -> Result<Response<Vec<u8>>, ApiError> {
        let removed = tid_seq(tid).is_some_and(|seq| self.write().remove_team(seq));
        if !removed {
            return Err(ApiError::team_not_found(tid));
        }
        Ok(empty_response(StatusCode::NO_CONTENT))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::super::tests::{create, running, uids, Running, TOKEN};
    use super::super::{Crewbase, PEOPLE, PERSON, TEAM, TEAMS, TOTAL_HEADER};
    use super::{slugify, tid_of, tid_seq, SeedTeamError};
    use crate::common::test_client::{Client, Reply};

    const NO_MEMBERS: &[&str] = &[];

    fn create_team(client: &Client, title: &str) -> Value {
        let reply = client.send("POST", TEAMS, &json!({ "title": title }));
        assert_eq!(reply.status, 201, "{:?}", reply.json);
        reply.json
    }

    fn tids(reply: &Reply) -> Vec<String> {
        reply.json["teams"]
            .as_array()
            .unwrap_or_else(|| panic!("no teams: {:?}", reply.json))
            .iter()
            .map(|t| t["tid"].as_str().unwrap().to_string())
            .collect()
    }

    fn set_teams(t: &Running, uid: &str, team_ids: Value) -> Reply {
        t.client.send(
            "PATCH",
            &format!("{PEOPLE}/{uid}"),
            &json!({ "team_ids": team_ids }),
        )
    }

    #[test]
    fn create_renders_a_team() {
        let t = running();
        let team = t.client.send(
            "POST",
            TEAMS,
            &json!({"tid": "t_99", "slug": "mine", "meta": {"created": "2000"},
                    "title": "Field Ops", "colour": "red"}),
        );
        assert_eq!(team.status, 201, "{:?}", team.json);
        assert_eq!(team.header("location"), Some("/v2/teams/t_01"));
        let team = team.json;
        assert_eq!(team["tid"], "t_01");
        assert_eq!(team["title"], "Field Ops");
        assert_eq!(team["slug"], "field-ops", "the slug is derived, not given");
        assert_eq!(team["meta"]["created"], team["meta"]["modified"]);
        assert_ne!(team["meta"]["created"], "2000");
        let keys: Vec<&str> = team
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(keys, ["tid", "title", "slug", "meta"]);
        assert_eq!(t.client.get("/v2/teams/t_01").json, team);
        let similar = create_team(&t.client, "field ops!");
        assert_eq!(similar["tid"], "t_02");
        assert_eq!(similar["slug"], "field-ops-2", "slugs are unique");
        assert_eq!(create_team(&t.client, "¡¿!")["slug"], "team");
        assert_eq!(
            create_team(&t.client, "Équipe  Nord")["slug"],
            "équipe-nord"
        );
    }

    #[test]
    fn create_refuses_taken_titles_and_bad_bodies() {
        let t = running();
        create_team(&t.client, "Field Ops");
        let taken = t.client.send("POST", TEAMS, &json!({"title": "FIELD OPS"}));
        assert_eq!(taken.status, 409);
        assert_eq!(
            taken.json,
            json!({"message": "title already exists", "code": 409})
        );
        for body in [
            r#"{}"#,
            r#"{"name": "Field"}"#,
            r#"{"title": null}"#,
            r#"{"title": ""}"#,
            r#"{"title": " "}"#,
            r#"{"title": 7}"#,
            r#"{"title": "x""#,
            r#"["title"]"#,
        ] {
            let reply = t.client.call("POST", TEAMS, Some(body));
            assert_eq!(reply.status, 400, "{body}: {:?}", reply.json);
            assert_eq!(reply.json["code"], 400, "{body}");
            assert!(reply.json["message"].is_string());
        }
        assert_eq!(t.api.team_count(), 1);
    }

    #[test]
    fn patch_renames_and_delete_removes() {
        let t = running();
        let before = create_team(&t.client, "Field Ops");
        create_team(&t.client, "Sales");
        let renamed = t.client.send(
            "PATCH",
            "/v2/teams/t_01",
            &json!({"title": "Field Service", "tid": "t_07", "slug": "x"}),
        );
        assert_eq!(renamed.status, 200, "{:?}", renamed.json);
        assert_eq!(renamed.json["tid"], "t_01");
        assert_eq!(renamed.json["title"], "Field Service");
        assert_eq!(
            renamed.json["slug"], "field-service",
            "the slug follows the title"
        );
        assert_eq!(renamed.json["meta"]["created"], before["meta"]["created"]);
        assert!(renamed.json["meta"]["modified"].as_str() >= before["meta"]["modified"].as_str());
        let recased = t.client.send(
            "PATCH",
            "/v2/teams/t_01",
            &json!({"title": "FIELD SERVICE"}),
        );
        assert_eq!(
            recased.status, 200,
            "a team may change the case of its own title"
        );
        assert_eq!(recased.json["slug"], "field-service");
        let taken = t
            .client
            .send("PATCH", "/v2/teams/t_01", &json!({"title": "sales"}));
        assert_eq!(taken.status, 409);
        for body in [r#"{"title": null}"#, r#"{"title": ""}"#, r#"{"title": "#] {
            let reply = t.client.call("PATCH", "/v2/teams/t_01", Some(body));
            assert_eq!(reply.status, 400, "{body}");
        }
        assert_eq!(t.api.team("t_01").unwrap()["title"], "FIELD SERVICE");
        create_team(&t.client, "Field Ops");

        let deleted = t.client.call("DELETE", "/v2/teams/t_01", None);
        assert_eq!(deleted.status, 204);
        assert_eq!(deleted.json, Value::Null, "no body");
        assert_eq!(t.client.get("/v2/teams/t_01").status, 404);
        assert_eq!(t.client.call("DELETE", "/v2/teams/t_01", None).status, 404);
        let again = create_team(&t.client, "Field Service");
        assert_eq!(again["tid"], "t_04", "tids are not reused");
        assert_eq!(again["slug"], "field-service");
    }

    #[test]
    fn unknown_and_odd_tids_are_404() {
        let t = running();
        create_team(&t.client, "Field Ops");
        let reply = t.client.get("/v2/teams/t_99");
        assert_eq!(reply.status, 404);
        assert_eq!(
            reply.json,
            json!({"message": "team t_99 not found", "code": 404})
        );
        for tid in ["t_1", "t_001", "T_01", "01", "t_+1", "..%2Ft_01", "p_0001"] {
            let path = format!("{TEAMS}/{tid}");
            for (method, body) in [
                ("GET", None),
                ("PATCH", Some(r#"{"title": "x"}"#)),
                ("DELETE", None),
            ] {
                let reply = t.client.call(method, &path, body);
                assert_eq!(reply.status, 404, "{method} {path}");
                assert_eq!(reply.json["code"], 404);
            }
        }
        assert_eq!(t.client.get("/v2/teams/t_%301").status, 200, "%30 is 0");
        for path in [
            "/v2/teams/t_01/members",
            "/v2/teamz",
            "/v2/teams/t_01/people",
        ] {
            assert_eq!(t.client.get(path).status, 404, "{path}");
        }
        assert_eq!(t.api.team("t_01").unwrap()["title"], "Field Ops");
    }

    #[test]
    fn teams_are_listed_by_offset_with_the_total_in_a_header() {
        let t = running();
        for i in 1..=60 {
            t.api.seed_team(&format!("Team {i}"), NO_MEMBERS).unwrap();
        }
        let expect = |from: u64, to: u64| -> Vec<String> { (from..=to).map(tid_of).collect() };
        let first = t.client.get(TEAMS);
        assert_eq!(first.status, 200);
        assert_eq!(first.header(TOTAL_HEADER), Some("60"));
        assert_eq!(tids(&first), expect(1, 20));
        assert_eq!(
            first.json.as_object().unwrap().len(),
            1,
            "only `teams` in the body"
        );
        assert_eq!(first.json["teams"][0], t.api.team("t_01").unwrap());
        assert_eq!(
            tids(&t.client.get("/v2/teams?offset=45&limit=10")),
            expect(46, 55)
        );
        assert_eq!(
            tids(&t.client.get("/v2/teams?limit=80")),
            expect(1, 50),
            "limit capped at 50"
        );
        let none = t.client.get("/v2/teams?limit=0");
        assert!(tids(&none).is_empty());
        assert_eq!(none.header(TOTAL_HEADER), Some("60"));
        let past = t.client.get("/v2/teams?offset=60");
        assert!(tids(&past).is_empty());
        for query in ["offset=-1", "offset=x", "limit=-5", "limit=ten"] {
            let reply = t.client.get(&format!("{TEAMS}?{query}"));
            assert_eq!(reply.status, 400, "{query}");
            assert_eq!(reply.json["code"], 400);
        }
        let by_title = |query: &str| -> Vec<String> {
            let reply = t.client.get(&format!("{TEAMS}?{query}"));
            assert_eq!(reply.status, 200, "{query}");
            let total: usize = reply.header(TOTAL_HEADER).unwrap().parse().unwrap();
            assert_eq!(total, tids(&reply).len(), "{query}");
            tids(&reply)
        };
        assert_eq!(
            by_title("title=team%2012"),
            ["t_12"],
            "titles match case-insensitively"
        );
        assert_eq!(by_title("title=Team+1"), ["t_01"], "and exactly");
        assert_eq!(by_title("title=Team"), Vec::<String>::new());
        let offset_total = t.client.get("/v2/teams?title=Team%2012&offset=1");
        assert!(
            tids(&offset_total).is_empty(),
            "filters and offsets combine"
        );
        assert_eq!(offset_total.header(TOTAL_HEADER), Some("1"));
    }

    #[test]
    fn team_ids_are_written_with_the_persons_patch() {
        let t = running();
        t.api.seed(2);
        create_team(&t.client, "Field Ops");
        create_team(&t.client, "Sales");
        let reply = set_teams(&t, "p_0001", json!(["t_02", "t_01", "t_02"]));
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        assert_eq!(
            reply.json["team_ids"],
            json!(["t_02", "t_01"]),
            "each tid once, in order"
        );
        assert_eq!(reply.json["meta"]["version"], 2);
        let replaced = set_teams(&t, "p_0001", json!(["t_01"]));
        assert_eq!(
            replaced.json["team_ids"],
            json!(["t_01"]),
            "the list is replaced"
        );
        assert_eq!(t.api.member_uids("t_02"), Some(vec![]));
        assert_eq!(t.api.member_uids("t_01"), Some(vec!["p_0001".to_string()]));

        let unknown = set_teams(&t, "p_0001", json!(["t_02", "t_99"]));
        assert_eq!(unknown.status, 400);
        assert_eq!(
            unknown.json,
            json!({"message": "unknown team t_99", "code": 400})
        );
        for team_ids in [
            json!("t_01"),
            json!([1]),
            json!([null]),
            json!({"t_01": true}),
            json!(["t_1"]),
        ] {
            let reply = set_teams(&t, "p_0001", team_ids.clone());
            assert_eq!(reply.status, 400, "{team_ids}");
            assert_eq!(reply.json["code"], 400);
        }
        assert_eq!(
            t.api.person("p_0001").unwrap(),
            replaced.json,
            "refused writes change nothing"
        );
        let other = t
            .client
            .send("PATCH", "/v2/people/p_0001", &json!({"position": "Lead"}));
        assert_eq!(
            other.json["team_ids"],
            json!(["t_01"]),
            "absent team_ids are kept"
        );
        let cleared = set_teams(&t, "p_0001", Value::Null);
        assert_eq!(cleared.json["team_ids"], json!([]));
        assert_eq!(t.api.member_uids("t_01"), Some(vec![]));

        let born = create(&t.client, json!({"username": "ada", "team_ids": ["t_02"]}));
        assert_eq!(
            born["team_ids"],
            json!(["t_02"]),
            "a new person may come with teams"
        );
        let refused = t.client.send(
            "POST",
            PEOPLE,
            &json!({"username": "grace", "team_ids": ["t_03"]}),
        );
        assert_eq!(
            refused.json,
            json!({"message": "unknown team t_03", "code": 400})
        );
        assert_eq!(t.api.person_count(), 3);
        assert_eq!(t.api.member_uids("t_02"), Some(vec!["p_0003".to_string()]));
    }

    #[test]
    fn people_are_listed_by_team() {
        let t = running();
        let people = t.api.seed(60);
        let members: Vec<&String> = people.iter().skip(5).take(55).collect();
        assert_eq!(
            t.api.seed_team("Field Ops", &members),
            Ok("t_01".to_string())
        );
        create_team(&t.client, "Empty");
        let first = t.client.get("/v2/people?team=t_01");
        assert_eq!(first.status, 200);
        assert_eq!(first.header(TOTAL_HEADER), Some("55"));
        let expect = |from: usize, to: usize| -> Vec<String> {
            members[from..to].iter().map(|s| s.to_string()).collect()
        };
        assert_eq!(uids(&first), expect(0, 20));
        assert_eq!(first.json["people"][0]["team_ids"], json!(["t_01"]));
        let page = t.client.get("/v2/people?team=t_01&offset=40&limit=10");
        assert_eq!(uids(&page), expect(40, 50));
        assert_eq!(page.header(TOTAL_HEADER), Some("55"));
        let capped = t.client.get("/v2/people?team=t_01&limit=500");
        assert_eq!(
            uids(&capped),
            expect(0, 50),
            "a limit above 50 is served as 50"
        );
        let with_username = t.client.get("/v2/people?team=t_01&username=SEED.PERSON12");
        assert_eq!(uids(&with_username), ["p_0012"]);
        let not_member = t.client.get("/v2/people?team=t_01&username=seed.person1");
        assert!(uids(&not_member).is_empty());
        assert_eq!(not_member.header(TOTAL_HEADER), Some("0"));
        for tid in ["t_02", "t_99", "t_1", "nope"] {
            let reply = t.client.get(&format!("/v2/people?team={tid}"));
            assert_eq!(reply.status, 200, "{tid}");
            assert!(uids(&reply).is_empty(), "{tid}");
            assert_eq!(reply.header(TOTAL_HEADER), Some("0"), "{tid}");
        }
        // The list follows the people's own team_ids.
        set_teams(&t, "p_0011", json!([]));
        set_teams(&t, "p_0001", json!(["t_02", "t_01"]));
        let now = t.client.get("/v2/people?team=t_01&limit=2");
        assert_eq!(uids(&now), ["p_0001", "p_0006"]);
        let around = t.client.get("/v2/people?team=t_01&offset=4&limit=3");
        assert_eq!(uids(&around), ["p_0009", "p_0010", "p_0012"], "p_0011 left");
        assert_eq!(now.header(TOTAL_HEADER), Some("55"));
        assert_eq!(uids(&t.client.get("/v2/people?team=t_02")), ["p_0001"]);
    }

    #[test]
    fn deleting_a_team_removes_it_from_every_person() {
        let t = running();
        let people = t.api.seed(4);
        t.api.seed_team("Field Ops", &people[..3]).unwrap();
        t.api.seed_team("Sales", &people[1..2]).unwrap();
        let before = t.api.person("p_0002").unwrap();
        assert_eq!(before["team_ids"], json!(["t_01", "t_02"]));
        assert_eq!(before["meta"]["version"], 1, "seeding is not a change");
        assert_eq!(t.client.call("DELETE", "/v2/teams/t_01", None).status, 204);
        let after = t.api.person("p_0002").unwrap();
        assert_eq!(after["team_ids"], json!(["t_02"]), "other teams stay");
        assert_eq!(after["meta"]["version"], 2, "losing a team is a change");
        assert_eq!(t.api.person("p_0001").unwrap()["team_ids"], json!([]));
        assert_eq!(
            t.api.person("p_0004").unwrap()["meta"]["version"],
            1,
            "non-members untouched"
        );
        assert_eq!(t.api.member_uids("t_01"), None);
        let listed = t.client.get("/v2/people?team=t_01");
        assert!(uids(&listed).is_empty());
        let stale = set_teams(&t, "p_0001", json!(["t_01"]));
        assert_eq!(
            stale.json,
            json!({"message": "unknown team t_01", "code": 400})
        );
        assert_eq!(t.api.person_count(), 4, "people stay");
    }

    #[test]
    fn team_routes_need_auth_allow_their_methods_and_are_counted() {
        let t = running();
        create_team(&t.client, "Field Ops");
        let anonymous = t.client.with_auth(None);
        for (method, path) in [
            ("GET", TEAMS),
            ("POST", TEAMS),
            ("DELETE", "/v2/teams/t_01"),
        ] {
            let reply = anonymous.call(method, path, Some(r#"{"title": "x"}"#));
            assert_eq!(reply.status, 401, "{method} {path}");
        }
        assert_eq!(t.api.team_count(), 1);
        for (method, path, allow) in [
            ("PUT", TEAMS, "GET, POST"),
            ("DELETE", TEAMS, "GET, POST"),
            ("PUT", "/v2/teams/t_01", "GET, PATCH, DELETE"),
            ("POST", "/v2/teams/t_01", "GET, PATCH, DELETE"),
        ] {
            let reply = t.client.call(method, path, Some(r#"{"title": "x"}"#));
            assert_eq!(reply.status, 405, "{method} {path}");
            assert_eq!(
                reply.json,
                json!({"message": "method not allowed", "code": 405})
            );
            assert_eq!(reply.header("allow"), Some(allow));
        }
        t.api.requests().reset();
        t.client.get(TEAMS);
        t.client.get("/v2/teams/t_01");
        t.client
            .send("PATCH", "/v2/teams/t_01", &json!({"title": "Field"}));
        t.client.send("POST", TEAMS, &json!({"title": "Sales"}));
        t.client.call("DELETE", "/v2/teams/t_02", None);
        t.client.get("/v2/people?team=t_01");
        t.client
            .send("PATCH", "/v2/people/p_0001", &json!({"team_ids": []}));
        let counts = t.api.requests();
        assert_eq!(t.api.request_count(), 7);
        assert_eq!(counts.get("GET", TEAMS), 1);
        assert_eq!(counts.get("POST", TEAMS), 1);
        assert_eq!(counts.get("GET", TEAM), 1);
        assert_eq!(counts.get("PATCH", TEAM), 1);
        assert_eq!(counts.get("DELETE", TEAM), 1);
        assert_eq!(counts.get("GET", PEOPLE), 1);
        assert_eq!(counts.get("PATCH", PERSON), 1);
    }

    #[test]
    fn seed_team_checks_its_input() {
        let api = Crewbase::new(TOKEN);
        let people = api.seed(3);
        assert_eq!(
            api.seed_team("Field Ops", &people[1..]),
            Ok("t_01".to_string())
        );
        assert_eq!(
            api.member_uids("t_01"),
            Some(vec!["p_0002".into(), "p_0003".into()])
        );
        assert_eq!(
            api.seed_team("field ops", NO_MEMBERS),
            Err(SeedTeamError::TitleTaken("field ops".into()))
        );
        assert_eq!(
            api.seed_team("Sales", &["p_0001", "p_0009"]),
            Err(SeedTeamError::UnknownPerson("p_0009".into()))
        );
        assert_eq!(
            api.seed_team("", NO_MEMBERS),
            Err(SeedTeamError::EmptyTitle)
        );
        assert_eq!(api.team_count(), 1, "refused seeds add nothing");
        assert_eq!(api.person("p_0001").unwrap()["team_ids"], json!([]));
        assert_eq!(
            api.seed_team("Sales", &["p_0001", "p_0001"]),
            Ok("t_02".to_string())
        );
        assert_eq!(api.person("p_0001").unwrap()["team_ids"], json!(["t_02"]));
    }

    #[test]
    fn tids_round_trip_and_slugs() {
        assert_eq!(tid_of(1), "t_01");
        assert_eq!(tid_of(123), "t_123");
        assert_eq!(tid_seq("t_01"), Some(1));
        assert_eq!(tid_seq("t_123"), Some(123));
        for odd in ["t_1", "t_001", "t_+1", "T_01", "p_01", "t_"] {
            assert_eq!(tid_seq(odd), None, "{odd}");
        }
        assert_eq!(slugify("  Field -- Ops 2 "), "field-ops-2");
        assert_eq!(slugify("R&D"), "r-d");
        assert_eq!(slugify("---"), "team");
    }
}
