//! SCIM ↔ legacy translation of one user or group, over the compiled plan: legacy JSON → SCIM
//! resource ([`ResourceMapping::to_scim`]), SCIM resource → legacy JSON
//! ([`ResourceMapping::to_legacy`]),
//! and the body of a legacy update ([`ResourceMapping::update_body`]); the deleted marker
//! ([`ResourceMapping::is_deleted`], [`ResourceMapping::mark_deleted`]). Pure functions of
//! their inputs. Not here: HTTP, `meta.location`, a group's `members` (see `membership`), and
//! PATCH (the server applies SCIM PATCH to the SCIM resource first, then translates the
//! result).

use serde_json::{Map, Value};

use super::draft::Draft;
use super::error::TranslateError;
use super::legacy_path::{LegacyPath, LegacyRecord, Omitting, WriteConflict};
use super::load::writes_active;
use super::plan::{Attr, ResourceMapping, UpdateMode};
use super::slot::ScimSlot;
use super::values::{into_scalar_string, same_scalar, scalar_string, ConvertError};
use crate::scim::json_text;
use crate::scim::path::AttrPath;

/// The body of a legacy update ([`ResourceMapping::update_body`]), written as it is sent.
#[derive(Debug)]
pub enum UpdateBody<'a> {
    /// `mode: full`: the new record, written without its read-only fields (not copied).
    Whole(Omitting<'a>),
    /// `mode: partial`: what changed.
    Changed(Value),
}

impl UpdateBody<'_> {
    /// Writes the body as compact JSON text, as `serde_json` writes it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            UpdateBody::Whole(record) => record.write_json(out),
            UpdateBody::Changed(fields) => json_text::write_value(out, fields),
        }
    }

    /// The body as a JSON value (what the legacy API receives, parsed).
    pub fn to_value(&self) -> Value {
        match self {
            UpdateBody::Changed(fields) => fields.clone(),
            UpdateBody::Whole(_) => {
                let mut text = Vec::new();
                self.write_json(&mut text);
                // JSON text written from a JSON value parses.
                serde_json::from_slice(&text).unwrap_or(Value::Null)
            }
        }
    }
}

impl ResourceMapping {
    /// The legacy id of a legacy user or group, as a string (`42` → `"42"`).
    pub fn legacy_id(&self, legacy: &Value) -> Option<String> {
        self.read_id(legacy)
    }

    /// [`ResourceMapping::legacy_id`] of a record however it is held.
    pub(crate) fn read_id(&self, legacy: &impl LegacyRecord) -> Option<String> {
        legacy
            .read(&self.plan.id)
            .and_then(scalar_string)
            .filter(|s| !s.is_empty())
    }

    /// The SCIM resource (User or Group) for a legacy record: `schemas`, `id`, every readable
    /// attribute, and `meta` (`resourceType`, `created`, `lastModified`, `version` as
    /// `W/"<v>"`), without `meta.location`; never a group's `members` (the server adds them).
    /// A legacy value that a value map does not list, or that does not fit the SCIM type, is
    /// left out. Fails only when the record has no id.
    pub fn to_scim(&self, legacy: &Value) -> Result<Value, TranslateError> {
        Ok(self.draft_whole(legacy)?.into_value())
    }

    /// [`ResourceMapping::draft`] of a record held whole: through the mapping's compiled
    /// reader where it has one (the values the translation reads copied out of the record in
    /// one pass over its fields), else path by path.
    pub(crate) fn draft_whole(&self, legacy: &Value) -> Result<Draft<'_>, TranslateError> {
        match &self.plan.reader {
            Some(reader) => self.draft_taking(&mut reader.read_value(legacy)),
            None => self.draft(legacy),
        }
    }

    /// [`ResourceMapping::to_scim`] of a record however it is held, as a [`Draft`]: the one
    /// translation of a legacy record, whether its result becomes a JSON value or is written
    /// out as text.
    pub(crate) fn draft(&self, legacy: &impl LegacyRecord) -> Result<Draft<'_>, TranslateError> {
        self.draft_taking(&mut &*legacy)
    }

    /// [`ResourceMapping::draft`] of a record the caller gives up the values of: each value
    /// only one attribute reads is moved into the draft instead of copied. What stays readable
    /// afterwards: the id, the deleted marker and every value more than one path reads.
    pub(crate) fn draft_taking(
        &self,
        legacy: &mut impl LegacyRecord,
    ) -> Result<Draft<'_>, TranslateError> {
        let id = self.read_id(&*legacy).ok_or_else(|| {
            TranslateError::LegacyResponse(format!(
                "a {} has no id at {}",
                self.schema.name.to_lowercase(),
                self.plan.id.as_str()
            ))
        })?;
        // Room for every attribute at the top level, and `schemas`, `id` and `meta`.
        let mut out = Draft::with_capacity(self.plan.attrs.len() + 3);
        // `schemas` first; its value, once the extensions the user has are known.
        out.insert("schemas", Value::Null);
        out.insert("id", Value::String(id));
        for attr in &self.plan.attrs {
            match attr {
                Attr::Field {
                    slot,
                    legacy: path,
                    read: true,
                    conv,
                    empty_absent,
                    ..
                } => {
                    let found = legacy
                        .read_owned(path)
                        .filter(|v| !(*empty_absent && blank(v)));
                    if let Some(v) = found.and_then(|v| conv.to_scim_owned(v)) {
                        out.set(slot, v);
                    }
                }
                Attr::Computed { slot, template } => {
                    if let Some(text) = template.render(&*legacy) {
                        out.set(slot, Value::String(text));
                    }
                }
                Attr::Join {
                    legacy: path,
                    parts,
                    separator,
                    read: true,
                    ..
                } => {
                    if let Some(text) = legacy.read(path).and_then(scalar_string) {
                        for (slot, piece) in
                            parts.iter().zip(split_join(&text, separator, parts.len()))
                        {
                            if !piece.is_empty() {
                                out.set(slot, Value::String(piece));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        // Constants last, so that element constants (`primary: true`) only join elements that
        // have a mapped value.
        for attr in &self.plan.attrs {
            if let Attr::ScimConstant { slot, value } = attr {
                if out.element_exists(slot) {
                    out.set_lent(slot, value);
                }
            }
        }
        let lent = &self.plan.lent;
        let present = lent.extensions.iter().filter(|urn| out.contains(urn));
        match present.clone().count() {
            0 => out.insert_lent("schemas", &lent.core_schemas),
            n if n == lent.extensions.len() => out.insert_lent("schemas", &lent.every_schemas),
            _ => {
                let core = Value::String(self.schema.core.id.to_string());
                let schemas = std::iter::once(core)
                    .chain(present.map(|urn| Value::String(urn.clone())))
                    .collect();
                out.insert("schemas", Value::Array(schemas));
            }
        }
        let meta = out.object("meta");
        meta.insert_lent("resourceType", &lent.resource_type);
        let mut text = |p: &Option<LegacyPath>| {
            p.as_ref()
                .and_then(|p| legacy.read_owned(p))
                .and_then(into_scalar_string)
        };
        if let Some(c) = text(&self.plan.created) {
            meta.insert("created", Value::String(c));
        }
        if let Some(m) = text(&self.plan.last_modified) {
            meta.insert("lastModified", Value::String(m));
        }
        if let Some(v) = text(&self.plan.version) {
            let mut tag = String::with_capacity(v.len() + 4);
            tag.push_str("W/\"");
            tag.push_str(&v);
            tag.push('"');
            meta.insert("version", Value::String(tag));
        }
        Ok(out)
    }

    /// The legacy JSON for a SCIM User: every writable attribute of `scim` written onto a
    /// clone of `base` (`None`: a new object, for a create). With a base (a full update), an
    /// attribute absent or null in `scim` writes null to its field (a filtered list element is
    /// removed), except a write-only one (`direction: write`), which the client never sees and
    /// so is left as it is; on create an absent attribute writes its `default`, if any, else
    /// nothing. Legacy fields the mapping does not mention are kept; constants are always
    /// written. An attribute marked `required` that would be written as null or not at all
    /// (absent on create without a default; absent or null on update, unless write-only) is
    /// refused with [`TranslateError::Required`].
    pub fn to_legacy(&self, scim: &Value, base: Option<&Value>) -> Result<Value, TranslateError> {
        let creating = base.is_none();
        let out = base.cloned().unwrap_or_else(|| Value::Object(Map::new()));
        Ok(self.write_user(scim, out, creating)?.0)
    }

    /// [`ResourceMapping::to_legacy`] of a full update over the record read itself, given up
    /// (not copied): the record with the writes, and whether they changed it.
    pub fn to_legacy_over(
        &self,
        scim: &Value,
        base: Value,
    ) -> Result<(Value, bool), TranslateError> {
        self.write_user(scim, base, false)
    }

    /// Writes every writable attribute of `scim` into `out` (see
    /// [`ResourceMapping::to_legacy`]); `true` when that changed `out`.
    fn write_user(
        &self,
        scim: &Value,
        mut out: Value,
        creating: bool,
    ) -> Result<(Value, bool), TranslateError> {
        // Each entry's value first (an entry refused refuses the whole), then the writes.
        let mut writes = Vec::with_capacity(self.plan.attrs.len());
        for attr in &self.plan.attrs {
            let (legacy, value) = match attr {
                Attr::Field {
                    slot,
                    legacy,
                    read,
                    write: true,
                    conv,
                    default,
                    required,
                    empty_absent,
                } => {
                    let default = if creating { default.as_ref() } else { None };
                    let value = match slot.get(scim).or(default) {
                        Some(v) => conv
                            .to_legacy(v)
                            .map_err(|e| convert_error(slot, legacy, e))?,
                        // Absent from an update, a write-only attribute is left as it is, so
                        // only a readable one would be removed.
                        None if *required && (creating || *read) => {
                            return Err(TranslateError::Required {
                                attr: slot.label(),
                                creating,
                            })
                        }
                        // Nothing to write on create; and a write-only attribute is never
                        // reported, so a client cannot be expected to send it back.
                        None if creating || !read => continue,
                        // The legacy API stores "" for no value (`empty: absent`).
                        None if *empty_absent => Value::String(String::new()),
                        None => Value::Null,
                    };
                    let value = match value {
                        Value::Null if *empty_absent => Value::String(String::new()),
                        v => v,
                    };
                    (legacy, value)
                }
                Attr::Join {
                    legacy,
                    parts,
                    separator,
                    read,
                    write: true,
                } => {
                    let mut pieces = Vec::new();
                    for slot in parts {
                        if let Some(v) = slot.get(scim) {
                            let s =
                                scalar_string(v).ok_or_else(|| TranslateError::InvalidValue {
                                    attr: slot.label(),
                                    legacy: legacy.as_str().to_string(),
                                    reason: "expected a string".into(),
                                })?;
                            if !s.trim().is_empty() {
                                pieces.push(s);
                            }
                        }
                    }
                    let value = if !pieces.is_empty() {
                        Value::String(pieces.join(separator))
                    } else if creating || !read {
                        continue;
                    } else {
                        Value::Null
                    };
                    (legacy, value)
                }
                Attr::LegacyConstant { legacy, value } => (legacy, value.clone()),
                Attr::LegacyDefault { legacy, value } if creating => (legacy, value.clone()),
                _ => continue,
            };
            writes.push((legacy, Some(value), attr));
        }
        // Over a record read, the fields it holds take their values in one pass; the rest is
        // written path by path, in the mapping's order (so fields added come in that order).
        let mut changed = false;
        if let (false, Some(reader)) = (creating, &self.plan.reader) {
            changed = reader.write_in_place(&mut out, &mut writes);
        }
        for (legacy, value, attr) in writes {
            if let Some(value) = value {
                changed |= write(legacy, &mut out, value, || written_label(attr))?;
            }
        }
        Ok((out, changed))
    }

    /// The body of a legacy update that turns `old_legacy` (the record as read) into
    /// `new_legacy` (the same record with the mapping's writes applied).
    ///
    /// `mode: full`: the new record whole (its id and version included) minus the fields the
    /// mapping marks read-only ([`Plan::read_only`](super::plan::Plan): the timestamps, and
    /// fields only `direction: read` entries name), which such an API ignores.
    ///
    /// `mode: partial`: only what changed, however deep: inside an object (an envelope such as
    /// `{"user": {…}}`, a nested `address`) only the fields that changed, with `null` for one
    /// that disappeared; a list that changed is sent whole; an object listed in
    /// `replaces_whole:` that changed is sent whole. Since the new record is the old one plus
    /// the mapping's writes, a field no entry writes is never sent.
    pub fn update_body<'a>(&'a self, old_legacy: &Value, new_legacy: &'a Value) -> UpdateBody<'a> {
        match self.endpoints.update_mode {
            UpdateMode::Full => UpdateBody::Whole(Omitting::new(new_legacy, &self.plan.read_only)),
            UpdateMode::Partial => {
                let empty = Map::new();
                let old = old_legacy.as_object().unwrap_or(&empty);
                let new = new_legacy.as_object().unwrap_or(&empty);
                let whole = &self.endpoints.update_replaces_whole;
                UpdateBody::Changed(Value::Object(changed_fields(
                    old,
                    new,
                    &mut Vec::new(),
                    whole,
                )))
            }
        }
    }

    /// Every SCIM attribute this mapping stores (read or written), for `/Schemas`; elements
    /// selected by type also report their `type`.
    pub(crate) fn attribute_paths(&self) -> Vec<AttrPath> {
        let mut out: Vec<AttrPath> = Vec::new();
        for attr in &self.plan.attrs {
            let slots: Vec<&ScimSlot> = match attr {
                Attr::Field { slot, .. }
                | Attr::ScimConstant { slot, .. }
                | Attr::Computed { slot, .. } => vec![slot],
                Attr::Join { parts, .. } => parts.iter().collect(),
                _ => vec![],
            };
            for p in slots.into_iter().flat_map(ScimSlot::attr_paths) {
                if !out.iter().any(|x| x.matches(&p) && x.schema == p.schema) {
                    out.push(p);
                }
            }
        }
        out
    }

    /// The SCIM attributes of `attributes:` that map to a legacy field, with that field's path
    /// (relative to the record) and the directions the entry goes: what the onboarding
    /// commands compare an answer against. Constants and computed values are left out.
    pub(crate) fn mapped_fields(&self) -> Vec<MappedField> {
        let mut out = Vec::new();
        for attr in &self.plan.attrs {
            match attr {
                Attr::Field {
                    slot,
                    legacy,
                    read,
                    write,
                    ..
                } => out.push(MappedField {
                    scim: slot.label(),
                    legacy: legacy.as_str().to_string(),
                    read: *read,
                    write: *write,
                    joined: false,
                }),
                Attr::Join {
                    legacy,
                    parts,
                    read,
                    write,
                    ..
                } => out.extend(parts.iter().map(|slot| MappedField {
                    scim: slot.label(),
                    legacy: legacy.as_str().to_string(),
                    read: *read,
                    write: *write,
                    joined: true,
                })),
                _ => {}
            }
        }
        out
    }

    /// The legacy path of the record's id, relative to the record (`$.id`).
    pub(crate) fn id_path(&self) -> &str {
        self.plan.id.as_str()
    }

    /// Whether `version:` is mapped, so that users carry `meta.version` and ETags are
    /// supported (the `etag` flag of `/ServiceProviderConfig`).
    pub fn has_version(&self) -> bool {
        self.plan.version.is_some()
    }

    /// The `If-Match` value for an update of `legacy` (its version as an entity tag), when the
    /// update endpoint has `if_match: true` and the record has a version.
    pub(crate) fn update_if_match(&self, legacy: &Value) -> Option<String> {
        if !self.endpoints.update_if_match {
            return None;
        }
        let version = self.plan.version.as_ref()?.read(legacy)?;
        scalar_string(version).map(entity_tag)
    }

    /// Whether the mapping has a `deleted:` marker (then [`ResourceMapping::mark_deleted`]
    /// gives a value for any legacy user whose shape allows the marker).
    pub fn has_deleted_marker(&self) -> bool {
        self.plan.deleted.is_some()
    }

    /// Whether this legacy user carries the `deleted:` marker, i.e. was deleted through SCIM
    /// and must answer 404 (RFC 7644 §3.6) although the legacy API keeps the record. The value
    /// is compared as a scalar (`1` is `"1"`), case-sensitively. False without a marker.
    pub fn is_deleted(&self, legacy: &Value) -> bool {
        self.record_deleted(legacy)
    }

    /// [`ResourceMapping::is_deleted`] of a record however it is held.
    pub(crate) fn record_deleted(&self, legacy: &impl LegacyRecord) -> bool {
        self.plan.deleted.as_ref().is_some_and(|m| {
            legacy
                .read(&m.legacy)
                .is_some_and(|v| same_scalar(v, &m.value))
        })
    }

    /// A copy of the legacy user with the `deleted:` marker written (missing parents created),
    /// for the update a SCIM DELETE sends. `None` when the mapping has no marker, or when the
    /// record's shape leaves no place for it (a field on the way is not an object: see
    /// [`ResourceMapping::has_deleted_marker`] to tell the two apart). Nothing else changes:
    /// when the marker is not the `active` field itself, deactivating is a separate write.
    pub fn mark_deleted(&self, legacy: &Value) -> Option<Value> {
        let m = self.plan.deleted.as_ref()?;
        let mut out = legacy.clone();
        m.legacy.write(&mut out, m.value.clone()).ok()?;
        Some(out)
    }

    /// Whether `id` has the form `id_format:` declares (always, without one). A SCIM id that
    /// does not names no record of this resource: the gateway answers 404 without a legacy call.
    pub fn accepts_id(&self, id: &str) -> bool {
        self.id_format.as_ref().is_none_or(|f| f.accepts(id))
    }

    /// Whether the legacy list returns records carrying the deleted marker (which SCIM must not
    /// show or count). False without a marker, or when the marker says `listed: false`.
    pub(crate) fn lists_deleted(&self) -> bool {
        self.plan.deleted.as_ref().is_some_and(|m| m.listed)
    }

    /// Whether legacy list item `item` cannot tell whether its record was deleted: the legacy
    /// list holds records marked deleted ([`ResourceMapping::lists_deleted`]) and the item does
    /// not hold the marker's field at all (thin list items). An item that holds it, null
    /// included, tells. The record must then be read on its own before it is shown or counted.
    pub(crate) fn deletion_unknown(&self, item: &Value) -> bool {
        self.lists_deleted()
            && self
                .plan
                .deleted
                .as_ref()
                .is_some_and(|m| m.legacy.read_all(item).is_empty())
    }

    /// Whether `active` is written through an attribute. When it is not, the server
    /// (de)activates through the deactivate/reactivate endpoints.
    pub fn writes_active(&self) -> bool {
        writes_active(&self.plan.attrs)
    }
}

/// The fields of `new` that differ from `old`'s, recursing into objects present in both (but
/// not into one at a `whole` path, `at` being where `old` and `new` are); `null` for a field
/// `new` no longer has.
fn changed_fields<'a>(
    old: &'a Map<String, Value>,
    new: &'a Map<String, Value>,
    at: &mut Vec<&'a str>,
    whole: &[LegacyPath],
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in new {
        match (old.get(key), value) {
            (Some(before), _) if crate::scim::same_json(before, value) => {}
            (Some(Value::Object(before)), Value::Object(after)) => {
                at.push(key);
                let replaced = whole
                    .iter()
                    .any(|w| w.field_names().is_some_and(|names| names == *at));
                let sent = if replaced {
                    value.clone()
                } else {
                    Value::Object(changed_fields(before, after, at, whole))
                };
                at.pop();
                out.insert(key.clone(), sent);
            }
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    for key in old.keys() {
        if !new.contains_key(key) {
            out.insert(key.clone(), Value::Null);
        }
    }
    out
}

/// An empty or blank string (`empty: absent` reads it as no value).
fn blank(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.trim().is_empty())
}

/// Splits a joined legacy value into `n` pieces at the LAST separators, so the first part takes
/// the rest: "Mary Ann Smith" in two parts is ["Mary Ann", "Smith"]. Fewer separators give
/// fewer pieces (the later parts are then absent).
fn split_join(text: &str, separator: &str, n: usize) -> Vec<String> {
    let mut pieces: Vec<String> = text
        .trim()
        .rsplitn(n, separator)
        .map(|s| s.trim().to_string())
        .collect();
    pieces.reverse();
    pieces
}

/// Writes `value` at `legacy`; `attr` names what is written, made only for the message of a
/// conflict (made for every attribute, the names were a tenth of a PATCH's instructions).
fn write(
    legacy: &LegacyPath,
    out: &mut Value,
    value: Value,
    attr: impl FnOnce() -> String,
) -> Result<bool, TranslateError> {
    legacy.write(out, value).map_err(|c: WriteConflict| {
        TranslateError::LegacyResponse(format!(
            "cannot write {} to {}: {c}",
            attr(),
            legacy.as_str()
        ))
    })
}

/// What a write that cannot be made names: the attribute (or attributes) it writes.
fn written_label(attr: &Attr) -> String {
    match attr {
        Attr::Field { slot, .. } => slot.label(),
        Attr::Join { parts, .. } => parts
            .iter()
            .map(ScimSlot::label)
            .collect::<Vec<_>>()
            .join(" + "),
        Attr::LegacyDefault { .. } => "(default)".into(),
        _ => "(constant)".into(),
    }
}

fn convert_error(slot: &ScimSlot, legacy: &LegacyPath, e: ConvertError) -> TranslateError {
    match e {
        ConvertError::Invalid(reason) => TranslateError::InvalidValue {
            attr: slot.label(),
            legacy: legacy.as_str().to_string(),
            reason,
        },
        ConvertError::Unmapped { value, allowed } => TranslateError::UnmappedValue {
            attr: slot.label(),
            legacy: legacy.as_str().to_string(),
            value,
            allowed,
        },
    }
}

/// A version as an HTTP entity tag: `4` → `"4"`; one that already is a tag (`"4"`,
/// `W/"4"`) as it is.
/// One SCIM attribute mapped to a legacy field (see [`ResourceMapping::mapped_fields`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MappedField {
    /// The SCIM path as a mapping writes it (`name.givenName`, `emails[type eq "work"].value`).
    pub(crate) scim: String,
    /// The legacy path, relative to the record (`$.first_name`).
    pub(crate) legacy: String,
    pub(crate) read: bool,
    pub(crate) write: bool,
    /// One of several SCIM attributes joined in that one legacy field.
    pub(crate) joined: bool,
}

pub(crate) fn entity_tag(version: String) -> String {
    let tagged =
        version.ends_with('"') && (version.starts_with('"') || version.starts_with("W/\""));
    if tagged {
        version
    } else {
        format!("\"{version}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::fixture::fixture;
    use crate::scim::{ScimError, ScimType};
    use serde_json::json;

    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    fn legacy_user() -> Value {
        json!({
            "id": 42,
            "login": "ada",
            "external_ref": "ext-1",
            "full_name": "Mary Ann Smith",
            "status": "enabled",
            "kind": "C",
            "email": "ada@example.com",
            "phones": [{"kind": "desk", "number": "+1 555 0100"}, {"kind": "cell", "number": "+1 555 0199"}],
            "address": {"city": "Springfield", "zip": "62701", "street": "kept"},
            "hr": {"badge": 1815},
            "manager_id": 7,
            "title": "hidden (write-only)",
            "nick": "Countess",
            "source": "seed",
            "role": "admin",
            "created_at": "2024-01-02T03:04:05Z",
            "updated_at": "2024-02-03T04:05:06Z",
            "version": 3,
            "unmapped": {"keep": true}
        })
    }

    #[test]
    fn legacy_user_reads_as_a_full_scim_user() {
        let m = fixture();
        let scim = m.users.to_scim(&legacy_user()).unwrap();
        assert_eq!(
            scim,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
                "id": "42",
                "userName": "ada",
                "externalId": "ext-1",
                "name": {"givenName": "Mary Ann", "familyName": "Smith"},
                "displayName": "Mary Ann Smith",
                "active": true,
                "userType": "Contractor",
                "emails": [{"type": "work", "value": "ada@example.com", "primary": true}],
                "phoneNumbers": [
                    {"type": "mobile", "value": "+1 555 0199"},
                    {"type": "work", "value": "+1 555 0100"}
                ],
                "addresses": [{"type": "work", "locality": "Springfield", "postalCode": "62701"}],
                ENTERPRISE: {"employeeNumber": "1815", "manager": {"value": "7"}},
                "nickName": "Countess",
                "meta": {
                    "resourceType": "User",
                    "created": "2024-01-02T03:04:05Z",
                    "lastModified": "2024-02-03T04:05:06Z",
                    "version": "W/\"3\""
                }
            })
        );
    }

    #[test]
    fn sparse_legacy_user_reads_without_empty_parts() {
        let m = fixture();
        let scim = m
            .users
            .to_scim(&json!({"id": "u1", "login": "bob", "email": null}))
            .unwrap();
        assert_eq!(
            scim,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "u1",
                "userName": "bob",
                "meta": {"resourceType": "User"}
            })
        );
    }

    #[test]
    fn unmapped_legacy_value_is_left_out_on_read() {
        let m = fixture();
        let scim = m
            .users
            .to_scim(&json!({"id": 1, "status": "archived", "kind": "X"}))
            .unwrap();
        assert!(scim.get("active").is_none());
        assert!(scim.get("userType").is_none());
        let locked = m
            .users
            .to_scim(&json!({"id": 1, "status": "locked"}))
            .unwrap();
        assert_eq!(locked["active"], json!(false));
    }

    #[test]
    fn a_user_without_id_cannot_be_read() {
        let e = fixture().users.to_scim(&json!({"login": "x"})).unwrap_err();
        let e: ScimError = e.into();
        assert_eq!(e.status, 502);
        assert!(e.detail.contains("no id at $.id"), "{}", e.detail);
    }

    fn scim_user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": "ada",
            "externalId": "ext-1",
            "name": {"givenName": "Mary Ann", "familyName": "Smith"},
            "active": "False",
            "userType": "employee",
            "emails": [
                {"type": "home", "value": "ada@home.example"},
                {"type": "WORK", "value": "ada@example.com", "primary": true}
            ],
            "phoneNumbers": [{"type": "mobile", "value": "+1 555 0199"}],
            "addresses": [{"type": "work", "locality": "Springfield"}],
            "title": "Analyst",
            "nickName": "ignored: read-only",
            ENTERPRISE: {"employeeNumber": "1815", "manager": {"value": "7"}}
        })
    }

    #[test]
    fn create_writes_every_writable_attribute_constants_and_defaults() {
        let m = fixture();
        let legacy = m.users.to_legacy(&scim_user(), None).unwrap();
        assert_eq!(
            legacy,
            json!({
                "login": "ada",
                "external_ref": "ext-1",
                "full_name": "Mary Ann Smith",
                "status": "disabled",
                "kind": "E",
                "email": "ada@example.com",
                "phones": [{"kind": "cell", "number": "+1 555 0199"}],
                "address": {"city": "Springfield"},
                "hr": {"badge": 1815},
                "manager_id": 7,
                "title": "Analyst",
                "source": "scim",
                "role": "member"
            })
        );
    }

    #[test]
    fn create_applies_scim_defaults_when_the_value_is_absent() {
        let m = fixture();
        let legacy = m.users.to_legacy(&json!({"userName": "x"}), None).unwrap();
        assert_eq!(
            legacy,
            json!({"login": "x", "status": "enabled", "source": "scim", "role": "member"})
        );
    }

    #[test]
    fn full_update_nulls_absent_attributes_and_keeps_unmapped_fields() {
        let m = fixture();
        let base = legacy_user();
        let legacy = m
            .users
            .to_legacy(&json!({"userName": "ada2", "active": true}), Some(&base))
            .unwrap();
        assert_eq!(legacy["login"], json!("ada2"));
        assert_eq!(legacy["status"], json!("enabled"));
        assert_eq!(legacy["email"], Value::Null);
        assert_eq!(legacy["full_name"], Value::Null);
        // Filtered list elements are removed, not nulled.
        assert_eq!(legacy["phones"], json!([]));
        // Unmentioned fields and sub-fields survive.
        assert_eq!(legacy["unmapped"], json!({"keep": true}));
        assert_eq!(
            legacy["address"],
            json!({"city": null, "zip": null, "street": "kept"})
        );
        assert_eq!(legacy["nick"], json!("Countess"));
        // A write-only attribute is not reported, so an update without it keeps it.
        assert_eq!(legacy["title"], json!("hidden (write-only)"));
        assert_eq!(legacy["created_at"], json!("2024-01-02T03:04:05Z"));
        // Defaults are for creates only; constants always.
        assert_eq!(legacy["role"], json!("admin"));
        assert_eq!(legacy["source"], json!("scim"));
        assert_eq!(legacy["id"], json!(42));
    }

    #[test]
    fn update_replaces_one_filtered_element_and_keeps_the_others() {
        let m = fixture();
        let mut scim = m.users.to_scim(&legacy_user()).unwrap();
        scim["phoneNumbers"] = json!([{"type": "work", "value": "+1 555 0111"}]);
        let legacy = m.users.to_legacy(&scim, Some(&legacy_user())).unwrap();
        assert_eq!(
            legacy["phones"],
            json!([{"kind": "desk", "number": "+1 555 0111"}])
        );
    }

    #[test]
    fn round_trip_gives_the_scim_attributes_back() {
        let m = fixture();
        let mut input = scim_user();
        input["active"] = json!(false);
        input["userType"] = json!("Employee");
        input["emails"] = json!([{"type": "work", "value": "ada@example.com", "primary": true}]);
        let mut legacy = m.users.to_legacy(&input, None).unwrap();
        legacy["id"] = json!(9);
        let back = m.users.to_scim(&legacy).unwrap();
        for key in [
            "userName",
            "externalId",
            "name",
            "active",
            "userType",
            "emails",
            "phoneNumbers",
            "addresses",
            ENTERPRISE,
        ] {
            assert_eq!(back[key], input[key], "{key}");
        }
        // And legacy → SCIM → legacy keeps every mapped field (a PUT nulls the mapped
        // `address.zip` that the user does not have, which reads back as absent).
        let again = m.users.to_legacy(&back, Some(&legacy)).unwrap();
        for key in [
            "login",
            "external_ref",
            "full_name",
            "status",
            "kind",
            "email",
            "phones",
            "hr",
            "manager_id",
        ] {
            assert_eq!(again[key], legacy[key], "{key}");
        }
        assert_eq!(
            again["address"],
            json!({"city": "Springfield", "zip": null})
        );
        assert_eq!(m.users.to_scim(&again).unwrap(), back);
    }

    #[test]
    fn unmapped_scim_value_is_a_400_naming_attribute_field_and_allowed_values() {
        let m = fixture();
        let e = m
            .users
            .to_legacy(&json!({"userName": "x", "userType": "Intern"}), None)
            .unwrap_err();
        let e: ScimError = e.into();
        assert_eq!(e.status, 400);
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        assert_eq!(
            e.detail,
            "userType: \"Intern\" is not an allowed value; allowed: \"Employee\", \"Contractor\" \
             (legacy field $.kind)"
        );
    }

    #[test]
    fn non_numeric_value_for_an_integer_field_is_a_400() {
        let m = fixture();
        let scim = json!({ ENTERPRISE: {"employeeNumber": "E-12"} });
        let e: ScimError = m.users.to_legacy(&scim, None).unwrap_err().into();
        assert_eq!(e.status, 400);
        assert_eq!(
            e.detail,
            format!(
                "{ENTERPRISE}:employeeNumber: expected an integer, got \"E-12\" (legacy field $.hr.badge)"
            )
        );
        let bad_bool = json!({"active": "maybe"});
        let e: ScimError = m.users.to_legacy(&bad_bool, None).unwrap_err().into();
        assert_eq!(
            e.detail,
            "active: expected true or false, got \"maybe\" (legacy field $.status)"
        );
    }

    #[test]
    fn legacy_shape_conflict_on_update_is_a_502() {
        let m = fixture();
        let base = json!({"id": 1, "address": "a string"});
        let e = m
            .users
            .to_legacy(
                &json!({"active": true, "addresses": [{"type": "work", "locality": "X"}]}),
                Some(&base),
            )
            .unwrap_err();
        let e: ScimError = e.into();
        assert_eq!(e.status, 502);
        assert!(
            e.detail.contains("$.address is not an object"),
            "{}",
            e.detail
        );
    }

    #[test]
    fn update_body_full_or_partial() {
        let m = fixture();
        let old = json!({"id": 1, "a": 1, "b": {"c": 2, "d": 4}, "gone": true});
        let new = json!({"id": 1, "a": 1, "b": {"c": 3, "d": 4}});
        assert_eq!(m.users.update_body(&old, &new).to_value(), new);
        let mut partial = fixture();
        partial.users.endpoints.update_mode = UpdateMode::Partial;
        assert_eq!(
            partial.users.update_body(&old, &new).to_value(),
            json!({"b": {"c": 3}, "gone": null})
        );
    }

    /// A legacy API that wraps its user in `{"user": …}`, with a nested address, a list of
    /// phones, a read-only field and fields no entry writes.
    const ENVELOPE: &str = r#"
name: envelope
backend: { base_url: "http://127.0.0.1:9" }
users:
  id: $.user.id
  version: $.user.version
  created: $.user.created_at
  last_modified: $.user.updated_at
  endpoints:
    create: { method: POST, path: /users }
    get: { method: GET, path: "/users/{id}" }
    update: { method: PATCH, path: "/users/{id}", mode: partial }
    delete: { method: DELETE, path: "/users/{id}" }
    list: { method: GET, path: /users, items: $.users, pagination: { style: none } }
  on_delete: delete
  attributes:
    - { scim: userName, legacy: $.user.login }
    - { scim: displayName, legacy: $.user.display, direction: read }
    - { scim: 'addresses[type eq "work"].locality', legacy: $.user.address.city }
    - { scim: 'addresses[type eq "work"].postalCode', legacy: $.user.address.zip }
    - { scim: 'phoneNumbers[type eq "work"].value', legacy: "$.user.phones[?(@.kind == 'desk')].number" }
"#;

    fn enveloped() -> Value {
        json!({"user": {
            "id": 7, "version": 3, "login": "ada", "display": "Ada L",
            "api_key": "s3cret", "admin": true,
            "created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-02-03T04:05:06Z",
            "address": {"city": "Springfield", "zip": "62701", "street": "1 Main St"},
            "phones": [{"kind": "desk", "number": "1"}, {"kind": "cell", "number": "2"}]
        }})
    }

    /// The legacy record after `change` to its SCIM user, and the update body `m` sends.
    fn updated(m: &ResourceMapping, change: impl Fn(&mut Value)) -> (Value, Value) {
        let old = enveloped();
        let mut scim = m.to_scim(&old).unwrap();
        change(&mut scim);
        let new = m.to_legacy(&scim, Some(&old)).unwrap();
        let body = m.update_body(&old, &new).to_value();
        (new, body)
    }

    #[test]
    fn a_partial_update_sends_exactly_the_fields_that_changed_however_deep() {
        let m = crate::mapping::load_str("envelope.yaml", ENVELOPE).unwrap();
        let users = &m.users;
        // A changed login and city: inside the envelope and the address, only those.
        let (_, body) = updated(users, |u| {
            u["userName"] = json!("grace");
            u["addresses"][0]["locality"] = json!("Shelbyville");
        });
        assert_eq!(
            body,
            json!({"user": {"login": "grace", "address": {"city": "Shelbyville"}}})
        );
        // A field that no entry writes is never sent, whatever changes.
        for body in [
            body,
            updated(users, |u| u["phoneNumbers"][0]["value"] = json!("9")).1,
            updated(users, |u| {
                u.as_object_mut().unwrap().remove("addresses");
            })
            .1,
        ] {
            let text = body.to_string();
            for never in [
                "api_key",
                "admin",
                "created_at",
                "updated_at",
                "display",
                "id",
            ] {
                assert!(!text.contains(never), "{never} sent in {text}");
            }
        }
        // A changed list is sent whole; a removed value is null.
        let (_, body) = updated(users, |u| u["phoneNumbers"][0]["value"] = json!("9"));
        assert_eq!(
            body,
            json!({"user": {"phones": [{"kind": "desk", "number": "9"}, {"kind": "cell", "number": "2"}]}})
        );
        let (_, body) = updated(users, |u| {
            u["addresses"][0]
                .as_object_mut()
                .unwrap()
                .remove("postalCode");
        });
        assert_eq!(body, json!({"user": {"address": {"zip": null}}}));
        // Nothing changed: nothing sent.
        assert_eq!(updated(users, |_| {}).1, json!({}));
        // A field that disappeared is sent as null, at any depth.
        let old = json!({"user": {"a": {"b": 1, "c": 2}, "d": 3}});
        let new = json!({"user": {"a": {"b": 1}}});
        assert_eq!(
            users.update_body(&old, &new).to_value(),
            json!({"user": {"a": {"c": null}, "d": null}})
        );
    }

    #[test]
    fn an_object_the_api_replaces_whole_is_sent_whole() {
        let yaml = ENVELOPE.replace(
            "mode: partial }",
            "mode: partial, replaces_whole: [$.user.address] }",
        );
        let m = crate::mapping::load_str("envelope.yaml", &yaml).unwrap();
        let (_, body) = updated(&m.users, |u| {
            u["userName"] = json!("grace");
            u["addresses"][0]["locality"] = json!("Shelbyville");
        });
        // The address with its untouched siblings (even `street`, which no entry writes); the
        // envelope itself is not replaced whole, so only the changed login beside it.
        assert_eq!(
            body,
            json!({"user": {"login": "grace", "address":
                {"city": "Shelbyville", "zip": "62701", "street": "1 Main St"}}})
        );
        // An unchanged address is not sent.
        let (_, body) = updated(&m.users, |u| u["userName"] = json!("grace"));
        assert_eq!(body, json!({"user": {"login": "grace"}}));
    }

    #[test]
    fn a_full_update_sends_the_record_as_read_with_the_changes_minus_read_only_fields() {
        let yaml = ENVELOPE.replace(
            "{ method: PATCH, path: \"/users/{id}\", mode: partial }",
            "{ method: PUT, path: \"/users/{id}\", mode: full }",
        );
        let m = crate::mapping::load_str("envelope.yaml", &yaml).unwrap();
        let (_, body) = updated(&m.users, |u| u["userName"] = json!("grace"));
        // The id and version stay; the timestamps and the read-only `display` are left out;
        // everything else is the record as read, with the change.
        assert_eq!(
            body,
            json!({"user": {
                "id": 7, "version": 3, "login": "grace",
                "api_key": "s3cret", "admin": true,
                "address": {"city": "Springfield", "zip": "62701", "street": "1 Main St"},
                "phones": [{"kind": "desk", "number": "1"}, {"kind": "cell", "number": "2"}]
            }})
        );
    }

    #[test]
    fn a_field_read_by_one_entry_and_written_by_another_is_sent_in_full() {
        // The fixture reads `displayName` from `full_name`, which the name join writes, and
        // `nickName` from `nick`, which nothing writes.
        let m = fixture();
        let old = legacy_user();
        let new = m
            .users
            .to_legacy(&m.users.to_scim(&old).unwrap(), Some(&old))
            .unwrap();
        let body = m.users.update_body(&old, &new).to_value();
        assert_eq!(body["full_name"], json!("Mary Ann Smith"));
        assert_eq!(body["id"], json!(42));
        assert_eq!(body["version"], json!(3));
        for gone in ["nick", "created_at", "updated_at"] {
            assert!(body.get(gone).is_none(), "{gone} sent");
        }
    }

    #[test]
    fn legacy_id_is_a_string() {
        let m = fixture();
        assert_eq!(m.users.legacy_id(&json!({"id": 42})), Some("42".into()));
        assert_eq!(m.users.legacy_id(&json!({"id": "p_1"})), Some("p_1".into()));
        assert_eq!(m.users.legacy_id(&json!({"id": ""})), None);
        assert_eq!(m.users.legacy_id(&json!({})), None);
    }

    #[test]
    fn attribute_paths_and_schema_list_what_is_mapped() {
        let m = fixture();
        let paths: Vec<String> = m
            .users
            .attribute_paths()
            .iter()
            .map(|p| p.to_string())
            .collect();
        for expected in [
            "userName",
            "name.givenName",
            "emails.value",
            "emails.type",
            "emails.primary",
            "title",
            &format!("{ENTERPRISE}:manager.value"),
        ] {
            assert!(
                paths.iter().any(|p| p == expected),
                "{expected} missing from {paths:?}"
            );
        }
        assert!(!paths
            .iter()
            .any(|p| p.starts_with("ims") || p.starts_with("x509")));
        let core: Vec<&str> = m
            .users
            .schema
            .core
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert!(core.contains(&"userName") && core.contains(&"emails"));
        assert!(!core.contains(&"ims"), "{core:?}");
        assert_eq!(m.users.schema.extensions.len(), 1);
    }

    /// The fixture with more attributes marked `required: true`.
    fn with_required() -> crate::mapping::Mapping {
        let yaml = crate::mapping::fixture::FIXTURE
            .replace(
                "{ scim: userName, legacy: $.login }",
                "{ scim: userName, legacy: $.login, required: true }",
            )
            .replace(
                r#"{ scim: 'emails[type eq "work"].value', legacy: $.email }"#,
                r#"{ scim: 'emails[type eq "work"].value', legacy: $.email, required: true }"#,
            )
            .replace(
                "{ scim: title, legacy: $.title, direction: write }",
                "{ scim: title, legacy: $.title, direction: write, required: true }",
            );
        crate::mapping::load_str("required.yaml", &yaml).unwrap()
    }

    fn detail(r: Result<Value, TranslateError>) -> String {
        ScimError::from(r.unwrap_err()).detail
    }

    #[test]
    fn required_attributes_are_never_written_empty() {
        let m = with_required();
        let full = json!({"userName": "ada", "title": "Analyst",
                          "emails": [{"type": "work", "value": "ada@example.com"}]});
        let created = m.users.to_legacy(&full, None).unwrap();
        // `active` is required too, and its default fills it on create.
        assert_eq!(created["status"], json!("enabled"));

        let mut no_name = full.clone();
        no_name.as_object_mut().unwrap().remove("userName");
        let e = m.users.to_legacy(&no_name, None).unwrap_err();
        assert_eq!(
            e,
            TranslateError::Required {
                attr: "userName".into(),
                creating: true
            }
        );
        let e = ScimError::from(e);
        assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidValue)));
        assert_eq!(
            e.detail,
            "userName is required by the legacy API and has no value"
        );
        // A write-only attribute is checked on create, where nothing is left as it was.
        let mut no_title = full.clone();
        no_title.as_object_mut().unwrap().remove("title");
        assert_eq!(
            detail(m.users.to_legacy(&no_title, None)),
            "title is required by the legacy API and has no value"
        );

        // On update, absent or null removes: refused.
        let base = legacy_user();
        let mut other_email = full.clone();
        other_email["emails"] = json!([{"type": "home", "value": "ada@home.example"}]);
        other_email["active"] = json!(true);
        assert_eq!(
            detail(m.users.to_legacy(&other_email, Some(&base))),
            "emails[type eq \"work\"].value is required by the legacy API and cannot be removed"
        );
        let mut null_active = full.clone();
        null_active["active"] = Value::Null;
        assert_eq!(
            detail(m.users.to_legacy(&null_active, Some(&base))),
            "active is required by the legacy API and cannot be removed"
        );
        // A write-only attribute absent from an update is left as it is, so nothing is removed.
        let mut update = no_title.clone();
        update["active"] = json!(false);
        let updated = m.users.to_legacy(&update, Some(&base)).unwrap();
        assert_eq!(updated["title"], json!("hidden (write-only)"));
        assert_eq!(updated["status"], json!("disabled"));
    }

    #[test]
    fn the_schema_advertises_mapped_types_and_required_attributes() {
        let m = with_required();
        let schema = &m.users.schema;
        let def = |name: &str, sub: Option<&str>| {
            let attr = schema.core.attribute(name).unwrap();
            match sub {
                None => attr.clone(),
                Some(s) => attr.sub_attribute(s).unwrap().clone(),
            }
        };
        let subs = |name: &str| -> Vec<String> {
            def(name, None)
                .sub_attributes
                .iter()
                .map(|s| s.name.clone())
                .collect()
        };
        // Exactly the types the mapping maps, in mapping order, instead of the RFC's list.
        assert_eq!(def("emails", Some("type")).canonical_values, ["work"]);
        assert_eq!(
            def("phoneNumbers", Some("type")).canonical_values,
            ["mobile", "work"]
        );
        assert_eq!(def("addresses", Some("type")).canonical_values, ["work"]);
        // Only the sub-attributes some type stores.
        assert_eq!(subs("emails"), ["value", "type", "primary"]);
        assert_eq!(subs("phoneNumbers"), ["value", "type"]);
        assert_eq!(subs("addresses"), ["locality", "postalCode", "type"]);
        // Required: the attribute, or the element's sub-attribute and the attribute itself.
        assert!(def("active", None).required);
        assert!(def("title", None).required);
        assert!(def("emails", None).required);
        assert!(def("emails", Some("value")).required);
        assert!(!def("emails", Some("primary")).required);
        assert!(!def("phoneNumbers", None).required);
        assert!(!def("name", Some("givenName")).required);
        // The shared RFC schema is left alone.
        let rfc = crate::scim::schema::ResourceSchema::user();
        assert!(!rfc.core.attribute("active").unwrap().required);
        assert_eq!(
            rfc.core
                .attribute("emails")
                .unwrap()
                .sub_attribute("type")
                .unwrap()
                .canonical_values,
            ["work", "home", "other"]
        );
    }

    #[test]
    fn a_required_sub_attribute_makes_its_parent_required() {
        let yaml = crate::mapping::fixture::FIXTURE.replace(
            "    - legacy: $.full_name\n      join: { parts: [name.givenName, name.familyName], separator: \" \" }\n",
            "    - { scim: name.givenName, legacy: $.first_name, required: true }\n    \
             - { scim: name.familyName, legacy: $.last_name }\n",
        );
        let m = crate::mapping::load_str("given.yaml", &yaml).unwrap();
        // A client cannot send name.givenName without name: both are required.
        let name = m.users.schema.core.attribute("name").unwrap();
        assert!(name.required);
        assert!(name.sub_attribute("givenName").unwrap().required);
        assert!(!name.sub_attribute("familyName").unwrap().required);
    }

    #[test]
    fn the_deleted_marker_is_read_and_written() {
        let m = fixture();
        assert!(m.users.has_deleted_marker());
        let user = legacy_user();
        assert!(!m.users.is_deleted(&user));
        let marked = m.users.mark_deleted(&user).unwrap();
        assert!(m.users.is_deleted(&marked));
        // Only the marker changes.
        let mut expected = user.clone();
        expected["status"] = json!("archived");
        assert_eq!(marked, expected);
        // The marker is no `active` value: it is left out on read, nothing breaks.
        let scim = m.users.to_scim(&marked).unwrap();
        assert!(scim.get("active").is_none());
        assert_eq!(scim["userName"], json!("ada"));
        for other in [
            json!({"id": 1, "status": "disabled"}),
            json!({"id": 1, "status": "Archived"}),
            json!({"id": 1, "status": null}),
            json!({"id": 1}),
        ] {
            assert!(!m.users.is_deleted(&other), "{other}");
        }
    }

    #[test]
    fn a_nested_or_non_string_marker_compares_as_a_scalar() {
        let yaml = crate::mapping::fixture::FIXTURE.replace(
            "deleted: { legacy: $.status, value: archived }",
            "deleted: { legacy: $.lifecycle.removed, value: 1 }",
        );
        let m = crate::mapping::load_str("nested.yaml", &yaml).unwrap();
        let marked = m.users.mark_deleted(&json!({"id": 1})).unwrap();
        assert_eq!(marked, json!({"id": 1, "lifecycle": {"removed": 1}}));
        assert!(m.users.is_deleted(&marked));
        assert!(m.users.is_deleted(&json!({"lifecycle": {"removed": "1"}})));
        assert!(!m.users.is_deleted(&json!({"lifecycle": {"removed": 0}})));
        // A record whose shape leaves no place for the marker.
        assert!(m.users.has_deleted_marker());
        assert_eq!(m.users.mark_deleted(&json!({"lifecycle": "x"})), None);
    }

    #[test]
    fn without_marker_or_version_nothing_is_deleted_and_there_is_no_etag() {
        let m = fixture();
        assert!(m.users.has_version());
        let yaml = crate::mapping::fixture::FIXTURE
            .replace("  deleted: { legacy: $.status, value: archived }\n", "")
            .replace("  version: $.version\n", "");
        let m = crate::mapping::load_str("plain.yaml", &yaml).unwrap();
        assert!(!m.users.has_version());
        assert!(!m.users.has_deleted_marker());
        assert!(!m.users.is_deleted(&json!({"id": 1, "status": "archived"})));
        assert_eq!(m.users.mark_deleted(&legacy_user()), None);
    }

    #[test]
    fn writes_active_follows_the_attribute_map() {
        assert!(fixture().users.writes_active());
    }

    #[test]
    fn a_group_reads_and_writes_through_the_same_plan() {
        use crate::mapping::fixture::{with_groups, GROUPS_ENDPOINTS};
        let m = with_groups(GROUPS_ENDPOINTS);
        let groups = &m.groups.as_ref().unwrap().resource;
        let legacy = json!({
            "id": 5, "name": "Engineering", "external_ref": "8aa1", "member_count": 3,
            "created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-02-03T04:05:06Z",
            "rev": 2, "source": "seed"
        });
        // displayName ← name, externalId ← external_ref; never `members` (the server's).
        assert_eq!(
            groups.to_scim(&legacy).unwrap(),
            json!({
                "schemas": [crate::scim::urn::GROUP],
                "id": "5",
                "displayName": "Engineering",
                "externalId": "8aa1",
                "meta": {"resourceType": "Group", "created": "2024-01-02T03:04:05Z",
                         "lastModified": "2024-02-03T04:05:06Z", "version": "W/\"2\""}
            })
        );
        // Entra's create: an extra schema URI and no members; displayName → name.
        let entra = json!({
            "schemas": [crate::scim::urn::GROUP,
                        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1", "displayName": "Eng", "members": [],
            "meta": {"resourceType": "Group"}
        });
        assert_eq!(
            groups.to_legacy(&entra, None).unwrap(),
            json!({"name": "Eng", "external_ref": "8aa1", "source": "scim"})
        );
        // A rename: the update endpoint is a PATCH, so only the changed fields are sent.
        let mut renamed = groups.to_scim(&legacy).unwrap();
        renamed["displayName"] = json!("Platform");
        let new = groups.to_legacy(&renamed, Some(&legacy)).unwrap();
        assert_eq!(
            groups.update_body(&legacy, &new).to_value(),
            json!({"name": "Platform", "source": "scim"})
        );
        // What the mapping stores, and its errors.
        let paths: Vec<String> = groups
            .attribute_paths()
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(paths, ["displayName", "externalId"]);
        let e = ScimError::from(groups.to_scim(&json!({"name": "x"})).unwrap_err());
        assert_eq!(e.status, 502);
        assert!(
            e.detail.ends_with("a group has no id at $.id"),
            "{}",
            e.detail
        );
        let taken = groups.map_error(
            422,
            br#"{"error": {"code": "name_taken", "message": "name is taken"}}"#,
        );
        assert_eq!(
            (taken.status, taken.scim_type),
            (409, Some(ScimType::Uniqueness))
        );
        assert_eq!(taken.detail, "legacy API: name is taken");
        assert!(!groups.writes_active());
        // The users are untouched by the groups section.
        assert_eq!(
            m.users.to_scim(&legacy_user()).unwrap(),
            fixture().users.to_scim(&legacy_user()).unwrap()
        );
    }

    #[test]
    fn join_splits_at_the_last_separator() {
        assert_eq!(
            split_join("Mary Ann Smith", " ", 2),
            vec!["Mary Ann", "Smith"]
        );
        assert_eq!(split_join("Cher", " ", 2), vec!["Cher"]);
        assert_eq!(split_join("a, b, c", ",", 3), vec!["a", "b", "c"]);
        assert_eq!(
            split_join("Smith, Mary Ann", ", ", 2),
            vec!["Smith", "Mary Ann"]
        );
    }
}
