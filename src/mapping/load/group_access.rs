//! Validation and compilation of what the identity provider may do to the legacy groups:
//! `groups.protected` and `groups.hidden` (each a list of `{ name: … }` or `{ id: … }`), and
//! `groups.create: false`. Not here: acting on them (the server's group operations).

use serde_json::Value;
use serde_saphyr::Spanned;

use super::{loc, Cx};
use crate::mapping::model::*;
use crate::mapping::plan::GroupSelector;

/// The groups of `groups.<key>` (`protected` or `hidden`); `None` when one has a problem
/// (already reported).
pub(super) fn selectors(
    cx: &mut Cx<'_>,
    key: &str,
    list: &Option<Spanned<Vec<Spanned<GroupRefFile>>>>,
) -> Option<Vec<GroupSelector>> {
    let mut out: Vec<GroupSelector> = Vec::new();
    let mut ok = true;
    for (i, g) in list.iter().flat_map(|l| l.value.iter()).enumerate() {
        let at = format!("groups.{key}[{i}]");
        let fix = format!(
            "write {{ name: Administrator }} (the group's display name) or {{ id: \"42\" }} \
             (its legacy id), one per entry of {key}:"
        );
        let one = selector(cx, &at, &fix, g);
        match one {
            Some(s) if out.contains(&s) => {
                cx.report(
                    loc(g),
                    &at,
                    format!("{s:?} is listed twice"),
                    Some("list each group once".into()),
                );
                ok = false;
            }
            Some(s) => out.push(s),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// One `{ name: … }` or `{ id: … }` at `at`; `None` when it has a problem (reported, with
/// `fix`).
pub(super) fn selector(
    cx: &mut Cx<'_>,
    at: &str,
    fix: &str,
    g: &Spanned<GroupRefFile>,
) -> Option<GroupSelector> {
    let fix = fix.to_string();
    let at = at.to_string();
    match (&g.value.name, &g.value.id) {
        (Some(n), None) => {
            let name = n.value.trim();
            if name.is_empty() {
                cx.report(loc(n), &at, "the name is empty".into(), Some(fix));
                None
            } else {
                Some(GroupSelector::Name(name.to_string()))
            }
        }
        (None, Some(id)) => match &id.value {
            Value::String(s) if !s.trim().is_empty() => {
                Some(GroupSelector::Id(s.trim().to_string()))
            }
            Value::Number(n) => Some(GroupSelector::Id(n.to_string())),
            _ => {
                cx.report(
                    loc(id),
                    &at,
                    "the id must be a non-empty string or a number".into(),
                    Some(fix),
                );
                None
            }
        },
        (Some(_), Some(_)) => {
            cx.report(
                loc(g),
                &at,
                "give the group's name or its id, not both".into(),
                Some(fix),
            );
            None
        }
        (None, None) => {
            cx.report(loc(g), &at, "the entry names no group".into(), Some(fix));
            None
        }
    }
}

/// A group both protected and hidden is refused: hidden already keeps it from the identity
/// provider, and the two say different things about what it sees.
pub(super) fn check_overlap(
    cx: &mut Cx<'_>,
    hidden_file: &Option<Spanned<Vec<Spanned<GroupRefFile>>>>,
    protected: &[GroupSelector],
    hidden: &[GroupSelector],
) {
    for (i, h) in hidden.iter().enumerate() {
        if protected.contains(h) {
            let at = hidden_file.as_ref().and_then(|l| l.value.get(i)).map(loc);
            if let Some(at) = at {
                cx.report(
                    at,
                    &format!("groups.hidden[{i}]"),
                    "this group is also protected: a hidden group is never shown, so it \
                     cannot be changed either"
                        .into(),
                    Some("keep it in hidden: or in protected:, not both".into()),
                );
            }
        }
    }
}

/// `create: false` with a create endpoint: one of them is a mistake.
pub(super) fn check_create(cx: &mut Cx<'_>, g: &Spanned<ResourceFile>) {
    let f = &g.value;
    let (Some(create), Some(endpoints)) = (&f.create, &f.endpoints) else {
        return;
    };
    if !create.value {
        if let Some(ep) = &endpoints.value.create {
            cx.report(
                loc(ep),
                "groups.endpoints.create",
                "groups.create is false, so this endpoint would never be called".into(),
                Some(
                    "remove the create endpoint, or remove `create: false` to let the identity \
                     provider create groups"
                        .into(),
                ),
            );
        }
    }
}
