//! The backend client: calls the legacy product's REST user API over HTTP/1.1, plain or over TLS,
//! on pingora's own client stack (pooled keep-alive connections, timeouts, a bounded response
//! size, rustls with the system's or a given CA bundle), and protects it (`docs/security.md`, "Backend-facing").
//!
//! It knows nothing of SCIM or of the mapping: it takes a method, an already-encoded path and a
//! JSON body, and returns the complete response, whatever its status.
//!
//! - `client`: one call ([`BackendClient::send`]), with the credential of `backend.auth` (a
//!   header, or a query parameter added to the target here, below everything that logs a legacy
//!   path) and the client certificate of `backend.tls`.
//! - `oauth`: OAuth 2.0 client credentials: the access token fetched, cached and shared.
//! - `protect`: the protected call ([`BackendClient::send_protected`]) — the access token, then
//!   the circuit breaker, then the concurrency bound, then the call, then retries — over the pure
//!   mechanisms `breaker`, `limiter` and `retry`.
//! - `error`: what fails, and the one place it becomes a SCIM error.
//!
//! Not here: the per-tenant rate limit toward the identity providers (`server::rate_limit`).

mod breaker;
mod client;
mod error;
mod limiter;
mod oauth;
mod protect;
pub(crate) mod retry;

pub(crate) use client::{BackendClient, BackendRequest, BackendResponse, ClientOptions};
pub(crate) use error::{BackendError, TokenProblem};
pub(crate) use oauth::TokenFetch;
pub(crate) use protect::CallObserver;
