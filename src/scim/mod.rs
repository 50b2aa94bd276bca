//! The SCIM 2.0 protocol core (RFC 7643, RFC 7644): resource schemas, attribute paths, the
//! filter language, the PATCH engine, list/query handling, the error type, and JSON text.
//!
//! Everything here is pure: no I/O, no HTTP, no knowledge of the legacy API or the mapping.
//! SCIM resources are handled as `serde_json::Value` objects, interpreted through [`schema`].

pub mod address;
pub(crate) mod discovery;
pub mod error;
pub(crate) mod etag;
pub mod filter;
pub(crate) mod json_text;
pub mod list;
pub mod patch;
pub mod path;
pub mod schema;

pub use error::ScimError;
pub(crate) use error::ScimType;

/// Schema URNs used across the crate.
pub(crate) mod urn {
    pub(crate) const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    pub(crate) const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
    #[cfg(test)]
    pub(crate) const ENTERPRISE_USER: &str =
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    pub(crate) const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
    pub(crate) const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
    pub(crate) const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
    pub(crate) const SERVICE_PROVIDER_CONFIG: &str =
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
    pub(crate) const RESOURCE_TYPE: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
    pub(crate) const SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
}
