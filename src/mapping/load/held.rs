//! Validation and compilation of `groups:` with `held_by: gateway`: SCIM Groups kept in the
//! gateway's store rather than the legacy API. Only `roles`, `flags` (compiled exactly as for
//! legacy groups, by `roles::group_rules`) and `remove_deleted_users` may be written; every key
//! that describes legacy groups is refused where it is written, with a fix. Not here: the
//! store, or serving `/Groups` over it (`server::groups`).

use serde_saphyr::{Location, Spanned};

use super::{loc, roles, suggest_word, writers, Cx};
use crate::mapping::model::*;
use crate::mapping::plan::{HeldGroups, ResourceMapping};

/// The keys of a `groups:` section that describe legacy groups, each with why it has no place
/// when the gateway holds the groups.
const REFUSED: &[(&str, &str)] = &[
    ("id", "a held group's id is the gateway's own"),
    ("id_format", "a held group's id is the gateway's own"),
    ("created", "the gateway keeps a held group's timestamps"),
    (
        "last_modified",
        "the gateway keeps a held group's timestamps",
    ),
    ("version", "the gateway keeps a held group's version"),
    (
        "endpoints",
        "the legacy API is never called for held groups",
    ),
    ("envelope", "the legacy API is never called for held groups"),
    (
        "attributes",
        "a held group's displayName and externalId are kept by the gateway",
    ),
    ("filters", "the gateway filters held groups itself"),
    ("scan_limit", "the gateway filters held groups itself"),
    ("errors", "the legacy API is never called for held groups"),
    ("membership", "the gateway keeps a held group's members"),
    (
        "protected",
        "every held group is the identity provider's to change",
    ),
    (
        "hidden",
        "every held group is the identity provider's to see",
    ),
    ("create", "the identity provider always creates held groups"),
    (
        "on_delete",
        "a SCIM DELETE deletes a held group from the gateway's store",
    ),
    (
        "deleted",
        "a SCIM DELETE deletes a held group from the gateway's store",
    ),
];

/// Where each key of `g` is written, when it is (`filters`: its first entry).
fn written(g: &ResourceFile, key: &str) -> Option<Location> {
    let at = match key {
        "id" => g.id.as_ref().map(loc),
        "id_format" => g.id_format.as_ref().map(loc),
        "created" => g.created.as_ref().map(loc),
        "last_modified" => g.last_modified.as_ref().map(loc),
        "version" => g.version.as_ref().map(loc),
        "endpoints" => g.endpoints.as_ref().map(loc),
        "envelope" => g.envelope.as_ref().map(loc),
        "attributes" => g.attributes.as_ref().map(loc),
        "filters" => g.filters.first().map(loc),
        "scan_limit" => g.scan_limit.as_ref().map(loc),
        "errors" => g.errors.as_ref().map(loc),
        "membership" => g.membership.as_ref().map(loc),
        "protected" => g.protected.as_ref().map(loc),
        "hidden" => g.hidden.as_ref().map(loc),
        "create" => g.create.as_ref().map(loc),
        "on_delete" => g.on_delete.as_ref().map(loc),
        "deleted" => g.deleted.as_ref().map(loc),
        _ => None,
    };
    at.copied()
}

/// `groups:` with `held_by:` written. `users` (when it compiled) is checked against the
/// fields the roles and flags write. `None` when there is a problem (already reported).
pub(super) fn held_groups(
    cx: &mut Cx<'_>,
    g: &Spanned<ResourceFile>,
    users: Option<&ResourceMapping>,
) -> Option<HeldGroups> {
    let f = &g.value;
    let mut ok = true;
    if let Some(by) = &f.held_by {
        let value = by.value.trim();
        if value != "gateway" {
            cx.report(
                loc(by),
                "groups.held_by",
                format!("{value:?} is not gateway"),
                Some(format!(
                    "{}; or remove held_by to map the legacy API's own groups",
                    suggest_word(value, &["gateway"])
                )),
            );
            ok = false;
        }
    }
    for (key, why) in REFUSED {
        if let Some(at) = written(f, key) {
            cx.report(
                &at,
                &format!("groups.{key}"),
                format!("`{key}` describes legacy groups: {why} (held_by: gateway)"),
                Some(format!(
                    "remove {key}: (with held_by: gateway only roles, flags and \
                     remove_deleted_users are written), or remove held_by: gateway to map the \
                     legacy API's groups"
                )),
            );
            ok = false;
        }
    }
    let rules = roles::group_rules(cx, &f.roles, &f.flags);
    writers::check_user_record(cx, f, users, None, rules.as_ref());
    let rules = rules?;
    ok.then_some(HeldGroups {
        rules,
        remove_deleted_users: f.remove_deleted_users.as_ref().is_some_and(|r| r.value),
    })
}

/// `remove_deleted_users` written in a `groups:` section of legacy groups (no `held_by`).
pub(super) fn refuse_outside(cx: &mut Cx<'_>, g: &ResourceFile) {
    if let Some(r) = &g.remove_deleted_users {
        cx.report(
            loc(r),
            "groups.remove_deleted_users",
            "remove_deleted_users applies to groups held by the gateway, and these groups are \
             the legacy API's"
                .into(),
            Some(
                "remove it (the legacy API keeps its groups' members), or write held_by: \
                 gateway to keep the groups in the gateway"
                    .into(),
            ),
        );
    }
}
