//! SCIM attribute paths (RFC 7644 §3.10 and the PATCH `path` grammar of §3.5.2):
//! `userName`, `name.givenName`, `urn:…:enterprise:2.0:User:employeeNumber`,
//! `emails[type eq "work"].value`, `members[value eq "42"]`.
//!
//! The AST lives here, with the low-level [`Cursor`] that both this parser and the filter parser
//! ([`super::filter`]) read with, since a value path embeds a filter and a filter embeds paths.
//! Resolving a path against a schema is [`super::schema::ResourceSchema::find`]'s job, and
//! reading or writing a resource through a path is the PATCH engine's and the evaluator's.

use std::fmt;

use super::filter::{self, Filter, FilterError};
use super::ScimError;

/// `[schemaURN ":"] attrName ["." subAttr]`. Names are kept as written; comparisons of
/// attribute names are case-insensitive (RFC 7643 §2.1) and go through [`AttrPath::matches`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN when the path was qualified (`urn:…:User:userName`), without the
    /// trailing colon.
    pub(crate) schema: Option<String>,
    pub(crate) name: String,
    pub(crate) sub: Option<String>,
}

/// A PATCH path (RFC 7644 §3.5.2 `PATH = attrPath / valuePath [subAttr]`), also used by the
/// mapping language for its SCIM side.
#[derive(Debug, Clone, PartialEq, Eq)]
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

/// A syntax error in a path or a filter: what the parser expected, where (a 0-based offset in
/// characters, not bytes), and what it found there instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} at character offset {position}, found {found}")]
pub struct SyntaxError {
    pub(crate) position: usize,
    pub(crate) expected: String,
    /// The text found at `position` (quoted, shortened), or `end of input`.
    pub(crate) found: String,
}

/// Why a path could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("invalid path: {0}")]
    Syntax(SyntaxError),
    /// The filter of a value path (`emails[…]`) is malformed.
    #[error("invalid path: {0}")]
    Filter(FilterError),
}

/// A malformed path is `invalidPath`; a malformed value filter inside a path is `invalidFilter`,
/// as RFC 7644 §3.12 (Table 9) lists that type for "PATCH (Path Filter)".
impl From<PathError> for ScimError {
    fn from(e: PathError) -> Self {
        match &e {
            PathError::Syntax(_) => ScimError::invalid_path(e.to_string()),
            PathError::Filter(_) => ScimError::invalid_filter(e.to_string()),
        }
    }
}

impl AttrPath {
    /// An unqualified path without sub-attribute: `AttrPath::new("userName")`.
    pub(crate) fn new(name: impl Into<String>) -> Self {
        AttrPath {
            schema: None,
            name: name.into(),
            sub: None,
        }
    }

    /// The same path qualified with a schema URN.
    #[cfg(test)]
    pub(crate) fn with_schema(mut self, urn: impl Into<String>) -> Self {
        self.schema = Some(urn.into());
        self
    }

    /// The same path with a sub-attribute: `AttrPath::new("name").with_sub("givenName")`.
    pub(crate) fn with_sub(mut self, sub: impl Into<String>) -> Self {
        self.sub = Some(sub.into());
        self
    }

    /// The attribute this path belongs to, without its sub-attribute (`name.givenName` → `name`).
    pub fn parent(&self) -> AttrPath {
        AttrPath {
            schema: self.schema.clone(),
            name: self.name.clone(),
            sub: None,
        }
    }

    /// Parses `[schemaURN ":"] attrName ["." subAttr]` (RFC 7644 §3.10). The attribute name
    /// follows the last colon, so `urn:…:enterprise:2.0:User:manager.value` has schema
    /// `urn:…:enterprise:2.0:User`, name `manager`, sub `value`. Surrounding whitespace is
    /// ignored.
    pub fn parse(input: &str) -> Result<AttrPath, PathError> {
        let mut cur = Cursor::new(input);
        cur.skip_ws();
        let path = cur.attr_path().map_err(PathError::Syntax)?;
        cur.skip_ws();
        if !cur.at_end() {
            return Err(PathError::Syntax(
                cur.error_here("end of the attribute path"),
            ));
        }
        Ok(path)
    }

    /// Whether two paths name the same attribute: names compare case-insensitively (RFC 7643
    /// §2.1); schema URNs are compared only when both paths carry one, since an unqualified
    /// name may stand for a qualified one.
    pub(crate) fn matches(&self, other: &AttrPath) -> bool {
        let schema_ok = match (&self.schema, &other.schema) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => true,
        };
        let sub_ok = match (&self.sub, &other.sub) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (None, None) => true,
            _ => false,
        };
        schema_ok && sub_ok && self.name.eq_ignore_ascii_case(&other.name)
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(schema) = &self.schema {
            write!(f, "{schema}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

impl PatchPath {
    /// Parses a PATCH path: `attrPath` or `attrPath "[" valFilter "]" ["." subAttr]`
    /// (RFC 7644 §3.5.2). Surrounding whitespace is ignored.
    pub fn parse(input: &str) -> Result<PatchPath, PathError> {
        let mut cur = Cursor::new(input);
        cur.skip_ws();
        let start = cur.pos();
        let attr = cur.attr_path().map_err(PathError::Syntax)?;
        let path = if cur.peek() == Some('[') {
            if attr.sub.is_some() {
                return Err(PathError::Syntax(cur.error_at(
                    start,
                    "a multi-valued attribute without sub-attribute before '['",
                )));
            }
            cur.bump();
            let filter = filter::parse_value_filter(&mut cur).map_err(PathError::Filter)?;
            let sub = if cur.eat('.') {
                Some(
                    cur.attr_name("a sub-attribute name after ']'")
                        .map_err(PathError::Syntax)?,
                )
            } else {
                None
            };
            PatchPath::Value { attr, filter, sub }
        } else {
            PatchPath::Attr(attr)
        };
        cur.skip_ws();
        if !cur.at_end() {
            return Err(PathError::Syntax(cur.error_here("end of the path")));
        }
        Ok(path)
    }

    /// The attribute the path starts at (`emails` for `emails[type eq "work"].value`).
    pub fn attr(&self) -> &AttrPath {
        match self {
            PatchPath::Attr(a) => a,
            PatchPath::Value { attr, .. } => attr,
        }
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatchPath::Attr(a) => a.fmt(f),
            PatchPath::Value { attr, filter, sub } => {
                write!(f, "{attr}[{filter}]")?;
                if let Some(sub) = sub {
                    write!(f, ".{sub}")?;
                }
                Ok(())
            }
        }
    }
}

/// Whether `name` is a valid attribute name: `ALPHA *(ALPHA / DIGIT / "-" / "_")` (RFC 7643
/// §2.1), or `$ref` (RFC 7643 §2.4). On failure, the byte offset of the offending character.
fn check_name(name: &str) -> Result<(), usize> {
    if name.eq_ignore_ascii_case("$ref") {
        return Ok(());
    }
    let mut chars = name.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_ascii_alphabetic() => {}
        _ => return Err(0),
    }
    for (i, c) in chars {
        if !(c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(i);
        }
    }
    Ok(())
}

/// The characters that end a path token: whitespace and the filter's punctuation.
fn ends_token(c: char) -> bool {
    c.is_whitespace() || matches!(c, '[' | ']' | '(' | ')' | '"')
}

const NAME_EXPECTED: &str = "an attribute name (a letter, then letters, digits, '-' or '_')";
const SUB_EXPECTED: &str = "a sub-attribute name (a letter, then letters, digits, '-' or '_')";

/// A read position in a path or filter text, with the token readers both grammars share.
/// Positions are byte offsets internally; errors report character offsets.
pub(super) struct Cursor<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(super) fn new(src: &'a str) -> Self {
        Cursor { src, pos: 0 }
    }

    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    pub(super) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub(super) fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    pub(super) fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    pub(super) fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    pub(super) fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.pos += c.len_utf8();
        }
    }

    /// Consumes `c` if it is next.
    pub(super) fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.bump();
            true
        } else {
            false
        }
    }

    /// Skips whitespace; whether there was any.
    pub(super) fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
        self.pos > start
    }

    /// The run of ASCII letters, digits and `_` at the cursor, not consumed: the shape of a
    /// keyword, an operator or a literal such as `true`.
    pub(super) fn word(&self) -> &'a str {
        let rest = self.rest();
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        &rest[..end]
    }

    /// Consumes the token at the cursor: everything up to whitespace or `[ ] ( ) "`.
    pub(super) fn token(&mut self) -> &'a str {
        let rest = self.rest();
        let end = rest.find(ends_token).unwrap_or(rest.len());
        self.pos += end;
        &rest[..end]
    }

    /// The character offset of a byte offset.
    pub(super) fn char_offset(&self, byte: usize) -> usize {
        self.src.get(..byte).map_or(0, |s| s.chars().count())
    }

    /// A syntax error at byte offset `at`, describing what is found there.
    pub(super) fn error_at(&self, at: usize, expected: impl Into<String>) -> SyntaxError {
        let rest = self.src.get(at..).unwrap_or("");
        let found = match rest.chars().next() {
            None => "end of input".to_string(),
            Some(c) if matches!(c, '[' | ']' | '(' | ')') => format!("\"{c}\""),
            Some(c) => {
                // A string literal is shown as written, anything else quoted.
                let literal = c == '"';
                let end = if literal {
                    rest[1..].find('"').map_or(rest.len(), |i| i + 2)
                } else {
                    rest.find(ends_token).unwrap_or(rest.len())
                };
                let mut token: String = rest[..end].chars().take(24).collect();
                if token.len() < end {
                    token.push('…');
                }
                if literal {
                    token
                } else {
                    format!("\"{token}\"")
                }
            }
        };
        SyntaxError {
            position: self.char_offset(at),
            expected: expected.into(),
            found,
        }
    }

    pub(super) fn error_here(&self, expected: impl Into<String>) -> SyntaxError {
        self.error_at(self.pos, expected)
    }

    /// Reads `[schemaURN ":"] attrName ["." subAttr]`, stopping before whitespace or `[ ] ( ) "`.
    pub(super) fn attr_path(&mut self) -> Result<AttrPath, SyntaxError> {
        let start = self.pos;
        let token = self.token();
        if token.is_empty() {
            return Err(self.error_at(start, NAME_EXPECTED));
        }
        let (schema, local, local_start) = match token.rfind(':') {
            Some(0) => {
                return Err(self.error_at(start, "a schema URN before ':'"));
            }
            Some(i) => (Some(&token[..i]), &token[i + 1..], start + i + 1),
            None => (None, token, start),
        };
        let (name, sub) = match local.find('.') {
            Some(i) => (&local[..i], Some((&local[i + 1..], local_start + i + 1))),
            None => (local, None),
        };
        check_name(name).map_err(|i| self.error_at(local_start + i, NAME_EXPECTED))?;
        let sub = match sub {
            None => None,
            Some((sub, sub_start)) => {
                let end = sub.find('.').unwrap_or(sub.len());
                check_name(&sub[..end]).map_err(|i| self.error_at(sub_start + i, SUB_EXPECTED))?;
                if end < sub.len() {
                    return Err(self.error_at(
                        sub_start + end,
                        "the end of the attribute path (a path has at most one sub-attribute)",
                    ));
                }
                Some(sub.to_string())
            }
        };
        Ok(AttrPath {
            schema: schema.map(str::to_string),
            name: name.to_string(),
            sub,
        })
    }

    /// Reads a bare attribute name (after `].`), nothing else.
    pub(super) fn attr_name(&mut self, expected: &str) -> Result<String, SyntaxError> {
        let start = self.pos;
        let token = self.token();
        match check_name(token) {
            Ok(()) if !token.is_empty() => Ok(token.to_string()),
            Ok(()) => Err(self.error_at(start, expected)),
            Err(i) => Err(self.error_at(start + i, expected)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scim::filter::{CompValue, CompareOp};
    use crate::scim::urn;
    use crate::scim::ScimType;
    use proptest::prelude::*;

    fn p(s: &str) -> AttrPath {
        AttrPath::parse(s).unwrap()
    }

    #[test]
    fn simple_and_dotted_paths() {
        assert_eq!(p("userName"), AttrPath::new("userName"));
        assert_eq!(
            p("name.givenName"),
            AttrPath::new("name").with_sub("givenName")
        );
        assert_eq!(p("members.$ref"), AttrPath::new("members").with_sub("$ref"));
        assert_eq!(p("x-foo_9"), AttrPath::new("x-foo_9"));
        assert_eq!(p("  emails  "), AttrPath::new("emails"));
    }

    #[test]
    fn urn_qualified_paths_split_at_the_last_colon() {
        let path = p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value");
        assert_eq!(path.schema.as_deref(), Some(urn::ENTERPRISE_USER));
        assert_eq!(path.name, "manager");
        assert_eq!(path.sub.as_deref(), Some("value"));

        let path = p("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName");
        assert_eq!(
            path,
            AttrPath::new("name")
                .with_sub("familyName")
                .with_schema(urn::USER)
        );

        let path = p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber");
        assert_eq!(
            path,
            AttrPath::new("employeeNumber").with_schema(urn::ENTERPRISE_USER)
        );
    }

    #[test]
    fn a_bare_schema_urn_reads_as_its_last_segment() {
        // A PATCH may target a whole extension (`"path": "urn:…:enterprise:2.0:User"`). The
        // grammar reads that as attribute `User` of schema `urn:…:2.0`; the text is unchanged,
        // so a caller recognises it with `ResourceSchema::schema(&path.to_string())`.
        let path = p(urn::ENTERPRISE_USER);
        assert_eq!(
            path.schema.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0")
        );
        assert_eq!(path.name, "User");
        assert_eq!(path.to_string(), urn::ENTERPRISE_USER);

        let ms = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
        let path = p(&format!("{ms}:displayName"));
        assert_eq!(path, AttrPath::new("displayName").with_schema(ms));
    }

    #[test]
    fn attr_path_errors_point_at_the_offending_character() {
        let err = |s: &str| match AttrPath::parse(s) {
            Err(PathError::Syntax(e)) => e,
            other => panic!("{s}: {other:?}"),
        };
        let e = err("");
        assert_eq!((e.position, e.found.as_str()), (0, "end of input"));
        let e = err("9lives");
        assert_eq!(e.position, 0);
        assert!(e.expected.contains("attribute name"));
        let e = err("name.given Name");
        assert_eq!(e.position, 11);
        assert!(e.expected.contains("end of the attribute path"), "{e}");
        let e = err("a.b.c");
        assert_eq!(e.position, 3);
        assert!(e.expected.contains("at most one sub-attribute"));
        let e = err("name.");
        assert_eq!(e.position, 5);
        assert!(e.expected.contains("sub-attribute name"));
        let e = err("user=Name");
        assert_eq!((e.position, e.found.as_str()), (4, "\"=Name\""));
        let e = err(":userName");
        assert_eq!(e.position, 0);
        // Offsets count characters, not bytes.
        let e = err("é.x");
        assert_eq!(e.position, 0);
        let e = err("nämé");
        assert_eq!(e.position, 1);
        let e = err("emails[type eq \"work\"]");
        assert_eq!((e.position, e.found.as_str()), (6, "\"[\""));
        assert_eq!(
            err("a b").to_string(),
            "expected end of the attribute path at character offset 2, found \"b\""
        );
    }

    #[test]
    fn attr_paths_compare_case_insensitively() {
        assert!(p("Name.GivenName").matches(&p("name.givenName")));
        assert!(p("userName").matches(&p(&format!("{}:username", urn::USER))));
        assert!(!p("name").matches(&p("name.givenName")));
        assert!(!p(&format!("{}:userName", urn::ENTERPRISE_USER))
            .matches(&p(&format!("{}:userName", urn::USER))));
        assert_eq!(p("name.givenName").parent(), p("name"));
    }

    #[test]
    fn patch_paths() {
        assert_eq!(
            PatchPath::parse("nickName").unwrap(),
            PatchPath::Attr(p("nickName"))
        );
        let path = PatchPath::parse("emails[type eq \"work\"].value").unwrap();
        assert_eq!(
            path,
            PatchPath::Value {
                attr: p("emails"),
                filter: Filter::Compare {
                    path: p("type"),
                    op: CompareOp::Eq,
                    value: CompValue::Str("work".into()),
                },
                sub: Some("value".into()),
            }
        );
        assert_eq!(path.attr(), &p("emails"));
        assert_eq!(path.to_string(), "emails[type eq \"work\"].value");

        // Entra with aadOptscim062020: remove one member.
        let path = PatchPath::parse("members[value eq \"7f4bc1a3-0000\"]").unwrap();
        match &path {
            PatchPath::Value {
                attr, sub: None, ..
            } => assert_eq!(attr, &p("members")),
            other => panic!("{other:?}"),
        }
        let path = PatchPath::parse("addresses[type eq \"work\"].postalCode").unwrap();
        assert_eq!(path.to_string(), "addresses[type eq \"work\"].postalCode");

        let path =
            PatchPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
                .unwrap();
        assert_eq!(
            path,
            PatchPath::Attr(p("manager").with_schema(urn::ENTERPRISE_USER))
        );
    }

    #[test]
    fn patch_path_errors() {
        let syntax = |s: &str| match PatchPath::parse(s) {
            Err(PathError::Syntax(e)) => e,
            other => panic!("{s}: {other:?}"),
        };
        let e = syntax("emails[type eq \"work\"].");
        assert_eq!((e.position, e.found.as_str()), (23, "end of input"));
        let e = syntax("emails[type eq \"work\"]value");
        assert_eq!(e.position, 22);
        let e = syntax("name.givenName[value eq \"x\"]");
        assert_eq!(e.position, 0);
        assert!(e.expected.contains("without sub-attribute"));
        let e = syntax("emails[type eq \"work\"].value.x");
        assert_eq!(e.position, 28);

        let filter = |s: &str| match PatchPath::parse(s) {
            Err(PathError::Filter(e)) => e,
            other => panic!("{s}: {other:?}"),
        };
        match filter("members[value eq \"x\"") {
            FilterError::Syntax(e) => {
                assert_eq!(e.position, 20);
                assert!(e.expected.contains("']'"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        match filter("emails[type equals \"work\"]") {
            FilterError::Syntax(e) => {
                assert_eq!((e.position, e.found.as_str()), (12, "\"equals\""));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn path_errors_become_scim_errors() {
        let e: ScimError = PatchPath::parse("a..b").unwrap_err().into();
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidPath)));
        assert!(e.detail.contains("offset 2"), "{}", e.detail);
        let e: ScimError = PatchPath::parse("emails[type zz \"w\"]")
            .unwrap_err()
            .into();
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidFilter))
        );
        assert_eq!(
            e.detail,
            "invalid path: invalid filter: expected an operator: eq, ne, co, sw, ew, gt, ge, lt, \
             le or pr at character offset 12, found \"zz\""
        );
    }

    pub(crate) fn arb_name() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9_-]{0,8}",
            Just("$ref".to_string()),
            Just("not".to_string()),
            Just("and".to_string()),
            Just("pr".to_string()),
        ]
    }

    pub(crate) fn arb_attr_path() -> impl Strategy<Value = AttrPath> {
        (
            proptest::option::of(prop_oneof![
                Just(urn::USER.to_string()),
                Just(urn::ENTERPRISE_USER.to_string()),
                Just("urn:acme:ext:1.0:Thing".to_string()),
            ]),
            arb_name(),
            proptest::option::of(arb_name()),
        )
            .prop_map(|(schema, name, sub)| AttrPath { schema, name, sub })
    }

    proptest! {
        #[test]
        fn attr_path_display_round_trips(path in arb_attr_path()) {
            prop_assert_eq!(AttrPath::parse(&path.to_string()).unwrap(), path);
        }

        #[test]
        fn patch_path_display_round_trips(
            attr in arb_attr_path(),
            filter in crate::scim::filter::tests::arb_value_filter(),
            sub in proptest::option::of(arb_name()),
            value_path in any::<bool>(),
        ) {
            let path = if value_path {
                PatchPath::Value { attr: attr.parent(), filter, sub }
            } else {
                PatchPath::Attr(attr)
            };
            prop_assert_eq!(PatchPath::parse(&path.to_string()).unwrap(), path);
        }

        #[test]
        fn path_parsers_never_panic(s in "\\PC{0,40}", t in "[a-z:.\\[\\]\" $()]{0,40}") {
            let _ = AttrPath::parse(&s);
            let _ = PatchPath::parse(&s);
            let _ = AttrPath::parse(&t);
            let _ = PatchPath::parse(&t);
        }
    }
}
