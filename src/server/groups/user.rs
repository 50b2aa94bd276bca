//! A user's side of groups: its read-only `groups` attribute (through the membership cache, or
//! from the legacy user when membership is held there), and the role and flags the mapping's
//! `groups.roles` / `groups.flags` derive from its groups. Called by `users` through the
//! functions `groups` re-exports; not here: changing a group's members (`members`).

use serde_json::{Map, Value};

use crate::cache::GroupRef;
use crate::mapping::{GroupAttribute, GroupRules, Membership, UserGroup};
use crate::scim::list::ListQuery;
use crate::scim::{urn, ScimError};
use crate::server::context::Ctx;
use crate::server::legacy::{self, Call, SentBody};
use crate::server::recent;
use crate::server::roles;

use super::{display_name, find, held, shows};

/// Recomputes user `user_id`'s role and flags from its groups (the mapping's `groups.roles`
/// and `groups.flags`) and writes them, in one legacy update, only when they changed. Nothing
/// to do without rules, or for a user the legacy API does not know.
pub(super) async fn sync_user_rules(cx: &Ctx<'_>, user_id: &str) -> Result<(), ScimError> {
    if cx.mapping.group_rules().is_none_or(GroupRules::is_empty) {
        return Ok(());
    }
    sync_user_rules_after(cx, user_id, || async { Ok(()) })
        .await
        .map(|_| ())
}

/// Under user `user_id`'s lock: reads the user (`None` when the legacy API has no such user:
/// nothing else is done), makes `change` (a change of its groups), then writes the role and
/// flags its groups now call for, when they changed. One read and at most one update of the
/// legacy user, whatever the change.
pub(super) async fn sync_user_rules_after<T, F, Fut>(
    cx: &Ctx<'_>,
    user_id: &str,
    change: F,
) -> Result<Option<T>, ScimError>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, ScimError>>,
{
    let users = &cx.mapping.users;
    let _serialised = cx.user_locks.of(&cx.tenant.name, user_id).lock().await;
    let Some(got) = legacy::read_record(cx, users, user_id).await? else {
        return Ok(None);
    };
    let changed = change().await?;
    let user = got.body;
    let mut new_user = user.clone();
    if apply_user_rules(cx, user_id, &mut new_user).await? {
        let body = users.update_body(&user, &new_user);
        let call = Call {
            id: Some(user_id),
            body: Some(SentBody::Update(&body)),
            ..Call::new(legacy::update_endpoint(users)?)
        };
        let result = legacy::call_with(cx, users, &call).await;
        recent::forget(cx, user_id).await;
        result.map_err(|e| e.error)?;
        cx.record
            .applied(format!("updated the role and flags of user {user_id}"));
    }
    Ok(Some(changed))
}

/// Gives the legacy user `legacy_user` (of SCIM id `user_id`) the role and flags its groups
/// call for, in place; `true` when that changed it (never without rules). Groups whose name
/// the membership does not carry are read for it, so that rules naming groups by displayName
/// match them.
pub async fn apply_user_rules(
    cx: &Ctx<'_>,
    user_id: &str,
    legacy_user: &mut Value,
) -> Result<bool, ScimError> {
    let Some(rules) = cx.mapping.group_rules().filter(|r| !r.is_empty()) else {
        return Ok(false);
    };
    let mut groups = match groups_of_user(cx, user_id, Some(legacy_user)).await {
        Ok(groups) => groups,
        // The group store cannot answer: the user is written with the role and flags it has
        // (the next change of its groups, or its next sync, puts them right).
        Err(e) if held::is_store_down(&e) => {
            tracing::warn!(user = %user_id, "the group store cannot answer: the role and flags are left as they are");
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    for group in groups.iter_mut().filter(|g| g.display.is_none()) {
        if let Some(f) = find(cx, &group.id).await? {
            group.display = display_name(&f.scim).map(str::to_owned);
        }
    }
    let refs: Vec<UserGroup<'_>> = groups
        .iter()
        .map(|g| UserGroup {
            id: &g.id,
            display: g.display.as_deref(),
        })
        .collect();
    Ok(rules.apply(legacy_user, &refs)?)
}

/// A legacy user about to be created through the gateway: the mapping's default role when the
/// SCIM user carries none. 503 while that role is named and its id not looked up yet.
pub fn with_default_role(cx: &Ctx<'_>, legacy_user: &Value) -> Result<Value, ScimError> {
    match cx.mapping.group_rules() {
        Some(r) if r.roles_pending() && r.needs_default_role(legacy_user) => Err(
            roles::pending_error("creating a user (it is given the default role)"),
        ),
        Some(r) => Ok(r.with_default_role(legacy_user)?),
        None => Ok(legacy_user.clone()),
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
    if held::holds_groups(cx) {
        // One store query per listed user: shown when `attributes` asks for them.
        return !query.attributes.is_empty() && shows_user_groups(query);
    }
    match cx.mapping.groups.as_ref().map(|g| &g.membership) {
        None
        | Some(Membership::Endpoints {
            user_groups: None, ..
        })
        | Some(Membership::GroupAttribute(GroupAttribute {
            user_groups: None, ..
        })) => false,
        Some(Membership::UserAttribute(_)) => shows_user_groups(query),
        Some(Membership::Endpoints { .. } | Membership::GroupAttribute(_)) => {
            !query.attributes.is_empty() && shows_user_groups(query)
        }
    }
}

/// Records that a user the gateway just created is in no group, so that reading it back costs
/// no look-up of its groups.
pub async fn new_user_has_no_groups(cx: &Ctx<'_>, user_id: &str) {
    if matches!(
        cx.mapping.groups.as_ref().map(|g| &g.membership),
        Some(Membership::Endpoints { .. } | Membership::GroupAttribute(_))
    ) {
        cx.membership
            .user_has_no_groups(&cx.tenant.name, user_id)
            .await;
    }
}

/// The groups of user `user_id`; `legacy_user` is its legacy record when the caller has it
/// (membership held on the user is read from it, without a call). Endpoint look-ups go through
/// the membership cache. Empty when the mapping has no way to tell (member endpoints without
/// `user_groups`: then a user's `groups` is not advertised, and the groups of a user are found
/// by [`list`] reading the groups' member lists).
pub(super) async fn groups_of_user(
    cx: &Ctx<'_>,
    user_id: &str,
    legacy_user: Option<&Value>,
) -> Result<Vec<GroupRef>, ScimError> {
    if held::holds_groups(cx) {
        // Boxed, as every held-groups step on a path other mappings share: it adds nothing to
        // their requests' futures (whose depth the worker threads' stacks bound).
        return Ok(Box::pin(held::groups_of_user(cx, user_id))
            .await?
            .into_iter()
            .map(|(id, name)| GroupRef {
                id,
                display: Some(name),
            })
            .collect());
    }
    let Some(g) = &cx.mapping.groups else {
        return Ok(Vec::new());
    };
    let by_call = match &g.membership {
        Membership::Endpoints { user_groups, .. } => user_groups.as_ref(),
        Membership::GroupAttribute(ga) => ga.user_groups.as_ref(),
        Membership::UserAttribute(_) => None,
    };
    match &g.membership {
        Membership::Endpoints { .. } | Membership::GroupAttribute(_) => {
            let Some(ug) = by_call else {
                return Ok(Vec::new());
            };
            let load = move || async move {
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
        Membership::UserAttribute(ua) => {
            let ids = match legacy_user {
                Some(u) => ua.groups_of_user(u),
                None => {
                    let users = &cx.mapping.users;
                    let load =
                        move || async move {
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
    let Some(id) = user.get("id").and_then(Value::as_str) else {
        return Ok(());
    };
    if let Some(groups) = user_groups(cx, id, legacy_user).await? {
        if let Some(obj) = user.as_object_mut() {
            obj.insert("groups".into(), groups);
        }
    }
    Ok(())
}

/// Whether a user's `groups` are read from the legacy user itself (membership held as a field
/// of the user): then [`user_groups`] needs the legacy record.
pub(crate) fn groups_read_from_user(cx: &Ctx<'_>) -> bool {
    !held::holds_groups(cx)
        && cx
            .mapping
            .groups
            .as_ref()
            .is_some_and(|g| matches!(g.membership, Membership::UserAttribute(_)))
}

/// The read-only `groups` of user `id` (`legacy_user`: its legacy record, needed when
/// [`groups_read_from_user`]); `None` when it is in none, when the mapping has no groups, or
/// when the group store cannot answer (the user is then shown without them, never with
/// made-up ones).
pub(crate) async fn user_groups(
    cx: &Ctx<'_>,
    id: &str,
    legacy_user: Option<&Value>,
) -> Result<Option<Value>, ScimError> {
    if cx.mapping.groups.is_none() && !held::holds_groups(cx) {
        return Ok(None);
    }
    let groups = match groups_of_user(cx, id, legacy_user).await {
        Ok(groups) => visible(cx, groups).await?,
        Err(e) if held::is_store_down(&e) => {
            tracing::warn!(user = %id, "the group store cannot answer: the user's groups left out");
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    if groups.is_empty() {
        return Ok(None);
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
    Ok(Some(Value::Array(list)))
}

/// `groups` without the hidden ones (`groups.hidden`): a user's groups never show them. A
/// group hidden by name whose name the membership did not carry is read to tell.
async fn visible(cx: &Ctx<'_>, groups: Vec<GroupRef>) -> Result<Vec<GroupRef>, ScimError> {
    let Some(g) = cx.mapping.groups.as_ref().filter(|g| !g.hidden.is_empty()) else {
        return Ok(groups);
    };
    let mut out = Vec::with_capacity(groups.len());
    for group in groups {
        let hidden = match (&group.display, g.names_groups()) {
            (Some(d), _) => g.is_hidden(&group.id, Some(d)),
            (None, false) => g.is_hidden(&group.id, None),
            // `find` leaves hidden groups out.
            (None, true) => find(cx, &group.id).await?.is_none(),
        };
        if !hidden {
            out.push(group);
        }
    }
    Ok(out)
}
