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

pub(crate) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MappingFile {
    pub(crate) name: Option<S<String>>,
    /// Boxed: the deserializer keeps each section it has read on its stack while it reads the
    /// next ones, and the `backend:` section is large.
    pub(crate) backend: Option<S<Box<BackendFile>>>,
    pub(crate) users: Option<S<ResourceFile>>,
    /// Optional: how SCIM Groups map to legacy groups (teams, roles…), or that the gateway
    /// holds them (`held_by: gateway`).
    pub(crate) groups: Option<S<ResourceFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BackendFile {
    pub(crate) base_url: Option<S<String>>,
    pub(crate) auth: Option<S<AuthFile>>,
    pub(crate) timeout_ms: Option<S<u64>>,
    pub(crate) connect_timeout_ms: Option<S<u64>>,
    pub(crate) read_timeout_ms: Option<S<u64>>,
    pub(crate) max_concurrency: Option<S<u64>>,
    pub(crate) queue: Option<S<u64>>,
    pub(crate) queue_timeout_ms: Option<S<u64>>,
    pub(crate) retry: Option<S<RetryFile>>,
    pub(crate) circuit_breaker: Option<S<BreakerFile>>,
    pub(crate) tls: Option<S<TlsFile>>,
    /// How the legacy API is told which tenant a call is for (besides `{tenant}` in paths).
    pub(crate) tenant: Option<S<TenantFile>>,
    /// Static headers sent with every legacy call (`X-App-Id: …`); not secrets.
    pub(crate) headers: Option<S<Map<String, Value>>>,
}

/// `{header: X-Acme-Tenant}` or `{query: tenant}`: the tenant's legacy id is sent in this
/// header, or in this query parameter, with every call.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TenantFile {
    pub(crate) header: Option<S<String>>,
    pub(crate) query: Option<S<String>>,
}

/// `backend.retry`: how often and after how long an idempotent call is sent again.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetryFile {
    pub(crate) attempts: Option<S<u64>>,
    pub(crate) backoff_ms: Option<S<u64>>,
    pub(crate) max_backoff_ms: Option<S<u64>>,
    pub(crate) max_retry_after_ms: Option<S<u64>>,
}

/// `backend.circuit_breaker`: when the gateway stops calling a failing legacy API, and for how
/// long.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BreakerFile {
    pub(crate) failures: Option<S<u64>>,
    pub(crate) failure_ratio: Option<S<f64>>,
    pub(crate) window_ms: Option<S<u64>>,
    pub(crate) min_calls: Option<S<u64>>,
    pub(crate) open_ms: Option<S<u64>>,
}

/// `{ca_file: PATH}` or `{insecure_skip_verify: true}`: how an https:// legacy API is trusted;
/// `client_cert` and `client_key`: the certificate the gateway presents to it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsFile {
    pub(crate) ca_file: Option<S<String>>,
    pub(crate) insecure_skip_verify: Option<S<bool>>,
    /// A PEM file: the gateway's certificate, then any intermediates.
    pub(crate) client_cert: Option<S<String>>,
    /// A PEM file: the private key of `client_cert`.
    pub(crate) client_key: Option<S<String>>,
}

/// `{header: X-Api-Key, from_env: VAR}`, `{header: …, from_file: PATH}`,
/// `{bearer_from_env: VAR}`, `{bearer_from_file: PATH}`, `{query: api_key, from_env: VAR}`,
/// `{basic: {…}}` or `{oauth2: {…}}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthFile {
    pub(crate) header: Option<S<String>>,
    /// The query parameter the secret of `from_env`/`from_file` is sent in.
    pub(crate) query: Option<S<String>>,
    pub(crate) from_env: Option<S<String>>,
    pub(crate) from_file: Option<S<String>>,
    pub(crate) bearer_from_env: Option<S<String>>,
    pub(crate) bearer_from_file: Option<S<String>>,
    pub(crate) basic: Option<S<BasicFile>>,
    pub(crate) oauth2: Option<S<OAuth2File>>,
}

/// `{username: svc, password_from_env: VAR}`: HTTP Basic.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BasicFile {
    pub(crate) username: Option<S<String>>,
    pub(crate) username_from_env: Option<S<String>>,
    pub(crate) password_from_env: Option<S<String>>,
    pub(crate) password_from_file: Option<S<String>>,
}

/// OAuth 2.0 client credentials: where the token is fetched, and the client's credentials.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OAuth2File {
    pub(crate) token_url: Option<S<String>>,
    pub(crate) client_id: Option<S<String>>,
    pub(crate) client_id_from_env: Option<S<String>>,
    pub(crate) client_secret_from_env: Option<S<String>>,
    pub(crate) client_secret_from_file: Option<S<String>>,
    pub(crate) scope: Option<S<String>>,
    /// `form` (default) or `basic`: how the client authenticates to the token endpoint.
    pub(crate) client_auth: Option<S<String>>,
}

/// A resource section: `users:` or `groups:` (the same keys; `membership` and the others
/// marked below only in `groups:`). `groups:` with `held_by: gateway` is compiled apart (see
/// `load::held`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResourceFile {
    pub(crate) id: Option<S<String>>,
    /// `integer`, `uuid` or `{ pattern: '^p_[0-9]+$' }`: the form every legacy id has.
    pub(crate) id_format: Option<S<Value>>,
    pub(crate) created: Option<S<String>>,
    pub(crate) last_modified: Option<S<String>>,
    pub(crate) version: Option<S<String>>,
    /// Boxed, like `membership`: see `MappingFile::backend`.
    pub(crate) endpoints: Option<S<Box<EndpointsFile>>>,
    pub(crate) on_delete: Option<S<String>>,
    pub(crate) deleted: Option<S<DeletedFile>>,
    pub(crate) attributes: Option<S<Vec<S<AttributeFile>>>>,
    #[serde(default)]
    pub(crate) filters: Vec<S<FilterFile>>,
    pub(crate) scan_limit: Option<S<u64>>,
    pub(crate) errors: Option<S<ErrorsFile>>,
    /// Only in `groups:`: where a group's members are.
    pub(crate) membership: Option<S<Box<MembershipFile>>>,
    /// Only in `groups:`: a user's role derived from its groups.
    pub(crate) roles: Option<S<RolesFile>>,
    /// Only in `groups:`: legacy flags set while a user is in a group.
    pub(crate) flags: Option<S<Vec<S<FlagFile>>>>,
    /// Only in `groups:`: legacy groups the identity provider may see but not change.
    pub(crate) protected: Option<S<Vec<S<GroupRefFile>>>>,
    /// Only in `groups:`: legacy groups the identity provider never sees.
    pub(crate) hidden: Option<S<Vec<S<GroupRefFile>>>>,
    /// Only in `groups:`: `false`: the identity provider cannot create groups.
    pub(crate) create: Option<S<bool>>,
    /// Where the record is in single-record answers, request bodies and list items, for every
    /// endpoint of the section (`{ answer: data, body: user, item: user }`).
    pub(crate) envelope: Option<S<EnvelopeFile>>,
    /// Only in `groups:`: `gateway`: SCIM Groups are kept in the gateway's store, not in the
    /// legacy API (then only `roles`, `flags` and `remove_deleted_users` may be written).
    pub(crate) held_by: Option<S<String>>,
    /// Only in `groups:` with `held_by: gateway`: a user deleted or deactivated through SCIM
    /// leaves the groups the gateway holds (default false: the identity provider re-sends
    /// memberships).
    pub(crate) remove_deleted_users: Option<S<bool>>,
}

/// `{ name: Administrator }` or `{ id: "3" }`: one legacy group, by its display name
/// (case-insensitive) or its id.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupRefFile {
    pub(crate) name: Option<S<String>>,
    pub(crate) id: Option<S<Value>>,
}

/// `envelope: { answer: data, body: user, item: user }`: the key of the object that holds the
/// record in an answer, in a request body and in a list item. Each value is a key name or null
/// (no envelope, overriding the section's); an absent key keeps the section's.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EnvelopeFile {
    #[serde(default, deserialize_with = "present")]
    pub(crate) answer: Option<S<Value>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) body: Option<S<Value>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) item: Option<S<Value>>,
}

/// A key that is present, null included: `Some(Null)` for `item: null`, `None` only when the
/// key is absent (serde's `Option` would read null as absent).
fn present<'de, D>(d: D) -> Result<Option<S<Value>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    S::<Value>::deserialize(d).map(Some)
}

/// `groups.roles`: where the legacy role is, the default, the privilege order (highest
/// first), the roles never lowered, and the group → role table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RolesFile {
    pub(crate) legacy: Option<S<String>>,
    pub(crate) default: Option<S<String>>,
    pub(crate) ranking: Option<S<Vec<S<String>>>>,
    pub(crate) protected: Option<S<Vec<S<String>>>>,
    pub(crate) from_groups: Option<S<Vec<S<RoleRuleFile>>>>,
    /// The legacy roles by name: the roles above are names, resolved to the legacy ids this
    /// endpoint lists, at start and on reload.
    pub(crate) lookup: Option<S<RoleLookupFile>>,
}

/// `{ method: GET, path: /api/v2/roles, items: $.data, id: $.id, name: $.name }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleLookupFile {
    pub(crate) method: Option<S<String>>,
    pub(crate) path: Option<S<String>>,
    pub(crate) query: Option<S<Map<String, Value>>>,
    pub(crate) headers: Option<S<Map<String, Value>>>,
    pub(crate) items: Option<S<String>>,
    pub(crate) id: Option<S<String>>,
    pub(crate) name: Option<S<String>>,
}

/// `{ group: "Eng Leads", role: manager, set: { $.archetype: eng_lead } }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleRuleFile {
    pub(crate) group: Option<S<String>>,
    pub(crate) role: Option<S<String>>,
    pub(crate) set: Option<S<Map<String, Value>>>,
}

/// `{ legacy: $.licensed, group: "Pro", member: true, otherwise: false }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlagFile {
    pub(crate) legacy: Option<S<String>>,
    pub(crate) group: Option<S<String>>,
    pub(crate) member: Option<S<Value>>,
    pub(crate) otherwise: Option<S<Value>>,
}

/// `groups.membership`: exactly one of `endpoints` (member endpoints on the legacy group),
/// `group_attribute` (the member ids a list on the legacy group) and `user_attribute`
/// (membership held on the legacy user).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MembershipFile {
    pub(crate) endpoints: Option<S<MemberEndpointsFile>>,
    pub(crate) group_attribute: Option<S<GroupAttributeFile>>,
    pub(crate) user_attribute: Option<S<UserAttributeFile>>,
}

/// Membership held on the legacy group: its member ids, a list written whole.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct GroupAttributeFile {
    pub(crate) legacy: Option<S<String>>,
    pub(crate) legacy_type: Option<S<String>>,
    /// The group's version, sent as `If-Match` on the write of the list.
    pub(crate) if_match: Option<S<String>>,
    /// The call that writes the list (default: `groups.endpoints.update`).
    pub(crate) update: Option<S<EndpointFile>>,
    pub(crate) user_groups: Option<S<UserGroupsFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberEndpointsFile {
    pub(crate) add: Option<S<MemberAddFile>>,
    pub(crate) remove: Option<S<EndpointFile>>,
    pub(crate) list: Option<S<MemberListFile>>,
    pub(crate) user_groups: Option<S<UserGroupsFile>>,
}

/// The call that adds one member: the member's id in the path (`{member}`) or in the body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberAddFile {
    pub(crate) method: Option<S<String>>,
    pub(crate) path: Option<S<String>>,
    pub(crate) query: Option<S<Map<String, Value>>>,
    pub(crate) headers: Option<S<Map<String, Value>>>,
    /// `{ member: $.user_id, legacy_type: integer }` (where the member's id goes in a new
    /// object), or a template with `{member}` and `{id}` in its string values.
    pub(crate) body: Option<S<Value>>,
}

/// A group's paged member list.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MemberListFile {
    pub(crate) method: Option<S<String>>,
    pub(crate) path: Option<S<String>>,
    pub(crate) query: Option<S<Map<String, Value>>>,
    pub(crate) headers: Option<S<Map<String, Value>>>,
    pub(crate) items: Option<S<String>>,
    /// Where the member's legacy user id is in an item.
    pub(crate) member: Option<S<String>>,
    pub(crate) total: Option<S<TotalFile>>,
    pub(crate) pagination: Option<S<PaginationFile>>,
    pub(crate) body: Option<S<Value>>,
}

/// A user's groups, in one response.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserGroupsFile {
    pub(crate) method: Option<S<String>>,
    pub(crate) path: Option<S<String>>,
    pub(crate) query: Option<S<Map<String, Value>>>,
    pub(crate) headers: Option<S<Map<String, Value>>>,
    pub(crate) items: Option<S<String>>,
    /// Where the group's legacy id is in an item.
    pub(crate) group: Option<S<String>>,
    pub(crate) body: Option<S<Value>>,
}

/// Membership held on the legacy user: a list of group ids (or one, with `single: true`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UserAttributeFile {
    pub(crate) legacy: Option<S<String>>,
    pub(crate) single: Option<S<bool>>,
    pub(crate) legacy_type: Option<S<String>>,
    pub(crate) members_query: Option<S<MembersQueryFile>>,
    pub(crate) if_match: Option<S<String>>,
    /// With `single: true`: group display names or ids, highest first; a user the identity
    /// provider puts in several groups is written the highest-ranked one.
    pub(crate) ranking: Option<S<Vec<S<String>>>>,
    /// With `single: true`: the group written when the user leaves the one the field holds,
    /// and that counts as "in no group" (`{ name: Member }` or `{ id: … }`).
    pub(crate) otherwise: Option<S<GroupRefFile>>,
}

/// `{ param: team }`: the users list endpoint lists a group's members with `?team=<group id>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MembersQueryFile {
    pub(crate) param: Option<S<String>>,
}

/// `{ legacy: $.status, value: archived }`: the legacy field and value that mark a user
/// deleted through SCIM (with `on_delete: deactivate`, which keeps the legacy record).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeletedFile {
    pub(crate) legacy: Option<S<String>>,
    pub(crate) value: Option<S<Value>>,
    /// `false`: the list endpoint never returns a marked record (default `true`).
    pub(crate) listed: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndpointsFile {
    pub(crate) create: Option<S<EndpointFile>>,
    pub(crate) get: Option<S<EndpointFile>>,
    pub(crate) update: Option<S<EndpointFile>>,
    pub(crate) delete: Option<S<EndpointFile>>,
    pub(crate) deactivate: Option<S<EndpointFile>>,
    pub(crate) reactivate: Option<S<EndpointFile>>,
    pub(crate) list: Option<S<ListFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EndpointFile {
    pub(crate) method: Option<S<String>>,
    pub(crate) path: Option<S<String>>,
    pub(crate) query: Option<S<Map<String, Value>>>,
    pub(crate) headers: Option<S<Map<String, Value>>>,
    /// Only on `update`: `full` (the legacy API replaces the user) or `partial`.
    pub(crate) mode: Option<S<String>>,
    /// Only on `update`: send the record's `version` as `If-Match` (the legacy API refuses a
    /// write of a record that changed since it was read).
    pub(crate) if_match: Option<S<bool>>,
    /// Only on a partial `update`: the legacy objects the API replaces whole when one is sent.
    pub(crate) replaces_whole: Option<S<Vec<S<String>>>>,
    /// The JSON body of a call the gateway sends no record with (deactivate, delete…), with
    /// `{id}`, `{member}` and `{tenant}` in its string values.
    pub(crate) body: Option<S<Value>>,
    /// This endpoint's envelope keys, over the section's `envelope:`.
    pub(crate) envelope: Option<S<EnvelopeFile>>,
    /// Error rules tried before the section's `errors.rules`, for this endpoint's answers.
    pub(crate) errors: Option<S<Vec<S<ErrorRuleFile>>>>,
    /// `read_first` on update, delete, deactivate, reactivate: the record is read with `get`
    /// before the call, and an absent record is a SCIM 404 with nothing written.
    pub(crate) exists: Option<S<String>>,
    /// Only on `update`: what an answer without the record (204, an empty body) means: `read`
    /// (read it again with `get`, the default) or `as_written`.
    pub(crate) after_empty_answer: Option<S<String>>,
    /// Only on `users.endpoints.create`: `userName` when the legacy API itself refuses a
    /// create whose userName is taken (the gateway then creates first and looks the userName
    /// up only on that refusal).
    pub(crate) unique: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListFile {
    pub(crate) method: Option<S<String>>,
    pub(crate) path: Option<S<String>>,
    pub(crate) query: Option<S<Map<String, Value>>>,
    pub(crate) headers: Option<S<Map<String, Value>>>,
    pub(crate) items: Option<S<String>>,
    pub(crate) total: Option<S<TotalFile>>,
    pub(crate) pagination: Option<S<PaginationFile>>,
    /// The SCIM attributes a list item holds (`[userName, name, emails]`); absent: all.
    pub(crate) carries: Option<S<Vec<S<String>>>>,
    /// A JSON body sent with every page call (a search API), placeholders allowed.
    pub(crate) body: Option<S<Value>>,
    /// `{ item: user }`: the key that holds the record in each list item, over the section's.
    pub(crate) envelope: Option<S<EnvelopeFile>>,
    /// Error rules tried before the section's `errors.rules`, for this endpoint's answers.
    pub(crate) errors: Option<S<Vec<S<ErrorRuleFile>>>>,
}

/// `{body: $.meta.total}` or `{header: X-Total-Count}` (also `Content-Range`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TotalFile {
    pub(crate) body: Option<S<String>>,
    pub(crate) header: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PaginationFile {
    /// `page`, `offset`, `cursor` or `none`.
    pub(crate) style: Option<S<String>>,
    pub(crate) page_param: Option<S<String>>,
    pub(crate) size_param: Option<S<String>>,
    pub(crate) first_page: Option<S<u64>>,
    pub(crate) offset_param: Option<S<String>>,
    pub(crate) limit_param: Option<S<String>>,
    pub(crate) cursor_param: Option<S<String>>,
    pub(crate) next: Option<S<NextFile>>,
    pub(crate) max_page_size: Option<S<u64>>,
}

/// Where a cursor-paginated response says what comes next: `{cursor: $.next_cursor}`,
/// `{url: $.links.next}` or `{link_header: true}`, and optionally `more: $.meta.has_more`, a
/// flag that ends the list when it reads false (whatever cursor the response also gives).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NextFile {
    pub(crate) cursor: Option<S<String>>,
    pub(crate) url: Option<S<String>>,
    pub(crate) link_header: Option<S<bool>>,
    pub(crate) more: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AttributeFile {
    pub(crate) scim: Option<S<String>>,
    pub(crate) legacy: Option<S<String>>,
    pub(crate) direction: Option<S<String>>,
    pub(crate) constant: Option<S<Value>>,
    pub(crate) default: Option<S<Value>>,
    pub(crate) values: Option<S<Vec<S<ValuePairFile>>>>,
    pub(crate) legacy_type: Option<S<String>>,
    pub(crate) join: Option<S<JoinFile>>,
    /// The legacy API needs a value: advertised as required, and never written empty.
    pub(crate) required: Option<S<bool>>,
    /// A read-only SCIM value computed from record fields: `"{first_name} {last_name}"`.
    pub(crate) template: Option<S<String>>,
    /// `absent`: an empty (or blank) legacy string is no value, and none is written as "".
    pub(crate) empty: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ValuePairFile {
    pub(crate) scim: Option<S<Value>>,
    pub(crate) legacy: Option<S<Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JoinFile {
    pub(crate) parts: Option<S<Vec<S<String>>>>,
    pub(crate) separator: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FilterFile {
    pub(crate) scim: Option<S<String>>,
    pub(crate) op: Option<S<String>>,
    pub(crate) param: Option<S<String>>,
    /// `exact` (default) or `loose`: whether the legacy API selects exactly what SCIM selects.
    #[serde(rename = "match")]
    pub(crate) match_: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorsFile {
    /// JSONPath of the human-readable message in a legacy error body, or a list of them tried
    /// in order (a YAML string or list, checked by the loader).
    pub(crate) message: Option<S<Value>>,
    #[serde(default)]
    pub(crate) rules: Vec<S<ErrorRuleFile>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ErrorRuleFile {
    pub(crate) status: Option<S<u16>>,
    pub(crate) code_path: Option<S<String>>,
    pub(crate) equals: Option<S<Value>>,
    pub(crate) body_contains: Option<S<String>>,
    pub(crate) scim_status: Option<S<u16>>,
    pub(crate) scim_type: Option<S<String>>,
    pub(crate) detail: Option<S<String>>,
}
