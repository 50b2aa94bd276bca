//! The SCIM error (RFC 7644 §3.12): the one type every failure ends up as before it reaches the
//! client. Other layers keep their own error enums and convert into this one in exactly one
//! place each (`From` impls next to those enums).

use serde_json::{json, Value};

/// RFC 7644 §3.12 `scimType` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
    /// Not one of RFC 7644's keywords (its table has none for 412): sent with 412 so that a
    /// client can tell a stale `If-Match` from other refusals by keyword as well as by status.
    PreconditionFailed,
}

impl ScimType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::PreconditionFailed => "preconditionFailed",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<ScimType> {
        Some(match s {
            "invalidFilter" => ScimType::InvalidFilter,
            "tooMany" => ScimType::TooMany,
            "uniqueness" => ScimType::Uniqueness,
            "mutability" => ScimType::Mutability,
            "invalidSyntax" => ScimType::InvalidSyntax,
            "invalidPath" => ScimType::InvalidPath,
            "noTarget" => ScimType::NoTarget,
            "invalidValue" => ScimType::InvalidValue,
            "invalidVers" => ScimType::InvalidVers,
            "sensitive" => ScimType::Sensitive,
            "preconditionFailed" => ScimType::PreconditionFailed,
            _ => return None,
        })
    }
}

/// A SCIM error response: HTTP status, optional `scimType`, human-readable `detail`, and an
/// optional `Retry-After` (seconds) for 429/503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {detail}")]
pub struct ScimError {
    pub status: u16,
    pub(crate) scim_type: Option<ScimType>,
    pub detail: String,
    pub(crate) retry_after: Option<u64>,
}

impl ScimError {
    pub(crate) fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
            retry_after: None,
        }
    }
    /// 400 with a scimType.
    pub(crate) fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }
    pub(crate) fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }
    pub(crate) fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }
    pub(crate) fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }
    pub(crate) fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }
    pub(crate) fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::NoTarget, detail)
    }
    pub(crate) fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }
    pub(crate) fn too_many(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::TooMany, detail)
    }
    pub(crate) fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }
    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }
    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, None, detail)
    }
    pub(crate) fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, None, detail)
    }
    pub(crate) fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self::new(405, None, detail)
    }
    pub(crate) fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, None, detail)
    }
    pub(crate) fn bad_gateway(detail: impl Into<String>) -> Self {
        Self::new(502, None, detail)
    }
    pub(crate) fn gateway_timeout(detail: impl Into<String>) -> Self {
        Self::new(504, None, detail)
    }
    pub(crate) fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// The JSON body (RFC 7644 §3.12). `status` is a string, as the RFC's examples show.
    pub(crate) fn to_json(&self) -> Value {
        let mut body = json!({
            "schemas": [super::urn::ERROR],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = Value::String(t.as_str().to_string());
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_schema_status_and_scim_type() {
        let e = ScimError::uniqueness("userName \"ada\" is already taken");
        let body = e.to_json();
        assert_eq!(body["schemas"][0], super::super::urn::ERROR);
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
        assert_eq!(body["detail"], "userName \"ada\" is already taken");
    }

    #[test]
    fn error_without_scim_type_omits_the_member() {
        let body = ScimError::not_found("no such user").to_json();
        assert!(body.get("scimType").is_none());
        assert_eq!(body["status"], "404");
    }

    #[test]
    fn scim_type_round_trips_through_its_name() {
        for t in [
            ScimType::InvalidFilter,
            ScimType::TooMany,
            ScimType::Uniqueness,
            ScimType::Mutability,
            ScimType::InvalidSyntax,
            ScimType::InvalidPath,
            ScimType::NoTarget,
            ScimType::InvalidValue,
            ScimType::InvalidVers,
            ScimType::Sensitive,
        ] {
            assert_eq!(ScimType::parse(t.as_str()), Some(t));
        }
    }
}
