//! The YAML structures mapping authors write (`mappings/*.yaml`), as deserialized by
//! serde-saphyr. This is the stable, external format: every value is `Spanned` so validation
//! can name its line, and every struct denies unknown keys so typos are caught. Enumerations
//! (methods, modes, styles…) are plain strings here and checked by the loader, which can then
//! suggest the closest word. Nothing here is used per request: `load` compiles these into the
//! internal plan.

use serde::Deserialize;
use serde_json::{Map, Value};
use serde_saphyr::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    pub name: S<String>,
    pub backend: S<BackendFile>,
    pub users: S<UsersFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendFile {
    pub base_url: S<String>,
    pub auth: Option<S<AuthFile>>,
    pub timeout_ms: Option<S<u64>>,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsersFile {
    pub id: S<String>,
    pub created: Option<S<String>>,
    pub last_modified: Option<S<String>>,
    pub version: Option<S<String>>,
    pub endpoints: S<EndpointsFile>,
    pub on_delete: Option<S<String>>,
    pub attributes: S<Vec<S<AttributeFile>>>,
    #[serde(default)]
    pub filters: Vec<S<FilterFile>>,
    pub scan_limit: Option<S<u64>>,
    pub errors: Option<S<ErrorsFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointsFile {
    pub create: S<EndpointFile>,
    pub get: S<EndpointFile>,
    pub update: S<EndpointFile>,
    pub delete: Option<S<EndpointFile>>,
    pub deactivate: Option<S<EndpointFile>>,
    pub reactivate: Option<S<EndpointFile>>,
    pub list: S<ListFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointFile {
    pub method: S<String>,
    pub path: S<String>,
    pub query: Option<S<Map<String, Value>>>,
    pub headers: Option<S<Map<String, Value>>>,
    /// Only on `update`: `full` (the legacy API replaces the user) or `partial`.
    pub mode: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFile {
    pub method: S<String>,
    pub path: S<String>,
    pub query: Option<S<Map<String, Value>>>,
    pub headers: Option<S<Map<String, Value>>>,
    pub items: S<String>,
    pub total: Option<S<TotalFile>>,
    pub pagination: S<PaginationFile>,
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
    /// `page`, `offset` or `cursor`.
    pub style: S<String>,
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValuePairFile {
    pub scim: S<Value>,
    pub legacy: S<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinFile {
    pub parts: S<Vec<S<String>>>,
    pub separator: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterFile {
    pub scim: S<String>,
    pub op: Option<S<String>>,
    pub param: S<String>,
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
    pub status: S<u16>,
    pub code_path: Option<S<String>>,
    pub equals: Option<S<Value>>,
    pub body_contains: Option<S<String>>,
    pub scim_status: S<u16>,
    pub scim_type: Option<S<String>>,
    pub detail: Option<S<String>>,
}
