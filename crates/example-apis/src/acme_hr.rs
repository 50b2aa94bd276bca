//! "Acme HR", an example legacy user API in the style of a typical in-house HR service: numeric
//! ids, its own snake_case field names, `status: "enabled" | "disabled" | "archived"`, flat phone fields, a
//! nested `address`, page/per_page pagination with the total in the body, an API-key header, and
//! errors shaped `{"error": {"code", "message"}}`. It is what `mappings/acme-hr.yaml` describes;
//! it knows nothing of SCIM.
//!
//! | endpoint | answer |
//! | --- | --- |
//! | `GET /api/v1/users?page=&per_page=&login=&email=&external_ref=&status=&exclude_status=` | 200 `{"data": [...], "meta": {"page", "per_page", "total"}}` |
//! | `GET /api/v1/users/{id}` | 200 the user |
//! | `POST /api/v1/users` | 201 the user (and `Location`) |
//! | `PUT /api/v1/users/{id}` | 200; every writable field replaced, absent ones cleared |
//! | `PATCH /api/v1/users/{id}` | 200; only the given keys change, `null` clears, `address` merges |
//! | `DELETE /api/v1/users/{id}` | 204; the user leaves every team |
//! | `GET /api/v1/users/{id}/teams` | 200 `{"data": [{"id", "name"}]}` |
//! | `GET /api/v1/teams?page=&per_page=&name=&external_ref=` | 200 `{"data": [...], "meta": {...}}` |
//! | `GET /api/v1/teams/{id}` | 200 the team |
//! | `POST /api/v1/teams` | 201 the team (and `Location`) |
//! | `PATCH /api/v1/teams/{id}` | 200; only the given keys change |
//! | `DELETE /api/v1/teams/{id}` | 204; its members are released |
//! | `GET /api/v1/teams/{id}/members?page=&per_page=` | 200 `{"data": [{"user_id", "added_at"}], "meta": {...}}` |
//! | `POST /api/v1/teams/{id}/members` | 201 the membership; 200 if the user already was a member |
//! | `GET /api/v1/teams/{id}/members/{user_id}` | 200 the membership |
//! | `DELETE /api/v1/teams/{id}/members/{user_id}` | 204 |
//!
//! Every endpoint takes an optional `X-Acme-Tenant: <tenant>` header (see below).
//!
//! Teams and their member endpoints live in `acme_hr/teams.rs`.
//!
//! Each user has a `version`, 1 at creation and +1 per accepted write. A PUT or PATCH with
//! `If-Match: <version>` (bare or quoted, or `*`) that does not match the current version is
//! refused with 412 `version_conflict` and changes nothing; without `If-Match` the last write wins.
//!
//! The user list keeps archived users unless asked not to: `exclude_status=archived` leaves the
//! users of that status out of the page and of its total, except from a lookup by `login`,
//! which answers who holds the login whatever its status (a login stays taken while its user
//! is archived). The filters `login` and `email` match case-insensitively, `external_ref` and
//! `status` exactly.
//!
//! Query values are form-decoded, as most web frameworks do: a literal `+` in `?email=` must be
//! sent as `%2B`. Every request needs `X-Acme-Api-Key`. Users are kept in memory, ordered by id; the value is a
//! cheap handle ([`Clone`]) on shared state, so a test keeps one while pingora owns another.
//!
//! Acme HR is multi-tenant, as a SaaS product is: each tenant (customer) has its own users,
//! teams, logins and id sequences, selected by the `X-Acme-Tenant` header of each request; a
//! request without it is for the tenant "default" (single-tenant installations never send it).
//! A tenant must exist ([`AcmeHr::add_tenant`]): an unknown one is answered
//! `403 {"error": {"code": "unknown_tenant", …}}`. A handle is on one tenant
//! ([`AcmeHr::tenant`]); [`AcmeHr::new`] gives the default tenant's.

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
use teams::Team;

/// The values of `status`.
pub const STATUSES: [&str; 3] = ["enabled", "disabled", "archived"];

/// The roles of an Acme HR user, highest privilege first; new users are `member`.
pub const ROLES: [&str; 5] = ["owner", "manager", "adviser", "assistant", "member"];
/// The header that carries the API key.
pub const API_KEY_HEADER: &str = "X-Acme-Api-Key";
/// The header that selects the tenant.
pub const TENANT_HEADER: &str = "X-Acme-Tenant";
/// The tenant of requests without [`TENANT_HEADER`].
pub const DEFAULT_TENANT: &str = "default";
/// Path pattern of the users collection (also the key of its request counts).
pub const USERS: &str = "/api/v1/users";
/// Path pattern of one user (also the key of its request counts).
pub const USER: &str = "/api/v1/users/{id}";
/// Path pattern of the teams one user belongs to.
pub const USER_TEAMS: &str = "/api/v1/users/{id}/teams";
/// Path pattern of the teams collection.
pub const TEAMS: &str = "/api/v1/teams";
/// Path pattern of one team.
pub const TEAM: &str = "/api/v1/teams/{id}";
/// Path pattern of a team's members.
pub const TEAM_MEMBERS: &str = "/api/v1/teams/{id}/members";
/// Path pattern of one membership.
pub const TEAM_MEMBER: &str = "/api/v1/teams/{id}/members/{user_id}";
/// Page size when `per_page` is not given.
pub const DEFAULT_PER_PAGE: u64 = 25;
/// The largest `per_page` accepted; more is a 400.
pub const MAX_PER_PAGE: u64 = 100;

/// The type of a writable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A string, or null.
    Text,
    /// `"enabled"`, `"disabled"` or `"archived"` (kept for history, no longer a member of
    /// staff); never null.
    Status,
    /// An object of the [`ADDRESS_FIELDS`] strings, or null.
    Address,
    /// One of [`ROLES`]; `member` when not given; never null.
    Role,
    /// A boolean; `false` when not given; never null.
    Flag,
}

/// The writable fields, in the order a user is rendered (after `id`).
const FIELDS: &[(&str, Kind)] = &[
    ("login", Kind::Text),
    ("external_ref", Kind::Text),
    ("display_name", Kind::Text),
    ("nickname", Kind::Text),
    ("first_name", Kind::Text),
    ("last_name", Kind::Text),
    ("middle_name", Kind::Text),
    ("salutation", Kind::Text),
    ("job_title", Kind::Text),
    ("employment_type", Kind::Text),
    ("language", Kind::Text),
    ("locale", Kind::Text),
    ("time_zone", Kind::Text),
    ("status", Kind::Status),
    ("email", Kind::Text),
    ("personal_email", Kind::Text),
    ("work_phone", Kind::Text),
    ("mobile_phone", Kind::Text),
    ("fax", Kind::Text),
    ("address", Kind::Address),
    ("office_address", Kind::Address),
    ("employee_no", Kind::Text),
    ("department", Kind::Text),
    ("cost_center", Kind::Text),
    ("organization", Kind::Text),
    ("division", Kind::Text),
    ("manager_id", Kind::Text),
    ("source", Kind::Text),
    ("role", Kind::Role),
    ("licensed", Kind::Flag),
];

/// The keys of the `address` object, in the order they are rendered.
const ADDRESS_FIELDS: &[&str] = &["street", "city", "state", "zip", "country", "label"];

/// The example API "Acme HR", as seen from one of its tenants. Cloning gives another handle on
/// the same tenants and counters.
#[derive(Clone)]
pub struct AcmeHr {
    inner: Arc<Inner>,
    /// This handle's tenant: its users and teams.
    state: Arc<RwLock<State>>,
}

struct Inner {
    api_key: String,
    /// Every tenant's state, by tenant name.
    tenants: RwLock<BTreeMap<String, Arc<RwLock<State>>>>,
    /// Requests of every tenant.
    counts: RequestCounts,
}

#[derive(Default)]
struct State {
    /// Users by id, each the full JSON document as rendered.
    users: BTreeMap<u64, Map<String, Value>>,
    /// Lower-cased login → id, for the uniqueness rule and `?login=`.
    logins: HashMap<String, u64>,
    /// The id of the last user created (ids are never reused).
    last_id: u64,
    /// Teams by id, each with its members.
    teams: BTreeMap<u64, Team>,
    /// Lower-cased team name → id, for the uniqueness rule and `?name=`.
    team_names: HashMap<String, u64>,
    /// User id → the ids of its teams: the reverse of every team's members (no empty sets).
    user_teams: HashMap<u64, BTreeSet<u64>>,
    /// The id of the last team created (team ids are a sequence of their own, never reused).
    last_team_id: u64,
}

impl AcmeHr {
    /// An empty Acme HR, with only the tenant "default", that accepts requests carrying
    /// `X-Acme-Api-Key: {api_key}`; the handle is on the default tenant.
    pub fn new(api_key: impl Into<String>) -> Self {
        let state = Arc::new(RwLock::new(State::default()));
        let mut tenants = BTreeMap::new();
        tenants.insert(DEFAULT_TENANT.to_string(), state.clone());
        AcmeHr {
            inner: Arc::new(Inner {
                api_key: api_key.into(),
                tenants: RwLock::new(tenants),
                counts: RequestCounts::default(),
            }),
            state,
        }
    }

    /// Creates tenant `name` (empty) unless it exists, and returns a handle on it.
    pub fn add_tenant(&self, name: &str) -> AcmeHr {
        let mut tenants = self
            .inner
            .tenants
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = tenants.entry(name.to_string()).or_default().clone();
        AcmeHr {
            inner: self.inner.clone(),
            state,
        }
    }

    /// A handle on tenant `name`, if it exists.
    pub fn tenant(&self, name: &str) -> Option<AcmeHr> {
        let tenants = self
            .inner
            .tenants
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tenants.get(name).map(|state| AcmeHr {
            inner: self.inner.clone(),
            state: state.clone(),
        })
    }

    /// The names of the tenants, sorted.
    pub fn tenant_names(&self) -> Vec<String> {
        let tenants = self
            .inner
            .tenants
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tenants.keys().cloned().collect()
    }

    /// Serves this API on `addr` (one worker thread) until the returned handle is dropped.
    pub fn serve(&self, addr: SocketAddr) -> Result<RunningServer, StartError> {
        serve_alone("acme-hr", addr, self.clone())
    }

    /// Adds `n` enabled users with every field filled (logins `seed.user{id}`), without going
    /// through HTTP, and returns their ids.
    pub fn seed(&self, n: usize) -> Vec<u64> {
        let now = now_rfc3339();
        let mut state = self.write();
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            let id = state.last_id + 1;
            let mut login = format!("seed.user{id}");
            let mut k = 1;
            while state.logins.contains_key(&login) {
                k += 1;
                login = format!("seed.user{id}-{k}");
            }
            let fields = seed_fields(id, &login);
            state.insert(id, &fields, &now);
            ids.push(id);
        }
        ids
    }

    /// Makes room in this tenant's login index for `users` users in all, so that it does not
    /// grow (rehashing every login under the write lock: a pause of up to a few hundred
    /// milliseconds at hundreds of thousands of users) while a load run creates users.
    pub fn reserve(&self, users: usize) {
        let mut state = self.write();
        let more = users.saturating_sub(state.logins.len());
        state.logins.reserve(more);
    }

    /// The request counters (total and per endpoint, e.g. `("GET", USER)`).
    pub fn requests(&self) -> &RequestCounts {
        &self.inner.counts
    }

    /// How many requests this API received, whatever their outcome.
    pub fn request_count(&self) -> u64 {
        self.inner.counts.total()
    }

    /// How many users this tenant has.
    pub fn user_count(&self) -> usize {
        self.read().users.len()
    }

    /// One user as `GET /api/v1/users/{id}` would render it.
    pub fn user(&self, id: u64) -> Option<Value> {
        self.read().users.get(&id).cloned().map(Value::Object)
    }

    /// Changes the given fields of user `id` as the product's own screens would (the same
    /// rules as `PATCH /api/v1/users/{id}`, version +1): a change the gateway did not make.
    pub fn edit_user(&self, id: u64, changes: &Map<String, Value>) -> bool {
        self.update(id, changes, WriteMode::Partial, None).is_ok()
    }

    fn read(&self) -> RwLockReadGuard<'_, State> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, State> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn seed_fields(id: u64, login: &str) -> Map<String, Value> {
    const DEPARTMENTS: &[&str] = &["Engineering", "Sales", "Finance", "Support", "Legal"];
    let department = DEPARTMENTS[(id as usize) % DEPARTMENTS.len()];
    let fields = json!({
        "login": login,
        "external_ref": format!("seed-{id}"),
        "display_name": format!("Seed User {id}"),
        "first_name": "Seed",
        "last_name": format!("User{id}"),
        "job_title": "Analyst",
        "employment_type": "Employee",
        "language": "en",
        "locale": "en-US",
        "time_zone": "America/New_York",
        "status": "enabled",
        "email": format!("{login}@example.com"),
        "work_phone": format!("+1 555 {:04}", id % 10_000),
        "address": {
            "street": format!("{id} Main Street"),
            "city": "Springfield",
            "state": "IL",
            "zip": "62701",
            "country": "US",
        },
        "employee_no": format!("E{id:06}"),
        "department": department,
        "cost_center": format!("CC-{}", id % 7),
        "organization": "Acme",
        "source": "seed",
    });
    match fields {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl State {
    /// Stores a new user built from validated `fields` (missing ones null, status enabled).
    fn insert(&mut self, id: u64, fields: &Map<String, Value>, now: &str) {
        let doc = render(id, fields, now, now, 1);
        if let Some(login) = doc.get("login").and_then(Value::as_str) {
            self.logins.insert(login.to_lowercase(), id);
        }
        self.users.insert(id, doc);
        self.last_id = self.last_id.max(id);
    }

    /// The id of the user whose login is `login` (case-insensitively), other than `except`.
    fn login_owner(&self, login: &str, except: Option<u64>) -> Option<u64> {
        self.logins
            .get(&login.to_lowercase())
            .copied()
            .filter(|id| Some(*id) != except)
    }

    /// Replaces user `id` with `doc`, keeping the login index right.
    fn replace(&mut self, id: u64, doc: Map<String, Value>) {
        if let Some(old) = self.users.get(&id) {
            if let Some(login) = old.get("login").and_then(Value::as_str) {
                self.logins.remove(&login.to_lowercase());
            }
        }
        if let Some(login) = doc.get("login").and_then(Value::as_str) {
            self.logins.insert(login.to_lowercase(), id);
        }
        self.users.insert(id, doc);
    }
}

/// A full user document: `id`, every field of [`FIELDS`] (from `fields`, else null; status
/// defaults to enabled), then the timestamps and version.
fn render(
    id: u64,
    fields: &Map<String, Value>,
    created_at: &str,
    updated_at: &str,
    version: u64,
) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("id".into(), json!(id));
    for (name, kind) in FIELDS {
        let value = match (kind, fields.get(*name)) {
            (Kind::Address, Some(Value::Object(given))) => full_address(None, given),
            (Kind::Status, None) => json!("enabled"),
            (Kind::Role, None) => json!("member"),
            (Kind::Flag, None) => json!(false),
            (_, Some(v)) => v.clone(),
            (_, None) => Value::Null,
        };
        doc.insert((*name).into(), value);
    }
    doc.insert("created_at".into(), json!(created_at));
    doc.insert("updated_at".into(), json!(updated_at));
    doc.insert("version".into(), json!(version));
    doc
}

/// An address object with every key: those in `given`, else those in `base`, else null.
fn full_address(base: Option<&Map<String, Value>>, given: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for key in ADDRESS_FIELDS {
        let value = given
            .get(*key)
            .or_else(|| base.and_then(|b| b.get(*key)))
            .cloned()
            .unwrap_or(Value::Null);
        out.insert((*key).into(), value);
    }
    Value::Object(out)
}

/// An error answered as `{"error": {"code", "message"}}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    allow: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            allow: None,
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    fn invalid_field(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message)
    }

    fn user_not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("user {id} not found"),
        )
    }

    fn method_not_allowed(method: &Method, allow: &'static str) -> Self {
        ApiError {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not allowed here (allowed: {allow})"),
            )
        }
    }

    fn into_response(self) -> Response<Vec<u8>> {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        let resp = json_response(self.status, &body);
        match self.allow {
            Some(allow) => with_allow(resp, allow),
            None => resp,
        }
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                e.to_string(),
            ),
            _ => Self::bad_request(e.to_string()),
        }
    }
}

/// Where a request goes, decided on the raw path. Id segments are as received (still
/// percent-encoded).
enum Route<'a> {
    Users,
    User(&'a str),
    UserTeams(&'a str),
    Teams,
    Team(&'a str),
    TeamMembers(&'a str),
    /// One membership: the team id segment, then the user id segment.
    TeamMember(&'a str, &'a str),
    None,
}

impl<'a> Route<'a> {
    fn of(path: &'a str) -> Self {
        if let Some(segments) = segments_under(path, USERS) {
            return match segments.as_slice() {
                [] => Route::Users,
                [id] => Route::User(id),
                [id, "teams"] => Route::UserTeams(id),
                _ => Route::None,
            };
        }
        match segments_under(path, TEAMS).as_deref() {
            Some([]) => Route::Teams,
            Some([id]) => Route::Team(id),
            Some([id, "members"]) => Route::TeamMembers(id),
            Some([id, "members", user_id]) => Route::TeamMember(id, user_id),
            _ => Route::None,
        }
    }

    fn pattern(&self) -> &'static str {
        match self {
            Route::Users => USERS,
            Route::User(_) => USER,
            Route::UserTeams(_) => USER_TEAMS,
            Route::Teams => TEAMS,
            Route::Team(_) => TEAM,
            Route::TeamMembers(_) => TEAM_MEMBERS,
            Route::TeamMember(..) => TEAM_MEMBER,
            Route::None => NO_ROUTE,
        }
    }
}

/// How a write treats the fields a body leaves out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WriteMode {
    /// POST and PUT: absent fields are null (status enabled); `login` (a team's `name`) is
    /// required.
    Full,
    /// PATCH: absent fields are left as they are.
    Partial,
}

#[async_trait]
impl ServeHttp for AcmeHr {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let head = RequestHead::of(session);
        let route = Route::of(&head.path);
        if self.inner.counts.arrive(&head, route.pattern()).await {
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "Acme HR is temporarily unavailable",
            )
            .into_response();
        }
        match self.handle(&head, route, session).await {
            Ok(resp) => resp,
            Err(e) => e.into_response(),
        }
    }
}

impl AcmeHr {
    async fn handle(
        &self,
        head: &RequestHead,
        route: Route<'_>,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        self.authenticate(head)?;
        self.tenant_of(head)?.dispatch(head, route, session).await
    }

    /// The handle on the tenant a request names (the default tenant without the header).
    fn tenant_of(&self, head: &RequestHead) -> Result<AcmeHr, ApiError> {
        let name = head.header(TENANT_HEADER).unwrap_or(DEFAULT_TENANT).trim();
        self.tenant(name).ok_or_else(|| {
            let shown: String = name.chars().take(64).collect();
            ApiError::new(
                StatusCode::FORBIDDEN,
                "unknown_tenant",
                format!("no tenant {shown:?} in this Acme HR"),
            )
        })
    }

    /// Serves a request of this handle's tenant.
    async fn dispatch(
        &self,
        head: &RequestHead,
        route: Route<'_>,
        session: &mut ServerSession,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        let method = &head.method;
        match route {
            Route::Users => match *method {
                Method::GET => self.list(head),
                Method::POST => {
                    let body = read_object(session).await?;
                    self.create(&body)
                }
                _ => Err(ApiError::method_not_allowed(method, "GET, POST")),
            },
            Route::User(segment) => {
                if !matches!(
                    *method,
                    Method::GET | Method::PUT | Method::PATCH | Method::DELETE
                ) {
                    return Err(ApiError::method_not_allowed(
                        method,
                        "GET, PUT, PATCH, DELETE",
                    ));
                }
                let id = parse_id(segment, ApiError::user_not_found)?;
                let if_match = head.header("if-match").map(str::to_owned);
                match *method {
                    Method::GET => self.get(id),
                    Method::DELETE => self.delete(id),
                    Method::PUT => {
                        let body = read_object(session).await?;
                        self.update(id, &body, WriteMode::Full, if_match.as_deref())
                    }
                    _ => {
                        let body = read_object(session).await?;
                        self.update(id, &body, WriteMode::Partial, if_match.as_deref())
                    }
                }
            }
            Route::UserTeams(_)
            | Route::Teams
            | Route::Team(_)
            | Route::TeamMembers(_)
            | Route::TeamMember(..) => self.handle_teams(head, route, session).await,
            Route::None => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("no such endpoint: {method} {}", head.path),
            )),
        }
    }

    fn authenticate(&self, head: &RequestHead) -> Result<(), ApiError> {
        match head.header(API_KEY_HEADER) {
            Some(key) if secret_matches(key, &self.inner.api_key) => Ok(()),
            Some(_) => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "invalid API key",
            )),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                format!("missing {API_KEY_HEADER} header"),
            )),
        }
    }

    fn list(&self, head: &RequestHead) -> Result<Response<Vec<u8>>, ApiError> {
        let query = ListQuery::parse(&head.query_pairs())?;
        let paging = query.paging;
        let state = self.read();
        let (data, total) = if query.is_unfiltered() {
            // Without filters the count is known and no user needs to be matched.
            let page = paging.slice(state.users.values().map(|u| Value::Object(u.clone())));
            (page, state.users.len() as u64)
        } else {
            let candidates: Box<dyn Iterator<Item = &Map<String, Value>>> = match &query.login {
                // The login index answers `?login=` without a scan.
                Some(login) => Box::new(
                    state
                        .login_owner(login, None)
                        .and_then(|id| state.users.get(&id))
                        .into_iter(),
                ),
                None => Box::new(state.users.values()),
            };
            let (page, total) = paging.take(candidates.filter(|u| query.matches(u)));
            let page = page.into_iter().map(|u| Value::Object(u.clone())).collect();
            (page, total)
        };
        drop(state);
        Ok(json_response(StatusCode::OK, &paging.body(data, total)))
    }

    fn get(&self, id: u64) -> Result<Response<Vec<u8>>, ApiError> {
        let state = self.read();
        let user = state
            .users
            .get(&id)
            .ok_or_else(|| ApiError::user_not_found(&id.to_string()))?;
        Ok(json_response(StatusCode::OK, &Value::Object(user.clone())))
    }

    fn create(&self, body: &Map<String, Value>) -> Result<Response<Vec<u8>>, ApiError> {
        let fields = validate(body, WriteMode::Full)?;
        let login = fields.get("login").and_then(Value::as_str).unwrap_or("");
        let now = now_rfc3339();
        let mut state = self.write();
        if state.login_owner(login, None).is_some() {
            return Err(login_taken(login));
        }
        let id = state.last_id + 1;
        state.insert(id, &fields, &now);
        let doc = state.users.get(&id).cloned().unwrap_or_default();
        drop(state);
        let mut resp = json_response(StatusCode::CREATED, &Value::Object(doc));
        if let Ok(location) = HeaderValue::from_str(&format!("{USERS}/{id}")) {
            resp.headers_mut().insert(header::LOCATION, location);
        }
        Ok(resp)
    }

    fn update(
        &self,
        id: u64,
        body: &Map<String, Value>,
        mode: WriteMode,
        if_match: Option<&str>,
    ) -> Result<Response<Vec<u8>>, ApiError> {
        let fields = validate(body, mode)?;
        let now = now_rfc3339();
        let mut state = self.write();
        let current = state
            .users
            .get(&id)
            .ok_or_else(|| ApiError::user_not_found(&id.to_string()))?;
        let current_version = current.get("version").and_then(Value::as_u64).unwrap_or(0);
        if if_match.is_some_and(|tags| !version_matches(tags, current_version)) {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "version_conflict",
                format!("user {id} has changed: its version is now {current_version}"),
            ));
        }
        if let Some(login) = fields.get("login").and_then(Value::as_str) {
            if state.login_owner(login, Some(id)).is_some() {
                return Err(login_taken(login));
            }
        }
        let created_at = current
            .get("created_at")
            .and_then(Value::as_str)
            .unwrap_or(&now)
            .to_string();
        let version = current_version + 1;
        let doc = match mode {
            WriteMode::Full => render(id, &fields, &created_at, &now, version),
            WriteMode::Partial => {
                let mut doc = current.clone();
                for (name, value) in &fields {
                    let merged = match (value, doc.get(name)) {
                        (Value::Object(given), Some(Value::Object(old)))
                            if name.ends_with("address") =>
                        {
                            full_address(Some(old), given)
                        }
                        (Value::Object(given), _) if name.ends_with("address") => {
                            full_address(None, given)
                        }
                        _ => value.clone(),
                    };
                    doc.insert(name.clone(), merged);
                }
                doc.insert("updated_at".into(), json!(now));
                doc.insert("version".into(), json!(version));
                doc
            }
        };
        state.replace(id, doc.clone());
        drop(state);
        Ok(json_response(StatusCode::OK, &Value::Object(doc)))
    }

    fn delete(&self, id: u64) -> Result<Response<Vec<u8>>, ApiError> {
        let mut state = self.write();
        let doc = state
            .users
            .remove(&id)
            .ok_or_else(|| ApiError::user_not_found(&id.to_string()))?;
        if let Some(login) = doc.get("login").and_then(Value::as_str) {
            state.logins.remove(&login.to_lowercase());
        }
        state.release_user(id, &now_rfc3339());
        Ok(empty_response(StatusCode::NO_CONTENT))
    }
}

fn login_taken(login: &str) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "login_taken",
        format!("login '{login}' is already taken"),
    )
}

/// The numeric id in a path segment; anything else names nothing, and is answered with
/// `not_found(decoded segment)`.
fn parse_id(segment: &str, not_found: fn(&str) -> ApiError) -> Result<u64, ApiError> {
    let decoded = decode_segment(segment).unwrap_or_else(|| segment.to_string());
    if decoded.is_empty() || !decoded.bytes().all(|b| b.is_ascii_digit()) {
        return Err(not_found(&decoded));
    }
    decoded.parse().map_err(|_| not_found(&decoded))
}

/// Reads the body as a JSON object: 400 for anything else.
async fn read_object(session: &mut ServerSession) -> Result<Map<String, Value>, ApiError> {
    let bytes = read_body(session).await?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!("invalid JSON: {e}"))),
    }
}

/// Checks the known fields of a request body and returns them (address keys included only when
/// given). Unknown fields, and `id`, `created_at`, `updated_at`, `version`, are ignored.
fn validate(body: &Map<String, Value>, mode: WriteMode) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for (name, kind) in FIELDS {
        let Some(value) = body.get(*name) else {
            continue;
        };
        let valid = match (kind, value) {
            (Kind::Status, Value::String(s)) if STATUSES.contains(&s.as_str()) => value.clone(),
            (Kind::Status, _) => {
                return Err(ApiError::invalid_field(format!(
                    "status must be \"enabled\", \"disabled\" or \"archived\", not {value}"
                )))
            }
            (Kind::Role, Value::String(s)) if ROLES.contains(&s.as_str()) => value.clone(),
            (Kind::Role, _) => {
                return Err(ApiError::invalid_field(format!(
                    "role must be one of {}, not {value}",
                    ROLES.join(", ")
                )))
            }
            (Kind::Flag, Value::Bool(_)) => value.clone(),
            (Kind::Flag, _) => {
                return Err(ApiError::invalid_field(format!(
                    "{name} must be true or false, not {value}"
                )))
            }
            (_, Value::Null) => Value::Null,
            (Kind::Text, Value::String(_)) => value.clone(),
            (Kind::Text, _) => {
                return Err(ApiError::invalid_field(format!(
                    "{name} must be a string, not {value}"
                )))
            }
            (Kind::Address, Value::Object(given)) => Value::Object(validate_address(given)?),
            (Kind::Address, _) => {
                return Err(ApiError::invalid_field(format!(
                    "{name} must be an object, not {value}"
                )))
            }
        };
        out.insert((*name).into(), valid);
    }
    match (mode, out.get("login")) {
        (WriteMode::Full, None | Some(Value::Null)) => {
            Err(ApiError::bad_request("login is required"))
        }
        (WriteMode::Partial, Some(Value::Null)) => {
            Err(ApiError::invalid_field("login cannot be cleared"))
        }
        (_, Some(Value::String(s))) if s.trim().is_empty() => {
            Err(ApiError::invalid_field("login must not be empty"))
        }
        _ => Ok(out),
    }
}

fn validate_address(given: &Map<String, Value>) -> Result<Map<String, Value>, ApiError> {
    let mut out = Map::new();
    for key in ADDRESS_FIELDS {
        match given.get(*key) {
            None => {}
            Some(v @ (Value::String(_) | Value::Null)) => {
                out.insert((*key).into(), v.clone());
            }
            Some(v) => {
                return Err(ApiError::invalid_field(format!(
                    "address.{key} must be a string, not {v}"
                )))
            }
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

/// `page` (1-based) and `per_page` of a list request: the same rules for every list.
#[derive(Debug, Clone, Copy)]
struct Paging {
    page: u64,
    per_page: u64,
}

impl Paging {
    fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let page = match first_param(pairs, "page") {
            None => 1,
            Some(v) => v.parse::<u64>().ok().filter(|p| *p >= 1).ok_or_else(|| {
                ApiError::bad_request(format!("page must be a positive integer, not '{v}'"))
            })?,
        };
        let per_page = match first_param(pairs, "per_page") {
            None => DEFAULT_PER_PAGE,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=MAX_PER_PAGE).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(format!(
                        "per_page must be between 1 and {MAX_PER_PAGE}, not '{v}'"
                    ))
                })?,
        };
        Ok(Paging { page, per_page })
    }

    /// How many items come before this page.
    fn skip(&self) -> u64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// This page of `items` (which are all the matches, in order), and how many there are.
    fn take<T>(&self, items: impl Iterator<Item = T>) -> (Vec<T>, u64) {
        let skip = self.skip();
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

    /// This page of a sequence whose length is known, without walking past the page.
    fn slice<T>(&self, items: impl Iterator<Item = T>) -> Vec<T> {
        items
            .skip(usize::try_from(self.skip()).unwrap_or(usize::MAX))
            .take(usize::try_from(self.per_page).unwrap_or(usize::MAX))
            .collect()
    }

    /// The list body: `{"data": [...], "meta": {"page", "per_page", "total"}}`.
    fn body(&self, data: Vec<Value>, total: u64) -> Value {
        json!({
            "data": data,
            "meta": {"page": self.page, "per_page": self.per_page, "total": total},
        })
    }
}

/// The query of `GET /api/v1/users`.
struct ListQuery {
    paging: Paging,
    login: Option<String>,
    email: Option<String>,
    external_ref: Option<String>,
    status: Option<String>,
    /// `exclude_status`: users of this status are left out, but from a lookup by `login`.
    exclude_status: Option<String>,
}

impl ListQuery {
    fn parse(pairs: &[(String, String)]) -> Result<Self, ApiError> {
        let paging = Paging::parse(pairs)?;
        let first = |name: &str| first_param(pairs, name);
        let status = |name: &str| match first(name) {
            Some(s) if !STATUSES.contains(&s.as_str()) => Err(ApiError::bad_request(format!(
                "{name} must be 'enabled', 'disabled' or 'archived', not '{s}'"
            ))),
            other => Ok(other),
        };
        Ok(ListQuery {
            paging,
            login: first("login"),
            email: first("email"),
            external_ref: first("external_ref"),
            status: status("status")?,
            exclude_status: status("exclude_status")?,
        })
    }

    fn is_unfiltered(&self) -> bool {
        self.login.is_none()
            && self.email.is_none()
            && self.external_ref.is_none()
            && self.status.is_none()
            && self.exclude_status.is_none()
    }

    fn matches(&self, user: &Map<String, Value>) -> bool {
        let field = |name: &str| user.get(name).and_then(Value::as_str);
        let eq_ci = |want: &Option<String>, name: &str| match want {
            None => true,
            Some(w) => field(name).is_some_and(|v| v.to_lowercase() == w.to_lowercase()),
        };
        let eq = |want: &Option<String>, name: &str| match want {
            None => true,
            Some(w) => field(name) == Some(w.as_str()),
        };
        let excluded = self.login.is_none()
            && self
                .exclude_status
                .as_deref()
                .is_some_and(|x| field("status") == Some(x));
        eq_ci(&self.login, "login")
            && eq_ci(&self.email, "email")
            && eq(&self.external_ref, "external_ref")
            && eq(&self.status, "status")
            && !excluded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::test_client::{Client, Reply};
    use scim_gateway_hosting::free_loopback_addr;
    use time::format_description::well_known::Rfc3339;
    use time::OffsetDateTime;

    pub(super) const KEY: &str = "acme-test-key";

    pub(super) struct Running {
        pub api: AcmeHr,
        pub client: Client,
        _server: RunningServer,
    }

    pub(super) fn running() -> Running {
        let api = AcmeHr::new(KEY);
        let addr = free_loopback_addr().unwrap();
        let server = api.serve(addr).unwrap();
        Running {
            client: Client::new(addr, Some((API_KEY_HEADER, KEY.to_string()))),
            api,
            _server: server,
        }
    }

    pub(super) fn error_code(reply: &Reply) -> &str {
        reply.json["error"]["code"].as_str().unwrap_or("<none>")
    }

    pub(super) fn create(client: &Client, body: Value) -> Value {
        let reply = client.send("POST", USERS, &body);
        assert_eq!(reply.status, 201, "{:?}", reply.json);
        reply.json
    }

    #[test]
    fn every_request_needs_the_api_key() {
        let t = running();
        let anonymous = t.client.with_auth(None);
        let wrong = t
            .client
            .with_auth(Some((API_KEY_HEADER, "not-the-key".to_string())));
        for client in [&anonymous, &wrong] {
            for (method, path) in [("GET", USERS), ("GET", "/api/v1/users/1"), ("POST", USERS)] {
                let reply = client.call(method, path, Some("{\"login\":\"x\"}"));
                assert_eq!(reply.status, 401, "{method} {path}");
                assert_eq!(error_code(&reply), "unauthorized");
                assert!(reply.json["error"]["message"].is_string());
                assert_eq!(reply.header("content-type"), Some("application/json"));
            }
        }
        assert_eq!(t.api.user_count(), 0, "nothing was created without the key");
        let ok = t.client.get(USERS);
        assert_eq!(ok.status, 200);
    }

    #[test]
    fn each_tenant_has_its_own_users_ids_and_logins() {
        let t = running();
        let acme = t.api.add_tenant("acme");
        t.api.add_tenant("globex");
        let call = |tenant: Option<&str>, method: &str, path: &str, body: Option<&str>| {
            let headers: Vec<(&str, &str)> =
                tenant.map(|v| (TENANT_HEADER, v)).into_iter().collect();
            t.client.call_with(method, path, body, &headers)
        };
        let login = Some("{\"login\":\"ada\"}");
        let a = call(Some("acme"), "POST", USERS, login);
        let g = call(Some("globex"), "POST", USERS, login);
        // The same login in two tenants; ids are sequences of their own.
        assert_eq!((a.status, g.status), (201, 201));
        assert_eq!(
            (a.json["id"].clone(), g.json["id"].clone()),
            (json!(1), json!(1))
        );
        assert_eq!(call(Some("acme"), "POST", USERS, login).status, 422);
        assert_eq!(acme.user_count(), 1);
        assert_eq!(t.api.user_count(), 0, "the default tenant saw nothing");
        assert_eq!(call(None, "GET", USERS, None).json["meta"]["total"], 0);
        assert_eq!(
            call(Some("default"), "GET", USERS, None).json["meta"]["total"],
            0
        );
        // A tenant that does not exist is refused, and created nowhere.
        let r = call(Some("initech"), "POST", USERS, login);
        assert_eq!(r.status, 403);
        assert_eq!(error_code(&r), "unknown_tenant");
        assert_eq!(t.api.tenant_names(), ["acme", "default", "globex"]);
        // The key is checked before the tenant.
        let r =
            t.client
                .with_auth(None)
                .call_with("GET", USERS, None, &[(TENANT_HEADER, "initech")]);
        assert_eq!(r.status, 401);
    }

    #[test]
    fn create_assigns_sequential_ids_and_renders_every_field() {
        let t = running();
        let first = create(
            &t.client,
            json!({
                "id": 99, "version": 7, "created_at": "1999-01-01T00:00:00Z",
                "login": "ada", "display_name": "Ada Lovelace", "first_name": "Ada",
                "last_name": "Lovelace", "email": "ada@example.com", "manager_id": "12",
                "address": {"city": "London", "country": "GB"},
                "favourite_colour": "green"
            }),
        );
        assert_eq!(first["id"], 1);
        assert_eq!(first["version"], 1);
        assert_eq!(first["status"], "enabled", "status defaults to enabled");
        assert_eq!(first["login"], "ada");
        assert_eq!(first["manager_id"], "12");
        assert_eq!(first["middle_name"], Value::Null);
        assert_eq!(
            first["address"],
            json!({"street": null, "city": "London", "state": null, "zip": null,
                   "country": "GB", "label": null})
        );
        assert!(
            first.get("favourite_colour").is_none(),
            "unknown fields are ignored"
        );
        let created = first["created_at"].as_str().unwrap();
        assert!(created.ends_with('Z'));
        assert!(OffsetDateTime::parse(created, &Rfc3339).is_ok());
        assert_ne!(created, "1999-01-01T00:00:00Z");
        assert_eq!(first["created_at"], first["updated_at"]);
        let keys: Vec<&str> = first
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let mut expected = vec!["id"];
        expected.extend(FIELDS.iter().map(|(name, _)| *name));
        expected.extend(["created_at", "updated_at", "version"]);
        assert_eq!(keys, expected);

        let reply = t.client.send("POST", USERS, &json!({"login": "grace"}));
        assert_eq!(reply.status, 201);
        assert_eq!(reply.json["id"], 2);
        assert_eq!(reply.header("location"), Some("/api/v1/users/2"));
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert_eq!(t.client.get("/api/v1/users/1").json, first);
    }

    #[test]
    fn new_users_are_unlicensed_members_unless_told() {
        let t = running();
        let plain = create(&t.client, json!({"login": "ada"}));
        assert_eq!(
            (&plain["role"], &plain["licensed"]),
            (&json!("member"), &json!(false))
        );
        let boss = create(
            &t.client,
            json!({"login": "bob", "role": "owner", "licensed": true}),
        );
        assert_eq!(
            (&boss["role"], &boss["licensed"]),
            (&json!("owner"), &json!(true))
        );
    }

    #[test]
    fn create_refuses_bad_bodies_and_taken_logins() {
        let t = running();
        create(&t.client, json!({"login": "Ada"}));
        let taken = t.client.send("POST", USERS, &json!({"login": "aDA"}));
        assert_eq!(taken.status, 422);
        assert_eq!(
            taken.json,
            json!({"error": {"code": "login_taken", "message": "login 'aDA' is already taken"}})
        );
        let cases: &[(&str, u16, &str)] = &[
            (r#"{"display_name": "No Login"}"#, 400, "bad_request"),
            (r#"{"login": null}"#, 400, "bad_request"),
            (r#"{"login": "x", "#, 400, "bad_request"),
            ("not json", 400, "bad_request"),
            (r#"["login", "x"]"#, 400, "bad_request"),
            (r#"{"login": 5}"#, 422, "invalid_field"),
            (r#"{"login": ""}"#, 422, "invalid_field"),
            (r#"{"login": "x", "status": "maybe"}"#, 422, "invalid_field"),
            (r#"{"login": "x", "status": null}"#, 422, "invalid_field"),
            (r#"{"login": "x", "manager_id": 12}"#, 422, "invalid_field"),
            (r#"{"login": "x", "role": "boss"}"#, 422, "invalid_field"),
            (r#"{"login": "x", "role": null}"#, 422, "invalid_field"),
            (r#"{"login": "x", "licensed": "yes"}"#, 422, "invalid_field"),
            (
                r#"{"login": "x", "email": ["a@b.c"]}"#,
                422,
                "invalid_field",
            ),
            (
                r#"{"login": "x", "address": "1 Main St"}"#,
                422,
                "invalid_field",
            ),
            (
                r#"{"login": "x", "address": {"zip": 12345}}"#,
                422,
                "invalid_field",
            ),
        ];
        for (body, status, code) in cases {
            let reply = t.client.call("POST", USERS, Some(body));
            assert_eq!(reply.status, *status, "{body}: {:?}", reply.json);
            assert_eq!(error_code(&reply), *code, "{body}");
        }
        assert_eq!(t.api.user_count(), 1, "no refused body created a user");
    }

    #[test]
    fn unknown_and_odd_ids_are_404() {
        let t = running();
        create(&t.client, json!({"login": "ada"}));
        let reply = t.client.get("/api/v1/users/42");
        assert_eq!(reply.status, 404);
        assert_eq!(
            reply.json,
            json!({"error": {"code": "not_found", "message": "user 42 not found"}})
        );
        for path in [
            "/api/v1/users/abc",
            "/api/v1/users/-1",
            "/api/v1/users/1.0",
            "/api/v1/users/..%2Fadmin",
            "/api/v1/users/%2e%2e",
            "/api/v1/users/1%2F..",
            "/api/v1/users/99999999999999999999999",
        ] {
            for method in ["GET", "DELETE"] {
                let reply = t.client.call(method, path, None);
                assert_eq!(reply.status, 404, "{method} {path}");
                assert_eq!(error_code(&reply), "not_found", "{method} {path}");
            }
        }
        let decoded = t.client.get("/api/v1/users/..%2Fadmin");
        assert_eq!(decoded.json["error"]["message"], "user ../admin not found");
        assert_eq!(t.client.get("/api/v1/users/%31").status, 200, "%31 is 1");
        for path in [
            "/api/v1/users/1/extra",
            "/api/v1/userz",
            "/api/v2/users",
            "/",
        ] {
            let reply = t.client.get(path);
            assert_eq!(reply.status, 404, "{path}");
            assert_eq!(error_code(&reply), "not_found");
        }
        for method in ["PUT", "PATCH"] {
            let reply = t
                .client
                .send(method, "/api/v1/users/42", &json!({"login": "z"}));
            assert_eq!(reply.status, 404, "{method}");
        }
        assert_eq!(t.api.user(1).unwrap()["login"], "ada");
    }

    #[test]
    fn put_replaces_every_writable_field() {
        let t = running();
        let ada = create(
            &t.client,
            json!({"login": "ada", "first_name": "Ada", "department": "Math",
                   "status": "disabled", "address": {"city": "London"}}),
        );
        create(&t.client, json!({"login": "grace"}));
        let reply = t.client.send(
            "PUT",
            "/api/v1/users/1",
            &json!({"id": 5, "version": 40, "created_at": "2000-01-01T00:00:00Z",
                    "login": "ADA", "last_name": "Lovelace", "address": {"zip": "N1"}}),
        );
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        let put = reply.json;
        assert_eq!(put["id"], 1);
        assert_eq!(
            put["login"], "ADA",
            "a user may change the case of its own login"
        );
        assert_eq!(put["last_name"], "Lovelace");
        assert_eq!(put["first_name"], Value::Null, "absent fields are cleared");
        assert_eq!(put["department"], Value::Null);
        assert_eq!(put["status"], "enabled");
        assert_eq!(put["address"]["zip"], "N1");
        assert_eq!(put["address"]["city"], Value::Null);
        assert_eq!(put["version"], 2);
        assert_eq!(put["created_at"], ada["created_at"]);
        assert!(put["updated_at"].as_str().unwrap() >= ada["updated_at"].as_str().unwrap());
        assert_eq!(t.client.get("/api/v1/users/1").json, put);

        let taken = t
            .client
            .send("PUT", "/api/v1/users/1", &json!({"login": "Grace"}));
        assert_eq!(taken.status, 422);
        assert_eq!(error_code(&taken), "login_taken");
        let missing = t
            .client
            .send("PUT", "/api/v1/users/1", &json!({"first_name": "Ada"}));
        assert_eq!(missing.status, 400);
        let wrong = t.client.send(
            "PUT",
            "/api/v1/users/1",
            &json!({"login": "ada", "manager_id": 12}),
        );
        assert_eq!(wrong.status, 422);
        assert_eq!(error_code(&wrong), "invalid_field");
        assert_eq!(
            t.api.user(1).unwrap()["version"],
            2,
            "refused writes change nothing"
        );
    }

    #[test]
    fn patch_changes_only_the_given_keys() {
        let t = running();
        create(
            &t.client,
            json!({"login": "ada", "first_name": "Ada", "nickname": "Countess",
                   "address": {"street": "1 St James's Sq", "city": "London"}}),
        );
        create(&t.client, json!({"login": "grace"}));
        let reply = t.client.send(
            "PATCH",
            "/api/v1/users/1",
            &json!({"status": "disabled", "nickname": null, "address": {"zip": "SW1"},
                    "version": 99, "unknown": 1}),
        );
        assert_eq!(reply.status, 200, "{:?}", reply.json);
        let user = reply.json;
        assert_eq!(user["status"], "disabled");
        assert_eq!(user["nickname"], Value::Null, "null clears");
        assert_eq!(user["first_name"], "Ada", "absent keys are kept");
        assert_eq!(user["login"], "ada");
        assert_eq!(
            user["address"],
            json!({"street": "1 St James's Sq", "city": "London", "state": null,
                   "zip": "SW1", "country": null, "label": null})
        );
        assert_eq!(user["version"], 2);

        let cleared = t
            .client
            .send("PATCH", "/api/v1/users/1", &json!({"address": null}));
        assert_eq!(cleared.json["address"], Value::Null);
        assert_eq!(cleared.json["version"], 3);

        let cases: &[(&str, u16, &str)] = &[
            (r#"{"login": "GRACE"}"#, 422, "login_taken"),
            (r#"{"login": null}"#, 422, "invalid_field"),
            (r#"{"status": "maybe"}"#, 422, "invalid_field"),
            (r#"{"manager_id": 7}"#, 422, "invalid_field"),
            (r#"{"status": "#, 400, "bad_request"),
        ];
        for (body, status, code) in cases {
            let reply = t.client.call("PATCH", "/api/v1/users/1", Some(body));
            assert_eq!(reply.status, *status, "{body}");
            assert_eq!(error_code(&reply), *code, "{body}");
        }
        assert_eq!(t.api.user(1).unwrap()["version"], 3);
        let renamed = t
            .client
            .send("PATCH", "/api/v1/users/1", &json!({"login": "lovelace"}));
        assert_eq!(renamed.status, 200);
        let by_new = t.client.get("/api/v1/users?login=lovelace");
        assert_eq!(by_new.json["meta"]["total"], 1);
        let by_old = t.client.get("/api/v1/users?login=ada");
        assert_eq!(by_old.json["meta"]["total"], 0);
        create(&t.client, json!({"login": "ada"}));
    }

    #[test]
    fn delete_removes_the_user_and_frees_its_login() {
        let t = running();
        create(&t.client, json!({"login": "ada"}));
        let reply = t.client.call("DELETE", "/api/v1/users/1", None);
        assert_eq!(reply.status, 204);
        assert_eq!(reply.json, Value::Null, "no body");
        assert_eq!(t.client.get("/api/v1/users/1").status, 404);
        assert_eq!(t.client.call("DELETE", "/api/v1/users/1", None).status, 404);
        let again = create(&t.client, json!({"login": "ADA"}));
        assert_eq!(again["id"], 2, "ids are not reused");
    }

    #[test]
    fn list_pages_in_id_order() {
        let t = running();
        let ids = t.api.seed(60);
        assert_eq!(ids, (1..=60).collect::<Vec<u64>>());
        let ids_of = |reply: &Reply| -> Vec<u64> {
            reply.json["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_u64().unwrap())
                .collect()
        };
        let first = t.client.get(USERS);
        assert_eq!(first.status, 200);
        assert_eq!(
            first.json["meta"],
            json!({"page": 1, "per_page": 25, "total": 60})
        );
        assert_eq!(ids_of(&first), (1..=25).collect::<Vec<u64>>());
        let third = t.client.get("/api/v1/users?page=3");
        assert_eq!(ids_of(&third), (51..=60).collect::<Vec<u64>>());
        let past = t.client.get("/api/v1/users?page=4");
        assert_eq!(past.status, 200);
        assert!(ids_of(&past).is_empty());
        assert_eq!(past.json["meta"]["total"], 60);
        let big = t.client.get("/api/v1/users?per_page=100");
        assert_eq!(ids_of(&big).len(), 60);
        let small = t.client.get("/api/v1/users?page=2&per_page=7");
        assert_eq!(ids_of(&small), (8..=14).collect::<Vec<u64>>());
        assert_eq!(
            small.json["meta"],
            json!({"page": 2, "per_page": 7, "total": 60})
        );
        for query in [
            "per_page=101",
            "per_page=0",
            "per_page=x",
            "page=0",
            "page=-1",
            "page=abc",
            "status=maybe",
            "exclude_status=gone",
        ] {
            let reply = t.client.get(&format!("{USERS}?{query}"));
            assert_eq!(reply.status, 400, "{query}");
            assert_eq!(error_code(&reply), "bad_request", "{query}");
        }
    }

    #[test]
    fn list_filters_match_exactly() {
        let t = running();
        create(
            &t.client,
            json!({"login": "Ada", "email": "Ada@Example.com", "external_ref": "EXT-1"}),
        );
        create(
            &t.client,
            json!({"login": "ada2", "email": "ada@example.com.au", "external_ref": "ext-1",
                   "status": "disabled"}),
        );
        create(
            &t.client,
            json!({"login": "grace", "email": "grace@example.com"}),
        );
        create(
            &t.client,
            json!({"login": "a+b", "email": "a+b@example.com", "status": "disabled"}),
        );
        let ids = |query: &str| -> Vec<u64> {
            let reply = t.client.get(&format!("{USERS}?{query}"));
            assert_eq!(reply.status, 200, "{query}");
            let data = reply.json["data"].as_array().unwrap().clone();
            assert_eq!(reply.json["meta"]["total"], data.len(), "{query}");
            data.iter().map(|u| u["id"].as_u64().unwrap()).collect()
        };
        assert_eq!(ids("login=ada"), vec![1]);
        assert_eq!(ids("login=ADA"), vec![1]);
        assert_eq!(ids("login=ad"), Vec::<u64>::new());
        assert_eq!(ids("email=ADA%40example.COM"), vec![1]);
        assert_eq!(ids("email=ada@example.com"), vec![1]);
        assert_eq!(ids("external_ref=EXT-1"), vec![1]);
        assert_eq!(
            ids("external_ref=ext-1"),
            vec![2],
            "external_ref is case-sensitive"
        );
        assert_eq!(ids("email=a%2Bb%40example.com"), vec![4]);
        assert_eq!(ids("login=a+b"), Vec::<u64>::new(), "`+` is a space");
        assert_eq!(ids("status=disabled"), vec![2, 4]);
        assert_eq!(ids("status=enabled"), vec![1, 3]);
        assert_eq!(ids("login=ada2&status=enabled"), Vec::<u64>::new());
        assert_eq!(ids("email=grace%40example.com&status=enabled"), vec![3]);
        assert_eq!(ids("login=nobody"), Vec::<u64>::new());
        assert_eq!(
            ids("unknown=1"),
            vec![1, 2, 3, 4],
            "unknown parameters are ignored"
        );
    }

    #[test]
    fn archived_users_are_left_out_on_request_but_a_login_lookup_finds_them() {
        let t = running();
        for (login, status) in [("ada", "enabled"), ("bob", "archived"), ("cy", "disabled")] {
            create(
                &t.client,
                json!({"login": login, "email": format!("{login}@x.example"), "status": status}),
            );
        }
        let ids = |query: &str| -> (Vec<u64>, Value) {
            let reply = t.client.get(&format!("{USERS}?{query}"));
            assert_eq!(reply.status, 200, "{query}");
            let data = reply.json["data"].as_array().unwrap().clone();
            let ids = data.iter().map(|u| u["id"].as_u64().unwrap()).collect();
            (ids, reply.json["meta"]["total"].clone())
        };
        assert_eq!(ids(""), (vec![1, 2, 3], json!(3)), "kept by default");
        assert_eq!(ids("exclude_status=archived"), (vec![1, 3], json!(2)));
        assert_eq!(
            ids("exclude_status=archived&per_page=1&page=2"),
            (vec![3], json!(2)),
            "pages and total without them"
        );
        assert_eq!(
            ids("exclude_status=archived&email=bob%40x.example"),
            (vec![], json!(0))
        );
        assert_eq!(
            ids("exclude_status=archived&login=BOB"),
            (vec![2], json!(1)),
            "a login lookup answers who holds the login"
        );
    }

    #[test]
    fn oversized_bodies_are_413() {
        let t = running();
        let big = format!(
            r#"{{"login": "big", "display_name": "{}"}}"#,
            "x".repeat(crate::MAX_BODY_BYTES)
        );
        let reply = t.client.call("POST", USERS, Some(&big));
        assert_eq!(reply.status, 413);
        assert_eq!(error_code(&reply), "payload_too_large");
        assert_eq!(t.api.user_count(), 0);
        assert_eq!(t.client.get(USERS).status, 200, "the server still answers");
    }

    #[test]
    fn one_connection_serves_many_requests() {
        use std::io::{BufRead, BufReader, Read, Write};
        let api = AcmeHr::new(KEY);
        let addr = free_loopback_addr().unwrap();
        let _server = api.serve(addr).unwrap();
        api.seed(1);
        let stream = std::net::TcpStream::connect(addr).unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        for path in ["/api/v1/users/1", "/api/v1/users/2", "/api/v1/users"] {
            write!(
                writer,
                "GET {path} HTTP/1.1\r\nHost: x\r\n{API_KEY_HEADER}: {KEY}\r\n\r\n"
            )
            .unwrap();
            let mut length = None;
            let mut status_line = String::new();
            reader.read_line(&mut status_line).unwrap();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = Some(value.trim().parse::<usize>().unwrap());
                    }
                }
            }
            let mut body = vec![0; length.expect("every response has a Content-Length")];
            reader.read_exact(&mut body).unwrap();
            let json: Value = serde_json::from_slice(&body).unwrap();
            assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
            assert!(json.is_object(), "{path}");
        }
        assert_eq!(api.request_count(), 3);
    }

    #[test]
    fn other_methods_are_405() {
        let t = running();
        for (method, path, allow) in [
            ("DELETE", USERS, "GET, POST"),
            ("PUT", USERS, "GET, POST"),
            ("POST", "/api/v1/users/1", "GET, PUT, PATCH, DELETE"),
        ] {
            let reply = t.client.call(method, path, None);
            assert_eq!(reply.status, 405, "{method} {path}");
            assert_eq!(error_code(&reply), "method_not_allowed");
            assert_eq!(reply.header("allow"), Some(allow));
        }
    }

    #[test]
    fn requests_are_counted_per_endpoint() {
        let t = running();
        t.api.seed(3);
        t.client.get(USERS);
        t.client.get("/api/v1/users/1");
        t.client.get("/api/v1/users/2");
        t.client.get("/api/v1/users/nope");
        t.client
            .send("PATCH", "/api/v1/users/1", &json!({"nickname": "A"}));
        t.client.with_auth(None).get("/api/v1/users/3");
        t.client.get("/elsewhere");
        assert_eq!(t.api.request_count(), 7, "seeding is not a request");
        let counts = t.api.requests();
        assert_eq!(counts.get("GET", USERS), 1);
        assert_eq!(counts.get("GET", USER), 4, "404s and 401s count too");
        assert_eq!(counts.get("PATCH", USER), 1);
        assert_eq!(counts.get("GET", NO_ROUTE), 1);
        assert_eq!(counts.snapshot().len(), 4);
        let seen: Vec<String> = counts.snapshot().keys().map(|e| e.to_string()).collect();
        assert!(
            seen.contains(&"GET /api/v1/users/{id}".to_string()),
            "{seen:?}"
        );
        counts.reset();
        assert_eq!(t.api.request_count(), 0);
        t.client.get(USERS);
        assert_eq!(
            t.api.clone().request_count(),
            1,
            "clones share the counters"
        );
    }

    #[test]
    fn seeded_users_are_complete_and_do_not_clash() {
        let api = AcmeHr::new(KEY);
        let ids = api.seed(2);
        assert_eq!(ids, vec![1, 2]);
        let user = api.user(2).unwrap();
        assert_eq!(user["login"], "seed.user2");
        assert_eq!(user["status"], "enabled");
        assert_eq!(user["version"], 1);
        assert!(user["email"].as_str().unwrap().contains('@'));
        assert!(user["address"]["city"].is_string());
        // User 3, created by hand, took the login the seed would give user 4.
        let fields = validate(
            json!({"login": "SEED.USER4"}).as_object().unwrap(),
            WriteMode::Full,
        )
        .unwrap();
        api.write().insert(3, &fields, &now_rfc3339());
        assert_eq!(api.seed(1), vec![4]);
        assert_eq!(api.user(4).unwrap()["login"], "seed.user4-2");
        assert_eq!(api.user_count(), 4);
    }
}
