//! The bottom layer of the SCIM listener: a request and its reply as the gateway handles them,
//! independent of pingora, and the constants every layer above shares (the URL segment escape
//! set, the SCIM media type, the request-id header). Imports nothing else of `server`.

use http::header::HeaderName;
use http::Method;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use serde_json::Value;

use crate::scim::ScimError;

/// The header that carries the request id, both ways and to the legacy API.
pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

/// [`REQUEST_ID_HEADER`] as a header name, made at compile time: a look-up or a header set
/// with the name as text parses it again on every request.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static(REQUEST_ID_HEADER);

/// Characters left unescaped in a URL path segment (RFC 3986 unreserved).
pub const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The SCIM media type (RFC 7644 §3.1).
pub(crate) const SCIM_JSON: &str = "application/scim+json";

/// A request as the gateway needs it, independent of pingora.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub authorization: Option<Vec<u8>>,
    pub host: Option<String>,
    pub body: Vec<u8>,
    /// The request id (`X-Request-Id`, kept or generated; see `observe::request_id`).
    pub request_id: String,
    /// The raw `If-Match` header (several headers joined with `, `), read by the operations
    /// that write one resource (`crate::scim::etag`).
    pub if_match: Option<String>,
    /// The raw `If-None-Match` header (several joined with `, `), read by GET of one resource.
    pub if_none_match: Option<String>,
}

/// A response before it is written: status, optional JSON body, extra headers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Body>,
    pub headers: Vec<(HeaderName, String)>,
}

/// A response's JSON body: a value, or already written out as text (a user translated
/// straight from the legacy record's bytes).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    Json(Value),
    Text(Vec<u8>),
}

impl Body {
    /// The body as a value, when it is one (errors and the resources the provisioning log
    /// reads are).
    pub(crate) fn json(&self) -> Option<&Value> {
        match self {
            Body::Json(v) => Some(v),
            Body::Text(_) => None,
        }
    }

    /// The body as a value, written-out text read back.
    pub(crate) fn into_json(self) -> Value {
        match self {
            Body::Json(v) => v,
            Body::Text(t) => serde_json::from_slice(&t).unwrap_or(Value::Null),
        }
    }
}

impl Reply {
    pub(crate) fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(Body::Json(body)),
            headers: Vec::new(),
        }
    }

    /// The SCIM error body, with the headers the status calls for.
    pub(crate) fn error(e: &ScimError) -> Reply {
        let mut reply = Reply::json(e.status, e.to_json());
        if e.status == 401 {
            reply.headers.push((
                http::header::WWW_AUTHENTICATE,
                "Bearer realm=\"scim-gateway\"".into(),
            ));
        }
        if let Some(s) = e.retry_after {
            reply
                .headers
                .push((http::header::RETRY_AFTER, s.to_string()));
        }
        reply
    }
}
