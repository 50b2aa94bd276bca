//! The SCIM operations on `/Groups`, each a short plan of legacy calls through the mapping's
//! `groups:` section: create, get, list/query, replace (PUT), patch, delete; and each user's
//! read-only `groups` attribute.
//!
//! Membership is changed as deltas, one legacy call (or one read-modify-write of one legacy
//! user) per member added or removed; a group's whole member list is read only to show it (GET,
//! bounded by [`MAX_MEMBERS_SHOWN`]) or to replace it (PUT, or a PATCH that replaces
//! `members`, bounded by [`MAX_MEMBERS_REPLACED`]). An unknown user in an add is skipped and
//! logged, the rest applied — unknown as checked by reading the user, never assumed from a
//! refusal; adding a member twice and removing a non-member are not errors; any other refusal
//! fails the request, saying what was and was not applied. The SCIM semantics live in
//! `crate::scim`, the translation in `crate::mapping`.
//!
//! Without a call that lists a user's groups (member endpoints without `user_groups`), a user's
//! `groups` is not served, and `members[value eq "<user>"]` reads the member lists of the
//! groups the rest of the filter selects, each until the user is found (bounded).

use std::future::Future;
use std::ops::ControlFlow;
use std::pin::Pin;
use std::time::Instant;

use http::StatusCode;
use serde_json::{json, Map, Value};

use crate::cache::GroupRef;
use crate::mapping::{
    GroupMapping, MemberCall, MemberList, Membership, OnDelete, ResourceMapping, UserAttribute,
    UserGroup,
};
use crate::scim::filter::{self, CompValue, CompareOp, Filter};
use crate::scim::list::{self, ListQuery};
use crate::scim::patch::{self, MemberDelta, PatchRequest};
use crate::scim::path::{AttrPath, PatchPath};
use crate::scim::schema::ResourceSchema;
use crate::scim::{urn, ScimError};
use crate::server::context::Ctx;
use crate::server::gateway::set_location;
use crate::server::legacy::{self, Call, ListCall, Walked};
use crate::server::observe::{self, MemberChange, MemberOutcome};
use crate::server::record;
use crate::server::router::{self, Collection};
use crate::server::select;

/// A route's future, boxed.
pub type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, ScimError>> + Send + 'a>>;

/// The most members one GET of a group shows. A larger group is shown with its first
/// `MAX_MEMBERS_SHOWN` members (and a warning in the log); read it with
/// `excludedAttributes=members` and change it with PATCH, which never reads the member list.
pub const MAX_MEMBERS_SHOWN: u64 = 10_000;

/// The most members the gateway reads to replace a group's member list (PUT with `members`,
/// or a PATCH that replaces `members`): the delta against the current list needs all of it.
/// A larger group is refused with 400 `tooMany`; PATCH its members by adding and removing.
pub const MAX_MEMBERS_REPLACED: u64 = 100_000;

/// A group as SCIM sees it, plus the legacy record it came from.
struct Fetched {
    legacy: Value,
    scim: Value,
}

/// One member: the user's id, and its display name when the legacy answer had it.
#[derive(Debug, Clone, PartialEq)]
struct Member {
    id: String,
    display: Option<String>,
}

fn schema() -> &'static ResourceSchema {
    ResourceSchema::group()
}

/// The mapping's groups, or 501 when it maps none.
fn mapping<'c>(cx: &'c Ctx<'_>) -> Result<&'c GroupMapping, ScimError> {
    cx.mapping.groups.as_ref().ok_or_else(|| {
        ScimError::new(
            501,
            None,
            "this gateway's mapping provisions users only; groups are not mapped",
        )
    })
}

/// Validates a SCIM id from a URL before it goes anywhere near the legacy API: an id that
/// does not have the mapping's `id_format` names no group.
fn check_id(r: &ResourceMapping, id: &str) -> Result<(), ScimError> {
    router::check_id(Collection::Groups, id)?;
    if !r.accepts_id(id) {
        return Err(no_group(id));
    }
    Ok(())
}

fn no_group(id: &str) -> ScimError {
    ScimError::not_found(format!("no group with id {id:?}"))
}

/// Reads group `id`: 404 when the legacy API has no group by that very id (see
/// [`legacy::read_record`]).
async fn fetch(cx: &Ctx<'_>, id: &str) -> Result<Fetched, ScimError> {
    let r = &mapping(cx)?.resource;
    check_id(r, id)?;
    let got = legacy::read_record(cx, r, id)
        .await?
        .ok_or_else(|| no_group(id))?;
    let scim = r.to_scim(&got.body)?;
    Ok(Fetched {
        legacy: got.body,
        scim,
    })
}

/// Whether a response shaped by `query` shows `members`.
pub fn shows_members(query: &ListQuery) -> bool {
    shows(query, "members", urn::GROUP)
}

/// Whether a response shaped by `query` shows the core attribute `name` of the schema `urn`:
/// unless excluded, when all default attributes are shown or `attributes` names it.
fn shows(query: &ListQuery, name: &str, urn: &str) -> bool {
    let is_it = |p: &AttrPath| {
        p.name.eq_ignore_ascii_case(name)
            && p.schema
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case(urn))
    };
    if query
        .excluded_attributes
        .iter()
        .any(|p| is_it(p) && p.sub.is_none())
    {
        return false;
    }
    query.attributes.is_empty() || query.attributes.iter().any(is_it)
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

/// The members of group `id`, at most `limit`; `true` when there are more.
async fn read_members(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    id: &str,
    limit: u64,
) -> Result<(Vec<Member>, bool), ScimError> {
    let users = &cx.mapping.users;
    match &g.membership {
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
                    let params = [(param.to_string(), id.to_string())];
                    let call = ListCall::of(&users.endpoints.list, &params);
                    let (items, total) =
                        legacy::fetch_window(cx, users, &call, 0, limit.saturating_add(1), limit)
                            .await?;
                    let more = items.len() as u64 > limit || total.is_some_and(|t| t > limit);
                    (items.iter().filter_map(member_of).collect::<Vec<_>>(), more)
                }
                None => {
                    // Every user is read, a legacy page at a time; only the members are kept.
                    let list = &users.endpoints.list;
                    let scan_limit = users.scan_limit as u64;
                    let found =
                        legacy::fetch_all(cx, users, list, &[], scan_limit, |i| Ok(member_of(&i)))
                            .await?;
                    let members: Vec<Member> = found.into_iter().flatten().collect();
                    let more = members.len() as u64 > limit;
                    (members, more)
                }
            };
            Ok((members.into_iter().take(limit as usize).collect(), more))
        }
    }
}

/// The group with its members when `with_members`.
async fn show(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    mut group: Value,
    with_members: bool,
    base_url: &str,
) -> Result<Value, ScimError> {
    if with_members {
        let id = group
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let (members, more) = read_members(cx, g, &id, MAX_MEMBERS_SHOWN).await?;
        if more {
            tracing::warn!(group = %id, shown = MAX_MEMBERS_SHOWN, "group has more members than one GET shows");
        }
        set_members(&mut group, &members, base_url);
    }
    set_location(&mut group, base_url);
    Ok(group)
}

/// `GET /Groups/{id}`; members are read only when the response shows them.
/// (Boxed: its state lives on the heap, not in the request handler's stack frame.)
pub fn get<'a>(
    cx: &'a Ctx<'a>,
    id: &'a str,
    with_members: bool,
    base_url: &'a str,
) -> Boxed<'a, Value> {
    Box::pin(get_now(cx, id, with_members, base_url))
}

async fn get_now(
    cx: &Ctx<'_>,
    id: &str,
    with_members: bool,
    base_url: &str,
) -> Result<Value, ScimError> {
    let g = mapping(cx)?;
    let found = fetch(cx, id).await?;
    show(cx, g, found.scim, with_members, base_url).await
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
    for item in items {
        let id = item
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("value")))
            .and_then(|(_, v)| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                ScimError::invalid_value("each member needs a non-empty string \"value\"")
            })?;
        if !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

fn display_name(group: &Value) -> Option<&str> {
    group
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `POST /Groups`: creates the group, then adds its members (unknown users skipped).
/// (Boxed: its state lives on the heap, not in the request handler's stack frame.)
pub fn create<'a>(cx: &'a Ctx<'a>, body: &'a Value, base_url: &'a str) -> Boxed<'a, Value> {
    Box::pin(create_now(cx, body, base_url))
}

async fn create_now(cx: &Ctx<'_>, body: &Value, base_url: &str) -> Result<Value, ScimError> {
    let g = mapping(cx)?;
    let (group, members) = normalise_body(body)?;
    let Some(name) = display_name(&group) else {
        return Err(ScimError::invalid_value(
            "displayName is required and must be a non-empty string",
        ));
    };
    let r = &g.resource;
    let legacy_group = r.to_legacy(&group, None)?;
    // A POST the IdP sends again because it lost the answer must not create the group twice
    // (IdPs match groups by displayName): creates of one name wait for each other, and each
    // looks the name up first.
    let key = format!("Groups/{}", name.to_lowercase());
    let _one_at_a_time = cx.create_locks.of(&cx.tenant.name, &key).lock().await;
    if let Some(found) = select::find_equal(cx, r, schema(), "displayName", name).await? {
        let found = legacy::in_full(cx, r, found).await?;
        if let Some((_, taken)) = found.iter().find(|(legacy, _)| !r.is_deleted(legacy)) {
            let id = taken.get("id").and_then(Value::as_str).unwrap_or_default();
            return Err(ScimError::uniqueness(format!(
                "displayName {name:?} is already taken by group {id}"
            )));
        }
    }
    let call = Call {
        body: Some(&legacy_group),
        ..Call::new(&r.endpoints.create)
    };
    let created = match legacy::call_with(cx, r, &call).await {
        Ok(created) => created,
        Err(e) if e.accepted() => return Err(undo_unreadable_create(cx, r, name, e.error).await),
        Err(e) => return Err(e.error),
    };
    let Some(id) = r.legacy_id(&created.body) else {
        let e = r.to_scim(&created.body).err().map_or_else(
            || ScimError::bad_gateway("the legacy API's answer carries no id"),
            ScimError::from,
        );
        return Err(undo_unreadable_create(cx, r, name, e).await);
    };
    cx.record.applied(format!("created group {id}"));
    let mut scim = r.to_scim(&created.body)?;
    let wanted = members.unwrap_or_default();
    let delta = MemberDelta {
        add: wanted.clone(),
        remove: Vec::new(),
    };
    let skipped = match apply_delta(cx, g, &id, &delta).await {
        Ok(skipped) => skipped,
        Err(e) => {
            return Err(legacy::undo_create(cx, r, "group", &id, e, retire(cx, r, &id)).await)
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
        Ok(Some(found)) => legacy::in_full(cx, r, found).await.map(Some),
        other => other,
    };
    match legacy::created_anyway(r, &create, e, found) {
        Ok((id, e)) => {
            cx.record.applied(format!("created group {id}"));
            legacy::undo_create(cx, r, "group", &id, e, retire(cx, r, &id)).await
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
    let new_legacy = r.to_legacy(&without_members, Some(&old.legacy))?;
    if new_legacy != old.legacy {
        let body = r.update_body(&old.legacy, &new_legacy);
        legacy::call(cx, r, &r.endpoints.update, Some(id), &[], Some(&body)).await?;
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
    let (members, more) = read_members(cx, g, id, MAX_MEMBERS_REPLACED).await?;
    if more {
        return Err(ScimError::too_many(format!(
            "replacing the members of a group of more than {MAX_MEMBERS_REPLACED} members is \
             refused; add and remove members with PATCH instead"
        )));
    }
    Ok(members.into_iter().map(|m| m.id).collect())
}

fn delta_between(old: &[String], new: &[String]) -> MemberDelta {
    MemberDelta {
        add: new.iter().filter(|m| !old.contains(m)).cloned().collect(),
        remove: old.iter().filter(|m| !new.contains(m)).cloned().collect(),
    }
}

/// `PUT /Groups/{id}`: replaces the group's attributes, and its members when the body has
/// `members` (as the delta against the current list).
/// (Boxed: its state lives on the heap, not in the request handler's stack frame.)
pub fn replace<'a>(
    cx: &'a Ctx<'a>,
    id: &'a str,
    body: &'a Value,
    base_url: &'a str,
) -> Boxed<'a, Value> {
    Box::pin(replace_now(cx, id, body, base_url))
}

async fn replace_now(
    cx: &Ctx<'_>,
    id: &str,
    body: &Value,
    base_url: &str,
) -> Result<Value, ScimError> {
    let g = mapping(cx)?;
    let (group, members) = normalise_body(body)?;
    if display_name(&group).is_none() {
        return Err(ScimError::invalid_value(
            "displayName is required and must be a non-empty string",
        ));
    }
    let old = fetch(cx, id).await?;
    write_group(cx, g, id, &old, &group).await?;
    if let Some(wanted) = members {
        let current = all_member_ids(cx, g, id).await?;
        apply_delta(cx, g, id, &delta_between(&current, &wanted)).await?;
    }
    get(cx, id, true, base_url).await
}

/// Whether an operation reads or writes `members` (other than as a delta).
fn touches_members(request: &PatchRequest) -> bool {
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
/// (Boxed: its state lives on the heap, not in the request handler's stack frame.)
pub fn patch<'a>(
    cx: &'a Ctx<'a>,
    id: &'a str,
    body: &'a Value,
    answer: Option<bool>,
    base_url: &'a str,
) -> Boxed<'a, Option<Value>> {
    Box::pin(patch_now(cx, id, body, answer, base_url))
}

async fn patch_now(
    cx: &Ctx<'_>,
    id: &str,
    body: &Value,
    answer: Option<bool>,
    base_url: &str,
) -> Result<Option<Value>, ScimError> {
    let g = mapping(cx)?;
    check_id(&g.resource, id)?;
    let request = PatchRequest::parse(body)?;
    if let Some(delta) = patch::member_changes(&request) {
        // Writing a group id onto users needs the group to exist; member calls on a group
        // whose ids have no declared form need it to be the group asked for (a legacy API may
        // read another id as this one's: see `legacy::read_record`).
        if matches!(g.membership, Membership::UserAttribute(_)) || g.resource.id_format.is_none() {
            fetch(cx, id).await?;
        }
        apply_delta(cx, g, id, &delta).await?;
    } else {
        let old = fetch(cx, id).await?;
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
        patch::apply(&mut group, &request, schema())?;
        write_group(cx, g, id, &old, &group).await?;
        if let Some(current) = current {
            let wanted = ids_of_members(&group);
            apply_delta(cx, g, id, &delta_between(&current, &wanted)).await?;
        }
    }
    match answer {
        Some(with_members) => Ok(Some(get(cx, id, with_members, base_url).await?)),
        None => Ok(None),
    }
}

/// `DELETE /Groups/{id}`: deletes the legacy group, or marks it deleted, as the mapping says.
/// (Boxed: its state lives on the heap, not in the request handler's stack frame.)
pub fn delete<'a>(cx: &'a Ctx<'a>, id: &'a str) -> Boxed<'a, ()> {
    Box::pin(delete_now(cx, id))
}

async fn delete_now(cx: &Ctx<'_>, id: &str) -> Result<(), ScimError> {
    let g = mapping(cx)?;
    let r = &g.resource;
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
    legacy::call(cx, r, &r.endpoints.update, Some(id), &[], Some(&body)).await?;
    Ok(legacy::Retired::Marked)
}

// ---------------------------------------------------------------------------------------------
// Membership changes

/// Applies `delta` to group `id`: one call per member (endpoints), or one read-modify-write of
/// each member (membership on the user). Returns the added ids that were skipped as unknown
/// users. Adding a member twice and removing a non-member are not errors, so a request that
/// failed part way (its error says which changes were not made) is completed by sending it
/// again. Each member change is a line of the provisioning log that says what the identity
/// provider is told: `ok`, `skipped` (no such user; the rest goes on) or `error`.
async fn apply_delta(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    id: &str,
    delta: &MemberDelta,
) -> Result<Vec<String>, ScimError> {
    let mut skipped = Vec::new();
    match &g.membership {
        Membership::Endpoints { add, remove, .. } => {
            // A refusal may mean the group itself is missing: answer 404 then.
            let mut refused = false;
            for (i, member) in delta.add.iter().enumerate() {
                let started = Instant::now();
                let outcome = match add_member(cx, g, add, id, member).await {
                    Ok(Added::Now) => {
                        cx.record
                            .applied(format!("added user {member} to group {id}"));
                        MemberOutcome::Ok
                    }
                    Ok(Added::Already) => MemberOutcome::Ok,
                    Ok(Added::NoSuchUser) => {
                        tracing::warn!(group = %id, member = %member, "unknown member skipped");
                        skipped.push(member.clone());
                        refused = true;
                        MemberOutcome::Skipped
                    }
                    Err(e) => {
                        observe::member_change(
                            cx,
                            MemberChange::Add,
                            id,
                            member,
                            MemberOutcome::Failed(&e),
                            started,
                        );
                        return Err(not_applied(e, id, &delta.add[i..], &delta.remove));
                    }
                };
                observe::member_change(cx, MemberChange::Add, id, member, outcome, started);
                cx.membership
                    .invalidate_users(&cx.tenant.name, [member.as_str()])
                    .await;
            }
            for (i, member) in delta.remove.iter().enumerate() {
                let started = Instant::now();
                // An id no user can have is in no group: nothing to remove.
                if may_be_user(cx, member) {
                    let call = Call {
                        id: Some(id),
                        member: Some(member),
                        ..Call::new(remove)
                    };
                    match legacy::call_with(cx, &g.resource, &call).await {
                        Ok(_) => cx
                            .record
                            .applied(format!("removed user {member} from group {id}")),
                        // Not a member (or no such user): nothing to remove.
                        Err(e) if e.refused() && e.error.status == NOT_FOUND => refused = true,
                        Err(e) => {
                            observe::member_change(
                                cx,
                                MemberChange::Remove,
                                id,
                                member,
                                MemberOutcome::Failed(&e.error),
                                started,
                            );
                            return Err(not_applied(e.error, id, &[], &delta.remove[i..]));
                        }
                    }
                }
                observe::member_change(
                    cx,
                    MemberChange::Remove,
                    id,
                    member,
                    MemberOutcome::Ok,
                    started,
                );
                cx.membership
                    .invalidate_users(&cx.tenant.name, [member.as_str()])
                    .await;
            }
            if refused {
                fetch(cx, id).await?;
            }
        }
        Membership::UserAttribute(ua) => {
            let adds = delta.add.len();
            for (i, (change, member)) in delta
                .add
                .iter()
                .map(|m| (MemberChange::Add, m))
                .chain(delta.remove.iter().map(|m| (MemberChange::Remove, m)))
                .enumerate()
            {
                let started = Instant::now();
                let add = change == MemberChange::Add;
                match set_user_group(cx, ua, member, id, add).await {
                    Ok(true) => {
                        observe::member_change(cx, change, id, member, MemberOutcome::Ok, started);
                        cx.record.applied(if add {
                            format!("added user {member} to group {id}")
                        } else {
                            format!("removed user {member} from group {id}")
                        });
                    }
                    Ok(false) if add => {
                        tracing::warn!(group = %id, member = %member, "unknown member skipped");
                        let skip = MemberOutcome::Skipped;
                        observe::member_change(cx, change, id, member, skip, started);
                        skipped.push(member.clone());
                    }
                    // No such user: nothing to remove.
                    Ok(false) => {
                        observe::member_change(cx, change, id, member, MemberOutcome::Ok, started)
                    }
                    Err(e) => {
                        let failed = MemberOutcome::Failed(&e);
                        observe::member_change(cx, change, id, member, failed, started);
                        let (adds_left, removes_left) = if i < adds {
                            (&delta.add[i..], &delta.remove[..])
                        } else {
                            (&[][..], &delta.remove[i - adds..])
                        };
                        return Err(not_applied(e, id, adds_left, removes_left));
                    }
                }
            }
        }
    }
    // The members' roles and flags follow their groups: when a rule names this group (one
    // read of the group tells, whatever the number of members).
    let changed: Vec<&String> = delta
        .add
        .iter()
        .chain(&delta.remove)
        .filter(|m| !skipped.contains(m))
        .collect();
    if !g.rules.is_empty() && !changed.is_empty() {
        let named = g.rules.names_group(id, None)
            || match fetch(cx, id).await {
                Ok(f) => g.rules.names_group(id, display_name(&f.scim)),
                Err(e) if e.status == 404 => false,
                Err(e) => return Err(e),
            };
        if named {
            for (i, member) in changed.iter().enumerate() {
                if let Err(e) = Box::pin(sync_user_rules(cx, member)).await {
                    let left: Vec<&str> = changed[i..].iter().map(|m| m.as_str()).collect();
                    let what = format!(
                        "the role and flags that group {id} gives {} {}",
                        users_word(left.len()),
                        record::listed(&left)
                    );
                    return Err(record::not_applied(e, &what));
                }
            }
        }
    }
    Ok(skipped)
}

fn users_word(n: usize) -> &'static str {
    if n == 1 {
        "user"
    } else {
        "users"
    }
}

/// The error `e` of a membership change of group `group` that failed part way, saying which
/// changes were not made: `adds` and `removes`, the failed one first.
fn not_applied(e: ScimError, group: &str, adds: &[String], removes: &[String]) -> ScimError {
    let mut left = Vec::new();
    if !adds.is_empty() {
        left.push(format!(
            "adding {} {} to group {group}",
            users_word(adds.len()),
            record::listed(adds)
        ));
    }
    if !removes.is_empty() {
        left.push(format!(
            "removing {} {} from group {group}",
            users_word(removes.len()),
            record::listed(removes)
        ));
    }
    record::not_applied(e, &left.join("; "))
}

/// The SCIM status of a refusal that means "no such member" (or "not a member").
const NOT_FOUND: u16 = StatusCode::NOT_FOUND.as_u16();

/// Whether `id` may name a user: a valid id of the users' `id_format`. Anything else is no
/// user, and no member call is made for it.
fn may_be_user(cx: &Ctx<'_>, id: &str) -> bool {
    router::is_valid_id(id) && cx.mapping.users.accepts_id(id)
}

/// What an add of one member through the member endpoint came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Added {
    /// The user is a member now.
    Now,
    /// The legacy API refused the add as already made (its SCIM translation is 409).
    Already,
    /// No such user: skipped.
    NoSuchUser,
}

/// Adds user `member` to group `group` through the member endpoint `add`. A refusal means "no
/// such user" only when there is none (the user is read, through the identity check, to
/// tell), and "already a member" only when the user exists and the refusal's SCIM translation
/// (the group's `errors` rules) is 409; any other refusal is the error the identity provider
/// sees.
///
/// Without a users `id_format`, the user is read before the add: a legacy API that reads the
/// member `6x` as user 6 (or `007` as 7) would otherwise put user 6 in the group, giving the
/// group's access to a user the identity provider never named. With one, the form guarantees
/// that the legacy API resolves exactly that user, and the user is read only to explain a
/// refusal. (A remove is not read first: at worst it takes the group's access away from a
/// user, never gives it; declaring the users' `id_format` rules that out too.)
async fn add_member(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    add: &MemberCall,
    group: &str,
    member: &str,
) -> Result<Added, ScimError> {
    let users = &cx.mapping.users;
    if !may_be_user(cx, member) {
        return Ok(Added::NoSuchUser);
    }
    // A member id the add body cannot carry (`x` where the legacy id is an integer) is no user.
    let Ok(body) = add.add_request_body(member) else {
        return Ok(Added::NoSuchUser);
    };
    let read_first = users.id_format.is_none();
    if read_first && legacy::read_record(cx, users, member).await?.is_none() {
        return Ok(Added::NoSuchUser);
    }
    let call = Call {
        id: Some(group),
        member: Some(member),
        body: body.as_ref(),
        ..Call::new(&add.endpoint)
    };
    let refusal = match legacy::call_with(cx, &g.resource, &call).await {
        Ok(_) => return Ok(Added::Now),
        Err(e) if e.refused() => e.error,
        Err(e) => return Err(e.error),
    };
    if !read_first {
        match legacy::read_record(cx, users, member).await {
            Ok(None) => return Ok(Added::NoSuchUser),
            Ok(Some(_)) => {}
            // Whether the user exists is not known: the refusal stands.
            Err(_) => return Err(refusal),
        }
    }
    if refusal.status == StatusCode::CONFLICT.as_u16() {
        Ok(Added::Already)
    } else {
        Err(refusal)
    }
}

/// Recomputes user `user_id`'s role and flags from its groups (the mapping's `groups.roles`
/// and `groups.flags`) and writes them, in one legacy update, only when they changed. Nothing
/// to do without rules, or for a user the legacy API does not know.
pub async fn sync_user_rules(cx: &Ctx<'_>, user_id: &str) -> Result<(), ScimError> {
    if cx
        .mapping
        .groups
        .as_ref()
        .is_none_or(|g| g.rules.is_empty())
    {
        return Ok(());
    }
    let users = &cx.mapping.users;
    let _serialised = cx.user_locks.of(&cx.tenant.name, user_id).lock().await;
    let Some(got) = legacy::read_record(cx, users, user_id).await? else {
        return Ok(());
    };
    let user = got.body;
    let new_user = apply_user_rules(cx, user_id, &user).await?;
    if new_user != user {
        let body = users.update_body(&user, &new_user);
        let call = Call {
            id: Some(user_id),
            body: Some(&body),
            ..Call::new(&users.endpoints.update)
        };
        let result = legacy::call_with(cx, users, &call).await;
        cx.records.forget(&cx.tenant.name, user_id).await;
        result.map_err(|e| e.error)?;
        cx.record
            .applied(format!("updated the role and flags of user {user_id}"));
    }
    Ok(())
}

/// The legacy user `legacy_user` (of SCIM id `user_id`) with the role and flags its groups
/// call for; unchanged without rules. Groups whose name the membership does not carry are
/// read for it, so that rules naming groups by displayName match them.
pub async fn apply_user_rules(
    cx: &Ctx<'_>,
    user_id: &str,
    legacy_user: &Value,
) -> Result<Value, ScimError> {
    let Some(g) = cx.mapping.groups.as_ref().filter(|g| !g.rules.is_empty()) else {
        return Ok(legacy_user.clone());
    };
    let mut groups = groups_of_user(cx, user_id, Some(legacy_user)).await?;
    for group in groups.iter_mut().filter(|g| g.display.is_none()) {
        match fetch(cx, &group.id).await {
            Ok(f) => group.display = display_name(&f.scim).map(str::to_owned),
            Err(e) if e.status == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let refs: Vec<UserGroup<'_>> = groups
        .iter()
        .map(|g| UserGroup {
            id: &g.id,
            display: g.display.as_deref(),
        })
        .collect();
    Ok(g.rules.apply(legacy_user, &refs)?)
}

/// A legacy user about to be created through the gateway: the mapping's default role when the
/// SCIM user carries none.
pub fn with_default_role(cx: &Ctx<'_>, legacy_user: &Value) -> Result<Value, ScimError> {
    match &cx.mapping.groups {
        Some(g) => Ok(g.rules.with_default_role(legacy_user)?),
        None => Ok(legacy_user.clone()),
    }
}

/// Puts legacy user `user_id` in group `group_id` (or takes it out): reads the user, writes
/// its group field back with `If-Match` when the mapping has a version, and retries once when
/// the user changed in between (412). Writes to one user are serialised inside the gateway.
/// `false` when there is no such user.
async fn set_user_group(
    cx: &Ctx<'_>,
    ua: &UserAttribute,
    user_id: &str,
    group_id: &str,
    member: bool,
) -> Result<bool, ScimError> {
    if !may_be_user(cx, user_id) {
        return Ok(false);
    }
    let users = &cx.mapping.users;
    let _serialised = cx.user_locks.of(&cx.tenant.name, user_id).lock().await;
    let mut attempt = 0;
    loop {
        attempt += 1;
        // Through the identity check: only the user asked for is ever written.
        let Some(got) = legacy::read_record(cx, users, user_id).await? else {
            return Ok(false);
        };
        let user = got.body;
        let mut groups = ua.groups_of_user(&user);
        let is_in = groups.iter().any(|g| g == group_id);
        if is_in == member {
            return Ok(true);
        }
        if member {
            groups.push(group_id.to_string());
        } else {
            groups.retain(|g| g != group_id);
        }
        let new_user = ua.with_groups(&user, &groups)?;
        let body = users.update_body(&user, &new_user);
        let call = Call {
            id: Some(user_id),
            body: Some(&body),
            if_match: ua.if_match(&user),
            ..Call::new(&users.endpoints.update)
        };
        let result = legacy::call_with(cx, users, &call).await;
        cx.membership
            .invalidate_users(&cx.tenant.name, [user_id])
            .await;
        cx.records.forget(&cx.tenant.name, user_id).await;
        match result {
            Ok(_) => return Ok(true),
            Err(e) if e.legacy_status == Some(412) && attempt < 2 => continue,
            Err(e) => return Err(e.error),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A user's groups

/// Whether a user response shaped by `query` shows `groups`.
pub fn shows_user_groups(query: &ListQuery) -> bool {
    shows(query, "groups", urn::USER)
}

/// Whether a user list shaped by `query` shows each user's `groups`. When membership is held on
/// the user they come with it and are shown by default; otherwise each listed user would cost a
/// look-up, so lists show them only when `attributes` asks for `groups`. Member endpoints
/// without a user's-groups call cannot tell them: a user's `groups` is then neither advertised
/// in `/Schemas` nor shown.
pub fn lists_user_groups(cx: &Ctx<'_>, query: &ListQuery) -> bool {
    match cx.mapping.groups.as_ref().map(|g| &g.membership) {
        None
        | Some(Membership::Endpoints {
            user_groups: None, ..
        }) => false,
        Some(Membership::UserAttribute(_)) => shows_user_groups(query),
        Some(Membership::Endpoints { .. }) => {
            !query.attributes.is_empty() && shows_user_groups(query)
        }
    }
}

/// Records that a user the gateway just created is in no group, so that reading it back costs
/// no look-up of its groups.
pub async fn new_user_has_no_groups(cx: &Ctx<'_>, user_id: &str) {
    if matches!(
        cx.mapping.groups.as_ref().map(|g| &g.membership),
        Some(Membership::Endpoints { .. })
    ) {
        let _ = cx
            .membership
            .user_groups(&cx.tenant.name, user_id, async { Ok(Vec::new()) })
            .await;
    }
}

/// The groups of user `user_id`; `legacy_user` is its legacy record when the caller has it
/// (membership held on the user is read from it, without a call). Endpoint look-ups go through
/// the membership cache. Empty when the mapping has no way to tell (member endpoints without
/// `user_groups`: then a user's `groups` is not advertised, and the groups of a user are found
/// by [`list`] reading the groups' member lists).
pub async fn groups_of_user(
    cx: &Ctx<'_>,
    user_id: &str,
    legacy_user: Option<&Value>,
) -> Result<Vec<GroupRef>, ScimError> {
    let Some(g) = &cx.mapping.groups else {
        return Ok(Vec::new());
    };
    match &g.membership {
        Membership::Endpoints {
            user_groups: Some(ug),
            ..
        } => {
            let load = async {
                let call = Call {
                    id: Some(user_id),
                    ..Call::new(&ug.endpoint)
                };
                let got = legacy::call_with(cx, &cx.mapping.users, &call).await?;
                let ids = ug.groups(&got.body)?;
                // Each group's name, when the items are groups the mapping can read.
                let mut names: Vec<(String, String)> = Vec::new();
                for item in ug.items.read_all(&got.body) {
                    for one in item.as_array().map(Vec::as_slice).unwrap_or_default() {
                        if let Ok(scim) = g.resource.to_scim(one) {
                            if let (Some(i), Some(d)) = (
                                scim.get("id").and_then(Value::as_str),
                                scim.get("displayName").and_then(Value::as_str),
                            ) {
                                names.push((i.to_string(), d.to_string()));
                            }
                        }
                    }
                }
                Ok(ids
                    .into_iter()
                    .map(|id| GroupRef {
                        display: names.iter().find(|(i, _)| *i == id).map(|(_, d)| d.clone()),
                        id,
                    })
                    .collect())
            };
            Ok(cx
                .membership
                .user_groups(&cx.tenant.name, user_id, load)
                .await?
                .to_vec())
        }
        Membership::Endpoints {
            user_groups: None, ..
        } => Ok(Vec::new()),
        Membership::UserAttribute(ua) => {
            let ids = match legacy_user {
                Some(u) => ua.groups_of_user(u),
                None => {
                    let users = &cx.mapping.users;
                    let load =
                        async {
                            // Through the identity guard: a legacy API that reads "6x" as user 6
                            // must not lend user 6's groups to "6x".
                            let got = legacy::read_record(cx, users, user_id).await?.ok_or_else(
                                || ScimError::not_found(format!("no user with id {user_id:?}")),
                            )?;
                            Ok(ua
                                .groups_of_user(&got.body)
                                .into_iter()
                                .map(|id| GroupRef { id, display: None })
                                .collect())
                        };
                    return Ok(cx
                        .membership
                        .user_groups(&cx.tenant.name, user_id, load)
                        .await?
                        .to_vec());
                }
            };
            Ok(ids
                .into_iter()
                .map(|id| GroupRef { id, display: None })
                .collect())
        }
    }
}

/// Sets a SCIM user's read-only `groups` (left out when the user is in none).
pub async fn fill_user_groups(
    cx: &Ctx<'_>,
    user: &mut Value,
    legacy_user: Option<&Value>,
) -> Result<(), ScimError> {
    if cx.mapping.groups.is_none() {
        return Ok(());
    }
    let Some(id) = user.get("id").and_then(Value::as_str).map(str::to_owned) else {
        return Ok(());
    };
    let groups = groups_of_user(cx, &id, legacy_user).await?;
    if groups.is_empty() {
        return Ok(());
    }
    let list: Vec<Value> = groups
        .iter()
        .map(|g| {
            let mut o = Map::new();
            o.insert("value".into(), Value::String(g.id.clone()));
            if let Some(d) = &g.display {
                o.insert("display".into(), Value::String(d.clone()));
            }
            o.insert("type".into(), Value::String("direct".into()));
            Value::Object(o)
        })
        .collect();
    if let Some(obj) = user.as_object_mut() {
        obj.insert("groups".into(), Value::Array(list));
    }
    Ok(())
}

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
/// (Boxed: its state lives on the heap, not in the request handler's stack frame.)
pub fn list<'a>(cx: &'a Ctx<'a>, query: &'a ListQuery, base_url: &'a str) -> Boxed<'a, Value> {
    Box::pin(list_now(cx, query, base_url))
}

async fn list_now(cx: &Ctx<'_>, query: &ListQuery, base_url: &str) -> Result<Value, ScimError> {
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
        let selection = select::select(cx, r, schema(), filter.as_ref(), query).await?;
        (selection.resources, selection.total)
    };
    let mut shown = Vec::with_capacity(groups.len());
    for group in groups.drain(..) {
        let group = show(cx, g, group, with_members, base_url).await?;
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
        } => Some(list),
        _ => None,
    };
    let too_many_groups = || {
        ScimError::too_many(format!(
            "more than {scan_limit} groups would have to be read to answer this (the \
             mapping's groups.scan_limit); narrow the filter, e.g. id eq \"<group id>\" and \
             members[value eq \"{member}\"]"
        ))
    };
    let gone_is_none = |r: Result<Fetched, ScimError>| match r {
        Ok(found) => Ok(Some(found.scim)),
        Err(e) if e.status == 404 => Ok(None),
        Err(e) => Err(e),
    };
    let candidates: Vec<Value> = match (member_lists, rest.as_ref().and_then(id_term)) {
        (None, _) => {
            let refs = groups_of_user(cx, member, None).await.or_else(|e| {
                if e.status == 404 {
                    Ok(Vec::new())
                } else {
                    Err(e)
                }
            })?;
            if refs.len() > scan_limit {
                return Err(too_many_groups());
            }
            // Entra's membership check names the group: only that one is read.
            let named = rest.as_ref().and_then(id_term);
            let mut out = Vec::with_capacity(refs.len());
            for gref in refs.iter().filter(|r| named.is_none_or(|id| r.id == id)) {
                out.extend(gone_is_none(fetch(cx, &gref.id).await)?);
            }
            out
        }
        (Some(_), Some(id)) => gone_is_none(fetch(cx, id).await)?.into_iter().collect(),
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
            let selected = select::select(cx, &g.resource, schema(), rest.as_ref(), &every).await?;
            if selected.total > scan_limit {
                return Err(too_many_groups());
            }
            selected.resources
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
        if let Some(list) = member_lists {
            let id = group.get("id").and_then(Value::as_str).unwrap_or_default();
            if !holds_member(cx, g, list, id, member, &mut budget).await? {
                continue;
            }
        }
        found.push(group);
    }
    Ok(found)
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
        Err(e) if e.status == 404 => Ok(false),
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
