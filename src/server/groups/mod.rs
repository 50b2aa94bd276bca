//! The SCIM operations on `/Groups`, each a short plan of legacy calls through the mapping's
//! `groups:` section: create, get, list/query, replace (PUT), patch, delete; and each user's
//! read-only `groups` attribute.
//!
//! Membership is changed as deltas, one legacy call (or one read-modify-write of one legacy
//! user) per member added or removed, or, for member ids held as a list on the group, one
//! read-modify-write of that list per request; a group's whole member list is read only to show
//! it (GET,
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
//!
//! Split by concern: [`ops`] (the group operations), [`members`] (membership changes),
//! [`user`] (a user's groups, roles and flags), [`held`] (groups held by the gateway's store,
//! `groups: held_by: gateway`, to which `ops` hands every operation); here, what they share
//! (reading a group).

mod held;
mod members;
mod ops;
mod user;

pub(crate) use held::user_deleted;
pub use ops::{
    create, delete, get, group_version_covers, list, patch, patch_answer_members, replace,
    shows_members, user_version_covers,
};
pub use user::{
    apply_user_rules, fill_user_groups, lists_user_groups, new_user_has_no_groups,
    with_default_role,
};
pub(crate) use user::{groups_read_from_user, user_groups};

use serde_json::Value;

use crate::mapping::{GroupMapping, ResourceMapping};
use crate::scim::list::ListQuery;
use crate::scim::path::AttrPath;
use crate::scim::schema::ResourceSchema;
use crate::scim::ScimError;
use crate::server::context::Ctx;
use crate::server::legacy;
use crate::server::router::{self, Collection};

/// The most members one GET of a group shows. A larger group is shown with its first
/// `MAX_MEMBERS_SHOWN` members (and a warning in the log); read it with
/// `excludedAttributes=members` and change it with PATCH, which never reads the member list.
pub const MAX_MEMBERS_SHOWN: u64 = 10_000;

/// The most members the gateway reads to replace a group's member list (PUT with `members`,
/// or a PATCH that replaces `members`): the delta against the current list needs all of it.
/// A larger group is refused with 400 `tooMany`; PATCH its members by adding and removing.
pub const MAX_MEMBERS_REPLACED: u64 = 100_000;

/// A group as SCIM sees it, plus the legacy record it came from.
pub(super) struct Fetched {
    pub(super) legacy: Value,
    pub(super) scim: Value,
}

/// One member: the user's id, and its display name when the legacy answer had it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Member {
    pub(super) id: String,
    pub(super) display: Option<String>,
}

pub(crate) fn schema() -> &'static ResourceSchema {
    ResourceSchema::group()
}

/// The mapping's groups, or 501 when it maps none.
pub(super) fn mapping<'c>(cx: &'c Ctx<'_>) -> Result<&'c GroupMapping, ScimError> {
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
pub(super) fn check_id(r: &ResourceMapping, id: &str) -> Result<(), ScimError> {
    router::check_id(Collection::Groups, id)?;
    if !r.accepts_id(id) {
        return Err(no_group(id));
    }
    Ok(())
}

pub(super) fn no_group(id: &str) -> ScimError {
    ScimError::not_found(format!("no group with id {id:?}"))
}

/// Reads group `id`: 404 when the legacy API has no group by that very id (see
/// [`legacy::read_record`]).
pub(super) async fn fetch(cx: &Ctx<'_>, id: &str) -> Result<Fetched, ScimError> {
    let r = &mapping(cx)?.resource;
    check_id(r, id)?;
    find(cx, id).await?.ok_or_else(|| no_group(id))
}

/// Reads group `id`; `None` when there is no such group: an id that names none (see
/// [`check_id`]), one the legacy API has no group by, or a hidden group (`groups.hidden`: the
/// identity provider never sees it).
pub(super) async fn find(cx: &Ctx<'_>, id: &str) -> Result<Option<Fetched>, ScimError> {
    let g = mapping(cx)?;
    Ok(find_stored(cx, id)
        .await?
        .filter(|f| !g.is_hidden(id, display_name(&f.scim))))
}

/// [`find`], hidden groups included: the group as the legacy API stores it.
pub(super) async fn find_stored(cx: &Ctx<'_>, id: &str) -> Result<Option<Fetched>, ScimError> {
    let r = &mapping(cx)?.resource;
    if !router::is_valid_id(id) || !r.accepts_id(id) {
        return Ok(None);
    }
    let Some(got) = legacy::read_record(cx, r, id).await? else {
        return Ok(None);
    };
    let scim = r.to_scim(&got.body)?;
    Ok(Some(Fetched {
        legacy: got.body,
        scim,
    }))
}

pub(super) fn display_name(group: &Value) -> Option<&str> {
    group
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Whether a response shaped by `query` shows the core attribute `name` of the schema `urn`:
/// unless excluded, when all default attributes are shown or `attributes` names it.
pub(super) fn shows(query: &ListQuery, name: &str, urn: &str) -> bool {
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
