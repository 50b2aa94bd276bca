//! Validation and compilation of `groups.roles` and `groups.flags`: writable legacy paths,
//! every role (default, protected, table) in the ranking, no role ranked twice, and a group
//! named in each row. Not here: applying them (`mapping::roles`).

use serde_saphyr::Spanned;

use super::endpoints::{self, fields, Hole, Shape};
use super::{loc, need, one_place, suggest_word, write_path, Cx};
use crate::mapping::model::*;
use crate::mapping::roles::{FlagRule, GroupRules, RoleLookup, RoleRule, RoleRules};

/// Both sections; `None` when either has a problem (already reported).
pub(super) fn group_rules(
    cx: &mut Cx<'_>,
    roles: &Option<Spanned<RolesFile>>,
    flags: &Option<Spanned<Vec<Spanned<FlagFile>>>>,
) -> Option<GroupRules> {
    let roles = match roles {
        None => Some(None),
        Some(r) => role_rules(cx, r).map(Some),
    };
    let mut ok = true;
    let mut compiled = Vec::new();
    for (i, f) in flags.iter().flat_map(|f| f.value.iter()).enumerate() {
        match flag(cx, i, f) {
            Some(f) => compiled.push(f),
            None => ok = false,
        }
    }
    Some(GroupRules {
        roles: roles?,
        flags: ok.then_some(compiled)?,
    })
}

fn group_name(cx: &mut Cx<'_>, at: &str, g: &Spanned<String>) -> Option<String> {
    let name = g.value.trim();
    if name.is_empty() {
        cx.report(
            loc(g),
            at,
            "the group is empty".into(),
            Some("write a group's displayName or id, like group: \"Managers\"".into()),
        );
        return None;
    }
    Some(name.to_string())
}

fn known_role(cx: &mut Cx<'_>, at: &str, role: &Spanned<String>, ranking: &[String]) -> bool {
    let r = role.value.trim();
    if ranking.iter().any(|k| k == r) {
        return true;
    }
    let known: Vec<&str> = ranking.iter().map(String::as_str).collect();
    cx.report(
        loc(role),
        at,
        format!("the role {r:?} is not in roles.ranking"),
        Some(format!("{}, or add it to ranking", suggest_word(r, &known))),
    );
    false
}

fn role_rules(cx: &mut Cx<'_>, r: &Spanned<RolesFile>) -> Option<RoleRules> {
    const AT: &str = "groups.roles";
    let f = &r.value;
    let legacy = need(cx, &f.legacy, loc(r), AT, "legacy", "legacy: $.role")
        .and_then(|l| write_path(cx, l, "groups.roles.legacy"));
    let ranking_s = need(
        cx,
        &f.ranking,
        loc(r),
        AT,
        "ranking",
        "ranking: [owner, manager, member] (highest privilege first)",
    )?;
    let mut ranking: Vec<String> = Vec::new();
    let mut ok = true;
    for role in &ranking_s.value {
        let name = role.value.trim().to_string();
        if name.is_empty() || ranking.iter().any(|k| k.eq_ignore_ascii_case(&name)) {
            cx.report(
                loc(role),
                "groups.roles.ranking",
                format!("the role {name:?} is empty or ranked twice"),
                Some("list each role once, highest privilege first".into()),
            );
            ok = false;
        }
        ranking.push(name);
    }
    if ranking.is_empty() {
        cx.report(
            loc(ranking_s),
            "groups.roles.ranking",
            "the ranking is empty".into(),
            Some("list the roles, highest privilege first: [owner, manager, member]".into()),
        );
        ok = false;
    }
    let default = need(cx, &f.default, loc(r), AT, "default", "default: member");
    if let Some(d) = default {
        ok &= known_role(cx, "groups.roles.default", d, &ranking);
    }
    let mut protected = Vec::new();
    for p in f.protected.iter().flat_map(|p| p.value.iter()) {
        ok &= known_role(cx, "groups.roles.protected", p, &ranking);
        protected.push(p.value.trim().to_string());
    }
    let mut from_groups = Vec::new();
    let rows = need(
        cx,
        &f.from_groups,
        loc(r),
        AT,
        "from_groups",
        "from_groups: [{ group: \"Managers\", role: manager }]",
    );
    for (i, row) in rows.iter().flat_map(|r| r.value.iter()).enumerate() {
        let at = format!("groups.roles.from_groups[{i}]");
        let group = need(
            cx,
            &row.value.group,
            loc(row),
            &at,
            "group",
            "group: \"Managers\"",
        )
        .and_then(|g| group_name(cx, &at, g));
        let role = need(cx, &row.value.role, loc(row), &at, "role", "role: manager");
        let role_ok = role.is_some_and(|role| known_role(cx, &at, role, &ranking));
        let mut set = Vec::new();
        let mut set_ok = true;
        if let Some(s) = &row.value.set {
            for (path, value) in &s.value {
                let spanned = Spanned {
                    value: path.clone(),
                    referenced: s.referenced,
                    defined: s.defined,
                };
                match write_path(cx, &spanned, &format!("{at}.set")) {
                    Some(p) => set.push((p, value.clone())),
                    None => set_ok = false,
                }
            }
        }
        match (group, role, role_ok && set_ok) {
            (Some(group), Some(role), true) => from_groups.push(RoleRule {
                group,
                role: role.value.trim().to_string(),
                set,
            }),
            _ => ok = false,
        }
    }
    let lookup = match &f.lookup {
        None => Some(None),
        Some(l) => role_lookup(cx, l).map(Some),
    };
    // Where each name is written, for the look-up's errors at start-up.
    let mut named_at = Vec::new();
    let spots = f
        .default
        .iter()
        .chain(ranking_s.value.iter())
        .chain(f.protected.iter().flat_map(|p| p.value.iter()))
        .chain(
            rows.iter()
                .flat_map(|r| r.value.iter())
                .filter_map(|row| row.value.role.as_ref()),
        );
    for s in spots {
        let at = loc(s);
        named_at.push((
            s.value.trim().to_string(),
            format!("{}:{}:{}", cx.source, at.line(), at.column()),
        ));
    }
    let legacy = legacy?;
    let default = default?.value.trim().to_string();
    let lookup = lookup?;
    ok.then_some(RoleRules {
        legacy,
        default,
        ranking,
        protected,
        from_groups,
        lookup,
        named_at,
    })
}

/// `roles.lookup`: the call listing the legacy roles (no `{id}`), the items, and each role's
/// id and name.
fn role_lookup(cx: &mut Cx<'_>, l: &Spanned<RoleLookupFile>) -> Option<RoleLookup> {
    const AT: &str = "groups.roles.lookup";
    let v = &l.value;
    let shape = Shape {
        id: Hole::Forbidden,
        member: Hole::Forbidden,
        noun: "role",
        example: "/api/v2/roles",
    };
    let endpoint = endpoints::endpoint(cx, AT, loc(l), fields!(v), shape);
    if let Some(e) = &endpoint {
        if e.path.has_tenant() {
            cx.report(
                loc(l),
                AT,
                "the roles are looked up once for every tenant, so the call cannot name one".into(),
                Some(
                    "remove {tenant}: the look-up needs roles whose ids are the same for every \
                     tenant; otherwise write the legacy role ids in the rules and leave out \
                     lookup"
                        .into(),
                ),
            );
        }
    }
    let items = endpoints::items(cx, AT, loc(l), &v.items, "the roles");
    let id = need(
        cx,
        &v.id,
        loc(l),
        AT,
        "id",
        "id: $.id (a role's id in an item)",
    )
    .and_then(|p| one_place(cx, p, &format!("{AT}.id")));
    let name = need(
        cx,
        &v.name,
        loc(l),
        AT,
        "name",
        "name: $.name (a role's name in an item)",
    )
    .and_then(|p| one_place(cx, p, &format!("{AT}.name")));
    if endpoint
        .as_ref()
        .is_some_and(|e| e.method != http::Method::GET)
    {
        cx.report(
            loc(l),
            &format!("{AT}.method"),
            "the look-up reads the roles: it must be a GET".into(),
            Some("write method: GET".into()),
        );
        return None;
    }
    if endpoint.as_ref().is_some_and(|e| e.path.has_tenant()) {
        return None;
    }
    Some(RoleLookup {
        endpoint: endpoint?,
        items: items?,
        id: id?,
        name: name?,
    })
}

fn flag(cx: &mut Cx<'_>, i: usize, f: &Spanned<FlagFile>) -> Option<FlagRule> {
    let at = format!("groups.flags[{i}]");
    let v = &f.value;
    let legacy = need(cx, &v.legacy, loc(f), &at, "legacy", "legacy: $.licensed")
        .and_then(|l| write_path(cx, l, &format!("{at}.legacy")));
    let group = need(cx, &v.group, loc(f), &at, "group", "group: \"Pro\"")
        .and_then(|g| group_name(cx, &at, g));
    let member = need(cx, &v.member, loc(f), &at, "member", "member: true");
    Some(FlagRule {
        legacy: legacy?,
        group: group?,
        member: member?.value.clone(),
        otherwise: v.otherwise.as_ref().map(|o| o.value.clone()),
    })
}
