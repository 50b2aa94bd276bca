//! The backend client: calls the legacy product's REST user API over HTTP/1.1, plain or over TLS,
//! on pingora's own client stack (pooled keep-alive connections, timeouts, a bounded response
//! size, rustls with the system's or a given CA bundle).
//!
//! It knows nothing of SCIM or of the mapping: it takes a method, an already-encoded path and a
//! JSON body, and returns the complete response, whatever its status. Deciding what to call, and
//! protecting the legacy API (concurrency and rate limits, retries, circuit breaking), happen
//! above it.

mod client;
mod error;

pub use client::{
    BackendClient, BackendRequest, BackendResponse, ClientOptions, DEFAULT_MAX_RESPONSE_BYTES,
};
pub use error::{BackendConfigError, BackendError, CertificateProblem, TimeoutPhase};
