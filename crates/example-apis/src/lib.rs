//! Example legacy APIs: stand-ins for a customer's product, used by `scim-gateway demo`, the
//! integration tests and the benchmarks. They are not part of the gateway; they behave like real
//! products' user APIs (their own field names, pagination, status strings, errors, auth), not
//! like SCIM.
//!
//! - [`AcmeHr`] (`acme_hr.rs`): numeric ids, page/per_page, an API-key header; teams whose
//!   membership is changed one member at a time through member endpoints
//!   (`acme_hr/teams.rs`); described by `mappings/acme-hr.yaml`.
//! - [`Crewbase`] (`crewbase.rs`): string ids, offset/limit with `X-Total-Count`, bearer auth,
//!   PATCH and (de)activation endpoints; teams whose membership is a `team_ids` list on the
//!   person, guarded by a per-person version and `If-Match` (`crewbase/teams.rs`); described
//!   by `mappings/crewbase.yaml`.
//! - [`Keystone`] (`keystone.rs`): a Rails-style API — integer ids read by their leading digits
//!   (`/api/users/8dded348` is user 8), records wrapped in a root object (`{"user": …}`) in
//!   answers, list items and request bodies, thin list items, a loose `q` search, users
//!   deleted through SCIM kept in the list, `lock_version` and `If-Match`, `Token token=` auth;
//!   teams listed in one unpaged answer, with membership endpoints whose refusals each have
//!   their own shape (`keystone/teams.rs`); described by `mappings/keystone.yaml`.
//! - [`Orbit`] (`orbit.rs`): a JSON:API-style SaaS — OAuth 2.0 client-credentials tokens that
//!   expire, records in `{"data": …}` answers and `{"user": …}` bodies, a create answered 200,
//!   updates answered 204 with no body, 403 for an unknown id but 204 for a write to one, ids
//!   found by prefix, `page[number]`/`page[size]`, exact `filter[email]` and
//!   `filter[external_id]` and other filters ignored; teams holding their members as a
//!   versioned list (`orbit/teams.rs`); roles named by UUIDs that differ per instance
//!   (`orbit/roles.rs`); described by `mappings/orbit.yaml` and `mappings/orbit-roles.yaml`.
//! - [`Tallybook`] (`tallybook.rs`): a bookkeeping SaaS with users only — no groups, no teams:
//!   one role per user as a `role_id` (UUIDs per instance, listed by `GET /api/roles`), a
//!   `licensed` flag, an `invitation_status`; `{"user": …}` records, `page`/`page_size` with a
//!   `pagination` object, a partial `PUT`, 404 for an unknown id, 422 with errors by field, an
//!   `X-Tallybook-Token` header, and a last Owner the API will not demote; described by
//!   `mappings/tallybook.yaml` (its SCIM Groups held by the gateway).
//!
//! All five are pingora `ServeHttp` apps whose value is a cheap handle on shared in-memory state:
//! clone one, hand the clone to pingora (or call `serve`), and keep the other to seed users and
//! teams and read the request counters ([`RequestCounts`]).
//!
//! This crate depends on the hosting helpers (`scim-gateway-hosting`) and never on the gateway:
//! an example that knew the gateway's internals could not stand in for someone else's product.

#![forbid(unsafe_code)]

pub mod acme_hr;
mod common;
pub mod crewbase;
pub mod keystone;
pub mod orbit;
pub mod tallybook;

pub use acme_hr::AcmeHr;
pub use common::{Endpoint, RequestCounts, MAX_BODY_BYTES, NO_ROUTE};
pub use crewbase::Crewbase;
pub use keystone::Keystone;
pub use orbit::Orbit;
pub use tallybook::Tallybook;
