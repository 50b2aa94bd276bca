//! scim-gateway: a SCIM 2.0 service provider that owns no user store.
//!
//! Every SCIM request is translated, through a declarative YAML mapping, into calls to a legacy
//! product's own REST user API. The request flow, step by step with
//! the file and function of each, and the layers are in `docs/architecture.md`. The modules:
//!
//! - [`scim`]: the protocol core (types, attribute paths, filters, PATCH, errors). Pure.
//! - [`mapping`]: the mapping language, its validation, and SCIM ↔ legacy translation. Pure.
//! - [`backend`]: the HTTP client that calls the legacy API.
//! - [`cache`]: the group-membership cache (moka).
//! - [`metrics`]: the Prometheus metrics (one private registry).
//! - [`server`]: the pingora service: auth, routing, the SCIM operations, response shaping.
//! - [`store`]: the group store: SCIM Groups held by the gateway (SQLite or PostgreSQL, sqlx).
//! - [`config`]: the gateway's own configuration (figment: TOML file, then env vars).
//! - [`keys`]: API keys: the keys file, generating a key, the checks a key passes.
//! - [`onboard`]: the onboarding commands `probe` and `explain` (SCIM requests made in process,
//!   their legacy calls recorded).
//!
//! Not here: the pingora start/stop helpers (`crates/hosting`, shared with the example APIs)
//! and the example legacy APIs used by the demo and the tests (`crates/example-apis`).
//!
//! The library has no `unsafe` code, and forbids it. The binary's `unsafe` code lives beside
//! `main.rs`, each block with its SAFETY note: the allocator (`allocator.rs`), giving back the
//! start-up code's pages (`resident.rs`), tuning glibc's malloc arenas (`main.rs`).

#![forbid(unsafe_code)]

pub mod backend;
pub mod cache;
pub mod config;
pub mod keys;
pub mod mapping;
pub mod metrics;
pub mod onboard;
pub mod scim;
pub mod server;
pub mod store;
