//! The mapping language (docs/mapping.md): one YAML file describes one legacy REST user API,
//! and optionally its groups.
//!
//! - [`model`]: the YAML structures users write (the stable, external format).
//! - [`load`]: parse once, validate (every problem with file:line:column and a fix), compile.
//! - [`plan`]: the compiled, internal form the server uses per request: endpoints, pagination,
//!   backend, and the private attribute plan.
//! - [`auth`]: the credential toward the legacy API, and reading its secrets.
//! - [`legacy_path`], [`template`], `placeholders`, `computed`, `slot`, `values`: the compiled
//!   pieces (legacy JSONPaths with our own writer, URL templates, placeholders in query values
//!   and bodies, computed SCIM values, SCIM attribute slots, value conversions).
//! - `translate`, `list`, `pushdown`, `legacy_errors`: the pure translations SCIM ↔ legacy, for
//!   users and groups alike; `membership`: group members (member endpoints, a field of the
//!   user, or a list on the group); [`roles`]: roles and flags derived from a user's groups;
//!   `records`: the record inside a legacy answer or body (envelopes) and the id a create's
//!   `Location` names.
//!
//! Nothing here does I/O except [`load_file`] (reads the file) and [`SecretSource::resolve`]
//! (reads a secret at start-up); nothing here knows HTTP servers or pingora.

pub mod auth;
mod capture;
mod computed;
mod draft;
pub mod error;
#[cfg(test)]
mod fixture;
mod legacy_errors;
pub mod legacy_path;
mod list;
pub mod load;
mod membership;
pub mod model;
mod placeholders;
pub mod plan;
pub mod protection;
mod pushdown;
mod records;
pub mod roles;
mod slot;
mod suggest;
pub mod template;
mod translate;
mod values;

pub use auth::{ClientAuth, ClientCredentials, Credential, Secret};
pub(crate) use draft::{Draft, DraftNode};
pub use error::{MappingError, Problem, TranslateError};
pub(crate) use list::PageError;
pub use load::{load_file, load_str};
pub use plan::{
    AfterEmpty, BackendAuth, BackendSpec, BackendTls, ClientCertFiles, Endpoint, Endpoints,
    GroupAttribute, GroupMapping, HeldGroups, ListEndpoint, Mapping, MemberCall, MemberList,
    Membership, NextSource, OnDelete, Pagination, QueryParam, ResourceMapping, SecretSource,
    TenantParam, TotalSource, UpdateMode, UserAttribute, UserGroups,
};
pub use pushdown::Pushdown;
pub(crate) use records::location_id;
pub use roles::{GroupRules, UserGroup};
pub use template::{append_query, PathTemplate};
pub(crate) use translate::MappedField;
pub use translate::UpdateBody;
pub use values::LegacyType;
