//! The SCIM operations on `/Groups`, each a short plan of legacy calls through the mapping's
//! `groups:` section: create, get, list/query (with `members[value eq "<user>"]`), replace
//! (PUT), patch, delete. Member additions and removals are handed to [`super::members`]; not
//! here: a user's groups, roles and flags ([`super::user`]).

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::mapping::{
    GroupAttribute, GroupMapping, MemberList, Membership, OnDelete, ResourceMapping, UserAttribute,
};
use crate::scim::etag::{self, Condition};
use crate::scim::filter::{self, CompValue, CompareOp, Filter};
use crate::scim::list::{self, ListQuery};
use crate::scim::patch::{self, MemberDelta, PatchRequest};
use crate::scim::path::{AttrPath, PatchPath};
use crate::scim::{urn, ScimError};
use crate::server::context::Ctx;
use crate::server::gateway::set_location;
use crate::server::legacy::{self, Call, Created, ListCall, Meaning, SentBody, Walked};
use crate::server::observe::{MemberChange, MemberEvent, MemberOutcome};
use crate::server::roles;
use crate::server::select;

use super::members::{apply_delta, check_member_changes, group_lock};
use super::user::groups_of_user;
use super::{
    check_id, display_name, fetch, find, held, mapping, no_group, schema, shows, Fetched, Member,
    MAX_MEMBERS_REPLACED, MAX_MEMBERS_SHOWN,
};

/// Whether a response shaped by `query` shows `members`.
pub fn shows_members(query: &ListQuery) -> bool {
    shows(query, "members", urn::GROUP)
}

/// Whether the group a PATCH answers with (200) shows its members: only when `attributes`
/// names them. Reading them is what the PATCH itself avoids — a paged read of the whole list
/// with member endpoints, a search of the users with membership on the user, one store query
/// for groups held by the gateway, and nothing more only for a list on the group — so a client
/// gets them by asking (`?attributes=members`), never by default.
pub fn patch_answer_members(query: &ListQuery) -> bool {
    !query.attributes.is_empty() && shows_members(query)
}

/// Whether a group's version (its `ETag`) covers the answer of a GET that shows members or
/// not: for groups held by the gateway every member change moves the version, and a member
/// list on the legacy group is part of the record; member endpoints and membership on the
/// users change no version of the group, so an answer with members may differ under the same
/// tag and is never answered 304.
pub fn group_version_covers(cx: &Ctx<'_>, with_members: bool) -> bool {
    if held::holds_groups(cx) {
        return true;
    }
    !with_members
        || matches!(
            cx.mapping.groups.as_ref().map(|g| &g.membership),
            Some(Membership::GroupAttribute(_))
        )
}

/// Whether a user's version (its `ETag`) covers the answer of a GET shaped by `query`: not
/// when the answer shows the user's `groups` and the gateway serves them, since a change of
/// membership or a group's name moves no version of the user.
pub fn user_version_covers(cx: &Ctx<'_>, query: &ListQuery) -> bool {
    let served = held::holds_groups(cx)
        || !matches!(
            cx.mapping.groups.as_ref().map(|g| &g.membership),
            None | Some(Membership::Endpoints {
                user_groups: None,
                ..
            }) | Some(Membership::GroupAttribute(GroupAttribute {
                user_groups: None,
                ..
            }))
        );
    !served || !super::user::shows_user_groups(query)
}

/// `If-Match` as a legacy group's write honours it: ignored when the groups' mapping has no
/// `version:` (nothing to compare it with).
fn versioned<'a>(g: &GroupMapping, if_match: Option<&'a Condition>) -> Option<&'a Condition> {
    if_match.filter(|_| g.resource.has_version())
}

fn member_json(m: &Member, base_url: &str) -> Value {
    let mut o = Map::new();
    o.insert("value".into(), Value::String(m.id.clone()));
    if let Some(d) = &m.display {
        o.insert("display".into(), Value::String(d.clone()));
    }
    let encoded = percent_encoding::utf8_percent_encode(&m.id, crate::server::wire::SEGMENT);
    o.insert(
        "$ref".into(),
        Value::String(format!("{base_url}/Users/{encoded}")),
    );
    o.insert("type".into(), Value::String("User".into()));
    Value::Object(o)
}

fn set_members(group: &mut Value, members: &[Member], base_url: &str) {
    if let Some(obj) = group.as_object_mut() {
        let list: Vec<Value> = members.iter().map(|m| member_json(m, base_url)).collect();
        obj.insert("members".into(), Value::Array(list));
    }
}

/// The display name of a user: `displayName`, else `userName`.
fn display_of(user: &Value) -> Option<String> {
    ["displayName", "userName"]
        .iter()
        .find_map(|k| user.get(*k).and_then(Value::as_str))
        .map(str::to_owned)
}

/// The members of group `id`, at most `limit`; `true` when there are more. `legacy` is the
/// group's record when the caller has read it (a list held on the group is read from it).
async fn read_members(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    id: &str,
    legacy: Option<&Value>,
    limit: u64,
) -> Result<(Vec<Member>, bool), ScimError> {
    let users = &cx.mapping.users;
    match &g.membership {
        Membership::GroupAttribute(ga) => {
            let ids = match legacy {
                Some(record) => ga.members_of(record)?,
                None => match legacy::read_record(cx, &g.resource, id).await? {
                    Some(got) => ga.members_of(&got.body)?,
                    None => return Err(no_group(id)),
                },
            };
            let more = ids.len() as u64 > limit;
            let members = ids
                .into_iter()
                .take(limit as usize)
                .map(|id| Member { id, display: None })
                .collect();
            Ok((members, more))
        }
        Membership::Endpoints { list, .. } => {
            let call = ListCall {
                list: &list.pages,
                id: Some(id),
                params: &[],
            };
            let (items, total) =
                legacy::fetch_window(cx, &g.resource, &call, 0, limit.saturating_add(1), limit)
                    .await?;
            let more = items.len() as u64 > limit || total.is_some_and(|t| t > limit);
            let members = items
                .iter()
                .filter_map(|i| list.member_of_item(i))
                .take(limit as usize)
                .map(|id| Member { id, display: None })
                .collect();
            Ok((members, more))
        }
        Membership::UserAttribute(ua) => {
            let member_of = |item: &Value| {
                if users.is_deleted(item) || !ua.groups_of_user(item).iter().any(|g| g == id) {
                    return None;
                }
                let display = users.to_scim(item).ok().as_ref().and_then(display_of);
                Some(Member {
                    id: users.legacy_id(item)?,
                    display,
                })
            };
            let (members, more) = match ua.members_query_param() {
                Some(param) => {
                    let params = [(Cow::Borrowed(param), Cow::Borrowed(id))];
                    let call = ListCall::of(&users.endpoints.list, &params);
                    let (items, total) =
                        legacy::fetch_window(cx, users, &call, 0, limit.saturating_add(1), limit)
                            .await?;
                    let more = items.len() as u64 > limit || total.is_some_and(|t| t > limit);
                    let items = holding_field(cx, ua, items).await?;
                    (items.iter().filter_map(member_of).collect::<Vec<_>>(), more)
                }
                None => {
                    // Every user is read, a legacy page at a time; only the members are kept
                    // (and the items that cannot tell, to be read in full).
                    let list = &users.endpoints.list;
                    let scan_limit = users.scan_limit as u64;
                    let found = legacy::fetch_all(cx, users, list, &[], scan_limit, |i| {
                        Ok((!ua.holds_field(&i) || member_of(&i).is_some()).then_some(i))
                    })
                    .await?;
                    let items =
                        holding_field(cx, ua, found.into_iter().flatten().collect()).await?;
                    let members: Vec<Member> = items.iter().filter_map(member_of).collect();
                    let more = members.len() as u64 > limit;
                    (members, more)
                }
            };
            Ok((members.into_iter().take(limit as usize).collect(), more))
        }
    }
}

/// `items` (legacy users from the users list) as the membership check needs them: an item
/// that does not hold the membership field at all — a thin list item (`carries:`) — tells
/// nothing of its groups, and is replaced by the user read through the `get` endpoint (left
/// out when the user is gone meanwhile). The list's filter is not trusted alone: an API that
/// ignores an unknown query parameter lists everyone.
async fn holding_field(
    cx: &Ctx<'_>,
    ua: &UserAttribute,
    items: Vec<Value>,
) -> Result<Vec<Value>, ScimError> {
    let users = &cx.mapping.users;
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        if ua.holds_field(&item) {
            out.push(item);
            continue;
        }
        let Some(id) = users.legacy_id(&item) else {
            continue;
        };
        if let Some(got) = legacy::read_record(cx, users, &id).await? {
            out.push(got.body);
        }
    }
    Ok(out)
}

/// The group with its members when `with_members`.
async fn show(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    mut group: Value,
    legacy: Option<&Value>,
    with_members: bool,
    base_url: &str,
) -> Result<Value, ScimError> {
    if with_members {
        let id = group
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let (members, more) = read_members(cx, g, &id, legacy, MAX_MEMBERS_SHOWN).await?;
        if more {
            tracing::warn!(group = %id, shown = MAX_MEMBERS_SHOWN, "group has more members than one GET shows");
        }
        set_members(&mut group, &members, base_url);
    }
    set_location(&mut group, base_url);
    Ok(group)
}

/// `GET /Groups/{id}`; members are read only when the response shows them.
pub async fn get(
    cx: &Ctx<'_>,
    id: &str,
    with_members: bool,
    base_url: &str,
) -> Result<Value, ScimError> {
    if held::holds_groups(cx) {
        return Box::pin(held::get(cx, id, with_members, base_url)).await;
    }
    let g = mapping(cx)?;
    let found = fetch(cx, id).await?;
    show(
        cx,
        g,
        found.scim,
        Some(&found.legacy),
        with_members,
        base_url,
    )
    .await
}

/// A POST/PUT body as a normalised SCIM group without `members`, and the member ids it lists
/// (`None` when it has no `members`).
fn normalise_body(body: &Value) -> Result<(Value, Option<Vec<String>>), ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "the request body must be a JSON object (a SCIM Group)",
        ));
    };
    let mut attrs = Map::new();
    let mut members = None;
    for (k, v) in obj {
        let lower = k.to_ascii_lowercase();
        if lower == "members" || lower == format!("{}:members", urn::GROUP.to_ascii_lowercase()) {
            members = Some(member_ids(v)?);
            continue;
        }
        if matches!(lower.as_str(), "schemas" | "id" | "meta") || v.is_null() {
            continue;
        }
        attrs.insert(k.clone(), v.clone());
    }
    let mut group = json!({ "schemas": [urn::GROUP] });
    patch::apply_attributes(&mut group, &attrs, schema())?;
    Ok((group, members))
}

/// The ids of a `members` value (`null` is none), each once.
fn member_ids(v: &Value) -> Result<Vec<String>, ScimError> {
    let items = match v {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items.as_slice(),
        _ => return Err(ScimError::invalid_value("members must be a list")),
    };
    let mut out: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for item in items {
        let id = item
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")))
            .and_then(|(_, v)| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ScimError::invalid_value("each member needs a non-empty string \"value\"")
            })?;
        if seen.insert(id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

/// `POST /Groups`: creates the group, then adds its members (unknown users skipped).
pub async fn create(cx: &Ctx<'_>, body: &Value, base_url: &str) -> Result<Value, ScimError> {
    if held::holds_groups(cx) {
        return Box::pin(held::create(cx, body, base_url)).await;
    }
    let g = mapping(cx)?;
    let Some(create) = &g.resource.endpoints.create else {
        return Err(ScimError::new(
            403,
            None,
            "groups are not created through SCIM here (the mapping says groups.create: false): \
             create the group in the application, then assign it in the identity provider, which \
             finds it by its displayName",
        ));
    };
    let (group, members) = normalise_body(body)?;
    let Some(name) = display_name(&group) else {
        return Err(ScimError::invalid_value(
            "displayName is required and must be a non-empty string",
        ));
    };
    check_member_changes(cx, members.as_ref().map_or(0, Vec::len))?;
    // Members of a group that gives a role need the role ids: refused before anything is
    // created while they are pending.
    if g.rules.roles_pending()
        && members.as_ref().is_some_and(|m| !m.is_empty())
        && g.rules.derives_role_from("", Some(name))
    {
        return Err(roles::pending_error(&format!(
            "creating group {name:?} with members (it gives its members a role)"
        )));
    }
    if g.is_hidden("", Some(name)) || g.is_protected("", Some(name)) {
        return Err(ScimError::uniqueness(format!(
            "displayName {name:?} is reserved by the application; choose another name"
        )));
    }
    let r = &g.resource;
    let legacy_group = r.to_legacy(&group, None)?;
    // A POST the IdP sends again because it lost the answer must not create the group twice
    // (IdPs match groups by displayName): creates of one name wait for each other, and each
    // looks the name up first.
    let key = format!("Groups/{}", name.to_lowercase());
    let _one_at_a_time = cx.create_locks.of(&cx.tenant.name, &key).lock().await;
    let found = select::find_equal(cx, r, schema(), "displayName", name).await?;
    let found = legacy::in_full(cx, r, found).await?;
    if let Some((_, taken)) = found.iter().find(|(legacy, _)| !r.is_deleted(legacy)) {
        let id = taken.get("id").and_then(Value::as_str).unwrap_or_default();
        if g.is_hidden(id, display_name(taken)) {
            return Err(ScimError::uniqueness(format!(
                "displayName {name:?} is reserved by the application; choose another name"
            )));
        }
        return Err(ScimError::uniqueness(format!(
            "displayName {name:?} is already taken by group {id}"
        )));
    }
    let call = Call {
        body: Some(SentBody::Json(&legacy_group)),
        ..Call::new(create)
    };
    let created = match legacy::call_for_record(cx, r, &call).await {
        Ok(created) => created,
        Err(e) if e.accepted() => return Err(undo_unreadable_create(cx, r, name, e.error).await),
        Err(e) => return Err(e.error),
    };
    // The group created: answered (200 or 201), or named by the answer's Location header.
    let made = match legacy::created_record(cx, r, create, created).await {
        Ok(made) => made,
        Err(e) => return Err(undo_unreadable_create(cx, r, name, e).await),
    };
    let id = made.id;
    cx.record.set_created_id(&id);
    cx.record.applied(format!("created group {id}"));
    let mut scim = made.scim.into_value();
    let wanted = members.unwrap_or_default();
    let delta = MemberDelta {
        add: wanted.clone(),
        remove: Vec::new(),
    };
    let skipped = match apply_delta(cx, g, &id, &delta).await {
        Ok(skipped) => skipped,
        Err(e) => {
            return Err(legacy::undo_create(
                cx,
                Created {
                    resource: r,
                    what: "group",
                    id: &id,
                },
                e,
                retire(cx, r, &id),
            )
            .await)
        }
    };
    let now: Vec<Member> = wanted
        .into_iter()
        .filter(|m| !skipped.contains(m))
        .map(|id| Member { id, display: None })
        .collect();
    set_members(&mut scim, &now, base_url);
    set_location(&mut scim, base_url);
    Ok(scim)
}

/// The legacy API accepted the create of group `name` but its answer cannot be used (`e` says
/// why): the group may have been created all the same. It is looked up by its displayName (the
/// create lock is held, and no live group had that name a moment ago) and undone, so that the
/// IdP's retry of the POST creates it afresh, or finds it. Returns the 502 that says so.
async fn undo_unreadable_create(
    cx: &Ctx<'_>,
    r: &ResourceMapping,
    name: &str,
    e: ScimError,
) -> ScimError {
    let create = legacy::NamedCreate {
        what: "group",
        attr: "displayName",
        name,
    };
    let found = match select::find_equal(cx, r, schema(), create.attr, name).await {
        Ok(found) => legacy::in_full(cx, r, found).await,
        Err(e) => Err(e),
    };
    match legacy::created_anyway(r, &create, e, found) {
        Ok((id, e)) => {
            cx.record.applied(format!("created group {id}"));
            legacy::undo_create(
                cx,
                Created {
                    resource: r,
                    what: "group",
                    id: &id,
                },
                e,
                retire(cx, r, &id),
            )
            .await
        }
        Err(e) => e,
    }
}

/// Writes the group's own attributes from `new_group` over `old` when something the mapping
/// stores changed.
async fn write_group(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    id: &str,
    old: &Fetched,
    new_group: &Value,
) -> Result<(), ScimError> {
    let r = &g.resource;
    let mut without_members = new_group.clone();
    if let Some(obj) = without_members.as_object_mut() {
        obj.remove("members");
    }
    // With the member list on the group, the group is written over its latest record, among
    // the writes of its list and guarded by its version: a full update sends the list it
    // holds, which must not be an old one.
    let list = match &g.membership {
        Membership::GroupAttribute(ga) => Some(ga),
        _ => None,
    };
    let _serialised = match list {
        Some(_) => Some(
            cx.user_locks
                .of(&cx.tenant.name, &group_lock(id))
                .lock()
                .await,
        ),
        None => None,
    };
    let latest = match list {
        Some(_) => {
            legacy::read_record(cx, r, id)
                .await?
                .ok_or_else(|| no_group(id))?
                .body
        }
        None => old.legacy.clone(),
    };
    let new_legacy = r.to_legacy(&without_members, Some(&latest))?;
    if new_legacy != latest {
        let body = r.update_body(&latest, &new_legacy);
        legacy::call(
            cx,
            r,
            &Call {
                body: Some(SentBody::Update(&body)),
                if_match: list.and_then(|ga| ga.if_match(&latest)),
                ..Call::on(legacy::update_endpoint(r)?, id)
            },
        )
        .await?;
        cx.record.applied(format!("updated group {id}"));
        if display_name(&old.scim) != display_name(&without_members) {
            // Users' `groups` show the group's name.
            cx.membership.invalidate_all();
        }
    }
    Ok(())
}

/// Every member id of group `id`, or 400 `tooMany` beyond [`MAX_MEMBERS_REPLACED`].
async fn all_member_ids(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    id: &str,
) -> Result<Vec<String>, ScimError> {
    let (members, more) = read_members(cx, g, id, None, MAX_MEMBERS_REPLACED).await?;
    if more {
        return Err(ScimError::too_many(format!(
            "replacing the members of a group of more than {MAX_MEMBERS_REPLACED} members is \
             refused; add and remove members with PATCH instead"
        )));
    }
    Ok(members.into_iter().map(|m| m.id).collect())
}

fn delta_between(old: &[String], new: &[String]) -> MemberDelta {
    use std::collections::HashSet;
    let (was, will): (HashSet<&String>, HashSet<&String>) =
        (old.iter().collect(), new.iter().collect());
    MemberDelta {
        add: new.iter().filter(|m| !was.contains(m)).cloned().collect(),
        remove: old.iter().filter(|m| !will.contains(m)).cloned().collect(),
    }
}

/// `PUT /Groups/{id}`: replaces the group's attributes, and its members when the body has
/// `members` (as the delta against the current list).
pub async fn replace(
    cx: &Ctx<'_>,
    id: &str,
    body: &Value,
    base_url: &str,
    if_match: Option<&Condition>,
) -> Result<Value, ScimError> {
    if held::holds_groups(cx) {
        return Box::pin(held::replace(cx, id, body, base_url, if_match)).await;
    }
    let g = mapping(cx)?;
    let (group, members) = normalise_body(body)?;
    if display_name(&group).is_none() {
        return Err(ScimError::invalid_value(
            "displayName is required and must be a non-empty string",
        ));
    }
    let old = fetch(cx, id).await?;
    etag::check_if_match(versioned(g, if_match), &old.scim, "group")?;
    if is_protected(
        cx,
        g,
        id,
        &old,
        members.as_ref().map(|m| (m.as_slice(), &[][..])),
    ) {
        return get(cx, id, true, base_url).await;
    }
    // The members' delta first: past `[scim] max_member_changes`, nothing is written.
    let delta = match members {
        Some(wanted) => {
            let delta = delta_between(&all_member_ids(cx, g, id).await?, &wanted);
            check_member_changes(cx, delta.add.len() + delta.remove.len())?;
            Some(delta)
        }
        None => None,
    };
    write_group(cx, g, id, &old, &group).await?;
    if let Some(delta) = delta {
        apply_delta(cx, g, id, &delta).await?;
    }
    get(cx, id, true, base_url).await
}

/// Whether group `id` (read as `found`) is protected (`groups.protected`): then the identity
/// provider's change is not applied, and it is answered as if it had been (the group as it
/// is, or 204). A refusal would be retried by the identity provider at every cycle and count
/// toward putting the whole application in quarantine (Entra) or in error (Okta), for a
/// change the application's own administrators decided it may not make. The change is logged
/// (a warning, and each member change in the provisioning log as not applied).
fn is_protected(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    id: &str,
    found: &Fetched,
    members: Option<(&[String], &[String])>,
) -> bool {
    if !g.is_protected(id, display_name(&found.scim)) {
        return false;
    }
    tracing::warn!(
        group = %id,
        request_id = %cx.request_id,
        "the group is protected (groups.protected): the identity provider's change is not applied"
    );
    let why = "the group is protected (groups.protected)";
    let (adds, removes) = members.unwrap_or_default();
    let changes = adds
        .iter()
        .map(|m| (MemberChange::Add, m))
        .chain(removes.iter().map(|m| (MemberChange::Remove, m)));
    for (change, member) in changes {
        MemberEvent {
            change,
            group_id: id,
            member,
            started: Instant::now(),
        }
        .log(cx, MemberOutcome::Kept(why));
    }
    true
}

/// Whether an operation reads or writes `members` (other than as a delta).
pub(super) fn touches_members(request: &PatchRequest) -> bool {
    let is_members = |p: &AttrPath| p.name.eq_ignore_ascii_case("members");
    request.operations.iter().any(|op| match &op.path {
        Some(PatchPath::Attr(p)) => is_members(p),
        Some(PatchPath::Value { attr, .. }) => is_members(attr),
        None => op
            .value
            .as_ref()
            .and_then(Value::as_object)
            .is_some_and(|o| {
                o.keys().any(|k| {
                    k.eq_ignore_ascii_case("members")
                        || k.to_ascii_lowercase().ends_with(":members")
                })
            }),
    })
}

fn ids_of_members(group: &Value) -> Vec<String> {
    group
        .get("members")
        .and_then(|m| member_ids(m).ok())
        .unwrap_or_default()
}

/// `PATCH /Groups/{id}`. Member additions and removals are applied as deltas without reading
/// the group or its members; anything else is a read-modify-write of the group (and of its
/// member list only when an operation replaces it). Returns the group when `answer` asks for
/// it (the caller answers 204 otherwise).
pub async fn patch(
    cx: &Ctx<'_>,
    id: &str,
    body: &Value,
    answer: Option<bool>,
    base_url: &str,
    if_match: Option<&Condition>,
) -> Result<Option<Value>, ScimError> {
    if held::holds_groups(cx) {
        return Box::pin(held::patch(cx, id, body, answer, base_url, if_match)).await;
    }
    let g = mapping(cx)?;
    check_id(&g.resource, id)?;
    let request = PatchRequest::parse(body)?;
    // With `If-Match`, the group is read first and the condition checked on it.
    let mut checked = match versioned(g, if_match) {
        Some(condition) => {
            let old = Box::pin(fetch(cx, id)).await?;
            etag::check_if_match(Some(condition), &old.scim, "group")?;
            Some(old)
        }
        None => None,
    };
    if let Some(delta) = patch::member_changes(&request) {
        check_member_changes(cx, delta.add.len() + delta.remove.len())?;
        // Writing a group id onto users needs the group to exist; member calls on a group
        // whose ids have no declared form need it to be the group asked for (a legacy API may
        // read another id as this one's: see `legacy::read_record`); a protected or hidden
        // group is told by reading it.
        let read_first = matches!(g.membership, Membership::UserAttribute(_))
            || g.resource.id_format.is_none()
            || !g.protected.is_empty()
            || !g.hidden.is_empty();
        if read_first {
            let old = match checked.take() {
                Some(old) => old,
                None => fetch(cx, id).await?,
            };
            let changes = (delta.add.as_slice(), delta.remove.as_slice());
            if is_protected(cx, g, id, &old, Some(changes)) {
                return match answer {
                    Some(with_members) => Ok(Some(get(cx, id, with_members, base_url).await?)),
                    None => Ok(None),
                };
            }
        }
        apply_delta(cx, g, id, &delta).await?;
    } else {
        let old = match checked.take() {
            Some(old) => old,
            None => fetch(cx, id).await?,
        };
        if is_protected(cx, g, id, &old, None) {
            return match answer {
                Some(with_members) => Ok(Some(get(cx, id, with_members, base_url).await?)),
                None => Ok(None),
            };
        }
        let mut group = old.scim.clone();
        let current = if touches_members(&request) {
            let ids = all_member_ids(cx, g, id).await?;
            let members: Vec<Member> = ids
                .iter()
                .map(|id| Member {
                    id: id.clone(),
                    display: None,
                })
                .collect();
            set_members(&mut group, &members, base_url);
            Some(ids)
        } else {
            None
        };
        let group = patch::applied(group, &request, schema())?;
        let delta = current.map(|current| delta_between(&current, &ids_of_members(&group)));
        if let Some(d) = &delta {
            check_member_changes(cx, d.add.len() + d.remove.len())?;
        }
        write_group(cx, g, id, &old, &group).await?;
        if let Some(delta) = delta {
            apply_delta(cx, g, id, &delta).await?;
        }
    }
    match answer {
        Some(with_members) => Ok(Some(get(cx, id, with_members, base_url).await?)),
        None => Ok(None),
    }
}

/// `DELETE /Groups/{id}`: deletes the legacy group, or marks it deleted, as the mapping says.
pub async fn delete(cx: &Ctx<'_>, id: &str, if_match: Option<&Condition>) -> Result<(), ScimError> {
    if held::holds_groups(cx) {
        return Box::pin(held::delete(cx, id, if_match)).await;
    }
    let g = mapping(cx)?;
    let r = &g.resource;
    if let Some(condition) = versioned(g, if_match) {
        let old = Box::pin(fetch(cx, id)).await?;
        etag::check_if_match(Some(condition), &old.scim, "group")?;
    }
    let read_only = r.on_delete == OnDelete::Delete && r.endpoints.delete.is_none();
    if read_only || !g.protected.is_empty() || !g.hidden.is_empty() {
        // A hidden group is 404 and a protected one answered as deleted, as with any mapping;
        // any other group of a mapping that deletes none is refused.
        let old = fetch(cx, id).await?;
        if is_protected(cx, g, id, &old, None) {
            return Ok(());
        }
        if read_only {
            return Err(ScimError::new(
                403,
                None,
                "groups are not deleted through SCIM here (the mapping has no \
                 groups.endpoints.delete): delete the group in the application",
            ));
        }
    }
    match r.on_delete {
        OnDelete::Delete => {
            check_id(r, id)?;
            legacy::delete_record(cx, r, id, no_group(id)).await?;
        }
        OnDelete::Deactivate => {
            retire(cx, r, id).await?;
        }
    }
    cx.membership.invalidate_all();
    Ok(())
}

/// Marks group `id` deleted (the mapping's deleted marker): the legacy record stays, and SCIM
/// answers 404 for it from now on. What a SCIM DELETE does with `on_delete: deactivate`, and
/// how a create is undone without a delete endpoint.
async fn retire(cx: &Ctx<'_>, r: &ResourceMapping, id: &str) -> Result<legacy::Retired, ScimError> {
    if !r.has_deleted_marker() {
        return Err(ScimError::bad_gateway(
            "the mapping has neither a delete endpoint nor a deleted marker for groups",
        ));
    }
    let old = fetch(cx, id).await?;
    let marked = r.mark_deleted(&old.legacy).ok_or_else(|| {
        ScimError::bad_gateway("the legacy group has no place for the mapping's deleted marker")
    })?;
    let body = r.update_body(&old.legacy, &marked);
    legacy::call(
        cx,
        r,
        &Call {
            body: Some(SentBody::Update(&body)),
            ..Call::on(legacy::update_endpoint(r)?, id)
        },
    )
    .await?;
    Ok(legacy::Retired::Marked)
}

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------
// Lists

/// The user id of a `members[value eq "…"]` term of the filter, alone or joined with `and`.
fn member_term(f: &Filter) -> Option<&str> {
    match f {
        Filter::ValuePath { attr, filter } if attr.name.eq_ignore_ascii_case("members") => {
            match filter.as_ref() {
                Filter::Compare {
                    path,
                    op: CompareOp::Eq,
                    value: CompValue::Str(id),
                } if path.name.eq_ignore_ascii_case("value") && path.sub.is_none() => Some(id),
                _ => None,
            }
        }
        Filter::And(a, b) => member_term(a).or_else(|| member_term(b)),
        _ => None,
    }
}

/// Whether the filter names `members` anywhere.
fn mentions_members(f: &Filter) -> bool {
    match f {
        Filter::Compare { path, .. } | Filter::Present(path) => {
            path.name.eq_ignore_ascii_case("members")
        }
        Filter::ValuePath { attr, .. } => attr.name.eq_ignore_ascii_case("members"),
        Filter::And(a, b) | Filter::Or(a, b) => mentions_members(a) || mentions_members(b),
        Filter::Not(a) => mentions_members(a),
    }
}

/// `filter` without its `members[value eq "<member>"]` terms; `None` when nothing is left.
fn without_member_term(f: &Filter, member: &str) -> Option<Filter> {
    match f {
        Filter::ValuePath { .. } if member_term(f) == Some(member) => None,
        Filter::And(a, b) => match (
            without_member_term(a, member),
            without_member_term(b, member),
        ) {
            (Some(a), Some(b)) => Some(Filter::and(a, b)),
            (one, None) | (None, one) => one,
        },
        other => Some(other.clone()),
    }
}

/// The group id of an `id eq "…"` term of the filter, alone or joined with `and`.
fn id_term(f: &Filter) -> Option<&str> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(id),
        } if path.name.eq_ignore_ascii_case("id")
            && path.sub.is_none()
            && path
                .schema
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case(urn::GROUP)) =>
        {
            Some(id)
        }
        Filter::And(a, b) => id_term(a).or_else(|| id_term(b)),
        _ => None,
    }
}

/// `GET /Groups` and `POST /Groups/.search`: filter, sort, page, project. A filter on members
/// (`members[value eq "u"]`, alone or with `and`) is answered by [`groups_with_member`].
pub async fn list(cx: &Ctx<'_>, query: &ListQuery, base_url: &str) -> Result<Value, ScimError> {
    if held::holds_groups(cx) {
        return Box::pin(held::list(cx, query, base_url)).await;
    }
    let Some(g) = &cx.mapping.groups else {
        // No groups mapped: there are none to find. Entra's "Test connection" also queries
        // /Groups and needs a ListResponse here.
        return Ok(list::list_response(Vec::new(), 0, query.start_index));
    };
    let r = &g.resource;
    let filter = select::parse_filter(query, schema())?;
    let with_members = shows_members(query);
    let offset = query.start_index.max(1) - 1;

    let by_member = filter.as_ref().and_then(|f| Some((f, member_term(f)?)));
    let (mut groups, total) = if let Some((f, member)) = by_member {
        let mut found = groups_with_member(cx, g, f, member).await?;
        if let Some(by) = &query.sort_by {
            list::sort(&mut found, by, query.descending, schema());
        }
        let total = found.len();
        let page: Vec<Value> = found.into_iter().skip(offset).take(query.count).collect();
        (page, total)
    } else {
        if filter.as_ref().is_some_and(mentions_members) {
            return Err(ScimError::invalid_filter(
                "a filter on members is supported as members[value eq \"<user id>\"], \
                 alone or joined with and",
            ));
        }
        let selection = select::select(cx, r, schema(), filter.as_ref(), query, false).await?;
        let total = selection.total;
        let mut resources = selection.into_resources();
        let listed = resources.len();
        // Hidden groups are never listed. (A page that had one is one group short; the total
        // leaves out those found on this page.)
        resources.retain(|group| {
            let id = group.get("id").and_then(Value::as_str).unwrap_or_default();
            !g.is_hidden(id, display_name(group))
        });
        let total = total.saturating_sub(listed - resources.len());
        (resources, total)
    };
    let mut shown = Vec::with_capacity(groups.len());
    for group in groups.drain(..) {
        let group = show(cx, g, group, None, with_members, base_url).await?;
        shown.push(list::project(
            &group,
            &query.attributes,
            &query.excluded_attributes,
            schema(),
        ));
    }
    Ok(list::list_response(shown, total, offset + 1))
}

/// The groups that `f`, which holds the term `members[value eq "<member>"]`, selects. When the
/// membership can tell a user's groups (a user's-groups call, or a field of the user), they are
/// read and the rest of the filter checked on each. Otherwise the candidates are the groups the
/// rest of the filter selects (the one its `id eq` names, else at most `scan_limit` from the
/// list), each kept when its member list holds the user: read until the user is found, at most
/// [`MAX_MEMBERS_REPLACED`] member records in all, else 400 `tooMany`.
async fn groups_with_member(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    f: &Filter,
    member: &str,
) -> Result<Vec<Value>, ScimError> {
    let scan_limit = g.resource.scan_limit;
    let rest = without_member_term(f, member);
    if rest.as_ref().is_some_and(mentions_members) {
        return Err(ScimError::invalid_filter(
            "a filter names one member at most: members[value eq \"<user id>\"], alone or \
             joined with and",
        ));
    }
    let member_lists = match &g.membership {
        Membership::Endpoints {
            user_groups: None,
            list,
            ..
        } => Some(MemberLists::Endpoint(list)),
        Membership::GroupAttribute(ga) if ga.user_groups.is_none() => {
            Some(MemberLists::OnGroup(ga))
        }
        _ => None,
    };
    let too_many_groups = || {
        ScimError::too_many(format!(
            "more than {scan_limit} groups would have to be read to answer this (the \
             mapping's groups.scan_limit); narrow the filter, e.g. id eq \"<group id>\" and \
             members[value eq \"{member}\"]"
        ))
    };
    let candidates: Vec<Value> = match (member_lists, rest.as_ref().and_then(id_term)) {
        (None, _) => {
            let refs = match groups_of_user(cx, member, None).await {
                Ok(refs) => refs,
                Err(e) if legacy::meaning(&e) == Meaning::NotFound => Vec::new(),
                Err(e) => return Err(e),
            };
            if refs.len() > scan_limit {
                return Err(too_many_groups());
            }
            // Entra's membership check names the group: only that one is read.
            let named = rest.as_ref().and_then(id_term);
            let mut out = Vec::with_capacity(refs.len());
            for gref in refs.iter().filter(|r| named.is_none_or(|id| r.id == id)) {
                out.extend(find(cx, &gref.id).await?.map(|f| f.scim));
            }
            out
        }
        (Some(_), Some(id)) => find(cx, id).await?.map(|f| f.scim).into_iter().collect(),
        (Some(_), None) => {
            let every = ListQuery {
                filter: None,
                start_index: 1,
                count: scan_limit,
                sort_by: None,
                descending: false,
                attributes: Vec::new(),
                excluded_attributes: Vec::new(),
            };
            let selected =
                select::select(cx, &g.resource, schema(), rest.as_ref(), &every, false).await?;
            if selected.total > scan_limit {
                return Err(too_many_groups());
            }
            selected.into_resources()
        }
    };
    let mut found = Vec::new();
    let mut budget = MAX_MEMBERS_REPLACED;
    for mut group in candidates {
        // The user taken for a member, the rest of the filter decides.
        if let Some(obj) = group.as_object_mut() {
            obj.insert("members".into(), json!([{ "value": member }]));
        }
        let selected = filter::matches(f, &group, schema());
        if let Some(obj) = group.as_object_mut() {
            obj.remove("members");
        }
        if !selected {
            continue;
        }
        let id = group.get("id").and_then(Value::as_str).unwrap_or_default();
        let held = match member_lists {
            Some(MemberLists::Endpoint(list)) => {
                holds_member(cx, g, list, id, member, &mut budget).await?
            }
            Some(MemberLists::OnGroup(ga)) => match find(cx, id).await? {
                Some(f) => ga.members_of(&f.legacy)?.iter().any(|m| m == member),
                None => false,
            },
            None => true,
        };
        if held {
            found.push(group);
        }
    }
    Ok(found)
}

/// Where the member lists of groups are read, when a user's groups cannot be read at once.
#[derive(Clone, Copy)]
enum MemberLists<'m> {
    /// A member-list endpoint, paged.
    Endpoint(&'m MemberList),
    /// A list on the group record.
    OnGroup(&'m GroupAttribute),
}

/// Whether group `group`'s member list holds user `member`, read a page at a time until the
/// user is found; `budget` is how many more member records the request may read (400
/// `tooMany` past it), and goes down by those read.
async fn holds_member(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    list: &MemberList,
    group: &str,
    member: &str,
    budget: &mut u64,
) -> Result<bool, ScimError> {
    let call = ListCall {
        list: &list.pages,
        id: Some(group),
        params: &[],
    };
    let mut read: u64 = 0;
    let walked = legacy::walk(cx, &g.resource, &call, *budget, |item| {
        read += 1;
        Ok(match list.member_of_item(&item) {
            Some(id) if id == member => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        })
    })
    .await;
    *budget = budget.saturating_sub(read);
    match walked {
        Ok(Walked::Stopped) => Ok(true),
        Ok(Walked::Done) => Ok(false),
        Ok(Walked::TooMany) => Err(ScimError::too_many(format!(
            "finding the groups of user {member} means reading the groups' member lists, more \
             than {MAX_MEMBERS_REPLACED} members in all; name the group as well: \
             id eq \"<group id>\" and members[value eq \"{member}\"]"
        ))),
        // The group went away in the meantime.
        Err(e) if legacy::meaning(&e) == Meaning::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> ListQuery {
        ListQuery::from_query_string(s, 100).unwrap()
    }

    #[test]
    fn members_are_shown_unless_excluded_or_not_asked_for() {
        assert!(shows_members(&q("")));
        assert!(!shows_members(&q("excludedAttributes=members")));
        assert!(!shows_members(&q("attributes=displayName")));
        assert!(shows_members(&q("attributes=displayName,members")));
        assert!(shows_members(&q("excludedAttributes=members.display")));
    }

    #[test]
    fn the_member_term_is_found_alone_or_with_and() {
        let f = Filter::parse(r#"id eq "5" and members[value eq "17"]"#).unwrap();
        assert_eq!(member_term(&f), Some("17"));
        let f = Filter::parse(r#"members[value eq "17"]"#).unwrap();
        assert_eq!(member_term(&f), Some("17"));
        let f = Filter::parse(r#"members[value eq "17"] or displayName eq "x""#).unwrap();
        assert_eq!(member_term(&f), None);
        assert!(mentions_members(&f));
        assert!(!mentions_members(
            &Filter::parse(r#"displayName eq "x""#).unwrap()
        ));
    }

    #[test]
    fn the_rest_of_a_member_filter_and_its_group_id_are_found() {
        let f = Filter::parse(r#"id eq "5" and members[value eq "17"]"#).unwrap();
        let rest = without_member_term(&f, "17").unwrap();
        assert_eq!(rest, Filter::parse(r#"id eq "5""#).unwrap());
        assert_eq!(id_term(&rest), Some("5"));
        let f = Filter::parse(r#"members[value eq "17"]"#).unwrap();
        assert_eq!(without_member_term(&f, "17"), None);
        let f = Filter::parse(
            r#"displayName eq "x" and (members[value eq "17"] and externalId eq "e")"#,
        )
        .unwrap();
        let rest = without_member_term(&f, "17").unwrap();
        assert!(!mentions_members(&rest));
        assert_eq!(id_term(&rest), None);
        // Another member's term stays, for the caller to refuse.
        let f = Filter::parse(r#"members[value eq "17"] and members[value eq "18"]"#).unwrap();
        assert!(mentions_members(&without_member_term(&f, "17").unwrap()));
        // Only an equality on the group's own id names it.
        for other in [
            r#"id ne "5""#,
            r#"id eq 5"#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:id eq "5""#,
        ] {
            assert_eq!(id_term(&Filter::parse(other).unwrap()), None, "{other}");
        }
        assert_eq!(
            id_term(
                &Filter::parse(r#"urn:ietf:params:scim:schemas:core:2.0:Group:id eq "5""#).unwrap()
            ),
            Some("5")
        );
    }

    #[test]
    fn the_delta_of_a_replacement_touches_only_the_difference() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let d = delta_between(&s(&["1", "2", "3"]), &s(&["2", "3", "4"]));
        assert_eq!(d.add, s(&["4"]));
        assert_eq!(d.remove, s(&["1"]));
    }

    #[test]
    fn a_body_lists_its_members_once() {
        let (g, m) = normalise_body(&json!({
            "schemas": [urn::GROUP, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "displayName": "Eng", "meta": {"resourceType": "Group"},
            "members": [{"value": "1"}, {"value": "2", "$ref": null}, {"value": "1"}]
        }))
        .unwrap();
        assert_eq!(g["displayName"], "Eng");
        assert!(g.get("members").is_none());
        assert_eq!(m.unwrap(), ["1", "2"]);
        let (_, none) = normalise_body(&json!({"displayName": "x", "members": []})).unwrap();
        assert_eq!(none.unwrap(), Vec::<String>::new());
        assert!(
            normalise_body(&json!({"displayName": "x", "members": [{"display": "a"}]})).is_err()
        );
    }
}
