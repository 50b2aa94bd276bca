//! The pingora edge of the gateway: listeners, auth, routing, the SCIM operations on top of the
//! mapping and the backend client, and response shaping.

pub mod auth;
pub mod router;
pub mod runner;
