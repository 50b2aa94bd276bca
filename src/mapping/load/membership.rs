//! Validation and compilation of `groups.membership`: exactly one of member endpoints on the
//! legacy group (`add`, `remove`, a paged `list`, an optional `user_groups`) and a field of the
//! legacy user (`user_attribute`), which must be writable and whose `members_query` parameter
//! must not be one the users list already uses (that nothing else writes the field is checked
//! in `writers`).

use serde_saphyr::Spanned;

use super::endpoints::{self, fields, Hole, ListFields, Shape};
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
                  endpoints on the legacy group, or membership: { user_attribute: { legacy: \
                  $.team_ids } } for group ids held on the legacy user (see docs/mapping.md)";
    match (&m.value.endpoints, &m.value.user_attribute) {
        (Some(e), None) => member_endpoints(cx, e),
        (None, Some(u)) => user_attribute(cx, u, users).map(Membership::UserAttribute),
        (Some(_), Some(u)) => {
            cx.report(
                loc(u),
                AT,
                "give either `endpoints` or `user_attribute`, not both".into(),
                Some(
                    "keep `endpoints` if the legacy group has member endpoints, else \
                     `user_attribute`; remove the other"
                        .into(),
                ),
            );
            None
        }
        (None, None) => {
            cx.report(
                loc(m),
                AT,
                "membership has neither `endpoints` nor `user_attribute`".into(),
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
        Some(u) => user_groups(cx, u).map(Some),
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
    let endpoint = endpoints::endpoint(cx, &at, loc(a), fields!(a.value), shape);
    let body = match &a.value.body {
        None => Some(None),
        Some(b) => member_body(cx, &format!("{at}.body"), b).map(Some),
    };
    let (endpoint, body) = (endpoint?, body?);
    if body.is_none() && !endpoint.places(Placeholder::Member) {
        cx.report(
            loc(a),
            &at,
            "the add call does not say which member to add: it has no body and its path no \
             {member}"
                .into(),
            Some(
                "add body: { member: $.user_id } (where the member's id goes in the body), or \
                 put {member} in the path"
                    .into(),
            ),
        );
        return None;
    }
    Some(MemberCall { endpoint, body })
}

fn member_body(cx: &mut Cx<'_>, at: &str, b: &Spanned<MemberBodyFile>) -> Option<MemberBody> {
    let member = need(
        cx,
        &b.value.member,
        loc(b),
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
    let legacy_type = id_type(cx, &b.value.legacy_type, &format!("{at}.legacy_type"));
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

fn user_groups(cx: &mut Cx<'_>, u: &Spanned<UserGroupsFile>) -> Option<UserGroups> {
    let at = format!("{AT}.endpoints.user_groups");
    let v = &u.value;
    let shape = Shape {
        id: Hole::Required,
        member: Hole::Forbidden,
        noun: "user",
        example: "/users/{id}/teams",
    };
    let endpoint = endpoints::endpoint(cx, &at, loc(u), fields!(v, body), shape);
    let items = endpoints::items(cx, &at, loc(u), &v.items, "the user's groups");
    let group = need(
        cx,
        &v.group,
        loc(u),
        &at,
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
    Some(UserAttribute {
        legacy: legacy?,
        single: f.single.as_ref().is_some_and(|s| s.value),
        legacy_type: legacy_type?,
        members_query: members_query?,
        if_match: if_match?,
    })
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
