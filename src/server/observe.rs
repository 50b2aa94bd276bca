//! What the gateway records about each SCIM request, once it is answered: its request id
//! (`X-Request-Id`, kept or generated, returned on every answer), its metrics, the access log
//! line (debug, target `scim_gateway::access`) and, for a change, the provisioning log line
//! (target `provisioning`, the fields of `docs/operator.md`, "The provisioning log"), one per create, replace,
//! patch or delete of a user or group and one per member added to or removed from a group. A
//! change refused before it was routed (authentication, an unreadable body) is logged too, with
//! the tenant `none`: "users aren't being provisioned" is often a wrong token.
//!
//! A [`RequestRecord`] travels with the request in [`Ctx`]: the steps fill it (the tenant once
//! authenticated, the route once routed, the legacy API's last status, the user's userName when
//! read) and [`finish`] reads it.
//!
//! Never logged: request or response bodies, headers, tokens, passwords, the legacy API key.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::metrics;
use crate::scim::ScimError;
use crate::server::context::Ctx;
use crate::server::gateway::Gateway;
use crate::server::record::RequestRecord;
use crate::server::router::{self, Collection, Route};
use crate::server::wire::{Body, Reply, Request, REQUEST_ID};

/// The tracing target of the provisioning log.
pub const PROVISIONING: &str = "provisioning";

/// The request id of a request: the incoming `X-Request-Id` when it is 1–64 characters of
/// `[A-Za-z0-9._-]`, else a new random one.
pub fn request_id(incoming: Option<&[u8]>) -> String {
    match incoming {
        Some(v) if is_valid_request_id(v) => String::from_utf8_lossy(v).into_owned(),
        _ => random_id().simple().to_string(),
    }
}

/// A random (version 4) UUID, from the thread's random generator: a request id, not a secret,
/// so not worth the system call per request that `Uuid::new_v4` makes.
pub fn random_id() -> uuid::Uuid {
    uuid::Builder::from_random_bytes(rand::random()).into_uuid()
}

fn is_valid_request_id(v: &[u8]) -> bool {
    (1..=64).contains(&v.len())
        && v.iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A change to provisioned data, as the provisioning log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Create,
    Replace,
    Patch,
    Delete,
}

impl Change {
    fn of(route: &Route) -> Option<(Change, Collection, Option<&str>)> {
        match route {
            Route::Create(c) => Some((Change::Create, *c, None)),
            Route::Replace(c, id) => Some((Change::Replace, *c, Some(id))),
            Route::Patch(c, id) => Some((Change::Patch, *c, Some(id))),
            Route::Delete(c, id) => Some((Change::Delete, *c, Some(id))),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Replace => "replace",
            Change::Patch => "patch",
            Change::Delete => "delete",
        }
    }
}

fn resource_name(c: Collection) -> &'static str {
    match c {
        Collection::Users => "Users",
        Collection::Groups => "Groups",
    }
}

/// How a change ended, as the provisioning log says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    /// A member not added because there is no such user; the request went on.
    Skipped,
    /// Failed after some of its changes were made (the detail says which).
    Partial,
    Error,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Skipped => "skipped",
            Outcome::Partial => "partial",
            Outcome::Error => "error",
        }
    }
}

/// One line of the provisioning log.
struct Line<'a> {
    tenant: &'a str,
    request_id: &'a str,
    operation: &'a str,
    resource: &'a str,
    resource_id: Option<&'a str>,
    user_name: Option<&'a str>,
    scim_status: u16,
    legacy_status: Option<u16>,
    latency: Duration,
    detail: &'a str,
    outcome: Outcome,
}

impl Line<'_> {
    fn emit(&self) {
        let latency_ms = self.latency.as_secs_f64() * 1000.0;
        if self.outcome == Outcome::Ok {
            tracing::info!(
                target: PROVISIONING,
                tenant = self.tenant,
                request_id = self.request_id,
                operation = self.operation,
                resource = self.resource,
                resource_id = self.resource_id,
                user_name = self.user_name,
                outcome = "ok",
                scim_status = self.scim_status,
                legacy_status = self.legacy_status,
                latency_ms,
                detail = self.detail,
                "provisioning"
            );
        } else {
            tracing::warn!(
                target: PROVISIONING,
                tenant = self.tenant,
                request_id = self.request_id,
                operation = self.operation,
                resource = self.resource,
                resource_id = self.resource_id,
                user_name = self.user_name,
                outcome = self.outcome.as_str(),
                scim_status = self.scim_status,
                legacy_status = self.legacy_status,
                latency_ms,
                detail = self.detail,
                "provisioning"
            );
        }
    }
}

/// Records an answered request: its metrics, its access log line, its provisioning log line
/// when it is a change, the tenant's last sync when the change succeeded; and puts the request
/// id on the answer.
pub fn finish(
    gw: &Gateway,
    request: &Request,
    record: &RequestRecord,
    reply: &mut Reply,
    started: Instant,
) {
    let elapsed = started.elapsed();
    let tenant = record.tenant();
    // Routed by the app; a request refused before (authentication, an unreadable body) is
    // classified here, for its labels only.
    let classified;
    let route = match record.route() {
        Some(r) => Some(r),
        None => {
            classified = router::route_with_tenant(
                &request.method,
                &request.path,
                &gw.config.scim.base_path,
            );
            classified.as_ref().ok().map(|(_, route)| route)
        }
    };
    let labels = route.map(Route::labels).unwrap_or(metrics::UNROUTED);
    gw.metrics
        .record_request(tenant, labels, reply.status, elapsed);
    tracing::debug!(
        target: "scim_gateway::access",
        tenant,
        request_id = %request.request_id,
        method = %request.method,
        path = %request.path,
        status = reply.status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "scim request"
    );
    if let Some((change, collection, id)) = route.and_then(Change::of) {
        // A create's: the id it made, or the id of the resource it answered (a user restored).
        let resource_id = id
            .or_else(|| record.created_id())
            .or_else(|| answered_str(reply, "id"));
        let user_name = match collection {
            Collection::Users => user_name_of(request, record, reply),
            Collection::Groups => None,
        };
        let detail = if reply.status >= 400 {
            answered_str(reply, "detail").unwrap_or("")
        } else {
            ""
        };
        Line {
            tenant,
            request_id: &request.request_id,
            operation: change.as_str(),
            resource: resource_name(collection),
            resource_id,
            user_name: user_name.as_deref(),
            scim_status: reply.status,
            legacy_status: record.legacy_status_for(reply.status >= 400),
            latency: elapsed,
            detail,
            outcome: match reply.status {
                s if s < 400 => Outcome::Ok,
                _ if !record.applied_steps().is_empty() => Outcome::Partial,
                _ => Outcome::Error,
            },
        }
        .emit();
        if reply.status < 400 && record.has_tenant() {
            gw.status.touch(tenant);
        }
    }
    reply.headers.push((REQUEST_ID, request.request_id.clone()));
}

/// The userName of the user a request changed: from the answer, else as read from the legacy
/// API, else from the request body.
/// The string member `key` of a reply's JSON body (a text body is not read).
fn answered_str<'r>(reply: &'r Reply, key: &str) -> Option<&'r str> {
    reply
        .body
        .as_ref()
        .and_then(Body::json)
        .and_then(|b| b.get(key))
        .and_then(Value::as_str)
}

fn user_name_of(request: &Request, record: &RequestRecord, reply: &Reply) -> Option<String> {
    let from = |v: &Value| {
        v.as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("userName"))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_owned)
    };
    reply
        .body
        .as_ref()
        .and_then(Body::json)
        .and_then(from)
        .or_else(|| record.user_name())
        .or_else(|| {
            serde_json::from_slice::<Value>(&request.body)
                .ok()
                .as_ref()
                .and_then(from)
        })
}

/// A member added to or removed from a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberChange {
    Add,
    Remove,
}

/// How one member change ended, as the identity provider is told it.
#[derive(Debug, Clone, Copy)]
pub enum MemberOutcome<'e> {
    /// Done, or nothing to do (already a member, not a member).
    Ok,
    /// Not added: no such user in the legacy API. The rest of the request goes on, and the
    /// identity provider is told success.
    Skipped,
    /// Not applied, for this reason (a user's one group stays, being higher-ranked or
    /// protected; the group is protected). The identity provider is told success.
    Kept(&'e str),
    /// Refused: the request fails with this error.
    Failed(&'e ScimError),
}

/// One member change of a group: which change, of which group and member, and when this
/// member's calls began.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MemberEvent<'a> {
    pub(crate) change: MemberChange,
    pub(crate) group_id: &'a str,
    pub(crate) member: &'a str,
    pub(crate) started: Instant,
}

impl<'a> MemberEvent<'a> {
    /// The change `change` of `member` in group `group_id`, its calls beginning now.
    pub(crate) fn now(change: MemberChange, group_id: &'a str, member: &'a str) -> Self {
        MemberEvent {
            change,
            group_id,
            member,
            started: Instant::now(),
        }
    }

    /// Notes the change among what the request applied ("added user 7 to group 3").
    pub(crate) fn applied(&self, cx: &Ctx<'_>) {
        let MemberEvent {
            change,
            group_id,
            member,
            ..
        } = *self;
        cx.record.applied(match change {
            MemberChange::Add => format!("added user {member} to group {group_id}"),
            MemberChange::Remove => format!("removed user {member} from group {group_id}"),
        });
    }

    /// Logs an added member that is no user: skipped, while the rest of the request goes on.
    pub(crate) fn skipped(&self, cx: &Ctx<'_>) {
        tracing::warn!(group = %self.group_id, member = %self.member, "unknown member skipped");
        self.log(cx, MemberOutcome::Skipped);
    }

    /// Logs the change as its `outcome`: `ok` and `skipped` with the 204 the identity provider
    /// is answered for it, `error` with the status and detail of the error it gets.
    pub(crate) fn log(&self, cx: &Ctx<'_>, outcome: MemberOutcome<'_>) {
        member_change(cx, self, outcome)
    }
}

fn member_change(cx: &Ctx<'_>, event: &MemberEvent<'_>, outcome: MemberOutcome<'_>) {
    let MemberEvent {
        change,
        group_id,
        member,
        started,
    } = *event;
    let operation = match change {
        MemberChange::Add => "add_member",
        MemberChange::Remove => "remove_member",
    };
    let (scim_status, detail, outcome) = match outcome {
        MemberOutcome::Ok => (204, format!("member {member}"), Outcome::Ok),
        MemberOutcome::Skipped => (
            204,
            format!("member {member}: no such user in the legacy API; skipped"),
            Outcome::Skipped,
        ),
        MemberOutcome::Kept(why) => (
            204,
            format!("member {member}: not applied: {why}"),
            Outcome::Skipped,
        ),
        MemberOutcome::Failed(e) => (
            e.status,
            format!("member {member}: {}", e.detail),
            Outcome::Error,
        ),
    };
    Line {
        tenant: &cx.tenant.name,
        request_id: cx.request_id,
        operation,
        resource: "Groups",
        resource_id: Some(group_id),
        user_name: None,
        scim_status,
        legacy_status: cx.record.legacy_status(),
        latency: started.elapsed(),
        detail: &detail,
        outcome,
    }
    .emit();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_incoming_request_id_is_kept() {
        assert_eq!(request_id(Some(b"abc-123_X.y")), "abc-123_X.y");
        let max = "a".repeat(64);
        assert_eq!(request_id(Some(max.as_bytes())), max);
    }

    #[test]
    fn a_missing_or_malformed_request_id_is_replaced_by_a_new_one() {
        let long = "a".repeat(65);
        for bad in [
            None,
            Some(&b""[..]),
            Some(long.as_bytes()),
            Some(b"has space"),
            Some(b"new\nline"),
            Some(b"quote\""),
            Some("caf\u{e9}".as_bytes()),
        ] {
            let id = request_id(bad);
            assert!(is_valid_request_id(id.as_bytes()), "{id:?}");
            assert_ne!(Some(id.as_bytes()), bad);
        }
        assert_ne!(
            request_id(None),
            request_id(None),
            "each generated id is new"
        );
        // A version 4 UUID in its simple form, as before.
        let id = request_id(None);
        let parsed = uuid::Uuid::parse_str(&id).expect("a UUID");
        assert_eq!((id.len(), parsed.get_version_num()), (32, 4));
        assert_eq!(parsed.get_variant(), uuid::Variant::RFC4122);
    }

    #[test]
    fn the_record_knows_no_tenant_before_authentication() {
        let r = RequestRecord::default();
        assert_eq!(r.tenant(), "none");
        assert_eq!(r.legacy_status(), None);
        r.set_tenant("acme");
        r.set_legacy_status(422);
        r.set_legacy_status(200);
        assert_eq!(r.tenant(), "acme");
        assert_eq!(r.legacy_status(), Some(200), "the last call's status");
        assert_eq!(
            r.legacy_status_for(true),
            Some(422),
            "a failure shows the refusal"
        );
        assert_eq!(r.legacy_status_for(false), Some(200));
    }

    #[test]
    fn only_writes_are_changes() {
        assert_eq!(
            Change::of(&Route::Create(Collection::Users)).map(|c| c.0),
            Some(Change::Create)
        );
        assert_eq!(
            Change::of(&Route::Delete(Collection::Groups, "5".into())).map(|c| (c.0, c.2)),
            Some((Change::Delete, Some("5")))
        );
        assert!(Change::of(&Route::Get(Collection::Users, "5".into())).is_none());
        assert!(Change::of(&Route::Search(Collection::Users)).is_none());
    }
}
