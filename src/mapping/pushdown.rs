//! Filter pushdown: the part of a SCIM filter that the legacy API can answer itself, as query
//! parameters (`userName eq "ada"` → `login=ada`), from the mapping's `filters:` entries. Only
//! `eq` comparisons are pushed, alone or inside a top-level `and` chain, including the value-path
//! forms `emails[type eq "work" and value eq "x"]` and Entra's `emails[type eq "work"].value eq
//! "x"` (which the filter parser reads as the former). The gateway re-checks every result with
//! the filter evaluator, so a pushdown may over-match but never under-match. Values are not
//! encoded here: the caller form-encodes them ([`super::append_query`]).

use std::borrow::Cow;

use serde_json::Value;

use super::plan::{Attr, FilterRule, QueryParam, ResourceMapping};
use super::slot::ScimSlot;
use super::values::scalar_string;
use crate::scim::filter::{CompValue, CompareOp, Filter};
use crate::scim::path::AttrPath;

/// Query parameters for the legacy list endpoint, and whether they express the whole filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pushdown<'a> {
    pub params: Vec<QueryParam<'a>>,
    /// True when every part of the filter became a parameter (each parameter used once).
    pub complete: bool,
    /// True when every parameter selects exactly what its SCIM comparison does (no `match:
    /// loose` entry was used), so the legacy API's total is SCIM's.
    pub(crate) exact: bool,
}

impl Pushdown<'_> {
    /// The same parameters, each held on its own (to keep beyond the filter and mapping).
    pub fn into_owned(self) -> Pushdown<'static> {
        Pushdown {
            params: self
                .params
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), Cow::Owned(v.into_owned())))
                .collect(),
            complete: self.complete,
            exact: self.exact,
        }
    }
}

impl ResourceMapping {
    /// The legacy query parameters for `filter` (see the module documentation).
    pub fn pushdown<'a>(&'a self, filter: &'a Filter) -> Pushdown<'a> {
        let mut conjuncts = Vec::new();
        and_chain(filter, &mut conjuncts);
        let mut out = Pushdown {
            params: Vec::new(),
            complete: true,
            exact: true,
        };
        for c in conjuncts {
            match self.push_one(c) {
                Some((param, value, exact)) => {
                    out.exact &= exact;
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

    fn push_one<'a>(&'a self, f: &'a Filter) -> Option<(Cow<'a, str>, Cow<'a, str>, bool)> {
        match f {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } => {
                let rule = self.plan.filters.iter().find(|r| {
                    r.slot.element_type.is_none()
                        && slot_is(&r.slot, &self.schema.core.id, path, path.sub.as_deref())
                })?;
                if self.blank_is_absent(&rule.slot, value) {
                    return None;
                }
                param(rule, value).map(|(p, v)| (p, v, rule.exact))
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
                        && slot_is(&r.slot, &self.schema.core.id, attr, Some(sub))
                })?;
                if self.blank_is_absent(&rule.slot, value) {
                    return None;
                }
                param(rule, value).map(|(p, v)| (p, v, rule.exact))
            }
            _ => None,
        }
    }
}

impl ResourceMapping {
    /// Whether `value` is a blank string compared with an attribute read with `empty: absent`:
    /// the legacy API would select the records that store `""`, which SCIM sees without the
    /// attribute, so such a comparison is left to the gateway.
    fn blank_is_absent(&self, slot: &ScimSlot, value: &CompValue) -> bool {
        let CompValue::Str(s) = value else {
            return false;
        };
        s.trim().is_empty()
            && self.plan.attrs.iter().any(|a| {
                matches!(a, Attr::Field { slot: x, empty_absent: true, .. } if x.key() == slot.key())
            })
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

/// Whether `path` (with `sub` as its sub-attribute) names the attribute of `slot`, in a
/// resource whose core schema is `core` (a core attribute may be qualified with it).
fn slot_is(slot: &ScimSlot, core: &str, path: &AttrPath, sub: Option<&str>) -> bool {
    let schema_ok = match (&path.schema, &slot.container) {
        (None, _) => true,
        (Some(p), Some(c)) => p.eq_ignore_ascii_case(c),
        (Some(p), None) => p.eq_ignore_ascii_case(core),
    };
    let sub_ok = match (sub, &slot.sub) {
        (None, None) => true,
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => false,
    };
    schema_ok && sub_ok && path.name.eq_ignore_ascii_case(&slot.attr)
}

/// The parameter for `value`, through the attribute's value map or legacy type if it has one
/// (a string without either is lent as it is).
fn param<'a>(rule: &'a FilterRule, value: &'a CompValue) -> Option<QueryParam<'a>> {
    let name = Cow::Borrowed(rule.param.as_str());
    if let (None, CompValue::Str(s)) = (&rule.conv, value) {
        return Some((name, Cow::Borrowed(s)));
    }
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
    Some((name, Cow::Owned(scalar_string(&legacy)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::fixture::fixture;

    fn push(filter: &str) -> Pushdown<'static> {
        let f = Filter::parse(filter).unwrap();
        fixture().users.pushdown(&f).into_owned()
    }

    fn params(list: &[(&'static str, &'static str)]) -> Vec<QueryParam<'static>> {
        list.iter()
            .map(|(a, b)| (Cow::Borrowed(*a), Cow::Borrowed(*b)))
            .collect()
    }

    #[test]
    fn eq_on_a_mapped_attribute_becomes_a_parameter() {
        let p = push(r#"userName eq "ada""#);
        assert_eq!(p.params, params(&[("login", "ada")]));
        assert!(p.complete);
        // Attribute names are case-insensitive, and the core URN may qualify them.
        let p = push(r#"urn:ietf:params:scim:schemas:core:2.0:User:USERNAME eq "ada""#);
        assert_eq!(p.params, params(&[("login", "ada")]));
        let p = push(r#"name.familyName eq "Smith""#);
        assert_eq!(p.params, params(&[("last", "Smith")]));
    }

    #[test]
    fn a_loose_filter_entry_makes_the_pass_down_inexact() {
        assert!(push(r#"userName eq "ada" and active eq true"#).exact);
        let yaml = crate::mapping::fixture::FIXTURE.replace(
            "{ scim: name.familyName, param: last }",
            "{ scim: name.familyName, param: last, match: loose }",
        );
        let m = crate::mapping::load_str("loose.yaml", &yaml).unwrap();
        let push = |f: &str| m.users.pushdown(&Filter::parse(f).unwrap()).into_owned();
        let p = push(r#"userName eq "ada" and name.familyName eq "Smith""#);
        assert_eq!(p.params, params(&[("login", "ada"), ("last", "Smith")]));
        assert!(p.complete && !p.exact);
        assert!(push(r#"userName eq "ada""#).exact);
    }

    #[test]
    fn group_filters_push_down_against_the_group_schema() {
        let m = crate::mapping::fixture::with_groups(crate::mapping::fixture::GROUPS_ENDPOINTS);
        let groups = &m.groups.unwrap().resource;
        let push = |f: &str| groups.pushdown(&Filter::parse(f).unwrap()).into_owned();
        // Entra's group match, then the value reaches the legacy API as one parameter.
        let p = push(r#"displayName eq "Sales & Marketing""#);
        assert!(p.complete);
        assert_eq!(
            groups.endpoints.list.endpoint.target(None, &p.params),
            "/teams?name=Sales+%26+Marketing"
        );
        let p = push(r#"urn:ietf:params:scim:schemas:core:2.0:Group:DISPLAYNAME eq "x""#);
        assert_eq!(p.params, params(&[("name", "x")]));
        let p = push(r#"externalId eq "8aa1" and displayName eq "x""#);
        assert_eq!(p.params, params(&[("external_ref", "8aa1"), ("name", "x")]));
        // The User schema's URN does not qualify a group attribute.
        let p = push(r#"urn:ietf:params:scim:schemas:core:2.0:User:displayName eq "x""#);
        assert!(p.params.is_empty() && !p.complete);
        // Entra's membership check: the members part is the gateway's to evaluate.
        let p = push(r#"displayName eq "x" and members[value eq "17"]"#);
        assert_eq!(p.params, params(&[("name", "x")]));
        assert!(!p.complete);
    }

    #[test]
    fn value_paths_push_down_in_both_forms() {
        let idp = push(r#"emails[type eq "work"].value eq "ada@example.com""#);
        assert_eq!(idp.params, params(&[("email", "ada@example.com")]));
        assert!(idp.complete);
        let rfc = push(r#"emails[value eq "ada@example.com" and type eq "Work"]"#);
        assert_eq!(rfc.params, params(&[("email", "ada@example.com")]));
        // Another type, or no type, could match other e-mails: not pushed.
        assert!(push(r#"emails[type eq "home"].value eq "a@b""#)
            .params
            .is_empty());
        assert!(push(r#"emails.value eq "a@b""#).params.is_empty());
        assert!(push(r#"emails[value eq "a@b"]"#).params.is_empty());
    }

    #[test]
    fn and_chains_push_what_they_can() {
        let p = push(r#"userName eq "ada" and active eq true"#);
        assert_eq!(p.params, params(&[("login", "ada"), ("status", "enabled")]));
        assert!(p.complete);
        let p = push(r#"userName eq "ada" and title co "x""#);
        assert_eq!(p.params, params(&[("login", "ada")]));
        assert!(!p.complete);
        let p = push(r#"(userName eq "a" and externalId eq "b") and displayName eq "c""#);
        assert_eq!(p.params, params(&[("login", "a")]));
        assert!(!p.complete);
    }

    #[test]
    fn nothing_is_pushed_for_or_not_and_other_operators() {
        for f in [
            r#"userName eq "a" or userName eq "b""#,
            r#"not (userName eq "a")"#,
            r#"userName sw "a""#,
            r#"userName ne "a""#,
            "userName pr",
            "externalId eq \"x\"",
            "userName eq null",
        ] {
            let p = push(f);
            assert!(p.params.is_empty(), "{f}: {p:?}");
            assert!(!p.complete, "{f}");
        }
    }

    #[test]
    fn repeated_parameters_are_not_complete() {
        let p = push(r#"userName eq "a" and userName eq "b""#);
        assert_eq!(p.params.len(), 2);
        assert!(!p.complete);
    }

    #[test]
    fn values_the_value_map_does_not_know_are_not_pushed() {
        let p = push("active eq \"maybe\"");
        assert!(p.params.is_empty());
        assert!(!p.complete);
    }

    #[test]
    fn hostile_filter_values_stay_one_query_value() {
        let p = push(r#"userName eq "x&role=owner#frag""#);
        assert_eq!(p.params, params(&[("login", "x&role=owner#frag")]));
        let list = &fixture().users.endpoints.list.endpoint;
        assert_eq!(
            list.target(None, &p.params),
            "/users?login=x%26role%3Downer%23frag"
        );
    }
}
