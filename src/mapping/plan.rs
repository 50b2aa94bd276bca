//! The internal, compiled form of a mapping: what the server uses per request. Built once by
//! `load` from the YAML model; JSONPaths are parsed, templates split, value maps and SCIM paths
//! resolved. The public types here are the server's view (endpoints, pagination, backend,
//! group membership); the attribute plan stays private to the mapping module and is used
//! through the methods in `translate`, `list`, `pushdown`, `legacy_errors` and `membership`.

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

pub use super::auth::{BackendAuth, SecretSource};
use super::capture::{ListReader, RecordReader};
use super::computed::Computed;
use super::legacy_path::LegacyPath;
use super::placeholders::{BodyTemplate, Fill, Placeholder, Text};
use super::slot::ScimSlot;
use super::template::{append_query, PathTemplate};
use super::values::{Conversion, LegacyType};
use crate::scim::path::AttrPath;
use crate::scim::schema::ResourceSchema;
use crate::scim::ScimType;

/// A loaded, valid mapping.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub name: String,
    pub backend: BackendSpec,
    pub users: ResourceMapping,
    /// How SCIM Groups map, when the mapping has a `groups:` section over the legacy API.
    pub groups: Option<GroupMapping>,
    /// SCIM Groups the gateway keeps in its own store (`groups: { held_by: gateway }`). Never
    /// set together with `groups`.
    pub held_groups: Option<HeldGroups>,
}

/// `groups: { held_by: gateway }`: SCIM Groups kept in the gateway's store, not the legacy
/// API; the legacy user receives only what the roles and flags derive from them.
#[derive(Debug, Clone)]
pub struct HeldGroups {
    /// Roles and flags derived from a user's held groups (`groups.roles`, `groups.flags`),
    /// exactly as for legacy groups.
    pub rules: super::roles::GroupRules,
    /// `groups.remove_deleted_users`: a user deleted or deactivated through SCIM leaves the
    /// held groups (default false).
    pub remove_deleted_users: bool,
}

impl Mapping {
    /// The roles and flags derived from a user's groups, legacy or held by the gateway (`None`
    /// without a `groups:` section).
    pub fn group_rules(&self) -> Option<&super::roles::GroupRules> {
        match (&self.groups, &self.held_groups) {
            (Some(g), _) => Some(&g.rules),
            (None, Some(h)) => Some(&h.rules),
            (None, None) => None,
        }
    }

    /// [`Mapping::group_rules`], to change (the role names resolved to the legacy ids).
    pub fn group_rules_mut(&mut self) -> Option<&mut super::roles::GroupRules> {
        match (&mut self.groups, &mut self.held_groups) {
            (Some(g), _) => Some(&mut g.rules),
            (None, Some(h)) => Some(&mut h.rules),
            (None, None) => None,
        }
    }

    /// The body of a call of `endpoint` that has no body of its own: its `body:` template with
    /// `{id}`, `{member}` and `{tenant}` filled (`None` without a template). A string that is
    /// exactly `"{id}"` (or `"{member}"`) is a JSON number when the resource that id names has
    /// `id_format: integer`.
    pub fn template_body(
        &self,
        endpoint: &Endpoint,
        tenant: &str,
        id: Option<&str>,
        member: Option<&str>,
    ) -> Option<Value> {
        let body = endpoint.body.as_ref()?;
        let integer = |r: Option<&ResourceMapping>| {
            r.is_some_and(|r| matches!(r.id_format, Some(IdFormat::Integer)))
        };
        let users = Some(&self.users);
        let groups = self.groups.as_ref().map(|g| &g.resource);
        Some(body.render(&Fill {
            id,
            member,
            tenant: Some(tenant),
            id_integer: integer(if body.id_is_user { users } else { groups }),
            member_integer: integer(users),
        }))
    }
}

/// How SCIM Groups map to the legacy API: the group's own attributes, compiled like users
/// (its `schema` is the Group schema restricted to what is mapped, plus `members`), and where
/// its members are. [`ResourceMapping::to_scim`] never reports `members`: the server fills them
/// from [`Membership`].
#[derive(Debug, Clone)]
pub struct GroupMapping {
    pub resource: ResourceMapping,
    pub membership: Membership,
    /// Roles and flags derived from a user's groups (`groups.roles`, `groups.flags`).
    pub rules: super::roles::GroupRules,
    /// `groups.protected`: groups the identity provider sees but whose name, members and
    /// existence it cannot change (see [`GroupMapping::is_protected`]).
    pub(crate) protected: Vec<GroupSelector>,
    /// `groups.hidden`: groups the identity provider never sees (see
    /// [`GroupMapping::is_hidden`]).
    pub(crate) hidden: Vec<GroupSelector>,
}

/// One legacy group named in the mapping: by display name (compared trimmed and
/// case-insensitively) or by id (compared exactly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum GroupSelector {
    Name(String),
    Id(String),
}

impl GroupSelector {
    /// Whether the group of legacy id `id` and display name `display` is this one.
    pub(crate) fn selects(&self, id: &str, display: Option<&str>) -> bool {
        match self {
            GroupSelector::Id(i) => i == id,
            GroupSelector::Name(n) => {
                display.is_some_and(|d| d.trim().eq_ignore_ascii_case(n.trim()))
            }
        }
    }
}

impl GroupMapping {
    /// Whether group `id` (of display name `display`, when known) is protected.
    pub fn is_protected(&self, id: &str, display: Option<&str>) -> bool {
        self.protected.iter().any(|s| s.selects(id, display))
    }

    /// Whether group `id` (of display name `display`, when known) is hidden.
    pub fn is_hidden(&self, id: &str, display: Option<&str>) -> bool {
        self.hidden.iter().any(|s| s.selects(id, display))
    }

    /// Whether a rule protects or hides groups by display name: telling whether a group is
    /// one of them then needs its name, not only its id.
    pub fn names_groups(&self) -> bool {
        self.protected
            .iter()
            .chain(&self.hidden)
            .any(|s| matches!(s, GroupSelector::Name(_)))
    }
}

/// Where a group's members are (`groups.membership`).
// Built once per mapping and only borrowed afterwards: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Membership {
    /// Member endpoints on the legacy group: every change is one call (a delta), never a
    /// rewrite of the member list.
    Endpoints {
        /// Adds one member (`POST /teams/{id}/members`).
        add: MemberCall,
        /// Removes one member; its path has `{id}` and `{member}`.
        remove: Endpoint,
        /// A group's members, paged.
        list: MemberList,
        /// A user's groups in one call (`GET /users/{id}/teams`), when the API has it.
        user_groups: Option<UserGroups>,
    },
    /// The member ids as a list on the legacy group (`member_ids`), written whole through the
    /// group's update endpoint: every change is a read-modify-write of the list.
    GroupAttribute(GroupAttribute),
    /// Membership held on the legacy user (`team_ids`, `role`), written through the users'
    /// update endpoint.
    UserAttribute(UserAttribute),
}

/// Membership as a list of member ids on the legacy group.
#[derive(Debug, Clone)]
pub struct GroupAttribute {
    pub(crate) legacy: LegacyPath,
    pub(crate) legacy_type: Option<LegacyType>,
    /// The group's version, sent as `If-Match` on the write of the list.
    pub(crate) if_match: Option<LegacyPath>,
    /// The call that writes the list; `None`: the groups' update endpoint.
    pub update: Option<Endpoint>,
    /// A user's groups in one call, when the API has it.
    pub user_groups: Option<UserGroups>,
}

/// The add-member call: `{member}` in the path, or the member's id written into the body
/// ([`MemberCall::add_request_body`]).
#[derive(Debug, Clone)]
pub struct MemberCall {
    pub endpoint: Endpoint,
    pub(crate) body: Option<MemberBody>,
}

/// Where the member id goes in an add body, and its legacy type.
#[derive(Debug, Clone)]
pub(crate) struct MemberBody {
    pub(crate) member: LegacyPath,
    pub(crate) legacy_type: Option<LegacyType>,
}

/// A group's paged member list: the endpoint (its path has `{id}`), items, total and
/// pagination as for a users list, and where the member's id is in an item
/// ([`MemberList::member_of_item`]).
#[derive(Debug, Clone)]
pub struct MemberList {
    pub pages: ListEndpoint,
    pub(crate) member: LegacyPath,
}

/// A user's groups: the endpoint (its `{id}` is the user's legacy id), the items, and where a
/// group's id is in an item ([`UserGroups::groups`]).
#[derive(Debug, Clone)]
pub struct UserGroups {
    pub endpoint: Endpoint,
    pub(crate) items: LegacyPath,
    pub(crate) group: LegacyPath,
}

/// Membership as a field of the legacy user: a list of group ids, or one id (`single`).
#[derive(Debug, Clone)]
pub struct UserAttribute {
    pub(crate) legacy: LegacyPath,
    /// One group per user (a `role` field): at most one group id.
    pub single: bool,
    pub(crate) legacy_type: Option<LegacyType>,
    pub(crate) members_query: Option<String>,
    pub(crate) if_match: Option<LegacyPath>,
    /// With `single`: group display names or ids, highest first (see
    /// [`UserAttribute::single_choice`]).
    pub(crate) ranking: Vec<String>,
    /// With `single`: the group written when the user leaves the group the field holds (the
    /// legacy field cannot be empty), and that counts as no group: a user in it moves to any
    /// group it is added to, whatever the ranking. `None`: leaving writes null.
    pub(crate) otherwise: Option<GroupSelector>,
}

/// Where the legacy API is and how the gateway authenticates to it.
#[derive(Debug, Clone)]
pub struct BackendSpec {
    /// `http://host:port` plus an optional path prefix, without a trailing slash.
    pub base_url: String,
    pub auth: Option<BackendAuth>,
    /// The timeout of every call to the legacy API (each attempt: connect, send, read).
    pub timeout: Duration,
    /// Bound on opening a connection (at most `timeout`).
    pub connect_timeout: Duration,
    /// Bound on each wait for the next bytes of an answer; `None`: only `timeout`.
    pub(crate) read_timeout: Option<Duration>,
    /// The concurrency bound and its queue, retries, the circuit breaker (`docs/security.md`).
    pub protection: crate::mapping::protection::Protection,
    /// How an https:// legacy API is trusted.
    pub(crate) tls: BackendTls,
    /// How each call tells the legacy API the tenant (`backend.tenant`), besides `{tenant}` in
    /// paths. `None`: only through `{tenant}`, if any path has it.
    pub(crate) tenant: Option<TenantParam>,
    /// `backend.headers`: static headers sent with every call, unless the endpoint sets the
    /// same name. Not secrets (a secret goes in `auth`).
    pub(crate) headers: Vec<(String, String)>,
}

/// How the tenant's legacy id goes with every legacy call (`backend.tenant`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantParam {
    /// In this header (`X-Acme-Tenant: <legacy id>`), its name parsed once, at load.
    Header(http::HeaderName),
    /// In this query parameter (`?tenant=<legacy id>`), before the call's own parameters.
    Query(String),
}

impl BackendSpec {
    /// Path and query of a call of `endpoint` for the tenant whose legacy id is `tenant`: the
    /// path with `{id}`, `{member}` and `{tenant}` filled (each one percent-encoded segment),
    /// then the static parameters, the tenant parameter when `backend.tenant` says `query`, and
    /// `extra` (form-encoded).
    pub fn target(
        &self,
        endpoint: &Endpoint,
        tenant: &str,
        id: Option<&str>,
        member: Option<&str>,
        extra: &[QueryParam<'_>],
    ) -> String {
        let param = match &self.tenant {
            Some(TenantParam::Query(name)) => Some((name.as_str(), tenant)),
            _ => None,
        };
        endpoint.render_target(id, member, Some(tenant), param, extra)
    }

    /// The header that names the tenant on every call, when `backend.tenant` says `header`.
    /// The static headers of a call of `endpoint`: `backend.headers` except the names the
    /// endpoint sets (case-insensitively), then the endpoint's own `headers:`.
    pub fn headers_of<'a>(
        &'a self,
        endpoint: &'a Endpoint,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let own = |name: &str| {
            endpoint
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
        };
        self.headers
            .iter()
            .filter(move |(n, _)| !own(n))
            .chain(&endpoint.headers)
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn tenant_header<'a>(&'a self, tenant: &'a str) -> Option<(&'a http::HeaderName, &'a str)> {
        match &self.tenant {
            Some(TenantParam::Header(name)) => Some((name, tenant)),
            _ => None,
        }
    }
}

/// Trust for an https:// legacy API: the system roots by default, or a CA bundle, or (for a
/// test bench only) no verification at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackendTls {
    /// A PEM bundle trusted instead of the system roots.
    pub(crate) ca_file: Option<PathBuf>,
    pub(crate) insecure_skip_verify: bool,
    /// The certificate the gateway presents (mutual TLS), read at start-up and on reload.
    pub(crate) client_cert: Option<ClientCertFiles>,
}

/// `tls.client_cert` and `tls.client_key`: PEM files, the certificate chain (leaf first) and
/// its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertFiles {
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
}

/// What a SCIM DELETE does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnDelete {
    /// Set `active` to false (through the attribute or the deactivate endpoint).
    Deactivate,
    /// Call the delete endpoint.
    Delete,
}

/// How the legacy update endpoint treats its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// The body replaces the user (legacy PUT): send the whole user.
    Full,
    /// The body changes only the fields it holds (legacy PATCH): send the changed fields.
    Partial,
}

/// One legacy endpoint.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The endpoint's stable name in metrics and logs (`users.get`, `groups.add_member`):
    /// see [`endpoint_name`].
    pub(crate) name: &'static str,
    pub method: http::Method,
    pub(crate) path: PathTemplate,
    /// Query parameters, always sent; their values may hold `{id}`, `{member}`, `{tenant}`.
    pub query: Vec<(String, Text)>,
    /// Static headers, always sent (besides the backend's auth header).
    pub(crate) headers: Vec<(String, String)>,
    /// `body:`: the JSON body of a call that has none of its own (see
    /// [`Mapping::template_body`]).
    pub(crate) body: Option<BodyTemplate>,
    /// Where the record is in this endpoint's answers, bodies and list items, its own error
    /// rules, and whether the record is read before the call (see [`RecordRules`]).
    pub(crate) record: RecordRules,
}

/// How one endpoint holds the record: the envelope keys (`envelope:`, the section's or the
/// endpoint's own), the error rules tried before the section's (`errors:`), and the existence
/// check (`exists: read_first`). Empty for the member endpoints.
#[derive(Debug, Clone, Default)]
pub(crate) struct RecordRules {
    /// The key whose value is the record in a single-record answer (`{"data": {…}}`).
    pub(crate) answer: Option<String>,
    /// The key the record is wrapped in in a request body (`{"user": {…}}`).
    pub(crate) body: Option<String>,
    /// The key whose value is the record in each list item (list endpoints only).
    pub(crate) item: Option<String>,
    /// Rules tried before the section's `errors.rules`.
    pub(crate) errors: Vec<ErrorRule>,
    /// `exists: read_first`: the record is read with `get` before this call; absent, the call
    /// is not made and SCIM answers 404.
    pub(crate) read_first: bool,
}

/// What an update answered without the record (204, an empty body) stands for
/// (`after_empty_answer:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AfterEmpty {
    /// Read the record again with `get` (the default).
    #[default]
    Read,
    /// The record as the gateway wrote it.
    AsWritten,
}

/// The stable name of the endpoint at mapping key `at` (`users.endpoints.get` → `users.get`,
/// `groups.membership.endpoints.add` → `groups.add_member`), the `endpoint` label of the
/// backend metrics. A key that names no known endpoint is `other`.
pub(crate) fn endpoint_name(at: &str) -> &'static str {
    match at {
        "users.endpoints.create" => "users.create",
        "users.endpoints.get" => "users.get",
        "users.endpoints.update" => "users.update",
        "users.endpoints.delete" => "users.delete",
        "users.endpoints.deactivate" => "users.deactivate",
        "users.endpoints.reactivate" => "users.reactivate",
        "users.endpoints.list" => "users.list",
        "groups.endpoints.create" => "groups.create",
        "groups.endpoints.get" => "groups.get",
        "groups.endpoints.update" => "groups.update",
        "groups.endpoints.delete" => "groups.delete",
        "groups.endpoints.deactivate" => "groups.deactivate",
        "groups.endpoints.reactivate" => "groups.reactivate",
        "groups.endpoints.list" => "groups.list",
        "groups.membership.endpoints.add" => "groups.add_member",
        "groups.membership.endpoints.remove" => "groups.remove_member",
        "groups.membership.endpoints.list" => "groups.list_members",
        "groups.membership.endpoints.user_groups" => "groups.user_groups",
        "groups.membership.group_attribute.update" => "groups.write_members",
        "groups.roles.lookup" => "groups.roles",
        "groups.membership.group_attribute.user_groups" => "groups.user_groups",
        _ => "other",
    }
}

impl Endpoint {
    /// Whether the call places `p` in its path, a query value or its body.
    pub(crate) fn places(&self, p: Placeholder) -> bool {
        let in_path = match p {
            Placeholder::Id => self.path.has_id(),
            Placeholder::Member => self.path.has_member(),
            Placeholder::Tenant => self.path.has_tenant(),
        };
        in_path
            || self
                .query
                .iter()
                .any(|(_, v)| v.placeholders().any(|x| x == p))
            || self
                .body
                .as_ref()
                .is_some_and(|b| b.placeholders().contains(&p))
    }

    /// Path and query for a call: the template with `id` (percent-encoded), then the static
    /// parameters and `extra` (form-encoded), e.g. `/api/v1/users?login=ada&page=1`.
    pub fn target(&self, id: Option<&str>, extra: &[QueryParam<'_>]) -> String {
        self.target_with(id, None, extra)
    }

    /// [`Endpoint::target`] for member endpoints: `id` (the group) and `member` (the member's
    /// legacy user id), each percent-encoded as one segment, e.g. `/teams/5/members/17`.
    pub fn target_with(
        &self,
        id: Option<&str>,
        member: Option<&str>,
        extra: &[QueryParam<'_>],
    ) -> String {
        self.render_target(id, member, None, None, extra)
    }

    fn render_target(
        &self,
        id: Option<&str>,
        member: Option<&str>,
        tenant: Option<&str>,
        tenant_param: Option<(&str, &str)>,
        extra: &[QueryParam<'_>],
    ) -> String {
        let mut out = self.path.render_all(id, member, tenant);
        if self.query.is_empty() && tenant_param.is_none() && extra.is_empty() {
            return out;
        }
        let fill = Fill {
            id,
            member,
            tenant,
            ..Fill::default()
        };
        let rendered: Vec<Cow<str>> = self.query.iter().map(|(_, v)| v.render(&fill)).collect();
        let params = self
            .query
            .iter()
            .zip(&rendered)
            .map(|((k, _), v)| (k.as_str(), v.as_ref()))
            .chain(tenant_param)
            .chain(extra.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
        // Room for the query as written (form-encoding may still lengthen a value).
        let room: usize = params.clone().map(|(k, v)| k.len() + v.len() + 2).sum();
        out.reserve(room);
        out.push('?');
        append_query(out, params)
    }
}

/// A query parameter of a legacy call, name and value (not yet form-encoded): each lent from
/// the mapping or the SCIM request where it can be, made only where it must (a converted
/// value, a page number).
pub type QueryParam<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The legacy endpoints of a resource.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// `None`: resources of this kind are not created through SCIM (`groups.create: false`);
    /// `check` refuses a users section without a create endpoint.
    pub create: Option<Endpoint>,
    pub get: Endpoint,
    /// `None`: resources of this kind are not changed through SCIM (groups only: read-only
    /// groups, their members still changed through the membership); `check` refuses a users
    /// section without an update endpoint.
    pub update: Option<Endpoint>,
    pub update_mode: UpdateMode,
    /// The update sends the record's version as `If-Match` (`if_match: true`).
    pub update_if_match: bool,
    /// `replaces_whole:` on a partial update: the legacy objects the API replaces as a whole
    /// when one is sent (so a change inside one sends all of it, untouched siblings included);
    /// elsewhere a partial update sends only the fields that changed.
    pub(crate) update_replaces_whole: Vec<LegacyPath>,
    /// What an update answered without the record means (`after_empty_answer:`).
    pub update_after_empty: AfterEmpty,
    /// `unique: userName` on the users' create endpoint: the legacy API refuses a create whose
    /// userName is taken (an error rule turns that refusal into 409 `uniqueness`, which `check`
    /// requires), so a create is sent first, without looking the userName up or holding a
    /// lock, and the userName is looked up only when it is refused.
    pub create_unique: bool,
    pub delete: Option<Endpoint>,
    pub deactivate: Option<Endpoint>,
    pub reactivate: Option<Endpoint>,
    pub list: ListEndpoint,
}

/// The list endpoint: where the items and the total are, and how to page.
#[derive(Debug, Clone)]
pub struct ListEndpoint {
    pub endpoint: Endpoint,
    pub pagination: Pagination,
    pub(crate) items: LegacyPath,
    pub(crate) total: Option<TotalSource>,
    /// `carries:`: the SCIM attributes a list item holds (`None`: every mapped attribute, as
    /// in a single-record read). See [`ListEndpoint::carries`].
    pub(crate) carries: Option<Vec<AttrPath>>,
    /// The compiled reader of its answers, where they can be read so
    /// ([`ListEndpoint::compile_reader`]).
    pub(crate) reader: Option<ListReader>,
}

impl ListEndpoint {
    /// How many items a list answer holds where `items:` says they are (0 when none or not a
    /// list).
    pub(crate) fn item_count(&self, answer: &Value) -> usize {
        self.items
            .read(answer)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    }

    /// Whether the list items carry SCIM attribute `path` (then a filter on it can be checked on
    /// the item; else the record must be read on its own).
    /// The record's `id` is always carried; a path qualified with a schema URN matches a listed
    /// path of that schema.
    pub fn carries(&self, path: &AttrPath) -> bool {
        match &self.carries {
            None => true,
            Some(_) if path.name.eq_ignore_ascii_case("id") && path.sub.is_none() => true,
            Some(listed) => listed.iter().any(|c| {
                let schema_ok = match (&c.schema, &path.schema) {
                    (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                    (None, Some(b)) => {
                        b.eq_ignore_ascii_case(crate::scim::urn::USER)
                            || b.eq_ignore_ascii_case(crate::scim::urn::GROUP)
                    }
                    _ => true,
                };
                schema_ok
                    && c.name.eq_ignore_ascii_case(&path.name)
                    && match (&c.sub, &path.sub) {
                        (None, _) => true,
                        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                        (Some(_), None) => false,
                    }
            }),
        }
    }

    /// Whether the list items carry every mapped attribute.
    pub(crate) fn carries_everything(&self) -> bool {
        self.carries.is_none()
    }
}

/// Where a list response gives the total number of matching users.
#[derive(Debug, Clone)]
pub enum TotalSource {
    /// A JSONPath into the body.
    Body(LegacyPath),
    /// A header: a plain integer (`X-Total-Count: 319`) or `Content-Range: items 0-24/319`.
    Header(http::HeaderName),
}

/// How the list endpoint pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pagination {
    /// `?page=2&per_page=50`; pages count from `first_page` (0 or 1).
    Page {
        page_param: String,
        size_param: String,
        first_page: u64,
        max_page_size: u64,
    },
    /// `?offset=50&limit=50`; offsets count from 0.
    Offset {
        offset_param: String,
        limit_param: String,
        max_page_size: u64,
    },
    /// `?cursor=abc&limit=50`, the first page without a cursor; the next cursor comes from
    /// [`ListEndpoint::next_cursor`].
    Cursor {
        cursor_param: String,
        size_param: String,
        next: NextSource,
        /// `next.more`: a flag in the body; when it reads false the list ends there, even if
        /// the response also gives a cursor.
        more: Option<MoreFlag>,
        max_page_size: u64,
    },
    /// `pagination: none`: the legacy API answers the whole list in one response.
    None,
}

impl Pagination {
    pub fn max_page_size(&self) -> u64 {
        match self {
            Pagination::Page { max_page_size, .. }
            | Pagination::Offset { max_page_size, .. }
            | Pagination::Cursor { max_page_size, .. } => *max_page_size,
            Pagination::None => u64::MAX,
        }
    }
}

/// Where a cursor-paginated response says what comes next. For a next link (in the body or
/// the `Link` header), the cursor is the value of `cursor_param` in the link's query: the
/// gateway never follows a URL chosen by the legacy API, it re-renders its own.
#[derive(Debug, Clone)]
pub enum NextSource {
    /// A JSONPath to the next cursor in the body.
    Cursor(LegacyPath),
    /// A JSONPath to the next page's URL in the body.
    Url(LegacyPath),
    /// The `Link: <…>; rel="next"` response header.
    LinkHeader,
}

impl PartialEq for NextSource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (NextSource::Cursor(a), NextSource::Cursor(b))
            | (NextSource::Url(a), NextSource::Url(b)) => a.as_str() == b.as_str(),
            (NextSource::LinkHeader, NextSource::LinkHeader) => true,
            _ => false,
        }
    }
}
impl Eq for NextSource {}

/// `next.more: $.meta.has_more`: where a cursor-paginated response says whether another page
/// follows.
#[derive(Debug, Clone)]
pub struct MoreFlag(pub(crate) LegacyPath);

impl PartialEq for MoreFlag {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}
impl Eq for MoreFlag {}

/// `id_format:`: the form every legacy id of a resource has. A SCIM id of another form names
/// no record (404 without a legacy call): a legacy API that reads `/users/8dded348` as user 8
/// can then never be sent such an id.
#[derive(Debug, Clone)]
pub enum IdFormat {
    /// Decimal digits only, no sign, no leading zero (`42`).
    Integer,
    /// A UUID in its hyphenated form, either case (`8dded348-3c5b-4c2e-9d1a-0f6f1b2c3d4e`).
    Uuid,
    /// A regular expression the whole id must match.
    Pattern(regex::Regex),
}

impl IdFormat {
    /// Whether `id` has this form.
    pub(crate) fn accepts(&self, id: &str) -> bool {
        match self {
            IdFormat::Integer => {
                !id.is_empty()
                    && id.bytes().all(|b| b.is_ascii_digit())
                    && (id == "0" || !id.starts_with('0'))
            }
            IdFormat::Uuid => {
                id.len() == 36
                    && id.char_indices().all(|(i, c)| match i {
                        8 | 13 | 18 | 23 => c == '-',
                        _ => c.is_ascii_hexdigit(),
                    })
            }
            IdFormat::Pattern(re) => re
                .find(id)
                .is_some_and(|m| m.start() == 0 && m.end() == id.len()),
        }
    }
}

/// How one resource type (Users or Groups) maps to the legacy API.
#[derive(Debug, Clone)]
pub struct ResourceMapping {
    /// `id_format:`: the form of the legacy ids (`None`: any non-empty id may name a record).
    pub id_format: Option<IdFormat>,
    pub endpoints: Endpoints,
    pub on_delete: OnDelete,
    /// The most legacy records the gateway fetches to evaluate a filter it cannot push down.
    pub scan_limit: usize,
    /// The SCIM schema restricted to the attributes this mapping stores (for `/Schemas`): the
    /// `type` of a multi-valued attribute lists the mapped types as `canonicalValues`, and the
    /// attributes marked `required: true` in the mapping are required.
    pub schema: ResourceSchema,
    pub(crate) plan: Plan,
}

/// The compiled attribute map and the rest of the per-request plan.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) id: LegacyPath,
    pub(crate) created: Option<LegacyPath>,
    pub(crate) last_modified: Option<LegacyPath>,
    pub(crate) version: Option<LegacyPath>,
    /// The legacy field and value that mark a record deleted through SCIM (`deleted:`).
    pub(crate) deleted: Option<DeletedMarker>,
    /// The legacy fields a full update leaves out: the timestamps (`created`, `last_modified`)
    /// and the fields only `direction: read` entries name, which nothing writes (paths of
    /// names only, never one that holds or is inside a written field, the id or the version).
    pub(crate) read_only: Vec<LegacyPath>,
    pub(crate) attrs: Vec<Attr>,
    pub(crate) filters: Vec<FilterRule>,
    pub(crate) errors: ErrorPlan,
    /// The compiled reader of this resource's records (`capture`): `None` when a path the
    /// translation reads cannot be captured, and then records are read whole.
    pub(crate) reader: Option<RecordReader>,
    /// Whether the translation of a record can show an attribute that the default projection
    /// removes (`returned: never` or `request` in the full schema).
    pub(crate) shows_hidden: bool,
    /// The values every translated record carries, made once and lent to each draft.
    pub(crate) lent: LentValues,
}

/// What a record's translation writes the same for every record: `meta.resourceType`, and the
/// `schemas` of a record with no extension attribute and of one with an attribute of every
/// extension the plan writes.
#[derive(Debug, Clone, Default)]
pub(crate) struct LentValues {
    pub(crate) resource_type: Value,
    pub(crate) core_schemas: Value,
    pub(crate) every_schemas: Value,
    /// The extensions the plan writes, in the order of the attributes.
    pub(crate) extensions: Vec<String>,
}

impl LentValues {
    /// The values of a resource type `name` of core schema `core` whose attributes are `attrs`.
    pub(crate) fn of(name: &str, core: &str, attrs: &[Attr]) -> LentValues {
        let mut extensions: Vec<String> = Vec::new();
        for urn in attrs.iter().filter_map(Attr::container) {
            if urn != core && !extensions.iter().any(|u| u == urn) {
                extensions.push(urn.to_owned());
            }
        }
        let schemas = |extensions: &[String]| {
            Value::Array(
                std::iter::once(core)
                    .chain(extensions.iter().map(String::as_str))
                    .map(|urn| Value::String(urn.to_owned()))
                    .collect(),
            )
        };
        LentValues {
            resource_type: Value::String(name.to_owned()),
            core_schemas: schemas(&[]),
            every_schemas: schemas(&extensions),
            extensions,
        }
    }
}

impl Plan {
    /// Compiles [`Plan::reader`] over every path the translation of a record reads, for
    /// records answered bare or under one of `envelopes`.
    pub(crate) fn compile_reader(&mut self, envelopes: &[&str]) {
        let mut paths: Vec<&mut LegacyPath> = vec![&mut self.id];
        paths.extend(self.created.as_mut());
        paths.extend(self.last_modified.as_mut());
        paths.extend(self.version.as_mut());
        paths.extend(self.deleted.as_mut().map(|m| &mut m.legacy));
        for attr in &mut self.attrs {
            match attr {
                Attr::Field {
                    legacy, read: true, ..
                }
                | Attr::Join {
                    legacy, read: true, ..
                } => paths.push(legacy),
                Attr::Computed { template, .. } => paths.extend(template.paths_mut()),
                _ => {}
            }
        }
        self.reader = RecordReader::compile(&mut paths, envelopes);
    }

    /// The slots a record's translation may write.
    pub(crate) fn read_slots(&self) -> impl Iterator<Item = &ScimSlot> {
        self.attrs.iter().flat_map(|attr| -> Vec<&ScimSlot> {
            match attr {
                Attr::Field {
                    slot, read: true, ..
                }
                | Attr::Computed { slot, .. }
                | Attr::ScimConstant { slot, .. } => vec![slot],
                Attr::Join {
                    parts, read: true, ..
                } => parts.iter().collect(),
                _ => Vec::new(),
            }
        })
    }
}

/// One entry of `attributes:`.
#[derive(Debug, Clone)]
pub(crate) enum Attr {
    /// A SCIM attribute ↔ a legacy field.
    Field {
        slot: ScimSlot,
        legacy: LegacyPath,
        read: bool,
        write: bool,
        conv: Conversion,
        /// A SCIM value written on create when the request has none.
        default: Option<Value>,
        /// The legacy API needs a value: a create or update never writes null or nothing.
        required: bool,
        /// `empty: absent`: an empty or blank legacy string reads as no value, and no value
        /// is written as `""` rather than null.
        empty_absent: bool,
    },
    /// A read-only SCIM string computed from record fields (`template:`).
    Computed { slot: ScimSlot, template: Computed },
    /// A value always reported in SCIM (`scim` + `constant`).
    ScimConstant { slot: ScimSlot, value: Value },
    /// A value always written to the legacy API (`legacy` + `constant`).
    LegacyConstant { legacy: LegacyPath, value: Value },
    /// A value written to the legacy API on create only (`legacy` + `default`).
    LegacyDefault { legacy: LegacyPath, value: Value },
    /// One legacy string ↔ several SCIM strings.
    Join {
        legacy: LegacyPath,
        parts: Vec<ScimSlot>,
        separator: String,
        read: bool,
        write: bool,
    },
}

impl Attr {
    /// The extension URN whose object the attribute's SCIM side lives in (`None`: core).
    pub(crate) fn container(&self) -> Option<&str> {
        match self {
            Attr::Field { slot, .. }
            | Attr::ScimConstant { slot, .. }
            | Attr::Computed { slot, .. } => slot.container.as_deref(),
            Attr::Join { parts, .. } => parts.iter().find_map(|p| p.container.as_deref()),
            _ => None,
        }
    }
}

/// `deleted:`: a legacy record whose `legacy` field holds `value` was deleted through SCIM.
#[derive(Debug, Clone)]
pub(crate) struct DeletedMarker {
    pub(crate) legacy: LegacyPath,
    pub(crate) value: Value,
    /// `listed:` (default true): the legacy list endpoint returns records carrying the marker,
    /// so the gateway must leave them out itself (and so count a total itself). `false` when
    /// the list's static `query:` already leaves them out.
    pub(crate) listed: bool,
}

/// A `filters:` entry: `<scim> eq X` → `?<param>=X`.
#[derive(Debug, Clone)]
pub(crate) struct FilterRule {
    pub(crate) slot: ScimSlot,
    pub(crate) param: String,
    /// `match: exact` (the default): the legacy API selects exactly what SCIM's `eq` selects,
    /// so its total is SCIM's total. `match: loose`: it selects at least that (a substring or
    /// full-text search, a case-insensitive match of a case-exact attribute): every result is
    /// re-checked and the total is counted by the gateway.
    pub(crate) exact: bool,
    /// The conversion of the attribute with the same SCIM path, when it has a value map or a
    /// legacy type (so `active eq true` becomes `status=enabled`).
    pub(crate) conv: Option<Conversion>,
}

/// The `errors:` section.
#[derive(Debug, Clone, Default)]
pub(crate) struct ErrorPlan {
    /// Where a legacy error body has its message, tried in order: the first that reads one.
    pub(crate) message: Vec<LegacyPath>,
    pub(crate) rules: Vec<ErrorRule>,
}

#[derive(Debug, Clone)]
pub(crate) struct ErrorRule {
    pub(crate) status: u16,
    pub(crate) code: Option<(LegacyPath, Value)>,
    pub(crate) body_contains: Option<String>,
    pub(crate) scim_status: u16,
    pub(crate) scim_type: Option<ScimType>,
    pub(crate) detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_target_encodes_id_and_query() {
        let e = Endpoint {
            name: "users.get",
            method: http::Method::GET,
            path: PathTemplate::parse("/api/v1/users/{id}").unwrap(),
            query: vec![("expand".into(), "all".into())],
            headers: vec![],
            body: None,
            record: RecordRules::default(),
        };
        assert_eq!(
            e.target(Some("../admin"), &[("x".into(), "a&role=owner".into())]),
            "/api/v1/users/..%2Fadmin?expand=all&x=a%26role%3Downer"
        );
        let bare = Endpoint { query: vec![], ..e };
        assert_eq!(bare.target(Some("7"), &[]), "/api/v1/users/7");
    }

    #[test]
    fn member_target_encodes_group_and_member() {
        let e = Endpoint {
            name: "groups.remove_member",
            method: http::Method::DELETE,
            path: PathTemplate::parse("/teams/{id}/members/{member}").unwrap(),
            query: vec![("notify".into(), "false".into())],
            headers: vec![],
            body: None,
            record: RecordRules::default(),
        };
        assert_eq!(
            e.target_with(Some("5"), Some("a/b"), &[]),
            "/teams/5/members/a%2Fb?notify=false"
        );
    }

    #[test]
    fn the_tenant_goes_in_its_hole_and_in_the_query_or_a_header() {
        let e = Endpoint {
            name: "users.get",
            method: http::Method::GET,
            path: PathTemplate::parse("/t/{tenant}/users/{id}").unwrap(),
            query: vec![("expand".into(), "all".into())],
            headers: vec![],
            body: None,
            record: RecordRules::default(),
        };
        let mut b = BackendSpec {
            base_url: "http://x".into(),
            auth: None,
            timeout: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(1),
            read_timeout: None,
            protection: crate::mapping::protection::Protection::default(),
            tls: BackendTls::default(),
            tenant: None,
            headers: vec![],
        };
        assert_eq!(
            b.target(&e, "a/b", Some("7"), None, &[("q".into(), "1".into())]),
            "/t/a%2Fb/users/7?expand=all&q=1"
        );
        assert_eq!(b.tenant_header("acme"), None);
        b.tenant = Some(TenantParam::Query("tenant".into()));
        assert_eq!(
            b.target(
                &e,
                "x&role=owner",
                Some("7"),
                None,
                &[("q".into(), "1".into())]
            ),
            "/t/x%26role%3Downer/users/7?expand=all&tenant=x%26role%3Downer&q=1"
        );
        b.tenant = Some(TenantParam::Header(http::HeaderName::from_static(
            "x-tenant",
        )));
        let (name, value) = b.tenant_header("acme").expect("a tenant header");
        assert_eq!((name.as_str(), value), ("x-tenant", "acme"));
        assert_eq!(
            b.target(&e, "acme", Some("7"), None, &[]),
            "/t/acme/users/7?expand=all"
        );
    }

    #[test]
    fn every_endpoint_of_a_mapping_has_a_stable_name() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let m = crate::mapping::load_file(&root.join("mappings/acme-hr.yaml")).unwrap();
        let e = &m.users.endpoints;
        assert_eq!(e.create.as_ref().unwrap().name, "users.create");
        assert_eq!(e.get.name, "users.get");
        assert_eq!(e.update.as_ref().unwrap().name, "users.update");
        assert_eq!(e.list.endpoint.name, "users.list");
        let g = m.groups.unwrap();
        assert_eq!(
            g.resource.endpoints.update.as_ref().unwrap().name,
            "groups.update"
        );
        assert_eq!(g.resource.endpoints.list.endpoint.name, "groups.list");
        match g.membership {
            Membership::Endpoints {
                add,
                remove,
                list,
                user_groups,
            } => {
                assert_eq!(add.endpoint.name, "groups.add_member");
                assert_eq!(remove.name, "groups.remove_member");
                assert_eq!(list.pages.endpoint.name, "groups.list_members");
                assert_eq!(user_groups.unwrap().endpoint.name, "groups.user_groups");
            }
            other => panic!("member endpoints expected, got {other:?}"),
        }
        assert_eq!(endpoint_name("users.endpoints.nope"), "other");
    }
}
