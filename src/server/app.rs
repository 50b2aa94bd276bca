//! The SCIM listener: a pingora `ServeHttp` app. Each request goes through the steps of
//! the request path (`docs/architecture.md`) in order — read (bounded) → authenticate → the tenant's rate limit → route →
//! operation (SCIM protocol + mapping + legacy calls, in `users`) → shape the response — and
//! every failure leaves as a SCIM error body.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use http::{header, Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use scim_gateway_hosting::AfterAnswer;
use serde_json::Value;

use crate::config::GroupPatchAnswer;
use crate::scim::etag::{Condition, Preconditions};
use crate::scim::list::{self, ListQuery};
use crate::scim::schema::ResourceSchema;
use crate::scim::{discovery, json_text, ScimError, ScimType};
use crate::server::auth;
use crate::server::context::Ctx;
use crate::server::gateway::{set_location, Gateway};
use crate::server::observe;
use crate::server::record::{self, RequestRecord};
use crate::server::reload::Live;
use crate::server::router::{self, Collection, Route};
use crate::server::tenant::Tenant;
use crate::server::wire::{Body, Reply, Request, REQUEST_ID, SCIM_JSON};
use crate::server::{groups, rate_limit, users};

/// The pingora app serving SCIM.
pub struct ScimApp {
    gateway: Live,
}

impl ScimApp {
    /// Serves `gateway`: a [`Live`] (reloadable) or an `Arc<Gateway>`.
    pub fn new(gateway: impl Into<Live>) -> ScimApp {
        ScimApp {
            gateway: gateway.into(),
        }
    }
}

#[async_trait]
impl ServeHttp for ScimApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let started = Instant::now();
        // The generation this request uses to its end, whatever a reload does meanwhile.
        let gateway: Arc<Gateway> = self.gateway.current();
        let _in_flight = gateway.metrics.in_flight();
        let head = session.req_header();
        let method = head.method.clone();
        let path = head.uri.path().to_string();
        let query = head.uri.query().unwrap_or("").to_string();
        let authorization = head
            .headers
            .get(header::AUTHORIZATION)
            .map(|v| v.as_bytes().to_vec());
        // An absolute request URI's authority wins over Host (RFC 9112 §3.2.2); two Host
        // headers name no host.
        let host = head.uri.authority().map(|a| a.to_string()).or_else(|| {
            let mut hosts = head.headers.get_all(header::HOST).iter();
            match (hosts.next(), hosts.next()) {
                (Some(h), None) => h.to_str().ok().map(str::to_owned),
                _ => None,
            }
        });
        let request_id = observe::request_id(head.headers.get(REQUEST_ID).map(|v| v.as_bytes()));
        let if_match = joined(&head.headers, header::IF_MATCH);
        let if_none_match = joined(&head.headers, header::IF_NONE_MATCH);

        let head_ok = check_head(&head.headers, gateway.config.scim.max_header_bytes)
            .and_then(|()| router::check_host(&gateway.config.scim, host.as_deref()));
        let body = match head_ok {
            Ok(()) => read_body(session, gateway.config.scim.max_body_bytes).await,
            Err(e) => Err(e),
        };
        let record = RequestRecord::default();
        let (body, refused) = match body {
            Ok(body) => (body, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let request = Request {
            method,
            path,
            query,
            authorization,
            host,
            body,
            request_id,
            if_match,
            if_none_match,
        };
        let mut reply = match refused {
            None => handle(&gateway, &request, &record).await,
            Some(e) => {
                // The rest of the body is not read: the connection cannot be reused.
                session.set_keepalive(None);
                tracing::warn!(method = %request.method, path = %request.path, status = e.status, request_id = %request.request_id, "request refused before routing");
                Reply::error(&e)
            }
        };
        observe::finish(&gateway, &request, &record, &mut reply, started);
        let mut response = to_http(reply);
        if let Some(work) = record.take_after_answer(&gateway.records) {
            response.extensions_mut().insert(AfterAnswer::new(work));
        }
        response
    }
}

/// Every value of header `name`, joined with `, ` as RFC 7230 §3.2.2 allows for a list;
/// `None` when the request has none.
fn joined(headers: &http::HeaderMap, name: header::HeaderName) -> Option<String> {
    let values: Vec<String> = headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// The longest `Authorization` header accepted: longer is refused with 401 before any hashing.
pub(crate) const MAX_AUTHORIZATION_BYTES: usize = 1024;

/// Refuses request headers totalling more than `max` bytes (names, values, `": "` and CRLF)
/// with 431, and an `Authorization` header longer than [`MAX_AUTHORIZATION_BYTES`] with 401.
fn check_head(headers: &http::HeaderMap, max: usize) -> Result<(), ScimError> {
    let total: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if total > max {
        return Err(ScimError::new(
            431,
            None,
            format!("the request headers are larger than the {max} bytes this gateway accepts"),
        ));
    }
    if headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .any(|v| v.len() > MAX_AUTHORIZATION_BYTES)
    {
        return Err(ScimError::unauthorized(format!(
            "the Authorization header is longer than {MAX_AUTHORIZATION_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Reads the request body, refusing one larger than `max` bytes with 413.
async fn read_body(session: &mut ServerSession, max: usize) -> Result<Vec<u8>, ScimError> {
    let mut body = Vec::new();
    loop {
        match session.read_request_body().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max {
                    return Err(ScimError::new(
                        413,
                        None,
                        format!(
                            "the request body is larger than the {max} bytes this gateway accepts"
                        ),
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(_) => {
                return Err(ScimError::invalid_syntax(
                    "the request body could not be read",
                ))
            }
        }
    }
}

/// The first capacity of a response body: a user answered (about 1 KB) fits without growing.
const RESPONSE_BUFFER: usize = 2048;

fn to_http(reply: Reply) -> Response<Vec<u8>> {
    let has_body = reply.body.is_some();
    let body = match reply.body {
        // Written once into a buffer the size of a usual answer, not grown from 128 bytes.
        Some(Body::Json(v)) => {
            let mut body = Vec::with_capacity(RESPONSE_BUFFER);
            json_text::write_value(&mut body, &v);
            body
        }
        Some(Body::Text(text)) => text,
        None => Vec::new(),
    };
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut builder = Response::builder()
        .status(status)
        .header(header::CONTENT_LENGTH, body.len());
    if has_body {
        builder = builder.header(header::CONTENT_TYPE, SCIM_JSON);
    }
    for (name, value) in reply.headers {
        builder = builder.header(name, value);
    }
    builder.body(body).unwrap_or_else(|_| {
        let mut r = Response::new(Vec::new());
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

/// Handles one request; never fails: errors become SCIM error replies. `record` gathers what
/// the steps learn, for the request's metrics and logs.
pub(crate) async fn handle(gw: &Gateway, request: &Request, record: &RequestRecord) -> Reply {
    match handle_checked(gw, request, record).await {
        Ok(reply) => reply,
        Err(e) => {
            let e = record::with_applied(e, &record.applied_steps());
            if e.status >= 500 {
                tracing::warn!(status = e.status, detail = %e.detail, request_id = %request.request_id, "request failed");
            }
            Reply::error(&e)
        }
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ScimError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax("the request needs a JSON body"));
    }
    json_text::parse_value(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not valid JSON: {e}")))
}

async fn handle_checked(
    gw: &Gateway,
    request: &Request,
    record: &RequestRecord,
) -> Result<Reply, ScimError> {
    // Authenticated, routed and authorised (tenant URL, scope) before anything is read.
    let now = time::OffsetDateTime::now_utc();
    let access = gw
        .keys
        .authenticate(request.authorization.as_deref(), now)
        .and_then(|principal| {
            record.set_tenant(&principal.tenant.name);
            auth::permit(
                principal,
                &request.method,
                &request.path,
                &gw.config.scim.base_path,
            )
        });
    let access = match access {
        Ok(access) => access,
        Err(refusal) => {
            if let Some(failure) = refusal.failure {
                gw.metrics.record_auth_failure(failure.into());
            }
            return Err(refusal.error);
        }
    };
    let cx = Ctx {
        gw,
        tenant: &access.principal.tenant,
        request_id: &request.request_id,
        record,
    };
    // The tenant's rate limit, before any work is done for it.
    rate_limit::admit(&gw.rate_limits, &gw.metrics, &cx.tenant.name)?;
    // meta.location and Location keep the URL form the client used.
    let base = router::base_url(
        &gw.config.scim,
        request.host.as_deref(),
        access.url_tenant.as_deref(),
    );
    route_request(&cx, request, access.route, base).await
}

/// Handles one request made by the gateway's own onboarding commands for `tenant`: routed
/// like any request (the path is under the base path) but neither authenticated nor rate
/// limited, since no identity provider makes it. Errors become SCIM error replies.
pub(crate) async fn handle_as(
    gw: &Gateway,
    tenant: &Tenant,
    request: &Request,
    record: &RequestRecord,
) -> Reply {
    let cx = Ctx {
        gw,
        tenant,
        request_id: &request.request_id,
        record,
    };
    let routed = router::route(&request.method, &request.path, &gw.config.scim.base_path);
    let base = router::base_url(&gw.config.scim, request.host.as_deref(), None);
    let outcome = match routed {
        Ok(route) => route_request(&cx, request, route, base).await,
        Err(e) => Err(e),
    };
    outcome.unwrap_or_else(|e| Reply::error(&record::with_applied(e, &record.applied_steps())))
}

/// Where a route's list query (`attributes`, `excludedAttributes`, and for lists the filter,
/// sort and page) comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QueryFrom {
    /// The URL's query string.
    Url,
    /// The JSON body of a `.search` POST.
    SearchBody,
    /// Nowhere: the route takes no query (a delete, discovery).
    Nothing,
}

/// The route table: what each route reads from the request before its operation runs — where
/// its query comes from, and whether it takes a JSON body (a resource to create or write, a
/// PATCH request).
fn reads(route: &Route) -> (QueryFrom, bool) {
    match route {
        Route::List(_) => (QueryFrom::Url, false),
        Route::Search(_) | Route::SearchAll => (QueryFrom::SearchBody, false),
        Route::Create(_) | Route::Replace(..) | Route::Patch(..) => (QueryFrom::Url, true),
        Route::Get(..) => (QueryFrom::Url, false),
        Route::Delete(..)
        | Route::ServiceProviderConfig
        | Route::ResourceTypes(_)
        | Route::Schemas(_) => (QueryFrom::Nothing, false),
    }
}

/// Reads what the route table says `route` needs (the query, then the body), and runs the
/// route's operation.
async fn route_request(
    cx: &Ctx<'_>,
    request: &Request,
    route: Route,
    base: String,
) -> Result<Reply, ScimError> {
    cx.record.set_tenant(&cx.tenant.name);
    cx.record.set_route(&route);
    // What the request may spend on the legacy API, from here (`[scim]` bounds).
    let scim = &cx.config.scim;
    cx.record.start_budget(
        scim.request_max_legacy_calls,
        std::time::Duration::from_secs(scim.request_timeout_seconds),
    );
    let max = cx.config.scim.max_results;
    let (query_from, takes_body) = reads(&route);
    let query = match query_from {
        QueryFrom::Url => ListQuery::from_query_string(&request.query, max)?,
        QueryFrom::SearchBody => ListQuery::from_search_request(&parse_json(&request.body)?, max)?,
        // Not read: every attribute, the first page.
        QueryFrom::Nothing => ListQuery {
            filter: None,
            start_index: 1,
            count: max,
            sort_by: None,
            descending: false,
            attributes: Vec::new(),
            excluded_attributes: Vec::new(),
        },
    };
    let body = if takes_body {
        parse_json(&request.body)?
    } else {
        Value::Null
    };
    let pre = preconditions(request, &route)?;
    // Each operation's future (a chain of legacy calls) is large, and the worker threads'
    // stacks are not: `operate` boxes the one it runs, so that only that operation's future is
    // built and moved (a box around `operate` itself would copy the largest of them all, a
    // PATCH's, on every request).
    operate(cx, route, &query, body, &base, &pre).await
}

/// The conditional headers `route` honours (RFC 7644 §3.14): `If-Match` on PUT, PATCH and
/// DELETE of one resource, `If-None-Match` on GET of one. An `If-Match` that is neither `*`
/// nor a list of entity tags is refused with 400 `invalidSyntax`: a write the client meant to
/// guard is never made unguarded. A malformed `If-None-Match` is ignored: the full answer
/// (200) is what a client without it gets, and nothing is written. Other routes ignore both.
fn preconditions(request: &Request, route: &Route) -> Result<Preconditions, ScimError> {
    let mut pre = Preconditions::default();
    match route {
        Route::Replace(..) | Route::Patch(..) | Route::Delete(..) => {
            if let Some(v) = &request.if_match {
                let c = Condition::parse(v).map_err(|_| {
                    ScimError::invalid_syntax(
                        "the If-Match header is neither * nor a list of entity tags \
                         (such as W/\"3\")",
                    )
                })?;
                pre.if_match = Some(c);
            }
        }
        Route::Get(..) => {
            pre.if_none_match = request
                .if_none_match
                .as_deref()
                .and_then(|v| Condition::parse(v).ok());
        }
        _ => {}
    }
    Ok(pre)
}

/// The version (`meta.version`) of a resource about to be answered, before `attributes` may
/// leave `meta` out: the `ETag` header carries it all the same.
fn version_of(resource: &Value) -> Option<String> {
    resource
        .get("meta")
        .and_then(|m| m.get("version"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A single resource answered with `status`: `shown` is the resource as `attributes` shapes
/// it, and the `ETag` header is `full_version`, its version taken before that shaping.
fn tagged(status: u16, full_version: Option<String>, shown: Value) -> Reply {
    tagged_body(status, full_version, Body::Json(shown))
}

/// [`tagged`] for a body however it is held.
fn tagged_body(status: u16, full_version: Option<String>, shown: Body) -> Reply {
    let mut reply = Reply {
        status,
        body: Some(shown),
        headers: Vec::new(),
    };
    if let Some(v) = full_version {
        reply.headers.push((header::ETAG, v));
    }
    reply
}

/// 201 with the new resource as `attributes` shapes it (`shown`), and the `ETag` and
/// `Location` of the whole resource ([`CreatedHeaders::of`]), taken before that shaping.
fn created(full: CreatedHeaders, shown: Body) -> Reply {
    let mut reply = tagged_body(201, full.version, shown);
    if let Some(location) = full.location {
        reply.headers.push((header::LOCATION, location));
    }
    reply
}

/// A new resource's version and `meta.location`, for the headers of its 201.
struct CreatedHeaders {
    version: Option<String>,
    location: Option<String>,
}

impl CreatedHeaders {
    fn of(resource: &Value) -> CreatedHeaders {
        CreatedHeaders {
            version: version_of(resource),
            location: resource
                .get("meta")
                .and_then(|m| m.get("location"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

/// 304 Not Modified (RFC 7232 §4.1): no body, the `ETag` of the version the client holds.
fn not_modified(version: String) -> Reply {
    Reply {
        status: 304,
        body: None,
        headers: vec![(header::ETAG, version)],
    }
}

/// Runs the operation of `route` with its `query` and `body`, and shapes the reply.
async fn operate(
    cx: &Ctx<'_>,
    route: Route,
    query: &ListQuery,
    body: Value,
    base: &str,
    pre: &Preconditions,
) -> Result<Reply, ScimError> {
    let user_schema = ResourceSchema::user();
    let finish = |mut user: Value| -> Value {
        set_location(&mut user, base);
        list::project_owned(
            user,
            &query.attributes,
            &query.excluded_attributes,
            user_schema,
        )
    };
    // A user answered with `status`, its ETag taken before projection.
    let user_reply = |status: u16, user: Value| -> Reply {
        let version = version_of(&user);
        tagged(status, version, finish(user))
    };
    // A user a write answers: written from its draft where the default shaping keeps it so.
    let written_user_reply = |answer: users::UserAnswer<'_>| -> Reply {
        match answer {
            users::UserAnswer::Drafted(user) if users::shown_as_drafted(cx, query) => {
                let text = users::answer_text(&user, None, base);
                tagged_body(200, text.version, Body::Text(text.body))
            }
            other => user_reply(200, other.into_value()),
        }
    };
    let group_reply = |status: u16, group: &Value| -> Reply {
        tagged(status, version_of(group), project_group(group, query))
    };
    let if_match = pre.if_match.as_ref();
    let no_content = || Reply {
        status: 204,
        body: None,
        headers: Vec::new(),
    };
    Ok(match route {
        Route::List(Collection::Users) | Route::Search(Collection::Users) => {
            tagged_body(200, None, Box::pin(users::list(cx, query, base)).await?)
        }
        Route::Create(Collection::Users) => match Box::pin(users::create(cx, body)).await? {
            // Written from its draft where the default shaping keeps it so.
            users::UserAnswer::Drafted(user) if users::shown_as_drafted(cx, query) => {
                let text = users::answer_text(&user, None, base);
                let headers = CreatedHeaders {
                    version: text.version,
                    location: text.location,
                };
                created(headers, Body::Text(text.body))
            }
            other => {
                let mut user = other.into_value();
                set_location(&mut user, base);
                // The headers taken first, the user then shaped without a copy.
                created(CreatedHeaders::of(&user), Body::Json(finish(user)))
            }
        },
        Route::Get(Collection::Users, id) => {
            // Written straight from the legacy record's bytes where it can be, else built as a
            // value and shaped.
            let (version, shown) = match Box::pin(users::get_text(cx, &id, query, base)).await? {
                Some(text) => (text.version, Body::Text(text.body)),
                None => {
                    let user = Box::pin(users::get(cx, &id)).await?;
                    (version_of(&user), Body::Json(finish(user)))
                }
            };
            match (&pre.if_none_match, version) {
                (Some(c), Some(v))
                    if groups::user_version_covers(cx, query) && c.matches(Some(&v)) =>
                {
                    not_modified(v)
                }
                (_, version) => tagged_body(200, version, shown),
            }
        }
        Route::Replace(Collection::Users, id) => {
            let answer = Box::pin(users::replace(cx, &id, body, if_match)).await?;
            written_user_reply(answer)
        }
        Route::Patch(Collection::Users, id) => {
            let answer = Box::pin(users::patch(cx, &id, &body, if_match)).await?;
            written_user_reply(answer)
        }
        Route::Delete(Collection::Users, id) => {
            Box::pin(users::delete(cx, &id, if_match)).await?;
            no_content()
        }
        Route::SearchAll => Reply::json(200, Box::pin(search_all(cx, query, base)).await?),
        Route::List(Collection::Groups) | Route::Search(Collection::Groups) => {
            Reply::json(200, Box::pin(groups::list(cx, query, base)).await?)
        }
        Route::Create(Collection::Groups) => {
            let group = Box::pin(groups::create(cx, &body, base)).await?;
            created(
                CreatedHeaders::of(&group),
                Body::Json(project_group(&group, query)),
            )
        }
        Route::Get(Collection::Groups, id) => {
            let shows_members = groups::shows_members(query);
            let group = Box::pin(groups::get(cx, &id, shows_members, base)).await?;
            match (&pre.if_none_match, version_of(&group)) {
                (Some(c), Some(v))
                    if groups::group_version_covers(cx, shows_members) && c.matches(Some(&v)) =>
                {
                    not_modified(v)
                }
                _ => group_reply(200, &group),
            }
        }
        Route::Replace(Collection::Groups, id) => {
            let group = Box::pin(groups::replace(cx, &id, &body, base, if_match)).await?;
            group_reply(200, &group)
        }
        Route::Patch(Collection::Groups, id) => {
            // 204 as Entra recommends (`docs/idp/entra.md`), unless the request asks for
            // attributes or the configuration asks for the group
            // (`scim.group_patch_answer = "group"`); its members then only when `attributes`
            // names them (`groups::patch_answer_members`).
            let asks = !query.attributes.is_empty() || !query.excluded_attributes.is_empty();
            let configured = cx.config.scim.group_patch_answer == GroupPatchAnswer::Group;
            let answer = (asks || configured).then(|| groups::patch_answer_members(query));
            match Box::pin(groups::patch(cx, &id, &body, answer, base, if_match)).await? {
                Some(group) => group_reply(200, &group),
                None => no_content(),
            }
        }
        Route::Delete(Collection::Groups, id) => {
            Box::pin(groups::delete(cx, &id, if_match)).await?;
            no_content()
        }
        Route::ServiceProviderConfig => Reply::json(200, service_provider_config(cx, base)),
        Route::ResourceTypes(id) => {
            let types = discovery::resource_types(base, &cx.mapping.users.schema, group_schema(cx));
            one_or_list(types, id, "ResourceType", |t, id| {
                t["id"].as_str() == Some(id) || t["name"].as_str() == Some(id)
            })?
        }
        Route::Schemas(id) => {
            let mut schemas = cx.mapping.users.schema.schemas_json(base);
            if let Some(g) = group_schema(cx) {
                schemas.extend(g.schemas_json(base));
            }
            one_or_list(schemas, id, "Schema", |s, id| {
                s["id"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(id))
            })?
        }
    })
}

/// The Group schema this gateway serves: the legacy groups' as their mapping restricts it,
/// the whole of it for groups held by the gateway, none without groups.
fn group_schema<'c>(cx: &'c Ctx<'_>) -> Option<&'c ResourceSchema> {
    match (&cx.mapping.groups, &cx.mapping.held_groups) {
        (Some(g), _) => Some(&g.resource.schema),
        (None, Some(_)) => Some(ResourceSchema::group()),
        (None, None) => None,
    }
}

/// A group shaped by `attributes` / `excludedAttributes`.
fn project_group(group: &Value, query: &ListQuery) -> Value {
    list::project(
        group,
        &query.attributes,
        &query.excluded_attributes,
        ResourceSchema::group(),
    )
}

/// `POST /.search` at the root (RFC 7644 §3.4.3): users, then groups, as one list paged as a
/// whole. A filter naming an attribute that one resource type lacks matches nothing of it.
async fn search_all(cx: &Ctx<'_>, query: &ListQuery, base: &str) -> Result<Value, ScimError> {
    let unless_not_theirs = |r: Result<Value, ScimError>, start: usize| match r {
        Err(e) if e.scim_type == Some(ScimType::InvalidFilter) => {
            Ok(list::list_response(Vec::new(), 0, start))
        }
        other => other,
    };
    let users = unless_not_theirs(
        users::list(cx, query, base).await.map(Body::into_json),
        query.start_index,
    )?;
    let total = |v: &Value| v["totalResults"].as_u64().unwrap_or(0) as usize;
    let resources = |v: Value| match v {
        Value::Object(mut o) => match o.remove("Resources") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let user_total = total(&users);
    let mut found = resources(users);
    // The groups' part of the window [startIndex, startIndex + count).
    let mut group_query = query.clone();
    group_query.start_index = (query.start_index - 1).saturating_sub(user_total) + 1;
    group_query.count = query.count.saturating_sub(found.len());
    let groups = unless_not_theirs(
        groups::list(cx, &group_query, base).await,
        group_query.start_index,
    )?;
    let group_total = total(&groups);
    found.extend(resources(groups));
    Ok(list::list_response(
        found,
        user_total + group_total,
        query.start_index,
    ))
}

/// `/ServiceProviderConfig`. `etag.supported` is one flag for the whole service: true exactly
/// when the users have a version (the resource every identity provider writes), so that a
/// client told "supported" is never silently ignored on users; groups with a version of their
/// own (held by the gateway, or a legacy `version:`) answer ETags and honour `If-Match`
/// whatever it says (`docs/security.md`, "Lost updates: ETags and preconditions").
fn service_provider_config(gw: &Gateway, base: &str) -> Value {
    let options = discovery::DiscoveryOptions {
        base_url: base.to_string(),
        max_results: gw.config.scim.max_results,
        etag: gw.mapping.users.has_version(),
        documentation_uri: None,
    };
    discovery::service_provider_config(&options)
}

/// A discovery collection as a ListResponse, or one of its members by id.
fn one_or_list(
    items: Vec<Value>,
    id: Option<String>,
    what: &str,
    is: impl Fn(&Value, &str) -> bool,
) -> Result<Reply, ScimError> {
    match id {
        None => {
            let n = items.len();
            Ok(Reply::json(200, list::list_response(items, n, 1)))
        }
        Some(id) => items
            .into_iter()
            .find(|i| is(i, &id))
            .map(|i| Reply::json(200, i))
            .ok_or_else(|| ScimError::not_found(format!("no {what} {id:?}"))),
    }
}
