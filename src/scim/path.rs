//! SCIM attribute paths (RFC 7644 §3.10 and the PATCH `path` grammar of §3.5.2):
//! `userName`, `name.givenName`, `urn:…:enterprise:2.0:User:employeeNumber`,
//! `emails[type eq "work"].value`, `members[value eq "42"]`.
//!
//! The AST lives here; the parser shares its lexer with the filter parser ([`super::filter`]),
//! since a value path embeds a filter.

use super::filter::Filter;

/// `[schemaURN ":"] attrName ["." subAttr]`. Names are kept as written; comparisons of
/// attribute names are case-insensitive (RFC 7643 §2.1) and go through [`AttrPath::matches`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN when the path was qualified (`urn:…:User:userName`), without the
    /// trailing colon.
    pub schema: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// A PATCH path (RFC 7644 §3.5.2 `PATH = attrPath / valuePath [subAttr]`), also used by the
/// mapping language for its SCIM side.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchPath {
    /// `name.givenName`, `emails`, `urn:…:manager`
    Attr(AttrPath),
    /// `emails[type eq "work"]` or `emails[type eq "work"].value`. `attr` has no `sub`; the
    /// filter's attribute paths are relative to the elements of `attr`.
    Value {
        attr: AttrPath,
        filter: Filter,
        sub: Option<String>,
    },
}
