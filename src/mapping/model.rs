//! The YAML structures mapping authors write (`mappings/*.yaml`), as deserialized by
//! serde-saphyr. This is the stable, external format: every value is `Spanned` so validation
//! can name its line, and every struct denies unknown keys so typos are caught. Enumerations
//! (methods, modes, styles…) are plain strings here and checked by the loader, which can then
//! suggest the closest word. Nothing here is used per request: `load` compiles these into the
//! internal plan. Required keys are `Option`s here too, so that the loader can report a
//! missing key at its parent's line with an example, rather than where the parser noticed.

use serde::Deserialize;
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    pub name: Option<S<String>>,
    /// Boxed: the deserializer keeps each section it has read on its stack while it reads the
    /// next ones, and the `backend:` section is large.
    pub backend: Option<S<Box<BackendFile>>>,
    pub users: Option<S<ResourceFile>>,
    /// Optional: how SCIM Groups map to legacy groups (teams, roles…).
    pub groups: Option<S<ResourceFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendFile {
    pub base_url: Option<S<String>>,
    pub auth: Option<S<AuthFile>>,
    pub timeout_ms: Option<S<u64>>,
    pub connect_timeout_ms: Option<S<u64>>,
    pub read_timeout_ms: Option<S<u64>>,
    pub max_concurrency: Option<S<u64>>,
    pub queue: Option<S<u64>>,
    pub queue_timeout_ms: Option<S<u64>>,
    pub retry: Option<S<RetryFile>>,
    pub circuit_breaker: Option<S<BreakerFile>>,
    pub tls: Option<S<TlsFile>>,
    /// How the legacy API is told which tenant a call is for (besides `{tenant}` in paths).
    pub tenant: Option<S<TenantFile>>,
}

/// `{header: X-Acme-Tenant}` or `{query: tenant}`: the tenant's legacy id is sent in this
/// header, or in this query parameter, with every call.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantFile {
    pub header: Option<S<String>>,
    pub query: Option<S<String>>,
}

/// `backend.retry`: how often and after how long an idempotent call is sent again.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryFile {
    pub attempts: Option<S<u64>>,
    pub backoff_ms: Option<S<u64>>,
    pub max_backoff_ms: Option<S<u64>>,
    pub max_retry_after_ms: Option<S<u64>>,
}

/// `backend.circuit_breaker`: when the gateway stops calling a failing legacy API, and for how
/// long.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakerFile {
    pub failures: Option<S<u64>>,
    pub failure_ratio: Option<S<f64>>,
    pub window_ms: Option<S<u64>>,
    pub min_calls: Option<S<u64>>,
    pub open_ms: Option<S<u64>>,
}

/// `{ca_file: PATH}` or `{insecure_skip_verify: true}`: how an https:// legacy API is trusted.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    pub ca_file: Option<S<String>>,
    pub insecure_skip_verify: Option<S<bool>>,
}

/// `{header: X-Api-Key, from_env: VAR}`, `{header: …, from_file: PATH}`,
/// `{bearer_from_env: VAR}` or `{bearer_from_file: PATH}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    pub header: Option<S<String>>,
    pub from_env: Option<S<String>>,
    pub from_file: Option<S<String>>,
    pub bearer_from_env: Option<S<String>>,
    pub bearer_from_file: Option<S<String>>,
}

/// A resource section: `users:` or `groups:` (the same keys; `membership` only in `groups:`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceFile {
    pub id: Option<S<String>>,
    /// `integer`, `uuid` or `{ pattern: '^p_[0-9]+$' }`: the form every legacy id has.
    pub id_format: Option<S<Value>>,
    pub created: Option<S<String>>,
    pub last_modified: Option<S<String>>,
    pub version: Option<S<String>>,
    /// Boxed, like `membership`: see `MappingFile::backend`.
    pub endpoints: Option<S<Box<EndpointsFile>>>,
    pub on_delete: Option<S<String>>,
    pub deleted: Option<S<DeletedFile>>,
    pub attributes: Option<S<Vec<S<AttributeFile>>>>,
    #[serde(default)]
    pub filters: Vec<S<FilterFile>>,
    pub scan_limit: Option<S<u64>>,
    pub errors: Option<S<ErrorsFile>>,
    /// Only in `groups:`: where a group's members are.
    pub membership: Option<S<Box<MembershipFile>>>,
    /// Only in `groups:`: a user's role derived from its groups.
    pub roles: Option<S<RolesFile>>,
    /// Only in `groups:`: legacy flags set while a user is in a group.
    pub flags: Option<S<Vec<S<FlagFile>>>>,
}

/// `groups.roles`: where the legacy role is, the default, the privilege order (highest
/// first), the roles never lowered, and the group → role table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesFile {
    pub legacy: Option<S<String>>,
    pub default: Option<S<String>>,
    pub ranking: Option<S<Vec<S<String>>>>,
    pub protected: Option<S<Vec<S<String>>>>,
    pub from_groups: Option<S<Vec<S<RoleRuleFile>>>>,
}

/// `{ group: "Eng Leads", role: manager, set: { $.archetype: eng_lead } }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleRuleFile {
    pub group: Option<S<String>>,
    pub role: Option<S<String>>,
    pub set: Option<S<Map<String, Value>>>,
}

/// `{ legacy: $.licensed, group: "Pro", member: true, otherwise: false }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagFile {
    pub legacy: Option<S<String>>,
    pub group: Option<S<String>>,
    pub member: Option<S<Value>>,
    pub otherwise: Option<S<Value>>,
}

/// `groups.membership`: exactly one of `endpoints` (member endpoints on the legacy group) and
/// `user_attribute` (membership held on the legacy user).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipFile {
    pub endpoints: Option<S<MemberEndpointsFile>>,
    pub user_attribute: Option<S<UserAttributeFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberEndpointsFile {
    pub add: Option<S<MemberAddFile>>,
    pub remove: Option<S<EndpointFile>>,
    pub list: Option<S<MemberListFile>>,
    pub user_groups: Option<S<UserGroupsFile>>,
}

/// The call that adds one member: the member's id in the path (`{member}`) or in the body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberAddFile {
    pub method: Option<S<String>>,
    pub path: Option<S<String>>,
    pub query: Option<S<Map<String, Value>>>,
    pub headers: Option<S<Map<String, Value>>>,
    pub body: Option<S<MemberBodyFile>>,
}

/// `{ member: $.user_id, legacy_type: integer }`: where the member's id goes in the body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberBodyFile {
    pub member: Option<S<String>>,
    pub legacy_type: Option<S<String>>,
}

/// A group's paged member list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberListFile {
    pub method: Option<S<String>>,
    pub path: Option<S<String>>,
    pub query: Option<S<Map<String, Value>>>,
    pub headers: Option<S<Map<String, Value>>>,
    pub items: Option<S<String>>,
    /// Where the member's legacy user id is in an item.
    pub member: Option<S<String>>,
    pub total: Option<S<TotalFile>>,
    pub pagination: Option<S<PaginationFile>>,
}

/// A user's groups, in one response.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserGroupsFile {
    pub method: Option<S<String>>,
    pub path: Option<S<String>>,
    pub query: Option<S<Map<String, Value>>>,
    pub headers: Option<S<Map<String, Value>>>,
    pub items: Option<S<String>>,
    /// Where the group's legacy id is in an item.
    pub group: Option<S<String>>,
}

/// Membership held on the legacy user: a list of group ids (or one, with `single: true`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAttributeFile {
    pub legacy: Option<S<String>>,
    pub single: Option<S<bool>>,
    pub legacy_type: Option<S<String>>,
    pub members_query: Option<S<MembersQueryFile>>,
    pub if_match: Option<S<String>>,
}

/// `{ param: team }`: the users list endpoint lists a group's members with `?team=<group id>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembersQueryFile {
    pub param: Option<S<String>>,
}

/// `{ legacy: $.status, value: archived }`: the legacy field and value that mark a user
/// deleted through SCIM (with `on_delete: deactivate`, which keeps the legacy record).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletedFile {
    pub legacy: Option<S<String>>,
    pub value: Option<S<Value>>,
    /// `false`: the list endpoint never returns a marked record (default `true`).
    pub listed: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointsFile {
    pub create: Option<S<EndpointFile>>,
    pub get: Option<S<EndpointFile>>,
    pub update: Option<S<EndpointFile>>,
    pub delete: Option<S<EndpointFile>>,
    pub deactivate: Option<S<EndpointFile>>,
    pub reactivate: Option<S<EndpointFile>>,
    pub list: Option<S<ListFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointFile {
    pub method: Option<S<String>>,
    pub path: Option<S<String>>,
    pub query: Option<S<Map<String, Value>>>,
    pub headers: Option<S<Map<String, Value>>>,
    /// Only on `update`: `full` (the legacy API replaces the user) or `partial`.
    pub mode: Option<S<String>>,
    /// Only on `update`: send the record's `version` as `If-Match` (the legacy API refuses a
    /// write of a record that changed since it was read).
    pub if_match: Option<S<bool>>,
    /// Only on a partial `update`: the legacy objects the API replaces whole when one is sent.
    pub replaces_whole: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFile {
    pub method: Option<S<String>>,
    pub path: Option<S<String>>,
    pub query: Option<S<Map<String, Value>>>,
    pub headers: Option<S<Map<String, Value>>>,
    pub items: Option<S<String>>,
    pub total: Option<S<TotalFile>>,
    pub pagination: Option<S<PaginationFile>>,
    /// The SCIM attributes a list item holds (`[userName, name, emails]`); absent: all.
    pub carries: Option<S<Vec<S<String>>>>,
}

/// `{body: $.meta.total}` or `{header: X-Total-Count}` (also `Content-Range`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotalFile {
    pub body: Option<S<String>>,
    pub header: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaginationFile {
    /// `page`, `offset`, `cursor` or `none`.
    pub style: Option<S<String>>,
    pub page_param: Option<S<String>>,
    pub size_param: Option<S<String>>,
    pub first_page: Option<S<u64>>,
    pub offset_param: Option<S<String>>,
    pub limit_param: Option<S<String>>,
    pub cursor_param: Option<S<String>>,
    pub next: Option<S<NextFile>>,
    pub max_page_size: Option<S<u64>>,
}

/// Where a cursor-paginated response says what comes next: `{cursor: $.next_cursor}`,
/// `{url: $.links.next}` or `{link_header: true}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextFile {
    pub cursor: Option<S<String>>,
    pub url: Option<S<String>>,
    pub link_header: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeFile {
    pub scim: Option<S<String>>,
    pub legacy: Option<S<String>>,
    pub direction: Option<S<String>>,
    pub constant: Option<S<Value>>,
    pub default: Option<S<Value>>,
    pub values: Option<S<Vec<S<ValuePairFile>>>>,
    pub legacy_type: Option<S<String>>,
    pub join: Option<S<JoinFile>>,
    /// The legacy API needs a value: advertised as required, and never written empty.
    pub required: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValuePairFile {
    pub scim: Option<S<Value>>,
    pub legacy: Option<S<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinFile {
    pub parts: Option<S<Vec<S<String>>>>,
    pub separator: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterFile {
    pub scim: Option<S<String>>,
    pub op: Option<S<String>>,
    pub param: Option<S<String>>,
    /// `exact` (default) or `loose`: whether the legacy API selects exactly what SCIM selects.
    #[serde(rename = "match")]
    pub match_: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorsFile {
    /// JSONPath of the human-readable message in a legacy error body.
    pub message: Option<S<String>>,
    #[serde(default)]
    pub rules: Vec<S<ErrorRuleFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRuleFile {
    pub status: Option<S<u16>>,
    pub code_path: Option<S<String>>,
    pub equals: Option<S<Value>>,
    pub body_contains: Option<S<String>>,
    pub scim_status: Option<S<u16>>,
    pub scim_type: Option<S<String>>,
    pub detail: Option<S<String>>,
}
