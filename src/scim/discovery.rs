//! The SCIM discovery documents: `/ServiceProviderConfig` (RFC 7643 §5) and `/ResourceTypes`
//! (RFC 7643 §6). `/Schemas` comes from [`super::schema::ResourceSchema::schemas_json`].
//!
//! Pure builders of JSON values: what the gateway supports is fixed here (PATCH yes, bulk no,
//! filter and sort yes, password change no, bearer-token authentication); what depends on the
//! deployment (base URL, filter result bound, ETag support, documentation) comes in through
//! [`DiscoveryOptions`]. Routing and the ListResponse wrapping are the server's job.

use serde_json::{json, Map, Value};

use super::schema::ResourceSchema;
use super::urn;

/// What the service provider configuration depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiscoveryOptions {
    /// The SCIM base URL (`https://host/scim/v2`), for `meta.location`.
    pub(crate) base_url: String,
    /// The most resources a list/query answers with (`filter.maxResults`).
    pub(crate) max_results: usize,
    /// Whether ETags are supported (`etag.supported`): single-resource answers carry an `ETag`
    /// and `If-Match` / `If-None-Match` are honoured. The gateway sets it when the users'
    /// mapping has a version.
    pub(crate) etag: bool,
    /// An HTML page documenting this service (`documentationUri`), if any.
    pub(crate) documentation_uri: Option<String>,
}

fn location(base_url: &str, rest: &str) -> String {
    format!("{}/{rest}", base_url.trim_end_matches('/'))
}

/// The `/ServiceProviderConfig` resource (RFC 7643 §5, example in §8.5).
pub(crate) fn service_provider_config(opts: &DiscoveryOptions) -> Value {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([urn::SERVICE_PROVIDER_CONFIG]));
    if let Some(uri) = &opts.documentation_uri {
        doc.insert("documentationUri".into(), json!(uri));
    }
    doc.insert("patch".into(), json!({ "supported": true }));
    doc.insert(
        "bulk".into(),
        json!({ "supported": false, "maxOperations": 0, "maxPayloadSize": 0 }),
    );
    doc.insert(
        "filter".into(),
        json!({ "supported": true, "maxResults": opts.max_results }),
    );
    doc.insert("changePassword".into(), json!({ "supported": false }));
    doc.insert("sort".into(), json!({ "supported": true }));
    doc.insert("etag".into(), json!({ "supported": opts.etag }));
    doc.insert(
        "authenticationSchemes".into(),
        json!([{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token (the API key issued for this \
                            tenant) in the Authorization header",
            "specUri": "https://www.rfc-editor.org/info/rfc6750",
            "primary": true,
        }]),
    );
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "ServiceProviderConfig",
            "location": location(&opts.base_url, "ServiceProviderConfig"),
        }),
    );
    Value::Object(doc)
}

/// The `/ResourceTypes` resources (RFC 7643 §6, example in §8.6): User, and Group when the
/// mapping has groups. Each extension of a resource type is listed as not required, so clients
/// may create resources without it.
pub(crate) fn resource_types(
    base_url: &str,
    user_schema: &ResourceSchema,
    group: Option<&ResourceSchema>,
) -> Vec<Value> {
    std::iter::once(user_schema)
        .chain(group)
        .map(|rt| resource_type(base_url, rt))
        .collect()
}

fn resource_type(base_url: &str, rt: &ResourceSchema) -> Value {
    let mut doc = Map::new();
    doc.insert("schemas".into(), json!([urn::RESOURCE_TYPE]));
    doc.insert("id".into(), json!(rt.name));
    doc.insert("name".into(), json!(rt.name));
    doc.insert("endpoint".into(), json!(rt.endpoint));
    doc.insert("description".into(), json!(rt.core.description));
    doc.insert("schema".into(), json!(rt.core.id));
    if !rt.extensions.is_empty() {
        let extensions: Vec<Value> = rt
            .extensions
            .iter()
            .map(|e| json!({ "schema": e.id, "required": false }))
            .collect();
        doc.insert("schemaExtensions".into(), Value::Array(extensions));
    }
    doc.insert(
        "meta".into(),
        json!({
            "resourceType": "ResourceType",
            "location": location(base_url, &format!("ResourceTypes/{}", rt.name)),
        }),
    );
    Value::Object(doc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::path::AttrPath;

    fn opts() -> DiscoveryOptions {
        DiscoveryOptions {
            base_url: "https://gw.example/scim/v2/".into(),
            max_results: 200,
            etag: true,
            documentation_uri: Some("https://docs.example/scim".into()),
        }
    }

    #[test]
    fn service_provider_config_states_what_the_gateway_supports() {
        let spc = service_provider_config(&opts());
        assert_eq!(spc["schemas"], json!([urn::SERVICE_PROVIDER_CONFIG]));
        assert_eq!(spc["documentationUri"], "https://docs.example/scim");
        assert_eq!(spc["patch"]["supported"], true);
        assert_eq!(spc["bulk"]["supported"], false);
        assert_eq!(spc["bulk"]["maxOperations"], 0);
        assert_eq!(spc["bulk"]["maxPayloadSize"], 0);
        assert_eq!(spc["filter"]["supported"], true);
        assert_eq!(spc["filter"]["maxResults"], 200);
        assert_eq!(spc["changePassword"]["supported"], false);
        assert_eq!(spc["sort"]["supported"], true);
        assert_eq!(spc["etag"]["supported"], true);
        let scheme = &spc["authenticationSchemes"][0];
        assert_eq!(scheme["type"], "oauthbearertoken");
        assert!(scheme["name"].is_string() && scheme["description"].is_string());
        assert_eq!(spc["meta"]["resourceType"], "ServiceProviderConfig");
        assert_eq!(
            spc["meta"]["location"],
            "https://gw.example/scim/v2/ServiceProviderConfig"
        );
    }

    #[test]
    fn options_switch_etag_and_documentation() {
        let spc = service_provider_config(&DiscoveryOptions {
            etag: false,
            documentation_uri: None,
            ..opts()
        });
        assert_eq!(spc["etag"]["supported"], false);
        assert!(spc.get("documentationUri").is_none());
    }

    #[test]
    fn resource_types_describe_users_with_the_enterprise_extension_and_groups() {
        let types = resource_types(
            "https://gw.example/scim/v2",
            ResourceSchema::user(),
            Some(ResourceSchema::group()),
        );
        assert_eq!(types.len(), 2);
        let user = &types[0];
        assert_eq!(user["schemas"], json!([urn::RESOURCE_TYPE]));
        assert_eq!(user["id"], "User");
        assert_eq!(user["name"], "User");
        assert_eq!(user["endpoint"], "/Users");
        assert_eq!(user["description"], "User Account");
        assert_eq!(user["schema"], urn::USER);
        assert_eq!(
            user["schemaExtensions"],
            json!([{ "schema": urn::ENTERPRISE_USER, "required": false }])
        );
        assert_eq!(user["meta"]["resourceType"], "ResourceType");
        assert_eq!(
            user["meta"]["location"],
            "https://gw.example/scim/v2/ResourceTypes/User"
        );
        let group = &types[1];
        assert_eq!(group["id"], "Group");
        assert_eq!(group["endpoint"], "/Groups");
        assert_eq!(group["schema"], urn::GROUP);
        assert!(group.get("schemaExtensions").is_none());
    }

    #[test]
    fn resource_types_follow_the_mapping() {
        // No groups in the mapping, and no enterprise attribute stored.
        let user = ResourceSchema::user().restricted_to(&[AttrPath {
            schema: None,
            name: "userName".into(),
            sub: None,
        }]);
        let types = resource_types("https://gw.example/scim/v2", &user, None);
        assert_eq!(types.len(), 1);
        assert!(types[0].get("schemaExtensions").is_none());
    }
}
