//! SCIM Groups held by the gateway (`groups: held_by: gateway`): the identity provider's groups
//! kept in the group store (`crate::store`), per tenant, for a legacy product that has no groups
//! of its own. `/Groups` is served from the store alone; members are legacy user ids, each one
//! added read from the legacy API first (an unknown one is skipped and logged, the rest applied);
//! a user's `groups` come from the store. Every member change recomputes the role and flags of
//! the users it affects (`groups.roles`, `groups.flags`) and writes them, one legacy update per
//! user whose role or flag changed (`super::user::sync_user_rules`).
//!
//! Membership changes are deltas in the store (one transaction each, no member list read), so
//! adding one member to a group of 100,000 costs the store one insert and the legacy API one
//! read of the user (and one update when its role or a flag changes). A store that cannot
//! answer is 503 with `Retry-After` for group operations; user operations never wait for it,
//! except a user's `groups`, which it holds.
//!
//! A request changes at most `[scim] max_member_changes` members (a PUT counts the members it
//! changes, not those it lists), checked before anything is written; an added id that cannot
//! name a user, or that the legacy API said lately it does not have, costs no legacy call.

use std::collections::HashSet;

use serde_json::{json, Map, Value};

use crate::scim::etag::{self, Condition};
use crate::scim::filter::{self, CompValue, CompareOp, Filter};
use crate::scim::list::{self, ListQuery};
use crate::scim::patch::{self, PatchRequest};
use crate::scim::path::AttrPath;
use crate::scim::{urn, ScimError, ScimType};
use crate::server::context::Ctx;
use crate::server::gateway::set_location;
use crate::server::observe::{MemberChange, MemberEvent};
use crate::server::router::{self, Collection};
use crate::server::select;
use crate::store::{GroupQuery, GroupStore, StoreError, StoredGroup};

use super::members::check_member_changes;
use super::user::{sync_user_rules, sync_user_rules_after};
use super::{no_group, schema, MAX_MEMBERS_REPLACED, MAX_MEMBERS_SHOWN};

/// How long an identity provider is asked to wait when the store cannot answer.
const STORE_RETRY_AFTER_SECONDS: u64 = 5;

/// The most groups a filter the store cannot answer itself is checked against (the tenant's
/// groups, read a page at a time); past it, 400 `tooMany`.
const SCAN_LIMIT: u64 = 10_000;

/// A store's failure as the identity provider sees it.
impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> ScimError {
        match e {
            StoreError::Unavailable(why) => {
                ScimError::new(503, None, format!("{STORE_DOWN} ({why}); try again later"))
                    .with_retry_after(STORE_RETRY_AFTER_SECONDS)
            }
            StoreError::Conflict(why) => ScimError::uniqueness(why),
            StoreError::Stale => ScimError::new(
                412,
                Some(ScimType::PreconditionFailed),
                "the group changed since the version given in If-Match",
            ),
            StoreError::NotFound => ScimError::not_found("no such group"),
            StoreError::Corrupt(why) => {
                ScimError::internal(format!("the gateway's group store failed: {why}"))
            }
        }
    }
}

/// Whether `e` says that the group store cannot answer (a user operation then goes on
/// without the user's groups).
pub(super) fn is_store_down(e: &ScimError) -> bool {
    e.status == 503 && e.detail.starts_with(STORE_DOWN)
}

/// How the SCIM error of a store that cannot answer begins.
const STORE_DOWN: &str = "the gateway's group store cannot answer";

/// The store, when the mapping holds groups; 500 when none was opened (a set-up error that
/// `Gateway::new` refuses, so only reachable by a bug).
pub(super) fn store<'c>(cx: &'c Ctx<'_>) -> Result<&'c GroupStore, ScimError> {
    cx.store.as_ref().ok_or_else(|| {
        ScimError::internal("the mapping holds groups in the gateway, but no group store is open")
    })
}

/// Whether the mapping holds its groups in the gateway's store.
pub(crate) fn holds_groups(cx: &Ctx<'_>) -> bool {
    cx.mapping.held_groups.is_some()
}

fn check_id(id: &str) -> Result<(), ScimError> {
    router::check_id(Collection::Groups, id)?;
    Ok(())
}

/// A stored group as SCIM shows it, with `members` when given.
fn to_scim(g: &StoredGroup, members: Option<&[String]>, base_url: &str) -> Value {
    let mut o = Map::new();
    o.insert("schemas".into(), json!([urn::GROUP]));
    o.insert("id".into(), json!(g.id));
    o.insert("displayName".into(), json!(g.display_name));
    if let Some(e) = &g.external_id {
        o.insert("externalId".into(), json!(e));
    }
    if let Some(members) = members {
        let list: Vec<Value> = members
            .iter()
            .map(|m| {
                let encoded =
                    percent_encoding::utf8_percent_encode(m, crate::server::wire::SEGMENT);
                json!({"value": m, "$ref": format!("{base_url}/Users/{encoded}"), "type": "User"})
            })
            .collect();
        o.insert("members".into(), Value::Array(list));
    }
    o.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": g.created,
            "lastModified": g.last_modified,
            "version": version_tag(g),
        }),
    );
    let mut group = Value::Object(o);
    set_location(&mut group, base_url);
    group
}

/// The members of group `id` as SCIM shows them: up to [`MAX_MEMBERS_SHOWN`] (a larger group
/// is shown with its first ones and a warning in the log).
async fn shown_members(cx: &Ctx<'_>, id: &str) -> Result<Vec<String>, ScimError> {
    let (members, total) = store(cx)?
        .members(&cx.tenant.name, id, 0, MAX_MEMBERS_SHOWN)
        .await?;
    if total > MAX_MEMBERS_SHOWN {
        tracing::warn!(group = %id, members = total, shown = MAX_MEMBERS_SHOWN, "a group too large to show whole: its first members shown");
    }
    Ok(members)
}

/// `displayName` and `externalId` of a SCIM group body: 400 without a displayName.
fn names(body: &Value) -> Result<(String, Option<String>), ScimError> {
    let name = body
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ScimError::new(
                400,
                Some(ScimType::InvalidValue),
                "a group needs a displayName",
            )
        })?;
    let external = body
        .get("externalId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok((name.to_string(), external))
}

/// The member ids a SCIM group body names (`members[].value`), in order, each once.
fn member_ids(body: &Value) -> Result<Vec<String>, ScimError> {
    let Some(members) = body.get("members") else {
        return Ok(Vec::new());
    };
    let Some(list) = members.as_array() else {
        return Err(ScimError::new(
            400,
            Some(ScimType::InvalidValue),
            "members must be a list of {\"value\": \"<user id>\"}",
        ));
    };
    let mut out: Vec<String> = Vec::new();
    let mut seen: HashSet<&str> = HashSet::with_capacity(list.len());
    for m in list {
        let id = m.get("value").and_then(Value::as_str).ok_or_else(|| {
            ScimError::new(
                400,
                Some(ScimType::InvalidValue),
                "each member needs a value: the user's id",
            )
        })?;
        if seen.insert(id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

/// Adds each of `candidates` to group `id`: each user read from the legacy API first (one it
/// does not have is skipped and logged, the rest applied), then added in the store, then its
/// role and flags written when they change — one read and at most one update of the legacy
/// user per member, whatever the group's size. Returns the users newly added.
async fn add_members(
    cx: &Ctx<'_>,
    id: &str,
    candidates: &[String],
) -> Result<Vec<String>, ScimError> {
    let store = store(cx)?;
    let tenant = cx.tenant.name.as_str();
    let users = &cx.mapping.users;
    let mut added = Vec::new();
    for member in candidates {
        cx.record.check_time(&cx.metrics)?;
        let event = MemberEvent::now(MemberChange::Add, id, member);
        // An id no user can have, or one the legacy API said lately it does not have: no call.
        if !(router::is_valid_id(member) && users.accepts_id(member))
            || cx.membership.is_unknown_user(tenant, member)
        {
            event.skipped(cx);
            continue;
        }
        let one = std::slice::from_ref(member);
        let outcome = sync_user_rules_after(cx, member, || async {
            Ok(store.add_members(tenant, id, one).await?)
        })
        .await?;
        match outcome {
            None => {
                cx.membership.unknown_user(tenant, member).await;
                event.skipped(cx);
            }
            Some(new) if !new.is_empty() => {
                event.applied(cx);
                added.push(member.clone());
            }
            Some(_) => {}
        }
    }
    Ok(added)
}

/// Removes `members` from group `id` in the store (one transaction), then writes the role and
/// flags of each user removed when they change. Returns the users removed.
async fn remove_members(
    cx: &Ctx<'_>,
    id: &str,
    members: &[String],
) -> Result<Vec<String>, ScimError> {
    if members.is_empty() {
        return Ok(Vec::new());
    }
    let removed = store(cx)?
        .remove_members(&cx.tenant.name, id, members)
        .await?;
    for m in &removed {
        MemberEvent::now(MemberChange::Remove, id, m).applied(cx);
        sync_user_rules(cx, m).await?;
    }
    Ok(removed)
}

/// What makes group `id`'s members `wanted`: the members missing (to add) and the others (to
/// remove), refused past `[scim] max_member_changes` before anything is written. A member
/// that stays is not a change: a full list sent again costs only its difference.
async fn members_delta(
    cx: &Ctx<'_>,
    id: &str,
    wanted: &[String],
) -> Result<(Vec<String>, Vec<String>), ScimError> {
    let current = all_members(cx, id).await?;
    let (adds, removes) = difference(&current, wanted);
    check_member_changes(cx, adds.len() + removes.len())?;
    Ok((adds, removes))
}

/// The members of `wanted` not in `current`, and those of `current` not in `wanted`.
fn difference(current: &[String], wanted: &[String]) -> (Vec<String>, Vec<String>) {
    let now: HashSet<&str> = current.iter().map(String::as_str).collect();
    let then: HashSet<&str> = wanted.iter().map(String::as_str).collect();
    let adds = wanted
        .iter()
        .filter(|m| !now.contains(m.as_str()))
        .cloned()
        .collect();
    let removes = current
        .iter()
        .filter(|m| !then.contains(m.as_str()))
        .cloned()
        .collect();
    (adds, removes)
}

/// Applies a [`members_delta`] of group `id`.
async fn set_members(
    cx: &Ctx<'_>,
    id: &str,
    (adds, removes): (Vec<String>, Vec<String>),
) -> Result<(), ScimError> {
    remove_members(cx, id, &removes).await?;
    add_members(cx, id, &adds).await?;
    Ok(())
}

/// `POST /Groups`: a new group in the store, its displayName unique in the tenant (409
/// `uniqueness` otherwise), its members those the legacy API has.
pub(super) async fn create(cx: &Ctx<'_>, body: &Value, base_url: &str) -> Result<Value, ScimError> {
    let (name, external) = names(body)?;
    let wanted = member_ids(body)?;
    check_member_changes(cx, wanted.len())?;
    let store = store(cx)?;
    // One create of a name at a time, in this process and (on PostgreSQL) across replicas: an
    // identity provider's retry that lands on another replica waits, then gets 409.
    let key = format!("Groups/{}", name.to_lowercase());
    let _here = cx.create_locks.of(&cx.tenant.name, &key).lock().await;
    let _everywhere = store.lock(&cx.tenant.name, &key).await?;
    let created = store
        .create(&cx.tenant.name, &name, external.as_deref(), &[])
        .await?;
    cx.record.applied(format!("created group {}", created.id));
    let members = add_members(cx, &created.id, &wanted).await?;
    let gid = created.id.clone();
    get_or(cx, &gid, created, !members.is_empty(), base_url).await
}

/// `GET /Groups/{id}`.
pub(super) async fn get(
    cx: &Ctx<'_>,
    id: &str,
    with_members: bool,
    base_url: &str,
) -> Result<Value, ScimError> {
    check_id(id)?;
    let g = store(cx)?
        .get(&cx.tenant.name, id)
        .await?
        .ok_or_else(|| no_group(id))?;
    let members = if with_members {
        Some(shown_members(cx, id).await?)
    } else {
        None
    };
    Ok(to_scim(&g, members.as_deref(), base_url))
}

/// `GET /Groups` and `POST /Groups/.search`: the filters identity providers send (`displayName
/// eq`, `externalId eq`, `id eq`, `members[value eq "<user>"]`, joined with `and`) answered by
/// the store with exact totals; any other filter checked by the gateway over the tenant's
/// groups (at most [`SCAN_LIMIT`], else 400 `tooMany`).
pub(super) async fn list(
    cx: &Ctx<'_>,
    query: &ListQuery,
    base_url: &str,
) -> Result<Value, ScimError> {
    let store = store(cx)?;
    let tenant = &cx.tenant.name;
    let filter = select::parse_filter(query, schema())?;
    let with_members = super::ops::shows_members(query);
    let offset = query.start_index.max(1) - 1;
    let exact = match &filter {
        None => Some(GroupQuery::default()),
        Some(f) => store_query(f),
    };
    let (groups, total) = match exact {
        Some(q) if query.sort_by.is_none() => {
            let (page, total) = store
                .list(tenant, &q, offset as u64, query.count as u64)
                .await?;
            (page, total as usize)
        }
        _ => {
            // Read every group of the tenant, check the filter on each (members and all), sort,
            // cut the page.
            let (all, total) = store
                .list(tenant, &GroupQuery::default(), 0, SCAN_LIMIT)
                .await?;
            if total > SCAN_LIMIT {
                return Err(ScimError::new(
                    400,
                    Some(ScimType::TooMany),
                    format!(
                        "this filter is checked by the gateway over every group, and the tenant has more than {SCAN_LIMIT}: filter on displayName, externalId, id or members[value eq …] with eq"
                    ),
                ));
            }
            let mut matched = Vec::new();
            for g in all {
                let members = match &filter {
                    Some(f) if mentions_members(f) => Some(all_members(cx, &g.id).await?),
                    _ => None,
                };
                let shown = to_scim(&g, members.as_deref(), base_url);
                if filter
                    .as_ref()
                    .is_none_or(|f| filter::matches(f, &shown, schema()))
                {
                    matched.push((shown, g));
                }
            }
            if let Some(by) = &query.sort_by {
                let mut shown: Vec<Value> = matched.iter().map(|(s, _)| s.clone()).collect();
                list::sort(&mut shown, by, query.descending, schema());
                let order: Vec<String> = shown
                    .iter()
                    .filter_map(|s| s.get("id").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                matched.sort_by_key(|(_, g)| order.iter().position(|id| *id == g.id));
            }
            let total = matched.len();
            let page = matched
                .into_iter()
                .skip(offset)
                .take(query.count)
                .map(|(_, g)| g)
                .collect();
            (page, total)
        }
    };
    let mut shown = Vec::with_capacity(groups.len());
    for g in &groups {
        let members = if with_members {
            Some(shown_members(cx, &g.id).await?)
        } else {
            None
        };
        let group = to_scim(g, members.as_deref(), base_url);
        shown.push(list::project(
            &group,
            &query.attributes,
            &query.excluded_attributes,
            schema(),
        ));
    }
    Ok(list::list_response(shown, total, offset + 1))
}

/// Every member of group `id` (for a filter on members the store cannot answer), at most
/// [`MAX_MEMBERS_REPLACED`].
async fn all_members(cx: &Ctx<'_>, id: &str) -> Result<Vec<String>, ScimError> {
    let (members, total) = store(cx)?
        .members(&cx.tenant.name, id, 0, MAX_MEMBERS_REPLACED)
        .await?;
    if total > MAX_MEMBERS_REPLACED {
        return Err(too_large(id, total));
    }
    Ok(members)
}

fn too_large(id: &str, total: u64) -> ScimError {
    ScimError::new(
        400,
        Some(ScimType::TooMany),
        format!(
            "group {id} has {total} members, more than the {MAX_MEMBERS_REPLACED} the gateway reads at once: change its members with PATCH add and remove"
        ),
    )
}

/// Whether `f` names `members` anywhere.
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

/// The store query `f` is, when it is a conjunction of `eq` on `id`, `displayName`,
/// `externalId` and `members[value eq …]` (each at most once); `None` for any other filter.
fn store_query(f: &Filter) -> Option<GroupQuery> {
    let mut q = GroupQuery::default();
    add_term(f, &mut q)?;
    Some(q)
}

fn add_term(f: &Filter, q: &mut GroupQuery) -> Option<()> {
    fn once(slot: &mut Option<String>, v: &str) -> Option<()> {
        if slot.is_some() {
            return None;
        }
        *slot = Some(v.to_string());
        Some(())
    }
    fn is(path: &AttrPath, name: &str, sub: Option<&str>) -> bool {
        path.name.eq_ignore_ascii_case(name)
            && path
                .schema
                .as_deref()
                .is_none_or(|s| s.eq_ignore_ascii_case(urn::GROUP))
            && match (&path.sub, sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }
    match f {
        Filter::And(a, b) => {
            add_term(a, q)?;
            add_term(b, q)
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::Str(v),
        } => {
            if is(path, "id", None) {
                once(&mut q.id, v)
            } else if is(path, "displayName", None) {
                once(&mut q.display_name, v)
            } else if is(path, "externalId", None) {
                once(&mut q.external_id, v)
            } else if is(path, "members", Some("value")) {
                once(&mut q.member, v)
            } else {
                None
            }
        }
        Filter::ValuePath { attr, filter } if is(attr, "members", None) => match filter.as_ref() {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::Str(v),
            } if path.name.eq_ignore_ascii_case("value") && path.sub.is_none() => {
                once(&mut q.member, v)
            }
            _ => None,
        },
        _ => None,
    }
}

/// The version of a stored group as SCIM shows it (`meta.version`, the `ETag`).
fn version_tag(g: &StoredGroup) -> String {
    format!("W/\"{}\"", g.version)
}

/// Checks `If-Match` against the group as read (`old`): 412 when no tag it lists is its
/// version.
fn check_if_match(old: &StoredGroup, if_match: Option<&Condition>) -> Result<(), ScimError> {
    let current = version_tag(old);
    match if_match {
        Some(condition) if !condition.matches(Some(&current)) => {
            Err(etag::precondition_failed("group", Some(&current)))
        }
        _ => Ok(()),
    }
}

/// Before the first write of a change guarded by `If-Match` (checked by [`check_if_match`]):
/// when it lists entity tags, takes the group at the version read ([`GroupStore::claim`]), so
/// that of two writers that read the same version the second is refused (412) however their
/// store writes interleave. The version moves by one more, even for a change that then writes
/// nothing.
async fn claim(
    cx: &Ctx<'_>,
    old: &StoredGroup,
    if_match: Option<&Condition>,
) -> Result<(), ScimError> {
    if matches!(if_match, Some(Condition::Tags(_))) {
        store(cx)?
            .claim(&cx.tenant.name, &old.id, old.version)
            .await?;
    }
    Ok(())
}

/// `PUT /Groups/{id}`: the group's displayName and externalId as sent, and its members the
/// ones sent (a delta against the store: only the changes are written). With `If-Match`, only
/// while the group is at a version it lists.
pub(super) async fn replace(
    cx: &Ctx<'_>,
    id: &str,
    body: &Value,
    base_url: &str,
    if_match: Option<&Condition>,
) -> Result<Value, ScimError> {
    check_id(id)?;
    let store = store(cx)?;
    let tenant = &cx.tenant.name;
    let old = store.get(tenant, id).await?.ok_or_else(|| no_group(id))?;
    let (name, external) = names(body)?;
    check_if_match(&old, if_match)?;
    let delta = members_delta(cx, id, &member_ids(body)?).await?;
    Box::pin(claim(cx, &old, if_match)).await?;
    let updated = if name != old.display_name || external != old.external_id {
        store
            .update(tenant, id, &name, external.as_deref(), None)
            .await?
    } else {
        old
    };
    set_members(cx, id, delta).await?;
    get_or(cx, id, updated, true, base_url).await
}

/// Group `id` read again after a write (its version moved), else `fallback`.
async fn get_or(
    cx: &Ctx<'_>,
    id: &str,
    fallback: StoredGroup,
    with_members: bool,
    base_url: &str,
) -> Result<Value, ScimError> {
    let g = store(cx)?
        .get(&cx.tenant.name, id)
        .await?
        .unwrap_or(fallback);
    let members = if with_members {
        Some(shown_members(cx, id).await?)
    } else {
        None
    };
    Ok(to_scim(&g, members.as_deref(), base_url))
}

/// `PATCH /Groups/{id}`: member additions and removals as deltas in the store (Entra's and
/// Okta's forms included), any other change applied to the group as read (its members read
/// only when an operation replaces them). Returns the group when `answer` asks for it. With
/// `If-Match`, only while the group is at a version it lists.
pub(super) async fn patch(
    cx: &Ctx<'_>,
    id: &str,
    body: &Value,
    answer: Option<bool>,
    base_url: &str,
    if_match: Option<&Condition>,
) -> Result<Option<Value>, ScimError> {
    check_id(id)?;
    let store = store(cx)?;
    let tenant = &cx.tenant.name;
    let request = PatchRequest::parse(body)?;
    let old = store.get(tenant, id).await?.ok_or_else(|| no_group(id))?;
    check_if_match(&old, if_match)?;
    if let Some(delta) = patch::member_changes(&request) {
        check_member_changes(cx, delta.add.len() + delta.remove.len())?;
        Box::pin(claim(cx, &old, if_match)).await?;
        remove_members(cx, id, &delta.remove).await?;
        add_members(cx, id, &delta.add).await?;
    } else {
        let current = if super::ops::touches_members(&request) {
            Some(all_members(cx, id).await?)
        } else {
            None
        };
        let group = patch::applied(
            to_scim(&old, current.as_deref(), base_url),
            &request,
            schema(),
        )?;
        let (name, external) = names(&group)?;
        let delta = match &current {
            Some(current) => {
                let (adds, removes) = difference(current, &member_ids(&group)?);
                check_member_changes(cx, adds.len() + removes.len())?;
                Some((adds, removes))
            }
            None => None,
        };
        Box::pin(claim(cx, &old, if_match)).await?;
        if name != old.display_name || external != old.external_id {
            store
                .update(tenant, id, &name, external.as_deref(), None)
                .await?;
        }
        if let Some(delta) = delta {
            set_members(cx, id, delta).await?;
        }
    }
    match answer {
        Some(with_members) => Ok(Some(get_or(cx, id, old, with_members, base_url).await?)),
        None => Ok(None),
    }
}

/// `DELETE /Groups/{id}`: the group leaves the store; the roles and flags of its former members
/// are recomputed. With `If-Match` listing entity tags, only while the group is at one of
/// them, checked in the delete's own transaction.
pub(super) async fn delete(
    cx: &Ctx<'_>,
    id: &str,
    if_match: Option<&Condition>,
) -> Result<(), ScimError> {
    check_id(id)?;
    let store = store(cx)?;
    let deleted = match if_match {
        Some(condition @ Condition::Tags(_)) => {
            let old = store
                .get(&cx.tenant.name, id)
                .await?
                .ok_or_else(|| no_group(id))?;
            check_if_match(&old, Some(condition))?;
            store.delete_at(&cx.tenant.name, id, old.version).await
        }
        // `*`: any group there is; none is 404 as without it.
        _ => store.delete(&cx.tenant.name, id).await,
    };
    let former = match deleted {
        Ok(former) => former,
        Err(StoreError::NotFound) => return Err(no_group(id)),
        Err(e) => return Err(e.into()),
    };
    cx.record.applied(format!("deleted group {id}"));
    for user in &former {
        sync_user_rules(cx, user).await?;
    }
    Ok(())
}

/// The groups of user `user_id` in the store, as `(id, displayName)`.
pub(super) async fn groups_of_user(
    cx: &Ctx<'_>,
    user_id: &str,
) -> Result<Vec<(String, String)>, ScimError> {
    Ok(store(cx)?
        .groups_of(&cx.tenant.name, user_id)
        .await?
        .into_iter()
        .map(|g| (g.id, g.display_name))
        .collect())
}

/// A user deleted (or deactivated by a delete) through SCIM leaves its held groups when the
/// mapping says so (`remove_deleted_users`); identity providers re-send memberships otherwise.
pub(crate) async fn user_deleted(cx: &Ctx<'_>, user_id: &str) -> Result<(), ScimError> {
    let Some(held) = cx.mapping.held_groups.as_ref() else {
        return Ok(());
    };
    if !held.remove_deleted_users {
        return Ok(());
    }
    let left = store(cx)?.remove_user(&cx.tenant.name, user_id).await?;
    for g in &left {
        MemberEvent::now(MemberChange::Remove, g, user_id).applied(cx);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(f: &str) -> Option<GroupQuery> {
        store_query(&Filter::parse(f).unwrap())
    }

    #[test]
    fn the_filters_identity_providers_send_are_store_queries() {
        let entra = q(r#"id eq "g1" and members[value eq "u7"]"#).unwrap();
        assert_eq!(entra.id.as_deref(), Some("g1"));
        assert_eq!(entra.member.as_deref(), Some("u7"));
        let name = q(r#"displayName eq "Editors""#).unwrap();
        assert_eq!(name.display_name.as_deref(), Some("Editors"));
        let ext = q(r#"externalId eq "abc" and members.value eq "u1""#).unwrap();
        assert_eq!(ext.external_id.as_deref(), Some("abc"));
        assert_eq!(ext.member.as_deref(), Some("u1"));
    }

    #[test]
    fn other_filters_are_the_gateways_to_check() {
        assert!(q(r#"displayName sw "Ed""#).is_none());
        assert!(q(r#"displayName eq "a" or displayName eq "b""#).is_none());
        assert!(
            q(r#"displayName eq "a" and displayName eq "b""#).is_none(),
            "twice"
        );
        assert!(q(r#"members[value eq "u1" or value eq "u2"]"#).is_none());
        assert!(q(r#"not (displayName eq "a")"#).is_none());
    }

    #[test]
    fn member_ids_are_read_once_each_in_order() {
        let body = json!({"members": [{"value": "2"}, {"value": "1"}, {"value": "2"}]});
        assert_eq!(member_ids(&body).unwrap(), ["2", "1"]);
        assert!(member_ids(&json!({"members": "x"})).is_err());
        assert!(member_ids(&json!({"members": [{"display": "x"}]})).is_err());
        assert!(member_ids(&json!({})).unwrap().is_empty());
    }

    #[test]
    fn a_group_without_a_display_name_is_refused() {
        assert_eq!(
            names(&json!({"displayName": "  "})).unwrap_err().status,
            400
        );
        let (n, e) = names(&json!({"displayName": " Editors ", "externalId": "x"})).unwrap();
        assert_eq!((n.as_str(), e.as_deref()), ("Editors", Some("x")));
    }
}
