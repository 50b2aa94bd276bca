//! The pingora edge of the gateway: listeners, auth, routing, the SCIM operations on top of the
//! mapping and the backend client, and response shaping.
//!
//! Request flow: [`app`] (read, authenticate and authorise with [`auth`], which routes with
//! [`router`]) →
//! [`users`] (the operation: SCIM protocol + mapping) → [`legacy`] (calls through the backend
//! client) → back through [`users`] and [`app`] (response shaping) → [`observe`] (request id,
//! metrics, access and provisioning logs).
//!
//! Right after authentication, [`rate_limit`] holds each tenant to its `[limits]` rate.
//!
//! Beside it, on its own listener: [`admin`] (`/metrics`, `/healthz`, `/readyz`, `/status`, the
//! latter with the per-tenant [`counts`]).
//!
//! [`reload`] swaps the running [`gateway`] state on SIGHUP and when the keys file changes.

pub mod admin;
pub mod app;
pub mod auth;
pub mod context;
pub mod counts;
pub mod gateway;
pub mod groups;
pub mod legacy;
pub mod observe;
pub mod rate_limit;
pub mod reload;
pub mod router;
pub mod runner;
pub mod select;
pub mod users;
