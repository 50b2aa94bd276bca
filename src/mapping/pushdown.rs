//! Filter pushdown: the part of a SCIM filter that the legacy API can answer itself, as query
//! parameters (`userName eq "ada"` → `login=ada`), from the mapping's `filters:` entries. Only
//! `eq` comparisons are pushed, alone or inside a top-level `and` chain, including the value-path
//! forms `emails[type eq "work" and value eq "x"]` and Entra's `emails[type eq "work"].value eq
//! "x"` (which the filter parser reads as the former). The gateway re-checks every result with
//! the filter evaluator, so a pushdown may over-match but never under-match. Values are not
//! encoded here: the caller form-encodes them ([`super::query_string`]).

use serde_json::Value;

use super::plan::{FilterRule, ResourceMapping};
use super::slot::ScimSlot;
use super::values::scalar_string;
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::path::AttrPath;
use crate::scim::urn;

/// Query parameters for the legacy list endpoint, and whether they express the whole filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pushdown {
    pub params: Vec<(String, String)>,
    /// True when every part of the filter became a parameter (each parameter used once).
    pub complete: bool,
}

impl ResourceMapping {
    /// The legacy query parameters for `filter` (see the module documentation).
    pub fn pushdown(&self, filter: &Filter) -> Pushdown {
        let mut conjuncts = Vec::new();
        and_chain(filter, &mut conjuncts);
        let mut out = Pushdown {
            params: Vec::new(),
            complete: true,
        };
        for c in conjuncts {
            match self.push_one(c) {
                Some((param, value)) => {
                    if out.params.iter().any(|(p, _)| *p == param) {
                        out.complete = false;
                    }
                    out.params.push((param, value));
                }
                None => out.complete = false,
            }
        }
        out
    }

    fn push_one(&self, f: &Filter) -> Option<(String, String)> {
        match f {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } => {
                let rule = self.plan.filters.iter().find(|r| {
                    r.slot.element_type.is_none() && slot_is(&r.slot, path, path.sub.as_deref())
                })?;
                param(rule, value)
            }
            Filter::ValuePath { attr, filter } => {
                let mut inner = Vec::new();
                and_chain(filter, &mut inner);
                let [a, b] = inner.as_slice() else {
                    return None;
                };
                let (type_value, (sub, value)) = match (element_type(a), element_type(b)) {
                    (Some(t), None) => (t, eq_on(b)?),
                    (None, Some(t)) => (t, eq_on(a)?),
                    _ => return None,
                };
                let rule = self.plan.filters.iter().find(|r| {
                    r.slot
                        .element_type
                        .as_deref()
                        .is_some_and(|t| t.eq_ignore_ascii_case(type_value))
                        && slot_is(&r.slot, attr, Some(sub))
                })?;
                param(rule, value)
            }
            _ => None,
        }
    }
}

/// The conjuncts of a top-level `and` chain (a filter that is not an `and` is one conjunct).
fn and_chain<'a>(f: &'a Filter, out: &mut Vec<&'a Filter>) {
    match f {
        Filter::And(a, b) => {
            and_chain(a, out);
            and_chain(b, out);
        }
        other => out.push(other),
    }
}

/// `type eq "work"` inside a value path → `work`.
fn element_type(f: &Filter) -> Option<&str> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(t),
        } if path.sub.is_none()
            && path.schema.is_none()
            && path.name.eq_ignore_ascii_case("type") =>
        {
            Some(t)
        }
        _ => None,
    }
}

/// `value eq "x"` inside a value path → (`value`, "x").
fn eq_on(f: &Filter) -> Option<(&str, &CompValue)> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if path.sub.is_none() && path.schema.is_none() => Some((path.name.as_str(), value)),
        _ => None,
    }
}

/// Whether `path` (with `sub` as its sub-attribute) names the attribute of `slot`.
fn slot_is(slot: &ScimSlot, path: &AttrPath, sub: Option<&str>) -> bool {
    let schema_ok = match (&path.schema, &slot.container) {
        (None, _) => true,
        (Some(p), Some(c)) => p.eq_ignore_ascii_case(c),
        (Some(p), None) => p.eq_ignore_ascii_case(urn::USER),
    };
    let sub_ok = match (sub, &slot.sub) {
        (None, None) => true,
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    };
    schema_ok && sub_ok && path.name.eq_ignore_ascii_case(&slot.attr)
}

/// The parameter for `value`, through the attribute's value map or legacy type if it has one.
fn param(rule: &FilterRule, value: &CompValue) -> Option<(String, String)> {
    let json = match value {
        CompValue::Null => return None,
        CompValue::Bool(b) => Value::Bool(*b),
        CompValue::Number(n) => Value::Number(n.clone()),
        CompValue::Str(s) => Value::String(s.clone()),
    };
    let legacy = match &rule.conv {
        Some(conv) => conv.to_legacy(&json).ok()?,
        None => json,
    };
    Some((rule.param.clone(), scalar_string(&legacy)?))
}
