//! SCIM resource schemas (RFC 7643 §4, §7, §8.7): attribute definitions for User, the
//! enterprise extension and Group, and look-ups by attribute path.
//!
//! The definitions are the RFC's own schema representations (RFC 7643 §8.7.1, §8.7.2), embedded
//! as JSON and parsed once. `/Schemas` answers with these, restricted to what a mapping stores
//! ([`ResourceSchema::restricted_to`]).

use serde::{Deserialize, Serialize};

use super::path::AttrPath;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
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
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
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
    pub attr_type: AttrType,
    pub multi_valued: bool,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    #[serde(default = "uniqueness_none")]
    pub uniqueness: Uniqueness,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub canonical_values: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference_types: Vec<String>,
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
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub attributes: Vec<AttributeDef>,
}

/// A resource type's schemas: the core schema and its extensions (User + enterprise, Group).
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSchema {
    /// `User` or `Group`.
    pub name: String,
    /// `/Users` or `/Groups`.
    pub endpoint: String,
    pub core: SchemaDef,
    pub extensions: Vec<SchemaDef>,
}

/// An attribute found by [`ResourceSchema::find`]: the schema it belongs to, the attribute, and
/// the sub-attribute when the path named one.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    pub schema: &'a SchemaDef,
    pub attr: &'a AttributeDef,
    pub sub: Option<&'a AttributeDef>,
}

impl<'a> Resolved<'a> {
    /// The definition the path points at: the sub-attribute if any, else the attribute.
    pub fn leaf(&self) -> &'a AttributeDef {
        self.sub.unwrap_or(self.attr)
    }
    /// Whether the schema is an extension (its attributes live under the URN key in a resource).
    pub fn is_extension(&self, resource: &ResourceSchema) -> bool {
        self.schema.id != resource.core.id
    }
}

impl ResourceSchema {
    /// Every schema of this resource type, core first.
    pub fn schemas(&self) -> impl Iterator<Item = &SchemaDef> {
        std::iter::once(&self.core).chain(self.extensions.iter())
    }

    /// The schema with this URN (case-insensitive, RFC 7643 §2.1).
    pub fn schema(&self, urn: &str) -> Option<&SchemaDef> {
        self.schemas().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Resolves an attribute path. An unqualified name is looked up in the core schema, then in
    /// the extensions (RFC 7644 §3.10 lets clients omit the URN of core attributes; several
    /// clients omit it for extension attributes too). Names compare case-insensitively.
    pub fn find(&self, path: &AttrPath) -> Option<Resolved<'_>> {
        let candidates: Vec<&SchemaDef> = match &path.schema {
            Some(urn) => vec![self.schema(urn)?],
            None => self.schemas().collect(),
        };
        for schema in candidates {
            if let Some(attr) = schema
                .attributes
                .iter()
                .find(|a| a.name.eq_ignore_ascii_case(&path.name))
            {
                let sub = match &path.sub {
                    None => None,
                    Some(s) => Some(
                        attr.sub_attributes
                            .iter()
                            .find(|x| x.name.eq_ignore_ascii_case(s))?,
                    ),
                };
                return Some(Resolved { schema, attr, sub });
            }
        }
        None
    }
}
