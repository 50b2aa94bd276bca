//! "Keystone", an example legacy user API built the way a Rails application's JSON API is, with
//! the quirks of one: ids are integers found by their leading digits (`find(params[:id].to_i)`,
//! so `/api/users/8dded348-…` is user 8), records are wrapped in a root object
//! (`{"user": {…}}`) in answers, list items and request bodies alike, list items are thin,
//! server-owned fields are accepted if sent, `PUT` is `PATCH`, deleted-marked users stay in the
//! list, teams are listed in one unpaged answer, and membership refusals each come in their own
//! shape. It is what `mappings/keystone.yaml` describes; it knows nothing of SCIM.
//!
//! | endpoint | answer |
//! | --- | --- |
//! | `GET /api/users?page=&per_page=&q=` | 200 `{"users": [{"user": {"id", "login", "email", "first_name", "last_name"}}…], "total_count"}` |
//! | `GET /api/users/{id}` | 200 `{"user": {…}}` |
//! | `POST /api/users` `{"user": {…}}` | 201 `{"user": {…}}` (and `Location`) |
//! | `PATCH` or `PUT /api/users/{id}` `{"user": {…}}` | 200 `{"user": {…}}`; only the keys sent change |
//! | `DELETE /api/users/{id}` | 204; the user is gone, and so are its memberships |
//! | `GET /api/teams?name=` | 200 `{"teams": [{"team": {"id", "name", "external_id"}}…]}`, every team |
//! | `GET /api/teams/{id}` | 200 `{"team": {…}}` |
//! | `POST /api/teams` `{"team": {…}}` | 201 `{"team": {…}}` |
//! | `PATCH` or `PUT /api/teams/{id}` `{"team": {…}}` | 200 `{"team": {…}}` |
//! | `DELETE /api/teams/{id}` | 204; its memberships are deleted |
//! | `GET /api/teams/{id}/memberships?page=&per_page=` | 200 `{"memberships": [{"membership": {"user_id", "team_id"}}…], "total_count"}` |
//! | `POST /api/teams/{id}/memberships` `{"membership": {"user_id"}}` | 201 `{"membership": {…}}` |
//! | `DELETE /api/teams/{id}/memberships/{user_id}` | 204 |
//!
//! A user is `{"id", "login", "email", "first_name", "last_name", "title", "phone", "state",
//! "admin", "api_key", "created_at", "updated_at", "lock_version"}`, `state` one of
//! [`STATES`]. The rules, as Keystone's own clients see them:
//! - every request needs `Authorization: Token token="<secret>"` (401 `{"error":
//!   "unauthorized"}`);
//! - an id in a path is read like Ruby's `String#to_i`: its leading digits (`6x` is 6,
//!   `8dded348-…` is 8); no leading digit, or no such record, is 404 `{"error": "not found"}`.
//!   So is a path or method no route serves (Rails answers no 405);
//! - a body must be the record wrapped in its root key, not empty (400 `{"error": "param is
//!   missing or the value is empty: user"}`); keys that are not attributes are ignored, and so
//!   are nested objects and lists (strong parameters); numbers and booleans sent for a text field
//!   are stored as text;
//! - `admin`, `api_key`, `created_at` and `updated_at` are the server's (a new user gets an api
//!   key, `admin: false`, the timestamps), but a value sent for one is applied all the same;
//!   `id` and `lock_version` sent are ignored;
//! - a write that changes something raises `lock_version` (0 at creation) and sets
//!   `updated_at` (unless the body set it); one that changes nothing changes neither. An
//!   `If-Match` that does not name the current `lock_version` is 412 `{"error": "precondition
//!   failed"}`, checked before what the body holds;
//! - validation errors are 422 `{"errors": {"<field>": ["<message>"…]…}}`: a blank login
//!   (`can't be blank`), a login another user has, whatever its case (`has already been
//!   taken`), a state not in [`STATES`] or a null `admin` (`is not included in the list`), an
//!   e-mail address without one `@` (`is invalid`), a timestamp that is not RFC 3339 (`can't
//!   be blank`);
//! - the list is in id order, `per_page` at most [`MAX_PER_PAGE`] (more is served as that many),
//!   [`DEFAULT_PER_PAGE`] by default; `q` is a search: the users whose login, e-mail or full
//!   name contains it, ignoring case. Users in state `deleted` are listed and counted like the
//!   others: the list cannot leave them out. Its items carry only the five fields above;
//! - `DELETE` is a hard delete.
//!
//! Teams and their memberships are in `keystone/teams.rs`.
//!
//! For tests there are switches no HTTP request reaches: [`Keystone::seed`],
//! [`Keystone::seed_team`], [`Keystone::break_create_answers`] (the next user creates succeed
//! but answer `200 {"status": "ok"}`), [`Keystone::edit_user`], and the [`RequestCounts`]'
//! `fail` and `slow`; and what a test reads: the records ([`Keystone::user`],
//! [`Keystone::team`], [`Keystone::member_ids`]…) and the bodies received
//! ([`Keystone::bodies`]). The value is a cheap handle ([`Clone`]) on shared in-memory state,
//! so a test keeps one while pingora owns another.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use http::{header, HeaderValue, Method, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::common::{
    decode_segment, empty_response, json_response, now_rfc3339, read_json_object, secret_matches,
    segments_under, serve_alone, version_matches, BodyError, BodyLog, RequestCounts, RequestHead,
    NO_ROUTE,
};
use scim_gateway_hosting::{RunningServer, StartError};

mod teams;

pub use teams::SeedTeamError;

/// Path pattern of the users collection (also the key of its request counts).
pub const USERS: &str = "/api/users";
/// Path pattern of one user.
pub const USER: &str = "/api/users/{id}";
/// Path pattern of the teams collection.
pub const TEAMS: &str = "/api/teams";
/// Path pattern of one team.
pub const TEAM: &str = "/api/teams/{id}";
/// Path pattern of a team's memberships.
pub const MEMBERSHIPS: &str = "/api/teams/{id}/memberships";
/// Path pattern of one membership, named by its user.
pub const MEMBERSHIP: &str = "/api/teams/{id}/memberships/{user_id}";
/// Page size when `per_page` is not given.
pub const DEFAULT_PER_PAGE: u64 = 25;
/// The largest page served; a larger `per_page` is lowered to it.
pub const MAX_PER_PAGE: u64 = 100;
/// The values of a user's `state`.
pub const STATES: [&str; 3] = ["active", "locked", "deleted"];

/// The attributes of a user a request body may set, in the order a user is rendered (after
/// `id`), with how a value sent for each is cast.
const USER_ATTRIBUTES: &[(&str, Cast)] = &[
    ("login", Cast::Text),
    ("email", Cast::Text),
    ("first_name", Cast::Text),
    ("last_name", Cast::Text),
    ("title", Cast::Text),
    ("phone", Cast::Text),
    ("state", Cast::Text),
    ("admin", Cast::Boolean),
    ("api_key", Cast::Text),
    ("created_at", Cast::Time),
    ("updated_at", Cast::Time),
];

/// The fields of a user in a list item.
const LISTED_USER_FIELDS: [&str; 5] = ["id", "login", "email", "first_name", "last_name"];

/// The example API "Keystone". Cloning gives another handle on the same records and counters.
#[derive(Clone)]
pub struct Keystone {
    inner: Arc<Inner>,
}

struct Inner {
    token: String,
    state: RwLock<State>,
    counts: RequestCounts,
    /// The JSON bodies received, with their endpoint (the latest [`REQUEST_IDS_KEPT`](crate::common::REQUEST_IDS_KEPT)).
    bodies: BodyLog,
}

#[derive(Default)]
struct State {
    /// Users by id, each the full record (unwrapped).
    users: BTreeMap<u64, Map<String, Value>>,
    /// Lower-cased login → user id.
    logins: HashMap<String, u64>,
    /// The id of the last user created (never reused).
    last_user_id: u64,
    /// Teams by id, each the full record (unwrapped).
    teams: BTreeMap<u64, Map<String, Value>>,
    /// Team name (as written: names are case-sensitive) → team id.
    team_names: HashMap<String, u64>,
    /// The id of the last team created (never reused).
    last_team_id: u64,
    /// Memberships by their own id (creation order): (team id, user id).
    memberships: BTreeMap<u64, (u64, u64)>,
    /// (team id, user id) → membership id.
    membership_ids: HashMap<(u64, u64), u64>,
    /// The id of the last membership created.
    last_membership_id: u64,
    /// How many of the next successful user creates answer without the record.
    broken_create_answers: u32,
}

impl Keystone {
    /// An empty Keystone that accepts requests carrying `Authorization: Token
    /// token="{token}"`.
    pub fn new(token: impl Into<String>) -> Self {
        Keystone {
            inner: Arc::new(Inner {
                token: token.into(),
                state: RwLock::new(State::default()),
                counts: RequestCounts::default(),
                bodies: BodyLog::default(),
            }),
        }
    }

    /// Serves this API on `addr` (one worker thread) until the returned handle is dropped.
    pub fn serve(&self, addr: SocketAddr) -> Result<RunningServer, StartError> {
        serve_alone("keystone", addr, self.clone())
    }

    /// Adds `n` active users with every field filled (logins `seed.user{id}`), without going
    /// through HTTP, and returns their ids.
    pub fn seed(&self, n: usize) -> Vec<u64> {
        let now = now_rfc3339();
        let mut state = self.write();
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let id = state.last_user_id + 1;
            let mut login = format!("seed.user{id}");
            let mut k = 1;
            while state.logins.contains_key(&login) {
                k += 1;
                login = format!("seed.user{id}-{k}");
            }
            let given = json!({
                "login": login,
                "email": format!("{login}@example.com"),
                "first_name": "Seed",
                "last_name": format!("User{id}"),
                "title": "Engineer",
                "phone": format!("+1 555 01{:02}", id % 100),
            });
            let mut record = new_user(id, &now);
            if let Value::Object(given) = given {
                record.extend(given);
            }
            state.insert_user(id, record);
            ids.push(id);
        }
        ids
    }

    /// Makes the next `n` user creates that succeed answer `200 {"status": "ok"}` without the
    /// record (the user is created all the same), as an API behind a misconfigured proxy or
    /// serializer does.
    pub fn break_create_answers(&self, n: u32) {
        self.write().broken_create_answers = n;
    }

    /// The request counters (total and per endpoint, e.g. `("POST", MEMBERSHIPS)`), with
    /// their failure and delay switches.
    pub fn requests(&self) -> &RequestCounts {
        &self.inner.counts
    }

    /// How many requests this API received, whatever their outcome.
    pub fn request_count(&self) -> u64 {
        self.inner.counts.total()
    }

    /// The JSON bodies received by `method` `pattern` (e.g. `("PATCH", USER)`), whatever
    /// their outcome, oldest first (of the latest [`REQUEST_IDS_KEPT`](crate::common::REQUEST_IDS_KEPT) bodies of any
    /// endpoint): what a client sent, where the records cannot tell (a value sent again as it
    /// was).
    pub fn bodies(&self, method: &str, pattern: &str) -> Vec<Value> {
        self.inner.bodies.of(method, pattern)
    }

    /// How many users exist (in any state).
    pub fn user_count(&self) -> usize {
        self.read().users.len()
    }

    /// User `id`'s record, as `GET /api/users/{id}` renders it inside `{"user": …}`.
    pub fn user(&self, id: u64) -> Option<Value> {
        self.read().users.get(&id).cloned().map(Value::Object)
    }

    /// The record of the user whose login is `login` (ignoring case).
    pub fn user_by_login(&self, login: &str) -> Option<Value> {
        let state = self.read();
        let id = state.login_owner(login, None)?;
        state.users.get(&id).cloned().map(Value::Object)
    }

    /// Changes the given attributes of user `id` as the product's own screens would (the
    /// rules of `PATCH /api/users/{id}`, `lock_version` +1 when something changes): a change
    /// the gateway did not make. `false` if there is no such user or the change is refused.
    pub fn edit_user(&self, id: u64, changes: &Map<String, Value>) -> bool {
        self.write().update_user(id, changes).is_ok()
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

/// A new user record: every attribute null but those the server fills.
fn new_user(id: u64, now: &str) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert("id".into(), json!(id));
    for (name, _) in USER_ATTRIBUTES {
        record.insert((*name).into(), Value::Null);
    }
    record.insert("state".into(), json!("active"));
    record.insert("admin".into(), json!(false));
    record.insert(
        "api_key".into(),
        json!(uuid::Uuid::new_v4().simple().to_string()),
    );
    record.insert("created_at".into(), json!(now));
    record.insert("updated_at".into(), json!(now));
    record.insert("lock_version".into(), json!(0));
    record
}

impl State {
    fn insert_user(&mut self, id: u64, record: Map<String, Value>) {
        if let Some(login) = record.get("login").and_then(Value::as_str) {
            self.logins.insert(login.to_lowercase(), id);
        }
        self.users.insert(id, record);
        self.last_user_id = self.last_user_id.max(id);
    }

    /// The user whose login is `login` (ignoring case), other than `except`.
    fn login_owner(&self, login: &str, except: Option<u64>) -> Option<u64> {
        self.logins
            .get(&login.to_lowercase())
            .copied()
            .filter(|id| Some(*id) != except)
    }

    /// Replaces user `id` with `record`, keeping the login index right.
    fn replace_user(&mut self, id: u64, record: Map<String, Value>) {
        if let Some(login) = self
            .users
            .get(&id)
            .and_then(|old| old.get("login"))
            .and_then(Value::as_str)
        {
            self.logins.remove(&login.to_lowercase());
        }
        self.insert_user(id, record);
    }

    /// Deletes user `id` and its memberships. `false` if there is no such user.
    fn delete_user(&mut self, id: u64) -> bool {
        let Some(record) = self.users.remove(&id) else {
            return false;
        };
        if let Some(login) = record.get("login").and_then(Value::as_str) {
            self.logins.remove(&login.to_lowercase());
        }
        self.remove_memberships(|_, user| user == id);
        true
    }

    /// The validation errors of user record `record` (id `id`, `None` when new).
    fn user_errors(&self, id: Option<u64>, record: &Map<String, Value>) -> Errors {
        let mut errors = Errors::default();
        match record.get("login").and_then(Value::as_str) {
            Some(login) if !login.trim().is_empty() => {
                if self.login_owner(login, id).is_some() {
                    errors.add("login", "has already been taken");
                }
            }
            _ => errors.add("login", "can't be blank"),
        }
        if let Some(email) = record.get("email").and_then(Value::as_str) {
            if !email.trim().is_empty() && !is_email(email) {
                errors.add("email", "is invalid");
            }
        }
        let state = record.get("state").and_then(Value::as_str);
        if !state.is_some_and(|s| STATES.contains(&s)) {
            errors.add("state", "is not included in the list");
        }
        if !record.get("admin").is_some_and(Value::is_boolean) {
            errors.add("admin", "is not included in the list");
        }
        for stamp in ["created_at", "updated_at"] {
            if record.get(stamp).is_none_or(Value::is_null) {
                errors.add(stamp, "can't be blank");
            }
        }
        errors
    }
}

/// `local@domain`, one `@`, no spaces: the format validation Keystone applies.
fn is_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !s.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

/// How a value sent for an attribute is cast before it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cast {
    /// A string as sent; a number or boolean as its text; null.
    Text,
    /// `true`/`false`; `0`, `"0"`, `"f"`, `"false"`, `"off"` (any case) are false, `""` is
    /// null, any other scalar is true.
    Boolean,
    /// An RFC 3339 time (kept as sent); anything else is null.
    Time,
}

impl Cast {
    /// The stored value of `value`; `None` when strong parameters drop it (a list or object).
    fn apply(self, value: &Value) -> Option<Value> {
        let cast = match (self, value) {
            (_, Value::Array(_) | Value::Object(_)) => return None,
            (_, Value::Null) => Value::Null,
            (Cast::Text, Value::String(_)) => value.clone(),
            (Cast::Text, _) => Value::String(value.to_string()),
            (Cast::Boolean, Value::String(s)) if s.is_empty() => Value::Null,
            (Cast::Boolean, Value::String(s)) => {
                let s = s.to_ascii_lowercase();
                Value::Bool(!matches!(s.as_str(), "0" | "f" | "false" | "off"))
            }
            (Cast::Boolean, Value::Number(n)) => Value::Bool(n.as_f64() != Some(0.0)),
            (Cast::Boolean, _) => value.clone(),
            (Cast::Time, Value::String(s)) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => {
                value.clone()
            }
            (Cast::Time, _) => Value::Null,
        };
        Some(cast)
    }
}

/// `params.require(key)`: the object under the body's root key; 400 when it is missing, not an
/// object, or empty.
fn require<'b>(
    body: &'b Map<String, Value>,
    key: &str,
) -> Result<&'b Map<String, Value>, ApiError> {
    match body.get(key) {
        Some(Value::Object(params)) if !params.is_empty() => Ok(params),
        _ => Err(ApiError::BadRequest(format!(
            "param is missing or the value is empty: {key}"
        ))),
    }
}

/// `record.assign_attributes(params.permit(…))`: writes into `record` the values of `params`
/// that `attributes` names, cast; other keys, lists and objects are left out.
fn assign(
    record: &mut Map<String, Value>,
    params: &Map<String, Value>,
    attributes: &[(&str, Cast)],
) {
    for (name, cast) in attributes {
        if let Some(value) = params.get(*name).and_then(|v| cast.apply(v)) {
            record.insert((*name).into(), value);
        }
    }
}

/// Validation errors, answered as 422 `{"errors": {"<field>": ["<message>"…]}}`.
#[derive(Debug, Default)]
struct Errors(Map<String, Value>);

impl Errors {
    fn add(&mut self, field: &str, message: &str) {
        let list = self
            .0
            .entry(field)
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = list {
            list.push(json!(message));
        }
    }

    fn check(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.0))
        }
    }
}

/// A refusal, each in the shape Keystone answers it.
#[derive(Debug)]
enum ApiError {
    /// 401 `{"error": "unauthorized"}`.
    Unauthorized,
    /// 404 `{"error": "not found"}`: no such record, route or method.
    NotFound,
    /// 400 `{"error": …}`: a body that is not JSON, or lacks its root key.
    BadRequest(String),
    /// 403 `{"error": …}`: an action the record's state forbids.
    Forbidden(&'static str),
    /// 412 `{"error": "precondition failed"}`: `If-Match` names another `lock_version`.
    PreconditionFailed,
    /// 413 `{"error": "payload too large"}`.
    TooLarge,
    /// 422 `{"errors": {…}}`.
    Invalid(Map<String, Value>),
    /// 503 `{"error": "service unavailable"}` (an injected outage).
    Unavailable,
}

impl ApiError {
    /// One validation error.
    fn invalid(field: &str, message: &str) -> Self {
        let mut errors = Errors::default();
        errors.add(field, message);
        ApiError::Invalid(errors.0)
    }

    fn into_response(self) -> Response<Vec<u8>> {
        let (status, body) = match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"})),
            ApiError::NotFound => (StatusCode::NOT_FOUND, json!({"error": "not found"})),
            ApiError::BadRequest(message) => (StatusCode::BAD_REQUEST, json!({"error": message})),
            ApiError::Forbidden(message) => (StatusCode::FORBIDDEN, json!({"error": message})),
            ApiError::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                json!({"error": "precondition failed"}),
            ),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!({"error": "payload too large"}),
            ),
            ApiError::Invalid(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({ "errors": errors }),
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "service unavailable"}),
            ),
        };
        let mut resp = json_response(status, &body);
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Token realm=\"Application\""),
            );
        }
        resp
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => ApiError::TooLarge,
            _ => ApiError::BadRequest(e.to_string()),
        }
    }
}

/// Where a request goes, decided on the raw path (a trailing `/` is ignored). Id segments are
/// still percent-encoded.
enum Route<'a> {
    Users,
    User(&'a str),
    Teams,
    Team(&'a str),
    Memberships(&'a str),
    Membership(&'a str, &'a str),
    None,
}

impl<'a> Route<'a> {
    fn of(path: &'a str) -> Self {
        let path = match path.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => path,
        };
        if let Some(segments) = segments_under(path, USERS) {
            return match segments.as_slice() {
                [] => Route::Users,
                [id] => Route::User(id),
                _ => Route::None,
            };
        }
        match segments_under(path, TEAMS).as_deref() {
            Some([]) => Route::Teams,
            Some([id]) => Route::Team(id),
            Some([id, "memberships"]) => Route::Memberships(id),
            Some([id, "memberships", user]) => Route::Membership(id, user),
            _ => Route::None,
        }
    }

    fn pattern(&self) -> &'static str {
        match self {
            Route::Users => USERS,
            Route::User(_) => USER,
            Route::Teams => TEAMS,
            Route::Team(_) => TEAM,
            Route::Memberships(_) => MEMBERSHIPS,
            Route::Membership(..) => MEMBERSHIP,
            Route::None => NO_ROUTE,
        }
    }
}

/// What Ruby's `String#to_i` reads at the start of `s`: leading whitespace, a sign, digits
/// (single underscores between digits allowed); 0 when there are no digits. Saturates instead
/// of growing into a bignum.
fn ruby_to_i(s: &str) -> i64 {
    let s = s.trim_start();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    let mut previous_was_digit = false;
    let mut bytes = digits.bytes().peekable();
    while let Some(b) = bytes.next() {
        match b {
            b'0'..=b'9' => {
                n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
                previous_was_digit = true;
            }
            b'_' if previous_was_digit && bytes.peek().is_some_and(u8::is_ascii_digit) => {
                previous_was_digit = false;
            }
            _ => break,
        }
    }
    if negative {
        -n
    } else {
        n
    }
}

/// The record id a path segment names, read as Rails reads `params[:id].to_i`: `None` (404)
/// when that is not a positive number.
fn id_of(segment: &str) -> Option<u64> {
    let decoded = decode_segment(segment)?;
    u64::try_from(ruby_to_i(&decoded)).ok().filter(|id| *id > 0)
}

/// The first value of query parameter `name`, if given.
fn first_param<'p>(pairs: &'p [(String, String)], name: &str) -> Option<&'p str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `page` and `per_page` of a paged list, read as Kaminari reads them: a `page` below 1 or not
/// a number is page 1; a `per_page` that does not start with a digit is the default, 0 is an
/// empty page, and more than [`MAX_PER_PAGE`] is lowered to it.
#[derive(Debug, Clone, Copy)]
struct Paging {
    page: u64,
    per_page: u64,
}

impl Paging {
    fn of(pairs: &[(String, String)]) -> Self {
        let page = first_param(pairs, "page")
            .map(ruby_to_i)
            .and_then(|p| u64::try_from(p).ok())
            .filter(|p| *p >= 1)
            .unwrap_or(1);
        let per_page = match first_param(pairs, "per_page") {
            Some(v) if v.starts_with(|c: char| c.is_ascii_digit()) => {
                u64::try_from(ruby_to_i(v)).unwrap_or(0).min(MAX_PER_PAGE)
            }
            _ => DEFAULT_PER_PAGE,
        };
        Paging { page, per_page }
    }

    /// This page of `items` (every match, in order), and how many there are.
    fn take<T>(&self, items: impl Iterator<Item = T>) -> (Vec<T>, u64) {
        let skip = (self.page - 1).saturating_mul(self.per_page);
        let mut total = 0u64;
        let mut page = Vec::new();
        for item in items {
            if total >= skip && (page.len() as u64) < self.per_page {
                page.push(item);
            }
            total += 1;
        }
        (page, total)
    }
}

/// `{"<root>": record}`.
fn wrap(root: &str, record: Value) -> Value {
    let mut body = Map::new();
    body.insert(root.into(), record);
    Value::Object(body)
}

/// A paged list answer: `{"<key>": [{"<root>": item}…], "total_count": N}`.
fn paged_list(key: &str, root: &str, items: Vec<Value>, total: u64) -> Response<Vec<u8>> {
    let items: Vec<Value> = items.into_iter().map(|i| wrap(root, i)).collect();
    let mut body = Map::new();
    body.insert(key.into(), Value::Array(items));
    body.insert("total_count".into(), json!(total));
    json_response(StatusCode::OK, &Value::Object(body))
}

#[async_trait]
impl ServeHttp for Keystone {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let head = RequestHead::of(session);
        let route = Route::of(&head.path);
        if self.inner.counts.arrive(&head, route.pattern()).await {
            return ApiError::Unavailable.into_response();
        }
        match self.handle(&head, route, session).await {
            Ok(resp) => resp,
            Err(e) => e.into_response(),
        }
    }
}

impl Keystone {
    async fn handle(
        &self,
        head: &RequestHead,
        route: Route<'_>,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        self.authenticate(head)?;
        match (route, &head.method) {
            (Route::Users, &Method::GET) => Ok(self.list_users(head)),
            (Route::Users, &Method::POST) => {
                let body = self.read_object(head, session).await?;
                self.create_user(&body)
            }
            (Route::User(id), &Method::GET) => self.get_user(id_of(id)),
            (Route::User(id), &Method::PATCH | &Method::PUT) => {
                let id = id_of(id).ok_or(ApiError::NotFound)?;
                let body = self.read_object(head, session).await?;
                let record = self.patch_user(id, &body, head.header("if-match"))?;
                Ok(json_response(
                    StatusCode::OK,
                    &wrap("user", Value::Object(record)),
                ))
            }
            (Route::User(id), &Method::DELETE) => {
                let deleted = id_of(id).is_some_and(|id| self.write().delete_user(id));
                if deleted {
                    Ok(empty_response(StatusCode::NO_CONTENT))
                } else {
                    Err(ApiError::NotFound)
                }
            }
            (
                route @ (Route::Teams
                | Route::Team(_)
                | Route::Memberships(_)
                | Route::Membership(..)),
                _,
            ) => self.handle_teams(head, route, session).await,
            _ => Err(ApiError::NotFound),
        }
    }

    /// Reads the body as a JSON object (400 for anything else) and keeps it for
    /// [`bodies`](Self::bodies).
    async fn read_object(
        &self,
        head: &RequestHead,
        session: &mut ServerSession,
    ) -> Result<Map<String, Value>, ApiError> {
        let body = read_json_object(session).await?;
        let pattern = Route::of(&head.path).pattern();
        self.inner
            .bodies
            .keep(&head.method, pattern, Value::Object(body.clone()));
        Ok(body)
    }

    /// `Authorization: Token token="<secret>"` (the value may also be unquoted, and other
    /// options may follow after a comma).
    fn authenticate(&self, head: &RequestHead) -> Result<(), ApiError> {
        let token = head
            .header("authorization")
            .and_then(|v| v.trim().strip_prefix("Token "))
            .and_then(|options| {
                options.split([',', ';']).find_map(|option| {
                    let (key, value) = option.trim().split_once('=')?;
                    (key.trim() == "token").then(|| value.trim().trim_matches('"'))
                })
            });
        match token {
            Some(t) if secret_matches(t, &self.inner.token) => Ok(()),
            _ => Err(ApiError::Unauthorized),
        }
    }

    fn list_users(&self, head: &RequestHead) -> Response<Vec<u8>> {
        let pairs = head.query_pairs();
        let paging = Paging::of(&pairs);
        let search = first_param(&pairs, "q")
            .filter(|q| !q.trim().is_empty())
            .map(str::to_lowercase);
        let state = self.read();
        let matches = |user: &&Map<String, Value>| match &search {
            None => true,
            Some(q) => {
                let text = |key: &str| user.get(key).and_then(Value::as_str).unwrap_or("");
                let full_name = [text("first_name"), text("last_name")]
                    .into_iter()
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                [text("login"), text("email"), full_name.as_str()]
                    .iter()
                    .any(|field| field.to_lowercase().contains(q.as_str()))
            }
        };
        let thin = |user: &Map<String, Value>| {
            let fields = LISTED_USER_FIELDS.iter().map(|k| {
                (
                    (*k).to_string(),
                    user.get(*k).cloned().unwrap_or(Value::Null),
                )
            });
            Value::Object(fields.collect())
        };
        let (users, total) = paging.take(state.users.values().filter(matches).map(thin));
        drop(state);
        paged_list("users", "user", users, total)
    }

    fn get_user(&self, id: Option<u64>) -> Result<Response<Vec<u8>>, ApiError> {
        let record = id
            .and_then(|id| self.read().users.get(&id).cloned())
            .ok_or(ApiError::NotFound)?;
        Ok(json_response(
            StatusCode::OK,
            &wrap("user", Value::Object(record)),
        ))
    }

    fn create_user(&self, body: &Map<String, Value>) -> Result<Response<Vec<u8>>, ApiError> {
        let params = require(body, "user")?;
        let now = now_rfc3339();
        let mut state = self.write();
        let id = state.last_user_id + 1;
        let mut record = new_user(id, &now);
        assign(&mut record, params, USER_ATTRIBUTES);
        state.user_errors(None, &record).check()?;
        state.insert_user(id, record.clone());
        if state.broken_create_answers > 0 {
            state.broken_create_answers -= 1;
            return Ok(json_response(StatusCode::OK, &json!({"status": "ok"})));
        }
        drop(state);
        let mut resp = json_response(StatusCode::CREATED, &wrap("user", Value::Object(record)));
        if let Ok(location) = HeaderValue::from_str(&format!("{USERS}/{id}")) {
            resp.headers_mut().insert(header::LOCATION, location);
        }
        Ok(resp)
    }

    /// `PATCH`/`PUT /api/users/{id}`: the user must exist and `If-Match` name its version
    /// before the body is looked at, as Rails' `before_action`s would have it.
    fn patch_user(
        &self,
        id: u64,
        body: &Map<String, Value>,
        if_match: Option<&str>,
    ) -> Result<Map<String, Value>, ApiError> {
        let mut state = self.write();
        let current = state.users.get(&id).ok_or(ApiError::NotFound)?;
        check_if_match(current, if_match)?;
        let params = require(body, "user")?;
        state.update_user(id, params)
    }
}

impl State {
    /// Applies `params` to user `id` and returns the record: a change raises `lock_version`
    /// and sets `updated_at` (unless `params` set it); no change leaves the record as it was.
    fn update_user(
        &mut self,
        id: u64,
        params: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ApiError> {
        let current = self.users.get(&id).ok_or(ApiError::NotFound)?;
        let mut record = current.clone();
        assign(&mut record, params, USER_ATTRIBUTES);
        if record == *current {
            return Ok(record);
        }
        self.user_errors(Some(id), &record).check()?;
        if record.get("updated_at") == current.get("updated_at") {
            record.insert("updated_at".into(), json!(now_rfc3339()));
        }
        let version = lock_version(current) + 1;
        record.insert("lock_version".into(), json!(version));
        self.replace_user(id, record.clone());
        Ok(record)
    }
}

/// A record's `lock_version`.
fn lock_version(record: &Map<String, Value>) -> u64 {
    record
        .get("lock_version")
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// 412 unless `if_match` (the `If-Match` header, if sent) names the record's `lock_version`.
fn check_if_match(record: &Map<String, Value>, if_match: Option<&str>) -> Result<(), ApiError> {
    match if_match {
        Some(tags) if !version_matches(tags, lock_version(record)) => {
            Err(ApiError::PreconditionFailed)
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_client::{Client, Reply};
    use scim_gateway_hosting::free_loopback_addr;
    use std::time::Duration;

    pub(super) const TOKEN: &str = "keystone-test-token";

    pub(super) struct Running {
        pub api: Keystone,
        pub client: Client,
        _server: RunningServer,
    }

    pub(super) fn running() -> Running {
        let api = Keystone::new(TOKEN);
        let addr = free_loopback_addr().unwrap();
        let server = api.serve(addr).unwrap();
        Running {
            client: Client::new(addr, Some(("Authorization", auth(TOKEN)))),
            api,
            _server: server,
        }
    }

    fn auth(token: &str) -> String {
        format!("Token token=\"{token}\"")
    }

    /// Creates a user through the API and returns its record (unwrapped).
    pub(super) fn create(client: &Client, user: Value) -> Value {
        let reply = client.send("POST", USERS, &json!({ "user": user }));
        assert_eq!(reply.status, 201, "{:?}", reply.json);
        reply.json["user"].clone()
    }

    /// The ids of the items of a list answer, each unwrapped from `root`.
    pub(super) fn ids(reply: &Reply, key: &str, root: &str) -> Vec<u64> {
        reply.json[key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key} in {:?}", reply.json))
            .iter()
            .map(|item| item[root]["id"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn every_request_needs_the_token() {
        let t = running();
        t.api.seed(1);
        let wrong: &[Option<(&'static str, String)>] = &[
            None,
            Some(("Authorization", auth("nope"))),
            Some(("Authorization", format!("Bearer {TOKEN}"))),
            Some(("Authorization", TOKEN.to_string())),
            Some(("Authorization", format!("Token key=\"{TOKEN}\""))),
            Some(("X-Api-Key", TOKEN.to_string())),
        ];
        for auth in wrong {
            let client = t.client.with_auth(auth.clone());
            for (method, path) in [("GET", USERS), ("GET", "/api/users/1"), ("POST", TEAMS)] {
                let reply = client.call(method, path, Some(r#"{"team": {"name": "x"}}"#));
                assert_eq!(reply.status, 401, "{auth:?} {method} {path}");
                assert_eq!(reply.json, json!({"error": "unauthorized"}));
                assert_eq!(
                    reply.header("www-authenticate"),
                    Some("Token realm=\"Application\"")
                );
            }
        }
        assert_eq!(t.api.team_count(), 0);
        let unquoted = t
            .client
            .with_auth(Some(("Authorization", format!("Token token={TOKEN}"))));
        assert_eq!(unquoted.get("/api/users/1").status, 200);
        let with_options = t.client.with_auth(Some((
            "Authorization",
            format!("Token token=\"{TOKEN}\", nonce=\"x\""),
        )));
        assert_eq!(with_options.get("/api/users/1").status, 200);
    }

    #[test]
    fn a_created_user_is_wrapped_and_complete() {
        let t = running();
        let reply = t.client.send(
            "POST",
            USERS,
            &json!({"user": {"id": 77, "login": "ada", "email": "ada@example.com",
                             "first_name": "Ada", "last_name": "Lovelace", "shoe_size": 7,
                             "lock_version": 9}}),
        );
        assert_eq!(reply.status, 201, "{:?}", reply.json);
        assert_eq!(reply.header("location"), Some("/api/users/1"));
        let body = reply.json.as_object().unwrap();
        assert_eq!(body.keys().collect::<Vec<_>>(), ["user"], "wrapped");
        let user = &reply.json["user"];
        let keys: Vec<&str> = user
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "login",
                "email",
                "first_name",
                "last_name",
                "title",
                "phone",
                "state",
                "admin",
                "api_key",
                "created_at",
                "updated_at",
                "lock_version"
            ]
        );
        assert_eq!(user["id"], 1, "the id sent is ignored");
        assert_eq!(user["state"], "active");
        assert_eq!(user["admin"], false);
        assert_eq!(user["lock_version"], 0, "lock_version starts at 0");
        assert_eq!(user["title"], Value::Null);
        assert_eq!(user["api_key"].as_str().unwrap().len(), 32);
        assert_eq!(user["created_at"], user["updated_at"]);
        assert_eq!(t.client.get("/api/users/1").json, reply.json);
        assert_eq!(t.api.user(1).unwrap(), *user);
    }

    #[test]
    fn ids_are_read_by_their_leading_digits() {
        let t = running();
        t.api.seed(8);
        for (segment, id) in [
            ("8dded348-3c5b-4c2e-9d1a-0f6f1b2c3d4e", 8),
            ("6x", 6),
            ("6", 6),
            ("06", 6),
            ("+6", 6),
            ("%206", 6),
            ("6.json", 6),
            ("0_8", 8),
        ] {
            let reply = t.client.get(&format!("/api/users/{segment}"));
            assert_eq!(reply.status, 200, "{segment}");
            assert_eq!(reply.json["user"]["id"], id, "{segment}");
        }
        for segment in ["abc", "0", "-6", "x6", "99", "%FF"] {
            let reply = t.client.get(&format!("/api/users/{segment}"));
            assert_eq!(reply.status, 404, "{segment}");
            assert_eq!(reply.json, json!({"error": "not found"}), "{segment}");
        }
        // A write or a delete under a longer id acts on the record its digits name.
        let patched = t.client.send(
            "PATCH",
            "/api/users/3f2504e0-4f89-11d3-9a0c-0305e82c3301",
            &json!({"user": {"title": "Lead"}}),
        );
        assert_eq!(patched.status, 200);
        assert_eq!(patched.json["user"]["id"], 3);
        assert_eq!(t.api.user(3).unwrap()["title"], "Lead");
        let deleted = t.client.call("DELETE", "/api/users/5abc", None);
        assert_eq!(deleted.status, 204);
        assert_eq!(t.api.user(5), None);
        assert_eq!(t.api.user_count(), 7);
    }

    #[test]
    fn bodies_must_be_wrapped_in_their_root_key() {
        let t = running();
        t.api.seed(1);
        for body in [
            r#"{"login": "ada"}"#,
            r#"{"user": {}}"#,
            r#"{"user": null}"#,
            r#"{"user": "ada"}"#,
            r#"{"people": {"login": "ada"}}"#,
        ] {
            for (method, path) in [("POST", USERS), ("PATCH", "/api/users/1")] {
                let reply = t.client.call(method, path, Some(body));
                assert_eq!(reply.status, 400, "{method} {body}");
                assert_eq!(
                    reply.json,
                    json!({"error": "param is missing or the value is empty: user"}),
                    "{method} {body}"
                );
            }
        }
        for body in [r#"{"user": "#, "[]"] {
            let reply = t.client.call("POST", USERS, Some(body));
            assert_eq!(reply.status, 400, "{body}");
            assert!(reply.json["error"].is_string(), "{body}");
        }
        assert_eq!(t.api.user_count(), 1);
        assert_eq!(t.api.user(1).unwrap()["lock_version"], 0);
    }

    #[test]
    fn validation_errors_are_422_by_field() {
        let t = running();
        create(&t.client, json!({"login": "Ada"}));
        let refused = |user: Value| -> Value {
            let reply = t.client.send("POST", USERS, &json!({ "user": user }));
            assert_eq!(reply.status, 422, "{user}: {:?}", reply.json);
            reply.json
        };
        assert_eq!(
            refused(json!({"login": "aDA"})),
            json!({"errors": {"login": ["has already been taken"]}})
        );
        assert_eq!(
            refused(json!({"email": "x@example.com"})),
            json!({"errors": {"login": ["can't be blank"]}})
        );
        assert_eq!(
            refused(json!({"login": "  "})),
            json!({"errors": {"login": ["can't be blank"]}})
        );
        assert_eq!(
            refused(json!({"login": "grace", "email": "grace", "state": "gone", "admin": null})),
            json!({"errors": {"email": ["is invalid"], "state": ["is not included in the list"],
                              "admin": ["is not included in the list"]}})
        );
        assert_eq!(t.api.user_count(), 1);

        let grace = create(&t.client, json!({"login": "grace"}));
        let taken = t
            .client
            .send("PATCH", "/api/users/2", &json!({"user": {"login": "ADA"}}));
        assert_eq!(taken.status, 422);
        assert_eq!(
            taken.json,
            json!({"errors": {"login": ["has already been taken"]}})
        );
        assert_eq!(
            t.api.user(2).unwrap(),
            grace,
            "a refused write changes nothing"
        );
        let recased = t
            .client
            .send("PATCH", "/api/users/1", &json!({"user": {"login": "ADA"}}));
        assert_eq!(
            recased.status, 200,
            "a user may change the case of its login"
        );
    }

    #[test]
    fn a_patch_changes_only_the_keys_sent_and_applies_server_owned_ones() {
        let t = running();
        let before = create(
            &t.client,
            json!({"login": "ada", "first_name": "Ada", "title": "Analyst", "phone": "1"}),
        );
        let reply = t.client.send(
            "PATCH",
            "/api/users/1",
            &json!({"user": {"title": "Countess", "phone": null, "id": 9, "lock_version": 40,
                             "nickname": "x", "first_name": {"given": "A"}}}),
        );
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        let after = &reply.json["user"];
        assert_eq!(after["id"], 1);
        assert_eq!(after["title"], "Countess");
        assert_eq!(after["phone"], Value::Null, "null clears");
        assert_eq!(
            after["first_name"], "Ada",
            "an object is not a permitted value"
        );
        assert_eq!(after["login"], "ada", "absent keys are kept");
        assert_eq!(after["api_key"], before["api_key"]);
        assert_eq!(after["lock_version"], 1, "one change, one version");
        assert!(after.get("nickname").is_none());

        // What the server owns is applied all the same when sent.
        let owned = t.client.send(
            "PATCH",
            "/api/users/1",
            &json!({"user": {"admin": "1", "api_key": "stale-key",
                             "created_at": "2001-01-01T00:00:00Z",
                             "updated_at": "2001-01-02T00:00:00Z"}}),
        );
        let user = &owned.json["user"];
        assert_eq!(user["admin"], true);
        assert_eq!(user["api_key"], "stale-key");
        assert_eq!(user["created_at"], "2001-01-01T00:00:00Z");
        assert_eq!(user["updated_at"], "2001-01-02T00:00:00Z");
        assert_eq!(user["lock_version"], 2);

        // A write that changes nothing is no change.
        let same = t.client.send(
            "PATCH",
            "/api/users/1",
            &json!({"user": {"title": "Countess"}}),
        );
        assert_eq!(same.status, 200);
        assert_eq!(same.json["user"], *user);

        // Text fields store what they are sent as text; PUT is PATCH.
        let put = t.client.send(
            "PUT",
            "/api/users/1",
            &json!({"user": {"phone": 5550100, "admin": "false"}}),
        );
        assert_eq!(put.status, 200);
        let user = &put.json["user"];
        assert_eq!(user["phone"], "5550100");
        assert_eq!(user["admin"], false);
        assert_eq!(
            user["title"], "Countess",
            "PUT changes only what it is sent"
        );
        assert_eq!(user["lock_version"], 3);
        assert_ne!(user["updated_at"], "2001-01-02T00:00:00Z");
    }

    #[test]
    fn a_stale_if_match_is_412() {
        let t = running();
        t.api.seed(1);
        let patch = |if_match: &str, title: &str| -> Reply {
            t.client.call_with(
                "PATCH",
                "/api/users/1",
                Some(&json!({"user": {"title": title}}).to_string()),
                &[("If-Match", if_match)],
            )
        };
        let first = patch("\"0\"", "Lead");
        assert_eq!(first.status, 200);
        assert_eq!(first.json["user"]["lock_version"], 1);
        let stale = patch("\"0\"", "Intern");
        assert_eq!(stale.status, 412);
        assert_eq!(stale.json, json!({"error": "precondition failed"}));
        assert_eq!(t.api.user(1).unwrap()["title"], "Lead");
        let stale_and_empty = t.client.call_with(
            "PATCH",
            "/api/users/1",
            Some(r#"{"user": {}}"#),
            &[("If-Match", "0")],
        );
        assert_eq!(stale_and_empty.status, 412, "checked before the body");
        for tag in ["1", "W/\"1\"", "*"] {
            assert_eq!(patch(tag, "Lead").status, 200, "{tag}");
        }
        assert_eq!(
            t.client
                .call_with("PATCH", "/api/users/2", Some("{}"), &[("If-Match", "1")])
                .status,
            404
        );
        // Another write in the product moves the version on.
        assert!(t
            .api
            .edit_user(1, json!({"title": "Boss"}).as_object().unwrap()));
        assert_eq!(patch("1", "Lead").status, 412);
        assert_eq!(patch("2", "Lead").status, 200);
    }

    #[test]
    fn list_items_are_thin_and_wrapped() {
        let t = running();
        t.api.seed(2);
        let reply = t.client.get(USERS);
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.json,
            json!({"users": [
                {"user": {"id": 1, "login": "seed.user1", "email": "seed.user1@example.com",
                          "first_name": "Seed", "last_name": "User1"}},
                {"user": {"id": 2, "login": "seed.user2", "email": "seed.user2@example.com",
                          "first_name": "Seed", "last_name": "User2"}}],
                   "total_count": 2})
        );
        let full = t.client.get("/api/users/1").json;
        for absent in [
            "state",
            "title",
            "phone",
            "admin",
            "api_key",
            "lock_version",
        ] {
            assert!(full["user"].get(absent).is_some(), "{absent}");
            assert!(
                reply.json["users"][0]["user"].get(absent).is_none(),
                "{absent}"
            );
        }
    }

    #[test]
    fn the_list_pages_as_kaminari_does() {
        let t = running();
        t.api.seed(130);
        let page = |query: &str| -> (Vec<u64>, u64) {
            let reply = t.client.get(&format!("{USERS}?{query}"));
            assert_eq!(reply.status, 200, "{query}");
            let total = reply.json["total_count"].as_u64().unwrap();
            (ids(&reply, "users", "user"), total)
        };
        let range = |from: u64, to: u64| (from..=to).collect::<Vec<_>>();
        assert_eq!(page(""), (range(1, 25), 130));
        assert_eq!(page("page=2&per_page=50"), (range(51, 100), 130));
        assert_eq!(page("page=3&per_page=50"), (range(101, 130), 130));
        assert_eq!(page("page=4&per_page=50"), (vec![], 130));
        assert_eq!(page("per_page=500"), (range(1, 100), 130), "served as 100");
        assert_eq!(page("page=2&per_page=500").0, range(101, 130));
        assert_eq!(page("per_page=0"), (vec![], 130));
        for odd in ["page=0", "page=-2", "page=x", "per_page=x", "per_page=-5"] {
            assert_eq!(page(odd), (range(1, 25), 130), "{odd}");
        }
        assert_eq!(page("page=2x&per_page=10x").0, range(11, 20));
    }

    #[test]
    fn q_is_a_loose_search() {
        let t = running();
        create(
            &t.client,
            json!({"login": "ada", "email": "countess@example.com", "first_name": "Ada",
                   "last_name": "Lovelace"}),
        );
        create(
            &t.client,
            json!({"login": "adam", "email": "adam@example.org"}),
        );
        create(
            &t.client,
            json!({"login": "grace", "first_name": "Grace", "last_name": "Hopper"}),
        );
        let found = |q: &str| -> Vec<u64> {
            let reply = t.client.get(&format!("{USERS}?q={q}"));
            let list = ids(&reply, "users", "user");
            assert_eq!(reply.json["total_count"], list.len(), "{q}");
            list
        };
        assert_eq!(
            found("ada"),
            [1, 2],
            "a login search finds more than the login"
        );
        assert_eq!(found("ADA"), [1, 2]);
        assert_eq!(found("countess"), [1]);
        assert_eq!(found("ada+lovelace"), [1], "the full name");
        assert_eq!(found("example.org"), [2]);
        assert_eq!(found("per"), [3]);
        assert_eq!(found("zzz"), Vec::<u64>::new());
        assert_eq!(found("+"), [1, 2, 3], "a blank q is no search");
    }

    #[test]
    fn deleted_users_stay_in_the_list() {
        let t = running();
        t.api.seed(3);
        let deleted = t.client.send(
            "PATCH",
            "/api/users/2",
            &json!({"user": {"state": "deleted"}}),
        );
        assert_eq!(deleted.status, 200);
        assert_eq!(deleted.json["user"]["state"], "deleted");
        let list = t.client.get(USERS);
        assert_eq!(ids(&list, "users", "user"), [1, 2, 3]);
        assert_eq!(list.json["total_count"], 3);
        let searched = t.client.get(&format!("{USERS}?q=seed.user2"));
        assert_eq!(ids(&searched, "users", "user"), [2]);
        assert_eq!(
            t.client.get("/api/users/2").json["user"]["state"],
            "deleted"
        );
        let locked = t.client.send(
            "PATCH",
            "/api/users/3",
            &json!({"user": {"state": "locked"}}),
        );
        assert_eq!(locked.json["user"]["state"], "locked");
    }

    #[test]
    fn broken_create_answers_still_create() {
        let t = running();
        t.api.break_create_answers(2);
        let send = |login: &str| {
            t.client
                .send("POST", USERS, &json!({"user": {"login": login}}))
        };
        let first = send("ada");
        assert_eq!(first.status, 200);
        assert_eq!(first.json, json!({"status": "ok"}));
        assert_eq!(first.header("location"), None);
        assert_eq!(t.api.user_by_login("ADA").unwrap()["id"], 1, "created");
        let refused = send("ada");
        assert_eq!(refused.status, 422, "a refused create answers as always");
        assert_eq!(send("grace").json, json!({"status": "ok"}));
        let third = send("linus");
        assert_eq!(third.status, 201, "the switch wore off");
        assert_eq!(third.json["user"]["id"], 3);
        assert_eq!(t.api.user_count(), 3);
    }

    #[test]
    fn routes_methods_and_counts() {
        let t = running();
        t.api.seed(1);
        for (method, path) in [
            ("DELETE", USERS),
            ("POST", "/api/users/1"),
            ("GET", "/api/users/1/teams"),
            ("GET", "/api/people"),
            ("GET", "/"),
        ] {
            let reply = t.client.call(method, path, Some("{}"));
            assert_eq!(reply.status, 404, "{method} {path}");
            assert_eq!(reply.json, json!({"error": "not found"}));
        }
        assert_eq!(
            t.client.get("/api/users/1/").status,
            200,
            "a trailing / is ignored"
        );
        t.api.requests().reset();
        t.client.get(USERS);
        t.client.get("/api/users/1");
        t.client
            .send("PATCH", "/api/users/1x", &json!({"user": {"title": "x"}}));
        t.client.with_auth(None).get(USERS);
        t.client.get("/api/nothing");
        let counts = t.api.requests();
        assert_eq!(t.api.request_count(), 5);
        assert_eq!(counts.get("GET", USERS), 2);
        assert_eq!(counts.get("GET", USER), 1);
        assert_eq!(counts.get("PATCH", USER), 1);
        assert_eq!(counts.get("GET", NO_ROUTE), 1);
    }

    #[test]
    fn outages_and_slow_answers_can_be_injected() {
        let t = running();
        t.api.seed(1);
        t.api.requests().fail("GET", USER, 1, 1);
        assert_eq!(t.client.get("/api/users/1").status, 200);
        let down = t.client.get("/api/users/1");
        assert_eq!(down.status, 503);
        assert_eq!(down.json, json!({"error": "service unavailable"}));
        assert_eq!(t.client.get("/api/users/1").status, 200);
        t.api
            .requests()
            .slow("GET", USERS, 1, Duration::from_millis(150));
        let started = std::time::Instant::now();
        assert_eq!(t.client.get(USERS).status, 200);
        assert!(started.elapsed() >= Duration::from_millis(150));
    }

    #[test]
    fn the_bodies_received_are_kept_per_endpoint() {
        let t = running();
        t.api.seed(1);
        t.client
            .send("PATCH", "/api/users/1", &json!({"user": {"title": "Lead"}}));
        t.client.send(
            "PATCH",
            "/api/users/1x",
            &json!({"user": {"title": "Lead", "api_key": "k"}}),
        );
        t.client.send("POST", USERS, &json!({"user": {}}));
        t.client.call("PATCH", "/api/users/1", Some("not json"));
        assert_eq!(
            t.api.bodies("PATCH", USER),
            [
                json!({"user": {"title": "Lead"}}),
                json!({"user": {"title": "Lead", "api_key": "k"}})
            ],
            "whatever came of them"
        );
        assert_eq!(t.api.bodies("post", USERS), [json!({"user": {}})]);
        assert!(t.api.bodies("PUT", USER).is_empty());
    }

    #[test]
    fn seeded_users_are_complete() {
        let api = Keystone::new(TOKEN);
        assert_eq!(api.seed(3), [1, 2, 3]);
        let user = api.user(2).unwrap();
        assert_eq!(user["login"], "seed.user2");
        assert_eq!(user["state"], "active");
        assert_eq!(user["admin"], false);
        assert_eq!(user["lock_version"], 0);
        assert!(user["api_key"].is_string());
        assert_ne!(user["api_key"], api.user(1).unwrap()["api_key"]);
        assert!(user["title"].is_string() && user["phone"].is_string());
        assert_eq!(api.user_count(), 3);
        assert_eq!(api.user(4), None);
        assert!(api.edit_user(2, json!({"login": "seed.user3x"}).as_object().unwrap()));
        assert!(!api.edit_user(2, json!({"login": "SEED.USER3"}).as_object().unwrap()));
        assert!(!api.edit_user(9, json!({"title": "x"}).as_object().unwrap()));
        assert_eq!(api.seed(1), [4]);
    }

    #[test]
    fn ruby_to_i_reads_leading_digits() {
        for (s, n) in [
            ("8dded348", 8),
            ("42", 42),
            ("  7x", 7),
            ("-3", -3),
            ("+3", 3),
            ("1_000", 1000),
            ("1__0", 1),
            ("_1", 0),
            ("1_", 1),
            ("abc", 0),
            ("", 0),
            ("- 3", 0),
            ("99999999999999999999999", i64::MAX),
        ] {
            assert_eq!(ruby_to_i(s), n, "{s:?}");
        }
        assert_eq!(id_of("0"), None);
        assert_eq!(id_of("%38x"), Some(8));
    }
}
