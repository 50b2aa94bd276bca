//! Validation and compilation of how each resource endpoint holds the record: `envelope:` (the
//! section's, and each endpoint's over it), the endpoint's own `errors:` rules,
//! `exists: read_first`, and the update's `after_empty_answer:`. Compiled into the endpoint's
//! [`RecordRules`]; the member endpoints have none of these keys.

use http::Method;
use serde_json::Value;
use serde_saphyr::Spanned;

use super::{error_rule, loc, suggest_word, Cx, Kind};
use crate::mapping::model::{EndpointFile, EnvelopeFile, ErrorRuleFile};
use crate::mapping::plan::{AfterEmpty, RecordRules};

/// Which endpoint of a resource is compiled: what its envelope, `exists` and body can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Create,
    Get,
    Update,
    Delete,
    Deactivate,
    Reactivate,
    List,
}

impl Role {
    pub(super) fn of(name: &str) -> Role {
        match name {
            "create" => Role::Create,
            "get" => Role::Get,
            "update" => Role::Update,
            "delete" => Role::Delete,
            "deactivate" => Role::Deactivate,
            "reactivate" => Role::Reactivate,
            _ => Role::List,
        }
    }

    /// The endpoint's answer is read as one record.
    fn answers_record(self) -> bool {
        !matches!(self, Role::Delete | Role::List)
    }

    /// The endpoint may be sent a record as its body.
    fn takes_body(self) -> bool {
        matches!(
            self,
            Role::Create | Role::Update | Role::Deactivate | Role::Reactivate
        )
    }

    /// The endpoint writes a record that exists (`exists: read_first` applies).
    fn writes_existing(self) -> bool {
        matches!(
            self,
            Role::Update | Role::Delete | Role::Deactivate | Role::Reactivate
        )
    }
}

/// The section's `envelope:` keys, validated: each `None` when not given (or null).
#[derive(Debug, Clone, Default)]
pub(super) struct SectionEnvelope {
    answer: Option<String>,
    body: Option<String>,
    item: Option<String>,
}

/// `users.envelope` / `groups.envelope`.
pub(super) fn section_envelope(
    cx: &mut Cx<'_>,
    kind: Kind,
    e: Option<&Spanned<EnvelopeFile>>,
) -> Option<SectionEnvelope> {
    let Some(e) = e else {
        return Some(SectionEnvelope::default());
    };
    let at = format!("{}.envelope", kind.key());
    let f = &e.value;
    if f.answer.is_none() && f.body.is_none() && f.item.is_none() {
        cx.report(
            loc(e),
            &at,
            "the envelope names no key".into(),
            Some(
                "write envelope: { answer: data, body: user } (the key that holds the record \
                 in answers, in request bodies), with item: for list items, or remove it"
                    .into(),
            ),
        );
        return None;
    }
    let answer = opt_key(cx, &format!("{at}.answer"), f.answer.as_ref());
    let body = opt_key(cx, &format!("{at}.body"), f.body.as_ref());
    let item = opt_key(cx, &format!("{at}.item"), f.item.as_ref());
    Some(SectionEnvelope {
        answer: answer?,
        body: body?,
        item: item?,
    })
}

/// The keys of one endpoint that say how it holds the record, borrowed from its model struct.
pub(super) struct Own<'a> {
    pub(super) envelope: Option<&'a Spanned<EnvelopeFile>>,
    pub(super) errors: Option<&'a Spanned<Vec<Spanned<ErrorRuleFile>>>>,
    pub(super) exists: Option<&'a Spanned<String>>,
}

/// The record rules of the endpoint at `at` (`users.endpoints.get`): its envelope keys over the
/// section's, its error rules, its existence check.
pub(super) fn rules(
    cx: &mut Cx<'_>,
    at: &str,
    role: Role,
    method: Option<&Method>,
    own: Own<'_>,
    section: &SectionEnvelope,
) -> Option<RecordRules> {
    let mut ok = true;
    // The section's keys, for the endpoints they concern.
    let mut out = RecordRules {
        answer: section.answer.clone().filter(|_| role.answers_record()),
        // A (de)activation body is the endpoint's own template, written as sent: only its own
        // envelope wraps it.
        body: section
            .body
            .clone()
            .filter(|_| matches!(role, Role::Create | Role::Update)),
        item: section.item.clone().filter(|_| role == Role::List),
        errors: Vec::new(),
        read_first: false,
    };
    if let Some(e) = own.envelope {
        let f = &e.value;
        let at = format!("{at}.envelope");
        let sends_body = method.is_none_or(|m| m != Method::GET && m != Method::DELETE);
        let keys = [
            ("answer", f.answer.as_ref(), role.answers_record()),
            ("body", f.body.as_ref(), role.takes_body() && sends_body),
            ("item", f.item.as_ref(), role == Role::List),
        ];
        if keys.iter().all(|(_, v, _)| v.is_none()) {
            cx.report(
                loc(e),
                &at,
                "the envelope names no key".into(),
                Some(format!("write e.g. {}, or remove it", example(role))),
            );
            ok = false;
        }
        for (key, value, allowed) in keys {
            let Some(value) = value else { continue };
            let here = format!("{at}.{key}");
            if !allowed {
                cx.report(
                    loc(value),
                    &here,
                    misplaced(role, key, method),
                    Some(match role {
                        Role::Delete => "remove the delete endpoint's envelope".to_string(),
                        _ => format!("remove `{key}` (this endpoint takes {})", example(role)),
                    }),
                );
                ok = false;
                continue;
            }
            match one_key(cx, &here, value) {
                Some(k) => match key {
                    "answer" => out.answer = k,
                    "body" => out.body = k,
                    _ => out.item = k,
                },
                None => ok = false,
            }
        }
    }
    if let Some(rules) = own.errors {
        for (i, r) in rules.value.iter().enumerate() {
            match error_rule(cx, &format!("{at}.errors[{i}]"), r) {
                Some(rule) => out.errors.push(rule),
                None => ok = false,
            }
        }
    }
    if let Some(x) = own.exists {
        let here = format!("{at}.exists");
        if !role.writes_existing() {
            cx.report(
                loc(x),
                &here,
                "`exists` applies to the calls that change a record: update, delete, \
                 deactivate and reactivate"
                    .into(),
                Some("remove it".into()),
            );
            ok = false;
        } else if x.value.trim() == "read_first" {
            out.read_first = true;
        } else {
            cx.report(
                loc(x),
                &here,
                format!("{:?} is not an existence check", x.value),
                Some(
                    "write exists: read_first (the record is read with get before the call; \
                     absent, SCIM answers 404 and nothing is written)"
                        .into(),
                ),
            );
            ok = false;
        }
    }
    ok.then_some(out)
}

/// The update's `after_empty_answer:` (`read` by default).
pub(super) fn after_empty(cx: &mut Cx<'_>, at: &str, update: &EndpointFile) -> Option<AfterEmpty> {
    let Some(v) = &update.after_empty_answer else {
        return Some(AfterEmpty::Read);
    };
    match v.value.trim() {
        "read" => Some(AfterEmpty::Read),
        "as_written" => Some(AfterEmpty::AsWritten),
        other => {
            cx.report(
                loc(v),
                &format!("{at}.after_empty_answer"),
                format!("{other:?} is not read or as_written"),
                Some(suggest_word(other, &["read", "as_written"])),
            );
            None
        }
    }
}

/// `envelope`, `errors` and `exists` on a member endpoint (`groups.membership.endpoints.remove`),
/// which takes none of them.
pub(super) fn refuse_on_member_call(cx: &mut Cx<'_>, at: &str, ep: &EndpointFile) {
    let keys = [
        ("envelope", ep.envelope.as_ref().map(loc)),
        ("errors", ep.errors.as_ref().map(loc)),
        ("exists", ep.exists.as_ref().map(loc)),
    ];
    for (key, l) in keys {
        if let Some(l) = l {
            cx.report(
                l,
                &format!("{at}.{key}"),
                format!("`{key}` applies to the users: and groups: endpoints, not member calls"),
                Some(
                    "remove it (member calls are translated by the groups: section's errors: \
                     rules)"
                        .into(),
                ),
            );
        }
    }
}

fn example(role: Role) -> &'static str {
    match role {
        Role::Get => "envelope: { answer: data }",
        Role::List => "envelope: { item: user }",
        _ => "envelope: { answer: data, body: user }",
    }
}

fn misplaced(role: Role, key: &str, method: Option<&Method>) -> String {
    match (role, key) {
        (Role::List, "answer") => {
            "a list answer holds items, not one record: `items:` says where they are, and \
             `item:` the key that holds the record in each"
                .into()
        }
        (Role::Delete, _) => {
            format!(
                "the gateway neither sends a record to the delete endpoint nor reads one from \
                 its answer: `{key}` has nothing to unwrap or wrap"
            )
        }
        (_, "item") => "`item` is the key of the record in a list item: it belongs to the list endpoint or the section's envelope".into(),
        (_, "body") => match method {
            Some(m) if role.takes_body() => format!("a {m} call sends no body, so `body` has nothing to wrap"),
            _ => "this endpoint is sent no record, so `body` has nothing to wrap".into(),
        },
        _ => format!("`{key}` does not apply to this endpoint"),
    }
}

fn opt_key(cx: &mut Cx<'_>, at: &str, v: Option<&Spanned<Value>>) -> Option<Option<String>> {
    match v {
        None => Some(None),
        Some(v) => one_key(cx, at, v),
    }
}

/// One envelope key: a key name (`data`), or null for none.
fn one_key(cx: &mut Cx<'_>, at: &str, v: &Spanned<Value>) -> Option<Option<String>> {
    let problem = match &v.value {
        Value::Null => return Some(None),
        Value::String(s) => {
            let k = s.trim();
            if k.is_empty() {
                (
                    "an empty key names no place".to_string(),
                    "write the key that holds the record, e.g. data, or null for none".to_string(),
                )
            } else if k.starts_with('$') || k.contains(['.', '[', ']']) {
                (
                    format!("{s:?} is a path; an envelope is one key name"),
                    format!(
                        "write the key alone, e.g. {} (attribute paths stay relative to the record inside it)",
                        k.trim_start_matches("$.").split(['.', '[']).next().filter(|x| !x.is_empty()).unwrap_or("data")
                    ),
                )
            } else {
                return Some(Some(k.to_string()));
            }
        }
        other => (
            format!("{other} is not a key name"),
            "write the key that holds the record, e.g. data, or null for none".to_string(),
        ),
    };
    cx.report(loc(v), at, problem.0, Some(problem.1));
    None
}
