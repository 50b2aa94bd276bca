//! Validation and compilation of `users.attributes` and `groups.attributes`: the SCIM side
//! (resolved against the User or Group schema; never `id`, `meta`, nor what the server fills
//! from group membership: a user's `groups`, a group's `members`), the legacy side (readable, and writable where written), directions, constants,
//! defaults, value maps, legacy types, joins and `required`; the checks across entries (one
//! reader per SCIM attribute, one writer per legacy field); and what the restricted schema
//! advertises from them (mapped `type` values, required attributes).

use std::collections::HashMap;

use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use super::{loc, need, read_path, suggest_word, write_path, Cx, Kind};
use crate::mapping::computed::{Computed, ComputedProblem};
use crate::mapping::legacy_path::LegacyPath;
use crate::mapping::model::*;
use crate::mapping::plan::Attr;
use crate::mapping::slot::{ElementType, ScimSlot};
use crate::mapping::suggest::closest;
use crate::mapping::values::{to_scim_type, Conversion, ConvertError, LegacyType};
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::path::{AttrPath, PatchPath};
use crate::scim::schema::{AttrType, Mutability, ResourceSchema};

// --- attributes ------------------------------------------------------------------------------

/// The keys an attribute entry has, for "not allowed here" checks.
fn present_keys(a: &AttributeFile) -> Vec<(&'static str, &Location)> {
    [
        ("scim", a.scim.as_ref().map(loc)),
        ("legacy", a.legacy.as_ref().map(loc)),
        ("direction", a.direction.as_ref().map(loc)),
        ("constant", a.constant.as_ref().map(loc)),
        ("default", a.default.as_ref().map(loc)),
        ("values", a.values.as_ref().map(loc)),
        ("legacy_type", a.legacy_type.as_ref().map(loc)),
        ("join", a.join.as_ref().map(loc)),
        ("required", a.required.as_ref().map(loc)),
        ("template", a.template.as_ref().map(loc)),
        ("empty", a.empty.as_ref().map(loc)),
    ]
    .into_iter()
    .filter_map(|(k, l)| l.map(|l| (k, l)))
    .collect()
}

pub(super) fn attribute(
    cx: &mut Cx<'_>,
    kind: Kind,
    i: usize,
    a: &Spanned<AttributeFile>,
) -> Option<Attr> {
    let schema = kind.schema();
    let at = format!("{}.attributes[{i}]", kind.key());
    let f = &a.value;
    let form = if f.template.is_some() {
        (
            "a computed attribute",
            &["scim", "template", "direction"][..],
        )
    } else if f.join.is_some() {
        ("a join", &["legacy", "join", "direction"][..])
    } else if f.scim.is_some() && f.legacy.is_some() {
        (
            "a mapped attribute",
            &[
                "scim",
                "legacy",
                "direction",
                "default",
                "values",
                "legacy_type",
                "required",
                "empty",
            ][..],
        )
    } else if f.scim.is_some() {
        ("a SCIM constant", &["scim", "constant", "direction"][..])
    } else if f.legacy.is_some() {
        (
            "a legacy constant or default",
            &["legacy", "constant", "default", "direction"][..],
        )
    } else {
        cx.report(
            loc(a),
            &at,
            "an attribute needs `scim:`, `legacy:` or both".into(),
            Some("write e.g. { scim: userName, legacy: $.login }".into()),
        );
        return None;
    };
    let mut ok = true;
    for (key, l) in present_keys(f) {
        if !form.1.contains(&key) {
            let fix = match (form.0, key) {
                ("a mapped attribute", "constant") => {
                    "a constant has only one side: remove `legacy` to report a SCIM value, or \
                     `scim` to always write a legacy value"
                }
                ("a join", "scim") => "a join's SCIM attributes are its `parts`: remove `scim`",
                ("a computed attribute", "legacy") => {
                    "a computed value reads the fields its template names: remove `legacy`, \
                     or remove `template` to map one field"
                }
                ("a computed attribute", _) => {
                    "remove it: a computed value is only read, from the fields its template \
                     names"
                }
                (_, "template") => {
                    "a template computes a read-only value from record fields: write \
                     { scim: displayName, template: \"{first_name} {last_name}\" } on its own"
                }
                (_, "empty") => {
                    "remove it: `empty: absent` applies to an attribute mapped to one legacy \
                     field ({ scim: …, legacy: …, empty: absent })"
                }
                (_, "required") => {
                    "remove it: `required` applies to an attribute mapped to one legacy field \
                     ({ scim: …, legacy: …, required: true })"
                }
                ("a SCIM constant", _) => {
                    "add `legacy:` to map the attribute to a legacy field, or remove this key"
                }
                _ => "remove it",
            };
            cx.report(
                l,
                &format!("{at}.{key}"),
                format!("`{key}` does not apply to {}", form.0),
                Some(fix.into()),
            );
            ok = false;
        }
    }
    let dir = direction(cx, f, &at)?;
    let Direction { read, write } = dir;
    let attr = if let Some(template) = &f.template {
        if !ok {
            return None;
        }
        computed_attr(cx, kind, &at, a, template, dir)
    } else if let Some(join) = &f.join {
        let legacy = f.legacy.as_ref().or_else(|| {
            cx.report(
                loc(join),
                &at,
                "a join needs `legacy:`, the one legacy field".into(),
                Some("add legacy: $.full_name".into()),
            );
            None
        })?;
        join_attr(cx, kind, &at, legacy, join, dir)
    } else if let (Some(scim), Some(legacy)) = (&f.scim, &f.legacy) {
        field_attr(cx, kind, &at, scim, legacy, f, dir)
    } else if let Some(scim) = &f.scim {
        if write {
            cx.report(
                f.direction.as_ref().map_or(loc(a), loc),
                &format!("{at}.direction"),
                "a SCIM constant is only ever read".into(),
                Some("remove `direction`, or add `legacy:` to write the attribute".into()),
            );
            return None;
        }
        let Some(c) = &f.constant else {
            cx.report(
                loc(scim),
                &at,
                "this attribute has no `legacy:` field and no `constant:`".into(),
                Some(format!(
                    "write {{ scim: '{}', legacy: $.field }} or {{ scim: '{}', constant: value }}",
                    scim.value, scim.value
                )),
            );
            return None;
        };
        let slot = scim_slot(cx, kind, scim, &format!("{at}.scim"))?;
        if !reportable(cx, schema, scim, &at, &slot) {
            return None;
        }
        let value = typed(cx, &slot, c, &format!("{at}.constant"))?;
        Some(Attr::ScimConstant { slot, value })
    } else {
        let legacy_s = f.legacy.as_ref()?;
        if read {
            cx.report(
                f.direction.as_ref().map_or(loc(a), loc),
                &format!("{at}.direction"),
                "an entry without `scim:` is only ever written".into(),
                Some("remove `direction`, or add `scim:` to read the field".into()),
            );
            return None;
        }
        let legacy = write_path(cx, legacy_s, &format!("{at}.legacy"));
        match (&f.constant, &f.default) {
            (Some(c), None) => Some(Attr::LegacyConstant {
                legacy: legacy?,
                value: c.value.clone(),
            }),
            (None, Some(d)) => Some(Attr::LegacyDefault {
                legacy: legacy?,
                value: d.value.clone(),
            }),
            _ => {
                cx.report(
                    loc(legacy_s),
                    &at,
                    "an entry without `scim:` needs exactly one of `constant:` (always written) \
                     and `default:` (written on create)"
                        .into(),
                    Some(format!(
                        "write {{ legacy: {}, constant: value }}, or add `scim:` to map an attribute",
                        legacy_s.value
                    )),
                );
                None
            }
        }
    };
    if ok {
        attr
    } else {
        None
    }
}

/// `direction:` → (read, write). Defaults: both for mapped attributes and joins.
/// Which ways an entry maps: legacy → SCIM (`read`), SCIM → legacy (`write`).
#[derive(Debug, Clone, Copy)]
struct Direction {
    read: bool,
    write: bool,
}

const BOTH: Direction = Direction {
    read: true,
    write: true,
};
const READ: Direction = Direction {
    read: true,
    write: false,
};
const WRITE: Direction = Direction {
    read: false,
    write: true,
};

fn direction(cx: &mut Cx<'_>, f: &AttributeFile, at: &str) -> Option<Direction> {
    let Some(d) = &f.direction else {
        return Some(match (&f.scim, &f.legacy, &f.join) {
            (_, _, Some(_)) | (Some(_), Some(_), _) => BOTH,
            (Some(_), None, _) => READ,
            _ => WRITE,
        });
    };
    match d.value.trim() {
        "both" => Some(BOTH),
        "read" => Some(READ),
        "write" => Some(WRITE),
        other => {
            cx.report(
                loc(d),
                &format!("{at}.direction"),
                format!("{other:?} is not both, read or write"),
                Some(suggest_word(other, &["both", "read", "write"])),
            );
            None
        }
    }
}

fn field_attr(
    cx: &mut Cx<'_>,
    kind: Kind,
    at: &str,
    scim: &Spanned<String>,
    legacy_s: &Spanned<String>,
    f: &AttributeFile,
    dir: Direction,
) -> Option<Attr> {
    let Direction { read, write } = dir;
    let schema = kind.schema();
    let slot = scim_slot(cx, kind, scim, &format!("{at}.scim"));
    let legacy = if write {
        write_path(cx, legacy_s, &format!("{at}.legacy"))
    } else {
        read_path(cx, legacy_s, &format!("{at}.legacy"))
    };
    let slot = slot?;
    if write && slot_read_only(schema, &slot) {
        cx.report(
            loc(scim),
            &format!("{at}.scim"),
            format!(
                "{} is read-only in SCIM, so it cannot be written",
                slot.label()
            ),
            Some("add `direction: read`".into()),
        );
        return None;
    }
    if read && slot_write_only(schema, &slot) {
        cx.report(
            loc(scim),
            &format!("{at}.scim"),
            format!(
                "{} is write-only in SCIM: it is never returned to a client",
                slot.label()
            ),
            Some("add `direction: write`".into()),
        );
        return None;
    }
    let legacy_type = match &f.legacy_type {
        None => Some(None),
        Some(t) => match LegacyType::parse(t.value.trim()) {
            None => {
                cx.report(
                    loc(t),
                    &format!("{at}.legacy_type"),
                    format!("{:?} is not a legacy type", t.value),
                    Some(suggest_word(t.value.trim(), &LegacyType::NAMES)),
                );
                None
            }
            Some(lt) if !type_compatible(slot.scim_type, lt) => {
                cx.report(
                    loc(t),
                    &format!("{at}.legacy_type"),
                    format!(
                        "{} is a SCIM {:?}, which cannot be converted to a legacy {}",
                        slot.label(),
                        slot.scim_type,
                        t.value.trim()
                    ),
                    Some(
                        "use a value map instead, e.g. values: [{ scim: true, legacy: 1 }, \
                         { scim: false, legacy: 0 }]"
                            .into(),
                    ),
                );
                None
            }
            Some(lt) => Some(Some(lt)),
        },
    };
    let mut values = Vec::new();
    if let Some(list) = &f.values {
        if list.value.is_empty() {
            cx.report(
                loc(list),
                &format!("{at}.values"),
                "the value map is empty".into(),
                Some(
                    "list pairs like - { scim: true, legacy: enabled }, or remove `values`".into(),
                ),
            );
            return None;
        }
        for (j, pair) in list.value.iter().enumerate() {
            let pat = format!("{at}.values[{j}]");
            let example = "{ scim: true, legacy: enabled }";
            let scim_v = need(cx, &pair.value.scim, loc(pair), &pat, "scim", example);
            let legacy_v = need(cx, &pair.value.legacy, loc(pair), &pat, "legacy", example);
            let (Some(scim_v), Some(l)) = (scim_v, legacy_v) else {
                continue;
            };
            let s = typed(cx, &slot, scim_v, &format!("{pat}.scim"));
            if matches!(l.value, Value::Null | Value::Array(_) | Value::Object(_)) {
                cx.report(
                    loc(l),
                    &format!("{pat}.legacy"),
                    "a legacy value must be a string, number or boolean".into(),
                    Some("write e.g. legacy: enabled".into()),
                );
                continue;
            }
            if let Some(s) = s {
                values.push((s, l.value.clone()));
            }
        }
        if values.len() != list.value.len() {
            return None;
        }
        if let Some(t) = &f.legacy_type {
            cx.report(
                loc(t),
                &format!("{at}.legacy_type"),
                "a value map already gives the legacy values".into(),
                Some("remove `legacy_type` and write the legacy values with their type".into()),
            );
            return None;
        }
    }
    let conv = Conversion {
        scim_type: slot.scim_type,
        case_exact: slot.case_exact,
        legacy_type: legacy_type?,
        values,
    };
    let default = match &f.default {
        None => None,
        Some(d) if !write => {
            cx.report(
                loc(d),
                &format!("{at}.default"),
                "a read-only attribute is never written, so its default is never used".into(),
                Some("remove `default` or `direction: read`".into()),
            );
            return None;
        }
        Some(d) => {
            let v = typed(cx, &slot, d, &format!("{at}.default"))?;
            if let Err(ConvertError::Unmapped { allowed, .. }) = conv.to_legacy(&v) {
                cx.report(
                    loc(d),
                    &format!("{at}.default"),
                    format!("{v} is not in the value map"),
                    Some(format!("use one of {}", allowed.join(", "))),
                );
                return None;
            }
            Some(v)
        }
    };
    let empty_absent = match &f.empty {
        None => false,
        Some(e) => empty_absent(cx, at, e, &slot, &conv)?,
    };
    Some(Attr::Field {
        slot,
        legacy: legacy?,
        read,
        write,
        conv,
        default,
        required: f.required.as_ref().is_some_and(|r| r.value),
        empty_absent,
    })
}

/// `empty: absent` on a mapped attribute: only `absent`, only for a string attribute, and
/// not with a value map that gives `""` a meaning of its own.
fn empty_absent(
    cx: &mut Cx<'_>,
    at: &str,
    e: &Spanned<String>,
    slot: &ScimSlot,
    conv: &Conversion,
) -> Option<bool> {
    let at = format!("{at}.empty");
    let word = e.value.trim();
    if word != "absent" {
        cx.report(
            loc(e),
            &at,
            format!("{word:?} is not what an empty string can mean here"),
            Some(
                "write empty: absent (an empty legacy string is no value), or remove `empty` \
                 to keep \"\" as a value"
                    .into(),
            ),
        );
        return None;
    }
    if matches!(
        slot.scim_type,
        AttrType::Boolean | AttrType::Integer | AttrType::Decimal
    ) {
        cx.report(
            loc(e),
            &at,
            format!(
                "{} is a SCIM {:?}, which an empty string never is",
                slot.label(),
                slot.scim_type
            ),
            Some("remove `empty`; it applies to string attributes".into()),
        );
        return None;
    }
    if conv
        .values
        .iter()
        .any(|(_, l)| l.as_str().is_some_and(|s| s.trim().is_empty()))
    {
        cx.report(
            loc(e),
            &at,
            "the value map gives an empty legacy string a SCIM value".into(),
            Some("remove `empty`, or the value map's pair for \"\"".into()),
        );
        return None;
    }
    Some(true)
}

/// `{ scim: displayName, template: "{first_name} {last_name}" }`: read-only, a SCIM string.
fn computed_attr(
    cx: &mut Cx<'_>,
    kind: Kind,
    at: &str,
    a: &Spanned<AttributeFile>,
    template: &Spanned<String>,
    dir: Direction,
) -> Option<Attr> {
    let f = &a.value;
    let Some(scim) = &f.scim else {
        cx.report(
            loc(template),
            at,
            "a template needs `scim:`, the attribute it computes".into(),
            Some(format!(
                "write {{ scim: displayName, template: {:?} }}",
                template.value
            )),
        );
        return None;
    };
    if dir.write {
        cx.report(
            f.direction.as_ref().map_or(loc(a), loc),
            &format!("{at}.direction"),
            "a computed value is only ever read: the gateway cannot split it back into the \
             fields it comes from"
                .into(),
            Some(
                "remove `direction`; to also write the attribute, map it to one field with \
                 { scim: …, legacy: … } instead"
                    .into(),
            ),
        );
        return None;
    }
    let slot = scim_slot(cx, kind, scim, &format!("{at}.scim"))?;
    if !matches!(
        slot.scim_type,
        AttrType::String | AttrType::Reference | AttrType::Binary | AttrType::DateTime
    ) {
        cx.report(
            loc(scim),
            &format!("{at}.scim"),
            format!(
                "{} is a SCIM {:?}; a template computes a string",
                slot.label(),
                slot.scim_type
            ),
            Some("compute a string attribute, e.g. displayName".into()),
        );
        return None;
    }
    if !reportable(cx, kind.schema(), scim, at, &slot) {
        return None;
    }
    match Computed::parse(&template.value) {
        Ok(t) => Some(Attr::Computed { slot, template: t }),
        Err(problem) => {
            let fix = match &problem {
                ComputedProblem::NoPart => {
                    "name record fields in braces, e.g. \"{first_name} {last_name}\"; for a \
                     fixed value write { scim: …, constant: … }"
                }
                ComputedProblem::BadPart(..) => {
                    "write a field name ({first_name}, {name.first}) or a JSONPath \
                     ({$.name.first})"
                }
                _ => "write parts as {field}, and {{ or }} for a literal brace",
            };
            cx.report(
                loc(template),
                &format!("{at}.template"),
                format!("{:?} {problem}", template.value),
                Some(fix.into()),
            );
            None
        }
    }
}

fn type_compatible(scim: AttrType, legacy: LegacyType) -> bool {
    match scim {
        AttrType::Boolean => matches!(legacy, LegacyType::Boolean | LegacyType::String),
        AttrType::Integer | AttrType::Decimal => legacy != LegacyType::Boolean,
        _ => true,
    }
}

/// Whether a value only ever read (a constant, a computed value) may be attribute `slot`: not a
/// write-only one, which is never reported. Reports the entry when not.
fn reportable(
    cx: &mut Cx<'_>,
    schema: &ResourceSchema,
    scim: &Spanned<String>,
    at: &str,
    slot: &ScimSlot,
) -> bool {
    if !slot_write_only(schema, slot) {
        return true;
    }
    cx.report(
        loc(scim),
        &format!("{at}.scim"),
        format!(
            "{} is write-only in SCIM: it is never reported",
            slot.label()
        ),
        Some("remove this entry".into()),
    );
    false
}

fn slot_read_only(schema: &ResourceSchema, slot: &ScimSlot) -> bool {
    slot_mutability(schema, slot, Mutability::ReadOnly)
}

/// Write-only attributes (`password`) are never returned (RFC 7643 §7), so never read.
fn slot_write_only(schema: &ResourceSchema, slot: &ScimSlot) -> bool {
    slot_mutability(schema, slot, Mutability::WriteOnly)
}

fn slot_mutability(schema: &ResourceSchema, slot: &ScimSlot, m: Mutability) -> bool {
    let path = AttrPath {
        schema: slot.container.clone(),
        name: slot.attr.clone(),
        sub: slot.sub.clone(),
    };
    schema
        .find(&path)
        .is_some_and(|r| r.attr.mutability == m || r.leaf().mutability == m)
}

/// A YAML value converted to the slot's SCIM type.
fn typed(cx: &mut Cx<'_>, slot: &ScimSlot, v: &Spanned<Value>, at: &str) -> Option<Value> {
    match to_scim_type(&v.value, slot.scim_type) {
        Ok(x) => Some(x),
        Err(why) => {
            cx.report(
                loc(v),
                at,
                format!("{} is a SCIM {:?}: {why}", slot.label(), slot.scim_type),
                Some(match slot.scim_type {
                    AttrType::Boolean => "write true or false".into(),
                    AttrType::Integer => "write a whole number".into(),
                    AttrType::Decimal => "write a number".into(),
                    _ => "write a string".into(),
                }),
            );
            None
        }
    }
}

fn join_attr(
    cx: &mut Cx<'_>,
    kind: Kind,
    at: &str,
    legacy_s: &Spanned<String>,
    join: &Spanned<JoinFile>,
    dir: Direction,
) -> Option<Attr> {
    let Direction { read, write } = dir;
    let legacy = if write {
        write_path(cx, legacy_s, &format!("{at}.legacy"))
    } else {
        read_path(cx, legacy_s, &format!("{at}.legacy"))
    };
    let jat = format!("{at}.join");
    let parts_s = need(
        cx,
        &join.value.parts,
        loc(join),
        &jat,
        "parts",
        "parts: [name.givenName, name.familyName]",
    );
    let separator = need(
        cx,
        &join.value.separator,
        loc(join),
        &jat,
        "separator",
        "separator: \" \"",
    );
    let (parts_s, separator) = (parts_s?, separator?);
    if parts_s.value.len() < 2 {
        cx.report(
            loc(parts_s),
            &format!("{at}.join.parts"),
            "a join needs at least two parts".into(),
            Some(
                "list the SCIM attributes, e.g. parts: [name.givenName, name.familyName]; \
                 for one attribute write { scim: …, legacy: … } instead"
                    .into(),
            ),
        );
        return None;
    }
    let mut parts = Vec::new();
    for (j, p) in parts_s.value.iter().enumerate() {
        let pat = format!("{at}.join.parts[{j}]");
        let Some(slot) = scim_slot(cx, kind, p, &pat) else {
            continue;
        };
        if slot.scim_type != AttrType::String {
            cx.report(
                loc(p),
                &pat,
                format!(
                    "{} is not a string, so it cannot be part of a join",
                    slot.label()
                ),
                Some("join only string attributes, like name.givenName".into()),
            );
            continue;
        }
        if write && slot_read_only(kind.schema(), &slot) {
            cx.report(
                loc(p),
                &pat,
                format!("{} is read-only in SCIM", slot.label()),
                Some("add `direction: read` to the join".into()),
            );
            continue;
        }
        parts.push(slot);
    }
    if separator.value.is_empty() {
        cx.report(
            loc(separator),
            &format!("{at}.join.separator"),
            "the separator is empty, so the parts could not be told apart".into(),
            Some("write e.g. separator: \" \"".into()),
        );
        return None;
    }
    if parts.len() != parts_s.value.len() {
        return None;
    }
    Some(Attr::Join {
        legacy: legacy?,
        parts,
        separator: separator.value.clone(),
        read,
        write,
    })
}

/// Compiles a mapping's `scim:` path against the section's schema (User or Group).
pub(super) fn scim_slot(
    cx: &mut Cx<'_>,
    kind: Kind,
    s: &Spanned<String>,
    at: &str,
) -> Option<ScimSlot> {
    let schema = kind.schema();
    let text = s.value.trim();
    let example = match kind {
        Kind::Users => {
            "write a path like userName, name.givenName, emails[type eq \"work\"].value or \
             urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"
        }
        Kind::Groups => "write a path like displayName or externalId",
    };
    let parsed = match PatchPath::parse(text) {
        Ok(p) => p,
        Err(e) => {
            cx.report(
                loc(s),
                at,
                format!("{text:?} is not a SCIM attribute path ({e})"),
                Some(example.into()),
            );
            return None;
        }
    };
    let (attr_path, element_type, sub) = match &parsed {
        PatchPath::Attr(a) => (a.clone(), None, a.sub.clone()),
        PatchPath::Value { attr, filter, sub } => {
            let t = match filter {
                Filter::Compare {
                    path,
                    op: CompareOp::Eq,
                    value: CompValue::Str(t),
                } if path.schema.is_none()
                    && path.sub.is_none()
                    && path.name.eq_ignore_ascii_case("type") =>
                {
                    t.clone()
                }
                _ => {
                    cx.report(
                        loc(s),
                        at,
                        format!("{text:?}: only an element selected by type can be mapped"),
                        Some(format!("write {}[type eq \"work\"].value", attr.name)),
                    );
                    return None;
                }
            };
            let Some(sub) = sub else {
                cx.report(
                    loc(s),
                    at,
                    format!("{text:?} selects a whole element; map its sub-attributes one by one"),
                    Some(format!("write {text}.value")),
                );
                return None;
            };
            (attr.clone(), Some(t), Some(sub.clone()))
        }
    };
    let lookup = AttrPath {
        sub: sub.clone(),
        ..attr_path.clone()
    };
    let Some(resolved) = schema.find(&lookup) else {
        let fix = match closest_attribute(schema, &lookup.to_string()) {
            Some(c) => format!("did you mean {c}?"),
            None => example.to_string(),
        };
        cx.report(
            loc(s),
            at,
            format!(
                "{:?} is not an attribute of the SCIM {}",
                lookup.to_string(),
                schema.name
            ),
            Some(fix),
        );
        return None;
    };
    let attr = resolved.attr;
    let name = attr.name.as_str();
    let key = kind.key();
    if ["id", "meta", "schemas"]
        .iter()
        .any(|x| name.eq_ignore_ascii_case(x))
    {
        cx.report(
            loc(s),
            at,
            format!("{name} is set by the gateway, not mapped"),
            Some(format!(
                "the id comes from {key}.id; meta from {key}.created, last_modified and version"
            )),
        );
        return None;
    }
    let membership = match kind {
        Kind::Users => name.eq_ignore_ascii_case("groups"),
        Kind::Groups => name.eq_ignore_ascii_case("members"),
    };
    if membership && !resolved.is_extension(schema) {
        cx.report(
            loc(s),
            at,
            format!("{name} comes from the group membership, not from an attribute"),
            Some(
                "remove this entry; describe membership in groups.membership (see \
                 docs/mapping.md)"
                    .into(),
            ),
        );
        return None;
    }
    let leaf = resolved.leaf();
    if attr.multi_valued && element_type.is_none() {
        let example_sub = attr
            .sub_attributes
            .iter()
            .find(|x| x.name == "value")
            .map_or("value", |x| x.name.as_str());
        cx.report(
            loc(s),
            at,
            format!("{name} is multi-valued; map one element, selected by its type"),
            Some(format!("write {name}[type eq \"work\"].{example_sub}")),
        );
        return None;
    }
    if element_type.is_some() {
        if attr.sub_attribute("type").is_none() {
            cx.report(
                loc(s),
                at,
                format!("{name} elements have no `type` to select them by"),
                None,
            );
            return None;
        }
        if sub
            .as_deref()
            .is_some_and(|x| x.eq_ignore_ascii_case("type"))
        {
            cx.report(
                loc(s),
                at,
                "the element's type is set by the selector itself".into(),
                Some(format!(
                    "map another sub-attribute, e.g. {name}[type eq \"work\"].value"
                )),
            );
            return None;
        }
    }
    if leaf.attr_type == AttrType::Complex {
        let first = leaf
            .sub_attributes
            .first()
            .map_or("value", |x| x.name.as_str());
        cx.report(
            loc(s),
            at,
            format!("{name} is complex; map its sub-attributes one by one"),
            Some(format!("write {name}.{first}")),
        );
        return None;
    }
    Some(ScimSlot {
        container: resolved
            .is_extension(schema)
            .then(|| resolved.schema.id.clone()),
        attr: attr.name.clone(),
        sub: resolved.sub.map(|x| x.name.clone()),
        element_type: element_type.map(ElementType::new),
        scim_type: leaf.attr_type,
        case_exact: leaf.case_exact,
    })
}

/// The closest known attribute path (`name.givenName`, `urn:…:User:department`) to `text`.
pub(super) fn closest_attribute(schema: &ResourceSchema, text: &str) -> Option<String> {
    let mut names = Vec::new();
    for s in schema.schemas() {
        let ext = s.id != schema.core.id;
        for a in &s.attributes {
            let base = if ext {
                format!("{}:{}", s.id, a.name)
            } else {
                a.name.clone()
            };
            names.push(base.clone());
            for sub in &a.sub_attributes {
                names.push(format!("{base}.{}", sub.name));
                if ext {
                    names.push(format!("{}.{}", a.name, sub.name));
                }
            }
            if ext {
                names.push(a.name.clone());
            }
        }
    }
    names.push("externalId".into());
    closest(text, names.iter().map(String::as_str)).map(str::to_string)
}

/// Two readable entries for one SCIM attribute, or two written entries for one legacy field.
pub(super) fn check_duplicates(cx: &mut Cx<'_>, kind: Kind, attrs: &[(Attr, &Location)]) {
    let at = format!("{}.attributes", kind.key());
    let mut read_slots: HashMap<String, u32> = HashMap::new();
    let mut written: Vec<(&LegacyPath, u32)> = Vec::new();
    for (attr, l) in attrs {
        let line = l.line() as u32;
        let mut slots: Vec<&ScimSlot> = Vec::new();
        let mut writes: Option<&LegacyPath> = None;
        match attr {
            Attr::Field {
                slot,
                legacy,
                read,
                write,
                ..
            } => {
                if *read {
                    slots.push(slot);
                }
                if *write {
                    writes = Some(legacy);
                }
            }
            Attr::ScimConstant { slot, .. } | Attr::Computed { slot, .. } => slots.push(slot),
            Attr::LegacyConstant { legacy, .. } | Attr::LegacyDefault { legacy, .. } => {
                writes = Some(legacy)
            }
            Attr::Join {
                legacy,
                parts,
                read,
                write,
                ..
            } => {
                if *read {
                    slots.extend(parts);
                }
                if *write {
                    writes = Some(legacy);
                }
            }
        }
        for slot in slots {
            if let Some(first) = read_slots.insert(slot.key(), line) {
                cx.report(
                    l,
                    &at,
                    format!(
                        "{} is already read by the entry on line {first}",
                        slot.label()
                    ),
                    Some("keep one entry that reads it; make the others `direction: write`".into()),
                );
            }
        }
        if let Some(w) = writes {
            if let Some((other, first)) = written.iter().find(|(o, _)| o.overlaps(w)) {
                cx.report(
                    l,
                    &at,
                    format!(
                        "{} is already written by the entry on line {first} ({})",
                        w.as_str(),
                        other.as_str()
                    ),
                    Some("keep one entry that writes it; make the others `direction: read`".into()),
                );
            }
            written.push((w, line));
        }
    }
}

/// What the restricted schema tells clients beyond which attributes exist: the `type` values
/// each multi-valued attribute is mapped for (as the `canonicalValues` of its `type`, replacing
/// the RFC's list, so a client never picks a type the legacy API cannot store), and the
/// attributes marked `required: true` (with the attribute that holds a required
/// sub-attribute: the client must send it to send the sub-attribute).
pub(super) fn advertise(schema: &mut ResourceSchema, attrs: &[Attr]) {
    let mut types: Vec<(AttrPath, Vec<String>)> = Vec::new();
    for attr in attrs {
        let slot = match attr {
            Attr::Field { slot, .. }
            | Attr::ScimConstant { slot, .. }
            | Attr::Computed { slot, .. } => slot,
            _ => continue,
        };
        let Some(t) = &slot.element_type else {
            continue;
        };
        let type_path = AttrPath {
            schema: slot.container.clone(),
            name: slot.attr.clone(),
            sub: Some("type".into()),
        };
        match types.iter_mut().find(|(p, _)| p.matches(&type_path)) {
            Some((_, list)) if list.iter().any(|x| x.eq_ignore_ascii_case(t)) => {}
            Some((_, list)) => list.push(t.to_string()),
            None => types.push((type_path, vec![t.to_string()])),
        }
    }
    for (path, list) in types {
        if let Some(def) = schema.attribute_mut(&path) {
            def.canonical_values = list;
        }
    }
    // What no entry writes is advertised read-only: a computed value, and a field read only
    // (`direction: read`) where no other entry writes the same attribute (an e-mail of
    // another type, say). A client then knows a change of it is not kept. (`active` read only
    // is still written, through the deactivate and reactivate endpoints.)
    let path_of = |slot: &ScimSlot| AttrPath {
        schema: slot.container.clone(),
        name: slot.attr.clone(),
        sub: slot.sub.clone(),
    };
    let slots = |attr: &Attr| -> Vec<(ScimSlot, bool)> {
        match attr {
            Attr::Computed { slot, .. } => vec![(slot.clone(), false)],
            Attr::Field { slot, write, .. } => vec![(slot.clone(), *write)],
            Attr::Join { parts, write, .. } => parts.iter().map(|p| (p.clone(), *write)).collect(),
            _ => Vec::new(),
        }
    };
    let all: Vec<(AttrPath, bool)> = attrs
        .iter()
        .flat_map(slots)
        .map(|(slot, write)| (path_of(&slot), write))
        .collect();
    for (path, _) in all.iter().filter(|(_, write)| !write) {
        if path.schema.is_none() && path.sub.is_none() && path.name == "active" {
            continue;
        }
        let written = all
            .iter()
            .any(|(p, w)| *w && p.matches(path) && p.schema == path.schema);
        if written {
            continue;
        }
        if let Some(def) = schema.attribute_mut(path) {
            def.mutability = Mutability::ReadOnly;
        }
    }
    for attr in attrs {
        let Attr::Field {
            slot,
            required: true,
            ..
        } = attr
        else {
            continue;
        };
        let path = AttrPath {
            schema: slot.container.clone(),
            name: slot.attr.clone(),
            sub: slot.sub.clone(),
        };
        if let Some(def) = schema.attribute_mut(&path) {
            def.required = true;
        }
        // A required sub-attribute needs its parent: a client must send `name` to send
        // `name.givenName`, and the element of a typed attribute (`emails`) to send its value.
        if slot.sub.is_some() {
            if let Some(def) = schema.attribute_mut(&AttrPath { sub: None, ..path }) {
                def.required = true;
            }
        }
    }
}
