//! List and query handling (RFC 7644 §3.4.2): query parameters, ListResponse, sorting, and the
//! `attributes` / `excludedAttributes` projection (RFC 7644 §3.9) that every response carrying
//! resources goes through.
//!
//! Lenient where identity providers are sloppy (`docs/idp/*.md`): parameter names match
//! case-insensitively, unknown parameters (Entra's `aadOptscim062020`…) are ignored, `+` decodes
//! as a space, out-of-range `startIndex`/`count` are clamped as §3.4.2.4 says. Strict only where a
//! value cannot be understood (a non-numeric `count`, an unknown `sortOrder`): 400 invalidValue.
//!
//! Not here: parsing and evaluating the filter ([`super::filter`]; the raw `filter` string is
//! kept), fetching pages from the legacy API (the mapping engine), HTTP.

use std::cmp::Ordering;

use serde_json::{json, Map, Value};

use super::filter::Node;
use super::path::AttrPath;
use super::schema::{AttrType, AttributeDef, ResourceSchema, Returned, SchemaDef};
use super::{urn, ScimError};

/// A list/query request's parameters (RFC 7644 §3.4.2), validated and clamped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The raw filter expression (decoded from the query string), parsed by the caller. An
    /// empty `filter=` counts as no filter.
    pub(crate) filter: Option<String>,
    /// 1-based index of the first result; at least 1.
    pub(crate) start_index: usize,
    /// How many resources to return at most: between 0 and the server's maximum, which is also
    /// the default.
    pub(crate) count: usize,
    pub(crate) sort_by: Option<AttrPath>,
    /// `sortOrder=descending`; ascending is the default (RFC 7644 §3.4.2.3).
    pub(crate) descending: bool,
    pub attributes: Vec<AttrPath>,
    pub excluded_attributes: Vec<AttrPath>,
}

/// Why a query string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum QueryError {
    #[error("query parameter {param} must be an integer, got {value:?}")]
    NotAnInteger { param: &'static str, value: String },
    #[error("query parameter sortOrder must be \"ascending\" or \"descending\", got {0:?}")]
    SortOrder(String),
    #[error("query parameter {param} has an invalid attribute path {value:?}: {reason}")]
    Path {
        param: &'static str,
        value: String,
        reason: String,
    },
}

impl From<QueryError> for ScimError {
    fn from(e: QueryError) -> Self {
        ScimError::invalid_value(e.to_string())
    }
}

impl ListQuery {
    /// Parses a query string (`filter=userName+eq+%22x%22&startIndex=1&count=100`, with or
    /// without the leading `?`). `max_count` bounds `count` and is its default.
    pub fn from_query_string(q: &str, max_count: usize) -> Result<ListQuery, ScimError> {
        Self::parse(q, max_count).map_err(ScimError::from)
    }

    /// From the body of `POST /.search` (RFC 7644 §3.4.3): the same parameters as the query
    /// string, as JSON members (`attributes` and `excludedAttributes` as arrays or strings).
    pub(crate) fn from_search_request(
        body: &Value,
        max_count: usize,
    ) -> Result<ListQuery, ScimError> {
        let Some(obj) = body.as_object() else {
            return Err(ScimError::invalid_syntax(
                "a search request must be a JSON object",
            ));
        };
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (name, value) in obj {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                _ => continue,
            };
            q.append_pair(name, &text);
        }
        Self::from_query_string(&q.finish(), max_count)
    }

    fn parse(q: &str, max_count: usize) -> Result<ListQuery, QueryError> {
        let mut query = ListQuery {
            filter: None,
            start_index: 1,
            count: max_count,
            sort_by: None,
            descending: false,
            attributes: Vec::new(),
            excluded_attributes: Vec::new(),
        };
        let q = q.strip_prefix('?').unwrap_or(q);
        // A repeated parameter: the last one wins.
        let mut lower = [0u8; PARAM_ROOM];
        for (name, raw) in form_urlencoded::parse(q.as_bytes()) {
            let value = raw.trim();
            // A name longer than every parameter's is none of them.
            let name = lowercase_in(&name, &mut lower).unwrap_or_default();
            match name {
                "filter" => {
                    query.filter = if value.is_empty() {
                        None
                    } else if value.len() == raw.len() {
                        Some(raw.into_owned())
                    } else {
                        Some(value.to_owned())
                    }
                }
                "startindex" => {
                    if let Some(n) = integer("startIndex", value)? {
                        // RFC 7644 §3.4.2.4: "A value less than 1 SHALL be interpreted as 1."
                        query.start_index = usize::try_from(n.max(1)).unwrap_or(usize::MAX);
                    }
                }
                "count" => {
                    if let Some(n) = integer("count", value)? {
                        // "A negative value SHALL be interpreted as 0"; above the maximum, the
                        // maximum.
                        query.count = usize::try_from(n.max(0))
                            .unwrap_or(usize::MAX)
                            .min(max_count);
                    }
                }
                "sortby" => {
                    query.sort_by = if value.is_empty() {
                        None
                    } else {
                        Some(path("sortBy", value)?)
                    }
                }
                "sortorder" => {
                    query.descending =
                        if value.is_empty() || value.eq_ignore_ascii_case("ascending") {
                            false
                        } else if value.eq_ignore_ascii_case("descending") {
                            true
                        } else {
                            return Err(QueryError::SortOrder(value.to_string()));
                        }
                }
                "attributes" => query.attributes = paths("attributes", value)?,
                "excludedattributes" => {
                    query.excluded_attributes = paths("excludedAttributes", value)?
                }
                _ => {}
            }
        }
        Ok(query)
    }

    /// The slice of `items` this query asks for, when the whole result set is at hand (the
    /// gateway evaluated the filter itself): `count` items from the 1-based `start_index`.
    #[cfg(test)]
    pub(crate) fn page<'a, T>(&self, items: &'a [T]) -> &'a [T] {
        let r = self.page_range(items.len());
        &items[r]
    }

    /// The 0-based range of a result set of `total` items this query asks for.
    #[cfg(test)]
    pub(crate) fn page_range(&self, total: usize) -> std::ops::Range<usize> {
        let start = self.start_index.saturating_sub(1).min(total);
        let end = start.saturating_add(self.count).min(total);
        start..end
    }
}

/// Room for the longest parameter name, `excludedAttributes`.
const PARAM_ROOM: usize = 18;

/// `name` in ASCII lower case, written in `buf`; `None` when it does not fit.
fn lowercase_in<'b>(name: &str, buf: &'b mut [u8; PARAM_ROOM]) -> Option<&'b str> {
    let out = buf.get_mut(..name.len())?;
    out.copy_from_slice(name.as_bytes());
    out.make_ascii_lowercase();
    std::str::from_utf8(out).ok()
}

/// An integer parameter: `None` when empty, saturated when out of `i64` range.
fn integer(param: &'static str, value: &str) -> Result<Option<i64>, QueryError> {
    if value.is_empty() {
        return Ok(None);
    }
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(QueryError::NotAnInteger {
            param,
            value: value.to_string(),
        });
    }
    Ok(Some(value.parse::<i64>().unwrap_or(
        if value.starts_with('-') {
            i64::MIN
        } else {
            i64::MAX
        },
    )))
}

fn path(param: &'static str, value: &str) -> Result<AttrPath, QueryError> {
    AttrPath::parse(value).map_err(|e| QueryError::Path {
        param,
        value: value.to_string(),
        reason: e.to_string(),
    })
}

/// A comma-separated list of attribute paths (RFC 7644 §3.4.2.5); empty items are skipped.
fn paths(param: &'static str, value: &str) -> Result<Vec<AttrPath>, QueryError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| path(param, s))
        .collect()
}

/// A ListResponse (RFC 7644 §3.4.2): `totalResults`, `itemsPerPage` (the number of resources
/// in this page) and `startIndex` are JSON integers, as Okta requires; `Resources` is present
/// even when empty, as Entra's "Test connection" expects.
pub(crate) fn list_response(resources: Vec<Value>, total: usize, start_index: usize) -> Value {
    // Built field by field: `json!` would copy every resource through a serializer.
    let mut body = Map::new();
    body.insert("schemas".into(), json!([urn::LIST_RESPONSE]));
    body.insert("totalResults".into(), json!(total));
    body.insert("itemsPerPage".into(), json!(resources.len()));
    body.insert("startIndex".into(), json!(start_index));
    body.insert("Resources".into(), Value::Array(resources));
    Value::Object(body)
}

/// [`list_response`] written out as JSON text into `out`, the same keys in the same order;
/// `write(out, n)` writes the n-th of the page's `items` resources.
pub(crate) fn write_list_response(
    out: &mut Vec<u8>,
    total: usize,
    items: usize,
    start_index: usize,
    mut write: impl FnMut(&mut Vec<u8>, usize),
) {
    out.extend_from_slice(b"{\"schemas\":[\"");
    out.extend_from_slice(urn::LIST_RESPONSE.as_bytes());
    // The numbers written as serde_json writes them (`format!` costs ten times as much).
    let mut number = |key: &[u8], n: usize| {
        out.extend_from_slice(key);
        // Not reached with an error: writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, &n);
    };
    number(b"\"],\"totalResults\":", total);
    number(b",\"itemsPerPage\":", items);
    number(b",\"startIndex\":", start_index);
    out.extend_from_slice(b",\"Resources\":[");
    for at in 0..items {
        if at > 0 {
            out.push(b',');
        }
        write(out, at);
    }
    out.extend_from_slice(b"]}");
}

// ---------------------------------------------------------------------------------------------
// Projection (RFC 7644 §3.9)

/// Where an attribute lives in a resource: at the top level, or in the object under an
/// extension's URN key.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Container {
    Top,
    Extension(String),
}

impl Container {
    fn is(&self, other: &Container) -> bool {
        match other {
            Container::Top => *self == Container::Top,
            Container::Extension(urn) => self.is_extension(urn),
        }
    }

    fn is_extension(&self, urn: &str) -> bool {
        matches!(self, Container::Extension(u) if u.eq_ignore_ascii_case(urn))
    }
}

/// One requested or excluded path, located in the resource's layout.
#[derive(Debug)]
enum Selector {
    /// A whole extension (`attributes=urn:…:enterprise:2.0:User`).
    Extension(String),
    Attr {
        container: Container,
        name: String,
        sub: Option<String>,
    },
}

fn selector(path: &AttrPath, schema: &ResourceSchema) -> Selector {
    if let (Some(urn), None) = (&path.schema, &path.sub) {
        let whole = format!("{urn}:{}", path.name);
        if schema.extension(&whole).is_some() {
            return Selector::Extension(whole);
        }
    }
    match schema.find(path) {
        Some(r) => Selector::Attr {
            container: if r.is_extension(schema) {
                Container::Extension(r.schema.id.clone())
            } else {
                Container::Top
            },
            name: r.attr.name.clone(),
            sub: r.sub.map(|s| s.name.clone()),
        },
        // Not in the schema: match the resource's keys as written.
        None => Selector::Attr {
            container: match &path.schema {
                Some(u) if !u.eq_ignore_ascii_case(&schema.core.id) => {
                    Container::Extension(u.clone())
                }
                _ => Container::Top,
            },
            name: path.name.clone(),
            sub: path.sub.clone(),
        },
    }
}

/// What a selector list says about one attribute.
enum Mention {
    None,
    Whole,
    Subs(Vec<String>),
}

fn mention(selectors: &[Selector], container: &Container, name: &str) -> Mention {
    let mut subs = Vec::new();
    for s in selectors {
        match s {
            Selector::Extension(urn) if container.is_extension(urn) => return Mention::Whole,
            Selector::Attr {
                container: c,
                name: n,
                sub,
            } if c.is(container) && n.eq_ignore_ascii_case(name) => match sub {
                None => return Mention::Whole,
                Some(sub) => subs.push(sub.clone()),
            },
            _ => {}
        }
    }
    if subs.is_empty() {
        Mention::None
    } else {
        Mention::Subs(subs)
    }
}

struct Projection<'a> {
    schema: &'a ResourceSchema,
    /// `attributes` was given: only what it names (and `returned: always`) is returned.
    only: Option<Vec<Selector>>,
    excluded: Vec<Selector>,
}

/// Projects a resource for a response (RFC 7644 §3.9), by the `returned` characteristic of each
/// attribute and sub-attribute:
/// - `always` (`id`, and the `schemas` member) is kept whatever is asked;
/// - `never` (`password`) is always removed;
/// - `default` is kept unless `attributes` is given and does not name it, or
///   `excludedAttributes` names it;
/// - `request` is kept only when `attributes` names it.
///
/// Attributes unknown to the schema count as `default`. Extension attributes are looked up under
/// their URN key, and naming the URN alone selects or excludes the whole extension. Names
/// compare case-insensitively; `name.givenName` keeps or removes one sub-attribute, in every
/// element of a multi-valued attribute. The RFC makes the two parameters mutually exclusive;
/// when a client sends both, both apply.
pub fn project(
    resource: &Value,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
    schema: &ResourceSchema,
) -> Value {
    let Value::Object(obj) = resource else {
        return resource.clone();
    };
    let p = Projection {
        schema,
        only: (!attributes.is_empty())
            .then(|| attributes.iter().map(|a| selector(a, schema)).collect()),
        excluded: excluded.iter().map(|a| selector(a, schema)).collect(),
    };
    let mut out = Map::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            out.insert(key.clone(), value.clone());
            continue;
        }
        let extension = schema.extension(key).map(|s| s.id.as_str());
        let is_container = extension.is_some()
            || (value.is_object() && key.get(..4).is_some_and(|k| k.eq_ignore_ascii_case("urn:")));
        if let (true, Value::Object(inner)) = (is_container, value) {
            let container = Container::Extension(extension.unwrap_or(key).to_string());
            let kept = p.object(&container, inner);
            if !kept.is_empty() {
                out.insert(key.clone(), Value::Object(kept));
            }
        } else if let Some(v) = p.attribute(&Container::Top, key, value) {
            out.insert(key.clone(), v);
        }
    }
    Value::Object(out)
}

/// [`project`] for a resource the caller owns. With no `attributes` and no
/// `excludedAttributes`, a resource that holds nothing `returned: never` or `request` comes back
/// as it is instead of being rebuilt — the common case of every GET, PUT and PATCH answer.
pub(crate) fn project_owned(
    resource: Value,
    attributes: &[AttrPath],
    excluded: &[AttrPath],
    schema: &ResourceSchema,
) -> Value {
    if attributes.is_empty() && excluded.is_empty() && !holds_hidden(&resource, schema) {
        return resource;
    }
    project(&resource, attributes, excluded, schema)
}

/// Whether the default projection would remove anything: an attribute (or one with a
/// sub-attribute) that is `returned: never` or `request`.
fn holds_hidden(resource: &Value, schema: &ResourceSchema) -> bool {
    let Value::Object(obj) = resource else {
        return false;
    };
    // Looked up by name in the schema's own lists: this runs on every response, and the common
    // attributes (`id`, `meta`…) are never hidden.
    obj.iter()
        .any(|(key, value)| match (schema.extension(key), value) {
            (Some(ext), Value::Object(inner)) => inner.keys().any(|k| hidden_in(ext, k)),
            _ => hidden_in(&schema.core, key),
        })
}

/// Whether the default projection removes attribute `name` of `schema` (or one of its
/// sub-attributes): `returned: never` or `request`.
pub(crate) fn hidden_in(schema: &SchemaDef, name: &str) -> bool {
    let hidden = |d: &AttributeDef| matches!(d.returned, Returned::Never | Returned::Request);
    schema
        .attribute(name)
        .is_some_and(|d| hidden(d) || d.sub_attributes.iter().any(hidden))
}

impl Projection<'_> {
    fn object(&self, container: &Container, obj: &Map<String, Value>) -> Map<String, Value> {
        obj.iter()
            .filter_map(|(k, v)| Some((k.clone(), self.attribute(container, k, v)?)))
            .collect()
    }

    fn definition(&self, container: &Container, name: &str) -> Option<&AttributeDef> {
        let urn = match container {
            Container::Top => &self.schema.core.id,
            Container::Extension(u) => u,
        };
        let path = AttrPath {
            schema: Some(urn.clone()),
            name: name.to_string(),
            sub: None,
        };
        self.schema.find(&path).map(|r| r.attr)
    }

    /// The projected value of one attribute, or `None` to leave it out.
    fn attribute(&self, container: &Container, name: &str, value: &Value) -> Option<Value> {
        let def = self.definition(container, name);
        let returned = def.map_or(Returned::Default, |d| d.returned);
        let excluded = mention(&self.excluded, container, name);
        let requested = self
            .only
            .as_ref()
            .map(|only| mention(only, container, name));
        let requested_whole = matches!(requested, Some(Mention::Whole));
        // Which sub-attributes to keep: `None` for all of them (subject to their own `returned`).
        let keep_subs: Option<Vec<String>> = match returned {
            Returned::Never => return None,
            Returned::Always => None,
            Returned::Default | Returned::Request => match requested {
                Some(Mention::None) => return None,
                None if returned == Returned::Request => return None,
                None | Some(Mention::Whole) => None,
                Some(Mention::Subs(subs)) => Some(subs),
            },
        };
        let drop_subs = match excluded {
            Mention::Whole if returned != Returned::Always => return None,
            Mention::Subs(subs) => subs,
            _ => Vec::new(),
        };
        let sub_filter = SubFilter {
            def,
            keep: keep_subs,
            drop: drop_subs,
            requested_whole,
        };
        sub_filter.apply(value)
    }
}

/// Which sub-attributes of a complex value survive.
struct SubFilter<'a> {
    def: Option<&'a AttributeDef>,
    keep: Option<Vec<String>>,
    drop: Vec<String>,
    /// The attribute was named in `attributes`: its `request` sub-attributes come along.
    requested_whole: bool,
}

impl SubFilter<'_> {
    /// The surviving part of a value; a complex value (or element) that had sub-attributes and
    /// lost them all is left out, and so is a multi-valued attribute that lost every element.
    fn apply(&self, value: &Value) -> Option<Value> {
        match value {
            Value::Array(items) => {
                let kept: Vec<Value> = items.iter().filter_map(|i| self.complex(i)).collect();
                (!kept.is_empty() || items.is_empty()).then_some(Value::Array(kept))
            }
            other => self.complex(other),
        }
    }

    fn complex(&self, value: &Value) -> Option<Value> {
        match value {
            Value::Object(obj) => {
                let kept = self.object(obj);
                (!kept.is_empty() || obj.is_empty()).then_some(Value::Object(kept))
            }
            other => Some(other.clone()),
        }
    }

    fn object(&self, obj: &Map<String, Value>) -> Map<String, Value> {
        let named = |list: &[String], k: &str| list.iter().any(|s| s.eq_ignore_ascii_case(k));
        obj.iter()
            .filter(|(k, _)| {
                let returned = self
                    .def
                    .and_then(|d| d.sub_attribute(k))
                    .map_or(Returned::Default, |d| d.returned);
                match returned {
                    Returned::Never => false,
                    Returned::Always => true,
                    Returned::Default | Returned::Request => {
                        let selected = match &self.keep {
                            Some(keep) => named(keep, k),
                            None => returned == Returned::Default || self.requested_whole,
                        };
                        selected && !named(&self.drop, k)
                    }
                }
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Sorting (RFC 7644 §3.4.2.3)

/// A sort key. Variants are ordered: values of different types sort by type first.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
pub(crate) enum SortKey {
    Bool(bool),
    Number(f64),
    Time(i128),
    Text(String),
}

fn compare_keys(a: &Option<SortKey>, b: &Option<SortKey>) -> Ordering {
    match (a, b) {
        // Missing values sort last in ascending order (and so first in descending order).
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(SortKey::Number(x)), Some(SortKey::Number(y))) => x.total_cmp(y),
        (Some(x), Some(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
    }
}

/// Sorts resources by an attribute (RFC 7644 §3.4.2.3). Strings compare case-insensitively
/// unless the attribute is `caseExact`; dateTimes compare as instants; a multi-valued attribute
/// sorts by its primary value, else its first (for a complex one, its `value` unless the path
/// names a sub-attribute). Resources without a value come last in ascending order and first in
/// descending order. The sort is stable. An attribute unknown to the schema is read as written
/// and compared as a case-insensitive string.
pub(crate) fn sort<T: Sorted>(
    resources: &mut Vec<T>,
    by: &AttrPath,
    descending: bool,
    schema: &ResourceSchema,
) {
    let by = SortBy::of(by, schema);
    let mut keyed: Vec<(Option<SortKey>, usize)> = resources
        .iter()
        .enumerate()
        .map(|(at, r)| (r.sort_key(&by), at))
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        let o = compare_keys(a, b);
        if descending {
            o.reverse()
        } else {
            o
        }
    });
    let mut taken: Vec<Option<T>> = std::mem::take(resources).into_iter().map(Some).collect();
    resources.extend(
        keyed
            .into_iter()
            .filter_map(|(_, at)| taken.get_mut(at).and_then(Option::take)),
    );
}

/// A resource a list sorts: a JSON value, or another holding of one read through
/// [`filter::Node`] (the key is the same).
pub(crate) trait Sorted {
    fn sort_key(&self, by: &SortBy) -> Option<SortKey>;
}

impl Sorted for Value {
    fn sort_key(&self, by: &SortBy) -> Option<SortKey> {
        by.key(self)
    }
}

/// Where a resource's sort value is, and how it compares (see [`sort`]).
pub(crate) struct SortBy {
    container: Option<String>,
    name: String,
    sub: Option<String>,
    case_exact: bool,
    date_time: bool,
}

impl SortBy {
    pub(crate) fn of(by: &AttrPath, schema: &ResourceSchema) -> SortBy {
        let resolved = schema.find(by);
        let leaf = resolved.map(|r| r.leaf());
        let (container, name, sub) = match resolved {
            Some(r) => (
                r.is_extension(schema).then(|| r.schema.id.clone()),
                r.attr.name.clone(),
                r.sub.map(|s| s.name.clone()),
            ),
            None => (
                by.schema
                    .clone()
                    .filter(|u| !u.eq_ignore_ascii_case(&schema.core.id)),
                by.name.clone(),
                by.sub.clone(),
            ),
        };
        SortBy {
            container,
            name,
            sub,
            case_exact: leaf.is_some_and(|d| d.case_exact),
            date_time: leaf.is_some_and(|d| d.attr_type == AttrType::DateTime),
        }
    }

    /// The sort key of `resource`.
    pub(crate) fn key<'v, N: Node<'v>>(&self, resource: N) -> Option<SortKey> {
        let holder = match &self.container {
            Some(urn) => resource.member(urn)?,
            None => resource,
        };
        // A multi-valued attribute: its primary value, else its first (an empty one: none).
        let mut values = holder.member(&self.name)?.elements();
        let first = values.next()?;
        let is_primary =
            |v: &N| v.member("primary").and_then(Node::value) == Some(&Value::Bool(true));
        let value = if is_primary(&first) {
            first
        } else {
            values.find(is_primary).unwrap_or(first)
        };
        let value = match (value.is_object(), &self.sub) {
            (true, Some(sub)) => value.member(sub)?,
            (true, None) => value.member("value")?,
            (false, Some(_)) => return None,
            (false, None) => value,
        };
        sort_key(value.value()?, self.case_exact, self.date_time)
    }
}

fn sort_key(value: &Value, case_exact: bool, date_time: bool) -> Option<SortKey> {
    match value {
        Value::Bool(b) => Some(SortKey::Bool(*b)),
        Value::Number(n) => n.as_f64().map(SortKey::Number),
        Value::String(s) => {
            if date_time {
                let format = time::format_description::well_known::Rfc3339;
                if let Ok(t) = time::OffsetDateTime::parse(s, &format) {
                    return Some(SortKey::Time(t.unix_timestamp_nanos()));
                }
            }
            Some(SortKey::Text(if case_exact {
                s.clone()
            } else {
                s.to_lowercase()
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::json_text;
    use proptest::prelude::*;

    fn p(s: &str) -> AttrPath {
        AttrPath::parse(s).unwrap()
    }

    fn q(s: &str) -> ListQuery {
        ListQuery::from_query_string(s, 100).unwrap()
    }

    fn user() -> &'static ResourceSchema {
        ResourceSchema::user()
    }

    // -- query string ------------------------------------------------------------------------

    #[test]
    fn defaults_without_parameters() {
        let lq = q("");
        assert_eq!(lq.filter, None);
        assert_eq!(lq.start_index, 1);
        assert_eq!(lq.count, 100);
        assert_eq!(lq.sort_by, None);
        assert!(!lq.descending);
        assert!(lq.attributes.is_empty() && lq.excluded_attributes.is_empty());
    }

    #[test]
    fn entra_form_encoded_filter_decodes_plus_as_space() {
        let lq = q("?filter=userName+eq+%22ada%40example.com%22&aadOptscim062020");
        assert_eq!(
            lq.filter.as_deref(),
            Some("userName eq \"ada@example.com\"")
        );
        let lq = q("filter=userName%20eq%20%22a%2Bb%22&startIndex=1&count=100");
        assert_eq!(lq.filter.as_deref(), Some("userName eq \"a+b\""));
    }

    #[test]
    fn entra_group_probe_excludes_members() {
        let lq = q("excludedAttributes=members&filter=displayName+eq+%22x%22");
        assert_eq!(lq.excluded_attributes, vec![p("members")]);
        assert_eq!(lq.filter.as_deref(), Some("displayName eq \"x\""));
    }

    #[test]
    fn parameter_names_are_case_insensitive_and_unknown_ones_ignored() {
        let lq = q("STARTINDEX=3&Count=7&SortBy=name.familyName&SORTORDER=Descending&foo=bar");
        assert_eq!(lq.start_index, 3);
        assert_eq!(lq.count, 7);
        assert_eq!(lq.sort_by, Some(p("name.familyName")));
        assert!(lq.descending);
    }

    #[test]
    fn pagination_is_clamped_as_the_rfc_says() {
        assert_eq!(q("startIndex=0").start_index, 1);
        assert_eq!(q("startIndex=-5").start_index, 1);
        assert_eq!(q("count=-1").count, 0);
        assert_eq!(q("count=0").count, 0);
        assert_eq!(q("count=1000").count, 100);
        assert_eq!(q("count=99999999999999999999999").count, 100);
        assert_eq!(
            q("startIndex=99999999999999999999999").start_index as u64,
            i64::MAX as u64
        );
        assert_eq!(q("startIndex=+2").start_index, 2);
    }

    #[test]
    fn non_numeric_pagination_is_invalid_value() {
        for bad in [
            "count=ten",
            "startIndex=1.5",
            "count=-",
            "startIndex=0x10",
            "count=1e3",
        ] {
            let e = ListQuery::from_query_string(bad, 100).unwrap_err();
            assert_eq!(e.status, 400, "{bad}");
            assert_eq!(
                e.scim_type,
                Some(crate::scim::ScimType::InvalidValue),
                "{bad}"
            );
            assert!(e.detail.contains("integer"), "{bad}: {}", e.detail);
        }
    }

    #[test]
    fn sort_order_must_be_known() {
        assert!(!q("sortBy=userName&sortOrder=ASCENDING").descending);
        let e = ListQuery::from_query_string("sortOrder=up", 100).unwrap_err();
        assert_eq!(e.scim_type, Some(crate::scim::ScimType::InvalidValue));
    }

    #[test]
    fn attribute_lists_are_comma_separated_paths() {
        let lq = q("attributes=userName,+name.givenName,,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department");
        assert_eq!(
            lq.attributes,
            vec![
                p("userName"),
                p("name.givenName"),
                p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department")
            ]
        );
        let e = ListQuery::from_query_string("attributes=user%20name", 100).unwrap_err();
        assert_eq!(e.status, 400);
        assert!(e.detail.contains("attributes"));
    }

    #[test]
    fn empty_values_mean_absent() {
        let lq = q("filter=&count=&startIndex=&sortBy=&sortOrder=&attributes=");
        assert_eq!(lq, q(""));
    }

    #[test]
    fn page_slices_the_result_set() {
        let items: Vec<u32> = (1..=10).collect();
        assert_eq!(q("startIndex=1&count=3").page(&items), &[1, 2, 3]);
        assert_eq!(q("startIndex=9&count=5").page(&items), &[9, 10]);
        assert!(q("startIndex=11").page(&items).is_empty());
        assert!(q("count=0").page(&items).is_empty());
        assert_eq!(q("startIndex=99999999999999999999").page_range(10), 10..10);
    }

    // -- ListResponse -----------------------------------------------------------------------

    #[test]
    fn a_list_response_written_out_is_the_value_as_text() {
        let resources = vec![json!({"id": "1", "userName": "a\"b"}), json!({"id": "2"})];
        let mut out = Vec::new();
        write_list_response(&mut out, 57, 2, 11, |out, at| {
            json_text::write_value(out, &resources[at])
        });
        assert_eq!(
            String::from_utf8(out).unwrap(),
            list_response(resources.clone(), 57, 11).to_string()
        );
        let mut empty = Vec::new();
        write_list_response(&mut empty, 0, 0, 1, |_, _| ());
        assert_eq!(
            serde_json::from_slice::<Value>(&empty).unwrap(),
            list_response(Vec::new(), 0, 1)
        );
    }

    #[test]
    fn list_response_has_integer_counts_and_resources() {
        let r = list_response(vec![json!({"id": "1"}), json!({"id": "2"})], 57, 11);
        assert_eq!(r["schemas"], json!([urn::LIST_RESPONSE]));
        assert_eq!(r["totalResults"], json!(57));
        assert_eq!(r["itemsPerPage"], json!(2));
        assert_eq!(r["startIndex"], json!(11));
        assert!(r["totalResults"].is_u64() && r["itemsPerPage"].is_u64());
        assert_eq!(r["Resources"][1]["id"], "2");

        let empty = list_response(Vec::new(), 0, 1);
        assert_eq!(empty["Resources"], json!([]));
        assert_eq!(empty["itemsPerPage"], json!(0));
    }

    // -- projection -------------------------------------------------------------------------

    fn babs() -> Value {
        json!({
            "schemas": [urn::USER, urn::ENTERPRISE_USER],
            "id": "2819c223",
            "externalId": "701984",
            "userName": "bjensen",
            "password": "t1meMa$heen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "groups": [{"value": "g1", "display": "Tour Guides"}],
            urn::ENTERPRISE_USER: {
                "employeeNumber": "701984",
                "department": "Tour Operations",
                "manager": {"value": "26118915", "displayName": "John Smith"}
            },
            "meta": {"resourceType": "User", "location": "https://h/Users/2819c223"}
        })
    }

    fn proj(attrs: &str, excluded: &str) -> Value {
        let lq = q(&format!("attributes={attrs}&excludedAttributes={excluded}"));
        project(&babs(), &lq.attributes, &lq.excluded_attributes, user())
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn default_projection_drops_only_never_returned_attributes() {
        let out = proj("", "");
        assert!(out.get("password").is_none());
        let mut expected = babs();
        expected.as_object_mut().unwrap().remove("password");
        assert_eq!(out, expected);
    }

    #[test]
    fn attributes_keep_only_what_is_named_plus_always_returned() {
        let out = proj("userName", "");
        assert_eq!(keys(&out), ["schemas", "id", "userName"]);

        let out = proj("name.familyName,emails.value", "");
        assert_eq!(out["name"], json!({"familyName": "Jensen"}));
        assert_eq!(
            out["emails"],
            json!([{"value": "bjensen@example.com"}, {"value": "babs@jensen.org"}])
        );

        // Case-insensitive, and the password stays hidden even when asked for.
        let out = proj("USERNAME,Password,NAME", "");
        assert_eq!(keys(&out), ["schemas", "id", "userName", "name"]);
    }

    #[test]
    fn extension_attributes_live_under_their_urn() {
        let ext = urn::ENTERPRISE_USER;
        let out = proj(&format!("{ext}:department,manager.value"), "");
        assert_eq!(
            out[ext],
            json!({"department": "Tour Operations", "manager": {"value": "26118915"}})
        );
        // The URN alone selects the whole extension.
        let out = proj(ext, "");
        assert_eq!(out[ext], babs()[ext]);
        assert_eq!(keys(&out), ["schemas", "id", ext]);
        // ...or excludes it.
        let out = proj("", ext);
        assert!(out.get(ext).is_none());
        // An extension with nothing left disappears.
        let out = proj("userName", "");
        assert!(out.get(ext).is_none());
    }

    #[test]
    fn excluded_attributes_remove_from_the_default_set_but_not_always_returned() {
        let out = proj("", "emails,id,name.givenName,employeeNumber,meta");
        assert!(out.get("emails").is_none());
        assert!(out.get("meta").is_none());
        assert_eq!(out["id"], "2819c223");
        assert_eq!(out["name"], json!({"familyName": "Jensen"}));
        assert!(out[urn::ENTERPRISE_USER].get("employeeNumber").is_none());
        assert_eq!(out[urn::ENTERPRISE_USER]["department"], "Tour Operations");
    }

    #[test]
    fn entra_excludes_group_members() {
        let group = json!({
            "schemas": [urn::GROUP],
            "id": "g1",
            "displayName": "Tour Guides",
            "members": [{"value": "u1"}, {"value": "u2"}],
            "meta": {"resourceType": "Group"}
        });
        let out = project(&group, &[], &[p("members")], ResourceSchema::group());
        assert_eq!(keys(&out), ["schemas", "id", "displayName", "meta"]);
    }

    #[test]
    fn unknown_attributes_count_as_default() {
        let resource = json!({
            "schemas": [urn::GROUP, "urn:example:ext:1.0:Group"],
            "id": "g1",
            "custom": 1,
            "urn:example:ext:1.0:Group": {"color": "red", "size": 3}
        });
        let group = ResourceSchema::group();
        assert_eq!(project(&resource, &[], &[], group), resource);
        let out = project(
            &resource,
            &[p("urn:example:ext:1.0:Group:color")],
            &[],
            group,
        );
        assert_eq!(out["urn:example:ext:1.0:Group"], json!({"color": "red"}));
        assert!(out.get("custom").is_none());
        let out = project(&resource, &[], &[p("custom")], group);
        assert!(out.get("custom").is_none());
    }

    #[test]
    fn request_only_attributes_need_asking() {
        // The RFC's User and Group have no `returned: request` attribute; make one.
        let mut schema = ResourceSchema::user().clone();
        let i = schema
            .core
            .attributes
            .iter()
            .position(|a| a.name == "nickName")
            .unwrap();
        schema.core.attributes[i].returned = Returned::Request;
        let emails = schema
            .core
            .attributes
            .iter()
            .position(|a| a.name == "emails")
            .unwrap();
        let display = schema.core.attributes[emails]
            .sub_attributes
            .iter()
            .position(|a| a.name == "display")
            .unwrap();
        schema.core.attributes[emails].sub_attributes[display].returned = Returned::Request;

        let resource = json!({
            "id": "1", "nickName": "Babs",
            "emails": [{"value": "a@x", "display": "A"}]
        });
        let out = project(&resource, &[], &[], &schema);
        assert!(out.get("nickName").is_none());
        assert_eq!(out["emails"], json!([{"value": "a@x"}]));
        let out = project(&resource, &[p("nickName"), p("emails")], &[], &schema);
        assert_eq!(out["nickName"], "Babs");
        assert_eq!(out["emails"], json!([{"value": "a@x", "display": "A"}]));
        let out = project(&resource, &[p("emails.display")], &[], &schema);
        assert_eq!(out["emails"], json!([{"display": "A"}]));
    }

    #[test]
    fn empty_multi_valued_attributes_are_kept_as_sent() {
        let resource = json!({"id": "1", "emails": [], "roles": []});
        assert_eq!(project(&resource, &[], &[], user()), resource);
    }

    // -- sorting ----------------------------------------------------------------------------

    fn ids(resources: &[Value]) -> Vec<&str> {
        resources
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect()
    }

    #[test]
    fn sorts_strings_case_insensitively_unless_case_exact() {
        let mut rs = vec![
            json!({"id": "b", "userName": "bob"}),
            json!({"id": "A", "userName": "Alice"}),
            json!({"id": "c", "userName": "carol"}),
        ];
        sort(&mut rs, &p("userName"), false, user());
        assert_eq!(ids(&rs), ["A", "b", "c"]);
        // `id` is caseExact: upper case sorts before lower case.
        let mut rs = vec![json!({"id": "b"}), json!({"id": "a"}), json!({"id": "B"})];
        sort(&mut rs, &p("id"), false, user());
        assert_eq!(ids(&rs), ["B", "a", "b"]);
    }

    #[test]
    fn missing_values_sort_last_ascending_and_first_descending() {
        let mut rs = vec![
            json!({"id": "1"}),
            json!({"id": "2", "name": {"familyName": "Young"}}),
            json!({"id": "3", "name": {"familyName": "adams"}}),
            json!({"id": "4", "name": {"givenName": "x"}}),
        ];
        sort(&mut rs, &p("name.familyName"), false, user());
        assert_eq!(ids(&rs), ["3", "2", "1", "4"]);
        sort(&mut rs, &p("name.familyName"), true, user());
        assert_eq!(ids(&rs), ["1", "4", "2", "3"]);
    }

    #[test]
    fn multi_valued_attributes_sort_by_primary_or_first_value() {
        let mut rs = vec![
            json!({"id": "1", "emails": [{"value": "a@x"}, {"value": "z@x", "primary": true}]}),
            json!({"id": "2", "emails": [{"value": "m@x"}, {"value": "b@x"}]}),
            json!({"id": "3", "emails": []}),
        ];
        sort(&mut rs, &p("emails"), false, user());
        assert_eq!(ids(&rs), ["2", "1", "3"]);
        sort(&mut rs, &p("emails.value"), true, user());
        assert_eq!(ids(&rs), ["3", "1", "2"]);
    }

    #[test]
    fn sorts_extension_attributes_dates_and_stays_stable() {
        let ext = urn::ENTERPRISE_USER;
        let mut rs = vec![
            json!({"id": "1", ext: {"department": "Sales"}}),
            json!({"id": "2", ext: {"department": "ops"}}),
            json!({"id": "3", ext: {"department": "sales"}}),
        ];
        sort(&mut rs, &p("department"), false, user());
        assert_eq!(ids(&rs), ["2", "1", "3"]);
        sort(&mut rs, &p(&format!("{ext}:department")), true, user());
        assert_eq!(ids(&rs), ["1", "3", "2"]);

        let mut rs = vec![
            json!({"id": "1", "meta": {"created": "2024-01-01T10:00:00+02:00"}}),
            json!({"id": "2", "meta": {"created": "2024-01-01T09:00:00Z"}}),
        ];
        sort(&mut rs, &p("meta.created"), false, user());
        assert_eq!(ids(&rs), ["1", "2"], "08:00Z comes before 09:00Z");
    }

    // -- properties -------------------------------------------------------------------------

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "[a-zA-Z@. ]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec(
                    (
                        prop_oneof![
                            Just("id".to_string()),
                            Just("userName".to_string()),
                            Just("password".to_string()),
                            Just("emails".to_string()),
                            Just("value".to_string()),
                            Just("primary".to_string()),
                            Just(urn::ENTERPRISE_USER.to_string()),
                            "[a-z]{1,6}",
                        ],
                        inner
                    ),
                    0..5
                )
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn param() -> impl Strategy<Value = String> {
        let name = prop_oneof![
            Just("filter"),
            Just("startIndex"),
            Just("count"),
            Just("sortBy"),
            Just("sortOrder"),
            Just("attributes"),
            Just("excludedAttributes"),
            Just("x"),
        ];
        (name, ".{0,12}").prop_map(|(n, v)| {
            let v: String = form_urlencoded::byte_serialize(v.as_bytes()).collect();
            format!("{n}={v}")
        })
    }

    proptest! {
        #[test]
        fn arbitrary_query_strings_never_panic(s in ".{0,64}", max in 0usize..500) {
            if let Ok(lq) = ListQuery::from_query_string(&s, max) {
                prop_assert!(lq.start_index >= 1);
                prop_assert!(lq.count <= max);
            }
        }

        #[test]
        fn structured_query_strings_never_panic(params in prop::collection::vec(param(), 0..6)) {
            let _ = ListQuery::from_query_string(&params.join("&"), 100);
        }

        #[test]
        fn pagination_always_lands_in_range(start in any::<i64>(), count in any::<i64>(), max in 0usize..1000) {
            let lq = ListQuery::from_query_string(&format!("startIndex={start}&count={count}"), max).unwrap();
            prop_assert!(lq.start_index >= 1);
            prop_assert!(lq.count <= max);
            if start >= 1 { prop_assert_eq!(lq.start_index as i128, start as i128); }
            if (0..=max as i64).contains(&count) { prop_assert_eq!(lq.count as i64, count); }
            let r = lq.page_range(max);
            prop_assert!(r.start <= r.end && r.end <= max && r.len() <= lq.count);
        }

        #[test]
        fn projection_never_leaks_passwords_and_keeps_ids(
            resource in json_value(),
            attrs in prop::collection::vec(prop_oneof![Just("userName"), Just("emails.value"), Just("password"), Just("nope")], 0..3),
            excluded in prop::collection::vec(prop_oneof![Just("id"), Just("emails"), Just("emails.primary")], 0..3),
        ) {
            let attrs: Vec<AttrPath> = attrs.iter().map(|s| p(s)).collect();
            let excluded: Vec<AttrPath> = excluded.iter().map(|s| p(s)).collect();
            let out = project(&resource, &attrs, &excluded, user());
            if let (Value::Object(before), Value::Object(after)) = (&resource, &out) {
                prop_assert!(!after.contains_key("password"));
                prop_assert_eq!(before.get("id"), after.get("id"));
            }
        }

        #[test]
        fn sort_is_a_stable_permutation(values in prop::collection::vec(json_value(), 0..12), desc in any::<bool>()) {
            let mut rs: Vec<Value> = values
                .into_iter()
                .enumerate()
                .map(|(i, v)| json!({"id": i.to_string(), "userName": v}))
                .collect();
            sort(&mut rs, &p("userName"), desc, user());
            let mut seen: Vec<usize> = rs.iter().map(|r| r["id"].as_str().unwrap().parse().unwrap()).collect();
            // Stable: equal keys keep their original order.
            let by = SortBy::of(&p("userName"), user());
            for w in rs.windows(2) {
                let ka = w[0].sort_key(&by);
                let kb = w[1].sort_key(&by);
                let mut o = compare_keys(&ka, &kb);
                if desc { o = o.reverse(); }
                prop_assert!(o != Ordering::Greater);
                if o == Ordering::Equal {
                    let ia: usize = w[0]["id"].as_str().unwrap().parse().unwrap();
                    let ib: usize = w[1]["id"].as_str().unwrap().parse().unwrap();
                    prop_assert!(ia < ib);
                }
            }
            seen.sort_unstable();
            prop_assert_eq!(seen, (0..rs.len()).collect::<Vec<_>>());
        }
    }

    #[test]
    fn the_owned_projection_agrees_with_the_full_one() {
        let with_password = json!({"schemas": [urn::USER], "id": "1", "userName": "a", "password": "x",
            "name": {"givenName": "A"}});
        let plain = json!({"schemas": [urn::USER], "id": "1", "userName": "a", "name": {"givenName": "A"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}});
        for r in [with_password, plain] {
            for (attrs, excl) in [
                (vec![], vec![]),
                (vec![p("userName")], vec![]),
                (vec![], vec![p("name")]),
            ] {
                assert_eq!(
                    project_owned(r.clone(), &attrs, &excl, user()),
                    project(&r, &attrs, &excl, user()),
                    "{r} {attrs:?} {excl:?}"
                );
            }
        }
    }
}
