//! Calls to the legacy API, as the mapping describes them: one endpoint call with its error
//! translation, reading one record by id (only ever the record of that id), undoing a create,
//! and reading a list whatever its pagination style (or none): a window of it, or all of it a
//! page at a time. A legacy API that ignores the paging parameters is read as the whole list it
//! answers.
//!
//! This is where mapping plans meet the backend client; it holds no SCIM semantics. Every call
//! goes through the client's protection (concurrency bound, retries, circuit breaker), whose
//! events become metrics here ([`Observer`]).

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde_json::Value;

use crate::backend::{
    retry, BackendError, BackendRequest, BackendResponse, CallObserver, TokenFetch,
};
use crate::mapping::legacy_path::{Captured, LegacyItem};
use crate::mapping::{
    location_id, Draft, Endpoint, ListEndpoint, PageError, Pagination, QueryParam, ResourceMapping,
    UpdateBody,
};
use crate::metrics;
use crate::scim::{json_text, ScimError};
use crate::server::context::Ctx;
use crate::server::tap::{Section, Tap, TapOutcome, TappedCall};
use crate::server::wire::{REQUEST_ID, REQUEST_ID_HEADER};

/// A legacy answer: headers, JSON body (`Null` when empty).
#[derive(Debug)]
pub struct LegacyResponse {
    pub headers: HeaderMap,
    pub body: Value,
    /// The body as received (shared, not copied), for the record cache.
    pub raw: Bytes,
}

/// One page of a legacy list, its items whole JSON values or records captured by the mapping's
/// compiled readers ([`PageItem`]).
#[derive(Debug)]
pub struct Page<T = Value> {
    pub items: Vec<T>,
    pub total: Option<u64>,
    /// The cursor for the next page (cursor pagination), if any.
    pub next: Option<String>,
}

/// Calls `endpoint` of `resource`. A legacy error status becomes the SCIM error the mapping's
/// rules say.
pub async fn call(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    call: &Call<'_>,
) -> Result<LegacyResponse, ScimError> {
    call_with(cx, resource, call).await.map_err(|e| e.error)
}

/// One legacy call with everything a membership change may need: `{member}` in the path and an
/// `If-Match` header, besides the `id`, the extra query `params` and the JSON `body`.
#[derive(Debug, Clone)]
pub struct Call<'a> {
    pub endpoint: &'a Endpoint,
    pub id: Option<&'a str>,
    pub member: Option<&'a str>,
    pub params: &'a [QueryParam<'a>],
    pub body: Option<SentBody<'a>>,
    /// Sent as `If-Match` (already an entity tag, e.g. `"4"`).
    pub if_match: Option<String>,
}

/// What a call sends as its body, wrapped in the endpoint's body envelope if it has one.
#[derive(Debug, Clone, Copy)]
pub enum SentBody<'a> {
    /// A JSON value as it is: a record created, a member add's body.
    Json(&'a Value),
    /// An update's body (see [`ResourceMapping::update_body`]).
    Update(&'a UpdateBody<'a>),
}

impl SentBody<'_> {
    /// Writes the body as compact JSON text, as `serde_json` writes it.
    fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            SentBody::Json(value) => json_text::write_value(out, value),
            SentBody::Update(body) => body.write_json(out),
        }
    }
}

impl<'a> Call<'a> {
    /// A call of `endpoint` without id, member, parameters, body or `If-Match`.
    pub fn new(endpoint: &'a Endpoint) -> Call<'a> {
        Call {
            endpoint,
            id: None,
            member: None,
            params: &[],
            body: None,
            if_match: None,
        }
    }

    /// A call of `endpoint` on record `id`.
    pub fn on(endpoint: &'a Endpoint, id: &'a str) -> Call<'a> {
        Call {
            id: Some(id),
            ..Call::new(endpoint)
        }
    }
}

/// A failed legacy call: the SCIM error to answer, and the legacy API's own status when it
/// answered (`None` when it could not be reached or its answer was cut off), for callers that
/// treat some refusals as expected (a member that is already gone).
#[derive(Debug, Clone)]
pub struct CallError {
    pub legacy_status: Option<u16>,
    pub error: ScimError,
}

/// What the legacy API answered to a call that failed, decided here once from its own status:
/// the callers that treat some answers as expected (a record or member that is not there, a
/// guarded write over a record that changed) match on it rather than on status numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LegacyAnswer {
    /// No usable answer: unreachable, timed out, cut off, or not an HTTP status.
    None,
    /// No such record (or member): a refusal that the mapping's `errors` rules (the endpoint's
    /// own, then the section's) make a SCIM 404 — a legacy 404 or 410 by default, or e.g. a 403
    /// of a `get` where the legacy API answers so for an unknown id.
    NotFound,
    /// 412: the `If-Match` of a guarded write failed; the record changed since it was read.
    PreconditionFailed,
    /// Any other client error but 429: the legacy API refused the request itself.
    Refused,
    /// 429 or a server error: the legacy API failed.
    Failed,
    /// A success status whose answer could not be read: what was asked may have been done.
    Accepted,
}

impl CallError {
    /// The legacy API's answer, as far as the caller needs to tell.
    pub(crate) fn answer(&self) -> LegacyAnswer {
        let Some(status) = self
            .legacy_status
            .and_then(|s| StatusCode::from_u16(s).ok())
        else {
            return LegacyAnswer::None;
        };
        match status {
            s if s.is_client_error() && meaning(&self.error) == Meaning::NotFound => {
                LegacyAnswer::NotFound
            }
            StatusCode::PRECONDITION_FAILED => LegacyAnswer::PreconditionFailed,
            StatusCode::TOO_MANY_REQUESTS => LegacyAnswer::Failed,
            s if s.is_client_error() => LegacyAnswer::Refused,
            s if s.is_server_error() => LegacyAnswer::Failed,
            _ => LegacyAnswer::Accepted,
        }
    }

    /// Whether the legacy API refused the call (a client error status other than 429): an
    /// answer about the request itself, not a failure of the legacy API.
    pub(crate) fn refused(&self) -> bool {
        matches!(
            self.answer(),
            LegacyAnswer::NotFound | LegacyAnswer::PreconditionFailed | LegacyAnswer::Refused
        )
    }

    /// Whether the legacy API accepted the call (a success status) but its answer could not be
    /// read: what the call asked for may have been done.
    pub(crate) fn accepted(&self) -> bool {
        self.answer() == LegacyAnswer::Accepted
    }
}

/// What the mapping's `errors` rules made of a legacy refusal (the SCIM error's status), for
/// the callers that treat some refusals as expected. Decided here once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Meaning {
    /// No such record (SCIM 404).
    NotFound,
    /// A conflict with what is stored (SCIM 409): e.g. already a member.
    Conflict,
    /// Anything else.
    Other,
}

/// What `e` means, as the mapping's rules translated it.
pub(crate) fn meaning(e: &ScimError) -> Meaning {
    match StatusCode::from_u16(e.status) {
        Ok(StatusCode::NOT_FOUND) => Meaning::NotFound,
        Ok(StatusCode::CONFLICT) => Meaning::Conflict,
        _ => Meaning::Other,
    }
}

impl From<CallError> for ScimError {
    fn from(e: CallError) -> Self {
        e.error
    }
}

impl From<ScimError> for CallError {
    fn from(error: ScimError) -> Self {
        CallError {
            legacy_status: None,
            error,
        }
    }
}

/// Makes `call` to the legacy API of `resource` and gives its successful answer as received,
/// unread: a refusal is already the SCIM error the mapping's rules make of it.
async fn call_raw(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    call: &Call<'_>,
) -> Result<BackendResponse, CallError> {
    // The request's budget (`[scim] request_max_legacy_calls`, `request_timeout_seconds`):
    // spent, the call is not made and the request ends with a 503.
    cx.record.spend_call(&cx.metrics)?;
    let endpoint = call.endpoint;
    // The tenant goes where the mapping says: `{tenant}` in the path, a query parameter or a
    // header (`backend.tenant`).
    let tenant = cx.tenant.legacy_id.as_str();
    let path = cx
        .mapping
        .backend
        .target(endpoint, tenant, call.id, call.member, call.params);
    // A call without a body of its own sends the endpoint's `body:` template, if any; a record
    // sent is wrapped in the endpoint's body envelope (`{"user": {…}}`).
    let templated = match call.body {
        Some(_) => None,
        None => cx
            .mapping
            .template_body(endpoint, tenant, call.id, call.member),
    };
    let body_bytes = match (call.body, templated) {
        (Some(b), _) => Some(endpoint.body_bytes(|out| b.write_json(out))),
        (None, Some(t)) => {
            let mut out = Vec::new();
            json_text::write_value(&mut out, &t);
            Some(out)
        }
        (None, None) => None,
    };
    // The endpoint's static headers and the tenant's, alike on many calls; then this call's.
    let mut shared_headers = Vec::new();
    for (name, value) in cx.mapping.backend.headers_of(endpoint) {
        shared_headers.push(header(name, value)?);
    }
    if let Some((name, value)) = cx.mapping.backend.tenant_header(tenant) {
        shared_headers.push((name.clone(), value_of(name.as_str(), value)?));
    }
    let mut headers = Vec::new();
    if let Some(tag) = &call.if_match {
        headers.push(header("if-match", tag)?);
    }
    if !cx.request_id.is_empty() {
        headers.push((REQUEST_ID, value_of(REQUEST_ID_HEADER, cx.request_id)?));
    }
    let request = BackendRequest {
        method: endpoint.method.clone(),
        path_and_query: path,
        shared_headers,
        headers,
        body: body_bytes,
    };
    let observer = Observer {
        cx,
        endpoint: endpoint.name,
    };
    let response = send(cx, resource, endpoint, request, &observer)
        .await
        .map_err(ScimError::from)?;
    cx.record.set_legacy_status(response.status);
    if response.status >= 400 {
        let mut err = resource.map_error_of(Some(endpoint), response.status, &response.body);
        if let Some(seconds) = retry_after(&response.headers) {
            err = err.with_retry_after(seconds);
        }
        return Err(CallError {
            legacy_status: Some(response.status),
            error: err,
        });
    }
    Ok(response)
}

/// Makes `call` to the legacy API of `resource`; see [`call`].
pub async fn call_with(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    call: &Call<'_>,
) -> Result<LegacyResponse, CallError> {
    let response = call_raw(cx, resource, call).await?;
    parse_reply(call, response)
}

/// The answer to a write that answers the record written: read by the mapping's compiled
/// reader (only the values the translation reads, no JSON tree), or whole where the resource has
/// no reader or the endpoint an answer envelope (the record cache keeps the bare record).
pub(crate) struct RecordAnswer {
    pub(crate) record: LegacyItem,
    /// The answer as received, for the record cache.
    pub(crate) raw: Bytes,
    /// The answer holds nothing: an empty body (a 204), or `null`.
    pub(crate) empty: bool,
    /// The answer's headers (a create's `Location`).
    pub(crate) headers: HeaderMap,
}

/// Makes `call`, a write of one record of `resource`, and reads its answer ([`RecordAnswer`]).
pub(crate) async fn call_for_record(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    call: &Call<'_>,
) -> Result<RecordAnswer, CallError> {
    let response = call_raw(cx, resource, call).await?;
    let reader = resource
        .plan
        .reader
        .as_ref()
        .filter(|_| call.endpoint.answer_envelope().is_none());
    match reader.and_then(|reader| reader.read(&response.body, None)) {
        Some(Ok(record)) => Ok(RecordAnswer {
            empty: matches!(response.body.trim_ascii(), b"" | b"null"),
            record: LegacyItem::Captured(record),
            raw: response.body,
            headers: response.headers,
        }),
        Some(Err(_)) => Err(not_json(call, response.status)),
        None => {
            let answer = parse_reply(call, response)?;
            Ok(RecordAnswer {
                empty: answer.body.is_null(),
                record: LegacyItem::Whole(answer.body),
                raw: answer.raw,
                headers: answer.headers,
            })
        }
    }
}

/// The answer to `call` read whole: the JSON body (taken out of its answer envelope), the
/// headers and the bytes.
fn parse_reply(call: &Call<'_>, response: BackendResponse) -> Result<LegacyResponse, CallError> {
    let endpoint = call.endpoint;
    let body = if response.body.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        json_text::parse_value(&response.body).map_err(|_| not_json(call, response.status))?
    };
    // A record answered is taken out of the endpoint's answer envelope (`{"data": {…}}`): what
    // the callers and the record cache see is the record itself.
    if endpoint.answer_envelope().is_some() {
        let record = endpoint.record_of(body);
        let raw = if record.is_null() {
            Bytes::new()
        } else {
            Bytes::from(
                serde_json::to_vec(&record).map_err(|e| ScimError::internal(e.to_string()))?,
            )
        };
        return Ok(LegacyResponse {
            headers: response.headers,
            body: record,
            raw,
        });
    }
    Ok(LegacyResponse {
        headers: response.headers,
        body,
        raw: response.body,
    })
}

/// The error for a successful legacy answer whose body is not JSON.
fn not_json(call: &Call<'_>, status: u16) -> CallError {
    let endpoint = call.endpoint;
    CallError {
        legacy_status: Some(status),
        error: ScimError::bad_gateway(format!(
            "the legacy API answered {} {} with a body that is not JSON",
            endpoint.method,
            endpoint.path.render_with(call.id, call.member)
        )),
    }
}

/// Sends `request` through the backend client's protection, or lets the request's tap answer
/// it; the tap sees what it came to.
async fn send(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    endpoint: &Endpoint,
    request: BackendRequest,
    observer: &Observer<'_, '_>,
) -> Result<BackendResponse, BackendError> {
    let Some(tap) = cx.record.tap() else {
        return cx.backend.send_protected(request, observer).await;
    };
    // Boxed: the tapped path (the onboarding commands' only) adds nothing to the size of the
    // future every request's legacy calls are part of.
    Box::pin(send_tapped(cx, tap, resource, endpoint, request, observer)).await
}

/// [`send`] for a request whose `tap` watches (and may answer) its legacy calls.
async fn send_tapped(
    cx: &Ctx<'_>,
    tap: &dyn Tap,
    resource: &ResourceMapping,
    endpoint: &Endpoint,
    request: BackendRequest,
    observer: &Observer<'_, '_>,
) -> Result<BackendResponse, BackendError> {
    let section = if std::ptr::eq(resource, &cx.mapping.users) {
        Section::Users
    } else {
        Section::Groups
    };
    let seen = TappedCall {
        section,
        endpoint,
        request: &request,
    };
    if let Some(answer) = tap.answer(&seen) {
        tap.seen(&seen, TapOutcome::Simulated(&answer));
        return Ok(answer);
    }
    let outcome = cx.backend.send_protected(request.clone(), observer).await;
    match &outcome {
        Ok(answer) => tap.seen(&seen, TapOutcome::Answered(answer)),
        Err(e) => tap.seen(&seen, TapOutcome::Failed(e)),
    }
    outcome
}

/// How many times a read-modify-write of one legacy record is tried when the record keeps
/// changing between the read and the guarded write (see [`until_fresh`]).
pub(crate) const STALE_TRIES: u32 = 3;

/// What one try of a read-modify-write of a legacy record came to.
#[derive(Debug)]
pub(crate) enum Try<T> {
    /// Written (or nothing to write): the outcome.
    Done(T),
    /// The guarded write was refused because the record changed since it was read.
    Stale,
}

impl<T> Try<T> {
    /// The outcome of a guarded write: `Stale` when the legacy API refused the `If-Match`
    /// (412), else `done` on success and the error otherwise.
    pub(crate) fn of_write(
        written: Result<LegacyResponse, CallError>,
        done: T,
    ) -> Result<Try<T>, ScimError> {
        match written {
            Ok(_) => Ok(Try::Done(done)),
            Err(e) if e.answer() == LegacyAnswer::PreconditionFailed => Ok(Try::Stale),
            Err(e) => Err(e.error),
        }
    }
}

/// The error of a read-modify-write of one legacy record (`what`, e.g. "group 5") with
/// optimistic concurrency — each try reads the record afresh, applies its change and writes it
/// guarded by the record's version, tried again when the record changed in between
/// (`Try::Stale`) so that a write never overwrites what it did not see — when the record
/// changed at each of the [`STALE_TRIES`] tries: 409, to be retried by the client.
///
/// The loop itself is the caller's, ten lines over its own try:
/// `for _ in 0..STALE_TRIES { if let Try::Done(x) = one_try(…).await? { return Ok(x) } }`
/// then `Err(kept_changing(what))`.
pub(crate) fn kept_changing(what: &str) -> ScimError {
    ScimError::new(
        409,
        None,
        format!("{what} kept changing in the legacy API while it was being updated; retry"),
    )
}

fn header(name: &str, value: &str) -> Result<(HeaderName, HeaderValue), ScimError> {
    let n = HeaderName::try_from(name)
        .map_err(|_| ScimError::internal(format!("{name:?} is not a valid header name")))?;
    Ok((n, value_of(name, value)?))
}

/// `value` as the value of header `name`.
fn value_of(name: &str, value: &str) -> Result<HeaderValue, ScimError> {
    HeaderValue::try_from(value)
        .map_err(|_| ScimError::bad_gateway(format!("the value of {name} cannot be sent")))
}

/// Reads record `id` of `resource` through its `get` endpoint, and makes sure it is that
/// record. `None` when there is no such record: the id does not have the mapping's `id_format`
/// (no call), the legacy answer translates to 404 (the mapping's `errors` rules decide), the
/// record carries the deleted marker, or the record answered has another id. A legacy API that
/// reads `/users/6x` as user 6, or `/users/007` as user 7, would otherwise have user 6 shown,
/// written or deleted as `6x`; such an answer is logged (the two ids, nothing else) and is
/// never used. Ids compare as strings, as the mapping reads them (`42` is `"42"`).
pub(crate) async fn read_record(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    id: &str,
) -> Result<Option<LegacyResponse>, ScimError> {
    Ok(read_stored(cx, resource, id)
        .await?
        .filter(|got| !resource.is_deleted(&got.body)))
}

/// [`read_record`], deleted-marked records included: the record as the legacy API stores it.
async fn read_stored(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    id: &str,
) -> Result<Option<LegacyResponse>, ScimError> {
    if !resource.accepts_id(id) {
        return Ok(None);
    }
    let got = match call_with(cx, resource, &Call::on(&resource.endpoints.get, id)).await {
        Ok(got) => got,
        Err(e) if e.answer() == LegacyAnswer::NotFound => return Ok(None),
        Err(e) => return Err(e.error),
    };
    Ok(is_the_record(cx, resource, id, resource.read_id(&got.body))
        .await?
        .then_some(got))
}

/// A record read by the mapping's compiled reader straight from the legacy answer's bytes
/// ([`read_captured`]).
pub(crate) struct CapturedRecord {
    pub(crate) record: Captured,
    /// The answer as received, for the record cache (a bare record: see [`read_captured`]).
    pub(crate) raw: Bytes,
}

/// [`read_record`] with the record read by the mapping's compiled reader: only the values the
/// translation reads are taken out of the answer, and no JSON tree is built. `Ok(None)` as
/// [`read_record`]; `Err(None)` when this resource's records cannot be read so (no compiled
/// reader, or an answer envelope while the record cache needs the bare record): read them
/// whole.
pub(crate) async fn read_captured(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    id: &str,
) -> Result<Option<CapturedRecord>, Option<ScimError>> {
    let endpoint = &resource.endpoints.get;
    let envelope = endpoint.answer_envelope();
    if envelope.is_some() && resource.endpoints.update_if_match {
        return Err(None);
    }
    let reader = resource.plan.reader.as_ref().ok_or(None)?;
    if !resource.accepts_id(id) {
        return Ok(None);
    }
    let call = Call::on(endpoint, id);
    let got = match call_raw(cx, resource, &call).await {
        Ok(got) => got,
        Err(e) if e.answer() == LegacyAnswer::NotFound => return Ok(None),
        Err(e) => return Err(Some(e.error)),
    };
    let record = match reader.read(&got.body, envelope) {
        Some(Ok(record)) => record,
        Some(Err(_)) => return Err(Some(not_json(&call, got.status).error)),
        None => return Err(None),
    };
    if !is_the_record(cx, resource, id, resource.read_id(&record)).await?
        || resource.record_deleted(&record)
    {
        return Ok(None);
    }
    Ok(Some(CapturedRecord {
        record,
        raw: got.body,
    }))
}

/// Whether the record the legacy API answered for `id`, whose id reads `read`, is that record:
/// an answer without an id is a 502; one with another id is taken as not found (and logged).
async fn is_the_record(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    id: &str,
    read: Option<String>,
) -> Result<bool, ScimError> {
    let Some(read) = read else {
        return Err(ScimError::bad_gateway(format!(
            "the legacy API answered a {} without an id at {}",
            resource.schema.name.to_lowercase(),
            resource.plan.id.as_str()
        )));
    };
    if read != id {
        tracing::warn!(
            resource = %resource.schema.name,
            asked = ?id,
            answered = ?read,
            request_id = %cx.request_id,
            "the legacy API answered another record than the id asked for: treated as not found"
        );
        return Ok(false);
    }
    forget_unknown(cx, resource, id).await;
    Ok(true)
}

/// Forgets that user `id` was unknown (`cache::MembershipCache::unknown_user`): the legacy API
/// has it now. Nothing for another resource.
async fn forget_unknown(cx: &Ctx<'_>, resource: &ResourceMapping, id: &str) {
    if std::ptr::eq(resource, &cx.mapping.users)
        && cx.membership.is_unknown_user(&cx.tenant.name, id)
    {
        cx.membership.known_user(&cx.tenant.name, id).await;
    }
}

/// The records of `found` (list items, with the SCIM resource of each) as the `get` endpoint
/// reads them, deleted-marked ones included, when the list items do not carry every attribute
/// (`carries:`) — a thin item may lack the fields a write over it needs — or when an item
/// cannot tell whether its record was deleted ([`ResourceMapping::deletion_unknown`]). A record
/// gone in the meantime is left out. Items that are whole and tell are kept as they are.
pub(crate) async fn in_full(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    found: Vec<(Value, Value)>,
) -> Result<Vec<(Value, Value)>, ScimError> {
    let carries_everything = resource.endpoints.list.carries_everything();
    let mut out = Vec::with_capacity(found.len());
    for (item, scim) in found {
        if carries_everything && !resource.deletion_unknown(&item) {
            out.push((item, scim));
            continue;
        }
        let Some(id) = resource.legacy_id(&item) else {
            continue;
        };
        if let Some(got) = read_stored(cx, resource, &id).await? {
            let scim = resource.to_scim(&got.body)?;
            out.push((got.body, scim));
        }
    }
    Ok(out)
}

/// Deletes the legacy record `id` through the resource's delete endpoint (`on_delete: delete`);
/// no such record (see [`read_record`]) is `gone`. Without an `id_format`, the record is read
/// first and deleted only when it is the one asked for (an id the legacy API resolves to
/// another record must not delete that one); with one, the form guarantees it. With
/// The update endpoint of `resource`. A users section always has one (`check` refuses one
/// without); a groups section without one holds read-only groups, and a change of a group's own
/// attributes is refused with 403, as a create is with `groups.create: false`.
pub fn update_endpoint(resource: &ResourceMapping) -> Result<&Endpoint, ScimError> {
    resource.endpoints.update.as_ref().ok_or_else(|| {
        ScimError::new(
            403,
            None,
            "groups are not renamed or changed through SCIM here (the mapping has no \
             groups.endpoints.update): change the group in the application; its members are \
             still assigned through SCIM",
        )
    })
}

/// `exists: read_first` on the delete endpoint (a legacy API that answers success for an id it
/// does not have), the record is read first whatever the id's form.
pub async fn delete_record(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    id: &str,
    gone: ScimError,
) -> Result<(), ScimError> {
    let Some(endpoint) = &resource.endpoints.delete else {
        return Err(ScimError::internal(
            "the mapping has on_delete: delete but no delete endpoint",
        ));
    };
    let read_first = resource.id_format.is_none() || endpoint.record.read_first;
    if !resource.accepts_id(id) || (read_first && read_record(cx, resource, id).await?.is_none()) {
        return Err(gone);
    }
    match call(cx, resource, &Call::on(endpoint, id)).await {
        Ok(_) => Ok(()),
        Err(e) if meaning(&e) == Meaning::NotFound => Err(gone),
        Err(e) => Err(e),
    }
}

/// How a record created by a request that then failed was taken back when the mapping has no
/// delete endpoint (see [`undo_create`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retired {
    /// A user deactivated and marked deleted: SCIM answers 404 for it, and a create of its
    /// userName restores it.
    DeactivatedAndMarked,
    /// A group marked deleted: SCIM answers 404 for it, and a create of its name makes another.
    Marked,
    /// A user deactivated only (the mapping has no deleted marker): it is still there.
    Deactivated,
}

/// A record a request created: of `resource`, a `what` ("user", "group"), as `id`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Created<'a> {
    pub(crate) resource: &'a ResourceMapping,
    pub(crate) what: &'a str,
    pub(crate) id: &'a str,
}

/// Undoes the create of record `id` (a `what`: "user", "group") after a later step of the same
/// request failed with `e`, or after the create's own answer could not be read, so that the
/// IdP's retry of the POST starts afresh rather than meet 409: deletes it through the
/// resource's delete endpoint; without one, `retire` (run only then) deactivates it and marks
/// it deleted as far as the mapping can. Returns `e`, its detail now saying what became of the
/// record and what sending the request again does.
pub(crate) async fn undo_create(
    cx: &Ctx<'_>,
    created: Created<'_>,
    mut e: ScimError,
    retire: impl std::future::Future<Output = Result<Retired, ScimError>>,
) -> ScimError {
    let Created { resource, what, id } = created;
    // The undo is made even when the request's budget ended it.
    cx.record.undoing();
    let undone = match &resource.endpoints.delete {
        Some(endpoint) => call(cx, resource, &Call::on(endpoint, id))
            .await
            .map(|_| None),
        None => retire.await.map(Some),
    };
    let detail = e.detail.trim_end().trim_end_matches('.');
    e.detail = match &undone {
        Ok(None) => format!(
            "{detail}. The {what} created as id {id} was deleted again: nothing was \
             applied, and sending the request again creates it."
        ),
        Ok(Some(Retired::DeactivatedAndMarked)) => format!(
            "{detail}. The {what} created as id {id} was deactivated and marked deleted (the \
             mapping has no delete endpoint): nothing is left applied, and sending the request \
             again restores it."
        ),
        Ok(Some(Retired::Marked)) => format!(
            "{detail}. The {what} created as id {id} was marked deleted (the mapping has no \
             delete endpoint): nothing is left applied, and sending the request again creates \
             it."
        ),
        Ok(Some(Retired::Deactivated)) => format!(
            "{detail}. The {what} created as id {id} was deactivated (the mapping can neither \
             delete it nor mark it deleted): sending the request again answers 409 \
             (uniqueness), and the {what} is found by a filter on its name."
        ),
        Err(why) => format!(
            "{detail}. The {what} created as id {id} could not be deleted again ({}): sending \
             the request again answers 409 (uniqueness), and the {what} is found by a filter \
             on its name.",
            why.detail.trim_end().trim_end_matches('.')
        ),
    };
    // A record deactivated only is still there: what was applied (the create, the
    // deactivation) stays said.
    if let Ok(None | Some(Retired::DeactivatedAndMarked | Retired::Marked)) = undone {
        cx.record.undone();
        tracing::info!(id, what, request_id = %cx.request_id, "a create that failed was undone");
    }
    e
}

/// A record a create made: its id, its translation, and the record as the legacy API sent it
/// (for the record cache).
pub(crate) struct MadeRecord<'m> {
    pub(crate) id: String,
    pub(crate) scim: Draft<'m>,
    pub(crate) raw: Bytes,
}

/// The record a create made, from the create's answer (`created`): the record answered when it
/// has an id; else, when the answer names the record in its `Location` header (a 201 or 204
/// without a body), the record read by that id with `get` (through the identity check of
/// [`read_record`]). Translated once, here. Otherwise the error that says why the answer cannot
/// be used, for the caller to undo the create ([`created_anyway`]). `create` is the endpoint
/// that answered.
pub(crate) async fn created_record<'m>(
    cx: &Ctx<'_>,
    resource: &'m ResourceMapping,
    create: &Endpoint,
    created: RecordAnswer,
) -> Result<MadeRecord<'m>, ScimError> {
    let made = Box::pin(created_record_of(cx, resource, create, created)).await?;
    // A user the gateway just created is no longer unknown to a member add.
    forget_unknown(cx, resource, &made.id).await;
    Ok(made)
}

/// [`created_record`], without what the gateway learns from it.
async fn created_record_of<'m>(
    cx: &Ctx<'_>,
    resource: &'m ResourceMapping,
    create: &Endpoint,
    mut created: RecordAnswer,
) -> Result<MadeRecord<'m>, ScimError> {
    if let Some(id) = resource.read_id(&created.record) {
        if let Ok(scim) = resource.draft_taking(&mut created.record) {
            if holds_the_record(&scim) {
                return Ok(MadeRecord {
                    id,
                    scim,
                    raw: created.raw,
                });
            }
        }
        // The id and nothing else of the record (`{"id": 7, "message": "success"}`): read it.
        return read_created(cx, resource, id, "its body").await;
    }
    let location = created
        .headers
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(location_id);
    let Some(id) = location else {
        if created.empty {
            return Err(ScimError::bad_gateway(match create.answer_envelope() {
                Some(key) => format!(
                    "the legacy API's answer holds no record under {key:?} (the mapping's \
                     envelope) and no Location header"
                ),
                None => "the legacy API's answer has no body and no Location header".into(),
            }));
        }
        return Err(resource.draft(&created.record).err().map_or_else(
            || {
                ScimError::bad_gateway(
                    "the legacy API's answer carries no id, in its body or a Location header",
                )
            },
            ScimError::from,
        ));
    };
    read_created(cx, resource, id, "its Location header").await
}

/// Whether a create's answer, translated, is the record, not only its id: it holds the
/// attribute no SCIM resource goes without (a user's userName, a group's displayName).
fn holds_the_record(scim: &Draft<'_>) -> bool {
    ["userName", "displayName"]
        .iter()
        .any(|name| scim.get(name).is_some_and(|v| !v.is_null()))
}

/// The record a create answer named by its id only (`where` it did), read with `get`.
async fn read_created<'m>(
    cx: &Ctx<'_>,
    resource: &'m ResourceMapping,
    id: String,
    place: &str,
) -> Result<MadeRecord<'m>, ScimError> {
    match read_record(cx, resource, &id).await {
        Ok(Some(record)) => Ok(MadeRecord {
            scim: resource.draft_taking(&mut LegacyItem::Whole(record.body))?,
            id,
            raw: record.raw,
        }),
        Ok(None) => Err(ScimError::bad_gateway(format!(
            "the legacy API's answer names the record {id:?} in {place}, and reading it found \
             no such record"
        ))),
        Err(e) => Err(ScimError::bad_gateway(format!(
            "the legacy API's answer names the record {id:?} in {place}, and reading it failed \
             ({})",
            e.detail.trim_end().trim_end_matches('.')
        ))),
    }
}

/// A create of a record named by a unique attribute: a `what` ("user", "group") whose `attr`
/// (`userName`, `displayName`) is `name`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NamedCreate<'a> {
    pub what: &'a str,
    pub attr: &'a str,
    pub name: &'a str,
}

/// After the legacy API accepted `create` but answered what cannot be used (`e` says why): the
/// record it created, as `found` (the search of its name: `Ok(None)` when the mapping cannot
/// search it) tells, to be undone — its id and the 502 to answer — or, when there is none to
/// undo, the 502 that says what a retry does.
pub(crate) fn created_anyway(
    resource: &ResourceMapping,
    create: &NamedCreate<'_>,
    e: ScimError,
    found: Result<Vec<(Value, Value)>, ScimError>,
) -> Result<(String, ScimError), ScimError> {
    let NamedCreate { what, attr, name } = *create;
    let why = e.detail.trim_end().trim_end_matches('.');
    let detail = format!(
        "the legacy API accepted the create of {what} {name:?} but its answer could not be \
         read ({why})"
    );
    let unknown = |how: &str| {
        ScimError::bad_gateway(format!(
            "{detail}. Whether it created the {what} is not known ({how}): a filter on its \
             {attr} finds it, and sending the request again answers 409 (uniqueness) if it \
             exists."
        ))
    };
    let live = match found {
        Ok(found) => found
            .into_iter()
            .find(|(legacy, _)| !resource.is_deleted(legacy))
            .and_then(|(legacy, _)| resource.legacy_id(&legacy)),
        Err(lookup) => return Err(unknown(lookup.detail.trim_end().trim_end_matches('.'))),
    };
    match live {
        Some(id) => Ok((id, ScimError::bad_gateway(detail))),
        None => Err(ScimError::bad_gateway(format!(
            "{detail}. No {what} with that {attr} is in the legacy API: sending the request \
             again creates it."
        ))),
    }
}

/// The legacy API's `Retry-After` (seconds or a date) in whole seconds, for the identity
/// provider.
fn retry_after(headers: &HeaderMap) -> Option<u64> {
    retry::retry_after(headers, SystemTime::now()).map(retry::retry_after_seconds)
}

/// The `status` metric label of a legacy call that produced no HTTP answer.
fn backend_error_label(e: &BackendError) -> &'static str {
    match e {
        BackendError::Timeout { .. } => "timeout",
        BackendError::Connect { .. } => "unreachable",
        _ => "error",
    }
}

/// The metrics of one legacy call of `endpoint`: each attempt, each retry, the queue depth, the
/// circuit's state (labelled with the mapping's name) and the access tokens it fetched.
struct Observer<'a, 'c> {
    cx: &'a Ctx<'c>,
    endpoint: &'static str,
}

impl CallObserver for Observer<'_, '_> {
    fn attempt(&self, result: &Result<BackendResponse, BackendError>, elapsed: Duration) {
        let status = match result {
            Ok(r) => metrics::backend_status_label(r.status),
            Err(e) => backend_error_label(e).into(),
        };
        self.cx
            .metrics
            .record_backend(self.endpoint, &status, elapsed);
    }

    fn retry(&self, after: Duration) {
        tracing::debug!(
            endpoint = self.endpoint,
            request_id = %self.cx.request_id,
            after_ms = after.as_millis() as u64,
            "legacy call failed; sending it again"
        );
        self.cx.metrics.record_backend_retry(self.endpoint);
    }

    fn queue(&self, delta: i64) {
        self.cx.metrics.add_backend_queue_depth(delta);
    }

    fn circuit(&self, open: bool) {
        self.cx
            .metrics
            .set_circuit_open(&self.cx.mapping.name, open);
    }

    fn token_fetch(&self, outcome: TokenFetch) {
        self.cx.metrics.record_token_fetch(outcome.label());
    }
}

/// A legacy list to read: its endpoint, the `{id}` of its path (a group's member list), and the
/// filter parameters sent with every page.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListCall<'a> {
    pub(crate) list: &'a ListEndpoint,
    pub(crate) id: Option<&'a str>,
    pub(crate) params: &'a [QueryParam<'a>],
}

impl<'a> ListCall<'a> {
    /// The list `list` filtered by `params`.
    pub(crate) fn of(list: &'a ListEndpoint, params: &'a [QueryParam<'a>]) -> ListCall<'a> {
        ListCall {
            list,
            id: None,
            params,
        }
    }
}

/// Fetches one page of at most `size` items that starts at the 0-based `offset` (page style:
/// `offset` must be a multiple of `size`). `cursor` continues a cursor-paginated walk. An
/// unpaged list (`pagination: none`) answers the whole list whatever is asked.
pub(crate) async fn fetch_page<T: PageItem>(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    call: &ListCall<'_>,
    offset: u64,
    size: u64,
    cursor: Option<&str>,
) -> Result<Page<T>, ScimError> {
    let list = call.list;
    fn lent<'a>(name: &'a str, value: &'a str) -> QueryParam<'a> {
        (Cow::Borrowed(name), Cow::Borrowed(value))
    }
    fn number(name: &str, n: u64) -> QueryParam<'_> {
        (Cow::Borrowed(name), Cow::Owned(n.to_string()))
    }
    // The call's own parameters lent, then the page's.
    let mut q: Vec<QueryParam> = Vec::with_capacity(call.params.len() + 2);
    q.extend(call.params.iter().map(|(k, v)| lent(k, v)));
    match &list.pagination {
        Pagination::Page {
            page_param,
            size_param,
            first_page,
            ..
        } => {
            let size = size.max(1);
            q.push(number(page_param, offset / size + first_page));
            q.push(number(size_param, size));
        }
        Pagination::Offset {
            offset_param,
            limit_param,
            ..
        } => {
            q.push(number(offset_param, offset));
            q.push(number(limit_param, size));
        }
        Pagination::Cursor {
            cursor_param,
            size_param,
            ..
        } => {
            q.push(number(size_param, size));
            if let Some(c) = cursor {
                q.push(lent(cursor_param, c));
            }
        }
        Pagination::None => {}
    }
    let page_call = Call {
        id: call.id,
        params: &q,
        ..Call::new(&list.endpoint)
    };
    let response = call_raw(cx, resource, &page_call).await?;
    T::read_page(resource, list, &page_call, response)
}

/// How the items of a list page are held: whole JSON values, or records captured by the
/// mapping's compiled readers (only where the resource has them: [`reads_pages_captured`]).
pub(crate) trait PageItem: Sized {
    /// The page `list` answered to `call`.
    fn read_page(
        resource: &ResourceMapping,
        list: &ListEndpoint,
        call: &Call<'_>,
        response: BackendResponse,
    ) -> Result<Page<Self>, ScimError>;
}

impl PageItem for Value {
    fn read_page(
        _: &ResourceMapping,
        list: &ListEndpoint,
        call: &Call<'_>,
        response: BackendResponse,
    ) -> Result<Page<Value>, ScimError> {
        let r = parse_reply(call, response)?;
        let total = list.total(&r.body, &r.headers);
        let next = list.next_cursor(&r.body, &r.headers);
        Ok(Page {
            total,
            next,
            items: list.take_items(r.body)?,
        })
    }
}

impl PageItem for Captured {
    fn read_page(
        resource: &ResourceMapping,
        list: &ListEndpoint,
        call: &Call<'_>,
        response: BackendResponse,
    ) -> Result<Page<Captured>, ScimError> {
        let read = resource
            .plan
            .reader
            .as_ref()
            .and_then(|record| list.read_page(record, &response.body, &response.headers));
        match read {
            Some(Ok(page)) => Ok(Page {
                items: page.items,
                total: page.total,
                next: page.next,
            }),
            Some(Err(PageError::NotJson)) => Err(not_json(call, response.status).error),
            Some(Err(PageError::Translate(e))) => Err(e.into()),
            None => Err(ScimError::internal(format!(
                "the {} list has no compiled reader",
                section(list)
            ))),
        }
    }
}

/// Whether `resource`'s list pages can be read as captured records ([`PageItem`]): it has a
/// compiled record reader and its list one.
pub(crate) fn reads_pages_captured(resource: &ResourceMapping) -> bool {
    resource.plan.reader.is_some() && resource.endpoints.list.reader.is_some()
}

/// The largest page the legacy API serves.
pub fn max_page_size(list: &ListEndpoint) -> u64 {
    list.pagination.max_page_size().max(1)
}

/// Whether `page`, asked for at most `size` items from position `start`, is in fact the whole
/// list: the list is unpaged, or the answer is longer than asked or reaches past the total the
/// legacy API reports (it ignores the paging parameters).
fn is_whole_list<T>(list: &ListEndpoint, page: &Page<T>, start: u64, size: u64) -> bool {
    let n = page.items.len() as u64;
    matches!(list.pagination, Pagination::None)
        || n > size
        || page.total.is_some_and(|t| start.saturating_add(n) > t)
}

/// Items `[offset, offset + count)` of the list, and the total the legacy API reported (for a
/// whole list answered at once without one: its length). Uses as few calls as the pagination
/// style allows: one call when the window is one legacy page (SCIM clients page with
/// startIndex = 1, 101, 201… and count 100). `walk_limit` bounds how many items a cursor walk
/// may skip through. A legacy API that ignores the paging parameters is read as the whole list
/// it answers: no item twice, none skipped.
pub(crate) async fn fetch_window<T: PageItem>(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    call: &ListCall<'_>,
    offset: u64,
    count: u64,
    walk_limit: u64,
) -> Result<(Vec<T>, Option<u64>), ScimError> {
    let list = call.list;
    let max = max_page_size(list);
    let want = count.max(1);
    let mut out: Vec<T> = Vec::new();
    let mut total = None;
    // The whole list in one answer: the window is cut out of it.
    let whole = |page: Page<T>| -> (Vec<T>, Option<u64>) {
        let total = page.total.or(Some(page.items.len() as u64));
        let window = page
            .items
            .into_iter()
            .skip(usize::try_from(offset).unwrap_or(usize::MAX))
            .take(usize::try_from(want).unwrap_or(usize::MAX))
            .collect();
        (window, total)
    };
    match &list.pagination {
        Pagination::None => {
            let page = fetch_page(cx, resource, call, 0, want, None).await?;
            (out, total) = whole(page);
        }
        Pagination::Offset { .. } => {
            let mut at = offset;
            loop {
                let size = (want - out.len() as u64).min(max);
                let page = fetch_page(cx, resource, call, at, size, None).await?;
                if is_whole_list(list, &page, at, size) {
                    (out, total) = whole(page);
                    break;
                }
                total = total.or(page.total);
                let n = page.items.len() as u64;
                out.extend(page.items);
                at += n;
                if n < size || out.len() as u64 >= want || total.is_some_and(|t| at >= t) {
                    break;
                }
            }
        }
        Pagination::Page { .. } => {
            // One legacy page size for the whole window: `want` when the window is aligned to
            // it, else the largest page.
            let size = if want <= max && offset.is_multiple_of(want) {
                want
            } else {
                max
            };
            let mut page_start = offset - offset % size;
            loop {
                let page = fetch_page(cx, resource, call, page_start, size, None).await?;
                if is_whole_list(list, &page, page_start, size) {
                    (out, total) = whole(page);
                    break;
                }
                total = total.or(page.total);
                let n = page.items.len() as u64;
                let skip = offset.saturating_sub(page_start) as usize;
                out.extend(page.items.into_iter().skip(skip));
                page_start += size;
                if n < size || out.len() as u64 >= want || total.is_some_and(|t| page_start >= t) {
                    break;
                }
            }
        }
        Pagination::Cursor { .. } => {
            let mut cursor: Option<String> = None;
            let mut seen: u64 = 0;
            loop {
                let page = fetch_page(cx, resource, call, seen, max, cursor.as_deref()).await?;
                if seen == 0 && is_whole_list(list, &page, 0, max) {
                    (out, total) = whole(page);
                    break;
                }
                total = total.or(page.total);
                let n = page.items.len() as u64;
                let skip = offset.saturating_sub(seen) as usize;
                out.extend(page.items.into_iter().skip(skip));
                seen += n;
                cursor = page.next;
                if cursor.is_none() || n == 0 || out.len() as u64 >= want {
                    break;
                }
                if seen > walk_limit {
                    return Err(ScimError::too_many(format!(
                        "reaching startIndex {} needs walking more than {walk_limit} records of \
                         a cursor-paginated legacy list (the mapping's {}.scan_limit); page \
                         through the results from the start instead",
                        offset + 1,
                        section(list)
                    )));
                }
            }
        }
    }
    out.truncate(want as usize);
    if count == 0 {
        out.clear();
    }
    Ok((out, total))
}

/// How a walk of a legacy list ([`walk`]) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walked {
    /// Every item was visited.
    Done,
    /// The visitor stopped the walk.
    Stopped,
    /// The list holds more items than the walk may read (by the legacy total, or by the items
    /// seen): nothing past the limit was read, and the walk is incomplete.
    TooMany,
}

/// Visits every item of the list in order, as its page arrives: only one legacy page of JSON is
/// held at a time. Stops when `visit` says so or fails, and with [`Walked::TooMany`] as soon as
/// the legacy total, or the items seen, pass `limit`. An unpaged list is one call; a legacy API
/// that ignores the paging parameters (an answer longer than asked, past its total, or the same
/// page again) is read as the whole list it answers, each item once.
pub(crate) async fn walk(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    call: &ListCall<'_>,
    limit: u64,
    mut visit: impl FnMut(Value) -> Result<ControlFlow<()>, ScimError>,
) -> Result<Walked, ScimError> {
    let list = call.list;
    let size = max_page_size(list);
    let mut seen: u64 = 0;
    let mut cursor: Option<String> = None;
    let mut last_first: Option<Value> = None;
    loop {
        let page = fetch_page(cx, resource, call, seen, size, cursor.as_deref()).await?;
        if seen > 0 && !page.items.is_empty() && page.items.first() == last_first.as_ref() {
            // The page read before, again: the legacy API ignores paging; all of it was seen.
            return Ok(Walked::Done);
        }
        let whole = is_whole_list(list, &page, seen, size);
        // The items of a whole list that were not visited yet.
        let skip = if whole { seen } else { 0 };
        let n = page.items.len() as u64;
        let reach = if whole { n } else { seen + n };
        if reach > limit || page.total.is_some_and(|t| t > limit) {
            return Ok(Walked::TooMany);
        }
        let total = page.total;
        last_first = page.items.first().cloned();
        for item in page
            .items
            .into_iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
        {
            if visit(item)?.is_break() {
                return Ok(Walked::Stopped);
            }
        }
        seen = reach;
        cursor = page.next;
        let more = !whole
            && match &list.pagination {
                Pagination::Cursor { .. } => cursor.is_some(),
                Pagination::None => false,
                Pagination::Page { .. } | Pagination::Offset { .. } => {
                    n == size && total.is_none_or(|t| seen < t)
                }
            };
        if n == 0 || !more {
            return Ok(Walked::Done);
        }
    }
}

/// Every item of the list filtered by `params`, each passed through `read` as its page arrives
/// (see [`walk`]): only one legacy page of JSON is held at a time, and what `read` keeps. Stops
/// at the first error of `read`, and with `Err(tooMany)` when the list holds more than `limit`
/// items.
pub async fn fetch_all<T>(
    cx: &Ctx<'_>,
    resource: &ResourceMapping,
    list: &ListEndpoint,
    params: &[QueryParam<'_>],
    limit: u64,
    mut read: impl FnMut(Value) -> Result<T, ScimError>,
) -> Result<Vec<T>, ScimError> {
    let mut out = Vec::new();
    let walked = walk(cx, resource, &ListCall::of(list, params), limit, |item| {
        out.push(read(item)?);
        Ok(ControlFlow::Continue(()))
    })
    .await?;
    match walked {
        Walked::TooMany => Err(too_many_to_read(list, limit)),
        Walked::Done | Walked::Stopped => Ok(out),
    }
}

/// The mapping section a list belongs to (`users`, `groups`), for messages naming its settings.
pub(crate) fn section(list: &ListEndpoint) -> &'static str {
    list.endpoint
        .name
        .split_once('.')
        .map_or(list.endpoint.name, |(section, _)| section)
}

/// The 400 `tooMany` of a request that needs more than `limit` records of `list`.
pub(crate) fn too_many_to_read(list: &ListEndpoint, limit: u64) -> ScimError {
    let section = section(list);
    ScimError::too_many(format!(
        "answering this needs the gateway to read more than {limit} records of the legacy \
         list, its limit ({section}.scan_limit in the mapping); narrow the filter with an \
         attribute the legacy API searches itself (its filters:), or raise {section}.scan_limit"
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn users() -> ResourceMapping {
        let yaml = r#"
name: t
backend: { base_url: "http://127.0.0.1:1" }
users:
  id: $.id
  endpoints:
    create: { method: POST, path: /users }
    get: { method: GET, path: "/users/{id}" }
    update: { method: PATCH, path: "/users/{id}", mode: partial }
    list: { method: GET, path: /users, items: $.data, pagination: { style: offset, offset_param: offset, limit_param: limit } }
  on_delete: deactivate
  deleted: { legacy: $.state, value: gone }
  attributes:
    - { scim: userName, legacy: $.login }
    - { scim: active, legacy: $.on, legacy_type: boolean }
"#;
        crate::mapping::load_str("t.yaml", yaml).unwrap().users
    }

    fn failed(status: Option<u16>) -> CallError {
        CallError {
            legacy_status: status,
            error: ScimError::bad_gateway("x"),
        }
    }

    #[test]
    fn refusals_are_client_errors_and_an_unreadable_success_was_accepted() {
        for (status, refused, accepted) in [
            (Some(404), true, false),
            (Some(422), true, false),
            (Some(429), false, false),
            (Some(503), false, false),
            (Some(200), false, true),
            (Some(201), false, true),
            (None, false, false),
        ] {
            let e = failed(status);
            assert_eq!(e.refused(), refused, "{status:?}");
            assert_eq!(e.accepted(), accepted, "{status:?}");
        }
    }

    #[test]
    fn no_such_record_is_what_the_mapping_rules_make_a_404() {
        let with = |status, error| CallError {
            legacy_status: Some(status),
            error,
        };
        // A get's 403 that a rule makes a 404 (an API that answers 403 for an unknown id).
        let e = with(403, ScimError::not_found("no user"));
        assert_eq!(e.answer(), LegacyAnswer::NotFound);
        assert!(e.refused());
        assert_eq!(
            with(404, ScimError::not_found("x")).answer(),
            LegacyAnswer::NotFound
        );
        assert_eq!(
            with(410, ScimError::not_found("x")).answer(),
            LegacyAnswer::NotFound
        );
        // A 404 a rule makes something else is that, not "no such record".
        let e = with(404, ScimError::invalid_value("no such team"));
        assert_eq!(e.answer(), LegacyAnswer::Refused);
        // A failure of the legacy API never means "no such record".
        assert_eq!(
            with(503, ScimError::not_found("x")).answer(),
            LegacyAnswer::Failed
        );
        assert_eq!(
            with(412, ScimError::bad_gateway("x")).answer(),
            LegacyAnswer::PreconditionFailed
        );
    }

    fn create() -> NamedCreate<'static> {
        NamedCreate {
            what: "user",
            attr: "userName",
            name: "ada@example.com",
        }
    }

    fn found(records: &[Value]) -> Result<Vec<(Value, Value)>, ScimError> {
        Ok(records.iter().map(|r| (r.clone(), Value::Null)).collect())
    }

    #[test]
    fn a_record_an_unreadable_create_made_is_found_by_its_name_and_not_among_the_deleted() {
        let r = users();
        let e = ScimError::bad_gateway("a user has no id at $.id");
        let records = [
            json!({"id": 3, "login": "ada@example.com", "state": "gone"}),
            json!({"id": 7, "login": "ada@example.com"}),
        ];
        let (id, e) = created_anyway(&r, &create(), e, found(&records)).unwrap();
        assert_eq!(id, "7");
        assert_eq!(e.status, 502);
        assert_eq!(
            e.detail,
            "the legacy API accepted the create of user \"ada@example.com\" but its answer could \
             not be read (a user has no id at $.id)"
        );
    }

    #[test]
    fn without_a_record_to_undo_the_error_says_what_a_retry_does() {
        let r = users();
        let e = || ScimError::bad_gateway("not JSON.");
        let none = created_anyway(&r, &create(), e(), found(&[])).unwrap_err();
        assert_eq!(none.status, 502);
        assert!(
            none.detail.ends_with(
                "No user with that userName is in the legacy API: sending the request again \
                 creates it."
            ),
            "{}",
            none.detail
        );
        let deleted_only = found(&[json!({"id": 3, "login": "a", "state": "gone"})]);
        assert!(created_anyway(&r, &create(), e(), deleted_only).is_err());

        let down = Err(ScimError::bad_gateway("legacy API: down."));
        let unknown = created_anyway(&r, &create(), e(), down).unwrap_err();
        assert!(
            unknown.detail.contains("is not known (legacy API: down)")
                && unknown
                    .detail
                    .contains("answers 409 (uniqueness) if it exists"),
            "{}",
            unknown.detail
        );
    }
}
