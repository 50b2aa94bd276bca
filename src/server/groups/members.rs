//! Membership changes: a delta of members added and removed, applied one legacy call (or one
//! read-modify-write of one legacy user, for membership held on the user) per member, or one
//! read-modify-write of the group's member list (membership held on the group), each member a
//! line of the provisioning log. An unknown user in an add is skipped and logged, the rest
//! applied; adding a member twice and removing a non-member are not errors; any other refusal
//! fails the request, saying what was and was not applied. Not here: which delta a request
//! makes (`ops`), the user's role and flags that follow its groups (`user`).
//!
//! What a delta may cost (`docs/security.md`, "Request amplification"): at most `[scim]
//! max_member_changes` members (400 `tooMany` before anything is applied); an id that cannot
//! name a user (the users' `id_format`) or that the legacy API said lately it does not have
//! (`cache::MembershipCache::unknown_user`) is skipped without a legacy call; and the request's
//! budget of legacy calls and time (`record::RequestRecord::spend_call`) is checked before each
//! call and between members.

use std::time::Instant;

use crate::mapping::plan::GroupSelector;
use crate::mapping::{
    Endpoint, GroupAttribute, GroupMapping, MemberCall, Membership, UserAttribute, UserGroup,
};
use crate::scim::patch::MemberDelta;
use crate::scim::ScimError;
use crate::server::context::Ctx;
use crate::server::legacy::{self, Call, Meaning, SentBody, Try};
use crate::server::observe::{MemberChange, MemberEvent, MemberOutcome};
use crate::server::recent;
use crate::server::record;
use crate::server::roles;
use crate::server::router;

use super::user::sync_user_rules;
use super::{display_name, fetch, find};

// Membership changes

/// Applies `delta` to group `id`: one call per member (endpoints), or one read-modify-write of
/// each member (membership on the user). Returns the added ids that were skipped as unknown
/// users. Adding a member twice and removing a non-member are not errors, so a request that
/// failed part way (its error says which changes were not made) is completed by sending it
/// again. Each member change is a line of the provisioning log that says what the identity
/// provider is told: `ok`, `skipped` (no such user; the rest goes on) or `error`.
pub(super) async fn apply_delta(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    id: &str,
    delta: &MemberDelta,
) -> Result<Vec<String>, ScimError> {
    check_member_changes(cx, delta.add.len() + delta.remove.len())?;
    // A change that would derive a role needs the role ids: refused before any write while
    // they are pending.
    if g.rules.roles_pending() && !(delta.add.is_empty() && delta.remove.is_empty()) {
        let derives = g.rules.derives_role_from(id, None)
            || match find(cx, id).await? {
                Some(f) => g.rules.derives_role_from(id, display_name(&f.scim)),
                None => false,
            };
        if derives {
            return Err(roles::pending_error(&format!(
                "changing the members of group {id} (it gives its members a role)"
            )));
        }
    }
    let skipped = match &g.membership {
        Membership::Endpoints { add, remove, .. } => {
            by_member_endpoints(cx, g, add, remove, id, delta).await?
        }
        Membership::GroupAttribute(ga) => in_group_list(cx, g, ga, id, delta).await?,
        Membership::UserAttribute(ua) => on_users(cx, g, ua, id, delta).await?,
    };
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
            || match find(cx, id).await? {
                Some(f) => g.rules.names_group(id, display_name(&f.scim)),
                None => false,
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

/// A delta through the member endpoints: one call per member.
async fn by_member_endpoints(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    add: &MemberCall,
    remove: &Endpoint,
    id: &str,
    delta: &MemberDelta,
) -> Result<Vec<String>, ScimError> {
    let mut skipped = Vec::new();
    // A refusal may mean the group itself is missing: answer 404 then.
    let mut refused = false;
    for (i, member) in delta.add.iter().enumerate() {
        if let Err(e) = cx.record.check_time(&cx.metrics) {
            return Err(not_applied(e, id, &delta.add[i..], &delta.remove));
        }
        let event = MemberEvent::now(MemberChange::Add, id, member);
        let outcome = match add_member(cx, g, add, id, member).await {
            Ok(Added::Now) => {
                event.applied(cx);
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
                event.log(cx, MemberOutcome::Failed(&e));
                return Err(not_applied(e, id, &delta.add[i..], &delta.remove));
            }
        };
        event.log(cx, outcome);
        cx.membership
            .invalidate_users(&cx.tenant.name, [member.as_str()])
            .await;
    }
    for (i, member) in delta.remove.iter().enumerate() {
        if let Err(e) = cx.record.check_time(&cx.metrics) {
            return Err(not_applied(e, id, &[], &delta.remove[i..]));
        }
        let event = MemberEvent::now(MemberChange::Remove, id, member);
        // An id no user can have is in no group: nothing to remove.
        if may_be_user(cx, member) {
            let call = Call {
                id: Some(id),
                member: Some(member),
                ..Call::new(remove)
            };
            match legacy::call_with(cx, &g.resource, &call).await {
                Ok(_) => event.applied(cx),
                // Not a member (or no such user): nothing to remove.
                Err(e) if e.refused() && legacy::meaning(&e.error) == Meaning::NotFound => {
                    refused = true
                }
                Err(e) => {
                    event.log(cx, MemberOutcome::Failed(&e.error));
                    return Err(not_applied(e.error, id, &[], &delta.remove[i..]));
                }
            }
        }
        event.log(cx, MemberOutcome::Ok);
        cx.membership
            .invalidate_users(&cx.tenant.name, [member.as_str()])
            .await;
    }
    if refused {
        fetch(cx, id).await?;
    }
    Ok(skipped)
}

/// A delta on users' group fields: one read-modify-write of each member.
async fn on_users(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    ua: &UserAttribute,
    id: &str,
    delta: &MemberDelta,
) -> Result<Vec<String>, ScimError> {
    let mut skipped = Vec::new();
    let adds = delta.add.len();
    for (i, (change, member)) in delta
        .add
        .iter()
        .map(|m| (MemberChange::Add, m))
        .chain(delta.remove.iter().map(|m| (MemberChange::Remove, m)))
        .enumerate()
    {
        let event = MemberEvent::now(change, id, member);
        let add = event.change == MemberChange::Add;
        let set = match cx.record.check_time(&cx.metrics) {
            Ok(()) => set_user_group(cx, g, ua, member, id, add).await,
            Err(e) => Err(e),
        };
        match set {
            Ok(Set::Done) => {
                event.log(cx, MemberOutcome::Ok);
                event.applied(cx);
            }
            Ok(Set::Kept(why)) => {
                tracing::info!(group = %id, member = %member, "{why}");
                event.log(cx, MemberOutcome::Kept(&why));
            }
            Ok(Set::NoSuchUser) if add => {
                event.skipped(cx);
                skipped.push(member.clone());
            }
            // No such user: nothing to remove.
            Ok(Set::NoSuchUser) => event.log(cx, MemberOutcome::Ok),
            Err(e) => {
                let failed = MemberOutcome::Failed(&e);
                event.log(cx, failed);
                let (adds_left, removes_left) = if i < adds {
                    (&delta.add[i..], &delta.remove[..])
                } else {
                    (&[][..], &delta.remove[i - adds..])
                };
                return Err(not_applied(e, id, adds_left, removes_left));
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

/// Whether `id` may name a user: a valid id of the users' `id_format`. Anything else is no
/// user, and no member call is made for it.
fn may_be_user(cx: &Ctx<'_>, id: &str) -> bool {
    router::is_valid_id(id) && cx.mapping.users.accepts_id(id)
}

/// Whether user `id` may be added to a group: [`may_be_user`], and not a user the legacy API
/// said lately it does not have (no call is made for it then).
fn may_be_added(cx: &Ctx<'_>, id: &str) -> bool {
    may_be_user(cx, id) && !cx.membership.is_unknown_user(&cx.tenant.name, id)
}

/// Refuses a request that would change more than `[scim] max_member_changes` members: 400
/// `tooMany`, before anything is applied.
pub(crate) fn check_member_changes(cx: &Ctx<'_>, changes: usize) -> Result<(), ScimError> {
    cx.record
        .check_member_changes(&cx.metrics, changes, cx.config.scim.max_member_changes)
}

/// Remembers that the legacy API has no user `user_id`: the next member change naming it
/// within the membership cache's TTL makes no legacy call.
async fn note_unknown(cx: &Ctx<'_>, user_id: &str) {
    cx.membership.unknown_user(&cx.tenant.name, user_id).await;
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
    if !may_be_added(cx, member) {
        return Ok(Added::NoSuchUser);
    }
    // A member id the add body cannot carry (`x` where the legacy id is an integer) is no user.
    let Ok(body) = add.add_request_body(member) else {
        return Ok(Added::NoSuchUser);
    };
    let read_first = users.id_format.is_none();
    if read_first && legacy::read_record(cx, users, member).await?.is_none() {
        note_unknown(cx, member).await;
        return Ok(Added::NoSuchUser);
    }
    let call = Call {
        id: Some(group),
        member: Some(member),
        body: body.as_ref().map(SentBody::Json),
        ..Call::new(&add.endpoint)
    };
    let refusal = match legacy::call_with(cx, &g.resource, &call).await {
        Ok(_) => return Ok(Added::Now),
        Err(e) if e.refused() => e.error,
        Err(e) => return Err(e.error),
    };
    if !read_first {
        match legacy::read_record(cx, users, member).await {
            Ok(None) => {
                note_unknown(cx, member).await;
                return Ok(Added::NoSuchUser);
            }
            Ok(Some(_)) => {}
            // The request's budget is spent: that ends it.
            Err(e) if cx.record.budget_spent() => return Err(e),
            // Whether the user exists is not known: the refusal stands.
            Err(_) => return Err(refusal),
        }
    }
    if legacy::meaning(&refusal) == Meaning::Conflict {
        Ok(Added::Already)
    } else {
        Err(refusal)
    }
}

/// What putting a user in a group (or taking it out) came to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Set {
    /// Done, or nothing to do (already in the group, or not in it).
    Done,
    /// No such user.
    NoSuchUser,
    /// Not written, and why: the user's one group (`single: true`) stays, being higher-ranked,
    /// protected or hidden. The identity provider is told success.
    Kept(String),
}

/// Puts legacy user `user_id` in group `group_id` (or takes it out): reads the user, writes
/// its group field back with `If-Match` when the mapping has a version, and reads and writes
/// again when the user changed in between (see [`legacy::until_fresh`]). Writes to one user
/// are serialised inside the gateway.
///
/// A field holding one group (`single: true`) keeps the better of the user's group and the
/// one added ([`UserAttribute::prefers`]: the higher-ranked, else the one added); a current
/// group that is protected or hidden is never replaced. Taking the user out of its group
/// leaves the field empty, or writes the `otherwise:` group (which counts as no group: a user
/// in it moves to any group added, and stays in it when taken out of it): the gateway keeps no
/// state, so it does not know which other groups the identity provider has the user in.
async fn set_user_group(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    ua: &UserAttribute,
    user_id: &str,
    group_id: &str,
    member: bool,
) -> Result<Set, ScimError> {
    let possible = if member {
        may_be_added(cx, user_id)
    } else {
        may_be_user(cx, user_id)
    };
    if !possible {
        return Ok(Set::NoSuchUser);
    }
    let _serialised = cx.user_locks.of(&cx.tenant.name, user_id).lock().await;
    for _ in 0..legacy::STALE_TRIES {
        if let Try::Done(set) = set_user_group_once(cx, g, ua, user_id, group_id, member).await? {
            if set == Set::NoSuchUser {
                note_unknown(cx, user_id).await;
            }
            return Ok(set);
        }
    }
    Err(legacy::kept_changing(&format!("user {user_id}")))
}

/// One try of [`set_user_group`]: read the user, change its group field, write it guarded.
async fn set_user_group_once(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    ua: &UserAttribute,
    user_id: &str,
    group_id: &str,
    member: bool,
) -> Result<Try<Set>, ScimError> {
    let users = &cx.mapping.users;
    // Through the identity check: only the user asked for is ever written.
    let Some(got) = legacy::read_record(cx, users, user_id).await? else {
        return Ok(Try::Done(Set::NoSuchUser));
    };
    let user = got.body;
    let mut groups = ua.groups_of_user(&user);
    let is_in = groups.iter().any(|g| g == group_id);
    if is_in == member {
        return Ok(Try::Done(Set::Done));
    }
    if !member {
        groups.retain(|g| g != group_id);
        if let (true, Some(otherwise)) = (groups.is_empty(), otherwise_id(ua, user_id)?) {
            if otherwise == group_id {
                return Ok(Try::Done(Set::Kept(format!(
                    "the user stays in group {group_id}, which holds the users in no other \
                     group (a user has one group here)"
                ))));
            }
            groups = vec![otherwise];
        }
    } else if let (true, Some(current)) = (ua.single, groups.first()) {
        let in_no_group = match ua.otherwise() {
            Some(_) => otherwise_id(ua, user_id)?.as_deref() == Some(current.as_str()),
            None => false,
        };
        if !in_no_group {
            if let Some(why) = keeps_single(cx, g, ua, current, group_id).await? {
                return Ok(Try::Done(Set::Kept(why)));
            }
        }
        groups = vec![group_id.to_string()];
    } else {
        groups.push(group_id.to_string());
    }
    let new_user = ua.with_groups(&user, &groups)?;
    let body = users.update_body(&user, &new_user);
    let call = Call {
        id: Some(user_id),
        body: Some(SentBody::Update(&body)),
        if_match: ua.if_match(&user),
        ..Call::new(legacy::update_endpoint(users)?)
    };
    let result = legacy::call_with(cx, users, &call).await;
    cx.membership
        .invalidate_users(&cx.tenant.name, [user_id])
        .await;
    recent::forget(cx, user_id).await;
    Try::of_write(result, Set::Done)
}

/// The legacy id of the `otherwise:` group of a single field; `None` without one. A group named
/// by its display name is looked up at start and at each reload (`server::roles`): until it is,
/// a 503 with `Retry-After`.
fn otherwise_id(ua: &UserAttribute, user_id: &str) -> Result<Option<String>, ScimError> {
    match ua.otherwise() {
        None => Ok(None),
        Some(GroupSelector::Id(id)) => Ok(Some(id.clone())),
        Some(GroupSelector::Name(_)) => Err(roles::otherwise_pending_error(&format!(
            "changing the group of user {user_id}"
        ))),
    }
}

/// Why a user whose one group is `current` stays in it rather than move to `added`, or `None`
/// when it moves: `current` is protected or hidden, or ranks higher.
async fn keeps_single(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    ua: &UserAttribute,
    current: &str,
    added: &str,
) -> Result<Option<String>, ScimError> {
    let current_name = group_name_if(cx, current, g.names_groups() || ua.ranks_by_name()).await?;
    let current_ref = UserGroup {
        id: current,
        display: current_name.as_deref(),
    };
    if g.is_protected(current, current_ref.display) || g.is_hidden(current, current_ref.display) {
        return Ok(Some(format!(
            "the user stays in group {current}, which the identity provider may not change, \
             and is not moved to group {added}"
        )));
    }
    let added_name = group_name_if(cx, added, ua.ranks_by_name()).await?;
    let added_ref = UserGroup {
        id: added,
        display: added_name.as_deref(),
    };
    if ua.prefers(added_ref, current_ref) {
        Ok(None)
    } else {
        Ok(Some(format!(
            "the user stays in group {current}, which ranks higher than group {added} (a user \
             has one group here)"
        )))
    }
}

/// What a group read or written as one list of member ids on the group came to: the members
/// added and removed.
#[derive(Debug, Default)]
struct ListChange {
    added: Vec<String>,
    removed: Vec<String>,
}

/// A delta on the member list held on the legacy group (`group_attribute`): one
/// read-modify-write of the whole list, serialised per group inside the gateway and guarded by
/// the group's version when the mapping has one (a group changed in between is read again), so
/// that a member added meanwhile, by the gateway or anyone else, is never lost. Added users are
/// read first (the legacy API takes any id into the list): an unknown one is skipped.
async fn in_group_list(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    ga: &GroupAttribute,
    id: &str,
    delta: &MemberDelta,
) -> Result<Vec<String>, ScimError> {
    let users = &cx.mapping.users;
    let mut skipped = Vec::new();
    let mut adds: Vec<&String> = Vec::new();
    for (i, member) in delta.add.iter().enumerate() {
        if let Err(e) = cx.record.check_time(&cx.metrics) {
            return Err(not_applied(e, id, &delta.add[i..], &delta.remove));
        }
        let known = may_be_added(cx, member)
            && ga.can_hold(member)
            && match legacy::read_record(cx, users, member).await {
                Ok(Some(_)) => true,
                Ok(None) => {
                    note_unknown(cx, member).await;
                    false
                }
                Err(e) => return Err(not_applied(e, id, &delta.add[i..], &delta.remove)),
            };
        if known {
            adds.push(member);
        } else {
            MemberEvent::now(MemberChange::Add, id, member).skipped(cx);
            skipped.push(member.clone());
        }
    }
    let started = Instant::now();
    let written = {
        let _serialised = cx
            .user_locks
            .of(&cx.tenant.name, &group_lock(id))
            .lock()
            .await;
        let mut written = Err(legacy::kept_changing(&format!("group {id}")));
        for _ in 0..legacy::STALE_TRIES {
            match write_list_once(cx, g, ga, id, &adds, &delta.remove).await {
                Ok(Try::Stale) => continue,
                Ok(Try::Done(change)) => written = Ok(change),
                Err(e) => written = Err(e),
            }
            break;
        }
        written
    };
    let log_all = |outcome: MemberOutcome<'_>| {
        let adds = adds.iter().map(|m| (MemberChange::Add, m.as_str()));
        let removes = delta
            .remove
            .iter()
            .map(|m| (MemberChange::Remove, m.as_str()));
        for (change, member) in adds.chain(removes) {
            MemberEvent {
                change,
                group_id: id,
                member,
                started,
            }
            .log(cx, outcome);
        }
    };
    match written {
        Ok(change) => {
            log_all(MemberOutcome::Ok);
            let added = change.added.iter().map(|m| (MemberChange::Add, m));
            let removed = change.removed.iter().map(|m| (MemberChange::Remove, m));
            for (what, m) in added.chain(removed) {
                MemberEvent::now(what, id, m).applied(cx);
            }
            let changed: Vec<&str> = change
                .added
                .iter()
                .chain(&change.removed)
                .map(String::as_str)
                .collect();
            cx.membership
                .invalidate_users(&cx.tenant.name, changed)
                .await;
            Ok(skipped)
        }
        Err(e) => {
            log_all(MemberOutcome::Failed(&e));
            let adds: Vec<String> = adds.iter().map(|m| m.to_string()).collect();
            Err(not_applied(e, id, &adds, &delta.remove))
        }
    }
}

/// One try of [`in_group_list`]: read the group, change its list (`adds` appended when not in
/// it, `removes` taken out), write it guarded by the group's version.
async fn write_list_once(
    cx: &Ctx<'_>,
    g: &GroupMapping,
    ga: &GroupAttribute,
    id: &str,
    adds: &[&String],
    removes: &[String],
) -> Result<Try<ListChange>, ScimError> {
    let r = &g.resource;
    let Some(got) = legacy::read_record(cx, r, id).await? else {
        return Err(super::no_group(id));
    };
    let current = ga.members_of(&got.body)?;
    let mut next = current.clone();
    let mut change = ListChange::default();
    for m in adds {
        if !next.contains(m) {
            next.push(m.to_string());
            change.added.push(m.to_string());
        }
    }
    next.retain(|m| {
        let gone = removes.contains(m);
        if gone {
            change.removed.push(m.clone());
        }
        !gone
    });
    if change.added.is_empty() && change.removed.is_empty() {
        return Ok(Try::Done(change));
    }
    let new_group = ga.with_members(&got.body, &next)?;
    let body = r.update_body(&got.body, &new_group);
    let call = Call {
        body: Some(SentBody::Update(&body)),
        if_match: ga.if_match(&got.body),
        ..Call::on(
            match &ga.update {
                Some(own) => own,
                None => legacy::update_endpoint(r)?,
            },
            id,
        )
    };
    Try::of_write(legacy::call_with(cx, r, &call).await, change)
}

/// The key of group `id`'s member list in the membership locks (which also serialise the
/// writes to each user's groups): one write of the list at a time.
pub(super) fn group_lock(id: &str) -> String {
    format!("group-members/{id}")
}

/// [`group_name`] when `needed`, else `None` without a legacy call.
async fn group_name_if(cx: &Ctx<'_>, id: &str, needed: bool) -> Result<Option<String>, ScimError> {
    if needed {
        group_name(cx, id).await
    } else {
        Ok(None)
    }
}

/// The display name of group `id`, read as the legacy API stores it (hidden groups too); `None`
/// when there is no such group or it has none.
async fn group_name(cx: &Ctx<'_>, id: &str) -> Result<Option<String>, ScimError> {
    Ok(super::find_stored(cx, id)
        .await?
        .and_then(|f| display_name(&f.scim).map(str::to_owned)))
}
