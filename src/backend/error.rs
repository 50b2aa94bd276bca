//! Errors of the backend client: [`BackendConfigError`] (a base URL that cannot be used, found at
//! start-up) and [`BackendError`] (a call to the legacy API that failed), and the one place where
//! a failed call becomes a [`ScimError`].
//!
//! No message here carries a header value or a credential: errors are built from the backend's
//! address, what the client was doing, and pingora's error *type*, never from request or response
//! bytes. The SCIM error an identity provider sees does not even name the backend's address.

use std::fmt;
use std::time::Duration;

use crate::scim::ScimError;

/// A backend base URL that cannot be used. Found once, when the client is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendConfigError {
    #[error("the backend URL {url:?} is not usable: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error(
        "the backend URL uses https, but TLS to the legacy API is not built in yet; \
         use an http:// URL (for example to a TLS-terminating sidecar next to the gateway)"
    )]
    TlsNotSupported,
    #[error(
        "the backend URL contains a user name or password; remove it and send credentials \
         through the client's default headers instead"
    )]
    CredentialsInUrl,
    #[error("the backend host {host:?} could not be resolved: {reason}")]
    Resolve { host: String, reason: String },
    #[error("the user agent {0:?} is not a valid HTTP header value")]
    InvalidUserAgent(String),
}

/// Which part of a call ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    /// Opening the TCP connection (`ClientOptions::connect_timeout`).
    Connect,
    /// The whole call: connect, send, and read the complete response
    /// (`ClientOptions::request_timeout`).
    Request,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connecting",
            TimeoutPhase::Request => "the whole request",
        })
    }
}

/// A call to the legacy API that did not produce a complete HTTP response. (A response with any
/// status, 4xx and 5xx included, is not an error at this layer.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// The connection could not be opened: refused, unreachable, no route.
    #[error("cannot connect to the legacy API at {backend}: {reason}")]
    Connect { backend: String, reason: String },
    /// Connecting or the whole call took longer than allowed.
    #[error("the legacy API at {backend} timed out: {phase} took longer than {after:?}")]
    Timeout {
        backend: String,
        phase: TimeoutPhase,
        after: Duration,
    },
    /// The backend answered something that is not a complete HTTP/1.x response: garbage, a
    /// connection closed or reset before or during the response, a truncated body.
    #[error("the legacy API at {backend} sent a broken response: {reason}")]
    Protocol { backend: String, reason: String },
    /// The response body is larger than `ClientOptions::max_response_bytes`.
    #[error("the legacy API at {backend} sent a response larger than {limit} bytes")]
    TooLarge { backend: String, limit: usize },
    /// The request itself cannot be sent (for example a path with a space, or a header value
    /// the wire format forbids): a bug in the code that built it, not a backend failure.
    #[error("cannot send this request to the legacy API: {0}")]
    InvalidRequest(String),
}

impl From<BackendError> for ScimError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Connect { .. } => ScimError::bad_gateway("the legacy API is unreachable"),
            BackendError::Timeout { phase, after, .. } => match phase {
                TimeoutPhase::Connect => ScimError::gateway_timeout(format!(
                    "the legacy API did not accept a connection within {} ms",
                    after.as_millis()
                )),
                TimeoutPhase::Request => ScimError::gateway_timeout(format!(
                    "the legacy API did not answer within {} ms",
                    after.as_millis()
                )),
            },
            BackendError::Protocol { .. } => {
                ScimError::bad_gateway("the legacy API sent an invalid response")
            }
            BackendError::TooLarge { limit, .. } => ScimError::bad_gateway(format!(
                "the legacy API's response exceeded the gateway's limit of {limit} bytes"
            )),
            BackendError::InvalidRequest(_) => {
                ScimError::internal("the gateway could not build the request to the legacy API")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKEND: &str = "legacy.internal:8080";

    fn all_errors() -> Vec<BackendError> {
        vec![
            BackendError::Connect {
                backend: BACKEND.into(),
                reason: "ConnectRefused".into(),
            },
            BackendError::Timeout {
                backend: BACKEND.into(),
                phase: TimeoutPhase::Request,
                after: Duration::from_secs(10),
            },
            BackendError::Timeout {
                backend: BACKEND.into(),
                phase: TimeoutPhase::Connect,
                after: Duration::from_millis(1500),
            },
            BackendError::Protocol {
                backend: BACKEND.into(),
                reason: "InvalidHTTPHeader while reading the response head".into(),
            },
            BackendError::TooLarge {
                backend: BACKEND.into(),
                limit: 1024,
            },
            BackendError::InvalidRequest("bad path".into()),
        ]
    }

    #[test]
    fn each_failure_becomes_the_right_gateway_status() {
        let statuses: Vec<u16> = all_errors()
            .into_iter()
            .map(|e| ScimError::from(e).status)
            .collect();
        assert_eq!(statuses, vec![502, 504, 504, 502, 502, 500]);
    }

    #[test]
    fn unreachable_backend_is_described_plainly() {
        let e = ScimError::from(all_errors().remove(0));
        assert_eq!(e.detail, "the legacy API is unreachable");
        assert_eq!(e.scim_type, None);
    }

    #[test]
    fn timeout_detail_names_the_bound() {
        let e = ScimError::from(all_errors().remove(1));
        assert_eq!(e.detail, "the legacy API did not answer within 10000 ms");
    }

    #[test]
    fn the_identity_provider_never_learns_the_backend_address() {
        for e in all_errors() {
            let scim = ScimError::from(e);
            assert!(!scim.detail.contains("legacy.internal"), "{}", scim.detail);
            assert!(!scim.to_json().to_string().contains("8080"));
        }
    }

    #[test]
    fn log_messages_name_the_backend_for_operators() {
        for e in all_errors() {
            if !matches!(e, BackendError::InvalidRequest(_)) {
                assert!(e.to_string().contains(BACKEND), "{e}");
            }
        }
    }
}
