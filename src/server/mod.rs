//! The pingora edge of the gateway: listeners, auth, routing, the SCIM operations on top of the
//! mapping and the backend client, and response shaping.
//!
//! The modules form layers; each imports only from the layers below it (checked by
//! `tests/architecture.rs`), bottom up:
//!
//! 1. HTTP types and the route table: [`wire`] (`Request`, `Reply`, shared constants),
//!    [`router`] (`Route`, `Collection`, the base URL).
//! 2. What a request is and who makes it: [`tenant`], [`tap`] (what may watch and answer its
//!    legacy calls), [`record`] (what a request's steps learn), [`auth`] (keys, tenants,
//!    scopes), [`rate_limit`], [`status`] (the `/status` board).
//! 3. State: [`roles`] (the look-up of the legacy roles named by name), [`gateway`] (one
//!    generation of the shared state), [`context`] (`Ctx`: one request's view of it),
//!    [`reload`] (the reloadable generation, `Live`).
//! 4. Legacy calls and list selection: [`legacy`], [`select`]; [`recent`] (the record cache as
//!    a request fills it, after its answer).
//! 5. Observation: [`observe`] (request id, metrics, access and provisioning logs),
//!    [`text_fields`] (the text log's fields).
//! 6. The operations: [`users`], [`groups`].
//! 7. The application: [`app`] (the SCIM `ServeHttp`: read, authenticate, rate limit, route,
//!    operate, shape the reply).
//! 8. Hosting and background: [`counts`], [`role_retry`] (the roles looked up again while
//!    pending), [`admin`] (`/metrics`, `/healthz`, `/readyz`, `/status`), [`runner`].

pub(crate) mod admin;
pub mod app;
pub mod auth;
pub(crate) mod context;
pub(crate) mod counts;
pub mod gateway;
pub(crate) mod groups;
pub(crate) mod legacy;
pub(crate) mod lookups;
pub(crate) mod observe;
pub(crate) mod rate_limit;
pub(crate) mod recent;
pub(crate) mod record;
pub mod reload;
pub mod role_retry;
pub(crate) mod roles;
pub(crate) mod router;
pub mod runner;
pub(crate) mod select;
pub(crate) mod status;
pub(crate) mod tap;
pub(crate) mod tenant;
pub mod text_fields;
pub(crate) mod users;
pub mod wire;
