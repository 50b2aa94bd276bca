//! SCIM ↔ legacy translation of one user, over the compiled plan: legacy JSON → SCIM User
//! ([`ResourceMapping::to_scim`]), SCIM User → legacy JSON ([`ResourceMapping::to_legacy`]),
//! and the body of a legacy update ([`ResourceMapping::update_body`]). Pure functions of their
//! inputs. Not here: HTTP, `meta.location`, and PATCH (the server applies SCIM PATCH to the
//! SCIM resource first, then translates the result).

use serde_json::{json, Map, Value};

use super::error::TranslateError;
use super::legacy_path::{LegacyPath, WriteConflict};
use super::load::writes_active;
use super::plan::{Attr, ResourceMapping, UpdateMode};
use super::slot::ScimSlot;
use super::values::{scalar_string, ConvertError};
use crate::scim::path::AttrPath;
use crate::scim::urn;

impl ResourceMapping {
    /// The legacy id of a legacy user, as a string (`42` → `"42"`).
    pub fn legacy_id(&self, legacy: &Value) -> Option<String> {
        self.plan
            .id
            .read(legacy)
            .and_then(scalar_string)
            .filter(|s| !s.is_empty())
    }

    /// The SCIM User for a legacy user: `schemas`, `id`, every readable attribute, and `meta`
    /// (`resourceType`, `created`, `lastModified`, `version` as `W/"<v>"`), without
    /// `meta.location`. A legacy value that a value map does not list, or that does not fit the
    /// SCIM type, is left out. Fails only when the user has no id.
    pub fn to_scim(&self, legacy: &Value) -> Result<Value, TranslateError> {
        let id = self.legacy_id(legacy).ok_or_else(|| {
            TranslateError::LegacyResponse(format!("a user has no id at {}", self.plan.id.as_str()))
        })?;
        let mut out = json!({ "schemas": [urn::USER], "id": id });
        for attr in &self.plan.attrs {
            match attr {
                Attr::Field {
                    slot,
                    legacy: path,
                    read: true,
                    conv,
                    ..
                } => {
                    if let Some(v) = path.read(legacy).and_then(|v| conv.to_scim(v)) {
                        slot.set(&mut out, v);
                    }
                }
                Attr::Join {
                    legacy: path,
                    parts,
                    separator,
                    read: true,
                    ..
                } => {
                    if let Some(text) = path.read(legacy).and_then(scalar_string) {
                        for (slot, piece) in
                            parts.iter().zip(split_join(&text, separator, parts.len()))
                        {
                            if !piece.is_empty() {
                                slot.set(&mut out, Value::String(piece));
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
                if slot.element_exists(&out) {
                    slot.set(&mut out, value.clone());
                }
            }
        }
        if let Some(obj) = out.as_object_mut() {
            let extensions: Vec<String> = self
                .plan
                .attrs
                .iter()
                .filter_map(attr_container)
                .filter(|urn| obj.contains_key(*urn))
                .map(str::to_string)
                .collect();
            if let Some(Value::Array(schemas)) = obj.get_mut("schemas") {
                for urn in extensions {
                    if !schemas.iter().any(|s| s.as_str() == Some(urn.as_str())) {
                        schemas.push(Value::String(urn));
                    }
                }
            }
            let mut meta = Map::new();
            meta.insert(
                "resourceType".into(),
                Value::String(self.schema.name.clone()),
            );
            let text = |p: &Option<LegacyPath>| {
                p.as_ref()
                    .and_then(|p| p.read(legacy))
                    .and_then(scalar_string)
            };
            if let Some(c) = text(&self.plan.created) {
                meta.insert("created".into(), Value::String(c));
            }
            if let Some(m) = text(&self.plan.last_modified) {
                meta.insert("lastModified".into(), Value::String(m));
            }
            if let Some(v) = text(&self.plan.version) {
                meta.insert("version".into(), Value::String(format!("W/\"{v}\"")));
            }
            obj.insert("meta".into(), Value::Object(meta));
        }
        Ok(out)
    }

    /// The legacy JSON for a SCIM User: every writable attribute of `scim` written onto a
    /// clone of `base` (`None`: a new object, for a create). With a base (a full update), an
    /// attribute absent or null in `scim` writes null to its field (a filtered list element is
    /// removed); on create it writes its `default`, if any, else nothing. Legacy fields the
    /// mapping does not mention are kept; constants are always written.
    pub fn to_legacy(&self, scim: &Value, base: Option<&Value>) -> Result<Value, TranslateError> {
        let creating = base.is_none();
        let mut out = base.cloned().unwrap_or_else(|| Value::Object(Map::new()));
        for attr in &self.plan.attrs {
            match attr {
                Attr::Field {
                    slot,
                    legacy,
                    write: true,
                    conv,
                    default,
                    ..
                } => {
                    let value =
                        match slot
                            .get(scim)
                            .or(if creating { default.as_ref() } else { None })
                        {
                            Some(v) => conv
                                .to_legacy(v)
                                .map_err(|e| convert_error(slot, legacy, e))?,
                            None if creating => continue,
                            None => Value::Null,
                        };
                    write(legacy, &mut out, value, &slot.label())?;
                }
                Attr::Join {
                    legacy,
                    parts,
                    separator,
                    write: true,
                    ..
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
                    } else if creating {
                        continue;
                    } else {
                        Value::Null
                    };
                    let label = parts
                        .iter()
                        .map(ScimSlot::label)
                        .collect::<Vec<_>>()
                        .join(" + ");
                    write(legacy, &mut out, value, &label)?;
                }
                Attr::LegacyConstant { legacy, value } => {
                    write(legacy, &mut out, value.clone(), "(constant)")?;
                }
                Attr::LegacyDefault { legacy, value } if creating => {
                    write(legacy, &mut out, value.clone(), "(default)")?;
                }
                _ => {}
            }
        }
        Ok(out)
    }

    /// The body of a legacy update: the whole new user for `mode: full`; for `mode: partial`,
    /// only the top-level keys whose value changed (a key that disappeared is sent as null).
    pub fn update_body(&self, old_legacy: &Value, new_legacy: &Value) -> Value {
        match self.endpoints.update_mode {
            UpdateMode::Full => new_legacy.clone(),
            UpdateMode::Partial => {
                let empty = Map::new();
                let old = old_legacy.as_object().unwrap_or(&empty);
                let new = new_legacy.as_object().unwrap_or(&empty);
                let mut changed = Map::new();
                for (k, v) in new {
                    if old.get(k) != Some(v) {
                        changed.insert(k.clone(), v.clone());
                    }
                }
                for k in old.keys() {
                    if !new.contains_key(k) {
                        changed.insert(k.clone(), Value::Null);
                    }
                }
                Value::Object(changed)
            }
        }
    }

    /// Every SCIM attribute this mapping stores (read or written), for `/Schemas`; elements
    /// selected by type also report their `type`.
    pub fn attribute_paths(&self) -> Vec<AttrPath> {
        let mut out: Vec<AttrPath> = Vec::new();
        for attr in &self.plan.attrs {
            let slots: Vec<&ScimSlot> = match attr {
                Attr::Field { slot, .. } | Attr::ScimConstant { slot, .. } => vec![slot],
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

    /// Whether `active` is written through an attribute. When it is not, the server
    /// (de)activates through the deactivate/reactivate endpoints.
    pub fn writes_active(&self) -> bool {
        writes_active(&self.plan.attrs)
    }
}

fn attr_container(attr: &Attr) -> Option<&str> {
    match attr {
        Attr::Field { slot, .. } | Attr::ScimConstant { slot, .. } => slot.container.as_deref(),
        Attr::Join { parts, .. } => parts.iter().find_map(|p| p.container.as_deref()),
        _ => None,
    }
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

fn write(
    legacy: &LegacyPath,
    out: &mut Value,
    value: Value,
    attr: &str,
) -> Result<(), TranslateError> {
    legacy.write(out, value).map_err(|c: WriteConflict| {
        TranslateError::LegacyResponse(format!("cannot write {attr} to {}: {c}", legacy.as_str()))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

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
