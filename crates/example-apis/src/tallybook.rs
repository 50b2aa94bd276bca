//! "Tallybook", an example legacy user API of a bookkeeping SaaS, answering the way such a
//! product's public API does: users only — no groups, no teams — each with a single role named
//! by a UUID that differs on every installation, a `licensed` seat flag, an
//! `invitation_status`, names, and the e-mail address as the sign-in. It has the quirks of one:
//! records wrapped in `{"user": …}` in answers and bodies, `page`/`page_size` paging with a
//! `pagination` object instead of a bare total, a `PUT` that changes only the keys it is sent
//! (there is no `PATCH`), 404 for an unknown id, 422 with the errors listed by field, an
//! invitation only its invitee can accept, and an account that always keeps an Owner: the last
//! Owner cannot be demoted, revoked or deleted through the API. It is what
//! `mappings/tallybook.yaml` describes; it knows nothing of SCIM.
//!
//! | endpoint | answer |
//! | --- | --- |
//! | `GET /api/users?page=&page_size=&email=&role_id=` | 200 `{"users": [{…}…], "pagination": {"page", "page_size", "total_entries", "total_pages"}}` |
//! | `POST /api/users` `{"user": {…}}` | 201 `{"user": {…}}` (and `Location`) |
//! | `GET /api/users/{id}` | 200 `{"user": {…}}`; unknown 404 |
//! | `PUT /api/users/{id}` `{"user": {…}}` | 200 `{"user": {…}}`; only the keys sent change |
//! | `DELETE /api/users/{id}` | 204; a hard delete |
//! | `GET /api/roles` | 200 `{"roles": [{"id", "name"}…]}`; read-only (405 otherwise) |
//!
//! A user is `{"id", "email", "first_name", "last_name", "role_id", "licensed",
//! "invitation_status", "created_at", "updated_at"}`; `id` is an integer, `role_id` the UUID of
//! one of the roles [`ROLE_NAMES`]. The rules, as Tallybook's own clients see them:
//! - every request needs `X-Tallybook-Token: <token>` ([`TOKEN_HEADER`]); missing or wrong,
//!   401 `{"message": "Invalid or missing API token"}` (an `Authorization` header is not
//!   looked at);
//! - an id in a path is a decimal integer written plainly (`7`, not `07` or `7x`); anything
//!   else, or an id no user has, is 404 `{"message": "User not found"}`. Ids are never reused.
//!   A path no route serves is 404 `{"message": "Not found"}`, a method a route does not serve
//!   405 `{"message": "Method not allowed"}` with `Allow`;
//! - a body must be a JSON object with the record under `"user"` (400 `{"message": …}`
//!   otherwise); keys that are not attributes are ignored, and so are `id`, `created_at` and
//!   `updated_at`;
//! - validation errors are 422 `{"message": "Validation failed", "errors": {"<field>":
//!   ["<message>"…]…}}`: a blank e-mail (`can't be blank`), one without exactly one `@` inside
//!   it (`is not a valid email address`), one another user has, whatever its case (`has
//!   already been taken`), a name that is not text (`must be a string`), a `role_id` that
//!   names no role (`is not a valid role`), a `licensed` that is not a boolean (`must be true
//!   or false`), an `invitation_status` not in [`INVITATION_STATUSES`] (`is not included in
//!   the list`) or `accepted` for a user who has not accepted (`can only be accepted by the
//!   invitee`);
//! - a new user gets the Assistant role ([`DEFAULT_ROLE`]) unless given one, `licensed:
//!   false`, and `invitation_status: pending` (an invitation e-mail is "sent"); it may be
//!   created `revoked` (no invitation). `first_name` and `last_name` are `""` when there is
//!   none, never null (null sent is stored as `""`);
//! - `invitation_status` moves as the product's screens move it: `revoked` removes a user's
//!   access, `pending` re-invites a revoked one, and a `pending` sent for a user who has
//!   accepted changes nothing (they are in already); only the invitee accepts
//!   ([`Tallybook::accept_invitation`]);
//! - the account always keeps an Owner: a write that would leave no Owner whose access is not
//!   revoked — the last such Owner given another role, or revoked — is 422 (the error under
//!   `role_id` or `invitation_status`), and so is deleting that Owner (under `base`). Any user
//!   may be made an Owner;
//! - the list is in id order with full records; `page` is 1-based, `page_size` at most
//!   [`MAX_PAGE_SIZE`] (more is served as that many, and `pagination.page_size` says so),
//!   [`DEFAULT_PAGE_SIZE`] by default; a page parameter that is not a positive integer is 400;
//!   a page past the end is empty. `email` keeps the user with that e-mail, compared ignoring
//!   case; `role_id` the users of that role (exact). Any other parameter is ignored.
//!
//! For tests there are switches no HTTP request reaches: [`Tallybook::seed`],
//! [`Tallybook::seed_owner`], [`Tallybook::accept_invitation`], [`Tallybook::edit_user`] and the
//! [`RequestCounts`]' `fail` and `slow`; and what a test reads: the records
//! ([`Tallybook::user`], [`Tallybook::role_of`], [`Tallybook::user_id_by_email`]…), the role
//! ids ([`Tallybook::role_id`]) and the bodies received ([`Tallybook::bodies`]). The value is a
//! cheap handle ([`Clone`]) on shared in-memory state, so a test keeps one while pingora owns
//! another.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use async_trait::async_trait;
use http::{header, HeaderValue, Method, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use serde_json::{json, Map, Value};

use super::common::{
    decode_segment, empty_response, json_response, now_rfc3339, read_json_object, secret_matches,
    segments_under, serve_alone, with_allow, BodyError, BodyLog, RequestCounts, RequestHead,
    NO_ROUTE,
};
use scim_gateway_hosting::{RunningServer, StartError};

/// The header that carries the API token.
pub const TOKEN_HEADER: &str = "X-Tallybook-Token";
/// Path pattern of the users collection (also the key of its request counts).
pub const USERS: &str = "/api/users";
/// Path pattern of one user.
pub const USER: &str = "/api/users/{id}";
/// Path pattern of the roles collection.
pub const ROLES: &str = "/api/roles";
/// Page size when `page_size` is not given.
pub const DEFAULT_PAGE_SIZE: u64 = 25;
/// The largest page served; a larger `page_size` is lowered to it.
pub const MAX_PAGE_SIZE: u64 = 100;
/// The roles every Tallybook account has, highest privilege first, in the order they are
/// listed.
pub const ROLE_NAMES: [&str; 4] = ["Owner", "Manager", "Adviser", "Assistant"];
/// The role of a user created without one.
pub const DEFAULT_ROLE: &str = "Assistant";
/// The values of a user's `invitation_status`.
pub const INVITATION_STATUSES: [&str; 3] = ["pending", "accepted", "revoked"];

/// The role that must always be held by someone whose access is not revoked.
const OWNER: &str = "Owner";
/// The text attributes of a user a request body may set, in the order a user is rendered
/// (after `id`); `role_id`, `licensed` and `invitation_status` follow.
const TEXT_ATTRIBUTES: [&str; 3] = ["email", "first_name", "last_name"];
/// Why the last Owner stays.
const LAST_OWNER: &str =
    "cannot be changed: the account's last Owner must stay (make another user Owner first)";

/// The example API "Tallybook". Cloning gives another handle on the same records and counters.
#[derive(Clone)]
pub struct Tallybook {
    inner: Arc<Inner>,
}

struct Inner {
    token: String,
    /// The roles, in [`ROLE_NAMES`] order: (id, name).
    roles: Vec<(String, &'static str)>,
    state: RwLock<State>,
    counts: RequestCounts,
    /// The JSON bodies received, with their endpoint.
    bodies: BodyLog,
}

#[derive(Default)]
struct State {
    /// Users by id, each the full record.
    users: BTreeMap<u64, Map<String, Value>>,
    /// The last id given (ids are never reused).
    last_id: u64,
    /// Users made by [`Tallybook::seed`] so far (names the next one).
    seeded: u64,
}

impl Tallybook {
    /// An empty Tallybook account that accepts `token` in [`TOKEN_HEADER`]. The role ids are
    /// generated now, different on every instance.
    pub fn new(token: impl Into<String>) -> Self {
        Tallybook {
            inner: Arc::new(Inner {
                token: token.into(),
                roles: ROLE_NAMES
                    .iter()
                    .map(|name| (uuid::Uuid::new_v4().to_string(), *name))
                    .collect(),
                state: RwLock::new(State::default()),
                counts: RequestCounts::default(),
                bodies: BodyLog::default(),
            }),
        }
    }

    /// Serves this API on `addr` (one worker thread) until the returned handle is dropped.
    pub fn serve(&self, addr: SocketAddr) -> Result<RunningServer, StartError> {
        serve_alone("tallybook", addr, self.clone())
    }

    /// Adds `n` users who have accepted their invitation (e-mails `seed.user{k}@example.com`,
    /// k counting from 1 on each instance), role Assistant, unlicensed, without going through
    /// HTTP, and returns their ids in the order they were made.
    pub fn seed(&self, n: usize) -> Vec<u64> {
        let assistant = self.role_id(DEFAULT_ROLE);
        let now = now_rfc3339();
        let mut state = self.write();
        (0..n)
            .map(|_| {
                state.seeded += 1;
                let k = state.seeded;
                let mut record = new_user(&assistant, &now);
                record.insert("email".into(), json!(format!("seed.user{k}@example.com")));
                record.insert("first_name".into(), json!("Seed"));
                record.insert("last_name".into(), json!(format!("User{k}")));
                record.insert("invitation_status".into(), json!("accepted"));
                state.insert(record)
            })
            .collect()
    }

    /// Adds the account's Owner — as the person who signed the account up, who has accepted
    /// and holds a licence — with e-mail `email`, without going through HTTP, and returns its
    /// id. `None` when another user has that e-mail.
    pub fn seed_owner(&self, email: &str) -> Option<u64> {
        let owner = self.role_id(OWNER);
        let now = now_rfc3339();
        let mut state = self.write();
        if state.email_taken(email, None) {
            return None;
        }
        let mut record = new_user(&owner, &now);
        record.insert("email".into(), json!(email));
        record.insert("first_name".into(), json!("Account"));
        record.insert("last_name".into(), json!("Owner"));
        record.insert("licensed".into(), json!(true));
        record.insert("invitation_status".into(), json!("accepted"));
        Some(state.insert(record))
    }

    /// The invitee of user `id` accepts: `pending` becomes `accepted`. `false` when there is
    /// no such user or its invitation is not pending.
    pub fn accept_invitation(&self, id: u64) -> bool {
        let mut state = self.write();
        let Some(user) = state.users.get_mut(&id) else {
            return false;
        };
        if text(user, "invitation_status") != "pending" {
            return false;
        }
        user.insert("invitation_status".into(), json!("accepted"));
        user.insert("updated_at".into(), json!(now_rfc3339()));
        true
    }

    /// Changes the given attributes of user `id` as the product's own screens would (the rules
    /// of `PUT /api/users/{id}`): a change the gateway did not make. `false` if there is no
    /// such user or the change is refused.
    pub fn edit_user(&self, id: u64, changes: &Map<String, Value>) -> bool {
        let mut state = self.write();
        match state.validated(Some(id), changes, &self.inner.roles) {
            Ok(record) => {
                state.users.insert(id, record);
                true
            }
            Err(_) => false,
        }
    }

    /// The id of the role named `name` (one of [`ROLE_NAMES`], as written).
    ///
    /// # Panics
    /// When Tallybook has no such role: a test asked for something that cannot exist.
    pub fn role_id(&self, name: &str) -> String {
        self.inner
            .roles
            .iter()
            .find(|(_, n)| *n == name)
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("Tallybook has no role named {name:?} (see ROLE_NAMES)"))
    }

    /// Every role as (id, name), in [`ROLE_NAMES`] order.
    pub fn roles(&self) -> Vec<(String, String)> {
        self.inner
            .roles
            .iter()
            .map(|(id, name)| (id.clone(), (*name).to_string()))
            .collect()
    }

    /// The name of user `id`'s role, if there is such a user.
    pub fn role_of(&self, id: u64) -> Option<&'static str> {
        let state = self.read();
        let role_id = text(state.users.get(&id)?, "role_id");
        role_name(&self.inner.roles, role_id)
    }

    /// The request counters (total and per endpoint, e.g. `("PUT", USER)`), with their
    /// failure and delay switches.
    pub fn requests(&self) -> &RequestCounts {
        &self.inner.counts
    }

    /// How many requests this API received, whatever their outcome.
    pub fn request_count(&self) -> u64 {
        self.inner.counts.total()
    }

    /// The JSON bodies received by `method` `pattern` (e.g. `("PUT", USER)`), whatever their
    /// outcome, oldest first (of the latest
    /// [`REQUEST_IDS_KEPT`](crate::common::REQUEST_IDS_KEPT) bodies of any endpoint).
    pub fn bodies(&self, method: &str, pattern: &str) -> Vec<Value> {
        self.inner.bodies.of(method, pattern)
    }

    /// How many users exist (in any invitation status).
    pub fn user_count(&self) -> usize {
        self.read().users.len()
    }

    /// User `id`'s record, as `GET /api/users/{id}` renders it inside `{"user": …}`.
    pub fn user(&self, id: u64) -> Option<Value> {
        self.read().users.get(&id).cloned().map(Value::Object)
    }

    /// The id of the user whose e-mail is `email` (ignoring case), if any.
    pub fn user_id_by_email(&self, email: &str) -> Option<u64> {
        self.read()
            .users
            .iter()
            .find(|(_, u)| same_email(text(u, "email"), email))
            .map(|(id, _)| *id)
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

/// The text at `key` of `record`, `""` when absent or not text.
fn text<'r>(record: &'r Map<String, Value>, key: &str) -> &'r str {
    record.get(key).and_then(Value::as_str).unwrap_or("")
}

/// The name of the role whose id is `id`.
fn role_name(roles: &[(String, &'static str)], id: &str) -> Option<&'static str> {
    roles.iter().find(|(r, _)| r == id).map(|(_, name)| *name)
}

/// A new user record without an id: names and e-mail empty, role `role_id`, unlicensed,
/// invited, the timestamps now.
fn new_user(role_id: &str, now: &str) -> Map<String, Value> {
    let mut record = Map::new();
    for name in TEXT_ATTRIBUTES {
        record.insert(name.into(), json!(""));
    }
    record.insert("role_id".into(), json!(role_id));
    record.insert("licensed".into(), json!(false));
    record.insert("invitation_status".into(), json!("pending"));
    record.insert("created_at".into(), json!(now));
    record.insert("updated_at".into(), json!(now));
    record
}

/// Whether two e-mail addresses are the same one to Tallybook: equal ignoring case (its
/// database compares them lowercased).
fn same_email(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// Whether `email` has exactly one `@` with something on each side.
fn valid_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => !local.is_empty() && !domain.is_empty() && !domain.contains('@'),
        None => false,
    }
}

impl State {
    /// Gives `record` the next id (first in its keys) and keeps it; returns the id.
    fn insert(&mut self, record: Map<String, Value>) -> u64 {
        self.last_id += 1;
        let id = self.last_id;
        let mut with_id = Map::new();
        with_id.insert("id".into(), json!(id));
        with_id.extend(record);
        self.users.insert(id, with_id);
        id
    }

    /// Whether a user other than `except` has `email`, ignoring case.
    fn email_taken(&self, email: &str, except: Option<u64>) -> bool {
        self.users
            .iter()
            .any(|(id, u)| Some(*id) != except && same_email(text(u, "email"), email))
    }

    /// Whether some user other than `except` is an Owner whose access is not revoked.
    fn another_owner(&self, except: u64, owner_role: &str) -> bool {
        self.users
            .iter()
            .any(|(id, u)| *id != except && holds_the_account(u, owner_role))
    }

    /// User `id` (a new user when `None`) with `params` applied (the attributes it names;
    /// others ignored), validated against every rule, and `updated_at` set when something
    /// changed.
    fn validated(
        &self,
        id: Option<u64>,
        params: &Map<String, Value>,
        roles: &[(String, &'static str)],
    ) -> Result<Map<String, Value>, ApiError> {
        let owner_role = roles
            .iter()
            .find(|(_, name)| *name == OWNER)
            .map(|(id, _)| id.as_str())
            .unwrap_or("");
        let current = match id {
            Some(id) => self.users.get(&id).cloned().ok_or(ApiError::UserNotFound)?,
            None => {
                let default = roles
                    .iter()
                    .find(|(_, name)| *name == DEFAULT_ROLE)
                    .map(|(id, _)| id.as_str())
                    .unwrap_or("");
                new_user(default, &now_rfc3339())
            }
        };
        let mut record = current.clone();
        let mut errors = FieldErrors::default();
        for name in TEXT_ATTRIBUTES {
            match params.get(name) {
                None => {}
                Some(Value::Null) => {
                    record.insert(name.into(), json!(""));
                }
                Some(Value::String(s)) => {
                    record.insert(name.into(), json!(s));
                }
                Some(_) => errors.add(name, "must be a string"),
            }
        }
        match params.get("role_id") {
            None => {}
            Some(Value::String(r)) if role_name(roles, r).is_some() => {
                record.insert("role_id".into(), json!(r));
            }
            Some(_) => errors.add("role_id", "is not a valid role"),
        }
        match params.get("licensed") {
            None => {}
            Some(Value::Bool(b)) => {
                record.insert("licensed".into(), json!(b));
            }
            Some(_) => errors.add("licensed", "must be true or false"),
        }
        if let Some(status) = params.get("invitation_status") {
            let was = text(&current, "invitation_status");
            match status.as_str() {
                Some("revoked") => {
                    record.insert("invitation_status".into(), json!("revoked"));
                }
                // A re-invitation; someone who has accepted is in already.
                Some("pending") if was != "accepted" => {
                    record.insert("invitation_status".into(), json!("pending"));
                }
                Some("pending") => {}
                Some("accepted") if was == "accepted" => {}
                Some("accepted") => {
                    errors.add("invitation_status", "can only be accepted by the invitee")
                }
                _ => errors.add("invitation_status", "is not included in the list"),
            }
        }
        let email = text(&record, "email");
        if email.trim().is_empty() {
            errors.add("email", "can't be blank");
        } else if !valid_email(email) {
            errors.add("email", "is not a valid email address");
        } else if self.email_taken(email, id) {
            errors.add("email", "has already been taken");
        }
        if let Some(id) = id {
            if holds_the_account(&current, owner_role)
                && !holds_the_account(&record, owner_role)
                && !self.another_owner(id, owner_role)
            {
                let field = if text(&record, "role_id") != owner_role {
                    "role_id"
                } else {
                    "invitation_status"
                };
                errors.add(field, LAST_OWNER);
            }
        }
        errors.check()?;
        if record != current {
            record.insert("updated_at".into(), json!(now_rfc3339()));
        }
        Ok(record)
    }
}

/// Whether `user` is an Owner whose access is not revoked.
fn holds_the_account(user: &Map<String, Value>, owner_role: &str) -> bool {
    text(user, "role_id") == owner_role && text(user, "invitation_status") != "revoked"
}

/// Validation errors, by field, in the order found.
#[derive(Debug, Default)]
struct FieldErrors(Map<String, Value>);

impl FieldErrors {
    fn add(&mut self, field: &str, message: &str) {
        if let Value::Array(list) = self
            .0
            .entry(field.to_string())
            .or_insert_with(|| Value::Array(Vec::new()))
        {
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

/// A refusal, each in the shape Tallybook answers it: `{"message": …}`, and the errors by
/// field for a 422.
#[derive(Debug)]
enum ApiError {
    /// 401: no token, or not this account's.
    Unauthorized,
    /// 404 `User not found`: an id no user has, or not an id.
    UserNotFound,
    /// 404 `Not found`: no such route.
    NoRoute,
    /// 405, with the methods the route allows.
    MethodNotAllowed(&'static str),
    /// 400: a body that is not JSON, lacks `"user"`, or a bad query parameter.
    BadRequest(String),
    /// 413.
    TooLarge,
    /// 422 `Validation failed`, with the messages by field.
    Invalid(Map<String, Value>),
    /// 503 (an injected outage).
    Unavailable,
}

impl ApiError {
    fn into_response(self) -> Response<Vec<u8>> {
        let message = |m: &str| json!({ "message": m });
        let (status, body) = match &self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                message("Invalid or missing API token"),
            ),
            ApiError::UserNotFound => (StatusCode::NOT_FOUND, message("User not found")),
            ApiError::NoRoute => (StatusCode::NOT_FOUND, message("Not found")),
            ApiError::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                message("Method not allowed"),
            ),
            ApiError::BadRequest(detail) => (StatusCode::BAD_REQUEST, message(detail)),
            ApiError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                message("Request body too large"),
            ),
            ApiError::Invalid(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                json!({"message": "Validation failed", "errors": errors}),
            ),
            ApiError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                message("Tallybook is temporarily unavailable"),
            ),
        };
        let resp = json_response(status, &body);
        match self {
            ApiError::MethodNotAllowed(allow) => with_allow(resp, allow),
            _ => resp,
        }
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

/// Where a request goes, decided on the raw path. The id segment is still percent-encoded.
enum Route<'a> {
    Users,
    User(&'a str),
    Roles,
    None,
}

impl<'a> Route<'a> {
    fn of(path: &'a str) -> Self {
        if path == ROLES {
            return Route::Roles;
        }
        match segments_under(path, USERS).as_deref() {
            Some([]) => Route::Users,
            Some([id]) => Route::User(id),
            _ => Route::None,
        }
    }

    fn pattern(&self) -> &'static str {
        match self {
            Route::Users => USERS,
            Route::User(_) => USER,
            Route::Roles => ROLES,
            Route::None => NO_ROUTE,
        }
    }
}

/// The user id a path segment names: a decimal integer written plainly.
fn user_id(segment: &str) -> Result<u64, ApiError> {
    let decoded = decode_segment(segment).ok_or(ApiError::UserNotFound)?;
    decoded
        .parse::<u64>()
        .ok()
        .filter(|id| id.to_string() == decoded)
        .ok_or(ApiError::UserNotFound)
}

/// The first value of query parameter `name`, if given.
fn first_param<'p>(pairs: &'p [(String, String)], name: &str) -> Option<&'p str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Query parameter `name` as a positive integer, `default` when absent (400 otherwise).
fn positive(pairs: &[(String, String)], name: &str, default: u64) -> Result<u64, ApiError> {
    match first_param(pairs, name) {
        None => Ok(default),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| ApiError::BadRequest(format!("{name} must be a positive integer"))),
    }
}

/// The object under the body's `"user"`; 400 when it is missing or not an object.
fn user_params(body: &Map<String, Value>) -> Result<&Map<String, Value>, ApiError> {
    match body.get("user") {
        Some(Value::Object(params)) => Ok(params),
        _ => Err(ApiError::BadRequest(
            "the request body must be {\"user\": {…}}".to_string(),
        )),
    }
}

/// `{"user": record}`.
fn wrapped(record: Map<String, Value>) -> Value {
    json!({ "user": Value::Object(record) })
}

#[async_trait]
impl ServeHttp for Tallybook {
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

impl Tallybook {
    async fn handle(
        &self,
        head: &RequestHead,
        route: Route<'_>,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        let presented = head.header(TOKEN_HEADER).unwrap_or("");
        if !secret_matches(presented, &self.inner.token) {
            return Err(ApiError::Unauthorized);
        }
        match (route, &head.method) {
            (Route::Users, &Method::GET) => self.list_users(head),
            (Route::Users, &Method::POST) => {
                let body = self.read_object(head, session).await?;
                self.create_user(&body)
            }
            (Route::Users, _) => Err(ApiError::MethodNotAllowed("GET, POST")),
            (Route::User(segment), &Method::GET) => {
                let id = user_id(segment)?;
                let record = self
                    .read()
                    .users
                    .get(&id)
                    .cloned()
                    .ok_or(ApiError::UserNotFound)?;
                Ok(json_response(StatusCode::OK, &wrapped(record)))
            }
            (Route::User(segment), &Method::PUT) => {
                let body = self.read_object(head, session).await?;
                let id = user_id(segment)?;
                let params = user_params(&body)?;
                let mut state = self.write();
                let record = state.validated(Some(id), params, &self.inner.roles)?;
                state.users.insert(id, record.clone());
                drop(state);
                Ok(json_response(StatusCode::OK, &wrapped(record)))
            }
            (Route::User(segment), &Method::DELETE) => {
                let id = user_id(segment)?;
                self.delete_user(id)?;
                Ok(empty_response(StatusCode::NO_CONTENT))
            }
            (Route::User(_), _) => Err(ApiError::MethodNotAllowed("GET, PUT, DELETE")),
            (Route::Roles, &Method::GET) => {
                let roles: Vec<Value> = self
                    .inner
                    .roles
                    .iter()
                    .map(|(id, name)| json!({"id": id, "name": name}))
                    .collect();
                Ok(json_response(StatusCode::OK, &json!({ "roles": roles })))
            }
            (Route::Roles, _) => Err(ApiError::MethodNotAllowed("GET")),
            (Route::None, _) => Err(ApiError::NoRoute),
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
        let page = positive(&pairs, "page", 1)?;
        let page_size = positive(&pairs, "page_size", DEFAULT_PAGE_SIZE)?.min(MAX_PAGE_SIZE);
        let email = first_param(&pairs, "email");
        let role_id = first_param(&pairs, "role_id");
        let state = self.read();
        let matching: Vec<&Map<String, Value>> = state
            .users
            .values()
            .filter(|u| email.is_none_or(|e| same_email(text(u, "email"), e)))
            .filter(|u| role_id.is_none_or(|r| text(u, "role_id") == r))
            .collect();
        let total = matching.len() as u64;
        let skip = usize::try_from((page - 1).saturating_mul(page_size)).unwrap_or(usize::MAX);
        let users: Vec<Value> = matching
            .into_iter()
            .skip(skip)
            .take(usize::try_from(page_size).unwrap_or(usize::MAX))
            .map(|u| Value::Object(u.clone()))
            .collect();
        drop(state);
        Ok(json_response(
            StatusCode::OK,
            &json!({
                "users": users,
                "pagination": {
                    "page": page,
                    "page_size": page_size,
                    "total_entries": total,
                    "total_pages": total.div_ceil(page_size),
                },
            }),
        ))
    }

    fn create_user(&self, body: &Map<String, Value>) -> Result<Response<Vec<u8>>, ApiError> {
        let params = user_params(body)?;
        let mut state = self.write();
        let record = state.validated(None, params, &self.inner.roles)?;
        let id = state.insert(record);
        let record = state.users.get(&id).cloned().unwrap_or_default();
        drop(state);
        let mut resp = json_response(StatusCode::CREATED, &wrapped(record));
        if let Ok(location) = HeaderValue::from_str(&format!("{USERS}/{id}")) {
            resp.headers_mut().insert(header::LOCATION, location);
        }
        Ok(resp)
    }

    /// Deletes user `id`, unless it is the account's last Owner (422 under `base`).
    fn delete_user(&self, id: u64) -> Result<(), ApiError> {
        let owner_role = self.role_id(OWNER);
        let mut state = self.write();
        let user = state.users.get(&id).ok_or(ApiError::UserNotFound)?;
        if holds_the_account(user, &owner_role) && !state.another_owner(id, &owner_role) {
            let mut errors = FieldErrors::default();
            errors.add("base", LAST_OWNER);
            return errors.check();
        }
        state.users.remove(&id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_client::{Client, Reply};
    use scim_gateway_hosting::free_loopback_addr;

    const TOKEN: &str = "tallybook-test-token";

    struct Running {
        api: Tallybook,
        /// A client sending the right token.
        client: Client,
        _server: RunningServer,
    }

    fn running() -> Running {
        let api = Tallybook::new(TOKEN);
        let addr = free_loopback_addr().unwrap();
        let server = api.serve(addr).unwrap();
        Running {
            client: Client::new(addr, Some((TOKEN_HEADER, TOKEN.to_string()))),
            api,
            _server: server,
        }
    }

    /// Creates a user through the API and returns its record.
    fn create(client: &Client, user: Value) -> Value {
        let reply = client.send("POST", USERS, &json!({ "user": user }));
        assert_eq!(reply.status, 201, "{:?}", reply.json);
        reply.json["user"].clone()
    }

    fn put(client: &Client, id: &Value, user: Value) -> Reply {
        client.send("PUT", &format!("{USERS}/{id}"), &json!({ "user": user }))
    }

    /// The ids of the users of a list answer.
    fn ids(reply: &Reply) -> Vec<u64> {
        reply.json["users"]
            .as_array()
            .unwrap_or_else(|| panic!("no users in {:?}", reply.json))
            .iter()
            .map(|u| u["id"].as_u64().unwrap())
            .collect()
    }

    #[test]
    fn a_create_is_201_with_the_record_under_user_and_the_defaults() {
        let t = running();
        let reply = t.client.send(
            "POST",
            USERS,
            &json!({"user": {"id": 99, "email": "ada@example.com", "first_name": "Ada",
                             "last_name": "Lovelace", "shoe_size": 7,
                             "created_at": "2001-01-01T00:00:00Z"}}),
        );
        assert_eq!(reply.status, 201, "{:?}", reply.json);
        let body = reply.json.as_object().unwrap();
        assert_eq!(body.keys().collect::<Vec<_>>(), ["user"], "wrapped");
        let user = &reply.json["user"];
        assert_eq!(
            user.as_object().unwrap().keys().collect::<Vec<_>>(),
            [
                "id",
                "email",
                "first_name",
                "last_name",
                "role_id",
                "licensed",
                "invitation_status",
                "created_at",
                "updated_at"
            ]
        );
        assert_eq!(user["id"], 1, "the id sent is ignored");
        assert_eq!(reply.header("location"), Some("/api/users/1"));
        assert_eq!(user["role_id"], t.api.role_id("Assistant"), "by default");
        assert_eq!(user["licensed"], false);
        assert_eq!(user["invitation_status"], "pending", "invited");
        assert_ne!(user["created_at"], "2001-01-01T00:00:00Z");
        assert_eq!(t.client.get(&format!("{USERS}/1")).json, reply.json);
        assert_eq!(t.api.role_of(1), Some("Assistant"));

        let bare = create(
            &t.client,
            json!({"email": "bob@example.com", "last_name": null}),
        );
        assert_eq!(bare["id"], 2);
        assert_eq!(bare["first_name"], "", "never null");
        assert_eq!(bare["last_name"], "");
        let manager = t.api.role_id("Manager");
        let chosen = create(
            &t.client,
            json!({"email": "cy@example.com", "role_id": manager, "licensed": true,
                   "invitation_status": "revoked"}),
        );
        assert_eq!(chosen["role_id"], manager.as_str());
        assert_eq!(chosen["licensed"], true);
        assert_eq!(
            chosen["invitation_status"], "revoked",
            "created without access"
        );
    }

    #[test]
    fn an_invalid_user_is_422_with_the_errors_by_field() {
        let t = running();
        let reply = t.client.send(
            "POST",
            USERS,
            &json!({"user": {"email": " ", "first_name": 7, "role_id": "Manager",
                             "licensed": "yes", "invitation_status": "accepted"}}),
        );
        assert_eq!(reply.status, 422);
        assert_eq!(
            reply.json,
            json!({"message": "Validation failed", "errors": {
                "first_name": ["must be a string"],
                "role_id": ["is not a valid role"],
                "licensed": ["must be true or false"],
                "invitation_status": ["can only be accepted by the invitee"],
                "email": ["can't be blank"]}})
        );
        for email in ["ada", "@example.com", "ada@", "a@b@example.com"] {
            let reply = t
                .client
                .send("POST", USERS, &json!({"user": {"email": email}}));
            assert_eq!(
                reply.json["errors"]["email"],
                json!(["is not a valid email address"]),
                "{email}"
            );
        }
        create(&t.client, json!({"email": "ada@example.com"}));
        let taken = t.client.send(
            "POST",
            USERS,
            &json!({"user": {"email": "ADA@Example.com"}}),
        );
        assert_eq!(taken.status, 422);
        assert_eq!(
            taken.json["errors"],
            json!({"email": ["has already been taken"]})
        );
        let odd = t.client.send(
            "POST",
            USERS,
            &json!({"user": {"email": "x@example.com", "invitation_status": "gone"}}),
        );
        assert_eq!(
            odd.json["errors"],
            json!({"invitation_status": ["is not included in the list"]})
        );
        assert_eq!(t.api.user_count(), 1, "nothing refused was made");
        for bad in [
            "[]",
            "not json",
            r#"{"email": "x@example.com"}"#,
            r#"{"user": 1}"#,
        ] {
            let reply = t.client.call("POST", USERS, Some(bad));
            assert_eq!(reply.status, 400, "{bad}");
            assert!(reply.json["message"].is_string(), "{bad}");
        }
    }

    #[test]
    fn put_changes_only_the_keys_sent_and_there_is_no_patch() {
        let t = running();
        let user = create(
            &t.client,
            json!({"email": "ada@example.com", "first_name": "Ada", "last_name": "Byron"}),
        );
        let id = &user["id"];
        let adviser = t.api.role_id("Adviser");
        let reply = put(
            &t.client,
            id,
            json!({"last_name": "Lovelace", "role_id": adviser, "licensed": true, "id": 42,
                   "email": "ADA@example.com"}),
        );
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        let after = &reply.json["user"];
        assert_eq!(after["id"], *id);
        assert_eq!(after["last_name"], "Lovelace");
        assert_eq!(after["first_name"], "Ada", "absent keys are kept");
        assert_eq!(after["role_id"], adviser.as_str());
        assert_eq!(after["licensed"], true);
        assert_eq!(
            after["email"], "ADA@example.com",
            "its own e-mail in another case"
        );
        assert_eq!(t.api.user(1).unwrap(), *after);

        let unchanged = put(&t.client, id, json!({"first_name": "Ada"}));
        assert_eq!(
            unchanged.json["user"]["updated_at"], after["updated_at"],
            "a write that changes nothing leaves updated_at"
        );
        let refused = put(&t.client, id, json!({"licensed": null}));
        assert_eq!(refused.status, 422);
        assert_eq!(
            t.api.user(1).unwrap(),
            *after,
            "a refused write changes nothing"
        );
        let patch = t
            .client
            .send("PATCH", &format!("{USERS}/{id}"), &json!({"user": {}}));
        assert_eq!(patch.status, 405);
        assert_eq!(patch.header("allow"), Some("GET, PUT, DELETE"));
        assert_eq!(patch.json, json!({"message": "Method not allowed"}));
    }

    #[test]
    fn the_invitation_is_revoked_and_renewed_but_only_its_invitee_accepts_it() {
        let t = running();
        let user = create(&t.client, json!({"email": "ada@example.com"}));
        let id = &user["id"];
        let status = |reply: Reply| reply.json["user"]["invitation_status"].clone();
        let refused = put(&t.client, id, json!({"invitation_status": "accepted"}));
        assert_eq!(
            refused.json["errors"],
            json!({"invitation_status": ["can only be accepted by the invitee"]})
        );
        assert_eq!(
            status(put(&t.client, id, json!({"invitation_status": "revoked"}))),
            "revoked"
        );
        assert_eq!(
            status(put(&t.client, id, json!({"invitation_status": "pending"}))),
            "pending",
            "re-invited"
        );
        assert!(t.api.accept_invitation(1));
        assert!(!t.api.accept_invitation(1), "accepted once");
        assert_eq!(
            status(put(&t.client, id, json!({"invitation_status": "pending"}))),
            "accepted",
            "someone who has accepted is in already"
        );
        assert_eq!(
            status(put(&t.client, id, json!({"invitation_status": "accepted"}))),
            "accepted"
        );
        assert_eq!(
            status(put(&t.client, id, json!({"invitation_status": "revoked"}))),
            "revoked"
        );
        assert!(!t.api.accept_invitation(1), "a revoked invitation");
        assert!(!t.api.accept_invitation(99));
    }

    #[test]
    fn the_last_owner_cannot_be_demoted_revoked_or_deleted() {
        let t = running();
        let owner = t.api.seed_owner("owner@example.com").unwrap();
        assert_eq!(t.api.seed_owner("OWNER@example.com"), None, "e-mail taken");
        let id = json!(owner);
        let manager = t.api.role_id("Manager");
        let demote = put(&t.client, &id, json!({"role_id": manager}));
        assert_eq!(demote.status, 422);
        assert_eq!(demote.json["errors"]["role_id"], json!([LAST_OWNER]));
        let revoke = put(&t.client, &id, json!({"invitation_status": "revoked"}));
        assert_eq!(
            revoke.json["errors"]["invitation_status"],
            json!([LAST_OWNER])
        );
        let delete = t.client.call("DELETE", &format!("{USERS}/{owner}"), None);
        assert_eq!(delete.status, 422);
        assert_eq!(
            delete.json,
            json!({"message": "Validation failed", "errors": {"base": [LAST_OWNER]}})
        );
        assert_eq!(t.api.role_of(owner), Some("Owner"), "still the Owner");
        assert!(
            put(&t.client, &id, json!({"licensed": false})).status == 200,
            "other changes are allowed"
        );

        // A revoked Owner does not hold the account; an accepted or invited one does.
        let other = create(
            &t.client,
            json!({"email": "second@example.com", "role_id": t.api.role_id("Owner"),
                   "invitation_status": "revoked"}),
        );
        assert_eq!(put(&t.client, &id, json!({"role_id": manager})).status, 422);
        assert_eq!(
            put(
                &t.client,
                &other["id"],
                json!({"invitation_status": "pending"})
            )
            .status,
            200
        );
        assert_eq!(put(&t.client, &id, json!({"role_id": manager})).status, 200);
        assert_eq!(t.api.role_of(owner), Some("Manager"));
        // Now the second Owner is the last one.
        let second = other["id"].as_u64().unwrap();
        assert_eq!(
            t.client
                .call("DELETE", &format!("{USERS}/{second}"), None)
                .status,
            422
        );
        assert!(!t
            .api
            .edit_user(second, json!({"role_id": manager}).as_object().unwrap()));
        assert!(t.api.edit_user(
            owner,
            json!({"role_id": t.api.role_id("Owner")})
                .as_object()
                .unwrap()
        ));
        assert_eq!(
            t.client
                .call("DELETE", &format!("{USERS}/{second}"), None)
                .status,
            204
        );
    }

    #[test]
    fn an_unknown_id_is_404_and_a_delete_is_hard() {
        let t = running();
        let id = t.api.seed(1).remove(0);
        for unknown in ["2", "07", "1x", "usr_1", "%FF", "-1", ""] {
            let path = format!("{USERS}/{unknown}");
            for (method, body) in [
                ("GET", None),
                ("PUT", Some(r#"{"user": {}}"#)),
                ("DELETE", None),
            ] {
                let reply = t.client.call(method, &path, body);
                assert_eq!(reply.status, 404, "{method} {unknown}");
                assert_eq!(reply.json, json!({"message": "User not found"}));
            }
        }
        assert_eq!(t.client.get(&format!("{USERS}/{id}")).status, 200);
        let deleted = t.client.call("DELETE", &format!("{USERS}/{id}"), None);
        assert_eq!(deleted.status, 204);
        assert_eq!(deleted.json, Value::Null);
        assert_eq!(t.api.user_count(), 0);
        assert_eq!(t.client.get(&format!("{USERS}/{id}")).status, 404);
        let next = create(&t.client, json!({"email": "new@example.com"}));
        assert_eq!(next["id"], id + 1, "ids are never reused");
        for path in ["/api/users/1/roles", "/api/v1/users", "/", "/api/roles/x"] {
            let reply = t.client.get(path);
            assert_eq!(reply.status, 404, "{path}");
            assert_eq!(reply.json, json!({"message": "Not found"}));
        }
    }

    #[test]
    fn the_list_is_paged_by_page_and_page_size_with_a_pagination_object() {
        let t = running();
        let all = t.api.seed(130);
        let page = |query: &str| -> (Vec<u64>, Value) {
            let reply = t.client.get(&format!("{USERS}?{query}"));
            assert_eq!(reply.status, 200, "{query}: {:?}", reply.json);
            (ids(&reply), reply.json["pagination"].clone())
        };
        let range = |from: usize, to: usize| all[from..to].to_vec();
        assert_eq!(
            page(""),
            (
                range(0, 25),
                json!({"page": 1, "page_size": 25, "total_entries": 130, "total_pages": 6})
            ),
            "in id order, 25 by default"
        );
        assert_eq!(page("page=2&page_size=50").0, range(50, 100));
        assert_eq!(page("page=3&page_size=50").0, range(100, 130));
        let (past, pagination) = page("page=4&page_size=50");
        assert!(past.is_empty(), "a page past the end is empty");
        assert_eq!(pagination["total_entries"], 130);
        let (big, pagination) = page("page_size=500");
        assert_eq!(big, range(0, 100), "served as 100");
        assert_eq!(
            pagination,
            json!({"page": 1, "page_size": 100, "total_entries": 130, "total_pages": 2})
        );
        assert_eq!(
            page("per_page=5&offset=3").0,
            range(0, 25),
            "other paging ignored"
        );
        for odd in ["page=0", "page=x", "page_size=0", "page_size=-5"] {
            let reply = t.client.get(&format!("{USERS}?{odd}"));
            assert_eq!(reply.status, 400, "{odd}");
            assert!(
                reply.json["message"]
                    .as_str()
                    .unwrap()
                    .contains("must be a positive integer"),
                "{odd}"
            );
        }
        let item = &t.client.get(&format!("{USERS}?page_size=1")).json["users"][0];
        assert_eq!(*item, t.api.user(all[0]).unwrap(), "full records");
    }

    #[test]
    fn the_email_filter_ignores_case_and_the_role_filter_is_exact() {
        let t = running();
        let ada = create(&t.client, json!({"email": "ada@example.com"}))["id"].clone();
        create(&t.client, json!({"email": "ada@example.com.au"}));
        let adviser = t.api.role_id("Adviser");
        let bob = create(
            &t.client,
            json!({"email": "bob+books@example.com", "role_id": adviser}),
        )["id"]
            .clone();
        let found = |query: &str| -> Vec<u64> { ids(&t.client.get(&format!("{USERS}?{query}"))) };
        assert_eq!(found("email=ada@example.com"), [ada.as_u64().unwrap()]);
        assert_eq!(found("email=ADA%40Example.COM"), [ada.as_u64().unwrap()]);
        assert!(found("email=ada").is_empty(), "no substring match");
        let zoe = create(&t.client, json!({"email": "zoë@example.com"}))["id"].clone();
        assert_eq!(
            found("email=ZO%C3%8B@EXAMPLE.COM"),
            [zoe.as_u64().unwrap()],
            "any letter's case"
        );
        assert!(found("email=").is_empty());
        assert!(
            found("email=bob+books@example.com").is_empty(),
            "a + is a space"
        );
        assert_eq!(
            found("email=bob%2Bbooks@example.com"),
            [bob.as_u64().unwrap()]
        );
        assert_eq!(
            found(&format!("role_id={adviser}")),
            [bob.as_u64().unwrap()]
        );
        assert!(found(&format!("role_id={}", adviser.to_uppercase())).is_empty());
        assert_eq!(
            found(&format!("role_id={}", t.api.role_id("Assistant"))).len(),
            3
        );
        assert_eq!(
            found(&format!("role_id={adviser}&email=ada@example.com")),
            Vec::<u64>::new()
        );
        assert_eq!(
            found("name=nobody").len(),
            4,
            "an unknown filter is ignored"
        );
        let listed = t.client.get(&format!("{USERS}?email=ada@example.com"));
        assert_eq!(listed.json["pagination"]["total_entries"], 1);
        assert_eq!(
            t.api.user_id_by_email("BOB+books@example.com"),
            bob.as_u64()
        );
    }

    #[test]
    fn roles_are_listed_with_ids_that_differ_per_instance_and_are_read_only() {
        let t = running();
        let reply = t.client.get(ROLES);
        assert_eq!(reply.status, 200);
        let listed = reply.json["roles"].as_array().unwrap();
        let names: Vec<&str> = listed.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, ROLE_NAMES);
        for role in listed {
            let id = role["id"].as_str().unwrap();
            assert_eq!(id, t.api.role_id(role["name"].as_str().unwrap()));
            assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 4);
            assert_eq!(
                role.as_object().unwrap().keys().collect::<Vec<_>>(),
                ["id", "name"]
            );
        }
        let other = Tallybook::new(TOKEN);
        for name in ROLE_NAMES {
            assert_ne!(other.role_id(name), t.api.role_id(name), "{name}");
        }
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            let reply = t
                .client
                .send(method, ROLES, &json!({"role": {"name": "Partner"}}));
            assert_eq!(reply.status, 405, "{method}");
            assert_eq!(reply.header("allow"), Some("GET"));
        }
        assert_eq!(t.api.roles().len(), 4);
    }

    #[test]
    #[should_panic(expected = "no role named \"Administrator\"")]
    fn an_unknown_role_name_is_a_test_mistake() {
        Tallybook::new(TOKEN).role_id("Administrator");
    }

    #[test]
    fn every_request_needs_the_token_header() {
        let t = running();
        t.api.seed(1);
        let unauthorized = json!({"message": "Invalid or missing API token"});
        for auth in [
            None,
            Some((TOKEN_HEADER, "wrong".to_string())),
            Some(("Authorization", format!("Bearer {TOKEN}"))),
            Some((TOKEN_HEADER, format!("Bearer {TOKEN}"))),
        ] {
            let client = t.client.with_auth(auth.clone());
            for path in [USERS, "/api/users/1", ROLES, "/nowhere"] {
                let reply = client.get(path);
                assert_eq!(reply.status, 401, "{auth:?} {path}");
                assert_eq!(reply.json, unauthorized);
            }
        }
        assert_eq!(t.api.user_count(), 1);
        assert_eq!(t.client.get(USERS).status, 200);
    }

    #[test]
    fn counts_outages_and_the_bodies_received() {
        let t = running();
        let id = t.api.seed(1).remove(0);
        t.api.requests().reset();
        t.api.requests().fail("PUT", USER, 0, 1);
        let down = put(&t.client, &json!(id), json!({"licensed": true}));
        assert_eq!(down.status, 503);
        assert_eq!(
            down.json,
            json!({"message": "Tallybook is temporarily unavailable"})
        );
        assert_eq!(t.api.user(id).unwrap()["licensed"], false, "not applied");
        assert_eq!(
            put(&t.client, &json!(id), json!({"licensed": true})).status,
            200
        );
        t.client.get(ROLES);
        t.client.get(&format!("{USERS}?page=2"));
        t.client.with_auth(None).get(USERS);
        t.client.get("/api/nothing");
        let counts = t.api.requests();
        assert_eq!(t.api.request_count(), 6);
        assert_eq!(counts.get("PUT", USER), 2);
        assert_eq!(counts.get("GET", ROLES), 1);
        assert_eq!(counts.get("GET", USERS), 2);
        assert_eq!(counts.get("GET", NO_ROUTE), 1);
        assert_eq!(
            t.api.bodies("PUT", USER),
            [json!({"user": {"licensed": true}})],
            "the refused one never reached the body"
        );
        t.client.send("POST", USERS, &json!({"user": {}}));
        assert_eq!(t.api.bodies("post", USERS), [json!({"user": {}})]);
    }

    #[test]
    fn seeded_users_have_accepted_and_hold_the_default_role() {
        let api = Tallybook::new(TOKEN);
        let ids = api.seed(3);
        assert_eq!(ids, [1, 2, 3]);
        let user = api.user(2).unwrap();
        assert_eq!(user["email"], "seed.user2@example.com");
        assert_eq!(user["last_name"], "User2");
        assert_eq!(user["invitation_status"], "accepted");
        assert_eq!(user["licensed"], false);
        assert_eq!(api.role_of(2), Some("Assistant"));
        let owner = api.seed_owner("owner@example.com").unwrap();
        assert_eq!(owner, 4);
        assert_eq!(api.role_of(owner), Some("Owner"));
        assert_eq!(api.user(owner).unwrap()["licensed"], true);
        assert_eq!(api.seed(1), [5]);
        assert_eq!(api.user(5).unwrap()["email"], "seed.user4@example.com");
        assert_eq!(api.role_of(99), None);
        assert!(!api.edit_user(99, &Map::new()));
        assert!(!api.edit_user(
            1,
            json!({"email": "seed.user2@example.com"})
                .as_object()
                .unwrap()
        ));
    }
}
