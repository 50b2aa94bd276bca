//! Loading a mapping: parse the YAML once (serde-saphyr, with line/column spans), validate
//! every construct, and compile it into the internal plan (`plan`). Every problem found is
//! reported, in file order, as `file:line:column: where: what` plus a `fix:` line; YAML syntax
//! errors and unknown keys (with the closest known key) are reported the same way. `users:` and
//! `groups:` are compiled by the same code, over their own SCIM schema ([`Kind`]); the
//! endpoints, the attribute map, group membership, roles and who writes which legacy field
//! (`writers`) are checked in their own files. Not here: using the plan (see `translate`,
//! `list`, `pushdown`, `legacy_errors`, `membership`).

mod attributes;
mod auth;
mod endpoints;
mod group_access;
mod held;
mod membership;
mod protection;
mod records;
mod roles;
#[cfg(test)]
mod tests;
mod writers;

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use serde_saphyr::{Location, Spanned};

use crate::mapping::error::{MappingError, Problem};
use crate::mapping::legacy_path::LegacyPath;
use crate::mapping::model::*;
use crate::mapping::plan::*;
use crate::mapping::suggest::closest;
use crate::mapping::values::same_scalar;
use crate::scim::path::AttrPath;
use crate::scim::schema::ResourceSchema;
use crate::scim::ScimType;

/// Reads and loads a mapping file. The file name in messages is `path` as given.
pub fn load_file(path: &Path) -> Result<Mapping, MappingError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| MappingError::Read {
        path: name.clone(),
        reason: e.to_string(),
    })?;
    load_str(&name, &text)
}

/// Loads a mapping from text; `source_name` is the file name used in messages.
pub fn load_str(source_name: &str, yaml: &str) -> Result<Mapping, MappingError> {
    let file: Spanned<MappingFile> = serde_saphyr::from_str(yaml)
        .map_err(|e| MappingError::Invalid(vec![yaml_problem(source_name, &e)]))?;
    let mut cx = Cx {
        source: source_name,
        problems: Vec::new(),
    };
    let mapping = compile(&mut cx, &file);
    let mut problems = cx.problems;
    match mapping {
        Some(m) if problems.is_empty() => Ok(m),
        _ => {
            if problems.is_empty() {
                problems.push(Problem {
                    source: source_name.to_string(),
                    line: 0,
                    column: 0,
                    at: String::new(),
                    message: "the mapping could not be compiled".into(),
                    fix: None,
                });
            }
            problems.sort_by_key(|p| (p.line, p.column));
            Err(MappingError::Invalid(problems))
        }
    }
}

/// Which resource section is compiled: `users:` (SCIM Users) or `groups:` (SCIM Groups).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Users,
    Groups,
}

impl Kind {
    /// The section's key in the file, and the start of every location in it.
    pub(super) fn key(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::Groups => "groups",
        }
    }

    /// What one record is called in messages.
    pub(super) fn noun(self) -> &'static str {
        match self {
            Kind::Users => "user",
            Kind::Groups => "group",
        }
    }

    /// The SCIM schema the section's attributes resolve against.
    pub(super) fn schema(self) -> &'static ResourceSchema {
        match self {
            Kind::Users => ResourceSchema::user(),
            Kind::Groups => ResourceSchema::group(),
        }
    }

    /// A legacy path for the examples of fixes.
    pub(super) fn example_path(self) -> &'static str {
        match self {
            Kind::Users => "/users",
            Kind::Groups => "/groups",
        }
    }
}

/// The problem collector: the file name and everything found so far.
pub(super) struct Cx<'s> {
    source: &'s str,
    problems: Vec<Problem>,
}

impl Cx<'_> {
    pub(super) fn report(
        &mut self,
        loc: &Location,
        at: &str,
        message: String,
        fix: Option<String>,
    ) {
        self.problems.push(Problem {
            source: self.source.to_string(),
            line: loc.line() as u32,
            column: loc.column() as u32,
            at: at.to_string(),
            message,
            fix,
        });
    }
}

pub(super) fn loc<T>(s: &Spanned<T>) -> &Location {
    &s.referenced
}

/// A required key: reported missing at its parent's location, with an example.
pub(super) fn need<'a, T>(
    cx: &mut Cx<'_>,
    v: &'a Option<Spanned<T>>,
    parent: &Location,
    at: &str,
    key: &str,
    example: &str,
) -> Option<&'a Spanned<T>> {
    if v.is_none() {
        cx.report(
            parent,
            at,
            format!("`{key}` is missing"),
            Some(format!("add {example} (see docs/mapping.md)")),
        );
    }
    v.as_ref()
}

fn yaml_problem(source: &str, e: &serde_saphyr::Error) -> Problem {
    let location = e.location();
    let mut message = e.without_snippet().to_string();
    if let Some(l) = &location {
        let suffix = format!(" at line {}, column {}", l.line(), l.column());
        if let Some(stripped) = message.strip_suffix(&suffix) {
            message = stripped.to_string();
        }
    }
    let fix = yaml_fix(&message);
    Problem {
        source: source.to_string(),
        line: location.map_or(0, |l| l.line() as u32),
        column: location.map_or(0, |l| l.column() as u32),
        at: String::new(),
        message,
        fix: Some(fix),
    }
}

/// A fix for serde/YAML messages: the closest known key for an unknown one, and so on.
fn yaml_fix(message: &str) -> String {
    let quoted = |s: &str| s.split('`').nth(1).map(str::to_string);
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let unknown = quoted(rest).unwrap_or_default();
        let known: Vec<String> = rest
            .split_once("expected ")
            .map(|(_, list)| {
                list.trim_start_matches("one of ")
                    .split(", ")
                    .flat_map(|s| s.split(" or "))
                    .map(|s| s.trim().trim_matches('`').to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        return match closest(&unknown, known.iter().map(String::as_str)) {
            Some(k) => format!("did you mean `{k}`?"),
            None => format!(
                "remove `{unknown}`; the keys allowed here are: {}",
                known.join(", ")
            ),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        let key = quoted(rest).unwrap_or_default();
        return format!("add `{key}:` here (see docs/mapping.md)");
    }
    if message.starts_with("duplicate mapping key") {
        return "remove one of the two entries".into();
    }
    if message.starts_with("expected mapping start") {
        return "write keys and values here (key: value), as in docs/mapping.md".into();
    }
    if message.starts_with("invalid boolean") {
        return "write true or false".into();
    }
    if message.starts_with("invalid u") {
        return "write a whole number".into();
    }
    "check the YAML here: indentation, and quotes around values that contain ': ', ' #', \
     brackets, braces or quotes (e.g. scim: 'emails[type eq \"work\"].value')"
        .into()
}

// ---------------------------------------------------------------------------------------------

fn compile(cx: &mut Cx<'_>, file: &Spanned<MappingFile>) -> Option<Mapping> {
    let top = loc(file);
    let f = &file.value;
    let name = need(cx, &f.name, top, "", "name", "name: acme-hr").and_then(|n| {
        let name = n.value.trim().to_string();
        if name.is_empty() {
            cx.report(
                loc(n),
                "name",
                "the mapping has no name".into(),
                Some("write a short name, e.g. name: acme-hr".into()),
            );
            return None;
        }
        Some(name)
    });
    let backend = need(
        cx,
        &f.backend,
        top,
        "",
        "backend",
        "backend: { base_url: http://127.0.0.1:8081 }",
    )
    .and_then(|b| backend(cx, b));
    // With groups, the server reports each user's groups (RFC 7643 §4.1.2), read-only, when the
    // membership can tell them: member endpoints without `user_groups` cannot.
    // Groups held by the gateway always can.
    let held = f.groups.as_ref().filter(|g| g.value.held_by.is_some());
    let tells_user_groups = held.is_some()
        || f.groups
            .as_ref()
            .and_then(|g| g.value.membership.as_ref())
            .is_some_and(|m| {
                let by_endpoints = m
                    .value
                    .endpoints
                    .as_ref()
                    .is_none_or(|e| e.value.user_groups.is_some());
                let by_group = m
                    .value
                    .group_attribute
                    .as_ref()
                    .is_none_or(|a| a.value.user_groups.is_some());
                by_endpoints && by_group
            });
    let served: Vec<AttrPath> = if tells_user_groups {
        ["value", "$ref", "display", "type"]
            .into_iter()
            .map(|sub| attr_path("groups", Some(sub)))
            .collect()
    } else {
        Vec::new()
    };
    let mut users = need(cx, &f.users, top, "", "users", "a users: section")
        .and_then(|u| resource(cx, Kind::Users, u, &served));
    let (groups, held_groups) = match (&f.groups, held) {
        (None, _) => (Some(None), Some(None)),
        (Some(_), Some(h)) => (
            Some(None),
            held::held_groups(cx, h, users.as_ref()).map(Some),
        ),
        (Some(g), None) => (groups(cx, g, users.as_ref()).map(Some), Some(None)),
    };
    // A full update of a user sends what the groups section writes.
    if let Some(u) = &mut users {
        let written = match (&groups, &held_groups) {
            (Some(Some(g)), _) => writers::group_written(g),
            (_, Some(Some(h))) => writers::held_written(h),
            _ => Vec::new(),
        };
        u.plan
            .read_only
            .retain(|p| !written.iter().any(|w| w.overlaps(p)));
    }
    if let (Some(b), Some(users), Some(groups)) = (&backend, &users, &groups) {
        check_query_params(cx, f, b, users, groups.as_ref());
    }
    Some(Mapping {
        name: name?,
        backend: backend?,
        users: users?,
        groups: groups?,
        held_groups: held_groups?,
    })
}

fn attr_path(name: &str, sub: Option<&str>) -> AttrPath {
    AttrPath {
        schema: None,
        name: name.to_string(),
        sub: sub.map(str::to_string),
    }
}

// --- backend ---------------------------------------------------------------------------------

fn backend(cx: &mut Cx<'_>, spanned: &Spanned<Box<BackendFile>>) -> Option<BackendSpec> {
    let b = &spanned.value;
    let base_url = need(
        cx,
        &b.base_url,
        loc(spanned),
        "backend",
        "base_url",
        "base_url: http://127.0.0.1:8081",
    )
    .and_then(|u| base_url(cx, u));
    let auth = match &b.auth {
        None => Some(None),
        Some(a) => auth::auth(cx, a).map(Some),
    };
    let timeout = match &b.timeout_ms {
        None => Some(Duration::from_secs(10)),
        Some(t) if (1..=600_000).contains(&t.value) => Some(Duration::from_millis(t.value)),
        Some(t) => {
            cx.report(
                loc(t),
                "backend.timeout_ms",
                format!("{} ms is not a usable timeout", t.value),
                Some("write a value between 1 and 600000, e.g. timeout_ms: 5000".into()),
            );
            None
        }
    };
    let guarded = protection::compile(cx, b, timeout);
    let tls = match &b.tls {
        None => Some(BackendTls::default()),
        Some(t) => auth::tls(cx, t),
    };
    let tenant = match &b.tenant {
        None => Some(None),
        Some(t) => tenant_param(cx, t, auth.as_ref().and_then(Option::as_ref)).map(Some),
    };
    let headers = static_headers(
        cx,
        &b.headers,
        auth.as_ref().and_then(Option::as_ref),
        tenant.as_ref().and_then(Option::as_ref),
    );
    let guarded = guarded?;
    Some(BackendSpec {
        base_url: base_url?,
        auth: auth?,
        timeout: timeout?,
        connect_timeout: guarded.connect_timeout,
        read_timeout: guarded.read_timeout,
        protection: guarded.protection,
        tls: tls?,
        tenant: tenant?,
        headers: headers?,
    })
}

/// `backend.headers`: static headers on every call. None may be one the gateway sets itself,
/// the credential's, or the tenant's.
fn static_headers(
    cx: &mut Cx<'_>,
    map: &Option<Spanned<serde_json::Map<String, Value>>>,
    auth: Option<&BackendAuth>,
    tenant: Option<&TenantParam>,
) -> Option<Vec<(String, String)>> {
    let at = "backend.headers";
    let headers = endpoints::params(cx, map, at, true)?;
    let mut ok = true;
    for (name, _) in &headers {
        let lower = name.to_ascii_lowercase();
        let why = if OWN_HEADERS.contains(&lower.as_str()) || lower == "transfer-encoding" {
            Some("the gateway sets it itself on every call")
        } else if auth
            .and_then(BackendAuth::header_name)
            .is_some_and(|a| a.eq_ignore_ascii_case(name))
        {
            Some("the credential of backend.auth is sent in it")
        } else if matches!(tenant, Some(TenantParam::Header(t)) if t.as_str().eq_ignore_ascii_case(name))
        {
            Some("backend.tenant sends the tenant in it")
        } else {
            None
        };
        if let (Some(why), Some(map)) = (why, map) {
            cx.report(
                loc(map),
                &format!("{at}.{name}"),
                format!("{name} cannot be a static header: {why}"),
                Some(format!(
                    "remove {name} from backend.headers (a secret goes in backend.auth)"
                )),
            );
            ok = false;
        }
    }
    ok.then_some(headers)
}

/// Headers the gateway sets itself on legacy calls: the tenant cannot be sent in one.
const OWN_HEADERS: [&str; 8] = [
    "host",
    "content-length",
    "content-type",
    "authorization",
    "if-match",
    "user-agent",
    "x-request-id",
    "connection",
];

/// `backend.tenant`: `{header: X-Acme-Tenant}` or `{query: tenant}`.
fn tenant_param(
    cx: &mut Cx<'_>,
    t: &Spanned<TenantFile>,
    auth: Option<&BackendAuth>,
) -> Option<TenantParam> {
    let at = "backend.tenant";
    let forms =
        "write tenant: { header: X-Tenant } (a header on every call) or tenant: { query: tenant } \
                 (a query parameter on every call); {tenant} in a path needs neither";
    match (&t.value.header, &t.value.query) {
        (Some(h), None) => {
            let name = h.value.trim();
            let lower = name.to_ascii_lowercase();
            let Ok(parsed) = http::HeaderName::from_bytes(name.as_bytes()) else {
                cx.report(
                    loc(h),
                    &format!("{at}.header"),
                    format!("{:?} is not a valid header name", h.value),
                    Some("write a header name like X-Tenant".into()),
                );
                return None;
            };
            let taken = OWN_HEADERS.contains(&lower.as_str())
                || auth
                    .and_then(BackendAuth::header_name)
                    .is_some_and(|a| a.eq_ignore_ascii_case(name));
            if taken {
                cx.report(
                    loc(h),
                    &format!("{at}.header"),
                    format!("{name} is a header the gateway already sends (its credential or the request's own)"),
                    Some("choose the legacy API's tenant header, e.g. X-Tenant".into()),
                );
                return None;
            }
            Some(TenantParam::Header(parsed))
        }
        (None, Some(q)) if !q.value.trim().is_empty() => {
            Some(TenantParam::Query(q.value.trim().to_string()))
        }
        (None, Some(q)) => {
            cx.report(
                loc(q),
                &format!("{at}.query"),
                "the query parameter has no name".into(),
                Some("write e.g. query: tenant".into()),
            );
            None
        }
        (Some(_), Some(q)) => {
            cx.report(
                loc(q),
                at,
                "header and query cannot both be set".into(),
                Some(forms.into()),
            );
            None
        }
        (None, None) => {
            cx.report(
                loc(t),
                at,
                "says neither header nor query".into(),
                Some(forms.into()),
            );
            None
        }
    }
}

/// A tenant query parameter, or the credential's (`backend.auth.query`), must not be one the
/// gateway already fills (pagination, filters, an endpoint's static query, each other): the
/// legacy API would get it twice.
fn check_query_params<'m>(
    cx: &mut Cx<'_>,
    f: &MappingFile,
    backend: &BackendSpec,
    users: &'m ResourceMapping,
    groups: Option<&'m GroupMapping>,
) {
    let section = f.backend.as_ref().map(|b| &b.value);
    let tenant = match (&backend.tenant, section.and_then(|b| b.tenant.as_ref())) {
        (Some(TenantParam::Query(name)), Some(t)) => t.value.query.as_ref().map(|at| (name, at)),
        _ => None,
    };
    let credential = match (&backend.auth, section.and_then(|b| b.auth.as_ref())) {
        (Some(BackendAuth::Query { name, .. }), Some(a)) => {
            a.value.query.as_ref().map(|at| (name, at))
        }
        _ => None,
    };
    if tenant.is_none() && credential.is_none() {
        return;
    }
    let mut taken: Vec<(&str, String)> = Vec::new();
    let mut resource = |r: &'m ResourceMapping, key: &str| {
        for (k, _) in &r.endpoints.list.endpoint.query {
            taken.push((k, format!("{key}.endpoints.list.query")));
        }
        for p in pagination_params(&r.endpoints.list.pagination) {
            taken.push((p, format!("{key}.endpoints.list.pagination")));
        }
        for rule in &r.plan.filters {
            taken.push((&rule.param, format!("{key}.filters")));
        }
    };
    resource(users, "users");
    if let Some(g) = groups {
        resource(&g.resource, "groups");
        match &g.membership {
            Membership::Endpoints { list, .. } => {
                for p in pagination_params(&list.pages.pagination) {
                    taken.push((p, "groups.membership.endpoints.list.pagination".into()));
                }
            }
            Membership::GroupAttribute(_) => {}
            Membership::UserAttribute(a) => {
                if let Some(p) = a.members_query_param() {
                    taken.push((p, "groups.membership.user_attribute.members_query".into()));
                }
            }
        }
    }
    if let Some((name, at)) = tenant {
        if let Some((_, by)) = taken.iter().find(|(p, _)| *p == name.as_str()) {
            cx.report(
                loc(at),
                "backend.tenant.query",
                format!("the query parameter {name:?} is also used by {by}"),
                Some("name the legacy API's tenant parameter, e.g. query: tenant".into()),
            );
        }
        taken.push((name, "backend.tenant.query".into()));
    }
    if let Some((name, at)) = credential {
        if let Some((_, by)) = taken.iter().find(|(p, _)| *p == name.as_str()) {
            cx.report(
                loc(at),
                "backend.auth.query",
                format!("the query parameter {name:?} is also used by {by}"),
                Some("name the legacy API's key parameter, e.g. query: api_key".into()),
            );
        }
    }
}

fn pagination_params(p: &Pagination) -> Vec<&str> {
    match p {
        Pagination::Page {
            page_param,
            size_param,
            ..
        } => vec![page_param, size_param],
        Pagination::Offset {
            offset_param,
            limit_param,
            ..
        } => vec![offset_param, limit_param],
        Pagination::Cursor {
            cursor_param,
            size_param,
            ..
        } => vec![cursor_param, size_param],
        Pagination::None => vec![],
    }
}

fn base_url(cx: &mut Cx<'_>, s: &Spanned<String>) -> Option<String> {
    let text = s.value.trim();
    let fix = Some("write a URL like http://127.0.0.1:8081 or https://api.example.com/v1".into());
    let uri = match text.parse::<http::Uri>() {
        Ok(u) => u,
        Err(e) => {
            cx.report(
                loc(s),
                "backend.base_url",
                format!("{text:?} is not a URL ({e})"),
                fix,
            );
            return None;
        }
    };
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.authority().is_none() {
        cx.report(
            loc(s),
            "backend.base_url",
            format!("{text:?} needs http:// or https:// and a host"),
            fix,
        );
        return None;
    }
    if uri.query().is_some() || text.contains('#') {
        cx.report(
            loc(s),
            "backend.base_url",
            format!("{text:?} has a query or fragment"),
            Some("put static query parameters in each endpoint's `query:`".into()),
        );
        return None;
    }
    Some(text.trim_end_matches('/').to_string())
}

// --- users and groups ------------------------------------------------------------------------

/// `groups:`: the group resource, compiled like users, and its membership. `users` (when it
/// compiled) is checked against a membership held on the legacy user.
fn groups(
    cx: &mut Cx<'_>,
    g: &Spanned<ResourceFile>,
    users: Option<&ResourceMapping>,
) -> Option<GroupMapping> {
    // The server fills `members` from the membership (RFC 7643 §4.2): each member's id, its
    // URI and its type, and its display name when the legacy answer has it (a member list
    // read from the users list does).
    let served = [
        attr_path("members", Some("value")),
        attr_path("members", Some("$ref")),
        attr_path("members", Some("display")),
        attr_path("members", Some("type")),
    ];
    let resource = resource(cx, Kind::Groups, g, &served);
    held::refuse_outside(cx, &g.value);
    let membership = need(
        cx,
        &g.value.membership,
        loc(g),
        "groups",
        "membership",
        "a membership: section (member endpoints, or a field of the legacy user)",
    )
    .and_then(|m| membership::membership(cx, m, users));
    let rules = roles::group_rules(cx, &g.value.roles, &g.value.flags);
    writers::check_user_record(cx, &g.value, users, membership.as_ref(), rules.as_ref());
    // Roles and flags are computed from a user's groups: the membership must tell them.
    let blind = match &membership {
        Some(Membership::Endpoints {
            user_groups: None, ..
        }) => Some("membership.endpoints.user_groups"),
        Some(Membership::GroupAttribute(GroupAttribute {
            user_groups: None, ..
        })) => Some("membership.group_attribute.user_groups"),
        _ => None,
    };
    if let (Some(key), Some(at)) = (
        blind,
        g.value
            .roles
            .as_ref()
            .and_then(|r| r.value.legacy.as_ref())
            .or_else(|| {
                let flags = g.value.flags.as_ref()?;
                flags.value.first()?.value.legacy.as_ref()
            })
            .map(loc),
    ) {
        cx.report(
            at,
            "groups",
            "roles and flags need a user's groups, and the membership cannot read them".into(),
            Some(format!(
                "add {key} (the legacy call listing a user's groups)"
            )),
        );
    }
    let protected = group_access::selectors(cx, "protected", &g.value.protected);
    let hidden = group_access::selectors(cx, "hidden", &g.value.hidden);
    if let (Some(p), Some(h)) = (&protected, &hidden) {
        group_access::check_overlap(cx, &g.value.hidden, p, h);
    }
    group_access::check_create(cx, g);
    let mut resource = resource?;
    let mut membership = membership;
    // A list written through its own call is wrapped, and its errors read, like the groups'
    // update.
    match &mut membership {
        Some(Membership::GroupAttribute(GroupAttribute {
            update: Some(update),
            ..
        })) => {
            if let Some(group_update) = &resource.endpoints.update {
                update.record = group_update.record.clone();
            }
            update.record.read_first = false;
        }
        // The list is written with the groups' update: there must be one.
        Some(Membership::GroupAttribute(GroupAttribute { update: None, .. }))
            if resource.endpoints.update.is_none() =>
        {
            let at = g
                .value
                .membership
                .as_ref()
                .map(loc)
                .unwrap_or_else(|| loc(g));
            cx.report(
                at,
                "groups.membership.group_attribute",
                "the member list is written with the groups' update endpoint, and there is none"
                    .into(),
                Some(
                    "add update: { method: PATCH, path: \"/teams/{id}\" } under \
                     group_attribute (or groups.endpoints)"
                        .into(),
                ),
            );
            return None;
        }
        _ => {}
    }
    // Groups hold users only: no nested groups.
    if let Some(t) = resource
        .schema
        .attribute_mut(&attr_path("members", Some("type")))
    {
        t.canonical_values = vec!["User".into()];
    }
    // A member's display name is the user's, shown when known, never written.
    if let Some(d) = resource
        .schema
        .attribute_mut(&attr_path("members", Some("display")))
    {
        d.mutability = crate::scim::schema::Mutability::ReadOnly;
    }
    Some(GroupMapping {
        resource,
        membership: membership?,
        rules: rules?,
        protected: protected?,
        hidden: hidden?,
    })
}

/// A resource section (`users:` or `groups:`). `served` are the SCIM attributes the server
/// fills itself (a user's `groups`, a group's `members`), advertised in the restricted schema
/// besides the mapped ones.
fn resource(
    cx: &mut Cx<'_>,
    kind: Kind,
    u: &Spanned<ResourceFile>,
    served: &[AttrPath],
) -> Option<ResourceMapping> {
    let key = kind.key();
    let noun = kind.noun();
    let f = &u.value;
    let id = need(
        cx,
        &f.id,
        loc(u),
        key,
        "id",
        &format!("id: $.id (where the legacy {noun}'s id is)"),
    )
    .and_then(|id| one_place(cx, id, &format!("{key}.id")));
    let id_format = match &f.id_format {
        None => Some(None),
        Some(x) => id_format(cx, kind, x).map(Some),
    };
    let one = |cx: &mut Cx<'_>, s: &Option<Spanned<String>>, name: &str| match s {
        None => Some(None),
        Some(s) => one_place(cx, s, &format!("{key}.{name}")).map(Some),
    };
    let created = one(cx, &f.created, "created");
    let last_modified = one(cx, &f.last_modified, "last_modified");
    let version = one(cx, &f.version, "version");
    let endpoints_s = need(
        cx,
        &f.endpoints,
        loc(u),
        key,
        "endpoints",
        "an endpoints: section",
    );
    let creates = f.create.as_ref().is_none_or(|c| c.value);
    // A section envelope in error still lets the endpoints be checked (without it).
    let envelope = records::section_envelope(cx, kind, f.envelope.as_ref());
    let endpoints = endpoints_s.and_then(|e| {
        let none = records::SectionEnvelope::default();
        endpoints::endpoints(cx, kind, e, creates, envelope.as_ref().unwrap_or(&none))
    });
    let if_match = endpoints_s
        .and_then(|e| e.value.update.as_ref())
        .and_then(|u| u.value.if_match.as_ref())
        .filter(|b| b.value);
    if let (Some(b), None) = (if_match, &f.version) {
        cx.report(
            loc(b),
            &format!("{key}.endpoints.update.if_match"),
            format!(
                "if_match sends the {noun}'s version, and no version: is mapped",
                noun = kind.noun()
            ),
            Some(format!(
                "add version: $.version (where the legacy {noun}'s version is) beside id:",
                noun = kind.noun()
            )),
        );
    }
    let on_delete = match &f.on_delete {
        None if kind == Kind::Groups => Some(OnDelete::Delete),
        None => Some(OnDelete::Deactivate),
        Some(s) => match s.value.trim() {
            "deactivate" => Some(OnDelete::Deactivate),
            "delete" => Some(OnDelete::Delete),
            other => {
                cx.report(
                    loc(s),
                    &format!("{key}.on_delete"),
                    format!("{other:?} is not deactivate or delete"),
                    Some(suggest_word(other, &["deactivate", "delete"])),
                );
                None
            }
        },
    };
    if let (Kind::Users, Some(m)) = (kind, &f.membership) {
        cx.report(
            loc(m),
            "users.membership",
            "membership belongs to the groups: section".into(),
            Some("move it under groups: (see docs/mapping.md)".into()),
        );
    }
    if kind == Kind::Users {
        let misplaced = [
            ("roles", f.roles.as_ref().map(loc)),
            ("flags", f.flags.as_ref().map(loc)),
            ("protected", f.protected.as_ref().map(loc)),
            ("hidden", f.hidden.as_ref().map(loc)),
            ("create", f.create.as_ref().map(loc)),
            ("held_by", f.held_by.as_ref().map(loc)),
            (
                "remove_deleted_users",
                f.remove_deleted_users.as_ref().map(loc),
            ),
        ];
        for (key, at) in misplaced.into_iter() {
            if let Some(at) = at {
                cx.report(
                    at,
                    &format!("users.{key}"),
                    format!("{key} belongs to the groups: section"),
                    Some("move it under groups: (see docs/mapping.md)".into()),
                );
            }
        }
    }

    let deleted = match &f.deleted {
        None => Some(None),
        Some(d) => deleted_marker(cx, kind, d).map(Some),
    };

    let schema = kind.schema();
    let no_attributes = Vec::new();
    let attribute_files = need(
        cx,
        &f.attributes,
        loc(u),
        key,
        "attributes",
        "an attributes: list",
    )
    .map_or(&no_attributes, |a| &a.value);
    let attrs: Vec<(Attr, &Location)> = attribute_files
        .iter()
        .enumerate()
        .filter_map(|(i, a)| attributes::attribute(cx, kind, i, a).map(|x| (x, loc(a))))
        .collect();
    attributes::check_duplicates(cx, kind, &attrs);
    if let (Some(d), Some(Some(marker))) = (&f.deleted, &deleted) {
        check_deleted(cx, kind, d, marker, &attrs);
    }
    let attr_list: Vec<Attr> = attrs.iter().map(|(a, _)| a.clone()).collect();
    let marker = deleted.as_ref().and_then(Option::as_ref);
    let replaces_whole = endpoints_s
        .and_then(|e| e.value.update.as_ref())
        .and_then(|u| u.value.replaces_whole.as_ref());
    if let (Some(listed), Some(e)) = (replaces_whole, &endpoints) {
        writers::check_replaces_whole(
            cx,
            kind,
            listed,
            &e.update_replaces_whole,
            &attr_list,
            marker,
        );
    }
    let carries = match endpoints_s
        .and_then(|e| e.value.list.as_ref())
        .and_then(|l| l.value.carries.as_ref())
    {
        None => Some(None),
        Some(c) => carried(cx, kind, &attr_list, c).map(Some),
    };

    let filters: Vec<FilterRule> = f
        .filters
        .iter()
        .enumerate()
        .filter_map(|(i, fl)| filter_rule(cx, kind, &attr_list, i, fl))
        .collect();
    let scan_limit = match &f.scan_limit {
        None => Some(1000),
        Some(s) if (1..=1_000_000).contains(&s.value) => Some(s.value as usize),
        Some(s) => {
            cx.report(
                loc(s),
                &format!("{key}.scan_limit"),
                format!("{} is not between 1 and 1000000", s.value),
                Some("write e.g. scan_limit: 1000".into()),
            );
            None
        }
    };
    let errors = match &f.errors {
        None => Some(ErrorPlan::default()),
        Some(e) => error_plan(cx, kind, e),
    };

    if let (Some(e), Some(errors), Some(endpoints_s)) = (&endpoints, &errors, endpoints_s) {
        check_create_unique(cx, endpoints_s, e, errors);
    }
    if let (Some(endpoints_s), Some(on_delete)) = (endpoints_s, on_delete) {
        check_lifecycle(cx, kind, u, endpoints_s, on_delete, &attr_list);
    }
    let (mut endpoints, on_delete, _) = (endpoints?, on_delete?, envelope?);
    endpoints.list.carries = carries?;

    let mut plan = Plan {
        id: id?,
        created: created?,
        last_modified: last_modified?,
        version: version?,
        deleted: deleted?,
        read_only: Vec::new(),
        attrs: attr_list,
        filters,
        errors: errors?,
        reader: None,
        shows_hidden: false,
        lent: LentValues::default(),
    };
    plan.lent = LentValues::of(&schema.name, &schema.core.id, &plan.attrs);
    plan.read_only = writers::read_only(&plan);
    plan.compile_reader(
        &endpoints
            .get
            .answer_envelope()
            .into_iter()
            .collect::<Vec<_>>(),
    );
    let shows_hidden = plan.read_slots().any(|slot| {
        let def = match &slot.container {
            Some(urn) => schema.extension(urn),
            None => Some(&schema.core),
        };
        def.is_some_and(|def| crate::scim::list::hidden_in(def, &slot.attr))
    });
    plan.shows_hidden = shows_hidden;
    endpoints.list.compile_reader(plan.reader.as_ref());
    let mut mapping = ResourceMapping {
        id_format: id_format?,
        endpoints,
        on_delete,
        scan_limit: scan_limit?,
        schema: schema.clone(),
        plan,
    };
    let mut paths = mapping.attribute_paths();
    paths.extend_from_slice(served);
    let mut restricted = schema.restricted_to(&paths);
    attributes::advertise(&mut restricted, &mapping.plan.attrs);
    mapping.schema = restricted;
    Some(mapping)
}

/// `unique: userName` on the users' create endpoint leaves the check to the legacy API, so the
/// gateway must recognise its refusal: an error rule of the create endpoint, or of the section,
/// that makes a legacy answer a 409 `uniqueness`. Without one, a taken userName would reach the
/// identity provider as whatever the default translation makes of it (often a 400), and the
/// taken user would never be looked up, named or restored.
pub(super) fn check_create_unique(
    cx: &mut Cx<'_>,
    endpoints_s: &Spanned<Box<EndpointsFile>>,
    endpoints: &Endpoints,
    errors: &ErrorPlan,
) {
    let (true, Some(create)) = (endpoints.create_unique, &endpoints.create) else {
        return;
    };
    let recognised = create
        .record
        .errors
        .iter()
        .chain(&errors.rules)
        .any(|r| r.scim_status == 409 && r.scim_type == Some(ScimType::Uniqueness));
    if recognised {
        return;
    }
    let Some(unique) = endpoints_s
        .value
        .create
        .as_ref()
        .and_then(|c| c.value.unique.as_ref())
    else {
        return;
    };
    cx.report(
        loc(unique),
        "users.endpoints.create.unique",
        "unique: userName leaves the userName check to the legacy API, and no error rule \
         recognises its answer to a taken userName"
            .into(),
        Some(
            "add to users.errors.rules (or to the create endpoint's errors:) the rule for that \
             answer, e.g. { status: 409, scim_status: 409, scim_type: uniqueness } or { status: \
             422, code_path: $.error.code, equals: login_taken, scim_status: 409, scim_type: \
             uniqueness }; or remove unique: to have the gateway look the userName up first"
                .into(),
        ),
    );
}

/// `deleted: { legacy: $.status, value: archived }`: a writable legacy path and a scalar.
fn deleted_marker(cx: &mut Cx<'_>, kind: Kind, d: &Spanned<DeletedFile>) -> Option<DeletedMarker> {
    let at = format!("{}.deleted", kind.key());
    let at = at.as_str();
    let example = "deleted: { legacy: $.status, value: archived }";
    let legacy = need(cx, &d.value.legacy, loc(d), at, "legacy", example);
    let value = need(cx, &d.value.value, loc(d), at, "value", example);
    let legacy = legacy.and_then(|l| write_path(cx, l, &format!("{at}.legacy")));
    let value = value?;
    if matches!(
        value.value,
        Value::Null | Value::Array(_) | Value::Object(_)
    ) {
        cx.report(
            loc(value),
            &format!("{at}.value"),
            "the marker must be a string, number or boolean".into(),
            Some(format!(
                "write the legacy value that marks a deleted {}, e.g. value: archived",
                kind.noun()
            )),
        );
        return None;
    }
    Some(DeletedMarker {
        legacy: legacy?,
        value: value.value.clone(),
        listed: d.value.listed.as_ref().is_none_or(|l| l.value),
    })
}

/// No attribute may write the deleted marker's field freely: a SCIM client could then delete a
/// record, or bring one back, by accident. A value map on that field may share it as long as it
/// never writes the marker. (With `on_delete: deactivate` the gateway writes the marker; with
/// `on_delete: delete` it is what the legacy API's own delete leaves, a soft delete.)
fn check_deleted(
    cx: &mut Cx<'_>,
    kind: Kind,
    d: &Spanned<DeletedFile>,
    marker: &DeletedMarker,
    attrs: &[(Attr, &Location)],
) {
    let key = kind.key();
    let noun = kind.noun();
    let at = d.value.legacy.as_ref().map_or(loc(d), loc);
    let path = marker.legacy.as_str();
    let shown = &marker.value;
    let elsewhere = "or mark deletion in a field no attribute writes";
    for (attr, l) in attrs {
        let line = l.line();
        // What writes, what it is, and (when it can write the marker itself) how to avoid it.
        let (written, what, fix) = match attr {
            Attr::Field {
                slot,
                legacy,
                write: true,
                conv,
                ..
            } => {
                let fix = if conv.values.is_empty() {
                    Some(format!(
                        "give that entry a value map that never writes {shown}, {elsewhere}"
                    ))
                } else if conv.values.iter().any(|(_, v)| same_scalar(v, shown)) {
                    Some(format!(
                        "choose a marker value that entry's value map does not write \
                         (e.g. archived), {elsewhere}"
                    ))
                } else {
                    None
                };
                (legacy, slot.label(), fix)
            }
            Attr::Join {
                legacy,
                write: true,
                ..
            } => (
                legacy,
                "a join".to_string(),
                Some("mark deletion in a field no attribute writes".to_string()),
            ),
            Attr::LegacyConstant { legacy, value } | Attr::LegacyDefault { legacy, value } => (
                legacy,
                "a legacy constant or default".to_string(),
                same_scalar(value, shown)
                    .then(|| format!("choose another marker value, {elsewhere}")),
            ),
            _ => continue,
        };
        if !written.overlaps(&marker.legacy) {
            continue;
        }
        let (message, fix) = if !written.same_place(&marker.legacy) {
            (
                format!(
                    "{path} overlaps {} written by the entry on line {line} ({what})",
                    written.as_str()
                ),
                "mark deletion in a field no attribute writes".to_string(),
            )
        } else if let Some(fix) = fix {
            (
                format!(
                    "{path} is also written by the entry on line {line} ({what}), which can \
                     write {shown} and so mark a {noun} deleted"
                ),
                fix,
            )
        } else {
            continue;
        };
        cx.report(at, &format!("{key}.deleted.legacy"), message, Some(fix));
    }
}

/// on_delete and the (de)activation endpoints must fit the `active` attribute (users) or the
/// deleted marker (groups, which have no `active`).
fn check_lifecycle(
    cx: &mut Cx<'_>,
    kind: Kind,
    u: &Spanned<ResourceFile>,
    endpoints: &Spanned<Box<EndpointsFile>>,
    on_delete: OnDelete,
    attrs: &[Attr],
) {
    let key = kind.key();
    let at_on_delete = u.value.on_delete.as_ref().map_or(loc(endpoints), loc);
    let e = &endpoints.value;
    if kind == Kind::Groups {
        for (name, ep) in [("deactivate", &e.deactivate), ("reactivate", &e.reactivate)] {
            if let Some(ep) = ep {
                cx.report(
                    loc(ep),
                    &format!("groups.endpoints.{name}"),
                    "a SCIM Group has no `active`, so groups are never deactivated".into(),
                    Some(
                        "remove it; a SCIM DELETE deletes the group (on_delete: delete), or \
                         keeps it and writes a deleted marker (on_delete: deactivate with \
                         deleted:)"
                            .into(),
                    ),
                );
            }
        }
    } else {
        match (&e.deactivate, &e.reactivate) {
            (Some(d), None) => cx.report(
                loc(d),
                "users.endpoints.deactivate",
                "a deactivate endpoint needs a reactivate endpoint (restoring a user in the IdP \
                 must undo it)"
                    .into(),
                Some("add reactivate: { method: POST, path: \"/users/{id}/activate\" }".into()),
            ),
            (None, Some(r)) => cx.report(
                loc(r),
                "users.endpoints.reactivate",
                "a reactivate endpoint needs a deactivate endpoint".into(),
                Some("add deactivate: { method: POST, path: \"/users/{id}/deactivate\" }".into()),
            ),
            _ => {}
        }
    }
    match (kind, on_delete) {
        // Groups without a delete endpoint (and no on_delete written) are never deleted.
        (Kind::Groups, OnDelete::Delete) if e.delete.is_none() && u.value.on_delete.is_none() => {}
        (_, OnDelete::Delete) if e.delete.is_none() => cx.report(
            at_on_delete,
            &format!("{key}.on_delete"),
            if u.value.on_delete.is_none() {
                format!("on_delete: delete (the default for {key}) needs a delete endpoint")
            } else {
                "on_delete: delete needs a delete endpoint".into()
            },
            Some(format!(
                "add endpoints.delete: {{ method: DELETE, path: \"{}/{{id}}\" }}, or write \
                 on_delete: deactivate",
                kind.example_path()
            )),
        ),
        (Kind::Users, OnDelete::Deactivate)
            if !writes_active(attrs) && (e.deactivate.is_none() || e.reactivate.is_none()) =>
        {
            cx.report(
                at_on_delete,
                "users.on_delete",
                "on_delete: deactivate needs a writable `active` attribute or \
                 deactivate + reactivate endpoints"
                    .into(),
                Some(
                    "map active to a legacy field (e.g. { scim: active, legacy: $.enabled }), \
                     add deactivate/reactivate endpoints, or write on_delete: delete"
                        .into(),
                ),
            )
        }
        (Kind::Groups, OnDelete::Deactivate) if u.value.deleted.is_none() => cx.report(
            at_on_delete,
            "groups.on_delete",
            "on_delete: deactivate keeps the legacy group, so it needs a deleted marker to tell \
             that the group is gone"
                .into(),
            Some(
                "add deleted: { legacy: $.status, value: archived }, or write on_delete: delete"
                    .into(),
            ),
        ),
        _ => {}
    }
}

pub(crate) fn writes_active(attrs: &[Attr]) -> bool {
    attrs.iter().any(|a| {
        matches!(a, Attr::Field { slot, write: true, .. }
            if slot.container.is_none() && slot.sub.is_none() && slot.attr == "active")
    })
}

// --- legacy paths ----------------------------------------------------------------------------

pub(super) fn read_path(cx: &mut Cx<'_>, s: &Spanned<String>, at: &str) -> Option<LegacyPath> {
    let text = s.value.trim();
    match LegacyPath::compile(text) {
        Ok(p) => Some(p),
        Err(e) => {
            let fix = if !text.starts_with('$') {
                format!(
                    "legacy paths start at the root $: write $.{}",
                    text.trim_start_matches('.')
                )
            } else {
                "write a path like $.login, $.address.street or $.phones[?(@.kind == 'cell')].number"
                    .to_string()
            };
            cx.report(
                loc(s),
                at,
                format!("{text:?} is not a valid JSONPath ({e})"),
                Some(fix),
            );
            None
        }
    }
}

/// A path that must name one place in a record (its id, version or a timestamp; a member's
/// id in a list item): names and indexes only. `$..id` could read another record's id.
pub(super) fn one_place(cx: &mut Cx<'_>, s: &Spanned<String>, at: &str) -> Option<LegacyPath> {
    let p = read_path(cx, s, at)?;
    if !p.is_singular() {
        cx.report(
            loc(s),
            at,
            format!(
                "{:?} can match more than one value, so it does not name one place",
                p.as_str()
            ),
            Some(
                "write a path of field names (and indexes), e.g. $.id or $.user.id: no `..`, \
                 `*`, filter or slice"
                    .into(),
            ),
        );
        return None;
    }
    Some(p)
}

/// `id_format:`: `integer`, `uuid` or `{ pattern: '<regex>' }`, the pattern matched against
/// the whole id.
fn id_format(cx: &mut Cx<'_>, kind: Kind, f: &Spanned<Value>) -> Option<IdFormat> {
    let at = format!("{}.id_format", kind.key());
    let forms = "write id_format: integer, id_format: uuid or id_format: { pattern: '^p_[0-9]+$' }";
    let refuse = |cx: &mut Cx<'_>, message: String, fix: String| {
        cx.report(loc(f), &at, message, Some(fix));
        None
    };
    match &f.value {
        Value::String(word) => match word.trim() {
            "integer" => Some(IdFormat::Integer),
            "uuid" => Some(IdFormat::Uuid),
            other => refuse(
                cx,
                format!("{other:?} is not an id format"),
                format!(
                    "{}, or write {{ pattern: '…' }}",
                    suggest_word(other, &["integer", "uuid"])
                ),
            ),
        },
        Value::Object(map) => {
            if let Some(k) = map.keys().find(|k| k.as_str() != "pattern") {
                return refuse(
                    cx,
                    format!("unknown field `{k}`, expected `pattern`"),
                    forms.into(),
                );
            }
            let pattern = match map.get("pattern") {
                Some(Value::String(p)) if !p.is_empty() => p,
                _ => {
                    return refuse(
                        cx,
                        "`pattern` needs a regular expression".into(),
                        forms.into(),
                    )
                }
            };
            // The author's pattern is checked as written (so the error points into it), then
            // anchored: it must match the whole id.
            match regex::Regex::new(pattern)
                .and_then(|_| regex::Regex::new(&format!("^(?:{pattern})$")))
            {
                Ok(re) => Some(IdFormat::Pattern(re)),
                Err(e) => {
                    let text = e.to_string();
                    let why = text
                        .lines()
                        .find_map(|l| l.trim().strip_prefix("error: "))
                        .unwrap_or_else(|| text.lines().next().unwrap_or("invalid"));
                    refuse(
                        cx,
                        format!("{pattern:?} is not a valid regular expression ({why})"),
                        "write a regular expression (Rust regex syntax) that a whole id \
                         matches, e.g. { pattern: '^p_[0-9]+$' }"
                            .into(),
                    )
                }
            }
        }
        other => refuse(cx, format!("{other} is not an id format"), forms.into()),
    }
}

/// A path that the writer can set.
pub(super) fn write_path(cx: &mut Cx<'_>, s: &Spanned<String>, at: &str) -> Option<LegacyPath> {
    let p = read_path(cx, s, at)?;
    if let Err(why) = p.writable() {
        cx.report(
            loc(s),
            at,
            format!("{:?} cannot be written: {why}", p.as_str()),
            Some(
                "a written path uses only .name, ['name'], [n] and [?(@.key == 'value')].name \
                 steps, like $.address.street; or add `direction: read`"
                    .into(),
            ),
        );
        return None;
    }
    Some(p)
}

// --- filters and errors ----------------------------------------------------------------------

fn filter_rule(
    cx: &mut Cx<'_>,
    kind: Kind,
    attrs: &[Attr],
    i: usize,
    f: &Spanned<FilterFile>,
) -> Option<FilterRule> {
    let at = format!("{}.filters[{i}]", kind.key());
    let v = &f.value;
    if let Some(op) = &v.op {
        if !op.value.trim().eq_ignore_ascii_case("eq") {
            cx.report(
                loc(op),
                &format!("{at}.op"),
                format!(
                    "{:?} cannot be passed to the legacy API; only eq can",
                    op.value
                ),
                Some(format!(
                    "write op: eq; the gateway evaluates other operators itself over the \
                     fetched {}s",
                    kind.noun()
                )),
            );
            return None;
        }
    }
    let param_s = need(
        cx,
        &v.param,
        loc(f),
        &at,
        "param",
        "param: login (the legacy query parameter)",
    )?;
    let param = param_s.value.trim();
    if param.is_empty() {
        cx.report(
            loc(param_s),
            &format!("{at}.param"),
            "the query parameter has no name".into(),
            Some("write e.g. param: login".into()),
        );
        return None;
    }
    let example = match kind {
        Kind::Users => "scim: userName",
        Kind::Groups => "scim: displayName",
    };
    let scim = need(cx, &v.scim, loc(f), &at, "scim", example)?;
    let slot = attributes::scim_slot(cx, kind, scim, &format!("{at}.scim"))?;
    let mapped = attrs.iter().find_map(|a| match a {
        Attr::Field {
            slot: s,
            read: true,
            conv,
            ..
        } if s.key() == slot.key() => Some(Some(conv)),
        Attr::Join {
            parts, read: true, ..
        } if parts.iter().any(|p| p.key() == slot.key()) => Some(None),
        Attr::Computed { slot: s, .. } if s.key() == slot.key() => Some(None),
        _ => None,
    });
    let Some(conv) = mapped else {
        cx.report(
            loc(scim),
            &format!("{at}.scim"),
            format!(
                "{} is not read from the legacy API by any attribute, so the gateway could \
                 not check the results",
                slot.label()
            ),
            Some("add an attributes entry that reads it, or remove this filter".into()),
        );
        return None;
    };
    let conv = conv
        .filter(|c| !c.values.is_empty() || c.legacy_type.is_some())
        .cloned();
    let exact = match &v.match_ {
        None => true,
        Some(m) => match m.value.trim() {
            "exact" => true,
            "loose" => false,
            other => {
                cx.report(
                    loc(m),
                    &format!("{at}.match"),
                    format!("{other:?} is not exact or loose"),
                    Some(format!(
                        "{}: exact when the legacy API selects exactly what SCIM's eq selects, \
                         loose when it selects more (a substring, a case-insensitive match)",
                        suggest_word(other, &["exact", "loose"])
                    )),
                );
                return None;
            }
        },
    };
    Some(FilterRule {
        slot,
        param: param.to_string(),
        exact,
        conv,
    })
}

/// `carries:` of a list endpoint: SCIM attributes (`userName`, `name`, `name.givenName`,
/// `emails`) that some entry reads, canonically spelled. `id` is always carried, so it may be
/// listed but adds nothing.
fn carried(
    cx: &mut Cx<'_>,
    kind: Kind,
    attrs: &[Attr],
    list: &Spanned<Vec<Spanned<String>>>,
) -> Option<Vec<AttrPath>> {
    let at = format!("{}.endpoints.list.carries", kind.key());
    let schema = kind.schema();
    let mut out: Vec<AttrPath> = Vec::new();
    let mut ok = true;
    for (i, s) in list.value.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let text = s.value.trim();
        if text.eq_ignore_ascii_case("id") {
            continue;
        }
        let resolved = AttrPath::parse(text)
            .ok()
            .and_then(|p| Some((schema.find(&p)?, p)));
        let Some((r, _)) = resolved else {
            let fix = match attributes::closest_attribute(schema, text) {
                Some(c) => format!("did you mean {c}?"),
                None => "write a SCIM attribute, like userName, name or emails".into(),
            };
            cx.report(
                loc(s),
                &at,
                format!("{text:?} is not an attribute of the SCIM {}", schema.name),
                Some(fix),
            );
            ok = false;
            continue;
        };
        let path = AttrPath {
            schema: r.is_extension(schema).then(|| r.schema.id.clone()),
            name: r.attr.name.clone(),
            sub: r.sub.map(|x| x.name.clone()),
        };
        let read = attrs.iter().any(|a| {
            let slots: Vec<&crate::mapping::slot::ScimSlot> = match a {
                Attr::Field {
                    slot, read: true, ..
                }
                | Attr::Computed { slot, .. } => vec![slot],
                Attr::Join {
                    parts, read: true, ..
                } => parts.iter().collect(),
                _ => vec![],
            };
            slots.into_iter().any(|slot| {
                slot.container == path.schema
                    && slot.attr.eq_ignore_ascii_case(&path.name)
                    && path.sub.as_ref().is_none_or(|sub| {
                        slot.sub
                            .as_ref()
                            .is_some_and(|x| x.eq_ignore_ascii_case(sub))
                    })
            })
        });
        if !read {
            cx.report(
                loc(s),
                &at,
                format!(
                    "{path} is not read from the legacy API by any attribute, so no list item \
                     can carry it"
                ),
                Some("list only attributes that an attributes entry reads".into()),
            );
            ok = false;
            continue;
        }
        if !out.contains(&path) {
            out.push(path);
        }
    }
    ok.then_some(out)
}

fn error_plan(cx: &mut Cx<'_>, kind: Kind, e: &Spanned<ErrorsFile>) -> Option<ErrorPlan> {
    let at = format!("{}.errors", kind.key());
    let message = match &e.value.message {
        None => Some(Vec::new()),
        Some(m) => error_messages(cx, m, &format!("{at}.message")),
    };
    let mut rules = Vec::new();
    let mut ok = true;
    for (i, r) in e.value.rules.iter().enumerate() {
        match error_rule(cx, &format!("{at}.rules[{i}]"), r) {
            Some(rule) => rules.push(rule),
            None => ok = false,
        }
    }
    let message = message?;
    ok.then_some(ErrorPlan { message, rules })
}

/// `message: $.error.message`, or a list of paths tried in order
/// (`message: [$.message, $.error]`).
fn error_messages(cx: &mut Cx<'_>, m: &Spanned<Value>, at: &str) -> Option<Vec<LegacyPath>> {
    let fix = "write message: $.error.message, or a list tried in order: \
               message: [$.message, $.error]";
    let texts: Vec<&str> = match &m.value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) if !items.is_empty() => {
            let texts: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
            let Some(texts) = texts else {
                cx.report(
                    loc(m),
                    at,
                    "every entry of the list must be a JSONPath".into(),
                    Some(fix.into()),
                );
                return None;
            };
            texts
        }
        Value::Array(_) => {
            cx.report(loc(m), at, "the list is empty".into(), Some(fix.into()));
            return None;
        }
        other => {
            cx.report(
                loc(m),
                at,
                format!("{other} is not a JSONPath or a list of them"),
                Some(fix.into()),
            );
            return None;
        }
    };
    let mut out = Vec::new();
    for text in texts {
        let s = Spanned {
            value: text.to_string(),
            referenced: m.referenced,
            defined: m.defined,
        };
        out.push(read_path(cx, &s, at)?);
    }
    Some(out)
}

pub(super) fn error_rule(
    cx: &mut Cx<'_>,
    at: &str,
    r: &Spanned<ErrorRuleFile>,
) -> Option<ErrorRule> {
    let f = &r.value;
    let status = need(
        cx,
        &f.status,
        loc(r),
        at,
        "status",
        "status: 422 (the legacy status)",
    );
    let scim_status = need(
        cx,
        &f.scim_status,
        loc(r),
        at,
        "scim_status",
        "scim_status: 409",
    );
    let (status, scim_status) = (status?, scim_status?);
    let mut ok = true;
    if !(100..=599).contains(&status.value) {
        cx.report(
            loc(status),
            &format!("{at}.status"),
            format!("{} is not an HTTP status", status.value),
            Some("write the legacy API's status, e.g. status: 422".into()),
        );
        ok = false;
    } else if status.value < 400 {
        // Only refusals are translated: a rule on a success could never apply.
        cx.report(
            loc(status),
            &format!("{at}.status"),
            format!(
                "{} is not an error: error rules translate the legacy API's refusals (400-599)",
                status.value
            ),
            Some("write the status of a refusal, e.g. status: 422; a record the legacy API still answers after its delete is a `deleted:` marker".into()),
        );
        ok = false;
    }
    if !(400..=599).contains(&scim_status.value) {
        cx.report(
            loc(scim_status),
            &format!("{at}.scim_status"),
            format!("{} is not an error status", scim_status.value),
            Some("write a status between 400 and 599, e.g. scim_status: 409".into()),
        );
        ok = false;
    }
    let scim_type = match &f.scim_type {
        None => None,
        Some(t) => match ScimType::parse(t.value.trim()) {
            Some(x) => Some(x),
            None => {
                let names = [
                    "invalidFilter",
                    "tooMany",
                    "uniqueness",
                    "mutability",
                    "invalidSyntax",
                    "invalidPath",
                    "noTarget",
                    "invalidValue",
                    "invalidVers",
                    "sensitive",
                ];
                cx.report(
                    loc(t),
                    &format!("{at}.scim_type"),
                    format!("{:?} is not a SCIM error type", t.value),
                    Some(suggest_word(t.value.trim(), &names)),
                );
                ok = false;
                None
            }
        },
    };
    let code = match (&f.code_path, &f.equals) {
        (None, None) => None,
        (Some(p), Some(v)) => {
            let path = read_path(cx, p, &format!("{at}.code_path"));
            match path {
                Some(path) => Some((path, v.value.clone())),
                None => {
                    ok = false;
                    None
                }
            }
        }
        (Some(p), None) => {
            cx.report(
                loc(p),
                &format!("{at}.code_path"),
                "code_path needs `equals:`, the code to match".into(),
                Some("add e.g. equals: login_taken".into()),
            );
            ok = false;
            None
        }
        (None, Some(v)) => {
            cx.report(
                loc(v),
                &format!("{at}.equals"),
                "equals needs `code_path:`, where the code is in the body".into(),
                Some("add e.g. code_path: $.error.code".into()),
            );
            ok = false;
            None
        }
    };
    if let Some(b) = &f.body_contains {
        if b.value.is_empty() {
            cx.report(
                loc(b),
                &format!("{at}.body_contains"),
                "an empty text matches every body".into(),
                Some("write the text to look for, or remove body_contains".into()),
            );
            ok = false;
        }
    }
    ok.then(|| ErrorRule {
        status: status.value,
        code,
        body_contains: f.body_contains.as_ref().map(|b| b.value.clone()),
        scim_status: scim_status.value,
        scim_type,
        detail: f.detail.as_ref().map(|d| d.value.clone()),
    })
}

pub(super) fn suggest_word(word: &str, known: &[&str]) -> String {
    match closest(word, known.iter().copied()) {
        Some(k) => format!("did you mean {k}? (one of {})", known.join(", ")),
        None => format!("write one of {}", known.join(", ")),
    }
}
