//! Who writes what in a legacy record, checked and compiled across sections: one writer per
//! legacy field of a user (the users attributes, and from `groups:` the membership field, the
//! role, the roles' `set:` fields and the flags: two writers of one field would overwrite each
//! other), the objects a partial update replaces whole (each one an entry writes into), and the
//! fields a full update leaves out. Within `attributes` the one-writer rule is
//! `attributes::check_duplicates`'s, and the deleted marker's own rules are `check_deleted`'s.

use serde_saphyr::{Location, Spanned};

use super::{loc, Cx, Kind};
use crate::mapping::legacy_path::LegacyPath;
use crate::mapping::model::*;
use crate::mapping::plan::*;
use crate::mapping::roles::GroupRules;

/// The legacy field an attribute entry writes, if it writes one.
pub(super) fn attr_writes(a: &Attr) -> Option<&LegacyPath> {
    match a {
        Attr::Field {
            legacy,
            write: true,
            ..
        }
        | Attr::Join {
            legacy,
            write: true,
            ..
        }
        | Attr::LegacyConstant { legacy, .. }
        | Attr::LegacyDefault { legacy, .. } => Some(legacy),
        _ => None,
    }
}

/// The fields a full update leaves out ([`Plan::read_only`]): the timestamps, and the fields
/// that only `direction: read` entries name; each a path of names only that no attribute, the
/// deleted marker, the id or the version writes into, holds or is.
pub(super) fn read_only(plan: &Plan) -> Vec<LegacyPath> {
    let kept: Vec<&LegacyPath> = plan
        .attrs
        .iter()
        .filter_map(attr_writes)
        .chain(plan.deleted.as_ref().map(|m| &m.legacy))
        .chain(Some(&plan.id))
        .chain(plan.version.as_ref())
        .collect();
    let read_only_entries = plan.attrs.iter().filter_map(|a| match a {
        Attr::Field {
            legacy,
            read: true,
            write: false,
            ..
        }
        | Attr::Join {
            legacy,
            read: true,
            write: false,
            ..
        } => Some(legacy),
        _ => None,
    });
    let mut out: Vec<LegacyPath> = Vec::new();
    for p in plan
        .created
        .iter()
        .chain(plan.last_modified.iter())
        .chain(read_only_entries)
    {
        let free = p.field_names().is_some() && !kept.iter().any(|k| k.overlaps(p));
        if free && !out.iter().any(|o| o.same_place(p)) {
            out.push(p.clone());
        }
    }
    out
}

/// Each `replaces_whole:` object must be one that an entry (or the deleted marker) writes into:
/// otherwise no change ever sends it.
pub(super) fn check_replaces_whole(
    cx: &mut Cx<'_>,
    kind: Kind,
    listed: &Spanned<Vec<Spanned<String>>>,
    paths: &[LegacyPath],
    attrs: &[Attr],
    marker: Option<&DeletedMarker>,
) {
    let written: Vec<&LegacyPath> = attrs
        .iter()
        .filter_map(attr_writes)
        .chain(marker.map(|m| &m.legacy))
        .collect();
    for (i, (s, p)) in listed.value.iter().zip(paths).enumerate() {
        if written.iter().any(|w| p.holds(w)) {
            continue;
        }
        cx.report(
            loc(s),
            &format!("{}.endpoints.update.replaces_whole[{i}]", kind.key()),
            format!(
                "no entry writes a field inside {}, so a change never sends it",
                p.as_str()
            ),
            Some(
                "list the objects whose fields the attributes write, e.g. $.address for \
                 $.address.street"
                    .into(),
            ),
        );
    }
}

/// What, in the `groups:` section, writes a field of the legacy user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    /// `membership.user_attribute.legacy`.
    Membership,
    /// `roles.legacy`.
    Role,
    /// A `set:` field of row `n` of `roles.from_groups` (rows may share their fields: one
    /// role is applied at a time).
    RoleSet(usize),
    /// `flags[n].legacy`.
    Flag(usize),
}

impl By {
    /// Where it is in the file, which also names it in messages.
    fn key(self) -> String {
        match self {
            By::Membership => "groups.membership.user_attribute.legacy".into(),
            By::Role => "groups.roles.legacy".into(),
            By::RoleSet(n) => format!("groups.roles.from_groups[{n}].set"),
            By::Flag(n) => format!("groups.flags[{n}].legacy"),
        }
    }

    fn fix(self) -> &'static str {
        match self {
            By::Membership => {
                "keep membership in a field that nothing else writes, or make that users \
                 attribute `direction: read`"
            }
            By::Role => {
                "keep the role in a field of its own: no users attribute, membership field or \
                 flag may write it"
            }
            By::RoleSet(_) => {
                "set only fields that nothing else writes (the role itself is groups.roles.legacy)"
            }
            By::Flag(_) => {
                "give the flag a field of its own, which no users attribute, role or other flag \
                 writes"
            }
        }
    }
}

/// The fields of the legacy user that the `groups:` section writes.
fn group_writers<'a>(
    membership: Option<&'a Membership>,
    rules: Option<&'a GroupRules>,
) -> Vec<(&'a LegacyPath, By)> {
    let mut out = Vec::new();
    if let Some(Membership::UserAttribute(a)) = membership {
        out.push((&a.legacy, By::Membership));
    }
    if let Some(roles) = rules.and_then(|r| r.roles.as_ref()) {
        out.push((&roles.legacy, By::Role));
        for (n, row) in roles.from_groups.iter().enumerate() {
            out.extend(row.set.iter().map(|(p, _)| (p, By::RoleSet(n))));
        }
    }
    for (n, flag) in rules.iter().flat_map(|r| r.flags.iter()).enumerate() {
        out.push((&flag.legacy, By::Flag(n)));
    }
    out
}

/// The legacy user's fields the `groups:` section writes (for [`Plan::read_only`]).
pub(super) fn group_written(group: &GroupMapping) -> Vec<&LegacyPath> {
    group_writers(Some(&group.membership), Some(&group.rules))
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// The legacy user's fields the roles and flags of groups held by the gateway write (for
/// [`Plan::read_only`]).
pub(super) fn held_written(held: &HeldGroups) -> Vec<&LegacyPath> {
    group_writers(None, Some(&held.rules))
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// Where `by` is in the `groups:` section of the file.
fn location(g: &ResourceFile, by: By) -> Option<&Location> {
    let roles = g.roles.as_ref().map(|r| &r.value);
    match by {
        By::Membership => g
            .membership
            .as_ref()?
            .value
            .user_attribute
            .as_ref()?
            .value
            .legacy
            .as_ref()
            .map(loc),
        By::Role => roles?.legacy.as_ref().map(loc),
        By::RoleSet(n) => roles?
            .from_groups
            .as_ref()?
            .value
            .get(n)?
            .value
            .set
            .as_ref()
            .map(loc),
        By::Flag(n) => g
            .flags
            .as_ref()?
            .value
            .get(n)?
            .value
            .legacy
            .as_ref()
            .map(loc),
    }
}

/// No two writers of one field of the legacy user (or of a field and one inside it): the
/// `groups:` section's writers against the users attributes, the users' deleted marker and
/// each other. Each is reported where the later one is written.
pub(super) fn check_user_record(
    cx: &mut Cx<'_>,
    g: &ResourceFile,
    users: Option<&ResourceMapping>,
    membership: Option<&Membership>,
    rules: Option<&GroupRules>,
) {
    let users_writers: Vec<(&LegacyPath, String)> = users
        .map(|u| {
            let attrs = u.plan.attrs.iter().filter_map(|a| {
                let what = match a {
                    Attr::Field { slot, .. } => format!("the users attribute {}", slot.label()),
                    Attr::Join { .. } => "a users join".into(),
                    _ => "a users constant or default".into(),
                };
                attr_writes(a).map(|p| (p, what))
            });
            let marker = u
                .plan
                .deleted
                .as_ref()
                .map(|m| (&m.legacy, "the users' deleted marker".to_string()));
            attrs.chain(marker).collect()
        })
        .unwrap_or_default();
    let mut located: Vec<(&LegacyPath, By, &Location)> = group_writers(membership, rules)
        .into_iter()
        .filter_map(|(p, by)| Some((p, by, location(g, by)?)))
        .collect();
    located.sort_by_key(|(_, _, l)| (l.line(), l.column()));
    for (i, (path, by, at)) in located.iter().enumerate() {
        let earlier_groups = located[..i]
            .iter()
            .filter(|(_, other, _)| !matches!((other, by), (By::RoleSet(_), By::RoleSet(_))))
            .map(|(p, other, _)| (*p, other.key()));
        let clash = users_writers
            .iter()
            .map(|(p, w)| (*p, w.clone()))
            .chain(earlier_groups)
            .find(|(other, _)| other.overlaps(path));
        if let Some((other, what)) = clash {
            cx.report(
                at,
                &by.key(),
                format!(
                    "{} is also written by {what} ({})",
                    path.as_str(),
                    other.as_str()
                ),
                Some(by.fix().into()),
            );
        }
    }
}
