//! "Crewbase", an example legacy user API shaped unlike Acme HR: string ids (`p_0001`), one
//! `full_name`, a boolean `is_active` changed only through dedicated endpoints, phones as a list
//! of `{kind, number}`, a nested `hr` object, offset/limit pagination with the total in an
//! `X-Total-Count` header, bearer-token auth, partial updates with PATCH and no PUT or DELETE,
//! and errors shaped `{"message", "code"}`. It is what `mappings/crewbase.yaml` describes; it
//! knows nothing of SCIM.
//!
//! | endpoint | answer |
//! | --- | --- |
//! | `GET /v2/people?offset=&limit=&username=&ext_id=&team=` | 200 `{"people": [...]}`, `X-Total-Count` |
//! | `GET /v2/people/{uid}` | 200 the person |
//! | `POST /v2/people` | 201 the person (and `Location`) |
//! | `PATCH /v2/people/{uid}` | 200; given keys change, `null` clears, `hr` merges, `phones` and `team_ids` replace |
//! | `POST /v2/people/{uid}/deactivate`, `/activate` | 200 the person |
//! | `GET /v2/teams?offset=&limit=&title=` | 200 `{"teams": [...]}`, `X-Total-Count` |
//! | `GET /v2/teams/{tid}` | 200 the team |
//! | `POST /v2/teams` | 201 the team (and `Location`) |
//! | `PATCH /v2/teams/{tid}` | 200 the team |
//! | `DELETE /v2/teams/{tid}` | 204; the tid leaves every person's `team_ids` |
//!
//! Membership is held on the person: `team_ids` (`["t_01", …]`, default `[]`) is written with
//! the person's PATCH, which replaces the whole list (an unknown tid is a 400), and a team's
//! members are listed with `GET /v2/people?team={tid}`. Every person has `meta.version`, 1 at
//! creation and +1 per accepted write; a PATCH with `If-Match: <version>` (quoted or not, or
//! `*`) that does not match the current version is refused with 412 and changes nothing;
//! without `If-Match` the last write wins. Teams are in `crewbase/teams.rs`.
//!
//! A `limit` above [`MAX_LIMIT`] is served as [`MAX_LIMIT`] (like many real APIs, silently).
//! People are kept in memory in creation order; the value is a cheap handle ([`Clone`]) on
//! shared state, so a test keeps one while pingora owns another.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use http::{header, HeaderValue, Method, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::{json, Map, Value};

use super::common::{
    decode_segment, empty_response, json_response, now_rfc3339, read_body, secret_matches,
    segments_under, serve_alone, version_matches, with_allow, BodyError, RequestCounts,
    RequestHead, NO_ROUTE,
};
use scim_gateway_hosting::{RunningServer, StartError};

mod teams;

pub use teams::SeedTeamError;

/// Path pattern of the people collection (also the key of its request counts).
pub const PEOPLE: &str = "/v2/people";
/// Path pattern of one person.
pub const PERSON: &str = "/v2/people/{uid}";
/// Path pattern of the deactivation endpoint.
pub const DEACTIVATE: &str = "/v2/people/{uid}/deactivate";
/// Path pattern of the activation endpoint.
pub const ACTIVATE: &str = "/v2/people/{uid}/activate";
/// Path pattern of the teams collection.
pub const TEAMS: &str = "/v2/teams";
/// Path pattern of one team.
pub const TEAM: &str = "/v2/teams/{tid}";
/// The response header that carries the total of a list.
pub const TOTAL_HEADER: &str = "X-Total-Count";
/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: u64 = 20;
/// The largest page served; a larger `limit` is lowered to it.
pub const MAX_LIMIT: u64 = 50;
/// The phone kinds Crewbase knows.
pub const PHONE_KINDS: &[&str] = &["cell", "desk", "home", "fax", "other"];

/// The example API "Crewbase". Cloning gives another handle on the same people and counters.
#[derive(Clone)]
pub struct Crewbase {
    inner: Arc<Inner>,
}

struct Inner {
    token: String,
    state: RwLock<State>,
    counts: RequestCounts,
}

#[derive(Default)]
struct State {
    /// People by sequence number (the digits of their uid), each the full JSON document.
    people: BTreeMap<u64, Map<String, Value>>,
    /// Lower-cased username → sequence number.
    usernames: HashMap<String, u64>,
    /// The sequence number of the last person created (never reused).
    last_seq: u64,
    /// Teams by sequence number (the digits of their tid), each the full JSON document.
    teams: BTreeMap<u64, Map<String, Value>>,
    /// Lower-cased title → team sequence number.
    titles: HashMap<String, u64>,
    /// Slug → team sequence number.
    slugs: HashMap<String, u64>,
    /// Team sequence number → the people whose `team_ids` hold it (no empty sets).
    members: HashMap<u64, BTreeSet<u64>>,
    /// The sequence number of the last team created (never reused).
    last_team_seq: u64,
}

/// The uid of sequence number `seq`: `p_0001`, …, `p_9999`, `p_10000`, …
fn uid_of(seq: u64) -> String {
    format!("p_{seq:04}")
}

/// The sequence number of `uid`, if it is exactly a uid this API hands out.
fn seq_of(uid: &str) -> Option<u64> {
    let seq = uid.strip_prefix("p_")?.parse::<u64>().ok()?;
    (uid_of(seq) == uid).then_some(seq)
}

impl Crewbase {
    /// An empty Crewbase that accepts requests carrying `Authorization: Bearer {bearer_token}`.
    pub fn new(bearer_token: impl Into<String>) -> Self {
        Crewbase {
            inner: Arc::new(Inner {
                token: bearer_token.into(),
                state: RwLock::new(State::default()),
                counts: RequestCounts::default(),
            }),
        }
    }

    /// Serves this API on `addr` (one worker thread) until the returned handle is dropped.
    pub fn serve(&self, addr: SocketAddr) -> Result<RunningServer, StartError> {
        serve_alone("crewbase", addr, self.clone())
    }

    /// Adds `n` active people with every field filled (usernames `seed.person{seq}`), without
    /// going through HTTP, and returns their uids.
    pub fn seed(&self, n: usize) -> Vec<String> {
        let now = now_rfc3339();
        let mut state = self.write();
        let mut uids = Vec::with_capacity(n);
        for _ in 0..n {
            let seq = state.last_seq + 1;
            let mut username = format!("seed.person{seq}");
            let mut k = 1;
            while state.usernames.contains_key(&username) {
                k += 1;
                username = format!("seed.person{seq}-{k}");
            }
            let fields = json!({
                "username": username,
                "ext_id": format!("seed-{seq}"),
                "full_name": format!("Seed Person{seq}"),
                "position": "Technician",
                "work_email": format!("{username}@example.com"),
                "phones": [
                    {"kind": "cell", "number": format!("+1 555 01{:02}", seq % 100)},
                    {"kind": "desk", "number": format!("+1 555 02{:02}", seq % 100)},
                ],
                "hr": {"badge": 1000 + seq, "team": "Field"},
            });
            if let Value::Object(fields) = fields {
                state.insert(seq, &fields, &now);
            }
            uids.push(uid_of(seq));
        }
        uids
    }

    /// The request counters (total and per endpoint, e.g. `("POST", DEACTIVATE)`).
    pub fn requests(&self) -> &RequestCounts {
        &self.inner.counts
    }

    /// How many requests this API received, whatever their outcome.
    pub fn request_count(&self) -> u64 {
        self.inner.counts.total()
    }

    /// How many people exist.
    pub fn person_count(&self) -> usize {
        self.read().people.len()
    }

    /// One person as `GET /v2/people/{uid}` would render them.
    pub fn person(&self, uid: &str) -> Option<Value> {
        let seq = seq_of(uid)?;
        self.read().people.get(&seq).cloned().map(Value::Object)
    }

    /// Changes the given fields of person `uid` as the product's own screens would (the same
    /// rules as `PATCH /v2/people/{uid}`, version +1): a change the gateway did not make.
    pub fn edit_person(&self, uid: &str, changes: &Map<String, Value>) -> bool {
        self.patch(uid, changes, None).is_ok()
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// Stores a new person built from validated `fields` and returns the document.
    fn insert(&mut self, seq: u64, fields: &Map<String, Value>, now: &str) {
        let mut doc = Map::new();
        doc.insert("uid".into(), json!(uid_of(seq)));
        for key in ["username", "ext_id", "full_name", "position"] {
            doc.insert(key.into(), fields.get(key).cloned().unwrap_or(Value::Null));
        }
        let active = fields.get("is_active").and_then(Value::as_bool);
        doc.insert("is_active".into(), json!(active.unwrap_or(true)));
        doc.insert(
            "work_email".into(),
            fields.get("work_email").cloned().unwrap_or(Value::Null),
        );
        let phones = match fields.get("phones") {
            Some(Value::Array(list)) => Value::Array(list.clone()),
            _ => json!([]),
        };
        doc.insert("phones".into(), phones);
        let hr = match fields.get("hr") {
            Some(Value::Object(given)) => merge_hr(None, given),
            _ => merge_hr(None, &Map::new()),
        };
        doc.insert("hr".into(), hr);
        let team_ids = match fields.get("team_ids") {
            Some(Value::Array(list)) => Value::Array(list.clone()),
            _ => json!([]),
        };
        doc.insert("team_ids".into(), team_ids);
        doc.insert(
            "meta".into(),
            json!({"created": now, "modified": now, "version": 1}),
        );
        if let Some(username) = doc.get("username").and_then(Value::as_str) {
            self.usernames.insert(username.to_lowercase(), seq);
        }
        self.relink(seq, &[], &team_seqs(&doc));
        self.people.insert(seq, doc);
        self.last_seq = self.last_seq.max(seq);
    }

    /// The person whose username is `username` (case-insensitively), other than `except`.
    fn username_owner(&self, username: &str, except: Option<u64>) -> Option<u64> {
        self.usernames
            .get(&username.to_lowercase())
            .copied()
            .filter(|seq| Some(*seq) != except)
    }

    /// Replaces person `seq` with `doc`, keeping the username and team indexes right.
    fn replace(&mut self, seq: u64, doc: Map<String, Value>) {
        let mut old_teams = Vec::new();
        if let Some(old) = self.people.get(&seq) {
            if let Some(username) = old.get("username").and_then(Value::as_str) {
                self.usernames.remove(&username.to_lowercase());
            }
            old_teams = team_seqs(old);
        }
        if let Some(username) = doc.get("username").and_then(Value::as_str) {
            self.usernames.insert(username.to_lowercase(), seq);
        }
        self.relink(seq, &old_teams, &team_seqs(&doc));
        self.people.insert(seq, doc);
    }
}

/// An `hr` object with both keys: those in `given`, else those in `base`, else null.
fn merge_hr(base: Option<&Map<String, Value>>, given: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for key in ["badge", "team"] {
        let value = given
            .get(key)
            .or_else(|| base.and_then(|b| b.get(key)))
            .cloned()
            .unwrap_or(Value::Null);
        out.insert(key.into(), value);
    }
    Value::Object(out)
}

/// An error answered as `{"message", "code"}`, the code repeating the HTTP status.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    allow: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            allow: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    fn person_not_found(uid: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("person {uid} not found"))
    }

    fn method_not_allowed(allow: &'static str) -> Self {
        ApiError {
            allow: Some(allow),
            ..Self::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
    }

    fn into_response(self) -> Response<Vec<u8>> {
        let body = json!({"message": self.message, "code": self.status.as_u16()});
        let mut resp = json_response(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"crewbase\""),
            );
        }
        match self.allow {
            Some(allow) => with_allow(resp, allow),
            None => resp,
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => Self::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
            _ => Self::bad_request(e.to_string()),
        }
    }
}

/// Where a request goes, decided on the raw path. Uid and tid segments are still
/// percent-encoded.
enum Route<'a> {
    People,
    Person(&'a str),
    Deactivate(&'a str),
    Activate(&'a str),
    Teams,
    Team(&'a str),
    None,
}

impl<'a> Route<'a> {
    fn of(path: &'a str) -> Self {
        if let Some(segments) = segments_under(path, PEOPLE) {
            return match segments.as_slice() {
                [] => Route::People,
                [uid] => Route::Person(uid),
                [uid, "deactivate"] => Route::Deactivate(uid),
                [uid, "activate"] => Route::Activate(uid),
                _ => Route::None,
            };
        }
        match segments_under(path, TEAMS).as_deref() {
            Some([]) => Route::Teams,
            Some([tid]) => Route::Team(tid),
            _ => Route::None,
        }
    }

    fn pattern(&self) -> &'static str {
        match self {
            Route::People => PEOPLE,
            Route::Person(_) => PERSON,
            Route::Deactivate(_) => DEACTIVATE,
            Route::Activate(_) => ACTIVATE,
            Route::Teams => TEAMS,
            Route::Team(_) => TEAM,
            Route::None => NO_ROUTE,
        }
    }
}

/// Whether a write creates a person or changes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteMode {
    Create,
    Patch,
}

#[async_trait]
impl ServeHttp for Crewbase {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let head = RequestHead::of(session);
        let route = Route::of(&head.path);
        if self.inner.counts.arrive(&head, route.pattern()).await {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Crewbase is temporarily unavailable",
            )
            .into_response();
        }
        match self.handle(&head, route, session).await {
            Ok(resp) => resp,
            Err(e) => e.into_response(),
        }
    }
}

impl Crewbase {
    async fn handle(
        &self,
        head: &RequestHead,
        route: Route<'_>,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        self.authenticate(head)?;
        let method = &head.method;
        match route {
            Route::People => match *method {
                Method::GET => self.list(head),
                Method::POST => {
                    let body = read_object(session).await?;
                    self.create(&body)
                }
                _ => Err(ApiError::method_not_allowed("GET, POST")),
            },
            Route::Person(uid) => match *method {
                Method::GET => self.get(&decode_uid(uid)),
                Method::PATCH => {
                    let uid = decode_uid(uid);
                    let body = read_object(session).await?;
                    self.patch(&uid, &body, head.header("if-match"))
                }
                _ => Err(ApiError::method_not_allowed("GET, PATCH")),
            },
            Route::Deactivate(uid) | Route::Activate(uid) => match *method {
                Method::POST => {
                    let active = matches!(route, Route::Activate(_));
                    self.set_active(&decode_uid(uid), active)
                }
                _ => Err(ApiError::method_not_allowed("POST")),
            },
            Route::Teams | Route::Team(_) => self.handle_teams(head, route, session).await,
            Route::None => Err(ApiError::new(StatusCode::NOT_FOUND, "not found")),
        }
    }

    fn authenticate(&self, head: &RequestHead) -> Result<(), ApiError> {
        let token = head.header("authorization").and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then_some(token.trim())
        });
        match token {
            Some(t) if secret_matches(t, &self.inner.token) => Ok(()),
            _ => Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized")),
        }
    }

    fn list(&self, head: &RequestHead) -> Result<Response<Vec<u8>>, ApiError> {
        let query = ListQuery::parse(&head.query_pairs())?;
        let window = query.window;
        let state = self.read();
        let render = |p: &Map<String, Value>| Value::Object(p.clone());
        let (people, total) = if query.is_unfiltered() {
            // Without filters the count is known and no person needs to be matched.
            let page = window.slice(state.people.values().map(render));
            (page, state.people.len() as u64)
        } else {
            let candidates: Box<dyn Iterator<Item = &Map<String, Value>>> =
                match (&query.username, &query.team) {
                    // The username index answers `?username=` without a scan.
                    (Some(username), _) => Box::new(
                        state
                            .username_owner(username, None)
                            .and_then(|seq| state.people.get(&seq))
                            .into_iter(),
                    ),
                    // The team index answers `?team=` with the members only.
                    (None, Some(tid)) => Box::new(
                        teams::tid_seq(tid)
                            .and_then(|t| state.members.get(&t))
                            .into_iter()
                            .flatten()
                            .filter_map(|seq| state.people.get(seq)),
                    ),
                    (None, None) => Box::new(state.people.values()),
                };
            window.take(candidates.filter(|p| query.matches(p)).map(render))
        };
        drop(state);
        Ok(list_response("people", people, total))
    }

    fn get(&self, uid: &str) -> Result<Response<Vec<u8>>, ApiError> {
        let state = self.read();
        let person = seq_of(uid)
            .and_then(|seq| state.people.get(&seq))
            .ok_or_else(|| ApiError::person_not_found(uid))?;
        Ok(json_response(
            StatusCode::OK,
            &Value::Object(person.clone()),
        ))
    }

    fn create(&self, body: &Map<String, Value>) -> Result<Response<Vec<u8>>, ApiError> {
        let fields = validate(body, WriteMode::Create)?;
        let username = fields.get("username").and_then(Value::as_str).unwrap_or("");
        let now = now_rfc3339();
        let mut state = self.write();
        if state.username_owner(username, None).is_some() {
            return Err(username_taken());
        }
        state.check_team_ids(fields.get("team_ids"))?;
        let seq = state.last_seq + 1;
        state.insert(seq, &fields, &now);
        let doc = state.people.get(&seq).cloned().unwrap_or_default();
        drop(state);
        let mut resp = json_response(StatusCode::CREATED, &Value::Object(doc));
        if let Ok(location) = HeaderValue::from_str(&format!("{PEOPLE}/{}", uid_of(seq))) {
            resp.headers_mut().insert(header::LOCATION, location);
        }
        Ok(resp)
    }

    /// A partial update; `if_match` is the `If-Match` header, if any.
    fn patch(
        &self,
        uid: &str,
        body: &Map<String, Value>,
        if_match: Option<&str>,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        let mut state = self.write();
        let (seq, current) = seq_of(uid)
            .and_then(|seq| state.people.get(&seq).map(|p| (seq, p)))
            .ok_or_else(|| ApiError::person_not_found(uid))?;
        if let Some(tags) = if_match {
            if !version_matches(tags, version_of(current)) {
                return Err(ApiError::new(
                    StatusCode::PRECONDITION_FAILED,
                    "version mismatch",
                ));
            }
        }
        let fields = validate(body, WriteMode::Patch)?;
        if let Some(username) = fields.get("username").and_then(Value::as_str) {
            if state.username_owner(username, Some(seq)).is_some() {
                return Err(username_taken());
            }
        }
        state.check_team_ids(fields.get("team_ids"))?;
        let mut doc = current.clone();
        for (name, value) in &fields {
            let merged = match (name.as_str(), value) {
                ("hr", Value::Object(given)) => {
                    let old = doc.get("hr").and_then(Value::as_object);
                    merge_hr(old, given)
                }
                ("hr", _) => merge_hr(None, &Map::new()),
                ("phones" | "team_ids", Value::Null) => json!([]),
                _ => value.clone(),
            };
            doc.insert(name.clone(), merged);
        }
        touch(&mut doc);
        state.replace(seq, doc.clone());
        drop(state);
        Ok(json_response(StatusCode::OK, &Value::Object(doc)))
    }

    fn set_active(&self, uid: &str, active: bool) -> Result<Response<Vec<u8>>, ApiError> {
        let mut state = self.write();
        let person = seq_of(uid)
            .and_then(|seq| state.people.get_mut(&seq))
            .ok_or_else(|| ApiError::person_not_found(uid))?;
        if person.get("is_active").and_then(Value::as_bool) != Some(active) {
            person.insert("is_active".into(), json!(active));
            touch(person);
        }
        let doc = person.clone();
        drop(state);
        Ok(json_response(StatusCode::OK, &Value::Object(doc)))
    }
}

/// Records a change: `meta.modified` becomes now and `meta.version` goes up by one.
fn touch(doc: &mut Map<String, Value>) {
    let version = version_of(doc) + 1;
    if let Some(Value::Object(meta)) = doc.get_mut("meta") {
        meta.insert("modified".into(), json!(now_rfc3339()));
        meta.insert("version".into(), json!(version));
    }
}

/// A person's `meta.version`.
fn version_of(doc: &Map<String, Value>) -> u64 {
    doc.get("meta")
        .and_then(|m| m.get("version"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// The team sequence numbers in a person's `team_ids`.
fn team_seqs(doc: &Map<String, Value>) -> Vec<u64> {
    doc.get("team_ids")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tid| tid.as_str().and_then(teams::tid_seq))
        .collect()
}

/// A list answer: `{"{key}": [...]}` with the total in [`TOTAL_HEADER`].
fn list_response(key: &str, items: Vec<Value>, total: u64) -> Response<Vec<u8>> {
    let mut body = Map::new();
    body.insert(key.into(), Value::Array(items));
    let mut resp = json_response(StatusCode::OK, &Value::Object(body));
    resp.headers_mut()
        .insert(TOTAL_HEADER, HeaderValue::from(total));
    resp
}

fn username_taken() -> ApiError {
    ApiError::new(StatusCode::CONFLICT, "username already exists")
}

/// The uid in a path segment, percent-decoded (an undecodable segment is kept as received; it
/// names no person either way).
fn decode_uid(segment: &str) -> String {
    decode_segment(segment).unwrap_or_else(|| segment.to_string())
}

/// Reads the body as a JSON object: 400 for anything else.
async fn read_object(session: &mut ServerSession) -> Result<Map<String, Value>, ApiError> {
    let bytes = read_body(session).await?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request("body must be a JSON object")),
        Err(e) => Err(ApiError::bad_request(format!("malformed JSON: {e}"))),
    }
}

/// Checks the known fields of a request body and returns them. Unknown fields, `uid` and
/// `meta` are ignored; `is_active` is accepted on create only.
fn validate(body: &Map<String, Value>, mode: WriteMode) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for (name, value) in body {
        let valid = match (name.as_str(), value) {
            ("username", Value::String(s)) if !s.trim().is_empty() => value.clone(),
            ("username", Value::Null) if mode == WriteMode::Create => continue,
            ("username", _) => {
                return Err(ApiError::bad_request("username must be a non-empty string"))
            }
            (
                "ext_id" | "full_name" | "position" | "work_email",
                Value::String(_) | Value::Null,
            ) => value.clone(),
            ("ext_id" | "full_name" | "position" | "work_email", _) => {
                return Err(ApiError::bad_request(format!("{name} must be a string")))
            }
            ("is_active", Value::Bool(_)) if mode == WriteMode::Create => value.clone(),
            ("is_active", _) if mode == WriteMode::Create => {
                return Err(ApiError::bad_request("is_active must be a boolean"))
            }
            ("is_active", _) => {
                return Err(ApiError::bad_request(
                    "is_active is read-only; use POST /v2/people/{uid}/activate or /deactivate",
                ))
            }
            ("phones", Value::Null) => Value::Null,
            ("phones", Value::Array(list)) => Value::Array(validate_phones(list)?),
            ("phones", _) => return Err(ApiError::bad_request("phones must be a list")),
            ("hr", Value::Null) => Value::Null,
            ("hr", Value::Object(given)) => Value::Object(validate_hr(given)?),
            ("hr", _) => return Err(ApiError::bad_request("hr must be an object")),
            ("team_ids", Value::Null) => Value::Null,
            ("team_ids", Value::Array(list)) => Value::Array(validate_team_ids(list)?),
            ("team_ids", _) => {
                return Err(ApiError::bad_request("team_ids must be a list of team ids"))
            }
            _ => continue,
        };
        out.insert(name.clone(), valid);
    }
    if mode == WriteMode::Create && !out.contains_key("username") {
        return Err(ApiError::bad_request("username is required"));
    }
    Ok(out)
}

fn validate_phones(list: &[Value]) -> Result<Vec<Value>, ApiError> {
    list.iter()
        .enumerate()
        .map(|(i, phone)| {
            let kind = phone.get("kind").and_then(Value::as_str);
            let number = phone.get("number").and_then(Value::as_str);
            match (kind, number) {
                (Some(kind), Some(number)) if PHONE_KINDS.contains(&kind) && !number.is_empty() => {
                    Ok(json!({"kind": kind, "number": number}))
                }
                (Some(kind), Some(_)) if !PHONE_KINDS.contains(&kind) => {
                    Err(ApiError::bad_request(format!(
                        "phones[{i}].kind must be one of {}, not '{kind}'",
                        PHONE_KINDS.join(", ")
                    )))
                }
                _ => Err(ApiError::bad_request(format!(
                    "phones[{i}] must be an object with a string kind and a non-empty string number"
                ))),
            }
        })
        .collect()
}

/// The tids of a `team_ids` list, each once, in the order given. Whether the teams exist is
/// checked against the state ([`State::check_team_ids`]).
fn validate_team_ids(list: &[Value]) -> Result<Vec<Value>, ApiError> {
    let mut out: Vec<Value> = Vec::with_capacity(list.len());
    for (i, tid) in list.iter().enumerate() {
        if !tid.is_string() {
            return Err(ApiError::bad_request(format!(
                "team_ids[{i}] must be a team id (a string), not {tid}"
            )));
        }
        if !out.contains(tid) {
            out.push(tid.clone());
        }
    }
    Ok(out)
}

fn validate_hr(given: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    match given.get("badge") {
        None => {}
        Some(v @ Value::Null) => {
            out.insert("badge".into(), v.clone());
        }
        Some(v @ Value::Number(n)) if n.is_i64() || n.is_u64() => {
            out.insert("badge".into(), v.clone());
        }
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "hr.badge must be an integer, not {v}"
            )))
        }
    }
    match given.get("team") {
        None => {}
        Some(v @ (Value::String(_) | Value::Null)) => {
            out.insert("team".into(), v.clone());
        }
        Some(v) => {
            return Err(ApiError::bad_request(format!(
                "hr.team must be a string, not {v}"
            )))
        }
    }
    Ok(out)
}

/// The first value of query parameter `name`, if given.
fn first_param(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}

/// `offset` and `limit` of a list request: the same rules for every list.
#[derive(Debug, Clone, Copy)]
struct Window {
    offset: u64,
    limit: u64,
}

impl Window {
    fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let number = |name: &str, default: u64| -> Result<u64, ApiError> {
            match first_param(pairs, name) {
                None => Ok(default),
                Some(v) => v.parse::<u64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "{name} must be a non-negative integer, not '{v}'"
                    ))
                }),
            }
        };
        Ok(Window {
            offset: number("offset", 0)?,
            limit: number("limit", DEFAULT_LIMIT)?.min(MAX_LIMIT),
        })
    }

    /// This window of `items` (which are all the matches, in order), and how many there are.
    fn take<T>(&self, items: impl Iterator<Item = T>) -> (Vec<T>, u64) {
        let mut total = 0u64;
        let mut page = Vec::new();
        for item in items {
            if total >= self.offset && (page.len() as u64) < self.limit {
                page.push(item);
            }
            total += 1;
        }
        (page, total)
    }

    /// This window of a sequence whose length is known, without walking past the window.
    fn slice<T>(&self, items: impl Iterator<Item = T>) -> Vec<T> {
        items
            .skip(usize::try_from(self.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(self.limit).unwrap_or(usize::MAX))
            .collect()
    }
}

/// The query of `GET /v2/people`.
struct ListQuery {
    window: Window,
    username: Option<String>,
    ext_id: Option<String>,
    /// A tid: only the team's members.
    team: Option<String>,
}

impl ListQuery {
    fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        Ok(ListQuery {
            window: Window::parse(pairs)?,
            username: first_param(pairs, "username"),
            ext_id: first_param(pairs, "ext_id"),
            team: first_param(pairs, "team"),
        })
    }

    fn is_unfiltered(&self) -> bool {
        self.username.is_none() && self.ext_id.is_none() && self.team.is_none()
    }

    fn matches(&self, person: &Map<String, Value>) -> bool {
        let field = |name: &str| person.get(name).and_then(Value::as_str);
        let username_ok = match &self.username {
            None => true,
            Some(want) => {
                field("username").is_some_and(|u| u.to_lowercase() == want.to_lowercase())
            }
        };
        let ext_id_ok = match &self.ext_id {
            None => true,
            Some(want) => field("ext_id") == Some(want.as_str()),
        };
        let team_ok = match &self.team {
            None => true,
            Some(tid) => person
                .get("team_ids")
                .and_then(Value::as_array)
                .is_some_and(|ids| ids.iter().any(|t| t.as_str() == Some(tid.as_str()))),
        };
        username_ok && ext_id_ok && team_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_client::{Client, Reply};
    use scim_gateway_hosting::free_loopback_addr;
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub(super) const TOKEN: &str = "crewbase-test-token";

    pub(super) struct Running {
        pub api: Crewbase,
        pub client: Client,
        _server: RunningServer,
    }

    pub(super) fn running() -> Running {
        let api = Crewbase::new(TOKEN);
        let addr = free_loopback_addr().unwrap();
        let server = api.serve(addr).unwrap();
        Running {
            client: Client::new(addr, Some(("Authorization", format!("Bearer {TOKEN}")))),
            api,
            _server: server,
        }
    }

    pub(super) fn create(client: &Client, body: Value) -> Value {
        let reply = client.send("POST", PEOPLE, &body);
        assert_eq!(reply.status, 201, "{:?}", reply.json);
        reply.json
    }

    pub(super) fn uids(reply: &Reply) -> Vec<String> {
        reply.json["people"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["uid"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn every_request_needs_the_bearer_token() {
        let t = running();
        let wrong: &[Option<(&'static str, String)>] = &[
            None,
            Some(("Authorization", "Bearer nope".to_string())),
            Some(("Authorization", TOKEN.to_string())),
            Some(("Authorization", format!("Basic {TOKEN}"))),
            Some(("X-Api-Key", TOKEN.to_string())),
        ];
        for auth in wrong {
            let client = t.client.with_auth(auth.clone());
            for (method, path) in [
                ("GET", PEOPLE),
                ("POST", PEOPLE),
                ("POST", "/v2/people/p_0001/deactivate"),
            ] {
                let reply = client.call(method, path, Some(r#"{"username": "x"}"#));
                assert_eq!(reply.status, 401, "{auth:?} {method} {path}");
                assert_eq!(reply.json, json!({"message": "unauthorized", "code": 401}));
                assert!(reply.header("www-authenticate").is_some());
            }
        }
        assert_eq!(t.api.person_count(), 0);
        let lower = t
            .client
            .with_auth(Some(("Authorization", format!("bearer {TOKEN}"))));
        assert_eq!(
            lower.get(PEOPLE).status,
            200,
            "the scheme is case-insensitive"
        );
    }

    #[test]
    fn create_renders_a_person() {
        let t = running();
        let person = create(
            &t.client,
            json!({"uid": "p_9999", "meta": {"created": "2000-01-01T00:00:00Z"},
                   "username": "ada", "full_name": "Ada Lovelace", "work_email": "ada@example.com",
                   "phones": [{"kind": "cell", "number": "+44 20 1234"}],
                   "hr": {"badge": 1815}, "shoe_size": 7}),
        );
        assert_eq!(person["uid"], "p_0001");
        assert_eq!(person["is_active"], true);
        assert_eq!(person["position"], Value::Null);
        assert_eq!(
            person["phones"],
            json!([{"kind": "cell", "number": "+44 20 1234"}])
        );
        assert_eq!(person["hr"], json!({"badge": 1815, "team": null}));
        let created = person["meta"]["created"].as_str().unwrap();
        assert!(
            OffsetDateTime::parse(created, &Rfc3339).is_ok(),
            "{created}"
        );
        assert_ne!(created, "2000-01-01T00:00:00Z");
        assert_eq!(person["meta"]["created"], person["meta"]["modified"]);
        assert_eq!(person["meta"]["version"], 1);
        assert_eq!(person["team_ids"], json!([]), "no teams by default");
        let keys: Vec<&str> = person
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "uid",
                "username",
                "ext_id",
                "full_name",
                "position",
                "is_active",
                "work_email",
                "phones",
                "hr",
                "team_ids",
                "meta"
            ]
        );
        let second = t.client.send(
            "POST",
            PEOPLE,
            &json!({"username": "grace", "is_active": false}),
        );
        assert_eq!(second.status, 201);
        assert_eq!(second.json["uid"], "p_0002");
        assert_eq!(second.json["is_active"], false);
        assert_eq!(second.header("location"), Some("/v2/people/p_0002"));
        assert_eq!(second.header("content-type"), Some("application/json"));
        assert_eq!(t.client.get("/v2/people/p_0001").json, person);
    }

    #[test]
    fn create_refuses_bad_bodies_and_taken_usernames() {
        let t = running();
        create(&t.client, json!({"username": "Ada"}));
        let taken = t.client.send("POST", PEOPLE, &json!({"username": "aDA"}));
        assert_eq!(taken.status, 409);
        assert_eq!(
            taken.json,
            json!({"message": "username already exists", "code": 409})
        );
        for body in [
            r#"{"full_name": "No Name"}"#,
            r#"{"username": null}"#,
            r#"{"username": ""}"#,
            r#"{"username": 7}"#,
            r#"{"username": "x""#,
            r#"[]"#,
            r#"{"username": "x", "is_active": "yes"}"#,
            r#"{"username": "x", "full_name": {"first": "X"}}"#,
            r#"{"username": "x", "phones": {"kind": "cell", "number": "1"}}"#,
            r#"{"username": "x", "phones": [{"kind": "pager", "number": "1"}]}"#,
            r#"{"username": "x", "phones": [{"kind": "cell"}]}"#,
            r#"{"username": "x", "phones": ["+1 555"]}"#,
            r#"{"username": "x", "hr": {"badge": "E12"}}"#,
            r#"{"username": "x", "hr": {"badge": 1.5}}"#,
            r#"{"username": "x", "hr": {"team": 3}}"#,
            r#"{"username": "x", "hr": []}"#,
        ] {
            let reply = t.client.call("POST", PEOPLE, Some(body));
            assert_eq!(reply.status, 400, "{body}: {:?}", reply.json);
            assert_eq!(reply.json["code"], 400, "{body}");
            assert!(reply.json["message"].is_string(), "{body}");
        }
        assert_eq!(t.api.person_count(), 1);
    }

    #[test]
    fn unknown_and_odd_uids_are_404() {
        let t = running();
        create(&t.client, json!({"username": "ada"}));
        let reply = t.client.get("/v2/people/p_9");
        assert_eq!(reply.status, 404);
        assert_eq!(
            reply.json,
            json!({"message": "person p_9 not found", "code": 404})
        );
        for uid in [
            "p_1",
            "p_01",
            "P_0001",
            "1",
            "p_0001%20",
            "..%2Fadmin",
            "p_0001%2Factivate",
        ] {
            let path = format!("{PEOPLE}/{uid}");
            assert_eq!(t.client.get(&path).status, 404, "GET {path}");
            let patched = t.client.send("PATCH", &path, &json!({"position": "x"}));
            assert_eq!(patched.status, 404, "PATCH {path}");
            for action in ["activate", "deactivate"] {
                let reply = t.client.call("POST", &format!("{path}/{action}"), None);
                assert_eq!(reply.status, 404, "{path}/{action}");
                assert_eq!(reply.json["code"], 404);
            }
        }
        let decoded = t.client.get("/v2/people/..%2Fadmin");
        assert_eq!(decoded.json["message"], "person ../admin not found");
        assert_eq!(t.client.get("/v2/people/p_%30001").status, 200, "%30 is 0");
        for path in ["/v2/people/p_0001/delete", "/v2/persons", "/v1/people", "/"] {
            let reply = t.client.get(path);
            assert_eq!(reply.status, 404, "{path}");
            assert_eq!(reply.json["code"], 404);
        }
        assert_eq!(t.api.person("p_0001").unwrap()["position"], Value::Null);
    }

    #[test]
    fn patch_merges_and_replaces_phones() {
        let t = running();
        let before = create(
            &t.client,
            json!({"username": "ada", "full_name": "Ada Lovelace", "position": "Analyst",
                   "ext_id": "E1",
                   "phones": [{"kind": "cell", "number": "1"}, {"kind": "desk", "number": "2"}],
                   "hr": {"badge": 1815, "team": "Engines"}}),
        );
        create(&t.client, json!({"username": "grace"}));
        let reply = t.client.send(
            "PATCH",
            "/v2/people/p_0001",
            &json!({"position": "Countess", "ext_id": null, "hr": {"team": "Math"},
                    "phones": [{"kind": "home", "number": "3"}], "uid": "p_0777", "unknown": 1}),
        );
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        let p = reply.json;
        assert_eq!(p["uid"], "p_0001");
        assert_eq!(p["position"], "Countess");
        assert_eq!(p["ext_id"], Value::Null, "null clears");
        assert_eq!(p["full_name"], "Ada Lovelace", "absent keys are kept");
        assert_eq!(p["hr"], json!({"badge": 1815, "team": "Math"}), "hr merges");
        assert_eq!(
            p["phones"],
            json!([{"kind": "home", "number": "3"}]),
            "phones replace"
        );
        assert_eq!(p["meta"]["created"], before["meta"]["created"]);
        assert!(
            p["meta"]["modified"].as_str().unwrap() >= before["meta"]["modified"].as_str().unwrap()
        );
        let cleared = t.client.send(
            "PATCH",
            "/v2/people/p_0001",
            &json!({"phones": null, "hr": null}),
        );
        assert_eq!(cleared.json["phones"], json!([]));
        assert_eq!(cleared.json["hr"], json!({"badge": null, "team": null}));

        let taken = t
            .client
            .send("PATCH", "/v2/people/p_0001", &json!({"username": "GRACE"}));
        assert_eq!(taken.status, 409);
        assert_eq!(taken.json["message"], "username already exists");
        for body in [
            r#"{"username": null}"#,
            r#"{"username": ""}"#,
            r#"{"is_active": false}"#,
            r#"{"hr": {"badge": "x"}}"#,
            r#"{"position": "#,
        ] {
            let reply = t.client.call("PATCH", "/v2/people/p_0001", Some(body));
            assert_eq!(reply.status, 400, "{body}");
            assert_eq!(reply.json["code"], 400);
        }
        assert_eq!(
            t.api.person("p_0001").unwrap(),
            cleared.json,
            "refused writes change nothing"
        );
        let renamed = t
            .client
            .send("PATCH", "/v2/people/p_0001", &json!({"username": "ADA"}));
        assert_eq!(
            renamed.status, 200,
            "a person may change the case of its own username"
        );
        assert_eq!(renamed.json["username"], "ADA");
        let moved = t.client.send(
            "PATCH",
            "/v2/people/p_0001",
            &json!({"username": "lovelace"}),
        );
        assert_eq!(moved.status, 200);
        create(&t.client, json!({"username": "ada"}));
    }

    #[test]
    fn deactivate_and_activate() {
        let t = running();
        let before = create(&t.client, json!({"username": "ada"}));
        let off = t.client.call("POST", "/v2/people/p_0001/deactivate", None);
        assert_eq!(off.status, 200);
        assert_eq!(off.json["is_active"], false);
        assert_eq!(off.json["username"], "ada");
        assert_eq!(t.client.get("/v2/people/p_0001").json["is_active"], false);
        let again = t.client.call("POST", "/v2/people/p_0001/deactivate", None);
        assert_eq!(again.status, 200, "deactivating twice is fine");
        assert_eq!(again.json, off.json, "and changes nothing");
        let on = t.client.call(
            "POST",
            "/v2/people/p_0001/activate",
            Some(r#"{"ignored": true}"#),
        );
        assert_eq!(on.status, 200);
        assert_eq!(on.json["is_active"], true);
        assert_eq!(on.json["meta"]["created"], before["meta"]["created"]);
    }

    #[test]
    fn no_put_no_delete() {
        let t = running();
        create(&t.client, json!({"username": "ada"}));
        for (method, path, allow) in [
            ("PUT", "/v2/people/p_0001", "GET, PATCH"),
            ("DELETE", "/v2/people/p_0001", "GET, PATCH"),
            ("DELETE", PEOPLE, "GET, POST"),
            ("GET", "/v2/people/p_0001/deactivate", "POST"),
            ("DELETE", "/v2/people/p_0001/activate", "POST"),
        ] {
            let reply = t.client.call(method, path, Some(r#"{"username": "z"}"#));
            assert_eq!(reply.status, 405, "{method} {path}");
            assert_eq!(
                reply.json,
                json!({"message": "method not allowed", "code": 405})
            );
            assert_eq!(reply.header("allow"), Some(allow));
        }
        assert_eq!(t.api.person_count(), 1);
        assert_eq!(t.api.person("p_0001").unwrap()["username"], "ada");
    }

    #[test]
    fn list_pages_by_offset_with_the_total_in_a_header() {
        let t = running();
        let seeded = t.api.seed(60);
        assert_eq!(seeded.first().map(String::as_str), Some("p_0001"));
        let expect = |from: u64, to: u64| -> Vec<String> { (from..=to).map(uid_of).collect() };
        let first = t.client.get(PEOPLE);
        assert_eq!(first.status, 200);
        assert_eq!(first.header(TOTAL_HEADER), Some("60"));
        assert_eq!(uids(&first), expect(1, 20));
        assert_eq!(
            first.json.as_object().unwrap().len(),
            1,
            "only `people` in the body"
        );
        let page = t.client.get("/v2/people?offset=45&limit=10");
        assert_eq!(uids(&page), expect(46, 55));
        let tail = t.client.get("/v2/people?offset=55&limit=50");
        assert_eq!(uids(&tail), expect(56, 60));
        let past = t.client.get("/v2/people?offset=60");
        assert!(uids(&past).is_empty());
        assert_eq!(past.header(TOTAL_HEADER), Some("60"));
        let clamped = t.client.get("/v2/people?limit=80");
        assert_eq!(
            uids(&clamped),
            expect(1, 50),
            "a limit above 50 is served as 50"
        );
        let none = t.client.get("/v2/people?limit=0");
        assert!(uids(&none).is_empty());
        assert_eq!(none.header(TOTAL_HEADER), Some("60"));
        for query in ["offset=-1", "offset=x", "limit=-5", "limit=ten"] {
            let reply = t.client.get(&format!("{PEOPLE}?{query}"));
            assert_eq!(reply.status, 400, "{query}");
            assert_eq!(reply.json["code"], 400);
        }
    }

    #[test]
    fn list_filters_match_exactly() {
        let t = running();
        create(&t.client, json!({"username": "Ada", "ext_id": "EXT-1"}));
        create(&t.client, json!({"username": "ada.l", "ext_id": "ext-1"}));
        create(&t.client, json!({"username": "grace"}));
        let found = |query: &str| -> Vec<String> {
            let reply = t.client.get(&format!("{PEOPLE}?{query}"));
            assert_eq!(reply.status, 200, "{query}");
            let total: usize = reply.header(TOTAL_HEADER).unwrap().parse().unwrap();
            let list = uids(&reply);
            assert_eq!(total, list.len(), "{query}");
            list
        };
        assert_eq!(found("username=ADA"), ["p_0001"]);
        assert_eq!(found("username=ada"), ["p_0001"]);
        assert_eq!(found("username=ad"), Vec::<String>::new());
        assert_eq!(found("ext_id=EXT-1"), ["p_0001"]);
        assert_eq!(
            found("ext_id=ext-1"),
            ["p_0002"],
            "ext_id is case-sensitive"
        );
        assert_eq!(found("username=ada.l&ext_id=EXT-1"), Vec::<String>::new());
        assert_eq!(found("username=grace&ext_id="), Vec::<String>::new());
        assert_eq!(found("active=false"), ["p_0001", "p_0002", "p_0003"]);
    }

    #[test]
    fn requests_are_counted_per_endpoint() {
        let t = running();
        t.api.seed(2);
        t.client.get(PEOPLE);
        t.client.get("/v2/people/p_0001");
        t.client.call("POST", "/v2/people/p_0001/deactivate", None);
        t.client.call("POST", "/v2/people/p_0002/deactivate", None);
        t.client.call("POST", "/v2/people/p_0002/activate", None);
        t.client.call("PUT", "/v2/people/p_0002", Some("{}"));
        t.client.with_auth(None).get(PEOPLE);
        assert_eq!(t.api.request_count(), 7);
        let counts = t.api.requests();
        assert_eq!(counts.get("GET", PEOPLE), 2);
        assert_eq!(counts.get("GET", PERSON), 1);
        assert_eq!(counts.get("PUT", PERSON), 1);
        assert_eq!(counts.get("POST", DEACTIVATE), 2);
        assert_eq!(counts.get("POST", ACTIVATE), 1);
        counts.reset();
        assert_eq!(t.api.clone().request_count(), 0);
    }

    #[test]
    fn every_write_raises_the_version() {
        let t = running();
        let version = |t: &Running| t.api.person("p_0001").unwrap()["meta"]["version"].clone();
        create(&t.client, json!({"username": "ada"}));
        assert_eq!(version(&t), 1);
        let patched = t.client.send(
            "PATCH",
            "/v2/people/p_0001",
            &json!({"position": "Countess"}),
        );
        assert_eq!(patched.json["meta"]["version"], 2);
        t.client.call("POST", "/v2/people/p_0001/deactivate", None);
        assert_eq!(version(&t), 3);
        t.client.call("POST", "/v2/people/p_0001/deactivate", None);
        assert_eq!(
            version(&t),
            3,
            "a deactivation that changes nothing is no change"
        );
        t.client.call("POST", "/v2/people/p_0001/activate", None);
        assert_eq!(version(&t), 4);
        let refused = t
            .client
            .send("PATCH", "/v2/people/p_0001", &json!({"username": ""}));
        assert_eq!(refused.status, 400);
        assert_eq!(version(&t), 4, "a refused write is no change");
        let seeded = t.api.seed(1);
        assert_eq!(t.api.person(&seeded[0]).unwrap()["meta"]["version"], 1);
    }

    #[test]
    fn if_match_guards_a_patch() {
        let t = running();
        create(&t.client, json!({"username": "ada", "position": "Analyst"}));
        let patch = |if_match: Option<&str>, body: &str| -> Reply {
            let headers: Vec<(&str, &str)> =
                if_match.map(|v| ("If-Match", v)).into_iter().collect();
            t.client
                .call_with("PATCH", "/v2/people/p_0001", Some(body), &headers)
        };
        // Two clients read version 1; the first write wins, the second is refused.
        let first = patch(Some("1"), r#"{"position": "Lead"}"#);
        assert_eq!(first.status, 200, "{:?}", first.json);
        assert_eq!(first.json["meta"]["version"], 2);
        let second = patch(Some("1"), r#"{"position": "Intern"}"#);
        assert_eq!(second.status, 412);
        assert_eq!(
            second.json,
            json!({"message": "version mismatch", "code": 412})
        );
        assert_eq!(
            t.api.person("p_0001").unwrap(),
            first.json,
            "a refused write changes nothing"
        );

        let accepted: &[(&str, u64)] = &[("\"2\"", 3), ("W/\"3\"", 4), ("*", 5), ("1, 5", 6)];
        for (tag, after) in accepted {
            let reply = patch(Some(tag), r#"{"position": "Lead"}"#);
            assert_eq!(reply.status, 200, "If-Match: {tag}");
            assert_eq!(reply.json["meta"]["version"], *after, "If-Match: {tag}");
        }
        for tag in ["7", "5", "\"5\"", "x", ""] {
            let reply = patch(Some(tag), r#"{"position": "Intern"}"#);
            assert_eq!(reply.status, 412, "If-Match: {tag:?}");
        }
        let bad_and_stale = patch(Some("1"), r#"{"username": 7}"#);
        assert_eq!(
            bad_and_stale.status, 412,
            "the precondition is checked first"
        );
        let unguarded = patch(None, r#"{"position": "Intern"}"#);
        assert_eq!(
            unguarded.status, 200,
            "without If-Match the last write wins"
        );
        assert_eq!(unguarded.json["meta"]["version"], 7);
        let missing = t.client.call_with(
            "PATCH",
            "/v2/people/p_0099",
            Some("{}"),
            &[("If-Match", "1")],
        );
        assert_eq!(missing.status, 404);
    }

    #[test]
    fn seeded_people_are_complete() {
        let api = Crewbase::new(TOKEN);
        assert_eq!(api.seed(3), ["p_0001", "p_0002", "p_0003"]);
        let p = api.person("p_0002").unwrap();
        assert_eq!(p["username"], "seed.person2");
        assert_eq!(p["is_active"], true);
        assert_eq!(p["phones"].as_array().unwrap().len(), 2);
        assert!(p["hr"]["badge"].is_u64());
        assert_eq!(api.person_count(), 3);
        assert_eq!(api.person("p_2"), None);
    }

    #[test]
    fn uids_round_trip() {
        assert_eq!(uid_of(1), "p_0001");
        assert_eq!(uid_of(12345), "p_12345");
        assert_eq!(seq_of("p_0001"), Some(1));
        assert_eq!(seq_of("p_12345"), Some(12345));
        assert_eq!(seq_of("p_1"), None);
        assert_eq!(seq_of("p_00001"), None);
        assert_eq!(seq_of("p_+001"), None);
        assert_eq!(seq_of("x_0001"), None);
    }
}
