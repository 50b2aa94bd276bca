//! Membership changes: a delta of members added and removed, applied one legacy call (or one
//! read-modify-write of one legacy user, for membership held on the user) per member, each a
//! line of the provisioning log. An unknown user in an add is skipped and logged, the rest
//! applied; adding a member twice and removing a non-member are not errors; any other refusal
//! fails the request, saying what was and was not applied. Not here: which delta a request
//! makes (`ops`), the user's role and flags that follow its groups (`user`).

use std::time::Instant;

use crate::mapping::{GroupMapping, MemberCall, Membership, UserAttribute};
use crate::scim::patch::MemberDelta;
use crate::scim::ScimError;
use crate::server::context::Ctx;
use crate::server::legacy::{self, Call, LegacyAnswer, Meaning};
use crate::server::observe::{MemberChange, MemberEvent, MemberOutcome};
use crate::server::record;
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
    let mut skipped = Vec::new();
    match &g.membership {
        Membership::Endpoints { add, remove, .. } => {
            // A refusal may mean the group itself is missing: answer 404 then.
            let mut refused = false;
            for (i, member) in delta.add.iter().enumerate() {
                let event = MemberEvent {
                    change: MemberChange::Add,
                    group_id: id,
                    member,
                    started: Instant::now(),
                };
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
                let event = MemberEvent {
                    change: MemberChange::Remove,
                    group_id: id,
                    member,
                    started: Instant::now(),
                };
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
                let event = MemberEvent {
                    change,
                    group_id: id,
                    member,
                    started: Instant::now(),
                };
                let add = event.change == MemberChange::Add;
                match set_user_group(cx, ua, member, id, add).await {
                    Ok(true) => {
                        event.log(cx, MemberOutcome::Ok);
                        cx.record.applied(if add {
                            format!("added user {member} to group {id}")
                        } else {
                            format!("removed user {member} from group {id}")
                        });
                    }
                    Ok(false) if add => {
                        tracing::warn!(group = %id, member = %member, "unknown member skipped");
                        let skip = MemberOutcome::Skipped;
                        event.log(cx, skip);
                        skipped.push(member.clone());
                    }
                    // No such user: nothing to remove.
                    Ok(false) => event.log(cx, MemberOutcome::Ok),
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
    if legacy::meaning(&refusal) == Meaning::Conflict {
        Ok(Added::Already)
    } else {
        Err(refusal)
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
            Err(e) if e.answer() == LegacyAnswer::PreconditionFailed && attempt < 2 => continue,
            Err(e) => return Err(e.error),
        }
    }
}
