//! SCIM resource schemas (RFC 7643 §4, §7, §8.7): attribute definitions for User, the
//! enterprise extension and Group, the common attributes (`id`, `externalId`, `meta`, §3.1), and
//! look-ups by attribute path.
//!
//! The definitions are the RFC's own schema representations (RFC 7643 §8.7.1), embedded as JSON
//! (`schemas/*.json`) and parsed once. Where §8.7.1 disagrees with the normative prose or with
//! the RFC's own examples, the prose and examples win: Group `displayName` is required (§4.2),
//! `addresses` has a `primary` sub-attribute (§2.4, §4.1.2), and `members` has the `display`
//! sub-attribute that clients send (§8.4). `/Schemas` answers with these definitions, restricted
//! to what a mapping stores ([`ResourceSchema::restricted_to`], [`ResourceSchema::schemas_json`]).
//!
//! This module only describes attributes; reading and projecting resources is [`super::list`]'s
//! job, the discovery documents (`/ServiceProviderConfig`, `/ResourceTypes`) are
//! [`super::discovery`]'s.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::json_text;
use super::path::AttrPath;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Uniqueness {
    None,
    Server,
    Global,
}

/// One attribute definition, serialised exactly as RFC 7643 §7 shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttributeDef {
    pub name: String,
    #[serde(rename = "type")]
    pub(crate) attr_type: AttrType,
    pub(crate) multi_valued: bool,
    #[serde(default)]
    pub(crate) description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub(crate) case_exact: bool,
    pub(crate) mutability: Mutability,
    pub(crate) returned: Returned,
    #[serde(default = "uniqueness_none")]
    pub(crate) uniqueness: Uniqueness,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) reference_types: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sub_attributes: Vec<AttributeDef>,
}

fn uniqueness_none() -> Uniqueness {
    Uniqueness::None
}

/// One schema (core or extension), as served by `/Schemas/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaDef {
    pub(crate) id: String,
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) description: String,
    pub(crate) attributes: Vec<AttributeDef>,
}

/// A resource type's schemas: the core schema and its extensions (User + enterprise, Group).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSchema {
    /// `User` or `Group`.
    pub(crate) name: String,
    /// `/Users` or `/Groups`.
    pub(crate) endpoint: String,
    pub core: SchemaDef,
    pub(crate) extensions: Vec<SchemaDef>,
}

/// An attribute found by [`ResourceSchema::find`]: the schema it belongs to, the attribute, and
/// the sub-attribute when the path named one.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    pub(crate) schema: &'a SchemaDef,
    pub(crate) attr: &'a AttributeDef,
    pub(crate) sub: Option<&'a AttributeDef>,
}

impl<'a> Resolved<'a> {
    /// The definition the path points at: the sub-attribute if any, else the attribute.
    pub(crate) fn leaf(&self) -> &'a AttributeDef {
        self.sub.unwrap_or(self.attr)
    }
    /// Whether the schema is an extension (its attributes live under the URN key in a resource).
    pub(crate) fn is_extension(&self, resource: &ResourceSchema) -> bool {
        self.schema.id != resource.core.id
    }
}

impl AttributeDef {
    /// The sub-attribute with this name (case-insensitive, RFC 7643 §2.1).
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        by_name(&self.sub_attributes, name)
    }
}

impl SchemaDef {
    /// The attribute with this name (case-insensitive, RFC 7643 §2.1).
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        by_name(&self.attributes, name)
    }
}

/// The attribute called `name`, ignoring ASCII case (no two of a schema differ only in case);
/// the name as the schema spells it, which clients nearly always send, is looked for first.
fn by_name<'a>(attrs: &'a [AttributeDef], name: &str) -> Option<&'a AttributeDef> {
    attrs
        .iter()
        .find(|a| json_text::same_key(a.name.as_bytes(), name.as_bytes()))
        .or_else(|| attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name)))
}

const USER_JSON: &str = include_str!("schemas/user.json");
const ENTERPRISE_USER_JSON: &str = include_str!("schemas/enterprise_user.json");
const GROUP_JSON: &str = include_str!("schemas/group.json");
const COMMON_JSON: &str = include_str!("schemas/common.json");

/// Parses a definition embedded at compile time. The unit tests parse every embedded file, so
/// this cannot fail at run time; no request data ever reaches it.
fn embedded<T: serde::de::DeserializeOwned>(json: &str) -> T {
    serde_json::from_str(json).expect("embedded SCIM schema JSON is valid (see the unit tests)")
}

static USER: LazyLock<ResourceSchema> = LazyLock::new(|| ResourceSchema {
    name: "User".to_string(),
    endpoint: "/Users".to_string(),
    core: embedded(USER_JSON),
    extensions: vec![embedded(ENTERPRISE_USER_JSON)],
});

static GROUP: LazyLock<ResourceSchema> = LazyLock::new(|| ResourceSchema {
    name: "Group".to_string(),
    endpoint: "/Groups".to_string(),
    core: embedded(GROUP_JSON),
    extensions: Vec::new(),
});

static COMMON: LazyLock<Vec<AttributeDef>> = LazyLock::new(|| embedded(COMMON_JSON));

/// The attributes every resource has (RFC 7643 §3.1): `id`, `externalId` and `meta`. They belong
/// to no schema and are therefore not listed by `/Schemas`.
pub(crate) fn common_attributes() -> &'static [AttributeDef] {
    &COMMON
}

impl ResourceSchema {
    /// The User resource type: the core User schema and the enterprise extension (RFC 7643 §4.1,
    /// §4.3), every attribute the RFC defines.
    pub fn user() -> &'static ResourceSchema {
        &USER
    }

    /// The Group resource type (RFC 7643 §4.2).
    pub fn group() -> &'static ResourceSchema {
        &GROUP
    }

    /// Every schema of this resource type, core first.
    pub(crate) fn schemas(&self) -> impl Iterator<Item = &SchemaDef> {
        std::iter::once(&self.core).chain(self.extensions.iter())
    }

    /// The schema with this URN (case-insensitive, RFC 7643 §2.1).
    pub(crate) fn schema(&self, urn: &str) -> Option<&SchemaDef> {
        self.schemas().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The extension schema with this URN, if `urn` names one (a resource holds an extension's
    /// attributes in an object under that URN key).
    pub(crate) fn extension(&self, urn: &str) -> Option<&SchemaDef> {
        self.extensions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Resolves an attribute path. The common attributes (`id`, `externalId`, `meta`) resolve for
    /// every resource type, unqualified or qualified with the core URN; they are reported as
    /// belonging to the core schema, since they sit at the top level of a resource. Another
    /// unqualified name is looked up in the core schema, then in the extensions (RFC 7644 §3.10
    /// lets clients omit the URN of core attributes; several clients omit it for extension
    /// attributes too). Names compare case-insensitively. A path naming a sub-attribute the
    /// attribute does not have resolves to nothing.
    pub fn find(&self, path: &AttrPath) -> Option<Resolved<'_>> {
        let core_scope = path
            .schema
            .as_deref()
            .is_none_or(|urn| urn.eq_ignore_ascii_case(&self.core.id));
        if core_scope {
            if let Some(attr) = by_name(common_attributes(), &path.name) {
                return Resolved::new(&self.core, attr, path.sub.as_deref());
            }
        }
        let in_schema = |schema| {
            let attr = SchemaDef::attribute(schema, &path.name)?;
            Some(Resolved::new(schema, attr, path.sub.as_deref()))
        };
        match &path.schema {
            Some(urn) => in_schema(self.schema(urn)?)?,
            None => self.schemas().find_map(in_schema)?,
        }
    }

    /// The definition a path points at (the sub-attribute if the path names one), for changing
    /// characteristics on a copy of the schema, e.g. the `canonicalValues` of a restricted
    /// schema's `emails.type`. Resolved like [`ResourceSchema::find`] but only within the
    /// schemas: the common attributes (`id`, `externalId`, `meta`) are no schema's and are not
    /// found.
    pub(crate) fn attribute_mut(&mut self, path: &AttrPath) -> Option<&mut AttributeDef> {
        // Core first, then the extensions, as `find` looks.
        let attr = std::iter::once(&mut self.core)
            .chain(self.extensions.iter_mut())
            .filter(|s| {
                path.schema
                    .as_deref()
                    .is_none_or(|urn| urn.eq_ignore_ascii_case(&s.id))
            })
            .find_map(|s| {
                s.attributes
                    .iter_mut()
                    .find(|a| a.name.eq_ignore_ascii_case(&path.name))
            })?;
        match &path.sub {
            None => Some(attr),
            Some(sub) => attr
                .sub_attributes
                .iter_mut()
                .find(|a| a.name.eq_ignore_ascii_case(sub)),
        }
    }

    /// This resource type with only the attributes a mapping stores, for `/Schemas`. A path
    /// without a sub-attribute keeps the whole attribute; a path with one keeps that
    /// sub-attribute (so a complex multi-valued attribute keeps `type`, `primary`, `value`… only
    /// as listed). Paths that resolve to nothing, and the common attributes, are ignored. An
    /// extension with nothing left is dropped; the core schema always stays.
    pub(crate) fn restricted_to(&self, supported: &[AttrPath]) -> ResourceSchema {
        let resolved: Vec<Resolved<'_>> = supported.iter().filter_map(|p| self.find(p)).collect();
        let restrict = |schema: &SchemaDef| -> SchemaDef {
            let attributes = schema
                .attributes
                .iter()
                .filter_map(|attr| {
                    let hits: Vec<&Resolved<'_>> = resolved
                        .iter()
                        .filter(|r| std::ptr::eq(r.attr, attr))
                        .collect();
                    if hits.is_empty() {
                        return None;
                    }
                    if hits.iter().any(|r| r.sub.is_none()) {
                        return Some(attr.clone());
                    }
                    let mut kept = attr.clone();
                    kept.sub_attributes
                        .retain(|s| hits.iter().any(|r| r.sub.is_some_and(|x| x.name == s.name)));
                    Some(kept)
                })
                .collect();
            SchemaDef {
                id: schema.id.clone(),
                name: schema.name.clone(),
                description: schema.description.clone(),
                attributes,
            }
        };
        ResourceSchema {
            name: self.name.clone(),
            endpoint: self.endpoint.clone(),
            core: restrict(&self.core),
            extensions: self
                .extensions
                .iter()
                .map(restrict)
                .filter(|s| !s.attributes.is_empty())
                .collect(),
        }
    }

    /// The `/Schemas` resources of this resource type (RFC 7643 §7, §8.7), core first, each with
    /// `schemas: [urn:…:Schema]` and a `meta` whose `location` is under `base_url` (the SCIM
    /// base, e.g. `https://host/scim/v2`).
    pub fn schemas_json(&self, base_url: &str) -> Vec<Value> {
        let base = base_url.trim_end_matches('/');
        self.schemas()
            .map(|s| {
                json!({
                    "schemas": [super::urn::SCHEMA],
                    "id": s.id,
                    "name": s.name,
                    "description": s.description,
                    "attributes": s.attributes,
                    "meta": {
                        "resourceType": "Schema",
                        "location": format!("{base}/Schemas/{}", s.id),
                    },
                })
            })
            .collect()
    }
}

impl<'a> Resolved<'a> {
    fn new(schema: &'a SchemaDef, attr: &'a AttributeDef, sub: Option<&str>) -> Option<Self> {
        let sub = match sub {
            None => None,
            Some(name) => Some(attr.sub_attribute(name)?),
        };
        Some(Resolved { schema, attr, sub })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::urn;

    /// Builds a path by hand (the parser lives in `path.rs`): `[urn:]name[.sub]`.
    fn p(s: &str) -> AttrPath {
        let (schema, rest) = match s.rfind(':') {
            Some(i) => (Some(s[..i].to_string()), &s[i + 1..]),
            None => (None, s),
        };
        let (name, sub) = match rest.split_once('.') {
            Some((n, sub)) => (n.to_string(), Some(sub.to_string())),
            None => (rest.to_string(), None),
        };
        AttrPath { schema, name, sub }
    }

    fn leaf(schema: &ResourceSchema, path: &str) -> AttributeDef {
        schema
            .find(&p(path))
            .unwrap_or_else(|| panic!("{path} does not resolve"))
            .leaf()
            .clone()
    }

    /// Names are looked up as spelt first, then ignoring case: one answer only if no two
    /// attributes (or sub-attributes of one) differ only in case.
    #[test]
    fn no_two_attributes_differ_only_in_case() {
        fn distinct(attrs: &[AttributeDef], at: &str) {
            for (i, a) in attrs.iter().enumerate() {
                assert!(
                    !attrs[..i]
                        .iter()
                        .any(|b| b.name.eq_ignore_ascii_case(&a.name)),
                    "{at}: {} twice",
                    a.name
                );
                distinct(&a.sub_attributes, &format!("{at}.{}", a.name));
            }
        }
        for resource in [ResourceSchema::user(), ResourceSchema::group()] {
            for schema in resource.schemas() {
                distinct(&schema.attributes, &schema.id);
            }
        }
        distinct(common_attributes(), "common");
        // Looked up without the schema's spelling, the attribute is still found.
        let user = ResourceSchema::user();
        let found = |path: &str| {
            let r = user.find(&p(path))?;
            Some(r.sub.unwrap_or(r.attr).name.clone())
        };
        assert_eq!(found("USERNAME").as_deref(), Some("userName"));
        assert_eq!(found("name.GIVENname").as_deref(), Some("givenName"));
    }

    #[test]
    fn embedded_schemas_parse_with_every_rfc_attribute() {
        let user = ResourceSchema::user();
        assert_eq!(user.core.id, urn::USER);
        assert_eq!(user.extensions.len(), 1);
        assert_eq!(user.extensions[0].id, urn::ENTERPRISE_USER);
        let names: Vec<&str> = user
            .core
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "userName",
                "name",
                "displayName",
                "nickName",
                "profileUrl",
                "title",
                "userType",
                "preferredLanguage",
                "locale",
                "timezone",
                "active",
                "password",
                "emails",
                "phoneNumbers",
                "ims",
                "photos",
                "addresses",
                "groups",
                "entitlements",
                "roles",
                "x509Certificates"
            ]
        );
        let ext: Vec<&str> = user.extensions[0]
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(
            ext,
            [
                "employeeNumber",
                "costCenter",
                "organization",
                "division",
                "department",
                "manager"
            ]
        );
        let group = ResourceSchema::group();
        assert_eq!(group.core.id, urn::GROUP);
        assert_eq!(group.endpoint, "/Groups");
        assert!(group.extensions.is_empty());
        assert_eq!(common_attributes().len(), 3);
    }

    #[test]
    fn key_attributes_have_the_rfc_characteristics() {
        let user = ResourceSchema::user();
        let user_name = leaf(user, "userName");
        assert!(user_name.required);
        assert_eq!(user_name.uniqueness, Uniqueness::Server);
        assert!(!user_name.case_exact);

        let password = leaf(user, "password");
        assert_eq!(password.returned, Returned::Never);
        assert_eq!(password.mutability, Mutability::WriteOnly);

        let groups = leaf(user, "groups");
        assert_eq!(groups.mutability, Mutability::ReadOnly);
        assert!(groups.multi_valued);
        assert_eq!(leaf(user, "groups.value").mutability, Mutability::ReadOnly);

        let emails = leaf(user, "emails");
        assert_eq!(emails.attr_type, AttrType::Complex);
        assert!(emails.multi_valued);
        assert_eq!(
            leaf(user, "emails.type").canonical_values,
            ["work", "home", "other"]
        );
        assert_eq!(leaf(user, "emails.primary").attr_type, AttrType::Boolean);
        assert_eq!(leaf(user, "phoneNumbers.type").canonical_values.len(), 6);
        assert_eq!(leaf(user, "addresses.primary").attr_type, AttrType::Boolean);
        assert_eq!(leaf(user, "active").attr_type, AttrType::Boolean);
        assert_eq!(leaf(user, "profileUrl").reference_types, ["external"]);
        assert_eq!(
            leaf(user, "x509Certificates.value").attr_type,
            AttrType::Binary
        );

        let manager = leaf(user, "manager");
        assert_eq!(manager.attr_type, AttrType::Complex);
        assert!(!manager.multi_valued);
        assert_eq!(
            leaf(user, "manager.displayName").mutability,
            Mutability::ReadOnly
        );
        assert_eq!(leaf(user, "manager.$ref").reference_types, ["User"]);

        let group = ResourceSchema::group();
        let display_name = leaf(group, "displayName");
        assert!(display_name.required);
        assert!(!display_name.case_exact);
        assert_eq!(leaf(group, "members").mutability, Mutability::ReadWrite);
        assert_eq!(
            leaf(group, "members.value").mutability,
            Mutability::Immutable
        );
        // A member's value is a resource id, and ids are case-exact (RFC 7643 §3.1), though
        // the RFC's Group schema says otherwise: a remove by `members[value eq "…"]` must name
        // the same member whether the gateway applies it to a list or sends it as a delta.
        assert!(leaf(group, "members.value").case_exact);
        assert_eq!(
            leaf(group, "members.type").canonical_values,
            ["User", "Group"]
        );
        assert_eq!(
            leaf(group, "members.$ref").reference_types,
            ["User", "Group"]
        );
    }

    #[test]
    fn common_attributes_resolve_for_every_resource_type() {
        for schema in [ResourceSchema::user(), ResourceSchema::group()] {
            let id = schema.find(&p("id")).unwrap();
            assert!(!id.is_extension(schema));
            assert!(id.leaf().case_exact);
            assert_eq!(id.leaf().mutability, Mutability::ReadOnly);
            assert_eq!(id.leaf().returned, Returned::Always);

            let external_id = leaf(schema, "externalId");
            assert!(external_id.case_exact);
            assert_eq!(external_id.mutability, Mutability::ReadWrite);

            for (sub, ty) in [
                ("resourceType", AttrType::String),
                ("created", AttrType::DateTime),
                ("lastModified", AttrType::DateTime),
                ("location", AttrType::Reference),
                ("version", AttrType::String),
            ] {
                let def = leaf(schema, &format!("meta.{sub}"));
                assert_eq!(def.attr_type, ty, "meta.{sub}");
                assert_eq!(def.mutability, Mutability::ReadOnly, "meta.{sub}");
            }
            assert!(schema.find(&p("meta.nope")).is_none());
        }
        // Qualified with the core URN too, but not with an extension's.
        assert!(ResourceSchema::user()
            .find(&p("urn:ietf:params:scim:schemas:core:2.0:User:id"))
            .is_some());
        assert!(ResourceSchema::user()
            .find(&p(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:id"
            ))
            .is_none());
    }

    #[test]
    fn find_is_case_insensitive_and_knows_extensions() {
        let user = ResourceSchema::user();
        let r = user.find(&p("NAME.GIVENNAME")).unwrap();
        assert_eq!(r.attr.name, "name");
        assert_eq!(r.leaf().name, "givenName");

        let qualified = user
            .find(&p(
                "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:employeeNumber",
            ))
            .unwrap();
        assert!(qualified.is_extension(user));
        let bare = user.find(&p("department")).unwrap();
        assert_eq!(bare.schema.id, urn::ENTERPRISE_USER);

        assert!(user.find(&p("userName.nope")).is_none());
        assert!(user.find(&p("nope")).is_none());
        assert!(user.find(&p("urn:example:unknown:1.0:userName")).is_none());
        // A core attribute is not found under the extension's URN.
        assert!(user
            .find(&p(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName"
            ))
            .is_none());
    }

    #[test]
    fn restricted_keeps_only_what_the_mapping_stores() {
        let user = ResourceSchema::user();
        let supported = [
            p("userName"),
            p("name.givenName"),
            p("name.familyName"),
            p("emails.value"),
            p("emails.type"),
            p("active"),
            p("externalId"),
            p("nope"),
        ];
        let r = user.restricted_to(&supported);
        let names: Vec<&str> = r.core.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["userName", "name", "active", "emails"]);
        let name_subs: Vec<&str> = r
            .core
            .attribute("name")
            .unwrap()
            .sub_attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(name_subs, ["familyName", "givenName"]);
        let email_subs: Vec<&str> = r
            .core
            .attribute("emails")
            .unwrap()
            .sub_attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(email_subs, ["value", "type"]);
        // Characteristics are kept; the extension with nothing mapped is dropped.
        assert!(r.core.attribute("userName").unwrap().required);
        assert!(r.extensions.is_empty());
        assert!(r.find(&p("password")).is_none());
        assert!(
            r.find(&p("id")).is_some(),
            "common attributes always resolve"
        );
    }

    #[test]
    fn restricted_keeps_a_whole_attribute_and_used_extensions() {
        let user = ResourceSchema::user();
        let r = user.restricted_to(&[
            p("name"),
            p("name.givenName"),
            p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
            p("department"),
        ]);
        assert_eq!(r.core.attribute("name").unwrap().sub_attributes.len(), 6);
        assert_eq!(r.extensions.len(), 1);
        let ext: Vec<&str> = r.extensions[0]
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(ext, ["department", "manager"]);
        assert_eq!(
            r.extensions[0]
                .attribute("manager")
                .unwrap()
                .sub_attributes
                .len(),
            1
        );
    }

    #[test]
    fn attribute_mut_changes_the_copy_only() {
        let mut r = ResourceSchema::user().restricted_to(&[
            p("emails.value"),
            p("emails.type"),
            p("name.givenName"),
            p("department"),
        ]);
        r.attribute_mut(&p("EMAILS.Type")).unwrap().canonical_values = vec!["work".into()];
        r.attribute_mut(&p("name.givenName")).unwrap().required = true;
        r.attribute_mut(&p(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        ))
        .unwrap()
        .required = true;
        assert_eq!(leaf(&r, "emails.type").canonical_values, ["work"]);
        assert!(leaf(&r, "name.givenName").required);
        assert!(!leaf(&r, "name").required);
        assert!(leaf(&r, "department").required);
        // The shared definitions are unchanged.
        let user = ResourceSchema::user();
        assert_eq!(leaf(user, "emails.type").canonical_values.len(), 3);
        assert!(!leaf(user, "name.givenName").required);
        // Not restricted in, no such sub-attribute, a common attribute, a core name under the
        // extension's URN: nothing to change.
        assert!(r.attribute_mut(&p("title")).is_none());
        assert!(r.attribute_mut(&p("emails.nope")).is_none());
        assert!(r.attribute_mut(&p("externalId")).is_none());
        assert!(r
            .attribute_mut(&p(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:emails"
            ))
            .is_none());
    }

    #[test]
    fn schemas_json_serves_schema_resources() {
        let user = ResourceSchema::user().restricted_to(&[p("userName"), p("employeeNumber")]);
        let docs = user.schemas_json("https://h/scim/v2/");
        assert_eq!(docs.len(), 2);
        let core = &docs[0];
        assert_eq!(core["schemas"], json!([urn::SCHEMA]));
        assert_eq!(core["id"], urn::USER);
        assert_eq!(core["name"], "User");
        assert_eq!(core["meta"]["resourceType"], "Schema");
        assert_eq!(
            core["meta"]["location"],
            format!("https://h/scim/v2/Schemas/{}", urn::USER)
        );
        let attr = &core["attributes"][0];
        assert_eq!(attr["name"], "userName");
        assert_eq!(attr["type"], "string");
        assert_eq!(attr["multiValued"], false);
        assert_eq!(attr["required"], true);
        assert_eq!(attr["caseExact"], false);
        assert_eq!(attr["mutability"], "readWrite");
        assert_eq!(attr["returned"], "default");
        assert_eq!(attr["uniqueness"], "server");
        assert_eq!(docs[1]["id"], urn::ENTERPRISE_USER);
        // The common attributes are not part of any schema.
        let all = ResourceSchema::group().schemas_json("https://h");
        let names: Vec<&Value> = all[0]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["name"])
            .collect();
        assert_eq!(names, [&json!("displayName"), &json!("members")]);
    }

    #[test]
    fn schema_definitions_round_trip_through_json() {
        for schema in [ResourceSchema::user(), ResourceSchema::group()] {
            for s in schema.schemas() {
                let back: SchemaDef =
                    serde_json::from_value(serde_json::to_value(s).unwrap()).unwrap();
                assert_eq!(&back, s);
            }
        }
    }
}
