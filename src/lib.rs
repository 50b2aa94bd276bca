//! scim-gateway: a SCIM 2.0 service provider that owns no user store.
//!
//! Every SCIM request is translated, through a declarative YAML mapping, into calls to a legacy
//! product's own REST user API. The request flow (DESIGN.md §6) is visible in the modules:
//!
//! - [`scim`]: the protocol core (types, attribute paths, filters, PATCH, errors). Pure.
//! - [`mapping`]: the mapping language, its validation, and SCIM ↔ legacy translation. Pure.
//! - [`backend`]: the HTTP client that calls the legacy API.
//! - [`cache`]: the group-membership cache (moka).
//! - [`metrics`]: the Prometheus metrics (one private registry).
//! - [`server`]: the pingora service: auth, routing, the SCIM operations, response shaping.
//! - [`config`]: the gateway's own configuration (figment: TOML file, then env vars).
//! - [`keys`]: API keys: the keys file, generating a key, the checks a key passes.

pub mod backend;
pub mod cache;
pub mod config;
pub mod keys;
pub mod mapping;
pub mod metrics;
pub mod scim;
pub mod server;
