//! The PATCH engine (RFC 7644 §3.5.2): parses a PatchOp request body and applies its operations
//! to a SCIM resource held as a JSON object (core attributes at the top level, extension
//! attributes under their schema URN), interpreted through its [`ResourceSchema`].
//!
//! It accepts what Entra ID, Okta and JumpCloud really send (the "on the wire" sections of
//! `docs/idp/entra.md`, `okta.md` and `jumpcloud.md`) and keeps RFC semantics for everyone else:
//! - `op` in any case, `schemas` optional;
//! - booleans and numbers as strings (`"False"`, `"42"`) for boolean and numeric attributes;
//! - `add` and `replace` alike where the target had no value, including a value-filter path
//!   that matches nothing (`emails[type eq "work"].value`): the element is created from the
//!   filter's `eq` terms;
//! - no-path values whose keys are dotted, value-filter or URN-qualified paths, or whole
//!   extension objects;
//! - the enterprise `manager` as a bare id, `$ref: null` inside member values, repeated adds;
//! - Entra's `remove` of `members` with a value list (only the listed members go);
//! - read-only attributes repeated unchanged in a value object (Okta's rename carries `id`).
//!
//! Choices where the RFC is silent or the IdPs need slack: a complex value (also one selected by
//! a value filter) updates the sub-attributes it names and keeps the others; sub-attributes the
//! schema does not define are dropped from values, and sub-attribute mutability is enforced
//! only when a path names the sub-attribute; removing a group member that is not there is a
//! no-op (for other value filters that select nothing, remove is `noTarget`); an extension
//! left empty is dropped together with its URN in `schemas`.
//!
//! [`member_changes`] reads a group membership PATCH as a delta (ids added, ids removed), so the
//! caller can apply it without reading the member list.
//!
//! Not here: the path and filter grammars ([`super::path`], [`super::filter`]), checks that
//! concern the whole result (required attributes, uniqueness), and what the patched resource
//! becomes on the legacy side (the mapping engine).

use std::collections::HashMap;

use serde_json::{Map, Number, Value};

use super::filter::{self, CompValue, CompareOp, Filter};
use super::path::{AttrPath, PatchPath};
use super::schema::{AttrType, AttributeDef, Mutability, ResourceSchema, SchemaDef};
use super::{member, urn, ScimError};

/// What an operation does (RFC 7644 §3.5.2.1–3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Add,
    Remove,
    Replace,
}

impl OpKind {
    fn name(self) -> &'static str {
        match self {
            OpKind::Add => "add",
            OpKind::Remove => "remove",
            OpKind::Replace => "replace",
        }
    }
}

/// One PATCH operation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PatchOperation {
    pub(crate) op: OpKind,
    /// `None` when the operation has no `path`: the target is the resource itself.
    pub(crate) path: Option<PatchPath>,
    /// `None` when the operation has no `value` member; `Some(Value::Null)` for an explicit
    /// `null`, which for add and replace means "remove" (RFC 7643 §2.5).
    pub(crate) value: Option<Value>,
}

/// A parsed PatchOp request: its operations, applied in order.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub(crate) operations: Vec<PatchOperation>,
}

/// Group membership changes read from a PATCH without the member list: the net effect of the
/// operations taken in order (an id is in at most one of the two lists).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberDelta {
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

/// Why a PATCH was refused. Each variant is one RFC 7644 §3.12 `scimType`, all with status 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The body or an operation is not a PatchOp: JSON shape, unknown `op`, missing `value`.
    #[error("{0}")]
    InvalidSyntax(String),
    /// A path that does not parse, or that names an attribute the schema does not have.
    #[error("{0}")]
    InvalidPath(String),
    /// A remove without path, or a value filter that selects nothing where a target is needed.
    #[error("{0}")]
    NoTarget(String),
    /// A value of the wrong type for its attribute.
    #[error("{0}")]
    InvalidValue(String),
    /// A change to a readOnly attribute, or to an immutable attribute that already has a value.
    #[error("{0}")]
    Mutability(String),
    /// More operations than one PATCH may carry ([`MAX_OPERATIONS`]).
    #[error("{0}")]
    TooMany(String),
}

/// The most operations one PATCH request may carry. Each operation is applied to the whole
/// resource, so the cost of a request grows with operations × values: identity providers send
/// a few dozen at most (one per changed attribute; member changes come as lists in a few
/// operations, and are bounded by themselves), while a 1 MiB body holds about 25,000.
pub const MAX_OPERATIONS: usize = 1000;

impl PatchError {
    /// The same error, its detail prefixed with the (1-based) operation it came from.
    fn in_operation(self, n: usize) -> Self {
        let at = |detail: String| format!("PATCH operation {n}: {detail}");
        match self {
            PatchError::InvalidSyntax(d) => PatchError::InvalidSyntax(at(d)),
            PatchError::InvalidPath(d) => PatchError::InvalidPath(at(d)),
            PatchError::NoTarget(d) => PatchError::NoTarget(at(d)),
            PatchError::InvalidValue(d) => PatchError::InvalidValue(at(d)),
            PatchError::Mutability(d) => PatchError::Mutability(at(d)),
            PatchError::TooMany(d) => PatchError::TooMany(d),
        }
    }
}

impl From<PatchError> for ScimError {
    fn from(e: PatchError) -> Self {
        match e {
            PatchError::InvalidSyntax(d) => ScimError::invalid_syntax(d),
            PatchError::InvalidPath(d) => ScimError::invalid_path(d),
            PatchError::NoTarget(d) => ScimError::no_target(d),
            PatchError::InvalidValue(d) => ScimError::invalid_value(d),
            PatchError::Mutability(d) => ScimError::mutability(d),
            PatchError::TooMany(d) => ScimError::too_many(d),
        }
    }
}

type Result<T> = std::result::Result<T, PatchError>;

// ---------------------------------------------------------------------------------------------
// Parsing

impl PatchRequest {
    /// Parses a PatchOp body. Member names (`Operations`, `op`, `path`, `value`) and `op` values
    /// are matched case-insensitively; `schemas` may be missing, but when present it must name
    /// the PatchOp message.
    pub fn parse(body: &Value) -> Result<PatchRequest> {
        let obj = body.as_object().ok_or_else(|| {
            PatchError::InvalidSyntax(
                "a PATCH body must be a JSON object with \"Operations\"".into(),
            )
        })?;
        if let Some(schemas) = member(obj, "schemas").filter(|s| !s.is_null()) {
            let names_patch_op = schemas.as_array().is_some_and(|list| {
                list.iter().any(|s| {
                    s.as_str()
                        .is_some_and(|s| s.eq_ignore_ascii_case(urn::PATCH_OP))
                })
            });
            if !names_patch_op {
                return Err(PatchError::InvalidSyntax(format!(
                    "\"schemas\" of a PATCH body must contain \"{}\"",
                    urn::PATCH_OP
                )));
            }
        }
        let operations = match member(obj, "Operations") {
            Some(Value::Array(ops)) if !ops.is_empty() => ops,
            Some(Value::Array(_)) => {
                return Err(PatchError::InvalidSyntax(
                    "\"Operations\" is empty: a PATCH needs at least one operation".into(),
                ))
            }
            Some(_) => {
                return Err(PatchError::InvalidSyntax(
                    "\"Operations\" must be an array of operations".into(),
                ))
            }
            None => {
                return Err(PatchError::InvalidSyntax(
                    "a PATCH body needs \"Operations\", an array of operations".into(),
                ))
            }
        };
        if operations.len() > MAX_OPERATIONS {
            return Err(PatchError::TooMany(format!(
                "the PATCH carries {} operations; one request may carry at most {MAX_OPERATIONS} \
                 (send the changes in several requests)",
                operations.len()
            )));
        }
        let operations = operations
            .iter()
            .enumerate()
            .map(|(i, op)| parse_operation(op).map_err(|e| e.in_operation(i + 1)))
            .collect::<Result<Vec<_>>>()?;
        Ok(PatchRequest { operations })
    }

    /// The elements of multi-valued attributes the operations carry: each array in a `value`,
    /// and each array one level inside a `value` object (`{"emails": [...]}` without a path).
    /// What merging them may cost grows with this times the operations, so a caller that has
    /// no bound of its own on them (users; group members have theirs) bounds it.
    pub fn carried_values(&self) -> usize {
        let in_value = |v: &Value| match v {
            Value::Array(items) => items.len(),
            Value::Object(o) => o.values().map(|v| v.as_array().map_or(0, Vec::len)).sum(),
            _ => 0,
        };
        self.operations
            .iter()
            .filter_map(|op| op.value.as_ref())
            .map(in_value)
            .sum()
    }
}

fn parse_operation(op: &Value) -> Result<PatchOperation> {
    let obj = op.as_object().ok_or_else(|| {
        PatchError::InvalidSyntax("an operation must be an object with \"op\"".into())
    })?;
    let kind = match member(obj, "op") {
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "add" => OpKind::Add,
            "remove" => OpKind::Remove,
            "replace" => OpKind::Replace,
            _ => {
                return Err(PatchError::InvalidSyntax(format!(
                    "unknown op \"{s}\": expected \"add\", \"remove\" or \"replace\""
                )))
            }
        },
        Some(_) => return Err(PatchError::InvalidSyntax("\"op\" must be a string".into())),
        None => {
            return Err(PatchError::InvalidSyntax(
                "an operation needs an \"op\"".into(),
            ))
        }
    };
    let path = match member(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(parse_path(s.trim())?),
        Some(_) => {
            return Err(PatchError::InvalidSyntax(
                "\"path\" must be a string".into(),
            ))
        }
    };
    let operation = PatchOperation {
        op: kind,
        path,
        value: member(obj, "value").cloned(),
    };
    check_shape(&operation)?;
    Ok(operation)
}

fn parse_path(text: &str) -> Result<PatchPath> {
    PatchPath::parse(text).map_err(|e| PatchError::InvalidPath(format!("path \"{text}\": {e}")))
}

/// What every operation must carry: a path for remove, a value for add and replace, and an
/// object of attributes when add or replace has no path.
fn check_shape(op: &PatchOperation) -> Result<()> {
    let name = op.op.name();
    match (op.op, &op.path, &op.value) {
        (OpKind::Remove, None, _) => Err(PatchError::NoTarget(
            "remove needs a \"path\" naming what to remove".into(),
        )),
        (OpKind::Remove, Some(_), _) => Ok(()),
        (_, _, None) => Err(PatchError::InvalidSyntax(format!(
            "{name} needs a \"value\""
        ))),
        (_, None, Some(Value::Object(_))) | (_, Some(_), Some(_)) => Ok(()),
        (_, None, Some(_)) => Err(PatchError::InvalidSyntax(format!(
            "{name} without a \"path\" needs an object of attributes as its \"value\""
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Applying

/// Applies the operations in order to `resource`, all or nothing: on error `resource` is left
/// as it was.
pub fn apply(resource: &mut Value, request: &PatchRequest, schema: &ResourceSchema) -> Result<()> {
    *resource = applied(resource.clone(), request, schema)?;
    Ok(())
}

/// [`apply`] to a resource the caller gives up (it keeps the original where it needs one): the
/// patched resource, or the error, the resource then dropped.
pub fn applied(resource: Value, request: &PatchRequest, schema: &ResourceSchema) -> Result<Value> {
    let mut engine = Engine {
        schema,
        res: match resource {
            Value::Object(members) => members,
            _ => Map::new(),
        },
    };
    for (i, op) in request.operations.iter().enumerate() {
        engine.operation(op).map_err(|e| e.in_operation(i + 1))?;
    }
    Ok(Value::Object(engine.res))
}

/// Reads the attributes of a POST or PUT body into `resource` with the rules of a no-path
/// `replace` (canonical names, dotted and URN-qualified keys, string booleans, a bare manager
/// id, read-only attributes ignored when unchanged), so that a create or a full replace accepts
/// exactly what a PATCH accepts. Errors carry no operation number.
pub fn apply_attributes(
    resource: &mut Value,
    attributes: &Map<String, Value>,
    schema: &ResourceSchema,
) -> Result<()> {
    let mut engine = Engine {
        schema,
        res: resource.as_object().cloned().unwrap_or_default(),
    };
    engine.value_object(OpKind::Replace, attributes, None)?;
    *resource = Value::Object(engine.res);
    Ok(())
}

/// The working copy of the resource and the schema that reads it.
struct Engine<'s> {
    schema: &'s ResourceSchema,
    res: Map<String, Value>,
}

/// A resolved attribute: the extension holding it (`None` for core and common attributes), the
/// attribute, and the sub-attribute the path named.
#[derive(Clone, Copy)]
struct Target<'s> {
    ext: Option<&'s SchemaDef>,
    attr: &'s AttributeDef,
    sub: Option<&'s AttributeDef>,
}

/// The name of a value being changed (`emails`, `name.givenName`), for an error message: written
/// only when one is made, not for every value.
#[derive(Clone, Copy)]
enum Label<'a> {
    Attr(&'a str),
    /// An attribute's sub-attribute, both named.
    AttrSub(&'a str, &'a str),
    /// A sub-attribute of the value another label names.
    Sub(&'a Label<'a>, &'a str),
}

impl std::fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Label::Attr(name) => f.write_str(name),
            Label::AttrSub(attr, sub) => write!(f, "{attr}.{sub}"),
            Label::Sub(parent, name) => write!(f, "{parent}.{name}"),
        }
    }
}

impl<'a> Label<'a> {
    /// The label of `sub`, a sub-attribute of the value this label names.
    fn sub(&'a self, sub: &'a str) -> Label<'a> {
        Label::Sub(self, sub)
    }
}

impl<'s> Target<'s> {
    fn label(&self) -> Label<'s> {
        match self.sub {
            Some(sub) => Label::AttrSub(&self.attr.name, &sub.name),
            None => Label::Attr(&self.attr.name),
        }
    }

    /// The attribute's canonical path, URN-qualified when it lives in an extension.
    fn path(&self) -> AttrPath {
        AttrPath {
            schema: self.ext.map(|e| e.id.clone()),
            name: self.attr.name.clone(),
            sub: None,
        }
    }

    /// A group's member list, whose removals are idempotent (JumpCloud and Okta repeat them).
    fn is_membership(&self) -> bool {
        self.ext.is_none() && self.attr.name.eq_ignore_ascii_case("members")
    }
}

impl<'s> Engine<'s> {
    fn operation(&mut self, op: &PatchOperation) -> Result<()> {
        check_shape(op)?;
        match (&op.path, &op.value) {
            (Some(path), value) => self.at_path(op.op, path, value.as_ref()),
            (None, Some(Value::Object(values))) => self.value_object(op.op, values, None),
            (None, _) => Ok(()), // refused by check_shape
        }
    }

    /// A no-path add/replace (or a whole extension object): each key is a path, relative to
    /// `within` when the object is an extension's.
    fn value_object(
        &mut self,
        kind: OpKind,
        values: &Map<String, Value>,
        within: Option<&'s SchemaDef>,
    ) -> Result<()> {
        let schema = self.schema;
        for (key, value) in values {
            let key = key.trim();
            // `schemas` is maintained by the engine; clients also echo it inside extension
            // objects.
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if within.is_none() {
                if let Some(named) = schema.schema(key) {
                    if std::ptr::eq(named, &schema.core) {
                        let Value::Object(inner) = value else {
                            return Err(PatchError::InvalidValue(format!(
                                "\"{key}\" must be an object of attributes"
                            )));
                        };
                        self.value_object(kind, inner, None)?;
                    } else {
                        self.whole_extension(kind, named, Some(value))?;
                    }
                    continue;
                }
            }
            let path = match within {
                Some(ext) => parse_path(&format!("{}:{key}", ext.id))?,
                None => parse_path(key)?,
            };
            if within.is_none() && is_always_ignored(schema, path.attr()) {
                continue;
            }
            self.at_path(kind, &path, Some(value))?;
        }
        Ok(())
    }

    fn at_path(&mut self, kind: OpKind, path: &PatchPath, value: Option<&Value>) -> Result<()> {
        match path {
            PatchPath::Attr(attr_path) => {
                if let Some(ext) = self.extension_named(attr_path) {
                    return self.whole_extension(kind, ext, value);
                }
                let t = self.resolve(attr_path)?;
                self.update(t, |current| attr_op(kind, t, current, value))
            }
            PatchPath::Value { attr, filter, sub } => {
                let t = self.resolve(attr)?;
                if t.sub.is_some() || !t.attr.multi_valued {
                    return Err(PatchError::InvalidPath(format!(
                        "\"{attr}\" is not multi-valued: a value filter [...] needs a multi-valued attribute"
                    )));
                }
                let sub = match sub {
                    None => None,
                    Some(s) => Some(t.attr.sub_attribute(s).ok_or_else(|| {
                        PatchError::InvalidPath(format!(
                            "\"{}\" has no sub-attribute \"{s}\"",
                            t.attr.name
                        ))
                    })?),
                };
                let t = Target { sub, ..t };
                let schema = self.schema;
                let selector = Filter::ValuePath {
                    attr: t.path(),
                    filter: Box::new(filter.clone()),
                };
                let matches = |element: &Value| element_matches(schema, t, &selector, element);
                self.update(t, |current| {
                    value_path_op(kind, t, current, value, filter, &matches)
                })
            }
        }
    }

    /// An operation on a whole extension (`urn:…:enterprise:2.0:User` as path or as a key of a
    /// no-path value): remove drops it, add and replace apply to each attribute of the value.
    fn whole_extension(
        &mut self,
        kind: OpKind,
        ext: &'s SchemaDef,
        value: Option<&Value>,
    ) -> Result<()> {
        match value {
            _ if kind == OpKind::Remove => self.drop_extension(ext),
            None | Some(Value::Null) => self.drop_extension(ext),
            Some(Value::Object(values)) => self.value_object(kind, values, Some(ext)),
            Some(_) => Err(PatchError::InvalidValue(format!(
                "the value of \"{}\" must be an object of its attributes",
                ext.id
            ))),
        }
    }

    fn drop_extension(&mut self, ext: &'s SchemaDef) -> Result<()> {
        if let Some(stored) = member(&self.res, &ext.id).and_then(Value::as_object) {
            for attr in &ext.attributes {
                if member(stored, &attr.name).is_some_and(|v| !is_empty(v)) {
                    let t = Target {
                        ext: Some(ext),
                        attr,
                        sub: None,
                    };
                    check_mutability(t, true)?;
                }
            }
        }
        self.remove_extension(ext);
        Ok(())
    }

    /// `urn:…:enterprise:2.0:User` parses as attribute `User` of schema `urn:…:2.0`: the name of
    /// a whole extension rather than of an attribute.
    fn extension_named(&self, path: &AttrPath) -> Option<&'s SchemaDef> {
        if path.sub.is_some() {
            return None;
        }
        match &path.schema {
            Some(schema) => self.schema.extension(&format!("{schema}:{}", path.name)),
            None => self.schema.extension(&path.name),
        }
    }

    /// The attribute a path names (the common attributes `id`, `externalId` and `meta` are the
    /// core schema's), with an error that says whether the attribute or the sub-attribute is
    /// unknown.
    fn resolve(&self, path: &AttrPath) -> Result<Target<'s>> {
        let schema = self.schema;
        let attr_only = AttrPath {
            sub: None,
            ..path.clone()
        };
        let Some(found) = schema.find(&attr_only) else {
            return Err(PatchError::InvalidPath(format!(
                "unknown attribute \"{path}\""
            )));
        };
        let sub = match &path.sub {
            None => None,
            Some(s) => Some(found.attr.sub_attribute(s).ok_or_else(|| {
                PatchError::InvalidPath(format!(
                    "\"{}\" has no sub-attribute \"{s}\"",
                    found.attr.name
                ))
            })?),
        };
        Ok(Target {
            ext: found.is_extension(schema).then_some(found.schema),
            attr: found.attr,
            sub,
        })
    }

    /// Reads the attribute, computes its new value with `f`, checks mutability when it changed,
    /// and writes it back (an empty result removes the attribute).
    fn update(
        &mut self,
        t: Target<'s>,
        f: impl FnOnce(Option<&Value>) -> Result<Option<Value>>,
    ) -> Result<()> {
        let container = match t.ext {
            None => Some(&self.res),
            Some(ext) => member(&self.res, &ext.id).and_then(Value::as_object),
        };
        let before = container
            .and_then(|c| member(c, &t.attr.name))
            .filter(|v| !is_empty(v))
            .cloned();
        let after = f(before.as_ref())?.filter(|v| !is_empty(v));
        if before == after {
            return Ok(());
        }
        check_mutability(t, before.is_some())?;
        match (t.ext, after) {
            (None, Some(v)) => set_ci(&mut self.res, &t.attr.name, v),
            (None, None) => remove_ci(&mut self.res, &t.attr.name),
            (Some(ext), Some(v)) => {
                if !member(&self.res, &ext.id).is_some_and(Value::is_object) {
                    set_ci(&mut self.res, &ext.id, Value::Object(Map::new()));
                }
                if let Some(stored) =
                    get_ci_mut(&mut self.res, &ext.id).and_then(Value::as_object_mut)
                {
                    set_ci(stored, &t.attr.name, v);
                }
                self.add_schema_urn(ext);
            }
            (Some(ext), None) => {
                let now_empty =
                    match get_ci_mut(&mut self.res, &ext.id).and_then(Value::as_object_mut) {
                        Some(stored) => {
                            remove_ci(stored, &t.attr.name);
                            stored.is_empty()
                        }
                        None => true,
                    };
                if now_empty {
                    self.remove_extension(ext);
                }
            }
        }
        Ok(())
    }

    /// Lists the extension in `schemas` (RFC 7643 §3: a resource names the extensions it uses).
    fn add_schema_urn(&mut self, ext: &SchemaDef) {
        match get_ci_mut(&mut self.res, "schemas") {
            Some(Value::Array(list)) => {
                if !list
                    .iter()
                    .any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&ext.id)))
                {
                    list.push(Value::String(ext.id.clone()));
                }
            }
            _ => set_ci(
                &mut self.res,
                "schemas",
                Value::Array(vec![
                    Value::String(self.schema.core.id.clone()),
                    Value::String(ext.id.clone()),
                ]),
            ),
        }
    }

    /// Drops the extension's object and its URN from `schemas`.
    fn remove_extension(&mut self, ext: &SchemaDef) {
        remove_ci(&mut self.res, &ext.id);
        if let Some(Value::Array(list)) = get_ci_mut(&mut self.res, "schemas") {
            list.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&ext.id)));
        }
    }
}

/// Keys of a no-path value that are never applied: `meta` and `groups` are maintained by the
/// service provider (Okta sends them back with its updates); `schemas` is handled apart.
fn is_always_ignored(schema: &ResourceSchema, path: &AttrPath) -> bool {
    let in_core = path
        .schema
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case(&schema.core.id));
    in_core
        && ["meta", "groups"]
            .iter()
            .any(|n| path.name.eq_ignore_ascii_case(n))
}

fn check_mutability(t: Target, had_value: bool) -> Result<()> {
    for def in [Some(t.attr), t.sub].into_iter().flatten() {
        match def.mutability {
            Mutability::ReadOnly => {
                return Err(PatchError::Mutability(format!(
                    "\"{}\" is readOnly: it cannot be changed",
                    t.label()
                )))
            }
            Mutability::Immutable if had_value => {
                return Err(PatchError::Mutability(format!(
                    "\"{}\" is immutable: it can be set once but not changed",
                    t.label()
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

/// An operation whose path names an attribute or sub-attribute (no value filter).
fn attr_op(
    kind: OpKind,
    t: Target,
    current: Option<&Value>,
    value: Option<&Value>,
) -> Result<Option<Value>> {
    let new = value.filter(|v| kind != OpKind::Remove && !v.is_null());
    let label = t.label();
    match (t.sub, new) {
        (None, None) => {
            // Entra's member removal: `remove` of `members` with a list removes those only.
            let listed = value.filter(|v| kind == OpKind::Remove && !v.is_null());
            match listed {
                Some(listed) if t.attr.multi_valued => {
                    let gone = coerce_list(t.attr, listed, &label)?;
                    let mut items = elements(current);
                    items.retain(|e| !gone.iter().any(|g| same_item(t.attr, e, g)));
                    Ok(Some(Value::Array(items)))
                }
                _ => Ok(None),
            }
        }
        (None, Some(v)) if t.attr.multi_valued => {
            let items = coerce_list(t.attr, v, &label)?;
            let base = match kind {
                OpKind::Add => elements(current),
                _ => Vec::new(),
            };
            Ok(Some(Value::Array(merge_items(t.attr, base, items))))
        }
        (None, Some(v)) => {
            let new = coerce_one(t.attr, v, &label)?;
            // RFC 7644 §3.5.2.1, §3.5.2.3: a complex value updates the sub-attributes it names
            // and leaves the others as they are.
            Ok(match (current, new) {
                (Some(Value::Object(old)), Some(Value::Object(new))) => {
                    let mut merged = old.clone();
                    merge_into(&mut merged, new);
                    Some(Value::Object(merged))
                }
                (_, new) => new,
            })
        }
        (Some(sub), new) if t.attr.multi_valued => {
            // `emails.value` without a filter: every element (one is created if there is none).
            let mut items = elements(current);
            match new {
                None => {
                    let all: Vec<usize> = (0..items.len()).collect();
                    remove_sub(&mut items, &all, sub);
                }
                Some(v) => {
                    let c = coerce(sub, v, &label)?;
                    if items.is_empty() {
                        items.push(Value::Object(Map::new()));
                    }
                    for item in &mut items {
                        set_sub(item, sub, c.clone());
                    }
                    let all: Vec<usize> = (0..items.len()).collect();
                    demote_other_primaries(&mut items, &all);
                }
            }
            Ok(Some(Value::Array(items)))
        }
        (Some(sub), new) => {
            let mut obj = current
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            match new.map(|v| coerce(sub, v, &label)).transpose()?.flatten() {
                Some(c) => set_ci(&mut obj, &sub.name, c),
                None => remove_ci(&mut obj, &sub.name),
            }
            Ok(Some(Value::Object(obj)))
        }
    }
}

/// An operation whose path has a value filter: `emails[type eq "work"]`, `….value`.
fn value_path_op(
    kind: OpKind,
    t: Target,
    current: Option<&Value>,
    value: Option<&Value>,
    filter: &Filter,
    matches: &dyn Fn(&Value) -> bool,
) -> Result<Option<Value>> {
    let mut items = elements(current);
    let mut hits: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, e)| matches(e))
        .map(|(i, _)| i)
        .collect();
    let new = value.filter(|v| kind != OpKind::Remove && !v.is_null());
    let Some(v) = new else {
        if hits.is_empty() {
            if kind == OpKind::Remove && !t.is_membership() {
                return Err(PatchError::NoTarget(format!(
                    "no value of \"{}\" matches the filter",
                    t.attr.name
                )));
            }
            return Ok(current.cloned());
        }
        match t.sub {
            None => {
                let mut i = 0;
                items.retain(|_| {
                    let keep = !hits.contains(&i);
                    i += 1;
                    keep
                });
            }
            Some(sub) => remove_sub(&mut items, &hits, sub),
        }
        return Ok(Some(Value::Array(items)));
    };
    if hits.is_empty() {
        // Entra sends add or replace alike for a value that did not exist yet.
        let Some(element) = element_from_terms(t.attr, filter)? else {
            return Err(PatchError::NoTarget(format!(
                "no value of \"{}\" matches the filter, and a new one can only be created from \
                 a filter of `eq` terms joined by `and`",
                t.attr.name
            )));
        };
        items.push(element);
        hits.push(items.len() - 1);
    }
    let label = t.label();
    for &i in &hits {
        let Some(element) = items.get_mut(i) else {
            continue;
        };
        match t.sub {
            Some(sub) => set_sub(element, sub, coerce(sub, v, &label)?),
            None => match (element, coerce_one(t.attr, v, &label)?) {
                (Value::Object(old), Some(Value::Object(new))) => merge_into(old, new),
                (element, Some(new)) => *element = new,
                (_, None) => {}
            },
        }
    }
    demote_other_primaries(&mut items, &hits);
    Ok(Some(Value::Array(items)))
}

/// Whether `element` of the target attribute passes the value filter, asked of the filter
/// evaluator on a resource holding just that element.
fn element_matches(schema: &ResourceSchema, t: Target, selector: &Filter, element: &Value) -> bool {
    let mut holder = Map::new();
    holder.insert(t.attr.name.clone(), Value::Array(vec![element.clone()]));
    let resource = match t.ext {
        None => holder,
        Some(ext) => {
            let mut outer = Map::new();
            outer.insert(ext.id.clone(), Value::Object(holder));
            outer
        }
    };
    filter::matches(selector, &Value::Object(resource), schema)
}

/// The element a filter of `eq` terms joined by `and` describes (`type eq "work"` gives
/// `{"type":"work"}`); `None` when the filter has another shape.
fn element_from_terms(attr: &AttributeDef, filter: &Filter) -> Result<Option<Value>> {
    let mut terms = Vec::new();
    if attr.attr_type != AttrType::Complex || !equality_terms(filter, &mut terms) {
        return Ok(None);
    }
    let mut element = Map::new();
    for (path, value) in terms {
        if path.schema.is_some() || path.sub.is_some() {
            return Ok(None);
        }
        let sub = attr.sub_attribute(&path.name).ok_or_else(|| {
            PatchError::InvalidPath(format!(
                "\"{}\" has no sub-attribute \"{}\"",
                attr.name, path.name
            ))
        })?;
        let json = match value {
            CompValue::Null => return Ok(None),
            CompValue::Bool(b) => Value::Bool(*b),
            CompValue::Number(n) => Value::Number(n.clone()),
            CompValue::Str(s) => Value::String(s.clone()),
        };
        match coerce_one(sub, &json, &Label::AttrSub(&attr.name, &sub.name))? {
            Some(c) => set_ci(&mut element, &sub.name, c),
            None => return Ok(None),
        }
    }
    Ok(Some(Value::Object(element)))
}

fn equality_terms<'f>(filter: &'f Filter, out: &mut Vec<(&'f AttrPath, &'f CompValue)>) -> bool {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } => {
            out.push((path, value));
            true
        }
        Filter::And(a, b) => equality_terms(a, out) && equality_terms(b, out),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Values: type checks and the lenient conversions, multi-valued merging

/// A value for `def` as a whole: an array when it is multi-valued. `None` for null or empty.
fn coerce(def: &AttributeDef, v: &Value, label: &Label<'_>) -> Result<Option<Value>> {
    if def.multi_valued {
        let items = coerce_list(def, v, label)?;
        Ok((!items.is_empty()).then_some(Value::Array(items)))
    } else {
        coerce_one(def, v, label)
    }
}

/// The elements of a multi-valued attribute; a single value stands for a list of one.
fn coerce_list(def: &AttributeDef, v: &Value, label: &Label<'_>) -> Result<Vec<Value>> {
    let raw = match v {
        Value::Array(items) => items.as_slice(),
        single => std::slice::from_ref(single),
    };
    raw.iter()
        .map(|item| coerce_one(def, item, label))
        .filter_map(Result::transpose)
        .collect()
}

/// One value (or element) of `def`, in its schema type. Strings stand for booleans and numbers;
/// a bare scalar stands for a complex value's `value` sub-attribute (Entra's manager id).
/// Sub-attributes the schema does not define, and null ones (`"$ref": null`), are dropped.
fn coerce_one(def: &AttributeDef, v: &Value, label: &Label<'_>) -> Result<Option<Value>> {
    let wrong = || {
        PatchError::InvalidValue(format!(
            "\"{label}\" takes {}, not {}",
            type_words(def.attr_type),
            describe(v)
        ))
    };
    let out = match (def.attr_type, v) {
        (_, Value::Null) => return Ok(None),
        (
            AttrType::String | AttrType::DateTime | AttrType::Binary | AttrType::Reference,
            Value::String(_),
        ) => v.clone(),
        (AttrType::Boolean, Value::Bool(_)) => v.clone(),
        (AttrType::Boolean, Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(wrong()),
        },
        (AttrType::Integer, _) => Value::Number(integer(v).ok_or_else(wrong)?),
        (AttrType::Decimal, _) => Value::Number(decimal(v).ok_or_else(wrong)?),
        (AttrType::Complex, Value::Object(given)) => {
            let mut out = Map::new();
            for (key, x) in given {
                let Some(sub) = def.sub_attribute(key) else {
                    continue;
                };
                // A sub-attribute given twice in different cases (`value`, `valUe`) is read
                // as everywhere else here (`member`: the canonical spelling, else the first).
                if !member(given, &sub.name).is_some_and(|read| std::ptr::eq(read, x)) {
                    continue;
                }
                if let Some(c) = coerce(sub, x, &label.sub(&sub.name))? {
                    set_ci(&mut out, &sub.name, c);
                }
            }
            return Ok((!out.is_empty()).then_some(Value::Object(out)));
        }
        (AttrType::Complex, Value::String(_) | Value::Number(_) | Value::Bool(_)) => {
            let Some(value_def) = def.sub_attribute("value") else {
                return Err(wrong());
            };
            let Some(c) = coerce_one(value_def, v, &label.sub(&value_def.name))? else {
                return Ok(None);
            };
            let mut out = Map::new();
            out.insert(value_def.name.clone(), c);
            Value::Object(out)
        }
        _ => return Err(wrong()),
    };
    Ok(Some(out))
}

fn integer(v: &Value) -> Option<Number> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(Number::from)
            .or_else(|| n.as_u64().map(Number::from))
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                    .map(|f| Number::from(f as i64))
            }),
        Value::String(s) => s.trim().parse::<i64>().ok().map(Number::from),
        _ => None,
    }
}

fn decimal(v: &Value) -> Option<Number> {
    match v {
        Value::Number(n) => Some(n.clone()),
        Value::String(s) => s.trim().parse::<f64>().ok().and_then(Number::from_f64),
        _ => None,
    }
}

fn type_words(t: AttrType) -> &'static str {
    match t {
        AttrType::String => "a string",
        AttrType::Boolean => "a boolean (true or false)",
        AttrType::Decimal => "a number",
        AttrType::Integer => "an integer",
        AttrType::DateTime => "a date-time string",
        AttrType::Binary => "a base64 string",
        AttrType::Reference => "a reference string",
        AttrType::Complex => "an object of sub-attributes",
    }
}

fn describe(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().count() <= 40 => format!("the string \"{s}\""),
        Value::String(_) => "a long string".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        Value::Null => "null".into(),
    }
}

/// From how many elements (those a list has and those added) [`merge_items`] indexes them.
const INDEXED_FROM: usize = 32;

/// Appends `new` to `base`, merging each new element into an equal existing one instead of
/// duplicating it (repeated adds are no-ops). A new `primary: true` demotes the others
/// (RFC 7644 §3.5.2).
fn merge_items(def: &AttributeDef, base: Vec<Value>, new: Vec<Value>) -> Vec<Value> {
    merge_items_indexed_from(def, base, new, INDEXED_FROM)
}

/// [`merge_items`], indexing the elements from `indexed_from` of them on.
fn merge_items_indexed_from(
    def: &AttributeDef,
    mut base: Vec<Value>,
    new: Vec<Value>,
    indexed_from: usize,
) -> Vec<Value> {
    let mut written = Vec::new();
    // The elements by the text of their `value` (the only part [`same_item`] can match on for
    // complex elements, lower-cased unless caseExact), so that merging n new elements into k
    // costs O(n + k), not O(n·k): one request may carry tens of thousands.
    let case_exact = match def.attr_type {
        AttrType::Complex => def.sub_attribute("value").map(|v| v.case_exact),
        _ => Some(def.case_exact),
    };
    let key_of = |item: &Value| -> Option<String> {
        let value = match def.attr_type {
            AttrType::Complex => item.as_object().and_then(|o| member(o, "value"))?,
            _ => item,
        };
        let text = value.as_str()?;
        Some(if case_exact == Some(true) {
            text.to_string()
        } else {
            // Char by char, as `same_text_ignoring_case` compares.
            text.chars().flat_map(char::to_lowercase).collect()
        })
    };
    // The index is made only for long lists: a user's few emails or phone numbers are compared
    // element by element, which finds the same element (the first equal one) without making a
    // key or hashing it.
    let mut by_key: Option<std::collections::HashMap<String, Vec<usize>>> =
        (base.len() + new.len() >= indexed_from).then(|| {
            let mut by_key = std::collections::HashMap::<String, Vec<usize>>::new();
            for (i, e) in base.iter().enumerate() {
                if let Some(k) = key_of(e) {
                    by_key.entry(k).or_default().push(i);
                }
            }
            by_key
        });
    for item in new {
        // Elements with a textual value can only be the same as those with the same key;
        // anything else is compared with every element, as before.
        let indexed = by_key
            .as_ref()
            .and_then(|by_key| Some((by_key, key_of(&item)?)));
        let found = match indexed {
            Some((by_key, k)) => by_key.get(&k).and_then(|at| {
                at.iter()
                    .copied()
                    .find(|&i| same_item(def, &base[i], &item))
            }),
            None => base.iter().position(|e| same_item(def, e, &item)),
        };
        match found {
            Some(i) => {
                if let Some(existing) = base.get_mut(i) {
                    match (existing, item) {
                        (Value::Object(old), Value::Object(new)) => merge_into(old, new),
                        (existing, item) => *existing = item,
                    }
                }
                written.push(i);
            }
            None => {
                if let Some(by_key) = by_key.as_mut() {
                    if let Some(k) = key_of(&item) {
                        by_key.entry(k).or_default().push(base.len());
                    }
                }
                base.push(item);
                written.push(base.len() - 1);
            }
        }
    }
    demote_other_primaries(&mut base, &written);
    base
}

/// Whether two elements stand for the same value: same `value` (and no conflicting `type`) for
/// complex attributes that have a `value`, equality otherwise. Strings compare as the schema's
/// caseExact says.
fn same_item(def: &AttributeDef, a: &Value, b: &Value) -> bool {
    if def.attr_type != AttrType::Complex {
        return scalar_eq(a, b, def.case_exact);
    }
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return a == b;
    };
    let Some(value_def) = def.sub_attribute("value") else {
        return a == b;
    };
    match (member(a, "value"), member(b, "value")) {
        (Some(x), Some(y)) => {
            let type_clash = match (member(a, "type"), member(b, "type")) {
                (Some(x), Some(y)) => !scalar_eq(x, y, false),
                _ => false,
            };
            scalar_eq(x, y, value_def.case_exact) && !type_clash
        }
        _ => a == b,
    }
}

/// Whether two strings are equal once lower-cased, without allocating.
fn same_text_ignoring_case(x: &str, y: &str) -> bool {
    if x.is_ascii() && y.is_ascii() {
        return x.eq_ignore_ascii_case(y);
    }
    x.chars()
        .flat_map(char::to_lowercase)
        .eq(y.chars().flat_map(char::to_lowercase))
}

fn scalar_eq(a: &Value, b: &Value, case_exact: bool) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !case_exact => same_text_ignoring_case(x, y),
        _ => a == b,
    }
}

/// Only one element may be primary: when one of `written` is, the others stop being.
fn demote_other_primaries(items: &mut [Value], written: &[usize]) {
    let is_primary = |e: &Value| {
        e.as_object()
            .and_then(|o| member(o, "primary"))
            .is_some_and(|p| p == &Value::Bool(true))
    };
    let Some(&winner) = written
        .iter()
        .rev()
        .find(|&&i| items.get(i).is_some_and(is_primary))
    else {
        return;
    };
    for (i, element) in items.iter_mut().enumerate() {
        if i != winner && is_primary(element) {
            if let Some(obj) = element.as_object_mut() {
                set_ci(obj, "primary", Value::Bool(false));
            }
        }
    }
}

/// Removes `sub` from the elements at `at`; an element left with nothing but `type` and
/// `primary` goes altogether.
fn remove_sub(items: &mut Vec<Value>, at: &[usize], sub: &AttributeDef) {
    for &i in at {
        if let Some(obj) = items.get_mut(i).and_then(Value::as_object_mut) {
            remove_ci(obj, &sub.name);
        }
    }
    let mut i = 0;
    items.retain(|element| {
        let residual = at.contains(&i)
            && element.as_object().is_some_and(|o| {
                o.keys()
                    .all(|k| k.eq_ignore_ascii_case("type") || k.eq_ignore_ascii_case("primary"))
            });
        i += 1;
        !residual
    });
}

fn set_sub(element: &mut Value, sub: &AttributeDef, value: Option<Value>) {
    if !element.is_object() {
        *element = Value::Object(Map::new());
    }
    if let Some(obj) = element.as_object_mut() {
        match value {
            Some(v) => set_ci(obj, &sub.name, v),
            None => remove_ci(obj, &sub.name),
        }
    }
}

fn merge_into(old: &mut Map<String, Value>, new: Map<String, Value>) {
    for (key, value) in new {
        set_ci(old, &key, value);
    }
}

fn elements(current: Option<&Value>) -> Vec<Value> {
    match current {
        Some(Value::Array(items)) => items.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(single) => vec![single.clone()],
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Names: attribute names are case-insensitive (RFC 7643 §2.1); stored keys are canonical.

fn get_ci_mut<'v>(map: &'v mut Map<String, Value>, name: &str) -> Option<&'v mut Value> {
    let key = if map.contains_key(name) {
        name.to_string()
    } else {
        map.keys().find(|k| k.eq_ignore_ascii_case(name))?.clone()
    };
    map.get_mut(&key)
}

/// Sets `name` (the canonical spelling), replacing a key spelled in another case.
fn set_ci(map: &mut Map<String, Value>, name: &str, value: Value) {
    if let Some(slot) = map.get_mut(name) {
        *slot = value;
        return;
    }
    remove_ci(map, name);
    map.insert(name.to_string(), value);
}

fn remove_ci(map: &mut Map<String, Value>, name: &str) {
    map.retain(|k, _| !k.eq_ignore_ascii_case(name));
}

// ---------------------------------------------------------------------------------------------
// Membership deltas

/// For a Group PATCH made only of member additions and removals — `add` of `members` with a
/// list, `remove` of `members[value eq "id"]` (also joined with `or`), Entra's `remove` of
/// `members` with a list — the ids added and removed, net of the order of the operations.
/// `None` when the request does anything else (replace of members, remove of all members,
/// other attributes), in which case the caller applies it with [`apply`].
pub fn member_changes(request: &PatchRequest) -> Option<MemberDelta> {
    let mut order: Vec<String> = Vec::new();
    let mut last: HashMap<String, bool> = HashMap::new();
    for op in &request.operations {
        let (ids, added) = match (op.op, op.path.as_ref()?) {
            (OpKind::Add, PatchPath::Attr(p)) if is_members(p) => {
                (member_ids(op.value.as_ref()?)?, true)
            }
            (OpKind::Remove, PatchPath::Attr(p)) if is_members(p) => {
                (member_ids(op.value.as_ref()?)?, false)
            }
            (
                OpKind::Remove,
                PatchPath::Value {
                    attr,
                    filter,
                    sub: None,
                },
            ) if is_members(attr) => (filter_ids(filter)?, false),
            _ => return None,
        };
        for id in ids {
            if last.insert(id.clone(), added).is_none() {
                order.push(id);
            }
        }
    }
    let mut delta = MemberDelta::default();
    for id in order {
        match last.get(&id) {
            Some(true) => delta.add.push(id),
            Some(false) => delta.remove.push(id),
            None => {}
        }
    }
    Some(delta)
}

fn is_members(path: &AttrPath) -> bool {
    path.sub.is_none()
        && path.name.eq_ignore_ascii_case("members")
        && path
            .schema
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(urn::GROUP))
}

/// The ids of a member list (`[{"value":"id",…}]`, a single member, or bare ids).
fn member_ids(value: &Value) -> Option<Vec<String>> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) | Value::String(_) => std::slice::from_ref(value),
        _ => return None,
    };
    items
        .iter()
        .map(|item| {
            let id = match item {
                Value::Object(o) => member(o, "value")?.as_str()?,
                Value::String(s) => s.as_str(),
                _ => return None,
            };
            (!id.is_empty()).then(|| id.to_string())
        })
        .collect()
}

/// The ids of `value eq "a"` or `value eq "a" or value eq "b"`.
fn filter_ids(filter: &Filter) -> Option<Vec<String>> {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(id),
        } if path.schema.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value")
            && !id.is_empty() =>
        {
            Some(vec![id.clone()])
        }
        Filter::Or(a, b) => {
            let mut ids = filter_ids(a)?;
            ids.extend(filter_ids(b)?);
            Some(ids)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::ScimType;
    use proptest::prelude::*;
    use serde_json::json;

    const TEST_EXT: &str = "urn:example:params:scim:schemas:extension:test:2.0:User";
    const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager";
    const EMPLOYEE_NUMBER: &str =
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber";

    // --- schema fixtures: small RFC 7643 §7 snippets --------------------------------------

    fn a(name: &str, ty: &str) -> Value {
        json!({"name": name, "type": ty, "multiValued": false,
               "mutability": "readWrite", "returned": "default"})
    }
    fn s(name: &str) -> Value {
        a(name, "string")
    }
    fn complex(name: &str, subs: Vec<Value>) -> Value {
        let mut v = a(name, "complex");
        v["subAttributes"] = Value::Array(subs);
        v
    }
    fn multi(mut v: Value) -> Value {
        v["multiValued"] = json!(true);
        v
    }
    fn mutability(mut v: Value, m: &str) -> Value {
        v["mutability"] = json!(m);
        v
    }
    fn case_exact(mut v: Value) -> Value {
        v["caseExact"] = json!(true);
        v
    }
    fn schema_def(id: &str, name: &str, attributes: Vec<Value>) -> SchemaDef {
        serde_json::from_value(json!({"id": id, "name": name, "attributes": attributes})).unwrap()
    }

    fn user_schema() -> ResourceSchema {
        let ro = |v| mutability(v, "readOnly");
        let core = schema_def(
            urn::USER,
            "User",
            vec![
                s("userName"),
                complex(
                    "name",
                    vec![
                        s("formatted"),
                        s("familyName"),
                        s("givenName"),
                        s("middleName"),
                    ],
                ),
                s("displayName"),
                s("nickName"),
                s("title"),
                a("active", "boolean"),
                mutability(s("password"), "writeOnly"),
                multi(complex(
                    "emails",
                    vec![s("value"), s("type"), a("primary", "boolean"), s("display")],
                )),
                multi(complex(
                    "phoneNumbers",
                    vec![s("value"), s("type"), a("primary", "boolean")],
                )),
                multi(complex(
                    "addresses",
                    vec![
                        s("type"),
                        s("streetAddress"),
                        s("locality"),
                        s("postalCode"),
                        s("formatted"),
                        a("primary", "boolean"),
                    ],
                )),
                ro(multi(complex(
                    "groups",
                    vec![ro(s("value")), ro(a("$ref", "reference")), ro(s("display"))],
                ))),
            ],
        );
        let enterprise = schema_def(
            urn::ENTERPRISE_USER,
            "EnterpriseUser",
            vec![
                s("employeeNumber"),
                s("department"),
                s("costCenter"),
                complex(
                    "manager",
                    vec![s("value"), a("$ref", "reference"), ro(s("displayName"))],
                ),
            ],
        );
        let test = schema_def(
            TEST_EXT,
            "Test",
            vec![
                a("level", "integer"),
                a("score", "decimal"),
                mutability(s("badge"), "immutable"),
                multi(s("tags")),
            ],
        );
        ResourceSchema {
            name: "User".into(),
            endpoint: "/Users".into(),
            core,
            extensions: vec![enterprise, test],
        }
    }

    fn group_schema() -> ResourceSchema {
        let immutable = |v| mutability(v, "immutable");
        let core = schema_def(
            urn::GROUP,
            "Group",
            vec![
                s("displayName"),
                multi(complex(
                    "members",
                    vec![
                        immutable(case_exact(s("value"))),
                        immutable(a("$ref", "reference")),
                        immutable(s("type")),
                        mutability(s("display"), "readOnly"),
                    ],
                )),
            ],
        );
        ResourceSchema {
            name: "Group".into(),
            endpoint: "/Groups".into(),
            core,
            extensions: vec![],
        }
    }

    fn user() -> Value {
        json!({
            "schemas": [urn::USER],
            "id": "2819c223",
            "externalId": "bjensen-ext",
            "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "displayName": "Babs Jensen",
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@home.example", "type": "home"}
            ],
            "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"}
        })
    }

    fn group() -> Value {
        json!({
            "schemas": [urn::GROUP],
            "id": "g-1",
            "displayName": "Engineering",
            "members": [{"value": "u1"}, {"value": "u2"}, {"value": "u3"}],
            "meta": {"resourceType": "Group"}
        })
    }

    fn request(ops: Value) -> Value {
        json!({"schemas": [urn::PATCH_OP], "Operations": ops})
    }

    fn try_patch(resource: &Value, schema: &ResourceSchema, ops: Value) -> Result<Value> {
        let req = PatchRequest::parse(&request(ops))?;
        let mut patched = resource.clone();
        apply(&mut patched, &req, schema)?;
        Ok(patched)
    }

    fn patch_user(ops: Value) -> Value {
        try_patch(&user(), &user_schema(), ops).unwrap()
    }

    fn patch_group(ops: Value) -> Value {
        try_patch(&group(), &group_schema(), ops).unwrap()
    }

    fn user_error(ops: Value) -> PatchError {
        try_patch(&user(), &user_schema(), ops).unwrap_err()
    }

    fn member_ids_of(group: &Value) -> Vec<&str> {
        group["members"]
            .as_array()
            .map(|m| m.iter().filter_map(|e| e["value"].as_str()).collect())
            .unwrap_or_default()
    }

    fn delta(ops: Value) -> Option<MemberDelta> {
        member_changes(&PatchRequest::parse(&request(ops)).unwrap())
    }

    fn strings(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_value_of_the_wrong_type_is_refused_naming_the_attribute_it_was_for() {
        let refused = |ops: Value| match try_patch(&user(), &user_schema(), ops) {
            Err(PatchError::InvalidValue(detail)) => detail,
            other => panic!("not an invalid value: {other:?}"),
        };
        let cases = [
            (
                json!([{"op": "replace", "path": "active", "value": "maybe"}]),
                "\"active\" takes a boolean (true or false), not",
            ),
            (
                json!([{"op": "replace", "path": "name.givenName", "value": 5}]),
                "\"name.givenName\" takes a string, not",
            ),
            (
                json!([{"op": "replace", "value": {"name": {"familyName": true}}}]),
                "\"name.familyName\" takes a string, not",
            ),
            (
                json!([{"op": "add", "path": "emails", "value": [{"value": "b@x.example", "primary": "yes"}]}]),
                "\"emails.primary\" takes a boolean (true or false), not",
            ),
            (
                json!([{"op": "replace", "path": "emails[type eq \"work\"].primary", "value": 3}]),
                "\"emails.primary\" takes a boolean (true or false), not",
            ),
        ];
        for (ops, said) in cases {
            let detail = refused(ops.clone());
            assert!(detail.contains(said), "{ops}: {detail}");
        }
    }

    // --- parsing ---------------------------------------------------------------------------

    #[test]
    fn op_names_are_case_insensitive() {
        for op in ["add", "Add", "ADD", "replace", "Replace", "REPLACE"] {
            let r = patch_user(json!([{"op": op, "path": "nickName", "value": "Babs"}]));
            assert_eq!(r["nickName"], "Babs", "op {op}");
        }
        let r = patch_user(json!([{"op": "Remove", "path": "displayName"}]));
        assert!(r.get("displayName").is_none());
    }

    #[test]
    fn schemas_may_be_missing_but_not_wrong() {
        let body = json!({"Operations": [{"op": "add", "path": "nickName", "value": "B"}]});
        assert_eq!(PatchRequest::parse(&body).unwrap().operations.len(), 1);
        let body = json!({"schemas": [urn::USER],
                          "Operations": [{"op": "add", "path": "nickName", "value": "B"}]});
        assert!(matches!(
            PatchRequest::parse(&body),
            Err(PatchError::InvalidSyntax(_))
        ));
    }

    #[test]
    fn malformed_bodies_are_invalid_syntax() {
        for body in [
            json!([]),
            json!({"schemas": [urn::PATCH_OP]}),
            json!({"Operations": []}),
            json!({"Operations": {"op": "add"}}),
            json!({"Operations": ["add"]}),
            json!({"Operations": [{"path": "nickName", "value": "x"}]}),
            json!({"Operations": [{"op": "merge", "path": "nickName", "value": "x"}]}),
            json!({"Operations": [{"op": 1, "path": "nickName", "value": "x"}]}),
            json!({"Operations": [{"op": "add", "path": 7, "value": "x"}]}),
            json!({"Operations": [{"op": "add", "path": "nickName"}]}),
            json!({"Operations": [{"op": "replace", "value": "x"}]}),
        ] {
            let err = PatchRequest::parse(&body).unwrap_err();
            assert!(
                matches!(err, PatchError::InvalidSyntax(_)),
                "{body}: {err:?}"
            );
        }
    }

    #[test]
    fn remove_without_path_is_no_target() {
        let body = request(json!([{"op": "remove", "value": {"nickName": "x"}}]));
        let err = PatchRequest::parse(&body).unwrap_err();
        assert!(matches!(err, PatchError::NoTarget(_)));
        assert_eq!(ScimError::from(err).scim_type, Some(ScimType::NoTarget));
    }

    #[test]
    fn a_path_that_does_not_parse_is_invalid_path() {
        let body = request(json!([{"op": "add", "path": "emails[type eq", "value": "x"}]));
        let err = PatchRequest::parse(&body).unwrap_err();
        assert!(matches!(err, PatchError::InvalidPath(_)), "{err:?}");
        assert!(err.to_string().starts_with("PATCH operation 1:"), "{err}");
    }

    #[test]
    fn every_error_becomes_a_400_with_its_scim_type() {
        let cases = [
            (
                PatchError::InvalidSyntax("x".into()),
                ScimType::InvalidSyntax,
            ),
            (PatchError::InvalidPath("x".into()), ScimType::InvalidPath),
            (PatchError::NoTarget("x".into()), ScimType::NoTarget),
            (PatchError::InvalidValue("x".into()), ScimType::InvalidValue),
            (PatchError::Mutability("x".into()), ScimType::Mutability),
        ];
        for (err, scim_type) in cases {
            let scim = ScimError::from(err);
            assert_eq!((scim.status, scim.scim_type), (400, Some(scim_type)));
            assert_eq!(scim.detail, "x");
        }
    }

    // --- paths without filter -------------------------------------------------------------

    #[test]
    fn add_and_replace_set_single_valued_attributes() {
        let r = patch_user(json!([
            {"op": "add", "path": "title", "value": "Tour Guide"},
            {"op": "replace", "path": "displayName", "value": "Barbara J."},
            {"op": "add", "path": "userName", "value": "barbara"}
        ]));
        assert_eq!(r["title"], "Tour Guide");
        assert_eq!(r["displayName"], "Barbara J.");
        assert_eq!(r["userName"], "barbara");
    }

    #[test]
    fn stored_keys_use_the_schema_spelling() {
        let r = patch_user(json!([
            {"op": "add", "path": "NICKNAME", "value": "Babs"},
            {"op": "replace", "path": "Name.GivenName", "value": "Barb"}
        ]));
        assert_eq!(r["nickName"], "Babs");
        assert_eq!(r["name"]["givenName"], "Barb");
        assert!(r.get("NICKNAME").is_none());
        assert!(r["name"].get("GivenName").is_none());
    }

    #[test]
    fn add_to_a_multi_valued_attribute_appends_without_duplicates() {
        let op = json!({"op": "add", "path": "emails",
                        "value": [{"value": "b@other.example", "type": "other"}]});
        let once = patch_user(json!([op.clone()]));
        assert_eq!(once["emails"].as_array().unwrap().len(), 3);
        let twice = patch_user(json!([op.clone(), op]));
        assert_eq!(twice, once);
        // The same address in another case is the same value (emails.value is not caseExact).
        let again = patch_user(json!([{"op": "add", "path": "emails",
                                       "value": [{"value": "BJensen@Example.com", "type": "work"}]}]));
        assert_eq!(again["emails"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn a_large_add_merges_by_value_ignoring_case_and_keeps_type_clashes_apart() {
        // 5,000 new addresses, one of them the user's work address in another case, and one
        // the same address as another type: merged by value in one pass.
        let mut values: Vec<Value> = (0..5000)
            .map(|i| json!({"value": format!("u{i}@example.com"), "type": "other"}))
            .collect();
        values.push(json!({"value": "BJENSEN@example.com", "type": "work", "display": "B"}));
        values.push(json!({"value": "bjensen@EXAMPLE.com", "type": "home"}));
        values.push(json!({"value": "u7@EXAMPLE.com", "type": "other"}));
        let r = patch_user(json!([{"op": "add", "path": "emails", "value": values}]));
        let emails = r["emails"].as_array().unwrap();
        // The user's two addresses, 5,000 new ones, and the home address (a type clash).
        assert_eq!(emails.len(), 2 + 5000 + 1);
        let work: Vec<_> = emails.iter().filter(|e| e["type"] == "work").collect();
        assert_eq!(work.len(), 1);
        assert_eq!(work[0]["display"], "B", "merged into the existing element");
    }

    #[test]
    fn more_operations_than_the_bound_are_refused_with_too_many() {
        let op = json!({"op": "add", "path": "nickName", "value": "x"});
        let at_bound = Value::Array(vec![op.clone(); MAX_OPERATIONS]);
        assert!(PatchRequest::parse(&request(at_bound)).is_ok());
        let past = Value::Array(vec![op; MAX_OPERATIONS + 1]);
        let e = PatchRequest::parse(&request(past)).unwrap_err();
        assert!(matches!(e, PatchError::TooMany(_)), "{e:?}");
        let e = ScimError::from(e);
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::TooMany)));
        assert!(e.detail.contains("at most 1000"), "{}", e.detail);
    }

    #[test]
    fn the_values_an_operation_carries_are_counted_with_or_without_a_path() {
        let req = PatchRequest::parse(&request(json!([
            {"op": "add", "path": "emails", "value": [{"value": "a@x"}, {"value": "b@x"}]},
            {"op": "add", "value": {"phoneNumbers": [{"value": "1"}], "nickName": "n"}},
            {"op": "replace", "path": "title", "value": "t"},
            {"op": "remove", "path": "ims"}
        ])))
        .unwrap();
        assert_eq!(req.carried_values(), 3);
    }

    #[test]
    fn case_is_ignored_without_allocating_also_beyond_ascii() {
        assert!(same_text_ignoring_case(
            "Ada@Example.COM",
            "ada@example.com"
        ));
        assert!(same_text_ignoring_case("ÆSIR@x", "æsir@X"));
        assert!(!same_text_ignoring_case("ada", "adam"));
        assert!(!same_text_ignoring_case("ÆSIR", "AESIR"));
    }

    #[test]
    fn replace_of_a_multi_valued_attribute_replaces_the_list() {
        let r = patch_user(json!([{"op": "replace", "path": "emails",
                                   "value": [{"value": "new@example.com", "type": "work"}]}]));
        assert_eq!(
            r["emails"],
            json!([{"value": "new@example.com", "type": "work"}])
        );
    }

    #[test]
    fn sub_attribute_paths_create_the_parent() {
        let mut bare = user();
        bare.as_object_mut().unwrap().remove("name");
        let r = try_patch(
            &bare,
            &user_schema(),
            json!([{"op": "add", "path": "name.givenName", "value": "Barbara"}]),
        )
        .unwrap();
        assert_eq!(r["name"], json!({"givenName": "Barbara"}));
    }

    #[test]
    fn replace_of_a_complex_attribute_keeps_unnamed_sub_attributes() {
        let r = patch_user(json!([{"op": "replace", "path": "name",
                                   "value": {"givenName": "Barb"}}]));
        assert_eq!(
            r["name"],
            json!({"givenName": "Barb", "familyName": "Jensen"})
        );
    }

    #[test]
    fn remove_of_the_last_sub_attribute_removes_the_parent() {
        let r = patch_user(json!([
            {"op": "remove", "path": "name.givenName"},
            {"op": "remove", "path": "name.familyName"}
        ]));
        assert!(r.get("name").is_none(), "{r}");
    }

    #[test]
    fn remove_of_a_multi_valued_attribute_without_value_clears_it() {
        let r = patch_user(json!([{"op": "remove", "path": "emails"}]));
        assert!(r.get("emails").is_none());
    }

    #[test]
    fn remove_of_an_absent_attribute_is_a_no_op() {
        let r = patch_user(json!([{"op": "remove", "path": "title"}]));
        assert_eq!(r, user());
    }

    #[test]
    fn null_value_on_replace_or_add_removes() {
        let r = patch_user(json!([
            {"op": "replace", "path": "displayName", "value": null},
            {"op": "add", "path": "name.givenName", "value": null}
        ]));
        assert!(r.get("displayName").is_none());
        assert_eq!(r["name"], json!({"familyName": "Jensen"}));
        let r = patch_user(json!([{"op": "replace", "value": {"displayName": null}}]));
        assert!(r.get("displayName").is_none());
    }

    #[test]
    fn a_new_primary_value_demotes_the_old_one() {
        let r = patch_user(json!([{"op": "add", "path": "emails",
            "value": [{"value": "b@new.example", "type": "other", "primary": true}]}]));
        let emails = r["emails"].as_array().unwrap();
        let primaries: Vec<_> = emails
            .iter()
            .filter(|e| e["primary"] == json!(true))
            .collect();
        assert_eq!(primaries.len(), 1);
        assert_eq!(primaries[0]["value"], "b@new.example");
        assert_eq!(emails[0]["primary"], json!(false));
    }

    // --- value filters ---------------------------------------------------------------------

    #[test]
    fn value_filter_replace_sets_the_sub_attribute_of_matching_elements() {
        let r = patch_user(
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value",
                                   "value": "barbara@example.com"}]),
        );
        assert_eq!(
            r["emails"][0],
            json!({"value": "barbara@example.com", "type": "work", "primary": true})
        );
        assert_eq!(r["emails"][1]["value"], "babs@home.example");
    }

    #[test]
    fn value_filter_add_or_replace_creates_the_element_when_nothing_matches() {
        for op in ["Add", "Replace"] {
            let r = patch_user(json!([
                {"op": op, "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
                {"op": op, "path": "addresses[type eq \"work\"].postalCode", "value": "91608"},
                {"op": op, "path": "addresses[type eq \"work\"].streetAddress", "value": "100 Plaza"}
            ]));
            assert_eq!(
                r["phoneNumbers"],
                json!([{"type": "mobile", "value": "+1 555 0100"}])
            );
            assert_eq!(
                r["addresses"],
                json!([{"type": "work", "postalCode": "91608", "streetAddress": "100 Plaza"}]),
                "{op}"
            );
        }
    }

    #[test]
    fn value_filter_with_terms_joined_by_and_creates_from_all_terms() {
        let r = patch_user(json!([{"op": "add",
            "path": "phoneNumbers[type eq \"work\" and primary eq true].value", "value": "555"}]));
        assert_eq!(
            r["phoneNumbers"],
            json!([{"type": "work", "primary": true, "value": "555"}])
        );
    }

    #[test]
    fn value_filter_without_eq_terms_that_matches_nothing_is_no_target() {
        for op in ["add", "replace"] {
            let err = user_error(json!([{"op": op,
                "path": "emails[value co \"@nowhere\"].type", "value": "other"}]));
            assert!(matches!(err, PatchError::NoTarget(_)), "{op}: {err:?}");
        }
    }

    #[test]
    fn value_filter_without_sub_attribute_merges_into_matching_elements() {
        let r = patch_user(json!([{"op": "replace", "path": "emails[type eq \"home\"]",
                                   "value": {"value": "babs@new-home.example"}}]));
        assert_eq!(
            r["emails"][1],
            json!({"value": "babs@new-home.example", "type": "home"})
        );
    }

    #[test]
    fn value_filter_remove_drops_matching_elements() {
        let r = patch_user(json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]));
        assert_eq!(
            r["emails"],
            json!([{"value": "babs@home.example", "type": "home"}])
        );
    }

    #[test]
    fn value_filter_remove_of_a_sub_attribute_drops_elements_left_with_only_type() {
        let r = patch_user(json!([{"op": "remove", "path": "emails[type eq \"work\"].value"}]));
        assert_eq!(
            r["emails"],
            json!([{"value": "babs@home.example", "type": "home"}])
        );

        let mut with_address = user();
        with_address["addresses"] =
            json!([{"type": "work", "postalCode": "91608", "locality": "Hollywood"}]);
        let r = try_patch(
            &with_address,
            &user_schema(),
            json!([{"op": "remove", "path": "addresses[type eq \"work\"].postalCode"}]),
        )
        .unwrap();
        assert_eq!(
            r["addresses"],
            json!([{"type": "work", "locality": "Hollywood"}])
        );
    }

    #[test]
    fn value_filter_remove_that_matches_nothing_is_no_target() {
        let err = user_error(json!([{"op": "remove", "path": "emails[type eq \"other\"]"}]));
        assert!(matches!(err, PatchError::NoTarget(_)), "{err:?}");
    }

    #[test]
    fn removing_the_last_matching_element_unassigns_the_attribute() {
        let r = patch_user(json!([
            {"op": "remove", "path": "emails[type eq \"work\"]"},
            {"op": "remove", "path": "emails[type eq \"home\"]"}
        ]));
        assert!(r.get("emails").is_none());
    }

    #[test]
    fn value_filter_on_a_single_valued_attribute_is_invalid_path() {
        let err = user_error(
            json!([{"op": "add", "path": "name[givenName eq \"x\"].familyName",
                                     "value": "y"}]),
        );
        assert!(matches!(err, PatchError::InvalidPath(_)), "{err:?}");
    }

    // --- values: types and lenient forms ---------------------------------------------------

    #[test]
    fn booleans_as_strings_in_any_case() {
        for (given, expected) in [
            ("True", true),
            ("False", false),
            ("true", true),
            ("false", false),
            ("FALSE", false),
        ] {
            let r = patch_user(json!([{"op": "Replace", "path": "active", "value": given}]));
            assert_eq!(r["active"], json!(expected), "{given}");
        }
        let r = patch_user(json!([{"op": "replace", "value": {"active": "False"}}]));
        assert_eq!(r["active"], json!(false));
        let r = patch_user(json!([{"op": "add", "path": "emails",
            "value": [{"value": "x@example.com", "type": "other", "primary": "True"}]}]));
        assert_eq!(r["emails"][2]["primary"], json!(true));
    }

    #[test]
    fn numbers_as_strings_for_numeric_attributes() {
        let r = patch_user(json!([
            {"op": "add", "path": format!("{TEST_EXT}:level"), "value": "42"},
            {"op": "add", "path": format!("{TEST_EXT}:score"), "value": " 2.5 "}
        ]));
        assert_eq!(r[TEST_EXT]["level"], json!(42));
        assert_eq!(r[TEST_EXT]["score"], json!(2.5));
    }

    #[test]
    fn values_of_the_wrong_type_are_invalid_value() {
        for (path, value) in [
            ("active", json!("maybe")),
            ("active", json!(1)),
            ("userName", json!(true)),
            ("userName", json!({"value": "x"})),
            ("name", json!(["x"])),
            ("name.givenName", json!(3)),
            ("emails", json!([{"value": "x", "primary": "yes"}])),
            (&format!("{TEST_EXT}:level"), json!("4.5")),
            (&format!("{TEST_EXT}:score"), json!("abc")),
        ] {
            let err = user_error(json!([{"op": "replace", "path": path, "value": value}]));
            assert!(
                matches!(err, PatchError::InvalidValue(_)),
                "{path}: {err:?}"
            );
        }
        let err = user_error(json!([{"op": "replace", "path": "active", "value": "maybe"}]));
        assert!(err.to_string().contains("active"), "{err}");
    }

    #[test]
    fn unknown_attributes_are_invalid_path_naming_them() {
        let err = user_error(json!([{"op": "add", "path": "favouriteColour", "value": "red"}]));
        assert!(matches!(&err, PatchError::InvalidPath(d) if d.contains("favouriteColour")));
        let err = user_error(json!([{"op": "replace", "value": {"shoeSize": "9"}}]));
        assert!(matches!(&err, PatchError::InvalidPath(d) if d.contains("shoeSize")));
        let err = user_error(json!([{"op": "replace", "path": "name.nickname", "value": "x"}]));
        assert!(matches!(&err, PatchError::InvalidPath(d) if d.contains("nickname")));
        let err = user_error(json!([{"op": "replace",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:shoeSize",
            "value": "9"}]));
        assert!(matches!(&err, PatchError::InvalidPath(d) if d.contains("shoeSize")));
    }

    #[test]
    fn unknown_sub_attributes_inside_a_value_are_dropped() {
        let r = patch_user(json!([{"op": "replace", "path": "name",
                                   "value": {"givenName": "B", "nickname": "x"}}]));
        assert_eq!(r["name"], json!({"givenName": "B", "familyName": "Jensen"}));
    }

    // --- no-path values --------------------------------------------------------------------

    #[test]
    fn no_path_dotted_keys_update_the_complex_attribute() {
        let r = patch_user(json!([{"op": "replace",
            "value": {"name.givenName": "Kkom", "name.familyName": "Unua"}}]));
        assert_eq!(
            r["name"],
            json!({"givenName": "Kkom", "familyName": "Unua"})
        );
        assert!(r.get("name.givenName").is_none());
        assert!(r.get("name.familyName").is_none());
    }

    #[test]
    fn no_path_value_filter_and_urn_keys() {
        let r = patch_user(json!([{"op": "add", "value": {
            "emails[type eq \"work\"].value": "b@work.example",
            "phoneNumbers[type eq \"mobile\"].value": "555",
            EMPLOYEE_NUMBER: "701984",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName": "babs"
        }}]));
        assert_eq!(r["emails"][0]["value"], "b@work.example");
        assert_eq!(
            r["phoneNumbers"],
            json!([{"type": "mobile", "value": "555"}])
        );
        assert_eq!(r[urn::ENTERPRISE_USER]["employeeNumber"], "701984");
        assert_eq!(r["userName"], "babs");
        assert!(r.get(EMPLOYEE_NUMBER).is_none());
    }

    #[test]
    fn no_path_whole_extension_object_and_core_urn_object() {
        let r = patch_user(json!([{"op": "add", "value": {
            urn::ENTERPRISE_USER: {"department": "Tour Operations", "manager": {"value": "m-1"}},
            urn::USER: {"nickName": "Babs"}
        }}]));
        assert_eq!(
            r[urn::ENTERPRISE_USER],
            json!({"department": "Tour Operations", "manager": {"value": "m-1"}})
        );
        assert_eq!(r["nickName"], "Babs");
        assert_eq!(r["schemas"], json!([urn::USER, urn::ENTERPRISE_USER]));
    }

    #[test]
    fn no_path_keys_are_case_insensitive_and_stored_canonically() {
        let r = patch_user(json!([{"op": "replace",
            "value": {"DisplayName": "B", "NAME.GIVENNAME": "Barb", "Active": "false"}}]));
        assert_eq!(r["displayName"], "B");
        assert_eq!(r["name"]["givenName"], "Barb");
        assert_eq!(r["active"], json!(false));
        assert!(r.get("DisplayName").is_none() && r.get("Active").is_none());
    }

    #[test]
    fn no_path_add_appends_to_multi_valued_attributes() {
        let r = patch_user(json!([{"op": "add",
            "value": {"emails": [{"value": "c@example.com", "type": "other"}]}}]));
        assert_eq!(r["emails"].as_array().unwrap().len(), 3);
        let r = patch_user(json!([{"op": "replace",
            "value": {"emails": [{"value": "c@example.com", "type": "other"}]}}]));
        assert_eq!(
            r["emails"],
            json!([{"value": "c@example.com", "type": "other"}])
        );
    }

    // --- extensions and the enterprise manager --------------------------------------------

    #[test]
    fn adding_an_extension_attribute_lists_the_extension_in_schemas() {
        let r = patch_user(json!([
            {"op": "add", "path": EMPLOYEE_NUMBER, "value": "701984"},
            {"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
             "value": "Tour Operations"}
        ]));
        assert_eq!(r["schemas"], json!([urn::USER, urn::ENTERPRISE_USER]));
        assert_eq!(
            r[urn::ENTERPRISE_USER],
            json!({"employeeNumber": "701984", "department": "Tour Operations"})
        );
    }

    #[test]
    fn manager_as_a_bare_id_and_its_removal() {
        // Entra (docs/idp/entra.md): reference attributes come in an update after the create.
        let r = patch_user(json!([{"op": "Add", "path": MANAGER, "value": "26118915-6090"}]));
        assert_eq!(
            r[urn::ENTERPRISE_USER]["manager"],
            json!({"value": "26118915-6090"})
        );
        assert_eq!(r["schemas"], json!([urn::USER, urn::ENTERPRISE_USER]));

        // Re-sent unchanged every cycle: no change.
        let again = try_patch(
            &r,
            &user_schema(),
            json!([{"op": "Add", "path": MANAGER, "value": "26118915-6090"}]),
        )
        .unwrap();
        assert_eq!(again, r);

        // Removing the last enterprise attribute drops the extension and its URN.
        let removed = try_patch(
            &r,
            &user_schema(),
            json!([{"op": "Remove", "path": MANAGER}]),
        )
        .unwrap();
        assert!(removed.get(urn::ENTERPRISE_USER).is_none(), "{removed}");
        assert_eq!(removed["schemas"], json!([urn::USER]));
    }

    #[test]
    fn whole_extension_path() {
        let ext = urn::ENTERPRISE_USER;
        let r = patch_user(json!([{"op": "add", "path": ext,
                                   "value": {"employeeNumber": "7", "costCenter": "4130"}}]));
        assert_eq!(r[ext], json!({"employeeNumber": "7", "costCenter": "4130"}));
        let r = try_patch(&r, &user_schema(), json!([{"op": "remove", "path": ext}])).unwrap();
        assert!(r.get(ext).is_none());
        assert_eq!(r["schemas"], json!([urn::USER]));
    }

    // --- mutability ------------------------------------------------------------------------

    #[test]
    fn read_only_attributes_equal_to_the_current_value_are_accepted() {
        let r = patch_user(json!([{"op": "replace",
            "value": {"id": "2819c223", "displayName": "Barbara"}}]));
        assert_eq!(r["displayName"], "Barbara");
        assert_eq!(r["id"], "2819c223");
    }

    #[test]
    fn a_different_id_is_a_mutability_error() {
        let err =
            user_error(json!([{"op": "replace", "value": {"id": "other", "displayName": "B"}}]));
        assert!(
            matches!(&err, PatchError::Mutability(d) if d.contains("id")),
            "{err:?}"
        );
        let err = user_error(json!([{"op": "replace", "path": "id", "value": "other"}]));
        assert!(matches!(err, PatchError::Mutability(_)));
        let err = user_error(json!([{"op": "remove", "path": "id"}]));
        assert!(matches!(err, PatchError::Mutability(_)));
    }

    #[test]
    fn groups_meta_and_schemas_in_a_value_object_are_ignored() {
        let r = patch_user(json!([{"op": "replace", "value": {
            "schemas": ["something:else"],
            "meta": {"resourceType": "User", "created": "2030-01-01T00:00:00Z"},
            "groups": [{"value": "g-9"}],
            "nickName": "Babs"
        }}]));
        let mut expected = user();
        expected["nickName"] = json!("Babs");
        assert_eq!(r, expected);
    }

    #[test]
    fn read_only_attributes_by_path_cannot_change() {
        let err = user_error(json!([{"op": "add", "path": "groups", "value": [{"value": "g-1"}]}]));
        assert!(matches!(err, PatchError::Mutability(_)), "{err:?}");
        let err = user_error(json!([{"op": "replace", "path": "meta.created",
                                     "value": "2030-01-01T00:00:00Z"}]));
        assert!(matches!(err, PatchError::Mutability(_)), "{err:?}");
    }

    #[test]
    fn immutable_attributes_can_be_set_once() {
        let badge = format!("{TEST_EXT}:badge");
        let r = patch_user(json!([{"op": "add", "path": badge, "value": "B-1"}]));
        assert_eq!(r[TEST_EXT]["badge"], "B-1");
        let same = try_patch(
            &r,
            &user_schema(),
            json!([{"op": "add", "path": badge, "value": "B-1"}]),
        );
        assert_eq!(same.unwrap(), r);
        let err = try_patch(
            &r,
            &user_schema(),
            json!([{"op": "replace", "path": badge, "value": "B-2"}]),
        )
        .unwrap_err();
        assert!(matches!(err, PatchError::Mutability(_)), "{err:?}");
    }

    #[test]
    fn a_failing_operation_leaves_the_resource_untouched() {
        let mut resource = user();
        let req = PatchRequest::parse(&request(json!([
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "add", "path": EMPLOYEE_NUMBER, "value": "7"},
            {"op": "replace", "path": "active", "value": "perhaps"}
        ])))
        .unwrap();
        let err = apply(&mut resource, &req, &user_schema()).unwrap_err();
        assert!(matches!(&err, PatchError::InvalidValue(d) if d.starts_with("PATCH operation 3:")));
        assert_eq!(resource, user());
    }

    // --- Entra ID (docs/idp/entra.md, "PATCH forms") -------------------------------------

    #[test]
    fn entra_disable_user_without_and_with_the_flag() {
        let legacy = patch_user(json!([{"op": "Replace", "path": "active", "value": "False"}]));
        let flagged = patch_user(json!([{"op": "replace", "path": "active", "value": false}]));
        assert_eq!(legacy["active"], json!(false));
        assert_eq!(legacy, flagged);
        // Entra also disables with Add (rancher/rancher#54025).
        let add = patch_user(json!([{"op": "Add", "path": "active", "value": "False"}]));
        assert_eq!(add, flagged);
    }

    #[test]
    fn entra_add_single_valued_string_without_and_with_the_flag() {
        let legacy = patch_user(json!([{"op": "Add", "path": "nickName", "value": "Babs"}]));
        let flagged = patch_user(json!([{"op": "add", "path": "nickName", "value": "Babs"}]));
        assert_eq!(legacy["nickName"], "Babs");
        assert_eq!(legacy, flagged);
        // Replace where there was no value yet: treated as add (RFC 7644 §3.5.2.3).
        let replace = patch_user(json!([{"op": "Replace", "path": "nickName", "value": "Babs"}]));
        assert_eq!(replace, flagged);
    }

    #[test]
    fn entra_replace_multiple_attributes_without_the_flag() {
        let r = patch_user(json!([
            {"op": "Replace", "path": "displayName", "value": "Pvlo"},
            {"op": "Replace", "path": "emails[type eq \"work\"].value",
             "value": "TestBcwqnm@test.microsoft.com"},
            {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
            {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
            {"op": "Replace", "path": "externalId", "value": "Eqpj"},
            {"op": "Replace", "path": EMPLOYEE_NUMBER, "value": "Eqpj"}
        ]));
        assert_eq!(r["displayName"], "Pvlo");
        assert_eq!(
            r["emails"],
            json!([
                {"value": "TestBcwqnm@test.microsoft.com", "type": "work", "primary": true},
                {"value": "babs@home.example", "type": "home"}
            ])
        );
        assert_eq!(
            r["name"],
            json!({"givenName": "Gtfd", "familyName": "Pkqf"})
        );
        assert_eq!(r["externalId"], "Eqpj");
        assert_eq!(r[urn::ENTERPRISE_USER], json!({"employeeNumber": "Eqpj"}));
        assert_eq!(r["schemas"], json!([urn::USER, urn::ENTERPRISE_USER]));
    }

    #[test]
    fn entra_replace_multiple_attributes_with_the_flag() {
        let r = patch_user(json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value",
             "value": "TestMhvaes@test.microsoft.com"},
            {"op": "replace", "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                EMPLOYEE_NUMBER: "Aklq"
            }}
        ]));
        assert_eq!(r["emails"][0]["value"], "TestMhvaes@test.microsoft.com");
        assert_eq!(r["displayName"], "Bjfe");
        assert_eq!(
            r["name"],
            json!({"givenName": "Kkom", "familyName": "Unua"})
        );
        assert_eq!(r[urn::ENTERPRISE_USER], json!({"employeeNumber": "Aklq"}));
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert!(
            keys.iter()
                .all(|k| !k.contains('.') || k.starts_with("urn:")),
            "{keys:?}"
        );
    }

    #[test]
    fn entra_group_rename() {
        let r = patch_group(json!([{"op": "Replace", "path": "displayName", "value": "Eng"}]));
        assert_eq!(r["displayName"], "Eng");
        assert_eq!(member_ids_of(&r), ["u1", "u2", "u3"]);
    }

    #[test]
    fn entra_add_members_with_null_refs() {
        let r = patch_group(json!([{"op": "Add", "path": "members", "value": [
            {"$ref": null, "value": "u4"},
            {"$ref": null, "value": "u5"},
            {"$ref": null, "value": "u1"}
        ]}]));
        assert_eq!(member_ids_of(&r), ["u1", "u2", "u3", "u4", "u5"]);
        assert_eq!(r["members"][3], json!({"value": "u4"}));
    }

    #[test]
    fn entra_remove_member_without_and_with_the_flag() {
        let legacy = patch_group(json!([{"op": "Remove", "path": "members",
                                         "value": [{"value": "u2"}]}]));
        let flagged = patch_group(json!([{"op": "remove",
                                          "path": "members[value eq \"u2\"]"}]));
        assert_eq!(member_ids_of(&legacy), ["u1", "u3"]);
        assert_eq!(legacy, flagged);
    }

    // --- Okta (docs/idp/okta.md, "What Okta sends on the wire") ---------------------------

    #[test]
    fn okta_deactivate_and_reactivate() {
        let off = patch_user(json!([{"op": "replace", "value": {"active": false}}]));
        assert_eq!(off["active"], json!(false));
        let on = try_patch(
            &off,
            &user_schema(),
            json!([{"op": "replace", "value": {"active": true}}]),
        )
        .unwrap();
        assert_eq!(on, user());
    }

    #[test]
    fn okta_group_rename_repeats_the_id() {
        let r = patch_group(json!([{"op": "replace",
                                    "value": {"id": "g-1", "displayName": "Test SCIMv2"}}]));
        assert_eq!(r["displayName"], "Test SCIMv2");
        let err = try_patch(
            &group(),
            &group_schema(),
            json!([{"op": "replace", "value": {"id": "g-2", "displayName": "X"}}]),
        )
        .unwrap_err();
        assert!(matches!(err, PatchError::Mutability(_)), "{err:?}");
    }

    #[test]
    fn okta_membership_update_in_one_request() {
        let r = patch_group(json!([
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "add", "path": "members",
             "value": [{"value": "u9", "display": "test.user@okta.local"}]}
        ]));
        assert_eq!(member_ids_of(&r), ["u2", "u3", "u9"]);
    }

    #[test]
    fn okta_full_push_replaces_all_members() {
        let r = patch_group(json!([{"op": "replace", "path": "members",
                                    "value": [{"value": "u7"}, {"value": "u8"}]}]));
        assert_eq!(member_ids_of(&r), ["u7", "u8"]);
    }

    // --- members -------------------------------------------------------------------------

    #[test]
    fn repeated_member_adds_are_idempotent() {
        let op = json!({"op": "add", "path": "members", "value": [{"value": "u4"}]});
        let once = patch_group(json!([op.clone()]));
        let thrice = patch_group(json!([op.clone(), op.clone(), op]));
        assert_eq!(once, thrice);
        assert_eq!(member_ids_of(&once), ["u1", "u2", "u3", "u4"]);
    }

    #[test]
    fn remove_members_without_value_clears_them_all() {
        let r = patch_group(json!([{"op": "remove", "path": "members"}]));
        assert!(r.get("members").is_none());
    }

    #[test]
    fn removing_a_member_that_is_not_there_is_a_no_op() {
        let r = patch_group(json!([{"op": "remove", "path": "members[value eq \"nobody\"]"}]));
        assert_eq!(r, group());
        let r =
            patch_group(json!([{"op": "Remove", "path": "members", "value": [{"value": "x"}]}]));
        assert_eq!(r, group());
    }

    #[test]
    fn member_ops_apply_in_order() {
        let r = patch_group(json!([
            {"op": "add", "path": "members", "value": [{"value": "u4"}]},
            {"op": "remove", "path": "members[value eq \"u4\"]"},
            {"op": "remove", "path": "members", "value": [{"value": "u1"}]},
            {"op": "add", "path": "members", "value": [{"value": "u1"}]}
        ]));
        assert_eq!(member_ids_of(&r), ["u2", "u3", "u1"]);
    }

    #[test]
    fn member_changes_reads_adds_and_removes() {
        // Entra add, Entra legacy remove, Entra flagged remove, Okta remove + add.
        assert_eq!(
            delta(json!([{"op": "Add", "path": "members",
                          "value": [{"$ref": null, "value": "a"}, {"$ref": null, "value": "b"}]}])),
            Some(MemberDelta {
                add: strings(&["a", "b"]),
                remove: vec![]
            })
        );
        assert_eq!(
            delta(json!([{"op": "Remove", "path": "members", "value": [{"value": "u1091"}]}])),
            Some(MemberDelta {
                add: vec![],
                remove: strings(&["u1091"])
            })
        );
        assert_eq!(
            delta(json!([{"op": "remove", "path": "members[value eq \"7f4bc1a3\"]"}])),
            Some(MemberDelta {
                add: vec![],
                remove: strings(&["7f4bc1a3"])
            })
        );
        assert_eq!(
            delta(json!([
                {"op": "remove", "path": "members[value eq \"89bb\"]"},
                {"op": "add", "path": "members", "value": [{"value": "23a3", "display": "t@okta"}]}
            ])),
            Some(MemberDelta {
                add: strings(&["23a3"]),
                remove: strings(&["89bb"])
            })
        );
        assert_eq!(
            delta(json!([{"op": "remove",
                          "path": "members[value eq \"a\" or value eq \"b\"]"}])),
            Some(MemberDelta {
                add: vec![],
                remove: strings(&["a", "b"])
            })
        );
    }

    #[test]
    fn member_changes_keeps_the_last_word_for_each_id() {
        assert_eq!(
            delta(json!([
                {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
                {"op": "remove", "path": "members[value eq \"a\"]"}
            ])),
            Some(MemberDelta {
                add: strings(&["b"]),
                remove: strings(&["a"])
            })
        );
        assert_eq!(
            delta(json!([
                {"op": "remove", "path": "members[value eq \"a\"]"},
                {"op": "add", "path": "members", "value": [{"value": "a"}]}
            ])),
            Some(MemberDelta {
                add: strings(&["a"]),
                remove: vec![]
            })
        );
    }

    #[test]
    fn member_changes_declines_anything_else() {
        for ops in [
            json!([{"op": "replace", "path": "members", "value": [{"value": "a"}]}]),
            json!([{"op": "remove", "path": "members"}]),
            json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}]),
            json!([{"op": "add", "path": "members", "value": null}]),
            json!([{"op": "Replace", "path": "displayName", "value": "x"},
                   {"op": "Add", "path": "members", "value": [{"value": "a"}]}]),
            json!([{"op": "replace", "value": {"members": [{"value": "a"}]}}]),
            json!([{"op": "remove", "path": "members[display eq \"x\"]"}]),
            json!([{"op": "remove", "path": "members[value ne \"x\"]"}]),
            json!([{"op": "remove", "path": "members[value eq \"x\"].display"}]),
        ] {
            assert_eq!(delta(ops.clone()), None, "{ops}");
        }
    }

    #[test]
    fn member_changes_agrees_with_apply() {
        let ops = json!([
            {"op": "remove", "path": "members[value eq \"u1\"]"},
            {"op": "Add", "path": "members", "value": [{"value": "u4"}, {"value": "u1"}]},
            {"op": "Remove", "path": "members", "value": [{"value": "u2"}]}
        ]);
        let d = delta(ops.clone()).unwrap();
        let patched = patch_group(ops);
        let mut expected: Vec<String> = strings(&member_ids_of(&group()));
        expected.retain(|id| !d.remove.contains(id));
        for id in &d.add {
            if !expected.contains(id) {
                expected.push(id.clone());
            }
        }
        let mut got = strings(&member_ids_of(&patched));
        got.sort();
        expected.sort();
        assert_eq!(got, expected);
    }

    #[test]
    fn a_member_value_given_twice_in_two_cases_is_read_once_by_apply_and_member_changes() {
        // Found by the `patch` fuzz target: `apply` took the last spelling, `member_changes`
        // the canonical one, so the same request added "" or "u4" depending on the path.
        let ops = json!([{"op": "add", "path": "members",
                          "value": [{"valUe": "", "value": "u4", "VALUE": "u5"}]}]);
        assert_eq!(delta(ops.clone()).unwrap().add, ["u4"]);
        assert_eq!(member_ids_of(&patch_group(ops)), ["u1", "u2", "u3", "u4"]);
        let ops = json!([{"op": "add", "path": "members",
                          "value": [{"valUe": "u6", "VALUE": "u7"}]}]);
        assert_eq!(delta(ops.clone()).unwrap().add, ["u6"]);
        assert_eq!(member_ids_of(&patch_group(ops)), ["u1", "u2", "u3", "u6"]);
    }

    // --- the RFC schemas as the gateway serves them ----------------------------------------

    #[test]
    fn entra_and_okta_requests_against_the_rfc_schemas() {
        let users = ResourceSchema::user();
        let r = try_patch(
            &user(),
            users,
            json!([
                {"op": "Replace", "path": "active", "value": "False"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@example.com"},
                {"op": "replace", "value": {"displayName": "Bjfe", "name.givenName": "Kkom",
                                            EMPLOYEE_NUMBER: "Aklq"}},
                {"op": "Add", "path": MANAGER, "value": "m-1"},
                {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555"}
            ]),
        )
        .unwrap();
        assert_eq!(r["active"], json!(false));
        assert_eq!(r["emails"][0]["value"], "w@example.com");
        assert_eq!(r["name"]["givenName"], "Kkom");
        assert_eq!(
            r[urn::ENTERPRISE_USER],
            json!({"employeeNumber": "Aklq", "manager": {"value": "m-1"}})
        );
        assert_eq!(
            r["phoneNumbers"],
            json!([{"type": "mobile", "value": "555"}])
        );

        let groups = ResourceSchema::group();
        let r = try_patch(
            &group(),
            groups,
            json!([
                {"op": "replace", "value": {"id": "g-1", "displayName": "Renamed"}},
                {"op": "remove", "path": "members[value eq \"u1\"]"},
                {"op": "add", "path": "members",
                 "value": [{"value": "u9", "display": "t@okta.local", "$ref": null}]},
                {"op": "Remove", "path": "members", "value": [{"value": "u2"}]}
            ]),
        )
        .unwrap();
        assert_eq!(r["displayName"], "Renamed");
        assert_eq!(member_ids_of(&r), ["u3", "u9"]);
        assert_eq!(
            r["members"][1],
            json!({"value": "u9", "display": "t@okta.local"})
        );
    }

    // --- property: no panic, all or nothing -----------------------------------------------

    fn arb_path() -> impl Strategy<Value = String> {
        let known = prop::sample::select(vec![
            "userName",
            "name",
            "name.givenName",
            "NAME.familyname",
            "active",
            "emails",
            "emails.value",
            "emails[type eq \"work\"]",
            "emails[type eq \"work\"].value",
            "emails[type eq \"work\" and primary eq true].primary",
            "emails[value co \"@\"].type",
            "emails[not (type eq \"home\")]",
            "phoneNumbers[type eq \"mobile\"].value",
            "addresses[type eq \"work\"].postalCode",
            "groups",
            "id",
            "meta",
            "meta.created",
            "externalId",
            "members",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            "urn:example:params:scim:schemas:extension:test:2.0:User:level",
            "urn:example:params:scim:schemas:extension:test:2.0:User:badge",
            "urn:example:params:scim:schemas:extension:test:2.0:User:tags",
            "unknown",
            "name.unknown",
            "schemas",
        ])
        .prop_map(String::from);
        prop_oneof![19 => known, 1 => "[a-zA-Z\\[\\]. \":=]{0,16}"]
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop::sample::select(vec!["True", "false", "work", "42", "1.5", "", "x"])
                .prop_map(Value::from),
            "[a-z]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((arb_path(), inner), 0..4)
                    .prop_map(|kv| Value::Object(kv.into_iter().collect())),
            ]
        })
    }

    fn arb_operation() -> impl Strategy<Value = Value> {
        let op = prop_oneof![
            19 => prop::sample::select(vec!["add", "remove", "replace", "Add", "Replace"]),
            1 => Just("copy"),
        ];
        let object = prop::collection::vec((arb_path(), arb_json()), 1..4)
            .prop_map(|kv| Value::Object(kv.into_iter().collect()));
        let with_path = (
            op.clone(),
            arb_path(),
            prop::option::weighted(0.9, arb_json()),
        )
            .prop_map(|(op, path, value)| (op, Some(path), value));
        let without_path = (op, prop_oneof![9 => object, 1 => arb_json()])
            .prop_map(|(op, value)| (op, None, Some(value)));
        prop_oneof![3 => with_path, 1 => without_path].prop_map(|(op, path, value)| {
            let mut o = Map::new();
            o.insert("op".into(), json!(op));
            if let Some(p) = path {
                o.insert("path".into(), json!(p));
            }
            if let Some(v) = value {
                o.insert("value".into(), v);
            }
            Value::Object(o)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]
        #[test]
        fn apply_never_panics_and_is_all_or_nothing(
            ops in prop::collection::vec(arb_operation(), 1..4),
        ) {
            let Ok(req) = PatchRequest::parse(&request(Value::Array(ops))) else {
                return Ok(());
            };
            let cases = [
                (user_schema(), user()),
                (group_schema(), group()),
                (ResourceSchema::user().clone(), user()),
                (ResourceSchema::group().clone(), group()),
            ];
            for (schema, original) in cases {
                let mut resource = original.clone();
                if apply(&mut resource, &req, &schema).is_err() {
                    prop_assert_eq!(&resource, &original);
                } else {
                    prop_assert!(resource.is_object());
                }
                let _ = member_changes(&req);
            }
        }
    }

    /// An element of `emails` or `phoneNumbers`: one of a few values (in either case, or not a
    /// string), perhaps a type, perhaps primary.
    fn arb_element() -> impl Strategy<Value = Value> {
        let value = prop_oneof![
            prop::sample::select(vec![
                "a@x.example",
                "A@X.example",
                "b@x.example",
                "ß@x",
                "SS@x"
            ])
            .prop_map(|v| json!(v)),
            Just(json!(7)),
            Just(Value::Null),
        ];
        let kind = prop::option::of(prop::sample::select(vec!["work", "home", "WORK"]));
        (value, kind, any::<bool>()).prop_map(|(value, kind, primary)| {
            let mut o = Map::new();
            if !value.is_null() {
                o.insert("value".into(), value);
            }
            if let Some(k) = kind {
                o.insert("type".into(), json!(k));
            }
            if primary {
                o.insert("primary".into(), json!(true));
            }
            Value::Object(o)
        })
    }

    proptest! {
        #[test]
        fn merging_element_by_element_or_by_index_gives_the_same_list(
            base in prop::collection::vec(arb_element(), 0..6),
            new in prop::collection::vec(arb_element(), 0..6),
            phones in any::<bool>(),
        ) {
            let schema = ResourceSchema::user();
            let name = if phones { "phoneNumbers" } else { "emails" };
            let def = schema.core.attribute(name).unwrap();
            let compared = merge_items_indexed_from(def, base.clone(), new.clone(), usize::MAX);
            let indexed = merge_items_indexed_from(def, base, new, 0);
            prop_assert_eq!(compared, indexed);
        }
    }

    #[test]
    fn an_extension_object_that_echoes_its_schemas_is_accepted() {
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let mut u =
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a"});
        let req = PatchRequest::parse(&json!({"Operations": [{"op": "add", "path": ent,
            "value": {"schemas": [ent], "department": "Maths"}}]}))
        .unwrap();
        apply(&mut u, &req, ResourceSchema::user()).unwrap();
        assert_eq!(u[ent]["department"], "Maths");
        assert!(u[ent].get("schemas").is_none());
    }
}
