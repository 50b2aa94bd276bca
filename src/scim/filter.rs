//! The SCIM filter language (RFC 7644 §3.4.2.2): AST, parser, canonical printer, validation
//! against a resource schema, and evaluation over a SCIM resource held as JSON.
//!
//! The parser takes the whole RFC grammar (with the errata that forbid nested value paths and
//! allow a space after `not`) plus the form identity providers send,
//! `emails[type eq "work"].value eq "x"`, read as `emails[type eq "work" and value eq "x"]`.
//! Turning a filter into a query for the legacy API is the mapping engine's job, not this
//! module's; decoding the query string (`+` as space) is the caller's.

use std::cmp::Ordering;
use std::fmt;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::path::{AttrPath, Cursor, SyntaxError};
use super::schema::{AttrType, AttributeDef, Resolved, ResourceSchema};
use super::ScimError;

/// How deep parentheses, `not` and value paths may nest.
pub(crate) const MAX_DEPTH: usize = 64;
/// How many comparisons (`attr op value`, `attr pr`) one filter may hold.
pub(crate) const MAX_COMPARISONS: usize = 1000;

/// A comparison value: `false / null / true / number / string` (RFC 7644 §3.4.2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// `attrPath compareOp compValue`
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `attrPath pr`
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    /// `attrPath "[" valFilter "]"`: true when one element of the multi-valued attribute
    /// matches the inner filter, whose paths are relative to the element.
    ValuePath {
        attr: AttrPath,
        filter: Box<Filter>,
    },
}

/// Why a filter was rejected: while parsing (syntax, size) or by [`validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("invalid filter: {0}")]
    Syntax(#[from] SyntaxError),
    #[error("invalid filter: nesting deeper than {limit} levels at character offset {position}")]
    TooDeep { position: usize, limit: usize },
    #[error("invalid filter: more than {limit} comparisons")]
    TooLong { limit: usize },
    #[error("invalid filter: unknown attribute \"{path}\"")]
    UnknownAttribute { path: String },
    #[error("invalid filter on \"{path}\": {reason}")]
    Unsupported { path: String, reason: String },
}

impl From<FilterError> for ScimError {
    fn from(e: FilterError) -> Self {
        ScimError::invalid_filter(e.to_string())
    }
}

impl CompareOp {
    pub(crate) const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator as written in a filter (lower case).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Case-insensitive (RFC 7644 §3.4.2.2).
    pub(crate) fn parse(s: &str) -> Option<CompareOp> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    /// `gt`, `ge`, `lt`, `le`.
    pub(crate) fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
        )
    }

    /// `co`, `sw`, `ew`.
    pub(crate) fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CompValue {
    /// JSON text: strings quoted and escaped.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::Str(s) => {
                let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
        }
    }
}

impl Filter {
    /// Parses a filter (RFC 7644 §3.4.2.2). Operators and `and`/`or`/`not` are
    /// case-insensitive; `not` binds tighter than `and`, which binds tighter than `or`; both
    /// are left-associative.
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        let mut cur = Cursor::new(input);
        let mut parser = Parser::new(&mut cur);
        let filter = parser.or_expr()?;
        parser.cur.skip_ws();
        if !parser.cur.at_end() {
            let expected = match parser.cur.peek() {
                Some(')') => "'and', 'or' or the end of the filter (this ')' closes nothing)",
                Some(']') => "'and', 'or' or the end of the filter (this ']' closes nothing)",
                _ => "'and', 'or' or the end of the filter",
            };
            return Err(parser.cur.error_here(expected).into());
        }
        Ok(filter)
    }

    /// `a and b`
    pub(crate) fn and(a: Filter, b: Filter) -> Filter {
        Filter::And(Box::new(a), Box::new(b))
    }

    /// `a or b`
    pub(crate) fn or(a: Filter, b: Filter) -> Filter {
        Filter::Or(Box::new(a), Box::new(b))
    }

    /// `not (a)`
    pub(crate) fn negate(a: Filter) -> Filter {
        Filter::Not(Box::new(a))
    }

    /// `path op value`
    #[cfg(test)]
    pub(crate) fn compare(path: AttrPath, op: CompareOp, value: CompValue) -> Filter {
        Filter::Compare { path, op, value }
    }

    /// Binding strength when printed: `or` 1, `and` 2, everything else 3.
    fn precedence(&self) -> u8 {
        match self {
            Filter::Or(..) => 1,
            Filter::And(..) => 2,
            _ => 3,
        }
    }

    /// Prints `self`, in parentheses if it binds less tightly than `min`.
    fn write(&self, f: &mut fmt::Formatter<'_>, min: u8) -> fmt::Result {
        let wrap = self.precedence() < min;
        if wrap {
            f.write_str("(")?;
        }
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}")?,
            Filter::Present(path) => write!(f, "{path} pr")?,
            Filter::And(a, b) => {
                a.write(f, 2)?;
                f.write_str(" and ")?;
                b.write(f, 3)?;
            }
            Filter::Or(a, b) => {
                a.write(f, 1)?;
                f.write_str(" or ")?;
                b.write(f, 2)?;
            }
            Filter::Not(a) => {
                f.write_str("not (")?;
                a.write(f, 0)?;
                f.write_str(")")?;
            }
            Filter::ValuePath { attr, filter } => {
                write!(f, "{attr}[")?;
                filter.write(f, 0)?;
                f.write_str("]")?;
            }
        }
        if wrap {
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl fmt::Display for Filter {
    /// Canonical text: lower-case operators, single spaces, parentheses only where precedence
    /// needs them. It parses back to the same filter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write(f, 0)
    }
}

/// Parses the filter of a value path after its `[`, up to and including the `]`.
pub(super) fn parse_value_filter(cur: &mut Cursor<'_>) -> Result<Filter, FilterError> {
    let mut parser = Parser::new(cur);
    parser.depth = 1;
    parser.in_brackets = true;
    let filter = parser.or_expr()?;
    parser.expect_close(']')?;
    Ok(filter)
}

const VALUE_EXPECTED: &str = "a value: a \"double-quoted\" string, a number, true, false or null";
const OP_EXPECTED: &str = "an operator: eq, ne, co, sw, ew, gt, ge, lt, le or pr";

/// Recursive descent over [`Cursor`]: `or_expr` → `and_expr` → `unary` → `attr_exp`.
struct Parser<'c, 'a> {
    cur: &'c mut Cursor<'a>,
    /// Current nesting of parentheses, `not` and value paths.
    depth: usize,
    comparisons: usize,
    /// Inside `[...]`, where value paths may not nest (RFC 7644 errata 4690).
    in_brackets: bool,
}

impl<'c, 'a> Parser<'c, 'a> {
    fn new(cur: &'c mut Cursor<'a>) -> Self {
        Parser {
            cur,
            depth: 0,
            comparisons: 0,
            in_brackets: false,
        }
    }

    fn syntax(&self, at: usize, expected: &str) -> FilterError {
        FilterError::Syntax(self.cur.error_at(at, expected))
    }

    fn enter(&mut self, at: usize) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError::TooDeep {
                position: self.cur.char_offset(at),
                limit: MAX_DEPTH,
            });
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Consumes the keyword `kw` (after optional whitespace) if it is the next word.
    fn keyword(&mut self, kw: &str) -> bool {
        let save = self.cur.pos();
        self.cur.skip_ws();
        if self.cur.word().eq_ignore_ascii_case(kw) {
            self.cur.set_pos(self.cur.pos() + kw.len());
            true
        } else {
            self.cur.set_pos(save);
            false
        }
    }

    fn expect_close(&mut self, close: char) -> Result<(), FilterError> {
        self.cur.skip_ws();
        if self.cur.eat(close) {
            return Ok(());
        }
        let expected = if close == ')' {
            "'and', 'or' or ')'"
        } else {
            "'and', 'or' or ']'"
        };
        Err(self.syntax(self.cur.pos(), expected))
    }

    fn or_expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.and_expr()?;
        while self.keyword("or") {
            let right = self.and_expr()?;
            left = Filter::or(left, right);
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Filter, FilterError> {
        let mut left = self.unary()?;
        while self.keyword("and") {
            let right = self.unary()?;
            left = Filter::and(left, right);
        }
        Ok(left)
    }

    /// `not (FILTER)`, `(FILTER)` or an attribute expression.
    fn unary(&mut self) -> Result<Filter, FilterError> {
        self.cur.skip_ws();
        let start = self.cur.pos();
        if self.cur.word().eq_ignore_ascii_case("not") {
            self.cur.set_pos(start + 3);
            self.cur.skip_ws();
            if self.cur.eat('(') {
                self.enter(start)?;
                let inner = self.or_expr()?;
                self.expect_close(')')?;
                self.leave();
                return Ok(Filter::negate(inner));
            }
            // Not a `not (…)`: an attribute that happens to be called `not`.
            self.cur.set_pos(start);
        }
        if self.cur.eat('(') {
            self.enter(start)?;
            let inner = self.or_expr()?;
            self.expect_close(')')?;
            self.leave();
            return Ok(inner);
        }
        self.attr_exp()
    }

    /// `attrPath pr`, `attrPath op value`, `attrPath[valFilter]`, and the IdP form
    /// `attrPath[valFilter].sub op value`.
    fn attr_exp(&mut self) -> Result<Filter, FilterError> {
        let start = self.cur.pos();
        if self.cur.at_end() || matches!(self.cur.peek(), Some(')' | ']')) {
            return Err(self.syntax(start, "an attribute name, '(' or 'not'"));
        }
        let path = self.cur.attr_path()?;
        if self.cur.peek() != Some('[') {
            return self.condition(path);
        }
        if self.in_brackets {
            return Err(self.syntax(
                self.cur.pos(),
                "an operator (value filters cannot be nested)",
            ));
        }
        if path.sub.is_some() {
            return Err(self.syntax(
                start,
                "a multi-valued attribute without sub-attribute before '['",
            ));
        }
        let open = self.cur.pos();
        self.cur.bump();
        self.enter(open)?;
        self.in_brackets = true;
        let mut inner = self.or_expr()?;
        self.expect_close(']')?;
        self.in_brackets = false;
        if self.cur.eat('.') {
            let sub = self.cur.attr_name("a sub-attribute name after ']'")?;
            let cond = self.condition(AttrPath::new(sub))?;
            inner = Filter::and(inner, cond);
        }
        self.leave();
        Ok(Filter::ValuePath {
            attr: path,
            filter: Box::new(inner),
        })
    }

    /// The operator and value after an attribute path.
    fn condition(&mut self, path: AttrPath) -> Result<Filter, FilterError> {
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return Err(FilterError::TooLong {
                limit: MAX_COMPARISONS,
            });
        }
        self.cur.skip_ws();
        let at = self.cur.pos();
        let word = self.cur.word();
        if word.eq_ignore_ascii_case("pr") {
            self.cur.set_pos(at + 2);
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::parse(word) else {
            return Err(self.syntax(at, OP_EXPECTED));
        };
        self.cur.set_pos(at + 2);
        let value = self.value()?;
        Ok(Filter::Compare { path, op, value })
    }

    /// `false / null / true / number / string`, JSON syntax; the literals case-insensitive.
    fn value(&mut self) -> Result<CompValue, FilterError> {
        self.cur.skip_ws();
        let start = self.cur.pos();
        let rest = self.cur.rest();
        match self.cur.peek() {
            Some('"') => {
                let end = string_end(rest)
                    .ok_or_else(|| self.syntax(start, "a string closed by '\"'"))?;
                let text = &rest[..end];
                // Without escapes or control characters, the text between the quotes is the
                // string; else JSON's rules decode or refuse it.
                let plain = text
                    .get(1..end - 1)
                    .filter(|inner| !inner.bytes().any(|b| b == b'\\' || b < 0x20));
                let s: String = match plain {
                    Some(inner) => inner.to_owned(),
                    None => serde_json::from_str(text)
                        .map_err(|e| self.syntax(start, &format!("a valid JSON string ({e})")))?,
                };
                self.cur.set_pos(start + end);
                Ok(CompValue::Str(s))
            }
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let end = rest
                    .find(|c: char| {
                        !(c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
                    })
                    .unwrap_or(rest.len());
                let text = &rest[..end];
                let mut n: serde_json::Number =
                    serde_json::from_str(text).map_err(|_| self.syntax(start, "a JSON number"))?;
                if !(n.is_i64() || n.is_u64()) {
                    // serde_json's float parsing may be off by one unit in the last place;
                    // the standard library's is exact, so printed numbers read back equal.
                    if let Some(exact) = text.parse().ok().and_then(serde_json::Number::from_f64) {
                        n = exact;
                    }
                }
                self.cur.set_pos(start + end);
                Ok(CompValue::Number(n))
            }
            _ => {
                let word = self.cur.word();
                let value = if word.eq_ignore_ascii_case("true") {
                    CompValue::Bool(true)
                } else if word.eq_ignore_ascii_case("false") {
                    CompValue::Bool(false)
                } else if word.eq_ignore_ascii_case("null") {
                    CompValue::Null
                } else {
                    return Err(self.syntax(start, VALUE_EXPECTED));
                };
                self.cur.set_pos(start + word.len());
                Ok(value)
            }
        }
    }
}

/// The byte length of the JSON string literal that `s` starts with (quotes included).
fn string_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices().skip(1) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Validation

/// Checks a parsed filter against a resource type's schema: every attribute must exist,
/// `gt`/`ge`/`lt`/`le` may not be used on booleans or binary data (RFC 7644 §3.4.2.2),
/// `co`/`sw`/`ew` only on text, a complex attribute can only be compared through its `value`
/// sub-attribute, and a value path (`x[…]`) needs a complex attribute.
pub fn validate(filter: &Filter, schema: &ResourceSchema) -> Result<(), FilterError> {
    check(filter, None, schema)
}

/// `parent` is the attribute of the enclosing value path, if any.
fn check(
    filter: &Filter,
    parent: Option<(&AttrPath, &AttributeDef)>,
    schema: &ResourceSchema,
) -> Result<(), FilterError> {
    match filter {
        Filter::Compare { path, op, .. } => {
            let (shown, def) = resolve_def(path, parent, schema)?;
            check_comparison(&shown, def, *op)
        }
        Filter::Present(path) => resolve_def(path, parent, schema).map(|_| ()),
        Filter::And(a, b) | Filter::Or(a, b) => {
            check(a, parent, schema)?;
            check(b, parent, schema)
        }
        Filter::Not(a) => check(a, parent, schema),
        Filter::ValuePath { attr, filter } => {
            if let Some((outer, _)) = parent {
                return Err(FilterError::Unsupported {
                    path: format!("{outer}[{attr}[…]]"),
                    reason: "value filters cannot be nested".into(),
                });
            }
            let resolved = schema
                .find(attr)
                .ok_or_else(|| FilterError::UnknownAttribute {
                    path: attr.to_string(),
                })?;
            let def = resolved.leaf();
            if attr.sub.is_some() || def.attr_type != AttrType::Complex {
                return Err(FilterError::Unsupported {
                    path: attr.to_string(),
                    reason: "a value filter \"[…]\" needs a complex attribute, such as emails"
                        .into(),
                });
            }
            check(filter, Some((attr, def)), schema)
        }
    }
}

/// The definition a path names, and the path as the user should see it in a message.
fn resolve_def<'s>(
    path: &AttrPath,
    parent: Option<(&AttrPath, &'s AttributeDef)>,
    schema: &'s ResourceSchema,
) -> Result<(String, &'s AttributeDef), FilterError> {
    match parent {
        None => {
            let resolved = schema
                .find(path)
                .ok_or_else(|| FilterError::UnknownAttribute {
                    path: path.to_string(),
                })?;
            Ok((path.to_string(), resolved.leaf()))
        }
        Some((outer, def)) => {
            let shown = format!("{}.{}", outer, path);
            if path.schema.is_some() || path.sub.is_some() {
                return Err(FilterError::Unsupported {
                    path: format!("{outer}[{path}]"),
                    reason: format!(
                        "inside a value filter, name a sub-attribute of {}, such as \"{}\"",
                        outer.name,
                        def.sub_attributes.first().map_or("value", |s| &s.name)
                    ),
                });
            }
            let sub = def
                .sub_attributes
                .iter()
                .find(|s| s.name.eq_ignore_ascii_case(&path.name))
                .ok_or(FilterError::UnknownAttribute {
                    path: shown.clone(),
                })?;
            Ok((shown, sub))
        }
    }
}

fn check_comparison(path: &str, def: &AttributeDef, op: CompareOp) -> Result<(), FilterError> {
    let unsupported = |reason: String| FilterError::Unsupported {
        path: path.to_string(),
        reason,
    };
    let def = if def.attr_type == AttrType::Complex {
        match def.sub_attributes.iter().find(|s| s.name == "value") {
            Some(value) => value,
            None => {
                let example = def.sub_attributes.first().map_or("value", |s| &s.name);
                return Err(unsupported(format!(
                    "a complex attribute cannot be compared directly; compare one of its \
                     sub-attributes, such as \"{path}.{example}\""
                )));
            }
        }
    } else {
        def
    };
    let kind = type_name(def.attr_type);
    let text_like = matches!(
        def.attr_type,
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime
    );
    if op.is_ordering() && matches!(def.attr_type, AttrType::Boolean | AttrType::Binary) {
        return Err(unsupported(format!(
            "\"{op}\" cannot be used on a {kind} attribute (use eq, ne or pr)"
        )));
    }
    if op.is_substring() && !text_like {
        return Err(unsupported(format!(
            "\"{op}\" needs a string attribute, and this one is {kind}"
        )));
    }
    Ok(())
}

fn type_name(t: AttrType) -> &'static str {
    match t {
        AttrType::String => "string",
        AttrType::Boolean => "boolean",
        AttrType::Decimal => "decimal",
        AttrType::Integer => "integer",
        AttrType::DateTime => "dateTime",
        AttrType::Binary => "binary",
        AttrType::Reference => "reference",
        AttrType::Complex => "complex",
    }
}

// ---------------------------------------------------------------------------------------------
// Evaluation

/// Whether `resource` (a SCIM resource as JSON, extension attributes under their schema URN
/// key) matches `filter`, per RFC 7644 §3.4.2.2:
/// - string comparisons ignore case unless the attribute is `caseExact`;
/// - a multi-valued attribute matches when any of its values does; a comparison on a complex
///   attribute without sub-attribute compares its `value` sub-attribute;
/// - `pr` needs a value that is not null, `""`, `[]` or `{}`; `eq null` matches an absent
///   attribute and `ne null` a present one; `ne` matches an absent attribute;
/// - `gt`/`ge`/`lt`/`le` compare numbers numerically, dateTime attributes as instants, strings
///   lexicographically; mismatched types never match (except for `ne`).
///
/// Attribute names resolve case-insensitively, through `schema` ([`ResourceSchema::find`]);
/// attributes the schema does not know are still read from the resource, as strings compared
/// without case. Run [`validate`] first to reject such filters instead.
pub fn matches(filter: &Filter, resource: &Value, schema: &ResourceSchema) -> bool {
    matches_in(filter, resource, schema)
}

/// [`matches`] over a resource however it is held: a JSON value, or another holding of the
/// same JSON ([`Node`]), with the same verdict.
pub fn matches_in<'v, N: Node<'v>>(filter: &Filter, resource: N, schema: &ResourceSchema) -> bool {
    Evaluator { resource, schema }.eval(filter, Scope::Root)
}

/// A node of a SCIM resource as the filter reads it. Implemented by `&Value`, and by anything
/// else that holds the same JSON (the translation's draft of a resource), so that a resource
/// need not become a `Value` to be filtered. Each method answers what it would for the JSON
/// the node stands for.
pub trait Node<'v>: Copy {
    /// The member `key` of an object, by exact name first, then ignoring ASCII case (RFC 7643
    /// §2.1); `None` for a node that is not an object.
    fn member(self, key: &str) -> Option<Self>;
    /// The elements of an array, or the node itself (nulls included).
    fn elements(self) -> impl Iterator<Item = Self>;
    fn is_object(self) -> bool;
    fn is_null(self) -> bool;
    /// The node as a JSON value, when it is held as one (a scalar at least; a container a
    /// comparison never matches may answer `None`).
    fn value(self) -> Option<&'v Value>;
    /// RFC 7644 `pr`: a non-empty value, or a complex value with a non-empty member.
    fn is_present(self) -> bool;
}

impl<'v> Node<'v> for &'v Value {
    fn member(self, key: &str) -> Option<Self> {
        super::member(self.as_object()?, key)
    }

    fn elements(self) -> impl Iterator<Item = Self> {
        match self {
            Value::Array(items) => items.iter(),
            other => std::slice::from_ref(other).iter(),
        }
    }

    fn is_object(self) -> bool {
        Value::is_object(self)
    }

    fn is_null(self) -> bool {
        Value::is_null(self)
    }

    fn value(self) -> Option<&'v Value> {
        Some(self)
    }

    fn is_present(self) -> bool {
        match self {
            Value::Null => false,
            Value::String(s) => !s.is_empty(),
            Value::Array(items) => items.iter().any(Node::is_present),
            Value::Object(members) => members.values().any(Node::is_present),
            Value::Bool(_) | Value::Number(_) => true,
        }
    }
}

/// Where the paths of a filter are looked up: the resource, or one element of a multi-valued
/// attribute inside a value path.
#[derive(Clone, Copy)]
enum Scope<'f, N> {
    Root,
    Element { node: N, parent: &'f AttrPath },
}

struct Evaluator<'f, N> {
    resource: N,
    schema: &'f ResourceSchema,
}

impl<'f, 'v, N: Node<'v>> Evaluator<'f, N> {
    fn eval(&self, filter: &'f Filter, scope: Scope<'f, N>) -> bool {
        match filter {
            Filter::Compare { path, op, value } => match (op, value) {
                (CompareOp::Eq, CompValue::Null) => {
                    !self.any_value(path, scope, true, |v, _| v.is_present()).1
                }
                (CompareOp::Ne, CompValue::Null) => {
                    self.any_value(path, scope, true, |v, _| v.is_present()).1
                }
                _ => {
                    let (seen, hit) = self.any_value(path, scope, true, |v, def| match v.value() {
                        Some(actual) => compare(actual, *op, value, def),
                        None => *op == CompareOp::Ne,
                    });
                    // `ne` matches an absent attribute.
                    hit || (*op == CompareOp::Ne && !seen)
                }
            },
            Filter::Present(path) => self.any_value(path, scope, false, |v, _| v.is_present()).1,
            Filter::And(a, b) => self.eval(a, scope) && self.eval(b, scope),
            Filter::Or(a, b) => self.eval(a, scope) || self.eval(b, scope),
            Filter::Not(a) => !self.eval(a, scope),
            Filter::ValuePath { attr, filter } => {
                let node = match scope {
                    Scope::Root => self.locate(attr, self.schema.find(attr)),
                    Scope::Element { node, .. } => node.member(&attr.name),
                };
                elements(node).any(|element| {
                    element.is_object()
                        && self.eval(
                            filter,
                            Scope::Element {
                                node: element,
                                parent: attr,
                            },
                        )
                })
            }
        }
    }

    /// The node of a top-level attribute: core attributes at the top of the resource,
    /// extension attributes under their schema URN. `resolved`: the path found in the schema.
    fn locate(&self, path: &AttrPath, resolved: Option<Resolved<'_>>) -> Option<N> {
        let resource = self.resource;
        match resolved {
            Some(r) if r.is_extension(self.schema) => {
                resource.member(&r.schema.id)?.member(&path.name)
            }
            Some(_) => resource.member(&path.name),
            None => match &path.schema {
                Some(urn) => resource
                    .member(urn)
                    .and_then(|ext| ext.member(&path.name))
                    .or_else(|| {
                        if urn.eq_ignore_ascii_case(&self.schema.core.id) {
                            resource.member(&path.name)
                        } else {
                            None
                        }
                    }),
                None => resource.member(&path.name),
            },
        }
    }

    /// Asks `test` of the non-null values `path` designates in `scope`, with the definition
    /// that governs them, until it holds for one: whether there was a value, and whether
    /// `test` held. With `compare`, a complex value without sub-attribute stands for its
    /// `value` sub-attribute.
    fn any_value(
        &self,
        path: &AttrPath,
        scope: Scope<'f, N>,
        compare: bool,
        mut test: impl FnMut(N, Option<&'f AttributeDef>) -> bool,
    ) -> (bool, bool) {
        let (node, attr_def, sub_def) = match scope {
            Scope::Root => {
                let resolved = self.schema.find(path);
                (
                    self.locate(path, resolved),
                    resolved.map(|r| r.attr),
                    resolved.and_then(|r| r.sub),
                )
            }
            Scope::Element { node, parent } => {
                let def = if path.schema.is_none() && path.sub.is_none() {
                    self.schema
                        .find(&parent.parent().with_sub(path.name.clone()))
                        .and_then(|r| r.sub)
                } else {
                    None
                };
                (node.member(&path.name), def, None)
            }
        };
        let mut seen = false;
        let mut ask = |v: N, def| {
            seen = true;
            test(v, def)
        };
        let hit = match &path.sub {
            Some(sub) => elements(node)
                .flat_map(|element| elements(element.member(sub)))
                .any(|v| ask(v, sub_def)),
            None => {
                let def = match attr_def {
                    Some(d) if compare && d.attr_type == AttrType::Complex => d
                        .sub_attributes
                        .iter()
                        .find(|s| s.name.eq_ignore_ascii_case("value")),
                    other => other,
                };
                elements(node)
                    .filter_map(|element| {
                        if compare && element.is_object() {
                            element.member("value").filter(|v| !v.is_null())
                        } else {
                            Some(element)
                        }
                    })
                    .any(|v| ask(v, def))
            }
        };
        (seen, hit)
    }
}

/// The non-null values of a node: the elements of an array, or the node itself.
fn elements<'v, N: Node<'v>>(node: Option<N>) -> impl Iterator<Item = N> + use<'v, N> {
    node.into_iter()
        .flat_map(Node::elements)
        .filter(|v| !v.is_null())
}

/// One attribute value against the filter's value.
fn compare(
    actual: &Value,
    op: CompareOp,
    expected: &CompValue,
    def: Option<&AttributeDef>,
) -> bool {
    let case_exact = def.is_some_and(|d| d.case_exact);
    let is_date = def.is_some_and(|d| d.attr_type == AttrType::DateTime);
    match (actual, expected) {
        (Value::String(a), CompValue::Str(b)) => {
            if is_date && !op.is_substring() {
                if let (Ok(a), Ok(b)) = (
                    OffsetDateTime::parse(a, &Rfc3339),
                    OffsetDateTime::parse(b, &Rfc3339),
                ) {
                    return ordered(op, a.cmp(&b));
                }
            }
            compare_strings(a, b, op, case_exact)
        }
        (Value::Number(a), CompValue::Number(b)) => match compare_numbers(a, b) {
            Some(order) if !op.is_substring() => ordered(op, order),
            _ => op == CompareOp::Ne,
        },
        (Value::Bool(a), CompValue::Bool(b)) => compare_bools(*a, *b, op),
        // Lenient: `active eq "true"`.
        (Value::Bool(a), CompValue::Str(b)) => match b.to_ascii_lowercase().as_str() {
            "true" => compare_bools(*a, true, op),
            "false" => compare_bools(*a, false, op),
            _ => op == CompareOp::Ne,
        },
        _ => op == CompareOp::Ne,
    }
}

fn compare_bools(a: bool, b: bool, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => a == b,
        CompareOp::Ne => a != b,
        _ => false,
    }
}

fn compare_strings(a: &str, b: &str, op: CompareOp, case_exact: bool) -> bool {
    if case_exact {
        return compare_str(a, b, op);
    }
    if a.is_ascii() && b.is_ascii() {
        // ASCII lowercases as Unicode does, one byte for one byte: compared as they stand.
        return match op {
            CompareOp::Sw => a
                .get(..b.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(b)),
            CompareOp::Ew => a
                .len()
                .checked_sub(b.len())
                .and_then(|at| a.get(at..))
                .is_some_and(|end| end.eq_ignore_ascii_case(b)),
            CompareOp::Co => compare_str(&a.to_ascii_lowercase(), &b.to_ascii_lowercase(), op),
            _ => ordered(op, ascii_lower(a).cmp(ascii_lower(b))),
        };
    }
    compare_str(&a.to_lowercase(), &b.to_lowercase(), op)
}

fn ascii_lower(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().map(|c| c.to_ascii_lowercase())
}

fn compare_str(a: &str, b: &str, op: CompareOp) -> bool {
    match op {
        CompareOp::Co => a.contains(b),
        CompareOp::Sw => a.starts_with(b),
        CompareOp::Ew => a.ends_with(b),
        _ => ordered(op, a.cmp(b)),
    }
}

/// Integers exactly, anything else as floating point.
fn compare_numbers(a: &serde_json::Number, b: &serde_json::Number) -> Option<Ordering> {
    if let (Some(a), Some(b)) = (a.as_i64(), b.as_i64()) {
        return Some(a.cmp(&b));
    }
    if let (Some(a), Some(b)) = (a.as_u64(), b.as_u64()) {
        return Some(a.cmp(&b));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

/// Whether an ordering satisfies `eq`/`ne`/`gt`/`ge`/`lt`/`le` (never `co`/`sw`/`ew`).
fn ordered(op: CompareOp, order: Ordering) -> bool {
    match op {
        CompareOp::Eq => order == Ordering::Equal,
        CompareOp::Ne => order != Ordering::Equal,
        CompareOp::Gt => order == Ordering::Greater,
        CompareOp::Ge => order != Ordering::Less,
        CompareOp::Lt => order == Ordering::Less,
        CompareOp::Le => order != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scim::path::tests::{arb_attr_path, arb_name};
    use crate::scim::{urn, ScimType};
    use proptest::prelude::*;
    use serde_json::json;

    fn parse(s: &str) -> Filter {
        Filter::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn path(s: &str) -> AttrPath {
        AttrPath::parse(s).unwrap()
    }

    fn eq(p: &str, v: &str) -> Filter {
        Filter::compare(path(p), CompareOp::Eq, CompValue::Str(v.into()))
    }

    fn pr(p: &str) -> Filter {
        Filter::Present(path(p))
    }

    fn syntax_error(s: &str) -> SyntaxError {
        match Filter::parse(s) {
            Err(FilterError::Syntax(e)) => e,
            other => panic!("{s}: expected a syntax error, got {other:?}"),
        }
    }

    // ----- parser -------------------------------------------------------------------------

    #[test]
    fn every_operator_parses_in_any_case() {
        for op in CompareOp::ALL {
            for spelled in [op.as_str().to_string(), op.as_str().to_uppercase()] {
                let f = parse(&format!("userName {spelled} \"x\""));
                assert_eq!(
                    f,
                    Filter::compare(path("userName"), op, CompValue::Str("x".into()))
                );
                assert_eq!(f.to_string(), format!("userName {op} \"x\""));
            }
        }
        assert_eq!(parse("title pr"), pr("title"));
        assert_eq!(parse("title PR"), pr("title"));
    }

    #[test]
    fn values_follow_json() {
        let value = |s: &str| match parse(&format!("a eq {s}")) {
            Filter::Compare { value, .. } => value,
            other => panic!("{other:?}"),
        };
        assert_eq!(value("true"), CompValue::Bool(true));
        assert_eq!(value("False"), CompValue::Bool(false));
        assert_eq!(value("null"), CompValue::Null);
        assert_eq!(value("42"), CompValue::Number(42.into()));
        assert_eq!(value("-7"), CompValue::Number((-7).into()));
        assert_eq!(
            value("2.5e3"),
            CompValue::Number(serde_json::Number::from_f64(2500.0).unwrap())
        );
        assert_eq!(
            value(r#""a \"quoted\" \\ back\/slash \u00e9 \n""#),
            CompValue::Str("a \"quoted\" \\ back/slash é \n".into())
        );
        // Floats read back exactly as printed.
        for text in [
            "1.0878561827150616e-147",
            "-2.6146449167956667e262",
            "0.1",
            "-0.0",
        ] {
            let printed = value(text).to_string();
            assert_eq!(
                printed.parse::<f64>().unwrap(),
                text.parse::<f64>().unwrap()
            );
            assert_eq!(value(&printed), value(text));
        }
        assert_eq!(value(r#""""#), CompValue::Str(String::new()));
        assert_eq!(value("\"ünïcödé ✓\""), CompValue::Str("ünïcödé ✓".into()));
    }

    #[test]
    fn precedence_is_not_then_and_then_or() {
        let (a, b, c) = (eq("a", "1"), eq("b", "2"), eq("c", "3"));
        assert_eq!(
            parse(r#"a eq "1" or b eq "2" and c eq "3""#),
            Filter::or(a.clone(), Filter::and(b.clone(), c.clone()))
        );
        assert_eq!(
            parse(r#"a eq "1" and b eq "2" or c eq "3""#),
            Filter::or(Filter::and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse(r#"not (a eq "1") and b eq "2""#),
            Filter::and(Filter::negate(a.clone()), b.clone())
        );
        assert_eq!(
            parse(r#"a eq "1" OR not(b eq "2") AND c eq "3""#),
            Filter::or(a.clone(), Filter::and(Filter::negate(b.clone()), c.clone()))
        );
        // Left-associative chains.
        assert_eq!(
            parse(r#"a eq "1" and b eq "2" and c eq "3""#),
            Filter::and(Filter::and(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            parse(r#"a eq "1" or b eq "2" or c eq "3""#),
            Filter::or(Filter::or(a.clone(), b.clone()), c.clone())
        );
    }

    #[test]
    fn parentheses_group() {
        let (a, b, c) = (eq("a", "1"), eq("b", "2"), eq("c", "3"));
        let grouped = parse(r#"(a eq "1" or b eq "2") and c eq "3""#);
        assert_eq!(
            grouped,
            Filter::and(Filter::or(a.clone(), b.clone()), c.clone())
        );
        assert_eq!(
            grouped.to_string(),
            r#"(a eq "1" or b eq "2") and c eq "3""#
        );
        let right = parse(r#"a eq "1" and (b eq "2" and c eq "3")"#);
        assert_eq!(
            right,
            Filter::and(a.clone(), Filter::and(b.clone(), c.clone()))
        );
        assert_eq!(right.to_string(), r#"a eq "1" and (b eq "2" and c eq "3")"#);
        assert_eq!(parse(r#"((( a eq "1" )))"#), a);
        assert_eq!(parse("  title pr  "), pr("title"));
    }

    #[test]
    fn not_needs_parentheses_and_is_otherwise_a_name() {
        assert_eq!(parse("not (title pr)"), Filter::negate(pr("title")));
        assert_eq!(parse("NOT(title pr)"), Filter::negate(pr("title")));
        assert_eq!(parse("not pr"), pr("not"));
        assert_eq!(parse(r#"not eq "x""#), eq("not", "x"));
        assert_eq!(parse("notes pr"), pr("notes"));
        assert_eq!(
            parse("not (not (a pr))"),
            Filter::negate(Filter::negate(pr("a")))
        );
        assert_eq!(
            parse("not (a pr or b pr)").to_string(),
            "not (a pr or b pr)"
        );
    }

    #[test]
    fn value_paths() {
        let f = parse(r#"emails[type eq "work" and value co "@x"]"#);
        assert_eq!(
            f,
            Filter::ValuePath {
                attr: path("emails"),
                filter: Box::new(Filter::and(
                    eq("type", "work"),
                    Filter::compare(path("value"), CompareOp::Co, CompValue::Str("@x".into())),
                )),
            }
        );
        assert_eq!(f.to_string(), r#"emails[type eq "work" and value co "@x"]"#);

        let f = parse(r#"userType eq "Employee" and emails[type eq "work" or (primary eq true)]"#);
        assert_eq!(
            f.to_string(),
            r#"userType eq "Employee" and emails[type eq "work" or primary eq true]"#
        );
        let qualified = parse(&format!("{}:emails[type pr]", urn::USER));
        match qualified {
            Filter::ValuePath { attr, .. } => assert_eq!(attr.schema.as_deref(), Some(urn::USER)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn value_path_followed_by_a_sub_attribute_comparison() {
        // Entra's form: `emails[type eq "work"].value eq "x"`.
        let f = parse(r#"emails[type eq "work"].value eq "x@example.com""#);
        assert_eq!(
            f,
            Filter::ValuePath {
                attr: path("emails"),
                filter: Box::new(Filter::and(
                    eq("type", "work"),
                    eq("value", "x@example.com")
                )),
            }
        );
        assert_eq!(
            f.to_string(),
            r#"emails[type eq "work" and value eq "x@example.com"]"#
        );
        let f = parse(r#"emails[type eq "work" or type eq "home"].value pr and active eq true"#);
        assert_eq!(
            f.to_string(),
            r#"emails[(type eq "work" or type eq "home") and value pr] and active eq true"#
        );
    }

    #[test]
    fn the_rfc_examples_parse_and_print_canonically() {
        let examples = [
            r#"userName Eq "john""#,
            r#"Username eq "john""#,
            r#"userName eq "bjensen""#,
            r#"name.familyName co "O'Malley""#,
            r#"userName sw "J""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            "title pr",
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified ge "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified lt "2011-05-13T04:42:34Z""#,
            r#"meta.lastModified le "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and (emails.type eq "work")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        ];
        for text in examples {
            let f = parse(text);
            let canonical = f.to_string();
            assert_eq!(parse(&canonical), f, "{text} → {canonical}");
        }
        assert_eq!(
            parse(r#"userName Eq "john""#).to_string(),
            r#"userName eq "john""#
        );
        assert_eq!(
            parse(r#"userType eq "Employee" and (emails.type eq "work")"#).to_string(),
            r#"userType eq "Employee" and emails.type eq "work""#
        );
    }

    #[test]
    fn identity_provider_filters() {
        // Entra "Test Connection" and matching, after form decoding (spaces inside the value).
        assert_eq!(
            parse(r#"userName eq "non-existent user""#),
            eq("userName", "non-existent user")
        );
        assert_eq!(
            parse(r#"userName eq "Test_User_00aa00aa-bb11@contoso.com""#),
            eq("userName", "Test_User_00aa00aa-bb11@contoso.com")
        );
        assert_eq!(
            parse(r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#),
            eq("externalId", "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef")
        );
        assert_eq!(
            parse(r#"displayName eq "Group 1 (Sales & Marketing)""#),
            eq("displayName", "Group 1 (Sales & Marketing)")
        );
        // Entra's group-membership check.
        assert_eq!(
            parse(r#"id eq "g-1" and members[value eq "u-2"]"#),
            Filter::and(
                eq("id", "g-1"),
                Filter::ValuePath {
                    attr: path("members"),
                    filter: Box::new(eq("value", "u-2")),
                }
            )
        );
        // Okta.
        assert_eq!(
            parse(r#"userName eq "test.user@okta.local""#),
            eq("userName", "test.user@okta.local")
        );
        // Enterprise attribute by URN.
        assert_eq!(
            parse(
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
            ),
            Filter::compare(
                path("employeeNumber").with_schema(urn::ENTERPRISE_USER),
                CompareOp::Eq,
                CompValue::Str("701984".into())
            )
        );
        assert_eq!(
            parse(r#"members.$ref pr"#),
            Filter::Present(path("members").with_sub("$ref"))
        );
    }

    #[test]
    fn syntax_errors_say_what_and_where() {
        let e = syntax_error("");
        assert_eq!((e.position, e.found.as_str()), (0, "end of input"));
        assert!(e.expected.contains("attribute name"));

        let e = syntax_error(r#"userName equals "x""#);
        assert_eq!((e.position, e.found.as_str()), (9, "\"equals\""));
        assert!(e.expected.contains("eq, ne, co"), "{e}");

        let e = syntax_error("userName eq");
        assert_eq!((e.position, e.found.as_str()), (11, "end of input"));
        assert!(e.expected.contains("a value"));

        let e = syntax_error("userName eq john");
        assert_eq!((e.position, e.found.as_str()), (12, "\"john\""));
        assert!(e.expected.contains("double-quoted"));

        let e = syntax_error("userName eq 'john'");
        assert_eq!((e.position, e.found.as_str()), (12, "\"'john'\""));

        let e = syntax_error(r#"userName eq "john"#);
        assert_eq!(e.position, 12);
        assert!(e.expected.contains("closed"));

        let e = syntax_error(r#"userName eq "bad \q escape""#);
        assert_eq!(e.position, 12);
        assert!(e.expected.contains("JSON string"));

        // A control character must be escaped in a JSON string, as in one without escapes.
        let e = syntax_error("userName eq \"tab\there\"");
        assert_eq!(e.position, 12);
        assert!(e.expected.contains("JSON string"));
        let e = syntax_error("userName eq \"a\\\"b\u{1}\"");
        assert!(e.expected.contains("JSON string"));

        let e = syntax_error("a eq 1.2.3");
        assert_eq!((e.position, e.expected.as_str()), (5, "a JSON number"));

        let e = syntax_error(r#"(userName eq "x""#);
        assert_eq!((e.position, e.found.as_str()), (16, "end of input"));
        assert!(e.expected.contains("')'"));

        let e = syntax_error(r#"userName eq "x")"#);
        assert_eq!(e.position, 15);
        assert!(e.expected.contains("closes nothing"));

        let e = syntax_error(r#"userName eq "x" andd title pr"#);
        assert_eq!((e.position, e.found.as_str()), (16, "\"andd\""));

        let e = syntax_error(r#"userName eq "x" and"#);
        assert_eq!(e.position, 19);

        let e = syntax_error(r#"emails[type eq "work""#);
        assert_eq!(e.position, 21);
        assert!(e.expected.contains("']'"));

        let e = syntax_error(r#"emails[type eq "work" and x[y pr]]"#);
        assert_eq!(e.position, 27);
        assert!(e.expected.contains("cannot be nested"));

        let e = syntax_error(r#"name.givenName[x pr]"#);
        assert_eq!(e.position, 0);

        let e = syntax_error(r#"emails[type eq "work"]. eq "x""#);
        assert_eq!(e.position, 23);

        let e = syntax_error(r#"emails[type eq "work"].value "x""#);
        assert_eq!((e.position, e.found.as_str()), (29, "\"x\""));

        let e = syntax_error(r#"user+name eq "x""#);
        assert_eq!(e.position, 4);

        // Offsets are in characters.
        let e = syntax_error(r#"a eq "é" oder b pr"#);
        assert_eq!(e.position, 9);

        assert_eq!(
            Filter::parse("userName eq john").unwrap_err().to_string(),
            "invalid filter: expected a value: a \"double-quoted\" string, a number, true, \
             false or null at character offset 12, found \"john\""
        );
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let nested = |n: usize| format!("{}a pr{}", "(".repeat(n), ")".repeat(n));
        assert!(Filter::parse(&nested(MAX_DEPTH)).is_ok());
        assert_eq!(
            Filter::parse(&nested(MAX_DEPTH + 1)),
            Err(FilterError::TooDeep {
                position: MAX_DEPTH,
                limit: MAX_DEPTH
            })
        );
        let nots = format!(
            "{}a pr{}",
            "not (".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(matches!(
            Filter::parse(&nots),
            Err(FilterError::TooDeep { .. })
        ));
        // A deep input fails cleanly instead of overflowing the stack.
        assert!(Filter::parse(&nested(100_000)).is_err());

        let chain = |n: usize| vec!["a eq 1"; n].join(" or ");
        let long = Filter::parse(&chain(MAX_COMPARISONS)).unwrap();
        assert_eq!(Filter::parse(&long.to_string()).unwrap(), long);
        assert!(!matches(&long, &json!({"a": 2}), &test_schema()));
        assert_eq!(
            Filter::parse(&chain(MAX_COMPARISONS + 1)),
            Err(FilterError::TooLong {
                limit: MAX_COMPARISONS
            })
        );
        assert!(FilterError::TooDeep {
            position: 3,
            limit: 64
        }
        .to_string()
        .contains("deeper than 64"));
    }

    #[test]
    fn filter_errors_become_invalid_filter() {
        let e: ScimError = Filter::parse("userName eq").unwrap_err().into();
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidFilter))
        );
        assert!(e.detail.contains("offset 11"), "{}", e.detail);
        let e: ScimError = validate(&parse("nope pr"), &test_schema())
            .unwrap_err()
            .into();
        assert_eq!(
            (e.status, e.scim_type),
            (400, Some(ScimType::InvalidFilter))
        );
        assert_eq!(e.detail, "invalid filter: unknown attribute \"nope\"");
    }

    // ----- evaluation -----------------------------------------------------------------------

    fn user() -> Value {
        json!({
            "schemas": [urn::USER, urn::ENTERPRISE_USER],
            "id": "2819c223-7f76-453a-919d-413861904646",
            "externalId": "Ext-1",
            "userName": "Bjensen@Example.com",
            "displayName": "Babs Jensen",
            "nickName": "",
            "title": null,
            "active": true,
            "loginCount": 42,
            "score": 3.5,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "meta": {
                "resourceType": "User",
                "created": "2010-01-23T04:56:22Z",
                "lastModified": "2011-05-13T04:42:34Z"
            },
            urn::ENTERPRISE_USER: {
                "employeeNumber": "701984",
                "manager": {"value": "26118915-6090", "displayName": "John Smith"}
            }
        })
    }

    /// Evaluates `filter` on `resource`, after checking it parses and validates.
    fn on(resource: &Value, filter: &str) -> bool {
        let schema = test_schema();
        let f = parse(filter);
        validate(&f, &schema).unwrap_or_else(|e| panic!("{filter}: {e}"));
        matches(&f, resource, &schema)
    }

    fn assert_filters(resource: &Value, cases: &[(&str, bool)]) {
        for (filter, expected) in cases {
            assert_eq!(on(resource, filter), *expected, "{filter}");
        }
    }

    #[test]
    fn strings_ignore_case_unless_case_exact() {
        assert_filters(
            &user(),
            &[
                (r#"userName eq "bjensen@example.com""#, true),
                (r#"USERNAME EQ "BJENSEN@EXAMPLE.COM""#, true),
                (r#"userName eq "bjensen""#, false),
                (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, true),
                (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, false),
                (r#"externalId eq "Ext-1""#, true),
                (r#"externalId eq "ext-1""#, false),
                (r#"externalId sw "ext""#, false),
                (r#"displayName co "JENS""#, true),
                (r#"displayName co "xyz""#, false),
                (r#"userName sw "BJ""#, true),
                (r#"userName sw "jensen""#, false),
                (r#"userName ew ".COM""#, true),
                (r#"userName ew ".org""#, false),
                (r#"displayName gt "Babs""#, true),
                (r#"displayName gt "babs jensen""#, false),
                (r#"displayName ge "BABS JENSEN""#, true),
                (r#"displayName lt "C""#, true),
                (r#"displayName lt "Babs""#, false),
                (r#"displayName le "babs jensen""#, true),
            ],
        );
        // Unicode case folding, not only ASCII.
        assert!(on(
            &json!({"displayName": "ÉLODIE"}),
            r#"displayName eq "élodie""#
        ));
    }

    #[test]
    fn ne_and_null_and_absent_attributes() {
        assert_filters(
            &user(),
            &[
                (r#"displayName ne "someone else""#, true),
                (r#"displayName ne "BABS JENSEN""#, false),
                // `title` is null and `department` absent: ne matches, eq does not.
                (r#"title ne "x""#, true),
                (r#"title eq "x""#, false),
                (r#"department ne "x""#, true),
                (r#"department eq "x""#, false),
                (r#"department co "x""#, false),
                (r#"department gt "a""#, false),
                ("title eq null", true),
                ("displayName eq null", false),
                ("displayName ne null", true),
                ("title ne null", false),
            ],
        );
    }

    #[test]
    fn present_means_a_non_empty_value() {
        let resource = user();
        assert_filters(
            &resource,
            &[
                ("displayName pr", true),
                ("title pr", false),
                ("nickName pr", false),
                ("department pr", false),
                ("emails pr", true),
                ("emails.type pr", true),
                ("name pr", true),
                ("name.givenName pr", true),
                ("meta.lastModified pr", true),
                ("active pr", true),
                ("employeeNumber pr", true),
            ],
        );
        let empty = json!({"emails": [], "name": {"givenName": null}, "active": false});
        assert_filters(
            &empty,
            &[
                ("emails pr", false),
                ("name pr", false),
                ("active pr", true),
            ],
        );
    }

    #[test]
    fn numbers_compare_numerically() {
        assert_filters(
            &user(),
            &[
                ("loginCount eq 42", true),
                ("loginCount eq 42.0", true),
                ("loginCount ne 42", false),
                ("loginCount gt 41", true),
                ("loginCount gt 42", false),
                ("loginCount ge 42", true),
                ("loginCount lt 42", false),
                ("loginCount lt 100", true),
                ("loginCount le 42", true),
                ("score gt 3", true),
                ("score lt 3.5", false),
                ("score le 3.5", true),
                ("score gt -1e10", true),
                // A string is not a number.
                (r#"loginCount eq "42""#, false),
                (r#"loginCount ne "42""#, true),
            ],
        );
        assert!(on(&json!({"loginCount": 9}), "loginCount lt 10"));
        assert!(on(
            &json!({"loginCount": u64::MAX}),
            "loginCount gt 9223372036854775807"
        ));
    }

    #[test]
    fn date_times_compare_as_instants() {
        assert_filters(
            &user(),
            &[
                (r#"meta.lastModified gt "2011-05-13T04:42:33Z""#, true),
                (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false),
                (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, true),
                (r#"meta.lastModified lt "2012-01-01T00:00:00Z""#, true),
                (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, true),
                // The same instant in another offset, and with fractional seconds.
                (r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#, true),
                (r#"meta.lastModified eq "2011-05-13T04:42:34.000Z""#, true),
                // As text "…04:42:34Z" < "…05:00:00+01:00", but as instants it is later.
                (r#"meta.lastModified lt "2011-05-13T05:00:00+01:00""#, false),
                (r#"meta.lastModified gt "2011-05-13T05:00:00+01:00""#, true),
                (r#"meta.created sw "2010-01""#, true),
            ],
        );
    }

    #[test]
    fn booleans() {
        assert_filters(
            &user(),
            &[
                ("active eq true", true),
                ("active eq false", false),
                ("active ne false", true),
                ("ACTIVE EQ TRUE", true),
                (r#"active eq "True""#, true),
                (r#"active eq "false""#, false),
                ("emails.primary eq true", true),
            ],
        );
        assert!(on(&json!({"active": false}), "active eq false"));
        // A disabled user is still found by its matching attribute.
        assert!(on(
            &json!({"userName": "ada", "active": false}),
            r#"userName eq "ada""#
        ));
    }

    #[test]
    fn multi_valued_attributes_match_when_any_value_does() {
        assert_filters(
            &user(),
            &[
                (r#"emails.value eq "babs@jensen.org""#, true),
                (r#"emails.type eq "home""#, true),
                (r#"emails.type eq "other""#, false),
                // Without sub-attribute, the `value` sub-attribute is compared.
                (r#"emails co "jensen.org""#, true),
                (r#"emails eq "BJENSEN@example.com""#, true),
                (r#"emails eq "nobody@example.com""#, false),
                (
                    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
                    true,
                ),
                (r#"schemas eq "urn:example:none""#, false),
            ],
        );
    }

    #[test]
    fn value_paths_match_within_one_element() {
        assert_filters(
            &user(),
            &[
                (
                    r#"emails[type eq "work" and value co "@example.com"]"#,
                    true,
                ),
                // Both conditions hold, but on different e-mails.
                (
                    r#"emails[type eq "home" and value co "@example.com"]"#,
                    false,
                ),
                (r#"emails[type eq "home" or primary eq true]"#, true),
                (r#"emails[not (type eq "work")]"#, true),
                (r#"emails[primary pr and type eq "home"]"#, false),
                (r#"EMAILS[TYPE EQ "WORK"]"#, true),
                // Entra's form.
                (
                    r#"emails[type eq "work"].value eq "bjensen@example.com""#,
                    true,
                ),
                (
                    r#"emails[type eq "home"].value eq "bjensen@example.com""#,
                    false,
                ),
                (r#"emails[type eq "work"].value pr"#, true),
                (r#"name[givenName sw "barb"]"#, true),
            ],
        );
        // A value path on a single object or a missing attribute.
        assert!(!on(&json!({"userName": "x"}), r#"emails[type eq "work"]"#));
        assert!(!on(
            &json!({"emails": "not a list"}),
            r#"emails[type eq "work"]"#
        ));
    }

    #[test]
    fn logical_operators() {
        assert_filters(
            &user(),
            &[
                (
                    r#"userName eq "bjensen@example.com" and active eq true"#,
                    true,
                ),
                (
                    r#"userName eq "bjensen@example.com" and active eq false"#,
                    false,
                ),
                (r#"userName eq "nobody" or active eq true"#, true),
                (r#"userName eq "nobody" or active eq false"#, false),
                (r#"not (userName eq "nobody")"#, true),
                (r#"not (active eq true)"#, false),
                (
                    r#"active eq false and loginCount eq 1 or displayName pr"#,
                    true,
                ),
                (
                    r#"active eq false and (loginCount eq 1 or displayName pr)"#,
                    false,
                ),
                (r#"displayName pr or title pr and active eq false"#, true),
                (r#"(displayName pr or title pr) and active eq false"#, false),
                (
                    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
                    false,
                ),
            ],
        );
    }

    #[test]
    fn extension_attributes_by_urn_or_short_name() {
        assert_filters(
            &user(),
            &[
                (
                    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
                    true,
                ),
                (r#"employeeNumber eq "701984""#, true),
                (r#"employeeNumber eq "1""#, false),
                (r#"manager.value eq "26118915-6090""#, true),
                (r#"manager eq "26118915-6090""#, true),
                (
                    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName co "smith""#,
                    true,
                ),
                (
                    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj""#,
                    true,
                ),
                (
                    r#"urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "barbara""#,
                    true,
                ),
            ],
        );
        // The extension object's key and the attribute names match regardless of case.
        let shouting = json!({
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"EMPLOYEENUMBER": "7"}
        });
        assert!(on(&shouting, r#"employeeNumber eq "7""#));
    }

    #[test]
    fn json_keys_are_matched_without_case() {
        let resource = json!({
            "USERNAME": "ada",
            "Emails": [{"Value": "ada@example.com", "TYPE": "work"}],
            "Meta": {"LastModified": "2020-01-01T00:00:00Z"}
        });
        assert_filters(
            &resource,
            &[
                (r#"userName eq "ADA""#, true),
                (r#"emails[type eq "work"].value eq "ada@example.com""#, true),
                (r#"emails.value ew "example.com""#, true),
                (r#"meta.lastModified gt "2019-12-31T23:00:00-02:00""#, false),
            ],
        );
    }

    #[test]
    fn entra_group_membership_check() {
        let group = json!({
            "schemas": [urn::GROUP],
            "id": "g-1",
            "displayName": "Sales",
            "members": [
                {"value": "u-1", "$ref": "https://example.com/v2/Users/u-1"},
                {"value": "u-2", "$ref": null}
            ]
        });
        assert_filters(
            &group,
            &[
                (r#"id eq "g-1" and members[value eq "u-2"]"#, true),
                (r#"id eq "g-1" and members[value eq "u-3"]"#, false),
                (r#"id eq "g-2" and members[value eq "u-2"]"#, false),
                // members.value is caseExact in this schema.
                (r#"id eq "g-1" and members[value eq "U-2"]"#, false),
                (r#"members.$ref ew "/u-1""#, true),
                (r#"members eq "u-1""#, true),
                (r#"displayName eq "sales""#, true),
            ],
        );
    }

    #[test]
    fn mismatched_and_unknown_values_never_match() {
        let schema = test_schema();
        let resource = json!({"name": {"givenName": "Ada"}, "extra": "Hello", "userName": 5});
        let eval = |f: &str| matches(&parse(f), &resource, &schema);
        // A complex attribute without a `value` sub-attribute compares to nothing.
        assert!(!eval(r#"name eq "Ada""#));
        assert!(eval(r#"name ne "Ada""#));
        // A string attribute holding a number does not equal a string.
        assert!(!eval(r#"userName eq "5""#));
        // Attributes outside the schema are still read, as strings without case.
        assert!(eval(r#"extra eq "hello""#));
        assert!(!eval(r#"extra eq "bye""#));
        assert!(!eval(r#"nothing pr"#));
        assert!(!matches(&parse("a pr"), &json!("not an object"), &schema));
        assert!(!matches(&parse("a pr"), &Value::Null, &schema));
    }

    // ----- validation ------------------------------------------------------------------------

    fn invalid(filter: &str) -> FilterError {
        match validate(&parse(filter), &test_schema()) {
            Err(e) => e,
            Ok(()) => panic!("{filter} should be rejected"),
        }
    }

    #[test]
    fn validation_accepts_what_the_schema_allows() {
        let schema = test_schema();
        for f in [
            r#"userName eq "x""#,
            r#"id eq "g-1" and members[value eq "u-2"]"#,
            r#"emails[type eq "work"].value eq "x""#,
            r#"emails co "@x" or emails.primary eq true"#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "1""#,
            r#"manager.value eq "m" and manager eq "m""#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            "loginCount le 3 and score gt 1.5 and displayName lt \"m\"",
            "name pr and not (active eq false)",
            r#"USERNAME EQ "x""#,
        ] {
            assert_eq!(validate(&parse(f), &schema), Ok(()), "{f}");
        }
    }

    #[test]
    fn validation_rejects_unknown_attributes() {
        assert_eq!(
            invalid(r#"nope eq "x""#),
            FilterError::UnknownAttribute {
                path: "nope".into()
            }
        );
        assert_eq!(
            invalid("name.middleName pr"),
            FilterError::UnknownAttribute {
                path: "name.middleName".into()
            }
        );
        assert_eq!(
            invalid(r#"emails[kind eq "work"]"#),
            FilterError::UnknownAttribute {
                path: "emails.kind".into()
            }
        );
        assert_eq!(
            invalid(r#"emails[type eq "work"].address eq "x""#),
            FilterError::UnknownAttribute {
                path: "emails.address".into()
            }
        );
        assert_eq!(
            invalid(r#"urn:example:other:2.0:User:userName eq "x""#),
            FilterError::UnknownAttribute {
                path: "urn:example:other:2.0:User:userName".into()
            }
        );
        assert_eq!(
            invalid(r#"nope[type eq "work"]"#),
            FilterError::UnknownAttribute {
                path: "nope".into()
            }
        );
    }

    #[test]
    fn validation_rejects_meaningless_comparisons() {
        let e = invalid("active gt true");
        assert_eq!(
            e.to_string(),
            "invalid filter on \"active\": \"gt\" cannot be used on a boolean attribute (use eq, ne or pr)"
        );
        for f in [
            "active ge false",
            "active lt true",
            "active le true",
            "emails.primary gt false",
            "emails[primary lt true]",
            r#"photo gt "aGk=""#,
        ] {
            assert!(matches!(invalid(f), FilterError::Unsupported { .. }), "{f}");
        }
        for f in [
            r#"active co "t""#,
            r#"loginCount sw "4""#,
            r#"score ew "5""#,
        ] {
            match invalid(f) {
                FilterError::Unsupported { reason, .. } => {
                    assert!(reason.contains("needs a string attribute"), "{f}: {reason}")
                }
                other => panic!("{f}: {other:?}"),
            }
        }
        let e = invalid(r#"name eq "Barbara""#);
        assert_eq!(
            e.to_string(),
            "invalid filter on \"name\": a complex attribute cannot be compared directly; \
             compare one of its sub-attributes, such as \"name.givenName\""
        );
        assert!(matches!(
            invalid(r#"meta gt "x""#),
            FilterError::Unsupported { .. }
        ));
        let e = invalid(r#"userName[value eq "x"]"#);
        assert!(e.to_string().contains("needs a complex attribute"), "{e}");
        let e = invalid(r#"emails[emails.type eq "x"]"#);
        assert!(
            e.to_string().contains("name a sub-attribute of emails"),
            "{e}"
        );
        let nested = Filter::ValuePath {
            attr: path("emails"),
            filter: Box::new(Filter::ValuePath {
                attr: path("type"),
                filter: Box::new(pr("value")),
            }),
        };
        match validate(&nested, &test_schema()) {
            Err(FilterError::Unsupported { reason, .. }) => assert!(reason.contains("nested")),
            other => panic!("{other:?}"),
        }
    }

    // ----- property tests -----------------------------------------------------------------

    pub(crate) fn arb_comp_value() -> impl Strategy<Value = CompValue> {
        prop_oneof![
            Just(CompValue::Null),
            any::<bool>().prop_map(CompValue::Bool),
            any::<i64>().prop_map(|n| CompValue::Number(n.into())),
            any::<u64>().prop_map(|n| CompValue::Number(n.into())),
            any::<f64>()
                .prop_filter_map("finite", serde_json::Number::from_f64)
                .prop_map(CompValue::Number),
            any::<String>().prop_map(CompValue::Str),
            "[a-z@. ]{0,8}".prop_map(CompValue::Str),
        ]
    }

    fn arb_op() -> impl Strategy<Value = CompareOp> {
        proptest::sample::select(CompareOp::ALL.to_vec())
    }

    fn arb_leaf(paths: BoxedStrategy<AttrPath>) -> impl Strategy<Value = Filter> {
        prop_oneof![
            (paths.clone(), arb_op(), arb_comp_value())
                .prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
            paths.prop_map(Filter::Present),
        ]
    }

    fn combine(inner: BoxedStrategy<Filter>) -> impl Strategy<Value = Filter> {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::and(a, b)),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::or(a, b)),
            inner.prop_map(Filter::negate),
        ]
    }

    /// Filters fit for the inside of `[…]`: relative names, no value paths.
    pub(crate) fn arb_value_filter() -> impl Strategy<Value = Filter> {
        let names = arb_name().prop_map(AttrPath::new).boxed();
        arb_leaf(names).prop_recursive(4, 24, 2, |inner| combine(inner.boxed()))
    }

    pub(crate) fn arb_filter() -> impl Strategy<Value = Filter> {
        let value_path =
            (arb_attr_path(), arb_value_filter()).prop_map(|(attr, filter)| Filter::ValuePath {
                attr: attr.parent(),
                filter: Box::new(filter),
            });
        prop_oneof![3 => arb_leaf(arb_attr_path().boxed()), 1 => value_path].prop_recursive(
            5,
            32,
            2,
            |inner| combine(inner.boxed()),
        )
    }

    /// Resource-shaped JSON: the names the schema knows, nested, with any kind of value.
    fn arb_json() -> impl Strategy<Value = Value> {
        let key = proptest::sample::select(vec![
            "userName",
            "USERNAME",
            "id",
            "active",
            "emails",
            "type",
            "value",
            "primary",
            "name",
            "givenName",
            "meta",
            "lastModified",
            "loginCount",
            "photo",
            "members",
            "$ref",
            "employeeNumber",
            "manager",
            urn::ENTERPRISE_USER,
            "x",
        ]);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            Just(json!("2011-05-13T04:42:34Z")),
            "[a-zA-Z@. ]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec((key.clone(), inner), 0..6).prop_map(|members| {
                    Value::Object(
                        members
                            .into_iter()
                            .map(|(k, v)| (k.to_string(), v))
                            .collect(),
                    )
                }),
            ]
        })
    }

    proptest! {
        // Case-insensitive comparison is that of the Unicode lowercase forms, whatever path it
        // takes (ASCII strings are compared without making them).
        #[test]
        fn strings_compare_as_their_lowercase_forms(
            a in "[a-cA-C@._]{0,6}|\\PC{0,6}",
            b in "[a-cA-C@._]{0,4}|\\PC{0,4}",
        ) {
            for op in CompareOp::ALL {
                let (la, lb) = (a.to_lowercase(), b.to_lowercase());
                let expected = match op {
                    CompareOp::Co => la.contains(&lb),
                    CompareOp::Sw => la.starts_with(&lb),
                    CompareOp::Ew => la.ends_with(&lb),
                    _ => ordered(op, la.cmp(&lb)),
                };
                prop_assert_eq!(compare_strings(&a, &b, op, false), expected, "{} {} {}", a, op.as_str(), b);
                prop_assert_eq!(compare_strings(&a, &b, op, true), compare_str(&a, &b, op));
            }
        }

        #[test]
        fn display_parses_back_to_the_same_filter(filter in arb_filter()) {
            let text = filter.to_string();
            prop_assert_eq!(Filter::parse(&text).unwrap(), filter, "{}", text);
        }

        #[test]
        fn canonical_text_is_a_fixed_point(s in "[a-zA-Z.:\\[\\]()\" 0-9]{0,48}") {
            if let Ok(filter) = Filter::parse(&s) {
                let text = filter.to_string();
                prop_assert_eq!(Filter::parse(&text).unwrap(), filter);
            }
        }

        #[test]
        fn the_parser_never_panics(
            any_text in "\\PC{0,64}",
            filterish in "(not|and|or|eq|pr|[a-z]{1,3}|[.:\\[\\]()\" ]|\\\\|-?[0-9.e]{1,3}){0,24}",
        ) {
            let _ = Filter::parse(&any_text);
            let _ = Filter::parse(&filterish);
        }

        #[test]
        fn matches_never_panics(filter in arb_filter(), resource in arb_json()) {
            let schema = test_schema();
            let _ = matches(&filter, &resource, &schema);
            let _ = validate(&filter, &schema);
        }

        #[test]
        fn not_inverts_any_filter(filter in arb_filter(), resource in arb_json()) {
            let schema = test_schema();
            prop_assert_eq!(
                matches(&Filter::negate(filter.clone()), &resource, &schema),
                !matches(&filter, &resource, &schema)
            );
        }
    }

    // ----- schema used by the evaluation tests ----------------------------------------------

    pub(crate) fn test_schema() -> ResourceSchema {
        fn attr(name: &str, ty: &str, multi: bool, case_exact: bool, subs: Value) -> Value {
            json!({
                "name": name, "type": ty, "multiValued": multi, "caseExact": case_exact,
                "mutability": "readWrite", "returned": "default", "subAttributes": subs,
            })
        }
        let s = |name: &str| attr(name, "string", false, false, json!([]));
        let core = json!({
            "id": urn::USER, "name": "User",
            "attributes": [
                attr("id", "string", false, true, json!([])),
                attr("externalId", "string", false, true, json!([])),
                s("userName"),
                s("displayName"),
                s("nickName"),
                s("title"),
                s("userType"),
                attr("active", "boolean", false, false, json!([])),
                attr("loginCount", "integer", false, false, json!([])),
                attr("score", "decimal", false, false, json!([])),
                attr("photo", "binary", false, true, json!([])),
                attr("schemas", "reference", true, true, json!([])),
                attr("name", "complex", false, false, json!([s("givenName"), s("familyName")])),
                attr("emails", "complex", true, false, json!([
                    s("value"), s("type"), attr("primary", "boolean", false, false, json!([])),
                ])),
                attr("members", "complex", true, false, json!([
                    attr("value", "string", false, true, json!([])),
                    attr("$ref", "reference", false, true, json!([])),
                    s("display"),
                ])),
                attr("meta", "complex", false, false, json!([
                    s("resourceType"),
                    attr("created", "dateTime", false, false, json!([])),
                    attr("lastModified", "dateTime", false, false, json!([])),
                ])),
            ],
        });
        let enterprise = json!({
            "id": urn::ENTERPRISE_USER, "name": "EnterpriseUser",
            "attributes": [
                s("employeeNumber"),
                s("department"),
                attr("manager", "complex", false, false, json!([
                    attr("value", "string", false, true, json!([])), s("displayName"),
                ])),
            ],
        });
        ResourceSchema {
            name: "User".into(),
            endpoint: "/Users".into(),
            core: serde_json::from_value(core).unwrap(),
            extensions: vec![serde_json::from_value(enterprise).unwrap()],
        }
    }
}
