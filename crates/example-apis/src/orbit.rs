//! "Orbit", an example legacy user API of a project-management SaaS that answers the JSON:API
//! way, with the quirks of one: OAuth 2.0 client-credentials tokens that expire, records
//! wrapped in `{"data": …}` in answers and in `{"user": …}` / `{"team": …}` in request bodies, a
//! create answered 200 instead of 201, updates answered 204 with no body, a 403 for an id that
//! does not exist (an existence leak closed the lazy way) but a 204 for a write or a delete to
//! one, ids found by their prefix, thin list items, `page[number]`/`page[size]` paging, a
//! `filter[email]` and `filter[external_id]` that are exact and other filters silently
//! ignored, team membership as a list on the team guarded by its version, and roles named by
//! UUIDs that differ on every instance.
//! It is what `mappings/orbit.yaml` and `mappings/orbit-roles.yaml` describe; it knows nothing
//! of SCIM.
//!
//! | endpoint | answer |
//! | --- | --- |
//! | `POST /oauth/token` (form: `grant_type=client_credentials`, client id and secret as form fields or HTTP Basic) | 200 `{"access_token", "token_type": "Bearer", "expires_in"}`; wrong client 401 `{"error": "invalid_client"}` |
//! | `GET /api/v2/users?page[number]=&page[size]=&filter[email]=&filter[external_id]=&filter[role_id]=` | 200 `{"data": [{"id", "username", "email", "first_name", "last_name"}…], "meta": {"total"}}` |
//! | `POST /api/v2/users` `{"user": {…}}` | **200** `{"data": {…}}` |
//! | `GET /api/v2/users/{id}` | 200 `{"data": {…}}`; unknown **403** |
//! | `PATCH /api/v2/users/{id}` `{"user": {…}}` | **204**, no body; only the keys sent change; unknown id 204 too |
//! | `DELETE /api/v2/users/{id}` | 204 (unknown id too); a hard delete |
//! | `GET /api/v2/teams?member_id=` | 200 `{"data": [{"id", "name"}…]}`, every team, no total |
//! | `POST /api/v2/teams` `{"team": {"name", "member_ids"?}}` | 200 `{"data": {…}}` |
//! | `GET /api/v2/teams/{id}` | 200 `{"data": {…}}`; unknown 403 |
//! | `PATCH /api/v2/teams/{id}` `{"team": {…}}`, optional `If-Match` | 204; stale version 412 |
//! | `DELETE /api/v2/teams/{id}` | 204 (unknown id too) |
//! | `GET /api/v2/roles` | 200 `{"data": [{"id", "name"}…]}`; read-only (405 otherwise) |
//! | `GET /api/v2/roles/{id}` | 200 `{"data": {"id", "name", "user_count"}}`; unknown 403; read-only (405 otherwise) |
//!
//! A user is `{"id", "username", "email", "first_name", "last_name", "title", "office_phone",
//! "mobile_phone", "department", "employee_number", "external_id", "role_id", "status",
//! "created_at", "updated_at"}` (`employee_number` is text: HR's numbers keep their leading
//! zeros; `external_id` is the identity provider's id for the user, kept for it, not unique).
//! The rules, as Orbit's own clients see them:
//! - every `/api/v2` request needs `Authorization: Bearer <token>` with a token from
//!   `/oauth/token` that has not expired ([`DEFAULT_TOKEN_LIFETIME`]); otherwise 401
//!   `{"errors": [{"status": "401", "code": "unauthorized"}]}` (`orbit/tokens.rs`);
//! - ids are `usr_`/`tm_` and 16 random lowercase hex digits. An id in a path is resolved by
//!   prefix: `/api/v2/users/usr_3f` is the one user whose id starts with `usr_3f`. No match, or
//!   more than one, is 403 `{"errors": [{"status": "403", "code": "forbidden", "title":
//!   "Forbidden"}]}` for a read, and a silent 204 for a write or a delete;
//! - a body must be a JSON object with the record under its root key (400 otherwise); keys
//!   that are not attributes are ignored, and so are `id`, `created_at`, `updated_at`;
//! - validation errors are 422 `{"errors": [{"status": "422", "code": "invalid", "source":
//!   {"pointer": "/user/<field>"}, "detail"}…]}`: a text field sent as something else than
//!   text, a blank username (the sign-in name, the e-mail when none is given), a `status` not
//!   in [`STATUSES`], a `role_id` that names no role. Nothing is unique: two users may share a
//!   username or an e-mail;
//! - the text fields (all but `role_id` and `status`: `title`, `office_phone`,
//!   `mobile_phone`, `department`, `employee_number`, `external_id`…) are `""` when there is
//!   none, never null (null sent is stored as `""`; a blank `username` becomes the e-mail); a
//!   new user
//!   without a `role_id` gets the Member role's; `status` is `active` by default, and
//!   deactivation is `status: suspended` through PATCH;
//! - the list is in id order; `page[number]` is 1-based, `page[size]` at most
//!   [`MAX_PAGE_SIZE`] (more is served as that many), [`DEFAULT_PAGE_SIZE`] by default; a page
//!   parameter that is not a positive integer is 400. `filter[email]` keeps the users whose
//!   e-mail is exactly that (case included), `filter[external_id]` and `filter[role_id]`
//!   likewise (several given: all must match; an empty value matches the users with none; a
//!   role id is matched whole, not by prefix); any other `filter[…]` is
//!   ignored. List items are thin: `id`, `username`, `email`, `first_name`, `last_name` only;
//! - every answer echoes the request's `X-Request-Id` and carries `X-RateLimit-Limit` /
//!   `X-RateLimit-Remaining` (informational: nothing is ever refused for rate).
//!
//! Teams are in `orbit/teams.rs`, the token endpoint in `orbit/tokens.rs`, roles in
//! `orbit/roles.rs`.
//!
//! For tests there are switches no HTTP request reaches: [`Orbit::seed`],
//! [`Orbit::seed_team`], [`Orbit::expire_tokens`], [`Orbit::issue_token`],
//! [`Orbit::set_token_lifetime`], [`Orbit::edit_user`], [`Orbit::edit_team`] and the
//! [`RequestCounts`]' `fail` and `slow`; and what a test reads: the records ([`Orbit::user`],
//! [`Orbit::team`]…), the role ids ([`Orbit::role_id`]), the tokens issued
//! ([`Orbit::tokens_issued`], [`Orbit::token_grants`]) and the bodies received
//! ([`Orbit::bodies`]). The value is a cheap
//! handle ([`Clone`]) on shared in-memory state, so a test keeps one while pingora owns another.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use async_trait::async_trait;
use http::{header, HeaderValue, Method, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::{json, Map, Value};

use super::common::{
    decode_segment, empty_response, json_response, now_rfc3339, read_body, read_json_object,
    secret_matches, segments_under, serve_alone, with_allow, BodyError, BodyLog, RequestCounts,
    RequestHead, NO_ROUTE,
};
use scim_gateway_hosting::{RunningServer, StartError};

mod roles;
mod teams;
mod tokens;

pub use roles::ROLE_NAMES;
pub use tokens::{ClientAuth, TokenGrant};

/// Path pattern of the token endpoint.
pub const TOKEN: &str = "/oauth/token";
/// Path pattern of the users collection (also the key of its request counts).
pub const USERS: &str = "/api/v2/users";
/// Path pattern of one user.
pub const USER: &str = "/api/v2/users/{id}";
/// Path pattern of the teams collection.
pub const TEAMS: &str = "/api/v2/teams";
/// Path pattern of one team.
pub const TEAM: &str = "/api/v2/teams/{id}";
/// Path pattern of the roles collection.
pub const ROLES: &str = "/api/v2/roles";
/// Path pattern of one role.
pub const ROLE: &str = "/api/v2/roles/{id}";
/// Page size when `page[size]` is not given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page served; a larger `page[size]` is lowered to it.
pub const MAX_PAGE_SIZE: u64 = 50;
/// The values of a user's `status`.
pub const STATUSES: [&str; 2] = ["active", "suspended"];
/// How long a token lives unless [`Orbit::set_token_lifetime`] says otherwise.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// The request budget per minute announced in `X-RateLimit-Limit` (never enforced).
pub const RATE_LIMIT: u64 = 600;

/// The text attributes of a user a request body may set, in the order a user is rendered
/// (after `id`); `role_id` and `status` follow.
const USER_TEXT_ATTRIBUTES: [&str; 10] = [
    "username",
    "email",
    "first_name",
    "last_name",
    "title",
    "office_phone",
    "mobile_phone",
    "department",
    "employee_number",
    "external_id",
];

/// The list filters Orbit answers itself (each exact): `filter[<field>]=value`.
const USER_FILTERS: [&str; 3] = ["email", "external_id", "role_id"];

/// The fields of a user in a list item.
const LISTED_USER_FIELDS: [&str; 5] = ["id", "username", "email", "first_name", "last_name"];

/// The example API "Orbit". Cloning gives another handle on the same records and counters.
#[derive(Clone)]
pub struct Orbit {
    inner: Arc<Inner>,
}

struct Inner {
    client_id: String,
    client_secret: String,
    /// The roles, in [`ROLE_NAMES`] order: (id, name).
    roles: Vec<(String, &'static str)>,
    tokens: Mutex<tokens::Tokens>,
    state: RwLock<State>,
    counts: RequestCounts,
    /// The JSON bodies received, with their endpoint (the latest [`REQUEST_IDS_KEPT`](crate::common::REQUEST_IDS_KEPT)).
    bodies: BodyLog,
    /// The minute of the rate-limit window and the requests counted in it.
    rate_window: Mutex<(u64, u64)>,
    /// Seeded users so far (names the next one).
    seeded: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Users by id, each the full record.
    users: BTreeMap<String, Map<String, Value>>,
    /// Teams by id, each the full record.
    teams: BTreeMap<String, Map<String, Value>>,
}

/// What a path segment names among records keyed by id: the id of the one record whose id it
/// is or begins with.
fn resolve<'m, V>(records: &'m BTreeMap<String, V>, segment: &str) -> Option<&'m str> {
    let prefix = decode_segment(segment)?;
    if prefix.is_empty() {
        return None;
    }
    if let Some((id, _)) = records.get_key_value(&prefix) {
        return Some(id);
    }
    let mut matches = records
        .range(prefix.clone()..)
        .take_while(|(id, _)| id.starts_with(&prefix));
    let (first, _) = matches.next()?;
    match matches.next() {
        None => Some(first),
        Some(_) => None,
    }
}

/// A new random id: `prefix` and 16 lowercase hex digits, not one of `taken`.
fn new_id<V>(prefix: &str, taken: &BTreeMap<String, V>) -> String {
    loop {
        let hex = uuid::Uuid::new_v4().simple().to_string();
        // The first 12 and last 4 digits of a v4 UUID are all random (the version and variant
        // digits are in between).
        let id = format!("{prefix}{}{}", &hex[..12], &hex[28..]);
        if !taken.contains_key(&id) {
            return id;
        }
    }
}

impl Orbit {
    /// An empty Orbit whose token endpoint accepts the client `client_id` with
    /// `client_secret`. The role ids are generated now, different on every instance.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        Orbit {
            inner: Arc::new(Inner {
                client_id: client_id.into(),
                client_secret: client_secret.into(),
                roles: roles::generate(),
                tokens: Mutex::new(tokens::Tokens::default()),
                state: RwLock::new(State::default()),
                counts: RequestCounts::default(),
                bodies: BodyLog::default(),
                rate_window: Mutex::default(),
                seeded: AtomicU64::new(0),
            }),
        }
    }

    /// Serves this API on `addr` (one worker thread) until the returned handle is dropped.
    pub fn serve(&self, addr: SocketAddr) -> Result<RunningServer, StartError> {
        serve_alone("orbit", addr, self.clone())
    }

    /// Adds `n` active users with every field filled (e-mails `seed.user{k}@example.com`, k
    /// counting from 1 on each instance), role Member, without going through HTTP, and returns
    /// their ids in the order they were made.
    pub fn seed(&self, n: usize) -> Vec<String> {
        let now = now_rfc3339();
        let member = self.role_id("Member");
        let mut state = self.write();
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let k = self.inner.seeded.fetch_add(1, Ordering::Relaxed) + 1;
            let id = new_id("usr_", &state.users);
            let mut record = new_user(&id, &member, &now);
            for (key, value) in [
                ("username", format!("seed.user{k}@example.com")),
                ("email", format!("seed.user{k}@example.com")),
                ("first_name", "Seed".to_string()),
                ("last_name", format!("User{k}")),
                ("title", "Engineer".to_string()),
                ("office_phone", format!("+1 555 01{:02}", k % 100)),
                ("mobile_phone", format!("+1 555 02{:02}", k % 100)),
                ("department", "Delivery".to_string()),
                ("employee_number", format!("E{k:05}")),
                ("external_id", format!("seed-{k}")),
            ] {
                record.insert(key.into(), json!(value));
            }
            state.users.insert(id.clone(), record);
            ids.push(id);
        }
        ids
    }

    /// The request counters (total and per endpoint, e.g. `("PATCH", TEAM)`), with their
    /// failure and delay switches.
    pub fn requests(&self) -> &RequestCounts {
        &self.inner.counts
    }

    /// How many requests this API received, whatever their outcome (token requests included).
    pub fn request_count(&self) -> u64 {
        self.inner.counts.total()
    }

    /// The JSON bodies received by `method` `pattern` (e.g. `("PATCH", USER)`), whatever their
    /// outcome, oldest first (of the latest [`REQUEST_IDS_KEPT`](crate::common::REQUEST_IDS_KEPT) bodies of any endpoint).
    /// Token requests are form-encoded and not kept.
    pub fn bodies(&self, method: &str, pattern: &str) -> Vec<Value> {
        self.inner.bodies.of(method, pattern)
    }

    /// How many users exist (in any status).
    pub fn user_count(&self) -> usize {
        self.read().users.len()
    }

    /// User `id`'s record (the full id, no prefix), as `GET /api/v2/users/{id}` renders it
    /// inside `{"data": …}`.
    pub fn user(&self, id: &str) -> Option<Value> {
        self.read().users.get(id).cloned().map(Value::Object)
    }

    /// The records of the users whose e-mail is `email` (exactly), in id order.
    pub fn users_by_email(&self, email: &str) -> Vec<Value> {
        self.read()
            .users
            .values()
            .filter(|u| u.get("email").and_then(Value::as_str) == Some(email))
            .cloned()
            .map(Value::Object)
            .collect()
    }

    /// Changes the given attributes of user `id` as the product's own screens would (the rules
    /// of `PATCH /api/v2/users/{id}`): a change the gateway did not make. `false` if there is
    /// no such user or the change is refused.
    pub fn edit_user(&self, id: &str, changes: &Map<String, Value>) -> bool {
        let roles = &self.inner.roles;
        let mut state = self.write();
        let Some(current) = state.users.get(id) else {
            return false;
        };
        match updated_user(current, changes, roles) {
            Ok(record) => {
                state.users.insert(id.to_string(), record);
                true
            }
            Err(_) => false,
        }
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

/// A new user record: the text fields empty, role `role_id`, active, the timestamps now.
fn new_user(id: &str, role_id: &str, now: &str) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert("id".into(), json!(id));
    for name in USER_TEXT_ATTRIBUTES {
        record.insert(name.into(), json!(""));
    }
    record.insert("role_id".into(), json!(role_id));
    record.insert("status".into(), json!("active"));
    record.insert("created_at".into(), json!(now));
    record.insert("updated_at".into(), json!(now));
    record
}

/// `current` with `params` applied (the attributes it names; others ignored), validated, and
/// `updated_at` set when something changed.
fn updated_user(
    current: &Map<String, Value>,
    params: &Map<String, Value>,
    roles: &[(String, &'static str)],
) -> Result<Map<String, Value>, ApiError> {
    let mut record = current.clone();
    let mut errors = Errors::new("user");
    for name in USER_TEXT_ATTRIBUTES
        .iter()
        .copied()
        .chain(["role_id", "status"])
    {
        match params.get(name) {
            None => {}
            Some(Value::Null) if name != "role_id" && name != "status" => {
                record.insert(name.into(), json!(""));
            }
            Some(Value::String(s)) => {
                record.insert(name.into(), json!(s));
            }
            Some(_) => errors.add(name, "must be a string"),
        }
    }
    // The sign-in name is the e-mail unless one is given.
    if record
        .get("username")
        .and_then(Value::as_str)
        .is_none_or(|u| u.trim().is_empty())
    {
        let email = record.get("email").cloned().unwrap_or(json!(""));
        record.insert("username".into(), email);
    }
    let text = |key: &str| record.get(key).and_then(Value::as_str).unwrap_or("");
    if text("username").trim().is_empty() {
        errors.add("username", "can't be blank");
    }
    if !STATUSES.contains(&text("status")) {
        errors.add("status", "is not included in the list");
    }
    if !roles.iter().any(|(id, _)| id == text("role_id")) {
        errors.add("role_id", "does not name a role");
    }
    errors.check()?;
    if record != *current {
        record.insert("updated_at".into(), json!(now_rfc3339()));
    }
    Ok(record)
}

/// The object under the body's root key `key`; 400 when it is missing or not an object.
fn require<'b>(
    body: &'b Map<String, Value>,
    key: &str,
) -> Result<&'b Map<String, Value>, ApiError> {
    match body.get(key) {
        Some(Value::Object(params)) => Ok(params),
        _ => Err(ApiError::BadRequest(format!(
            "the body must hold the record under \"{key}\""
        ))),
    }
}

/// Validation errors of one kind of record, answered as 422 with one JSON:API error each.
#[derive(Debug)]
struct Errors {
    root: &'static str,
    list: Vec<Value>,
}

impl Errors {
    fn new(root: &'static str) -> Self {
        Errors {
            root,
            list: Vec::new(),
        }
    }

    fn add(&mut self, field: &str, detail: &str) {
        self.list.push(json!({
            "status": "422",
            "code": "invalid",
            "source": {"pointer": format!("/{}/{field}", self.root)},
            "detail": format!("{field} {detail}"),
        }));
    }

    fn check(self) -> Result<(), ApiError> {
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Invalid(self.list))
        }
    }
}

/// A refusal, each in the shape Orbit answers it.
#[derive(Debug)]
enum ApiError {
    /// 401 `{"errors": [{"status": "401", "code": "unauthorized"}]}`.
    Unauthorized,
    /// 403 `{"errors": [{"status": "403", "code": "forbidden", "title": "Forbidden"}]}`: no
    /// such record (or an ambiguous id prefix).
    Forbidden,
    /// 404: no such route.
    NotFound,
    /// 405, with the methods the route allows.
    MethodNotAllowed(&'static str),
    /// 400: a body that is not JSON, lacks its root key, or a bad query parameter.
    BadRequest(String),
    /// 412 `{"errors": [{"status": "412", "code": "stale"}]}`: `If-Match` names another
    /// version.
    Stale,
    /// 413.
    TooLarge,
    /// 422, one error per field.
    Invalid(Vec<Value>),
    /// 503 (an injected outage).
    Unavailable,
}

impl ApiError {
    fn into_response(self) -> Response<Vec<u8>> {
        let one = |status: &str, code: &str| json!({"errors": [{"status": status, "code": code}]});
        let (status, body) = match &self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, one("401", "unauthorized")),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                json!({"errors": [{"status": "403", "code": "forbidden", "title": "Forbidden"}]}),
            ),
            ApiError::NotFound => (StatusCode::NOT_FOUND, one("404", "not_found")),
            ApiError::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                one("405", "method_not_allowed"),
            ),
            ApiError::BadRequest(detail) => (
                StatusCode::BAD_REQUEST,
                json!({"errors": [{"status": "400", "code": "bad_request", "detail": detail}]}),
            ),
            ApiError::Stale => (StatusCode::PRECONDITION_FAILED, one("412", "stale")),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, one("413", "too_large")),
            ApiError::Invalid(list) => {
                (StatusCode::UNPROCESSABLE_ENTITY, json!({ "errors": list }))
            }
            ApiError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, one("503", "unavailable")),
        };
        let mut resp = json_response(status, &body);
        match self {
            ApiError::Unauthorized => {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            ApiError::MethodNotAllowed(allow) => resp = with_allow(resp, allow),
            _ => {}
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
    Token,
    Users,
    User(&'a str),
    Teams,
    Team(&'a str),
    Roles,
    Role(&'a str),
    None,
}

impl<'a> Route<'a> {
    fn of(path: &'a str) -> Self {
        let path = match path.strip_suffix('/') {
            Some(trimmed) if !trimmed.is_empty() => trimmed,
            _ => path,
        };
        if path == TOKEN {
            return Route::Token;
        }
        match segments_under(path, ROLES).as_deref() {
            Some([]) => return Route::Roles,
            Some([id]) => return Route::Role(id),
            Some(_) => return Route::None,
            None => {}
        }
        match segments_under(path, USERS).as_deref() {
            Some([]) => return Route::Users,
            Some([id]) => return Route::User(id),
            Some(_) => return Route::None,
            None => {}
        }
        match segments_under(path, TEAMS).as_deref() {
            Some([]) => Route::Teams,
            Some([id]) => Route::Team(id),
            _ => Route::None,
        }
    }

    fn pattern(&self) -> &'static str {
        match self {
            Route::Token => TOKEN,
            Route::Users => USERS,
            Route::User(_) => USER,
            Route::Teams => TEAMS,
            Route::Team(_) => TEAM,
            Route::Roles => ROLES,
            Route::Role(_) => ROLE,
            Route::None => NO_ROUTE,
        }
    }
}

/// The first value of query parameter `name`, if given.
fn first_param<'p>(pairs: &'p [(String, String)], name: &str) -> Option<&'p str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `page[number]` and `page[size]` of the user list: positive integers (400 otherwise), the
/// size lowered to [`MAX_PAGE_SIZE`].
#[derive(Debug, Clone, Copy)]
struct Paging {
    number: u64,
    size: u64,
}

impl Paging {
    fn of(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let positive = |name: &str, default: u64| -> Result<u64, ApiError> {
            match first_param(pairs, name) {
                None => Ok(default),
                Some(v) => v.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    ApiError::BadRequest(format!("{name} must be a positive integer"))
                }),
            }
        };
        Ok(Paging {
            number: positive("page[number]", 1)?,
            size: positive("page[size]", DEFAULT_PAGE_SIZE)?.min(MAX_PAGE_SIZE),
        })
    }

    /// This page of `items` (every match, in order), and how many there are.
    fn take<T>(&self, items: impl Iterator<Item = T>) -> (Vec<T>, u64) {
        let skip = (self.number - 1).saturating_mul(self.size);
        let mut total = 0u64;
        let mut page = Vec::new();
        for item in items {
            if total >= skip && (page.len() as u64) < self.size {
                page.push(item);
            }
            total += 1;
        }
        (page, total)
    }
}

/// `{"data": record}`.
fn data(record: Value) -> Value {
    json!({ "data": record })
}

/// The fields `fields` of `record`, in that order (a thin list item).
fn thin(record: &Map<String, Value>, fields: &[&str]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|k| {
                (
                    (*k).to_string(),
                    record.get(*k).cloned().unwrap_or(Value::Null),
                )
            })
            .collect(),
    )
}

#[async_trait]
impl ServeHttp for Orbit {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let head = RequestHead::of(session);
        let route = Route::of(&head.path);
        let mut resp = if self.inner.counts.arrive(&head, route.pattern()).await {
            ApiError::Unavailable.into_response()
        } else {
            match self.handle(&head, route, session).await {
                Ok(resp) => resp,
                Err(e) => e.into_response(),
            }
        };
        let remaining = self.rate_remaining();
        let headers = resp.headers_mut();
        if let Some(id) = head.headers.get("x-request-id") {
            headers.insert("x-request-id", id.clone());
        }
        headers.insert("x-ratelimit-limit", HeaderValue::from(RATE_LIMIT));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
        resp
    }
}

impl Orbit {
    /// What `X-RateLimit-Remaining` says: the budget of the current minute less the requests
    /// received in it (this one included), never below 0.
    fn rate_remaining(&self) -> u64 {
        let minute = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() / 60)
            .unwrap_or(0);
        let mut window = self
            .inner
            .rate_window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if window.0 != minute {
            *window = (minute, 0);
        }
        window.1 += 1;
        RATE_LIMIT.saturating_sub(window.1)
    }

    async fn handle(
        &self,
        head: &RequestHead,
        route: Route<'_>,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        if let Route::Token = route {
            return self.token_endpoint(head, session).await;
        }
        if let Route::None = route {
            return Err(ApiError::NotFound);
        }
        self.authenticate(head)?;
        match (route, &head.method) {
            (Route::Users, &Method::GET) => self.list_users(head),
            (Route::Users, &Method::POST) => {
                let body = self.read_object(head, session).await?;
                self.create_user(&body)
            }
            (Route::Users, _) => Err(ApiError::MethodNotAllowed("GET, POST")),
            (Route::User(id), &Method::GET) => {
                let state = self.read();
                let id = resolve(&state.users, id).ok_or(ApiError::Forbidden)?;
                let record = state.users.get(id).cloned().ok_or(ApiError::Forbidden)?;
                drop(state);
                Ok(json_response(StatusCode::OK, &data(Value::Object(record))))
            }
            (Route::User(id), &Method::PATCH) => {
                let body = self.read_object(head, session).await?;
                self.patch_user(id, &body)?;
                Ok(empty_response(StatusCode::NO_CONTENT))
            }
            (Route::User(id), &Method::DELETE) => {
                self.write().delete_user(id);
                Ok(empty_response(StatusCode::NO_CONTENT))
            }
            (Route::User(_), _) => Err(ApiError::MethodNotAllowed("GET, PATCH, DELETE")),
            (Route::Roles, &Method::GET) => Ok(self.list_roles()),
            (Route::Roles, _) => Err(ApiError::MethodNotAllowed("GET")),
            (Route::Role(id), &Method::GET) => self.get_role(id),
            (Route::Role(_), _) => Err(ApiError::MethodNotAllowed("GET")),
            (route @ (Route::Teams | Route::Team(_)), _) => {
                self.handle_teams(head, route, session).await
            }
            (Route::Token | Route::None, _) => Err(ApiError::NotFound),
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

    fn list_users(&self, head: &RequestHead) -> Result<Response<Vec<u8>>, ApiError> {
        let pairs = head.query_pairs();
        let paging = Paging::of(&pairs)?;
        let filters: Vec<(&str, &str)> = USER_FILTERS
            .iter()
            .filter_map(|field| {
                first_param(&pairs, &format!("filter[{field}]")).map(|value| (*field, value))
            })
            .collect();
        let state = self.read();
        let matches = |user: &&Map<String, Value>| {
            filters
                .iter()
                .all(|(field, value)| user.get(*field).and_then(Value::as_str) == Some(*value))
        };
        let (users, total) = paging.take(
            state
                .users
                .values()
                .filter(matches)
                .map(|u| thin(u, &LISTED_USER_FIELDS)),
        );
        drop(state);
        Ok(json_response(
            StatusCode::OK,
            &json!({"data": users, "meta": {"total": total}}),
        ))
    }

    fn create_user(&self, body: &Map<String, Value>) -> Result<Response<Vec<u8>>, ApiError> {
        let params = require(body, "user")?;
        let member = self.role_id("Member");
        let now = now_rfc3339();
        let mut state = self.write();
        let id = new_id("usr_", &state.users);
        let mut record = updated_user(&new_user(&id, &member, &now), params, &self.inner.roles)?;
        record.insert("updated_at".into(), json!(now));
        state.users.insert(id, record.clone());
        drop(state);
        Ok(json_response(StatusCode::OK, &data(Value::Object(record))))
    }

    /// `PATCH /api/v2/users/{id}`: a segment that names no user (or several) changes nothing,
    /// and says nothing either.
    fn patch_user(&self, segment: &str, body: &Map<String, Value>) -> Result<(), ApiError> {
        let params = require(body, "user")?;
        let mut state = self.write();
        let Some(id) = resolve(&state.users, segment).map(str::to_string) else {
            return Ok(());
        };
        let Some(current) = state.users.get(&id) else {
            return Ok(());
        };
        let record = updated_user(current, params, &self.inner.roles)?;
        state.users.insert(id, record);
        Ok(())
    }
}

impl State {
    /// Deletes the user a path segment names, and takes it out of every team it was in (each
    /// such team's version moves on). Nothing if it names no user.
    fn delete_user(&mut self, segment: &str) {
        let Some(id) = resolve(&self.users, segment).map(str::to_string) else {
            return;
        };
        self.users.remove(&id);
        let now = now_rfc3339();
        for team in self.teams.values_mut() {
            teams::remove_member(team, &id, &now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_client::{Client, Reply};
    use scim_gateway_hosting::free_loopback_addr;

    pub(super) const CLIENT_ID: &str = "scim-gateway";
    pub(super) const SECRET: &str = "orbit-test-secret";

    pub(super) struct Running {
        pub api: Orbit,
        /// A client sending a valid bearer token.
        pub client: Client,
        _server: RunningServer,
    }

    pub(super) fn running() -> Running {
        let api = Orbit::new(CLIENT_ID, SECRET);
        let addr = free_loopback_addr().unwrap();
        let server = api.serve(addr).unwrap();
        let token = api.issue_token();
        Running {
            client: Client::new(addr, Some(("Authorization", format!("Bearer {token}")))),
            api,
            _server: server,
        }
    }

    /// Creates a user through the API and returns its record.
    pub(super) fn create(client: &Client, user: Value) -> Value {
        let reply = client.send("POST", USERS, &json!({ "user": user }));
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        reply.json["data"].clone()
    }

    /// The ids of the items of a list answer.
    pub(super) fn ids(reply: &Reply) -> Vec<String> {
        reply.json["data"]
            .as_array()
            .unwrap_or_else(|| panic!("no data in {:?}", reply.json))
            .iter()
            .map(|item| item["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn forbidden() -> Value {
        json!({"errors": [{"status": "403", "code": "forbidden", "title": "Forbidden"}]})
    }

    #[test]
    fn a_create_is_answered_200_with_the_record_in_data() {
        let t = running();
        let reply = t.client.send(
            "POST",
            USERS,
            &json!({"user": {"id": "usr_0000000000000000", "email": "ada@example.com",
                             "first_name": "Ada", "last_name": "Lovelace", "shoe_size": 7,
                             "created_at": "2001-01-01T00:00:00Z"}}),
        );
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        assert_eq!(reply.header("location"), None);
        let body = reply.json.as_object().unwrap();
        assert_eq!(body.keys().collect::<Vec<_>>(), ["data"], "wrapped");
        let user = &reply.json["data"];
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
                "username",
                "email",
                "first_name",
                "last_name",
                "title",
                "office_phone",
                "mobile_phone",
                "department",
                "employee_number",
                "external_id",
                "role_id",
                "status",
                "created_at",
                "updated_at"
            ]
        );
        let id = user["id"].as_str().unwrap();
        assert_ne!(id, "usr_0000000000000000", "the id sent is ignored");
        assert!(
            id.len() == 20
                && id.starts_with("usr_")
                && id[4..]
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{id}"
        );
        assert_eq!(user["office_phone"], "", "never null");
        assert_eq!(user["title"], "");
        assert_eq!(user["status"], "active");
        assert_eq!(
            user["role_id"],
            t.api.role_id("Member"),
            "Member by default"
        );
        assert_ne!(user["created_at"], "2001-01-01T00:00:00Z");
        assert_eq!(t.client.get(&format!("{USERS}/{id}")).json, reply.json);
        assert_eq!(t.api.user(id).unwrap(), *user);

        // E-mails are not unique.
        let again = create(&t.client, json!({"email": "ada@example.com"}));
        assert_ne!(again["id"], user["id"]);
        assert_eq!(t.api.users_by_email("ada@example.com").len(), 2);
    }

    #[test]
    fn an_invalid_user_is_422_field_by_field() {
        let t = running();
        let reply = t.client.send(
            "POST",
            USERS,
            &json!({"user": {"email": " ", "first_name": 7, "status": "gone",
                             "role_id": "admin"}}),
        );
        assert_eq!(reply.status, 422);
        let pointers: Vec<&str> = reply.json["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["source"]["pointer"].as_str().unwrap())
            .collect();
        assert_eq!(
            pointers,
            [
                "/user/first_name",
                "/user/username",
                "/user/status",
                "/user/role_id"
            ]
        );
        assert_eq!(reply.json["errors"][0]["status"], "422");
        assert_eq!(t.api.user_count(), 0);
        for bad in [
            "[]",
            "not json",
            r#"{"email": "x@example.com"}"#,
            r#"{"user": 1}"#,
        ] {
            let reply = t.client.call("POST", USERS, Some(bad));
            assert_eq!(reply.status, 400, "{bad}");
            assert_eq!(reply.json["errors"][0]["code"], "bad_request", "{bad}");
        }
    }

    #[test]
    fn an_update_is_204_with_no_body_and_changes_only_the_keys_sent() {
        let t = running();
        let user = create(
            &t.client,
            json!({"email": "ada@example.com", "first_name": "Ada", "title": "Analyst",
                   "office_phone": "+44 1"}),
        );
        let id = user["id"].as_str().unwrap();
        let reply = t.client.send(
            "PATCH",
            &format!("{USERS}/{id}"),
            &json!({"user": {"title": "Countess", "office_phone": null, "id": "usr_x",
                             "status": "suspended", "role_id": t.api.role_id("Editor")}}),
        );
        assert_eq!(reply.status, 204);
        assert_eq!(reply.json, Value::Null, "no body");
        let after = t.api.user(id).unwrap();
        assert_eq!(after["title"], "Countess");
        assert_eq!(after["office_phone"], "", "null is stored as empty");
        assert_eq!(after["status"], "suspended", "deactivation is a PATCH");
        assert_eq!(after["role_id"], t.api.role_id("Editor"));
        assert_eq!(after["first_name"], "Ada", "absent keys are kept");
        assert_eq!(after["id"], user["id"]);

        let invalid = t.client.send(
            "PATCH",
            &format!("{USERS}/{id}"),
            &json!({"user": {"status": "deleted"}}),
        );
        assert_eq!(invalid.status, 422);
        assert_eq!(
            t.api.user(id).unwrap(),
            after,
            "a refused write changes nothing"
        );
        assert!(
            t.client
                .call("PUT", &format!("{USERS}/{id}"), Some("{}"))
                .status
                == 405
        );
    }

    #[test]
    fn an_unknown_id_is_403_to_read_and_204_to_write() {
        let t = running();
        let id = t.api.seed(1).remove(0);
        let before = t.api.user(&id).unwrap();
        for unknown in [
            "usr_ffffffffffffffff",
            "nobody",
            "%FF",
            "usr_0000000000000000x",
        ] {
            let path = format!("{USERS}/{unknown}");
            let read = t.client.get(&path);
            assert_eq!(read.status, 403, "{unknown}");
            assert_eq!(read.json, forbidden());
            let write = t
                .client
                .send("PATCH", &path, &json!({"user": {"title": "Ghost"}}));
            assert_eq!(write.status, 204, "{unknown}: a write to nobody succeeds");
            assert_eq!(write.json, Value::Null);
            let delete = t.client.call("DELETE", &path, None);
            assert_eq!(delete.status, 204, "{unknown}");
        }
        assert_eq!(t.api.user_count(), 1);
        assert_eq!(t.api.user(&id).unwrap(), before, "nothing changed");
        let deleted = t.client.call("DELETE", &format!("{USERS}/{id}"), None);
        assert_eq!(deleted.status, 204);
        assert_eq!(t.api.user_count(), 0, "a hard delete");
        assert_eq!(t.client.get(&format!("{USERS}/{id}")).status, 403);
    }

    #[test]
    fn ids_are_resolved_by_prefix_and_an_ambiguous_one_is_unknown() {
        let t = running();
        let ids = t.api.seed(40);
        // The shortest prefix of each id that no other id shares.
        for id in &ids {
            let prefix = (5..=id.len())
                .map(|n| &id[..n])
                .find(|p| ids.iter().filter(|other| other.starts_with(p)).count() == 1)
                .unwrap();
            let reply = t.client.get(&format!("{USERS}/{prefix}"));
            assert_eq!(reply.status, 200, "{prefix}");
            assert_eq!(reply.json["data"]["id"], *id.as_str(), "{prefix}");
            // A longer segment is not a prefix of anything.
            assert_eq!(t.client.get(&format!("{USERS}/{id}0")).status, 403);
        }
        // "usr_" (and "usr_" + one digit, with 40 users) names several users.
        let ambiguous = t.client.get(&format!("{USERS}/usr_"));
        assert_eq!(ambiguous.status, 403);
        assert_eq!(ambiguous.json, forbidden());
        // A write through a unique prefix reaches the one user it names.
        let target = &ids[7];
        let prefix = &target[..target.len() - 2];
        let reply = t.client.send(
            "PATCH",
            &format!("{USERS}/{prefix}"),
            &json!({"user": {"title": "Found by prefix"}}),
        );
        assert_eq!(reply.status, 204);
        assert_eq!(t.api.user(target).unwrap()["title"], "Found by prefix");
        // An ambiguous write changes no one.
        let reply = t.client.send(
            "PATCH",
            &format!("{USERS}/usr_"),
            &json!({"user": {"title": "Everyone"}}),
        );
        assert_eq!(reply.status, 204);
        assert!(ids
            .iter()
            .all(|id| t.api.user(id).unwrap()["title"] != "Everyone"));
    }

    #[test]
    fn list_items_are_thin_and_paged_by_page_number_and_size() {
        let t = running();
        let mut all = t.api.seed(120);
        all.sort();
        let page = |query: &str| -> (Vec<String>, u64) {
            let reply = t.client.get(&format!("{USERS}?{query}"));
            assert_eq!(reply.status, 200, "{query}: {:?}", reply.json);
            (ids(&reply), reply.json["meta"]["total"].as_u64().unwrap())
        };
        let range = |from: usize, to: usize| all[from..to].to_vec();
        assert_eq!(page(""), (range(0, 20), 120), "in id order, 20 by default");
        assert_eq!(page("page[number]=2&page[size]=50"), (range(50, 100), 120));
        assert_eq!(
            page("page%5Bnumber%5D=3&page%5Bsize%5D=50"),
            (range(100, 120), 120)
        );
        assert_eq!(page("page[number]=4&page[size]=50"), (vec![], 120));
        assert_eq!(page("page[size]=500"), (range(0, 50), 120), "served as 50");
        assert_eq!(
            page("page=3&per_page=5"),
            (range(0, 20), 120),
            "other paging ignored"
        );
        for odd in [
            "page[number]=0",
            "page[number]=x",
            "page[size]=0",
            "page[size]=-5",
        ] {
            let reply = t.client.get(&format!("{USERS}?{odd}"));
            assert_eq!(reply.status, 400, "{odd}");
            assert_eq!(reply.json["errors"][0]["code"], "bad_request");
        }
        let list = t.client.get(&format!("{USERS}?page[size]=1"));
        let item = list.json["data"][0].as_object().unwrap();
        assert_eq!(
            item.keys().collect::<Vec<_>>(),
            ["id", "username", "email", "first_name", "last_name"],
            "thin items"
        );
    }

    #[test]
    fn filter_email_is_exact_and_other_filters_are_ignored() {
        let t = running();
        let ada = create(&t.client, json!({"email": "ada@example.com"}))["id"].clone();
        create(&t.client, json!({"email": "ada@example.com.au"}));
        let twin = create(&t.client, json!({"email": "ada@example.com"}))["id"].clone();
        let found = |query: &str| -> (Vec<String>, u64) {
            let reply = t.client.get(&format!("{USERS}?{query}"));
            assert_eq!(reply.status, 200, "{query}");
            (ids(&reply), reply.json["meta"]["total"].as_u64().unwrap())
        };
        let mut both = vec![
            ada.as_str().unwrap().to_string(),
            twin.as_str().unwrap().to_string(),
        ];
        both.sort();
        assert_eq!(found("filter[email]=ada@example.com"), (both, 2));
        assert_eq!(
            found("filter[email]=ADA@example.com").1,
            0,
            "case-sensitive"
        );
        assert_eq!(found("filter[email]=ada").1, 0, "no substring match");
        assert_eq!(found("filter[email]=ada%2Bx%40example.com").1, 0);
        assert_eq!(
            found("filter[name]=nobody").1,
            3,
            "an unknown filter is ignored"
        );
        assert_eq!(found("filter[status]=suspended").1, 3);
    }

    #[test]
    fn the_identity_fields_are_stored_never_null_and_external_id_is_a_filter() {
        let t = running();
        let user = create(
            &t.client,
            json!({"email": "ada@example.com", "external_id": "0a21f0f2-8d2a",
                   "employee_number": "01815", "department": "Mathematics",
                   "mobile_phone": "+44 20 7946 0018", "office_phone": "+44 1"}),
        );
        let id = user["id"].as_str().unwrap();
        assert_eq!(user["external_id"], "0a21f0f2-8d2a");
        assert_eq!(user["employee_number"], "01815", "text, leading zero kept");
        assert_eq!(user["department"], "Mathematics");
        assert_eq!(user["mobile_phone"], "+44 20 7946 0018");
        assert_eq!(
            user["office_phone"], "+44 1",
            "two phones, each its own field"
        );
        let bare = create(&t.client, json!({"email": "bare@example.com"}));
        for field in [
            "external_id",
            "employee_number",
            "department",
            "mobile_phone",
        ] {
            assert_eq!(bare[field], "", "{field}: empty, never null");
        }

        // PATCH changes only what it names; null is stored as "".
        let reply = t.client.send(
            "PATCH",
            &format!("{USERS}/{id}"),
            &json!({"user": {"external_id": "ada-ext-2", "department": null}}),
        );
        assert_eq!(reply.status, 204);
        let after = t.client.get(&format!("{USERS}/{id}")).json["data"].clone();
        assert_eq!(after["external_id"], "ada-ext-2");
        assert_eq!(after["department"], "");
        assert_eq!(after["employee_number"], "01815");
        assert_eq!(after["mobile_phone"], "+44 20 7946 0018");
        let invalid = t.client.send(
            "PATCH",
            &format!("{USERS}/{id}"),
            &json!({"user": {"employee_number": 1815}}),
        );
        assert_eq!(invalid.status, 422);
        assert_eq!(
            invalid.json["errors"][0]["source"]["pointer"],
            "/user/employee_number"
        );

        // filter[external_id] is exact, alone or with filter[email]; items stay thin.
        create(
            &t.client,
            json!({"email": "ada2@example.com", "external_id": "ada-ext-20"}),
        );
        let found = |query: &str| ids(&t.client.get(&format!("{USERS}?{query}")));
        assert_eq!(found("filter[external_id]=ada-ext-2"), [id]);
        assert_eq!(found("filter%5Bexternal_id%5D=ada-ext-2"), [id]);
        assert!(
            found("filter[external_id]=ADA-EXT-2").is_empty(),
            "case-sensitive"
        );
        assert!(
            found("filter[external_id]=ada-ext").is_empty(),
            "no substring"
        );
        assert_eq!(
            found("filter[external_id]=ada-ext-2&filter[email]=ada@example.com"),
            [id]
        );
        assert!(found("filter[external_id]=ada-ext-2&filter[email]=bare@example.com").is_empty());
        assert_eq!(
            found("filter[external_id]=").len(),
            1,
            "the users with none"
        );
        let list = t
            .client
            .get(&format!("{USERS}?filter[external_id]=ada-ext-2"));
        assert_eq!(list.json["meta"]["total"], 1);
        assert_eq!(
            list.json["data"][0]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            ["id", "username", "email", "first_name", "last_name"],
            "thin items"
        );

        // Seeded users have them too, each its own external id.
        let seeded = t.api.seed(2);
        let first = t.api.user(&seeded[0]).unwrap();
        let second = t.api.user(&seeded[1]).unwrap();
        assert_ne!(first["external_id"], second["external_id"]);
        assert_eq!(
            found(&format!(
                "filter[external_id]={}",
                first["external_id"].as_str().unwrap()
            )),
            [seeded[0].as_str()]
        );
    }

    #[test]
    fn routes_methods_counts_and_request_ids() {
        let t = running();
        let id = t.api.seed(1).remove(0);
        for (method, path) in [
            ("GET", "/api/v1/users"),
            ("GET", "/"),
            ("GET", "/api/v2/people"),
        ] {
            let reply = t.client.call(method, path, None);
            assert_eq!(reply.status, 404, "{method} {path}");
            assert_eq!(
                reply.json,
                json!({"errors": [{"status": "404", "code": "not_found"}]})
            );
        }
        let wrong = t.client.call("DELETE", USERS, None);
        assert_eq!(wrong.status, 405);
        assert_eq!(wrong.header("allow"), Some("GET, POST"));
        assert_eq!(
            t.client.get(&format!("{USERS}/{id}/")).status,
            200,
            "a trailing / is ignored"
        );
        t.api.requests().reset();
        t.client.get(USERS);
        t.client.get(&format!("{USERS}/{id}"));
        t.client.send(
            "PATCH",
            &format!("{USERS}/{id}"),
            &json!({"user": {"title": "x"}}),
        );
        t.client.with_auth(None).get(USERS);
        t.client.get("/api/nothing");
        let counts = t.api.requests();
        assert_eq!(t.api.request_count(), 5);
        assert_eq!(counts.get("GET", USERS), 2);
        assert_eq!(counts.get("GET", USER), 1);
        assert_eq!(counts.get("PATCH", USER), 1);
        assert_eq!(counts.get("GET", NO_ROUTE), 1);

        let traced = t
            .client
            .call_with("GET", USERS, None, &[("X-Request-Id", "req-42")]);
        assert_eq!(traced.header("x-request-id"), Some("req-42"));
        assert_eq!(traced.header("x-ratelimit-limit"), Some("600"));
        let remaining: u64 = traced
            .header("x-ratelimit-remaining")
            .unwrap()
            .parse()
            .unwrap();
        assert!(remaining < RATE_LIMIT);
        assert_eq!(t.client.get(USERS).header("x-request-id"), None);
    }

    #[test]
    fn outages_and_the_bodies_received() {
        let t = running();
        let id = t.api.seed(1).remove(0);
        t.api.requests().fail("GET", USER, 0, 1);
        let down = t.client.get(&format!("{USERS}/{id}"));
        assert_eq!(down.status, 503);
        assert_eq!(
            down.json,
            json!({"errors": [{"status": "503", "code": "unavailable"}]})
        );
        assert_eq!(t.client.get(&format!("{USERS}/{id}")).status, 200);
        t.client.send(
            "PATCH",
            &format!("{USERS}/{id}"),
            &json!({"user": {"title": "Lead"}}),
        );
        t.client.send(
            "PATCH",
            "/api/v2/users/usr_nobody",
            &json!({"user": {"title": "x"}}),
        );
        t.client.send("POST", USERS, &json!({"user": {}}));
        assert_eq!(
            t.api.bodies("PATCH", USER),
            [
                json!({"user": {"title": "Lead"}}),
                json!({"user": {"title": "x"}})
            ],
            "whatever came of them"
        );
        assert_eq!(t.api.bodies("post", USERS), [json!({"user": {}})]);
    }

    #[test]
    fn seeded_users_are_complete_and_edits_follow_the_rules() {
        let api = Orbit::new(CLIENT_ID, SECRET);
        let ids = api.seed(3);
        assert_eq!(ids.len(), 3);
        let user = api.user(&ids[1]).unwrap();
        assert_eq!(user["email"], "seed.user2@example.com");
        assert_eq!(user["status"], "active");
        assert_eq!(user["role_id"], api.role_id("Member"));
        for field in USER_TEXT_ATTRIBUTES {
            assert!(!user[field].as_str().unwrap().is_empty(), "{field}");
        }
        assert_eq!(api.user_count(), 3);
        assert_eq!(
            api.user("usr_"),
            None,
            "no prefix resolution in the test hooks"
        );
        assert!(api.edit_user(&ids[1], json!({"title": "Boss"}).as_object().unwrap()));
        assert_eq!(api.user(&ids[1]).unwrap()["title"], "Boss");
        assert!(!api.edit_user(&ids[1], json!({"status": "x"}).as_object().unwrap()));
        assert!(!api.edit_user("usr_x", json!({"title": "x"}).as_object().unwrap()));
        assert_eq!(api.seed(1).len(), 1);
        assert_eq!(api.users_by_email("seed.user4@example.com").len(), 1);
    }
}
