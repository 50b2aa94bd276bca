//! A test mapping that uses every construct of the language once, shared by the unit tests of
//! the translation modules (test builds only), and a `groups:` section to append to it with
//! either membership shape, or one of groups held by the gateway.

use super::{load_str, Mapping};

pub(crate) const FIXTURE: &str = r#"
name: fixture
backend:
  base_url: http://127.0.0.1:9/api/
  auth: { header: X-Api-Key, from_env: FIXTURE_KEY }
  timeout_ms: 2000
users:
  id: $.id
  created: $.created_at
  last_modified: $.updated_at
  version: $.version
  endpoints:
    create: { method: POST, path: /users }
    get: { method: GET, path: "/users/{id}", query: { expand: all } }
    update: { method: PUT, path: "/users/{id}", mode: full }
    delete: { method: DELETE, path: "/users/{id}" }
    list:
      method: GET
      path: /users
      items: $.data
      total: { body: $.meta.total }
      pagination: { style: page, page_param: page, size_param: per_page, first_page: 1, max_page_size: 100 }
  on_delete: deactivate
  deleted: { legacy: $.status, value: archived }
  attributes:
    - { scim: userName, legacy: $.login }
    - { scim: externalId, legacy: $.external_ref }
    - legacy: $.full_name
      join: { parts: [name.givenName, name.familyName], separator: " " }
    - { scim: displayName, legacy: $.full_name, direction: read }
    - scim: active
      legacy: $.status
      default: true
      required: true
      values:
        - { scim: true, legacy: enabled }
        - { scim: false, legacy: disabled }
        - { scim: false, legacy: locked }
    - scim: userType
      legacy: $.kind
      values:
        - { scim: Employee, legacy: E }
        - { scim: Contractor, legacy: C }
    - { scim: 'emails[type eq "work"].value', legacy: $.email }
    - { scim: 'emails[type eq "work"].primary', constant: true }
    - { scim: 'phoneNumbers[type eq "mobile"].value', legacy: "$.phones[?(@.kind == 'cell')].number" }
    - { scim: 'phoneNumbers[type eq "work"].value', legacy: "$.phones[?(@.kind == 'desk')].number" }
    - { scim: 'addresses[type eq "work"].locality', legacy: $.address.city }
    - { scim: 'addresses[type eq "work"].postalCode', legacy: $.address.zip }
    - { scim: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber', legacy: $.hr.badge, legacy_type: integer }
    - { scim: 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value', legacy: $.manager_id, legacy_type: integer }
    - { scim: title, legacy: $.title, direction: write }
    - { scim: nickName, legacy: $.nick, direction: read }
    - { legacy: $.source, constant: scim }
    - { legacy: $.role, default: member }
  filters:
    - { scim: userName, op: eq, param: login }
    - { scim: 'emails[type eq "work"].value', param: email }
    - { scim: active, param: status }
    - { scim: name.familyName, param: last }
  scan_limit: 500
  errors:
    message: $.error.message
    rules:
      - { status: 422, code_path: $.error.code, equals: login_taken, scim_status: 409, scim_type: uniqueness }
      - { status: 422, body_contains: "email", scim_status: 400, scim_type: invalidValue, detail: "the e-mail address was refused" }
      - { status: 418, scim_status: 503 }
"#;

/// A `groups:` section without its `membership:` (one of the two below completes it).
pub(crate) const GROUPS: &str = r#"groups:
  id: $.id
  created: $.created_at
  last_modified: $.updated_at
  version: $.rev
  endpoints:
    create: { method: POST, path: /teams }
    get: { method: GET, path: "/teams/{id}" }
    update: { method: PATCH, path: "/teams/{id}" }
    delete: { method: DELETE, path: "/teams/{id}" }
    list:
      method: GET
      path: /teams
      items: $.data
      total: { body: $.meta.total }
      pagination: { style: page, page_param: page, size_param: per_page }
  attributes:
    - { scim: displayName, legacy: $.name }
    - { scim: externalId, legacy: $.external_ref }
    - { legacy: $.source, constant: scim }
  filters:
    - { scim: displayName, op: eq, param: name }
    - { scim: externalId, param: external_ref }
  scan_limit: 300
  errors:
    message: $.error.message
    rules:
      - { status: 422, code_path: $.error.code, equals: name_taken, scim_status: 409, scim_type: uniqueness }
"#;

/// Member endpoints on the legacy group.
pub(crate) const GROUPS_ENDPOINTS: &str = r#"  membership:
    endpoints:
      add: { method: POST, path: "/teams/{id}/members", body: { member: $.member.user_id, legacy_type: integer } }
      remove: { method: DELETE, path: "/teams/{id}/members/{member}" }
      list:
        method: GET
        path: "/teams/{id}/members"
        items: $.data
        member: $.user_id
        total: { body: $.meta.total }
        pagination: { style: page, page_param: page, size_param: per_page, max_page_size: 200 }
      user_groups: { method: GET, path: "/users/{id}/teams", items: $.data, group: $.id }
"#;

/// Membership as a list of group ids on the legacy user.
pub(crate) const GROUPS_USER_ATTRIBUTE: &str = r#"  membership:
    user_attribute:
      legacy: $.teams.ids
      members_query: { param: team }
      if_match: $.meta.version
"#;

/// Membership as a list of member ids on the legacy group, guarded by its version.
pub(crate) const GROUPS_GROUP_ATTRIBUTE: &str = r#"  membership:
    group_attribute:
      legacy: $.member_ids
      legacy_type: integer
      if_match: $.rev
      user_groups: { method: GET, path: /teams, query: { member_id: "{id}" }, items: $.data, group: $.id }
"#;

/// Groups held by the gateway, with roles and a flag written to the legacy user.
pub(crate) const HELD_GROUPS: &str = r#"groups:
  held_by: gateway
  remove_deleted_users: true
  roles:
    legacy: $.access.role
    default: member
    ranking: [owner, manager, member]
    protected: [owner]
    from_groups:
      - { group: "Managers", role: manager }
      - { group: "Eng Leads", role: manager, set: { $.archetype: eng_lead } }
  flags:
    - { legacy: $.licensed, group: "Pro", member: true, otherwise: false }
"#;

pub(crate) fn fixture() -> Mapping {
    load("fixture.yaml", FIXTURE)
}

/// The fixture with [`GROUPS`] and `membership` (e.g. [`GROUPS_ENDPOINTS`]).
pub(crate) fn with_groups(membership: &str) -> Mapping {
    load("groups.yaml", &format!("{FIXTURE}{GROUPS}{membership}"))
}

/// The fixture with [`HELD_GROUPS`].
pub(crate) fn with_held_groups() -> Mapping {
    load("held.yaml", &format!("{FIXTURE}{HELD_GROUPS}"))
}

fn load(name: &str, yaml: &str) -> Mapping {
    match load_str(name, yaml) {
        Ok(m) => m,
        Err(e) => panic!("the fixture does not load:\n{e}"),
    }
}
