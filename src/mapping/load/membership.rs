//! Validation and compilation of `groups.membership`: exactly one of member endpoints on the
//! legacy group (`add`, `remove`, a paged `list`, an optional `user_groups`) and a field of the
//! legacy user (`user_attribute`), which must be writable and whose `members_query` parameter
//! must not be one the users list already uses (that nothing else writes the field is checked
//! in `writers`).

use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use super::endpoints::{self, fields, Hole, ListFields, Shape};
use super::group_access;
use super::records;
use super::{loc, need, one_place, read_path, suggest_word, Cx};
use crate::mapping::legacy_path::LegacyPath;
use crate::mapping::model::*;
use crate::mapping::placeholders::Placeholder;
use crate::mapping::plan::*;
use crate::mapping::values::LegacyType;

const AT: &str = "groups.membership";

pub(super) fn membership(
    cx: &mut Cx<'_>,
    m: &Spanned<Box<MembershipFile>>,
    users: Option<&ResourceMapping>,
) -> Option<Membership> {
    let shapes = "write membership: { endpoints: { add: …, remove: …, list: … } } for member \
                  endpoints on the legacy group, membership: { group_attribute: { legacy: \
                  $.member_ids } } for member ids held on the legacy group, or membership: { \
                  user_attribute: { legacy: $.team_ids } } for group ids held on the legacy \
                  user (see docs/mapping.md)";
    let f = &m.value;
    let given: Vec<(&str, &Location)> = [
        ("endpoints", f.endpoints.as_ref().map(loc)),
        ("group_attribute", f.group_attribute.as_ref().map(loc)),
        ("user_attribute", f.user_attribute.as_ref().map(loc)),
    ]
    .into_iter()
    .filter_map(|(k, l)| Some((k, l?)))
    .collect();
    match (&f.endpoints, &f.group_attribute, &f.user_attribute) {
        _ if given.len() > 1 => {
            let names: Vec<&str> = given.iter().map(|(k, _)| *k).collect();
            cx.report(
                given[1].1,
                AT,
                format!("give one of `{}`, not several", names.join("`, `")),
                Some(
                    "keep `endpoints` if the legacy group has member endpoints, \
                     `group_attribute` if the group record holds its member ids, \
                     `user_attribute` if the user record holds its groups; remove the others"
                        .into(),
                ),
            );
            None
        }
        (Some(e), None, None) => member_endpoints(cx, e),
        (None, Some(a), None) => group_attribute(cx, a).map(Membership::GroupAttribute),
        (None, None, Some(u)) => user_attribute(cx, u, users).map(Membership::UserAttribute),
        _ => {
            cx.report(
                loc(m),
                AT,
                "membership has none of `endpoints`, `group_attribute` and `user_attribute`".into(),
                Some(shapes.into()),
            );
            None
        }
    }
}

// --- member endpoints ------------------------------------------------------------------------

fn member_endpoints(cx: &mut Cx<'_>, e: &Spanned<MemberEndpointsFile>) -> Option<Membership> {
    let at = format!("{AT}.endpoints");
    let f = &e.value;
    let add = need(
        cx,
        &f.add,
        loc(e),
        &at,
        "add",
        "add: { method: POST, path: \"/teams/{id}/members\", body: { member: $.user_id } }",
    )
    .and_then(|a| add(cx, a));
    let remove = need(
        cx,
        &f.remove,
        loc(e),
        &at,
        "remove",
        "remove: { method: DELETE, path: \"/teams/{id}/members/{member}\" }",
    )
    .and_then(|r| {
        let at = format!("{at}.remove");
        endpoints::update_only(cx, r, &at);
        endpoints::unique_only_on_users_create(cx, r, &at);
        records::refuse_on_member_call(cx, &at, &r.value);
        let shape = Shape {
            id: Hole::Required,
            member: Hole::Required,
            noun: "group",
            example: "/teams/{id}/members",
        };
        endpoints::endpoint(cx, &at, loc(r), fields!(r.value, body), shape)
    });
    let list = need(
        cx,
        &f.list,
        loc(e),
        &at,
        "list",
        "a list: of the group's members (see docs/mapping.md)",
    )
    .and_then(|l| member_list(cx, l));
    let user_groups = match &f.user_groups {
        None => Some(None),
        Some(u) => user_groups(cx, &format!("{at}.user_groups"), u).map(Some),
    };
    Some(Membership::Endpoints {
        add: add?,
        remove: remove?,
        list: list?,
        user_groups: user_groups?,
    })
}

fn add(cx: &mut Cx<'_>, a: &Spanned<MemberAddFile>) -> Option<MemberCall> {
    let at = format!("{AT}.endpoints.add");
    let shape = Shape {
        id: Hole::Required,
        member: Hole::Optional,
        noun: "group",
        example: "/teams/{id}/members",
    };
    // Two forms of body: `{ member: $.user_id, legacy_type: … }` names where the member's id
    // goes in a new object; anything else is a template (`{ user_id: "{member}", role: 30 }`).
    let member_form = a.value.body.as_ref().and_then(member_form);
    let (endpoint, body) = match member_form {
        Some((member, legacy_type)) => {
            let endpoint = endpoints::endpoint(cx, &at, loc(a), fields!(a.value), shape);
            let whole = a.value.body.as_ref()?;
            let body = member_body(cx, &format!("{at}.body"), member, legacy_type, whole);
            (endpoint?, Some(body?))
        }
        None => (
            endpoints::endpoint(cx, &at, loc(a), fields!(a.value, body), shape)?,
            None,
        ),
    };
    if body.is_none() && !endpoint.places(Placeholder::Member) {
        cx.report(
            loc(a),
            &at,
            "the add call does not say which member to add: neither its path, its query nor its \
             body has {member}"
                .into(),
            Some(
                "add body: { member: $.user_id } (where the member's id goes in the body), a \
                 body template such as body: { user_id: \"{member}\" }, or {member} in the path"
                    .into(),
            ),
        );
        return None;
    }
    Some(MemberCall { endpoint, body })
}

/// A member body (`member`, `legacy_type`), each where it is given.
type MemberForm = (Option<Spanned<String>>, Option<Spanned<String>>);

/// The `{ member: $.user_id, legacy_type: integer }` form of an add body: an object of those
/// keys only, whose `member` (when given) is a JSONPath. `None`: the body is a template.
fn member_form(b: &Spanned<Value>) -> Option<MemberForm> {
    let object = b.value.as_object()?;
    let member = object.get("member").map(|m| m.as_str());
    if object.is_empty()
        || object.keys().any(|k| k != "member" && k != "legacy_type")
        || member.is_some_and(|m| !m.is_some_and(|m| m.trim_start().starts_with('$')))
    {
        return None;
    }
    let spanned = |s: &str| Spanned::new(s.to_string(), b.referenced, b.defined);
    let text = |key: &str| {
        object
            .get(key)
            .map(|v| spanned(v.as_str().unwrap_or_default()))
    };
    Some((text("member"), text("legacy_type")))
}

fn member_body(
    cx: &mut Cx<'_>,
    at: &str,
    member: Option<Spanned<String>>,
    legacy_type: Option<Spanned<String>>,
    whole: &Spanned<Value>,
) -> Option<MemberBody> {
    let member = need(
        cx,
        &member,
        loc(whole),
        at,
        "member",
        "member: $.user_id (where the member's id goes in the body)",
    )
    .and_then(|m| {
        let at = format!("{at}.member");
        let path = writable(cx, m, &at, "$.user_id")?;
        if path.field_names().is_some() {
            return Some(path);
        }
        // The body is a new object: a list written into it would hold this one member, and a
        // legacy API may take it for the group's whole member list.
        cx.report(
            loc(m),
            &at,
            format!(
                "{:?} puts the member into a list, and the add call's body is a new object: the \
                 legacy API would get a list of this one member",
                path.as_str()
            ),
            Some(
                "name the body's field with names only, e.g. member: $.user_id or \
                 $.membership.user_id"
                    .into(),
            ),
        );
        None
    });
    let legacy_type = id_type(cx, &legacy_type, &format!("{at}.legacy_type"));
    Some(MemberBody {
        member: member?,
        legacy_type: legacy_type?,
    })
}

fn member_list(cx: &mut Cx<'_>, l: &Spanned<MemberListFile>) -> Option<MemberList> {
    let at = format!("{AT}.endpoints.list");
    let v = &l.value;
    let shape = Shape {
        id: Hole::Required,
        member: Hole::Forbidden,
        noun: "group",
        example: "/teams/{id}/members",
    };
    let parts = ListFields {
        fields: fields!(v, body),
        items: &v.items,
        total: &v.total,
        pagination: &v.pagination,
    };
    let pages = endpoints::list(cx, &at, loc(l), parts, shape, "members");
    let member = need(
        cx,
        &v.member,
        loc(l),
        &at,
        "member",
        "member: $.user_id (where the member's user id is in an item)",
    )
    .and_then(|m| one_place(cx, m, &format!("{at}.member")));
    Some(MemberList {
        pages: pages?,
        member: member?,
    })
}

/// The call listing a user's groups: the user's legacy id in the path (`/users/{id}/teams`)
/// or in the query (`query: { member_id: "{id}" }`).
fn user_groups(cx: &mut Cx<'_>, at: &str, u: &Spanned<UserGroupsFile>) -> Option<UserGroups> {
    let v = &u.value;
    let shape = Shape {
        id: Hole::Required,
        member: Hole::Forbidden,
        noun: "user",
        example: "/users/{id}/teams",
    };
    let endpoint = endpoints::endpoint(cx, at, loc(u), fields!(v, body), shape);
    let items = endpoints::items(cx, at, loc(u), &v.items, "the user's groups");
    let group = need(
        cx,
        &v.group,
        loc(u),
        at,
        "group",
        "group: $.id (where the group's id is in an item)",
    )
    .and_then(|g| one_place(cx, g, &format!("{at}.group")));
    Some(UserGroups {
        endpoint: endpoint?,
        items: items?,
        group: group?,
    })
}

// --- a list on the legacy group --------------------------------------------------------------

fn group_attribute(cx: &mut Cx<'_>, a: &Spanned<GroupAttributeFile>) -> Option<GroupAttribute> {
    let at = format!("{AT}.group_attribute");
    let f = &a.value;
    let legacy = need(
        cx,
        &f.legacy,
        loc(a),
        &at,
        "legacy",
        "legacy: $.member_ids (the legacy group's list of member ids)",
    )
    .and_then(|l| {
        let at = format!("{at}.legacy");
        let path = writable(cx, l, &at, "$.member_ids")?;
        if path.field_names().is_some() {
            return Some(path);
        }
        cx.report(
            loc(l),
            &at,
            format!(
                "{:?} does not name one field: the gateway reads the list there and writes \
                 it back whole",
                path.as_str()
            ),
            Some("name the field with names only, e.g. legacy: $.member_ids".into()),
        );
        None
    });
    let legacy_type = id_type(cx, &f.legacy_type, &format!("{at}.legacy_type"));
    let if_match = match &f.if_match {
        None => Some(None),
        Some(p) => one_place(cx, p, &format!("{at}.if_match")).map(Some),
    };
    let update = match &f.update {
        None => Some(None),
        Some(u) => {
            let at = format!("{at}.update");
            endpoints::update_only(cx, u, &at);
            endpoints::unique_only_on_users_create(cx, u, &at);
            let shape = Shape {
                id: Hole::Required,
                member: Hole::Forbidden,
                noun: "group",
                example: "/teams/{id}",
            };
            endpoints::endpoint(cx, &at, loc(u), fields!(u.value), shape).map(Some)
        }
    };
    let user_groups = match &f.user_groups {
        None => Some(None),
        Some(u) => user_groups(cx, &format!("{at}.user_groups"), u).map(Some),
    };
    Some(GroupAttribute {
        legacy: legacy?,
        legacy_type: legacy_type?,
        if_match: if_match?,
        update: update?,
        user_groups: user_groups?,
    })
}

// --- a field of the legacy user --------------------------------------------------------------

fn user_attribute(
    cx: &mut Cx<'_>,
    u: &Spanned<UserAttributeFile>,
    users: Option<&ResourceMapping>,
) -> Option<UserAttribute> {
    let at = format!("{AT}.user_attribute");
    let f = &u.value;
    let legacy_s = need(
        cx,
        &f.legacy,
        loc(u),
        &at,
        "legacy",
        "legacy: $.team_ids (the legacy user's list of group ids)",
    );
    let legacy = legacy_s.and_then(|l| writable(cx, l, &format!("{at}.legacy"), "$.team_ids"));
    let legacy_type = id_type(cx, &f.legacy_type, &format!("{at}.legacy_type"));
    let members_query = match &f.members_query {
        None => Some(None),
        Some(q) => members_query(cx, &format!("{at}.members_query"), q, users).map(Some),
    };
    let if_match = match &f.if_match {
        None => Some(None),
        Some(p) => one_place(cx, p, &format!("{at}.if_match")).map(Some),
    };
    let single = f.single.as_ref().is_some_and(|s| s.value);
    let ranking = match &f.ranking {
        None => Some(Vec::new()),
        Some(r) if !single => {
            cx.report(
                loc(r),
                &format!("{at}.ranking"),
                "a ranking chooses the one group of a user, and this field holds a list".into(),
                Some(
                    "add single: true if the legacy user has one group (a role), or remove \
                     ranking"
                        .into(),
                ),
            );
            None
        }
        Some(r) => ranking(cx, &format!("{at}.ranking"), r),
    };
    let otherwise = match &f.otherwise {
        None => Some(None),
        Some(o) if !single => {
            cx.report(
                loc(o),
                &format!("{at}.otherwise"),
                "otherwise names the group a user's one group falls back to, and this field \
                 holds a list (leaving a group takes it out of the list)"
                    .into(),
                Some(
                    "add single: true if the legacy user has one group (a role), or remove \
                     otherwise"
                        .into(),
                ),
            );
            None
        }
        Some(o) => group_access::selector(
            cx,
            &format!("{at}.otherwise"),
            "write otherwise: { name: Member } (the group's display name) or \
             otherwise: { id: \"3\" } (its legacy id)",
            o,
        )
        .map(Some),
    };
    Some(UserAttribute {
        legacy: legacy?,
        ranking: ranking?,
        otherwise: otherwise?,
        single,
        legacy_type: legacy_type?,
        members_query: members_query?,
        if_match: if_match?,
    })
}

/// The groups of `ranking:`, highest first: each named once.
fn ranking(cx: &mut Cx<'_>, at: &str, r: &Spanned<Vec<Spanned<String>>>) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut ok = true;
    for g in &r.value {
        let name = g.value.trim();
        if name.is_empty() || out.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            cx.report(
                loc(g),
                at,
                format!("the group {name:?} is empty or ranked twice"),
                Some(
                    "list each group once, by display name or legacy id, highest first: \
                     [Administrator, Editor, Viewer]"
                        .into(),
                ),
            );
            ok = false;
        }
        out.push(name.to_string());
    }
    ok.then_some(out)
}

fn members_query(
    cx: &mut Cx<'_>,
    at: &str,
    q: &Spanned<MembersQueryFile>,
    users: Option<&ResourceMapping>,
) -> Option<String> {
    let p = need(
        cx,
        &q.value.param,
        loc(q),
        at,
        "param",
        "param: team (the users list's query parameter for a group id)",
    )?;
    let param = p.value.trim();
    if param.is_empty() {
        cx.report(
            loc(p),
            &format!("{at}.param"),
            "the query parameter has no name".into(),
            Some("write e.g. param: team".into()),
        );
        return None;
    }
    let taken = users.and_then(|u| {
        let list = &u.endpoints.list;
        let paging = match &list.pagination {
            Pagination::Page {
                page_param,
                size_param,
                ..
            } => vec![page_param, size_param],
            Pagination::Offset {
                offset_param,
                limit_param,
                ..
            } => vec![offset_param, limit_param],
            Pagination::Cursor {
                cursor_param,
                size_param,
                ..
            } => vec![cursor_param, size_param],
            Pagination::None => vec![],
        };
        let statics = list.endpoint.query.iter().map(|(k, _)| k);
        paging
            .into_iter()
            .chain(statics)
            .find(|k| k.as_str() == param)
            .cloned()
    });
    if let Some(k) = taken {
        cx.report(
            loc(p),
            &format!("{at}.param"),
            format!("`{k}` is already a parameter of the users list endpoint"),
            Some("write the parameter that selects a group's members, e.g. param: team".into()),
        );
        return None;
    }
    Some(param.to_string())
}

// --- shared ----------------------------------------------------------------------------------

/// A path that membership writes (the writer's grammar).
fn writable(cx: &mut Cx<'_>, s: &Spanned<String>, at: &str, example: &str) -> Option<LegacyPath> {
    let p = read_path(cx, s, at)?;
    if let Err(why) = p.writable() {
        cx.report(
            loc(s),
            at,
            format!("{:?} cannot be written: {why}", p.as_str()),
            Some(format!(
                "membership is written, so the path uses only .name, ['name'], [n] and \
                 [?(@.key == 'value')].name steps, like {example}"
            )),
        );
        return None;
    }
    Some(p)
}

/// `legacy_type` of an id: string, integer or number.
fn id_type(cx: &mut Cx<'_>, t: &Option<Spanned<String>>, at: &str) -> Option<Option<LegacyType>> {
    let Some(t) = t else {
        return Some(None);
    };
    let fix = "write legacy_type: integer (ids are numbers), number or string";
    match LegacyType::parse(t.value.trim()) {
        Some(LegacyType::Boolean) => {
            cx.report(
                loc(t),
                at,
                "an id cannot be a boolean".into(),
                Some(fix.into()),
            );
            None
        }
        Some(lt) => Some(Some(lt)),
        None => {
            cx.report(
                loc(t),
                at,
                format!("{:?} is not a legacy type", t.value),
                Some(suggest_word(
                    t.value.trim(),
                    &["string", "integer", "number"],
                )),
            );
            None
        }
    }
}
