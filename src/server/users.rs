//! The SCIM operations on `/Users`, each a short plan of legacy calls through the mapping:
//! create, get, list/query, replace (PUT), patch, delete. The SCIM semantics live in
//! `crate::scim`, the translation in `crate::mapping`; this module only sequences them.

use bytes::Bytes;
use serde_json::{json, Value};

use crate::mapping::legacy_path::LegacyItem;
use crate::mapping::{AfterEmpty, Draft, OnDelete, ResourceMapping, UpdateMode};
use crate::scim::etag::{self, Condition};
use crate::scim::list::{self, ListQuery};
use crate::scim::patch::{self, PatchRequest};
use crate::scim::schema::ResourceSchema;
use crate::scim::{json_text, urn, ScimError};
use crate::server::context::Ctx;
use crate::server::gateway::{location_of, set_group_refs, set_location};
use crate::server::groups;
use crate::server::legacy::{self, Call, Created, LegacyAnswer, LegacyResponse, SentBody};
use crate::server::recent;
use crate::server::record;
use crate::server::router::{self, Collection};
use crate::server::select::{self, Selection};
use crate::server::wire::Body;

/// A user as SCIM sees it, plus the legacy record it came from.
struct Fetched {
    legacy: Value,
    scim: Value,
    /// Taken from the record cache rather than read now: may be out of date.
    cached: bool,
}

/// The full SCIM User schema: requests are read against it, so a known SCIM attribute the
/// mapping does not store is ignored rather than refused (IdPs send their default attribute
/// sets), while an attribute no schema defines is refused.
fn full_schema() -> &'static ResourceSchema {
    ResourceSchema::user()
}

fn resource<'c>(cx: &'c Ctx<'_>) -> &'c ResourceMapping {
    &cx.mapping.users
}

/// Validates a SCIM id from a URL before it goes anywhere near the legacy API: an id that
/// does not have the mapping's `id_format` names no user.
fn check_id(r: &ResourceMapping, id: &str) -> Result<(), ScimError> {
    router::check_id(Collection::Users, id)?;
    if !r.accepts_id(id) {
        return Err(no_user(id));
    }
    Ok(())
}

/// The 404 for a user id the legacy API does not know (or that was deleted through SCIM).
fn no_user(id: &str) -> ScimError {
    ScimError::not_found(format!("no user with id {id:?}"))
}

/// Reads user `id`: 404 when the legacy API has no user by that very id (see
/// [`legacy::read_record`]).
async fn fetch(cx: &Ctx<'_>, id: &str) -> Result<Fetched, ScimError> {
    let r = resource(cx);
    check_id(r, id)?;
    let got = legacy::read_record(cx, r, id)
        .await?
        .ok_or_else(|| no_user(id))?;
    let scim = r.to_scim(&got.body)?;
    remember_read(cx, id, scim.get("userName"), got.raw).await;
    Ok(Fetched {
        legacy: got.body,
        scim,
        cached: false,
    })
}

/// What a read of user `id` leaves behind: its userName for the request's log line, and its
/// record's bytes (`raw`) in the record cache when the mapping's updates are guarded by
/// `If-Match`.
async fn remember_read(cx: &Ctx<'_>, id: &str, user_name_value: Option<&Value>, raw: Bytes) {
    if let Some(name) = user_name(user_name_value) {
        cx.record.set_user_name(name);
    }
    if resource(cx).endpoints.update_if_match {
        recent::remember(cx, id, raw);
    }
}

/// The user as the read half of a write: the record the gateway read or wrote a moment ago when
/// the write is guarded by `If-Match` (a record changed since is refused by the legacy API, and
/// [`modify_user`] reads it again), else a fresh read. A cached record is used only when it is
/// the record asked for (its id, as the mapping reads it, is `id`).
async fn fetch_for_write(cx: &Ctx<'_>, id: &str) -> Result<Fetched, ScimError> {
    let r = resource(cx);
    check_id(r, id)?;
    if r.endpoints.update_if_match && !reads_first(r) {
        let cached = cx.records.get(&cx.tenant.name, id).await;
        // A record that no longer parses, or is another one, is simply read again.
        if let Some(legacy) = cached.and_then(|raw| json_text::parse_value(&raw).ok()) {
            if !r.is_deleted(&legacy) && r.legacy_id(&legacy).as_deref() == Some(id) {
                let scim = r.to_scim(&legacy)?;
                if let Some(name) = user_name(scim.get("userName")) {
                    cx.record.set_user_name(name);
                }
                return Ok(Fetched {
                    legacy,
                    scim,
                    cached: true,
                });
            }
        }
    }
    fetch(cx, id).await
}

/// Whether a write of a user must see the record now (`exists: read_first` on the update or on
/// the `active` endpoints): the legacy API answers success for an id it does not have, so a
/// record cached a moment ago is no proof that it is still there.
fn reads_first(r: &ResourceMapping) -> bool {
    let e = &r.endpoints;
    [
        e.update.as_ref(),
        e.deactivate.as_ref(),
        e.reactivate.as_ref(),
    ]
    .into_iter()
    .flatten()
    .any(|endpoint| endpoint.record.read_first)
}

/// A user as a write answers it.
pub enum UserAnswer<'c> {
    /// The translation of the record the legacy API answered (or was sent), not yet a value:
    /// it can be written out as text.
    Drafted(Draft<'c>),
    /// The user as a value: as it was, when nothing was written; as read again after a write.
    Whole(Value),
}

impl UserAnswer<'_> {
    /// The user as a JSON value.
    pub fn into_value(self) -> Value {
        match self {
            UserAnswer::Drafted(draft) => draft.into_value(),
            UserAnswer::Whole(value) => value,
        }
    }
}

/// What a write of a user came to.
enum Written<'c> {
    /// The user as stored afterwards (`Null` after a delete).
    User(UserAnswer<'c>),
    /// Nothing was written because the record the write was based on is out of date (the
    /// legacy API answered 412 to the `If-Match` of a guarded update), or may be (a cached
    /// record that the write would leave as it is: the legacy one may differ): read it again.
    Stale,
}

/// Reads user `id` (see [`fetch_for_write`]), makes the new user from it with `change` (`None`:
/// nothing to write; `change` may take the fetched `scim` to make the new user of it, and then
/// has to return one), and writes it; when the legacy record changed in the meantime, reads it
/// afresh and applies `change` again (up to three tries in all, for writers racing on one
/// user), so that the write never overwrites what it did not see.
///
/// With the client's `If-Match` (`if_match`), each try first checks it against the record the
/// write is based on: 412 when no tag it lists is that record's version. A record from the
/// record cache is read again before a refusal (it may be older than the client's tag), and a
/// write the legacy API refuses for its own `If-Match` is retried only while the client's
/// condition still holds on the record read again — a specific tag then no longer does, so
/// the legacy API's 412 becomes the client's.
async fn modify_user<'c>(
    cx: &'c Ctx<'_>,
    id: &str,
    mark_deleted: bool,
    if_match: Option<&Condition>,
    change: impl Fn(&mut Fetched) -> Result<Option<Value>, ScimError>,
) -> Result<UserAnswer<'c>, ScimError> {
    let mut old = fetch_for_write(cx, id).await?;
    for _ in 0..3 {
        if let Err(refused) = etag::check_if_match(if_match, &old.scim, "user") {
            if !old.cached {
                return Err(refused);
            }
            old = Box::pin(fetch(cx, id)).await?;
            etag::check_if_match(if_match, &old.scim, "user")?;
        }
        let was_active = active(&old.scim);
        let Some(new_user) = change(&mut old)? else {
            return Ok(UserAnswer::Whole(old.scim));
        };
        match write_user(cx, id, old, was_active, &new_user, mark_deleted).await? {
            Written::User(user) => return Ok(user),
            Written::Stale => old = fetch(cx, id).await?,
        }
    }
    Err(ScimError::new(
        409,
        None,
        "the user kept changing in the legacy API while it was being updated; retry",
    ))
}

/// `GET /Users/{id}`
/// With groups mapped, the user's read-only `groups` are filled (through the membership cache,
/// or from the legacy user itself when membership is held there).
pub async fn get(cx: &Ctx<'_>, id: &str) -> Result<Value, ScimError> {
    let found = fetch(cx, id).await?;
    let mut user = found.scim;
    groups::fill_user_groups(cx, &mut user, Some(&found.legacy)).await?;
    Ok(user)
}

/// A user answered as JSON text written straight from the legacy record's bytes, and its
/// version (the `ETag`).
pub struct UserText {
    pub body: Vec<u8>,
    pub version: Option<String>,
    /// Its `meta.location` (a create's `Location` header).
    pub location: Option<String>,
}

/// The first capacity of a user written out: a usual one (about 1 KB) fits without growing.
const USER_TEXT_BUFFER: usize = 2048;

/// `GET /Users/{id}` as [`get`] and the default shaping of its answer (`meta.location`, the
/// groups' `$ref`), with the legacy record read by the mapping's compiled reader and the user
/// written out as text: no JSON tree is built on either side. `None` when this request cannot
/// be answered so, and [`get`] answers it: `attributes` or `excludedAttributes` asked, a
/// mapping that can show an attribute the default projection removes, groups read from the
/// legacy user, or records that cannot be read so ([`legacy::read_captured`]).
pub async fn get_text(
    cx: &Ctx<'_>,
    id: &str,
    query: &ListQuery,
    base: &str,
) -> Result<Option<UserText>, ScimError> {
    let r = resource(cx);
    if !shown_as_drafted(cx, query) || groups::groups_read_from_user(cx) {
        return Ok(None);
    }
    check_id(r, id)?;
    let got = match legacy::read_captured(cx, r, id).await {
        Ok(Some(got)) => got,
        Ok(None) => return Err(no_user(id)),
        Err(None) => return Ok(None),
        Err(Some(e)) => return Err(e),
    };
    let mut record = got.record;
    let user = r.draft_taking(&mut record)?;
    remember_read(cx, id, user.get("userName"), got.raw).await;
    let groups = groups::user_groups(cx, id, None).await?;
    Ok(Some(answer_text(&user, groups, base)))
}

/// Whether a user answered for `query` is the user as the translation drafts it, with only
/// what [`write_answer`] adds: neither `attributes` nor `excludedAttributes` asked, and no
/// attribute the mapping can show that the default projection would remove.
pub fn shown_as_drafted(cx: &Ctx<'_>, query: &ListQuery) -> bool {
    query.attributes.is_empty()
        && query.excluded_attributes.is_empty()
        && !resource(cx).plan.shows_hidden
}

/// A drafted user written out as answered by default, with its `groups` (a write's answer
/// carries none), for a `query` that [`shown_as_drafted`] accepts; and its version.
pub fn answer_text(user: &Draft<'_>, groups: Option<Value>, base: &str) -> UserText {
    let mut body = Vec::with_capacity(USER_TEXT_BUFFER);
    let location = write_answer(&mut body, user, groups, base);
    UserText {
        body,
        location,
        version: user
            .get_in("meta", "version")
            .and_then(Value::as_str)
            .map(str::to_owned),
    }
}

/// Writes `user` as an answer shows it by default: its `groups` (with their `$ref`s) after its
/// own attributes, and its `meta.location` (returned).
fn write_answer(
    out: &mut Vec<u8>,
    user: &Draft,
    mut groups: Option<Value>,
    base: &str,
) -> Option<String> {
    if let Some(Value::Array(list)) = &mut groups {
        set_group_refs(list, base);
    }
    let extra = groups.as_ref().map(|g| ("groups", g));
    let location = user
        .get("id")
        .and_then(Value::as_str)
        .map(|id| location_of(base, "Users", id));
    user.write_json(out, extra.as_slice(), location.as_deref());
    location
}

/// Turns a POST/PUT body into a normalised SCIM user: attribute names in their canonical case,
/// dotted and URN-qualified keys resolved, string booleans converted — the same rules as a
/// PATCH `replace` without a path, applied to an empty user. Read-only attributes the client
/// echoes back (`id`, `meta`, `groups`) are dropped.
fn normalise_body(body: Value) -> Result<Value, ScimError> {
    let Value::Object(mut attrs) = body else {
        return Err(ScimError::invalid_syntax(
            "the request body must be a JSON object (a SCIM User)",
        ));
    };
    attrs.retain(|k, v| {
        let kept_by_server = ["schemas", "id", "meta", "groups"]
            .iter()
            .any(|name| k.eq_ignore_ascii_case(name));
        !kept_by_server && !v.is_null()
    });
    let mut user = json!({ "schemas": [urn::USER] });
    patch::apply_attributes(&mut user, &attrs, full_schema())?;
    Ok(user)
}

fn user_name(user_name: Option<&Value>) -> Option<&str> {
    user_name
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn active(user: &Value) -> Option<bool> {
    user.get("active").and_then(Value::as_bool)
}

/// `POST /Users`
///
/// When the mapping says the legacy API refuses a taken userName itself
/// (`users.endpoints.create.unique: userName`), the create is sent at once, with no look-up and
/// no lock: one legacy call for a new user; the userName is looked up only when the legacy API
/// refuses it ([`taken`]). Otherwise the userName is looked up first, under the lock of that
/// userName alone.
pub async fn create<'c>(cx: &'c Ctx<'_>, body: Value) -> Result<UserAnswer<'c>, ScimError> {
    let user = normalise_body(body)?;
    let Some(name) = user_name(user.get("userName")) else {
        return Err(ScimError::invalid_value(
            "userName is required and must be a non-empty string",
        ));
    };
    cx.tenant.check_domains(&user, None)?;
    let r = resource(cx);
    // `check` refuses a users section without a create endpoint.
    let Some(create) = &r.endpoints.create else {
        return Err(ScimError::new(
            403,
            None,
            "users are not created through SCIM here: the mapping has no \
             users.endpoints.create",
        ));
    };
    let legacy_user = groups::with_default_role(cx, &r.to_legacy(&user, None)?)?;
    let new = NewUser {
        user: &user,
        name,
        legacy: &legacy_user,
        create,
    };
    let key = format!("Users/{}", name.to_lowercase());
    if r.endpoints.create_unique {
        return match Box::pin(send_create(cx, &new)).await? {
            Sent::Made(made) => Ok(made),
            Sent::Taken(refusal) => Box::pin(taken(cx, &new, &key, refusal)).await,
        };
    }
    // A POST the IdP sends again because it lost the answer must not create the user twice:
    // the creates of one userName wait for each other, and each looks the userName up first.
    let _one_at_a_time = cx.create_locks.lock(&cx.tenant.name, &key).await;
    // And across replicas, through the group store when there is one (PostgreSQL). Boxed: the
    // store's future adds nothing to a create's for the mappings without a store.
    let _everywhere = match &cx.store {
        Some(store) => Some(Box::pin(store.lock(&cx.tenant.name, &key)).await?),
        None => None,
    };
    if let Some(restored) = Box::pin(holder_of(cx, &user, name)).await? {
        return Ok(UserAnswer::Whole(restored));
    }
    match Box::pin(send_create(cx, &new)).await? {
        Sent::Made(made) => Ok(made),
        Sent::Taken(refusal) => Err(refusal),
    }
}

/// A user to create: the SCIM user, its userName, the legacy record and the create endpoint.
struct NewUser<'a> {
    user: &'a Value,
    name: &'a str,
    legacy: &'a Value,
    create: &'a crate::mapping::Endpoint,
}

/// What the create call came to.
enum Sent<'c> {
    /// The user created, as SCIM sees it.
    Made(UserAnswer<'c>),
    /// The legacy API refused the create as a taken name (the mapping's error rules made its
    /// answer a 409 `uniqueness`): that SCIM error.
    Taken(ScimError),
}

/// Looks userName `name` up: 409 naming the live user that holds it; the user restored, when
/// it is one the gateway marked deleted (`on_delete: deactivate`); `None` when nobody holds it.
async fn holder_of(cx: &Ctx<'_>, user: &Value, name: &str) -> Result<Option<Value>, ScimError> {
    let r = resource(cx);
    let found = select::find_equal(cx, r, full_schema(), "userName", name).await?;
    let found = legacy::in_full(cx, r, found).await?;
    if let Some((_, taken)) = found.iter().find(|(legacy, _)| !r.is_deleted(legacy)) {
        let id = taken.get("id").and_then(Value::as_str).unwrap_or_default();
        return Err(ScimError::uniqueness(format!(
            "userName {name:?} is already taken by user {id}"
        )));
    }
    // The userName belongs to a user the gateway deactivated and marked deleted: bring that one
    // back with the new attributes rather than refuse the IdP. One the legacy API deleted itself
    // (on_delete: delete, a soft delete) stays deleted: a new user is created.
    if matches!(r.on_delete, OnDelete::Deactivate) {
        return restore_deleted(cx, user, found).await;
    }
    Ok(None)
}

/// The legacy API refused the create of `new` as a taken userName (`refusal`): the user that
/// holds it is looked up, to name it in the 409, or to restore it when the gateway marked it
/// deleted. Under the lock of that userName (and the store's, across replicas), so that two
/// creates refused at once do not both restore it. When nobody holds the userName (the
/// refusal was about another unique field, or the holder is gone since), the refusal stands.
async fn taken<'c>(
    cx: &'c Ctx<'_>,
    new: &NewUser<'_>,
    key: &str,
    refusal: ScimError,
) -> Result<UserAnswer<'c>, ScimError> {
    let _one_at_a_time = cx.create_locks.lock(&cx.tenant.name, key).await;
    let _everywhere = match &cx.store {
        Some(store) => Some(Box::pin(store.lock(&cx.tenant.name, key)).await?),
        None => None,
    };
    match holder_of(cx, new.user, new.name).await? {
        Some(restored) => Ok(UserAnswer::Whole(restored)),
        None => Err(refusal),
    }
}

/// Sends the create call of `new`, then (`active: false` through a dedicated endpoint) its
/// deactivation, and fills the caches.
async fn send_create<'c>(cx: &'c Ctx<'_>, new: &NewUser<'_>) -> Result<Sent<'c>, ScimError> {
    let r = resource(cx);
    let NewUser {
        user,
        name,
        legacy: legacy_user,
        create,
    } = *new;
    let call = Call {
        body: Some(SentBody::Json(legacy_user)),
        ..Call::new(create)
    };
    let created = match legacy::call_for_record(cx, r, &call).await {
        Ok(created) => created,
        Err(e) if e.accepted() => return Err(undo_unreadable_create(cx, name, e.error).await),
        Err(e) if is_taken(&e.error) => return Ok(Sent::Taken(e.error)),
        Err(e) => return Err(e.error),
    };
    // The record created: answered (200 or 201), or named by the answer's Location header.
    let made = match legacy::created_record(cx, r, create, created).await {
        Ok(made) => made,
        Err(e) => return Err(undo_unreadable_create(cx, name, e).await),
    };
    let id = made.id;
    cx.record.set_created_id(&id);
    if let Some(answered) = made.scim.get("userName").and_then(Value::as_str) {
        cx.record.set_user_name(answered);
    }
    cx.record.applied(format!("created user {id}"));
    groups::new_user_has_no_groups(cx, &id).await;
    let mut scim = made.scim;
    if !r.writes_active() && active(user) == Some(false) {
        match set_active_by_endpoint(cx, &id, false).await {
            Ok(answer) => {
                if let Some(record) = answer {
                    scim = r.draft_taking(&mut LegacyItem::Whole(record))?;
                }
            }
            Err(e) => {
                let e = record::not_applied(e, &format!("deactivating user {id}"));
                return Err(legacy::undo_create(
                    cx,
                    Created {
                        resource: r,
                        what: "user",
                        id: &id,
                    },
                    e,
                    retire(cx, &id),
                )
                .await);
            }
        }
    } else if r.endpoints.update_if_match {
        recent::remember(cx, &id, made.raw);
    }
    Ok(Sent::Made(UserAnswer::Drafted(scim)))
}

/// Whether the mapping's error rules made a refused create a taken name (409 `uniqueness`).
fn is_taken(e: &ScimError) -> bool {
    e.status == 409 && e.scim_type == Some(crate::scim::ScimType::Uniqueness)
}

/// The legacy API accepted the create of user `name` but its answer cannot be used (`e` says
/// why): the user may have been created all the same. It is looked up by its userName (the
/// create lock is held, and no live user had that name a moment ago; or the legacy API refuses
/// a taken userName itself, so a live user of that name is the one it just created) and undone,
/// so that the IdP's retry of the POST creates it afresh, or finds it. Returns the 502 that says
/// so.
async fn undo_unreadable_create(cx: &Ctx<'_>, name: &str, e: ScimError) -> ScimError {
    let r = resource(cx);
    let create = legacy::NamedCreate {
        what: "user",
        attr: "userName",
        name,
    };
    let found = match select::find_equal(cx, r, full_schema(), create.attr, name).await {
        Ok(found) => legacy::in_full(cx, r, found).await,
        Err(e) => Err(e),
    };
    match legacy::created_anyway(r, &create, e, found) {
        Ok((id, e)) => {
            cx.record.applied(format!("created user {id}"));
            legacy::undo_create(
                cx,
                Created {
                    resource: r,
                    what: "user",
                    id: &id,
                },
                e,
                retire(cx, &id),
            )
            .await
        }
        Err(e) => e,
    }
}

/// Writes `user` over the first of the `found` legacy users (those with its userName) that
/// carries the deleted marker. `None` when there is none, or when writing `user` would not
/// clear the marker.
async fn restore_deleted(
    cx: &Ctx<'_>,
    user: &Value,
    found: Vec<(Value, Value)>,
) -> Result<Option<Value>, ScimError> {
    let r = resource(cx);
    for (legacy_user, scim) in found {
        if !r.is_deleted(&legacy_user) {
            continue;
        }
        let Some(id) = r.legacy_id(&legacy_user) else {
            continue;
        };
        if r.is_deleted(&r.to_legacy(user, Some(&legacy_user))?) {
            return Ok(None);
        }
        let old = Fetched {
            legacy: legacy_user,
            scim,
            cached: false,
        };
        tracing::info!(id = %id, "a user deleted through SCIM is provisioned again: restored");
        let was_active = active(&old.scim);
        return match write_user(cx, &id, old, was_active, user, false).await? {
            Written::User(restored) => Ok(Some(restored.into_value())),
            Written::Stale => Err(ScimError::new(
                409,
                None,
                "the deleted user changed in the legacy API while it was being restored; retry",
            )),
        };
    }
    Ok(None)
}

/// Calls the mapping's deactivate/reactivate endpoint. Returns the legacy user when the answer
/// carries one.
async fn set_active_by_endpoint(
    cx: &Ctx<'_>,
    id: &str,
    on: bool,
) -> Result<Option<Value>, ScimError> {
    let r = resource(cx);
    let endpoint = if on {
        &r.endpoints.reactivate
    } else {
        &r.endpoints.deactivate
    };
    let Some(endpoint) = endpoint else {
        return Err(ScimError::mutability(
            "this gateway's mapping cannot change `active` for this legacy API",
        ));
    };
    let LegacyResponse { body, .. } = legacy::call(cx, r, &Call::on(endpoint, id)).await?;
    Ok((r.legacy_id(&body).as_deref() == Some(id)).then_some(body))
}

/// Writes `new_user` over the legacy record `old`, with as few calls as possible: no update
/// call when nothing the mapping stores changed, and `active` through its dedicated endpoints
/// when the mapping says so; with `mark_deleted`, the mapping's deleted marker is written in the
/// same update. A guarded update (`if_match: true`) sends `old`'s version as `If-Match`.
/// `was_active` is `old`'s `active`, read before its SCIM user was made the new one.
async fn write_user<'c>(
    cx: &'c Ctx<'_>,
    id: &str,
    old: Fetched,
    was_active: Option<bool>,
    new_user: &Value,
    mark_deleted: bool,
) -> Result<Written<'c>, ScimError> {
    let r = resource(cx);
    // What the update needs of the record as read is taken before the writes go into it: its
    // version (the update's `If-Match`) and, for a partial update, the record itself (the body
    // is what changed). The writes then go into the record read, not a copy, and say whether
    // they changed it.
    let if_match = r.update_if_match(&old.legacy);
    let read = (r.endpoints.update_mode == UpdateMode::Partial).then(|| old.legacy.clone());
    let (mut new_legacy, mut changed) = r.to_legacy_over(new_user, old.legacy)?;
    if !mark_deleted {
        // Each write of the user is its sync: role and flags follow its groups, so a changed
        // table applies now.
        changed |= Box::pin(groups::apply_user_rules(cx, id, &mut new_legacy)).await?;
    }
    if mark_deleted {
        let marked = r.mark_deleted(&new_legacy).ok_or_else(|| {
            ScimError::bad_gateway("the legacy user has no place for the mapping's deleted marker")
        })?;
        changed |= !crate::scim::same_json(&marked, &new_legacy);
        new_legacy = marked;
    }
    let mut stale = false;
    // The record as the legacy API sent it after the write, for the record cache.
    let mut written_raw = None;
    let unchanged = !changed;
    let mut legacy_now = if unchanged {
        if old.cached {
            return Ok(Written::Stale);
        }
        LegacyItem::Whole(new_legacy)
    } else {
        // (A full update's body does not read the record as read.)
        let body = r.update_body(read.as_ref().unwrap_or(&Value::Null), &new_legacy);
        let call = Call {
            id: Some(id),
            body: Some(SentBody::Update(&body)),
            if_match,
            ..Call::new(legacy::update_endpoint(r)?)
        };
        let guarded = call.if_match.is_some();
        match legacy::call_for_record(cx, r, &call).await {
            // The record written, as the legacy API answers it (another record is no answer:
            // the user is read again, through the identity check).
            Ok(answer) if r.read_id(&answer.record).as_deref() == Some(id) => {
                cx.record.applied(format!("updated user {id}"));
                written_raw = Some(answer.raw);
                answer.record
            }
            // No record in the answer (204, an empty body): the record as written, when the
            // mapping says the legacy API stores it so (`after_empty_answer: as_written`).
            Ok(answer)
                if answer.empty && r.endpoints.update_after_empty == AfterEmpty::AsWritten =>
            {
                cx.record.applied(format!("updated user {id}"));
                LegacyItem::Whole(new_legacy)
            }
            // Else it is read again, through the identity check.
            Ok(_) => {
                cx.record.applied(format!("updated user {id}"));
                stale = true;
                LegacyItem::Whole(new_legacy)
            }
            Err(e) if guarded && e.answer() == LegacyAnswer::PreconditionFailed => {
                recent::forget(cx, id).await;
                return Ok(Written::Stale);
            }
            Err(e) => return Err(e.error),
        }
    };
    let mut changed_active = false;
    if !r.writes_active() {
        if let Some(wanted) = active(new_user) {
            if was_active != Some(wanted) {
                // The record changes (again): what the cache holds is out of date.
                written_raw = None;
                changed_active = true;
                let (doing, done) = if wanted {
                    ("reactivating", "reactivated")
                } else {
                    ("deactivating", "deactivated")
                };
                let answer = set_active_by_endpoint(cx, id, wanted)
                    .await
                    .map_err(|e| record::not_applied(e, &format!("{doing} user {id}")))?;
                cx.record.applied(format!("{done} user {id}"));
                match answer {
                    Some(body) => {
                        legacy_now = LegacyItem::Whole(body);
                        stale = false;
                    }
                    None => stale = true,
                }
            }
        }
    }
    match written_raw {
        Some(raw) if !mark_deleted && !stale && r.endpoints.update_if_match => {
            recent::remember(cx, id, raw)
        }
        // Nothing was written: the cache holds what was read.
        None if unchanged && !changed_active => {}
        _ => recent::forget(cx, id).await,
    }
    if mark_deleted {
        return Ok(Written::User(UserAnswer::Whole(Value::Null)));
    }
    if stale {
        return Ok(Written::User(UserAnswer::Whole(get(cx, id).await?)));
    }
    Ok(Written::User(UserAnswer::Drafted(
        r.draft_taking(&mut legacy_now)?,
    )))
}

/// `If-Match` as the users' writes honour it: ignored when the mapping has no `version:` (there
/// is nothing to compare it with, and `/ServiceProviderConfig` says ETags are not supported).
fn versioned<'a>(cx: &Ctx<'_>, if_match: Option<&'a Condition>) -> Option<&'a Condition> {
    if_match.filter(|_| resource(cx).has_version())
}

/// `PUT /Users/{id}`: replaces the user's attributes. `active` absent from the body keeps its
/// value (a PUT that forgets `active` must not deactivate anybody). With `If-Match`, only over
/// a version it lists (else 412).
pub async fn replace<'c>(
    cx: &'c Ctx<'_>,
    id: &str,
    body: Value,
    if_match: Option<&Condition>,
) -> Result<UserAnswer<'c>, ScimError> {
    let user = normalise_body(body)?;
    if user_name(user.get("userName")).is_none() {
        return Err(ScimError::invalid_value(
            "userName is required and must be a non-empty string",
        ));
    }
    let keeps_active = active(&user).is_none();
    modify_user(cx, id, false, versioned(cx, if_match), |old| {
        cx.tenant.check_domains(&user, Some(&old.scim))?;
        let mut user = user.clone();
        if keeps_active {
            if let (Some(obj), Some(a)) = (user.as_object_mut(), active(&old.scim)) {
                obj.insert("active".into(), Value::Bool(a));
            }
        }
        Ok(Some(user))
    })
    .await
}

/// The most elements of multi-valued attributes (emails, phone numbers, addresses, roles…) one
/// PATCH of a user may carry. A legacy user holds a handful of each; each operation is merged
/// into the user's lists, so what a PATCH costs grows with its operations times its values.
const MAX_PATCH_VALUES: usize = 1000;

/// `PATCH /Users/{id}`: read, apply the operations, write back what changed. With `If-Match`,
/// only over a version it lists (else 412).
pub async fn patch<'c>(
    cx: &'c Ctx<'_>,
    id: &str,
    body: &Value,
    if_match: Option<&Condition>,
) -> Result<UserAnswer<'c>, ScimError> {
    let request = PatchRequest::parse(body)?;
    let carried = request.carried_values();
    if carried > MAX_PATCH_VALUES {
        return Err(ScimError::too_many(format!(
            "the PATCH carries {carried} values of multi-valued attributes; a user's PATCH may \
             carry at most {MAX_PATCH_VALUES}"
        )));
    }
    modify_user(cx, id, false, versioned(cx, if_match), |old| {
        // The operations apply to the fetched user itself; a copy is kept only where the
        // tenant's domains are checked against what the user had.
        let before = cx.tenant.checks_domains().then(|| old.scim.clone());
        let user = patch::applied(std::mem::take(&mut old.scim), &request, full_schema())?;
        cx.tenant.check_domains(&user, before.as_ref())?;
        Ok(Some(user))
    })
    .await
}

/// `DELETE /Users/{id}`: deactivates (the default: the legacy record and its history are kept)
/// or deletes, as the mapping says. With `If-Match`, only while the user is at a version it
/// lists (else 412): a deactivation is a guarded write like any other; before a delete the
/// user is read and checked.
pub async fn delete(cx: &Ctx<'_>, id: &str, if_match: Option<&Condition>) -> Result<(), ScimError> {
    let r = resource(cx);
    let if_match = versioned(cx, if_match);
    match r.on_delete {
        OnDelete::Delete => {
            check_id(r, id)?;
            if if_match.is_some() {
                let now = Box::pin(fetch(cx, id)).await?;
                etag::check_if_match(if_match, &now.scim, "user")?;
            }
            recent::forget(cx, id).await;
            legacy::delete_record(cx, r, id, no_user(id)).await?;
        }
        OnDelete::Deactivate => {
            Box::pin(retire_if(cx, id, if_match)).await?;
        }
    }
    Box::pin(groups::user_deleted(cx, id)).await
}

/// Deactivates user `id`, and marks it deleted when the mapping has a marker: the record and
/// its history stay in the legacy API, and SCIM answers 404 for it from now on. What a SCIM
/// DELETE does with `on_delete: deactivate`, and how a create is undone without a delete
/// endpoint.
async fn retire(cx: &Ctx<'_>, id: &str) -> Result<legacy::Retired, ScimError> {
    // Boxed: this future is carried by value through a create's undoing.
    Box::pin(retire_if(cx, id, None)).await
}

/// [`retire`], guarded by the client's `If-Match` (see [`modify_user`]).
async fn retire_if(
    cx: &Ctx<'_>,
    id: &str,
    if_match: Option<&Condition>,
) -> Result<legacy::Retired, ScimError> {
    let marker = resource(cx).has_deleted_marker();
    modify_user(cx, id, marker, if_match, |old| {
        if !marker && active(&old.scim) == Some(false) {
            return Ok(None);
        }
        let mut user = std::mem::take(&mut old.scim);
        if let Some(obj) = user.as_object_mut() {
            obj.insert("active".into(), Value::Bool(false));
        }
        Ok(Some(user))
    })
    .await?;
    Ok(if marker {
        legacy::Retired::DeactivatedAndMarked
    } else {
        legacy::Retired::Deactivated
    })
}

/// `GET /Users` and `POST /Users/.search`: filter, sort, page, project.
pub async fn list(cx: &Ctx<'_>, query: &ListQuery, base_url: &str) -> Result<Body, ScimError> {
    let r = resource(cx);
    let schema = full_schema();
    let filter = select::parse_filter(query, schema)?;
    let with_groups = groups::lists_user_groups(cx, query);
    // Groups read from the legacy user need its whole record.
    let whole_records = with_groups && groups::groups_read_from_user(cx);
    let Selection { page, total } =
        select::select(cx, r, schema, filter.as_ref(), query, whole_records).await?;
    let start_index = query.start_index.max(1);
    let mut users_groups = Vec::with_capacity(page.len());
    for user in &page {
        let id = user.resource.get("id").and_then(Value::as_str);
        users_groups.push(match id {
            Some(id) if with_groups => groups::user_groups(cx, id, user.legacy.whole()).await?,
            _ => None,
        });
    }
    // As the translation drafted them, written out, where the answer shows them so.
    if query.attributes.is_empty() && query.excluded_attributes.is_empty() && !r.plan.shows_hidden {
        let mut body = Vec::with_capacity(USER_TEXT_BUFFER * page.len().max(1));
        list::write_list_response(&mut body, total, page.len(), start_index, |out, at| {
            if let (Some(user), Some(groups)) = (page.get(at), users_groups.get_mut(at)) {
                let _location = write_answer(out, &user.resource, groups.take(), base_url);
            }
        });
        return Ok(Body::Text(body));
    }
    let mut users = Vec::with_capacity(page.len());
    for (user, groups) in page.into_iter().zip(users_groups) {
        let mut user = user.resource.into_value();
        if let (Some(groups), Some(obj)) = (groups, user.as_object_mut()) {
            obj.insert("groups".into(), groups);
        }
        set_location(&mut user, base_url);
        users.push(list::project_owned(
            user,
            &query.attributes,
            &query.excluded_attributes,
            schema,
        ));
    }
    Ok(Body::Json(list::list_response(users, total, start_index)))
}
