//! Errors of the backend client: [`BackendConfigError`] (a base URL that cannot be used, found at
//! start-up) and [`BackendError`] (a call to the legacy API that failed, or that the protection
//! of the legacy API refused to send), and the one place where a failed call becomes a
//! [`ScimError`]: 502 when the legacy API cannot be reached or answers nonsense, 504 when it is
//! too slow, 503 with `Retry-After` when the gateway holds calls back (open circuit, full queue).
//!
//! No message here carries a header value or a credential: errors are built from the backend's
//! address, what the client was doing, and pingora's error *type*, never from request or response
//! bytes. The SCIM error an identity provider sees does not even name the backend's address.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::limiter::Refusal;
use super::retry::retry_after_seconds;
use crate::scim::ScimError;

/// A backend base URL that cannot be used. Found once, when the client is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BackendConfigError {
    #[error("the backend URL {url:?} is not usable: {reason}")]
    InvalidUrl { url: String, reason: &'static str },
    #[error("the backend's CA file {path:?} cannot be used: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("the system's root certificates cannot be loaded: {0}")]
    SystemRoots(String),
    #[error(
        "the backend's TLS settings set both ca_file and insecure_skip_verify; \
         keep ca_file (the certificate is then verified against it) and remove the other"
    )]
    ConflictingTlsOptions,
    #[error(
        "the backend URL contains a user name or password; remove it and send credentials \
         through the client's default headers instead"
    )]
    CredentialsInUrl,
    #[error("the backend host {host:?} could not be resolved: {reason}")]
    Resolve { host: String, reason: String },
    #[error("the user agent {0:?} is not a valid HTTP header value")]
    InvalidUserAgent(String),
    /// The request head made of the host, the user agent and the default headers is refused
    /// by the HTTP library (the values are never shown).
    #[error("the backend's default headers cannot be sent: {0}")]
    InvalidHeaders(String),
    /// The credential's header name or value cannot be sent (the value is never shown).
    #[error("backend.auth: {0}")]
    Credential(String),
    /// The OAuth 2.0 token URL cannot be used.
    #[error("backend.auth.oauth2.token_url: {0}")]
    TokenUrl(String),
    /// The client certificate or its key (`tls.client_cert`, `tls.client_key`) cannot be used.
    #[error("the client certificate file {path:?} cannot be used: {reason}")]
    ClientCert { path: PathBuf, reason: String },
}

/// Which part of a call ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeoutPhase {
    /// Opening the TCP connection (`ClientOptions::connect_timeout`).
    Connect,
    /// The whole call: connect, send, and read the complete response
    /// (`ClientOptions::request_timeout`).
    Request,
    /// Waiting for the next bytes of the response (`ClientOptions::read_timeout`).
    Read,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connecting",
            TimeoutPhase::Request => "the whole request",
            TimeoutPhase::Read => "waiting for the next bytes of the response",
        })
    }
}

/// Why the legacy API's TLS certificate was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertificateProblem {
    /// Not signed by a trusted CA: a self-signed certificate, or an internal CA that is not in
    /// the trusted roots (`ClientOptions::ca_file`).
    UnknownIssuer,
    /// Valid, but not for the host name of the backend URL.
    NameMismatch {
        name: String,
    },
    Expired,
    NotYetValid,
    Revoked,
    /// Malformed, badly signed, or signed with an algorithm that is not supported.
    Invalid,
}

impl fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateProblem::UnknownIssuer => f.write_str(
                "unknown issuer: it is not signed by a trusted CA \
                 (for an internal CA, set the backend's ca_file)",
            ),
            CertificateProblem::NameMismatch { name } => {
                write!(f, "name mismatch: it is not valid for the name {name:?}")
            }
            CertificateProblem::Expired => f.write_str("it has expired"),
            CertificateProblem::NotYetValid => f.write_str("it is not valid yet"),
            CertificateProblem::Revoked => f.write_str("it has been revoked"),
            CertificateProblem::Invalid => f.write_str(
                "it is malformed, badly signed or uses an unsupported signature algorithm",
            ),
        }
    }
}

/// A call to the legacy API that did not produce a complete HTTP response. (A response with any
/// status, 4xx and 5xx included, is not an error at this layer.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BackendError {
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
    /// The TLS handshake failed because the backend's certificate was refused.
    #[error("the TLS certificate of the legacy API at {backend} was not accepted: {problem}")]
    Certificate {
        backend: String,
        problem: CertificateProblem,
    },
    /// The TLS handshake failed for another reason: a server that does not speak TLS on that
    /// port, or that refuses every protocol version or cipher the client offers.
    #[error("the TLS handshake with the legacy API at {backend} failed: {reason}")]
    TlsHandshake { backend: String, reason: String },
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
    /// Not sent: the circuit breaker is open after repeated failures, for `retry_after` more.
    #[error(
        "the circuit to the legacy API at {backend} is open after repeated failures; \
         calls resume in {retry_after:?}"
    )]
    CircuitOpen {
        backend: String,
        retry_after: Duration,
    },
    /// Not sent: every slot of the concurrency bound was taken and the queue full, or the call
    /// waited in the queue longer than allowed.
    #[error("the calls to the legacy API at {backend} are at their limit: {reason}")]
    Busy { backend: String, reason: Refusal },
    /// Not sent: no access token could be fetched from the OAuth 2.0 token endpoint.
    #[error("no access token from the legacy API's token endpoint at {endpoint}: {problem}")]
    Token {
        endpoint: String,
        problem: TokenProblem,
    },
}

/// Why the token endpoint gave no usable access token. Built from statuses, the registered
/// OAuth error codes and fixed reasons only: never from the token, the client secret, or text
/// the endpoint sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    /// 400, 401 or 403: the endpoint refused the client credentials or the grant; `error` is
    /// its RFC 6749 §5.2 error code when it gave a registered one.
    Refused { status: u16, error: Option<String> },
    /// Any other error status (5xx, 429…): the endpoint is failing.
    Failed { status: u16 },
    /// No answer: the call failed as a legacy call does.
    Unreachable(Box<BackendError>),
    /// A success answer without a usable token.
    Unusable(&'static str),
}

impl fmt::Display for TokenProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenProblem::Refused { status, error } => {
                write!(
                    f,
                    "it refused the gateway's client credentials (HTTP {status}"
                )?;
                if let Some(error) = error {
                    write!(f, ", {error}")?;
                }
                f.write_str("); check backend.auth.oauth2's client_id, its client secret and scope")
            }
            TokenProblem::Failed { status } => write!(f, "it answered HTTP {status}"),
            TokenProblem::Unreachable(e) => write!(f, "{e}"),
            TokenProblem::Unusable(reason) => write!(f, "its answer is unusable: {reason}"),
        }
    }
}

/// How long the identity provider is asked to wait when the calls are at their limit.
const BUSY_RETRY_AFTER: u64 = 1;

impl From<BackendError> for ScimError {
    fn from(e: BackendError) -> Self {
        match e {
            BackendError::Connect { .. } => ScimError::bad_gateway("the legacy API is unreachable"),
            BackendError::Certificate { .. } => {
                ScimError::bad_gateway("the legacy API's TLS certificate was not accepted")
            }
            BackendError::TlsHandshake { .. } => {
                ScimError::bad_gateway("the TLS handshake with the legacy API failed")
            }
            BackendError::Timeout { phase, after, .. } => match phase {
                TimeoutPhase::Connect => ScimError::gateway_timeout(format!(
                    "the legacy API did not accept a connection within {} ms",
                    after.as_millis()
                )),
                TimeoutPhase::Request => ScimError::gateway_timeout(format!(
                    "the legacy API did not answer within {} ms",
                    after.as_millis()
                )),
                TimeoutPhase::Read => ScimError::gateway_timeout(format!(
                    "the legacy API stopped sending its answer for more than {} ms",
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
            BackendError::CircuitOpen { retry_after, .. } => {
                let seconds = retry_after_seconds(retry_after);
                ScimError::new(
                    503,
                    None,
                    format!(
                        "the legacy API is failing; the gateway stops calling it for {seconds} s"
                    ),
                )
                .with_retry_after(seconds)
            }
            BackendError::Busy { .. } => ScimError::new(
                503,
                None,
                "the legacy API is at the gateway's limit of concurrent calls; retry later",
            )
            .with_retry_after(BUSY_RETRY_AFTER),
            BackendError::Token { problem, .. } => match problem {
                TokenProblem::Refused { error, .. } => ScimError::bad_gateway(format!(
                    "the legacy API's token endpoint refused the gateway's client credentials{}",
                    error.map(|e| format!(" ({e})")).unwrap_or_default()
                )),
                TokenProblem::Unusable(_) => ScimError::bad_gateway(
                    "the legacy API's token endpoint answered without a usable access token",
                ),
                TokenProblem::Failed { .. } | TokenProblem::Unreachable(_) => ScimError::new(
                    503,
                    None,
                    "the legacy API's token endpoint is unavailable: no access token for the \
                     legacy API; retry later",
                ),
            },
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
            BackendError::Certificate {
                backend: BACKEND.into(),
                problem: CertificateProblem::NameMismatch {
                    name: "legacy.internal".into(),
                },
            },
            BackendError::TlsHandshake {
                backend: BACKEND.into(),
                reason: "the server refused the handshake (TLS alert HandshakeFailure)".into(),
            },
            BackendError::Timeout {
                backend: BACKEND.into(),
                phase: TimeoutPhase::Read,
                after: Duration::from_millis(250),
            },
            BackendError::CircuitOpen {
                backend: BACKEND.into(),
                retry_after: Duration::from_millis(2300),
            },
            BackendError::Busy {
                backend: BACKEND.into(),
                reason: Refusal::QueueFull,
            },
            BackendError::Token {
                endpoint: BACKEND.into(),
                problem: TokenProblem::Refused {
                    status: 401,
                    error: Some("invalid_client".into()),
                },
            },
            BackendError::Token {
                endpoint: BACKEND.into(),
                problem: TokenProblem::Unreachable(Box::new(BackendError::Connect {
                    backend: BACKEND.into(),
                    reason: "ConnectRefused".into(),
                })),
            },
            BackendError::Token {
                endpoint: BACKEND.into(),
                problem: TokenProblem::Failed { status: 500 },
            },
            BackendError::Token {
                endpoint: BACKEND.into(),
                problem: TokenProblem::Unusable("no access_token"),
            },
        ]
    }

    #[test]
    fn each_failure_becomes_the_right_gateway_status() {
        let statuses: Vec<u16> = all_errors()
            .into_iter()
            .map(|e| ScimError::from(e).status)
            .collect();
        assert_eq!(
            statuses,
            vec![502, 504, 504, 502, 502, 500, 502, 502, 504, 503, 503, 502, 503, 503, 502]
        );
    }

    #[test]
    fn calls_held_back_by_the_gateway_are_503_with_retry_after() {
        let open = ScimError::from(all_errors().remove(9));
        assert_eq!(open.retry_after, Some(3), "2.3 s rounded up");
        assert!(open.detail.contains("3 s"), "{}", open.detail);
        let busy = ScimError::from(all_errors().remove(10));
        assert_eq!(busy.retry_after, Some(1));
        assert!(busy.detail.contains("retry later"), "{}", busy.detail);
        let read = ScimError::from(all_errors().remove(8));
        assert_eq!(read.retry_after, None);
        assert!(read.detail.contains("250 ms"), "{}", read.detail);
    }

    #[test]
    fn a_refused_certificate_is_a_502_saying_so() {
        let e = ScimError::from(all_errors().remove(6));
        assert_eq!(e.status, 502);
        assert_eq!(
            e.detail,
            "the legacy API's TLS certificate was not accepted"
        );
    }

    #[test]
    fn certificate_errors_say_why_in_the_log() {
        let shown = all_errors().remove(6).to_string();
        assert_eq!(
            shown,
            "the TLS certificate of the legacy API at legacy.internal:8080 was not accepted: \
             name mismatch: it is not valid for the name \"legacy.internal\""
        );
        let unknown = BackendError::Certificate {
            backend: BACKEND.into(),
            problem: CertificateProblem::UnknownIssuer,
        };
        assert!(unknown.to_string().contains("unknown issuer"), "{unknown}");
        assert!(unknown.to_string().contains("ca_file"), "{unknown}");
    }

    #[test]
    fn a_failing_token_endpoint_says_what_to_check_in_the_log_and_little_to_the_idp() {
        let refused = all_errors().remove(11);
        assert_eq!(
            refused.to_string(),
            "no access token from the legacy API's token endpoint at legacy.internal:8080: it \
             refused the gateway's client credentials (HTTP 401, invalid_client); check \
             backend.auth.oauth2's client_id, its client secret and scope"
        );
        assert_eq!(
            ScimError::from(refused).detail,
            "the legacy API's token endpoint refused the gateway's client credentials \
             (invalid_client)"
        );
        let down = all_errors().remove(12);
        assert!(down.to_string().contains("cannot connect"), "{down}");
        let down = ScimError::from(down);
        assert!(down.detail.contains("unavailable"), "{}", down.detail);
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
