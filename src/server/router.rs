//! Routing: which SCIM endpoint and operation a request is for, and for which tenant's URL.
//! Pure: works on the method and the path. A SCIM endpoint is served at two URLs:
//! `<base_path>/…` (the tenant is the key's) and `/t/{tenant}<base_path>/…` (the tenant named
//! must be the key's: `auth` checks it). Also the base URL of `meta.location`, which keeps the
//! form the client used.

use std::borrow::Cow;

use http::Method;

use crate::config::ScimConfig;
use crate::scim::ScimError;
use crate::server::wire::SEGMENT;

/// The prefix of tenant URLs: `/t/{tenant}<base_path>/…`.
pub const TENANT_PREFIX: &str = "/t/";

/// The resource collections the gateway serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Users,
    Groups,
}

/// A routed SCIM request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    List(Collection),
    Search(Collection),
    /// `POST /.search` at the root: every resource type.
    SearchAll,
    Create(Collection),
    Get(Collection, String),
    Replace(Collection, String),
    Patch(Collection, String),
    Delete(Collection, String),
    ServiceProviderConfig,
    ResourceTypes(Option<String>),
    Schemas(Option<String>),
}

/// Why a path and method name no route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoRoute {
    /// No SCIM endpoint at that path (404).
    NotFound,
    /// The endpoint exists but not with that method (405).
    NotAllowed,
}

/// Routes `path` (the full request path, not yet percent-decoded) under `base_path`.
pub fn route(method: &Method, path: &str, base_path: &str) -> Result<Route, ScimError> {
    route_of(method, path, base_path).map_err(|no| match no {
        NoRoute::NotFound => not_found(path, base_path),
        NoRoute::NotAllowed => not_allowed(method, path),
    })
}

fn route_of(method: &Method, path: &str, base_path: &str) -> Result<Route, NoRoute> {
    let rest = path
        .strip_prefix(base_path)
        .filter(|r| r.is_empty() || r.starts_with('/'))
        .ok_or(NoRoute::NotFound)?;
    // Segments borrowed from the path unless they hold a percent-escape. A route has at most
    // two; a third only tells that there are too many, so no more are read.
    let mut decoded: [Cow<str>; 3] = Default::default();
    let mut count = 0;
    for (at, s) in rest
        .split('/')
        .filter(|s| !s.is_empty())
        .take(3)
        .enumerate()
    {
        decoded[at] = percent_encoding::percent_decode_str(s).decode_utf8_lossy();
        count = at + 1;
    }
    let all: [&str; 3] = [&decoded[0], &decoded[1], &decoded[2]];
    let seg = &all[..count];
    let collection = |name: &str| match name {
        n if n.eq_ignore_ascii_case("Users") => Some(Collection::Users),
        n if n.eq_ignore_ascii_case("Groups") => Some(Collection::Groups),
        _ => None,
    };
    let m = method.clone();
    // A collection first: its name decides, the method then picks the operation.
    if let Some((c, rest)) = seg
        .split_first()
        .and_then(|(c, rest)| Some((collection(c)?, rest)))
    {
        let route = match (rest, &m) {
            ([], &Method::GET) => Route::List(c),
            ([], &Method::POST) => Route::Create(c),
            ([], _) => return Err(NoRoute::NotAllowed),
            ([".search"], &Method::POST) => Route::Search(c),
            ([id], _) => {
                let id = id.to_string();
                match m {
                    Method::GET => Route::Get(c, id),
                    Method::PUT => Route::Replace(c, id),
                    Method::PATCH => Route::Patch(c, id),
                    Method::DELETE => Route::Delete(c, id),
                    _ => return Err(NoRoute::NotAllowed),
                }
            }
            _ => return Err(NoRoute::NotFound),
        };
        return Ok(route);
    }
    let route = match seg {
        ["ServiceProviderConfig"] if m == Method::GET => Route::ServiceProviderConfig,
        // A search at the root (RFC 7644 §3.4.3) covers every resource type.
        [".search"] if m == Method::POST => Route::SearchAll,
        ["ResourceTypes"] if m == Method::GET => Route::ResourceTypes(None),
        ["ResourceTypes", id] if m == Method::GET => Route::ResourceTypes(Some(id.to_string())),
        ["Schemas"] if m == Method::GET => Route::Schemas(None),
        ["Schemas", id] if m == Method::GET => Route::Schemas(Some(id.to_string())),
        ["ServiceProviderConfig" | "ResourceTypes" | "Schemas", ..] => {
            return Err(NoRoute::NotAllowed)
        }
        _ => return Err(NoRoute::NotFound),
    };
    Ok(route)
}

/// The longest resource id accepted from a URL, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// Whether `id` (from a URL, percent-decoded) may name a resource: not empty, at most
/// [`MAX_ID_BYTES`] bytes, no control characters. Anything else names no resource and never
/// reaches the legacy API.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_ID_BYTES && !id.chars().any(char::is_control)
}

/// [`is_valid_id`] as the 404 of a resource that does not exist (the id is not echoed).
pub fn check_id(collection: Collection, id: &str) -> Result<(), ScimError> {
    if is_valid_id(id) {
        return Ok(());
    }
    let what = match collection {
        Collection::Users => "user",
        Collection::Groups => "group",
    };
    Err(ScimError::not_found(format!("no {what} with this id")))
}

impl Route {
    /// The `resource` and `operation` metric labels of the route.
    pub fn labels(&self) -> (&'static str, &'static str) {
        let collection = |c: &Collection| match c {
            Collection::Users => "Users",
            Collection::Groups => "Groups",
        };
        match self {
            Route::List(c) => (collection(c), "list"),
            Route::Search(c) => (collection(c), "search"),
            Route::SearchAll => ("Search", "search"),
            Route::Create(c) => (collection(c), "create"),
            Route::Get(c, _) => (collection(c), "get"),
            Route::Replace(c, _) => (collection(c), "replace"),
            Route::Patch(c, _) => (collection(c), "patch"),
            Route::Delete(c, _) => (collection(c), "delete"),
            Route::ServiceProviderConfig => ("ServiceProviderConfig", "discovery"),
            Route::ResourceTypes(_) => ("ResourceTypes", "discovery"),
            Route::Schemas(_) => ("Schemas", "discovery"),
        }
    }

    /// Whether the route changes anything (POST, PUT, PATCH, DELETE of a resource): those need
    /// the `scim.write` scope, the rest (reads, searches, discovery) `scim.read`. A search is
    /// a POST that only reads.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Route::Create(_) | Route::Replace(..) | Route::Patch(..) | Route::Delete(..)
        )
    }
}

/// Routes `path` under `base_path` or under `/t/{tenant}<base_path>`; the tenant named in the
/// URL (percent-decoded), if any, comes with the route.
pub fn route_with_tenant(
    method: &Method,
    path: &str,
    base_path: &str,
) -> Result<(Option<String>, Route), ScimError> {
    let under_base = path
        .strip_prefix(base_path)
        .is_some_and(|r| r.is_empty() || r.starts_with('/'));
    if !under_base {
        if let Some(after) = path.strip_prefix(TENANT_PREFIX) {
            let (segment, rest) = after.split_at(after.find('/').unwrap_or(after.len()));
            let tenant = percent_encoding::percent_decode_str(segment)
                .decode_utf8_lossy()
                .into_owned();
            if !tenant.is_empty() && !rest.is_empty() {
                let route = route_of(method, rest, base_path).map_err(|no| match no {
                    NoRoute::NotFound => {
                        not_found(path, &format!("{TENANT_PREFIX}{segment}{base_path}"))
                    }
                    NoRoute::NotAllowed => not_allowed(method, rest),
                })?;
                return Ok((Some(tenant), route));
            }
        }
    }
    Ok((None, route(method, path, base_path)?))
}

/// The base URL of this SCIM service for `meta.location` and `Location`, in the form the client
/// used: `public_url` when configured (with `/t/{tenant}` put before its base path for a tenant
/// URL, when it ends with the base path; the `Host` is then never used), else
/// `http://<Host><base path>` — which `serve` allows only with `allowed_hosts`, whose
/// [`check_host`] has refused any other host before the request got here.
pub fn base_url(scim: &ScimConfig, host: Option<&str>, url_tenant: Option<&str>) -> String {
    let prefix = url_tenant
        .map(|t| {
            let encoded = percent_encoding::utf8_percent_encode(t, SEGMENT);
            format!("/t/{encoded}")
        })
        .unwrap_or_default();
    let public = scim.public_url.trim_end_matches('/');
    if !public.is_empty() {
        return match public.strip_suffix(scim.base_path.as_str()) {
            Some(root) if !prefix.is_empty() => format!("{root}{prefix}{}", scim.base_path),
            _ => public.to_string(),
        };
    }
    let host = host
        .filter(|h| {
            h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        })
        .unwrap_or("localhost");
    let mut url = String::with_capacity(7 + host.len() + prefix.len() + scim.base_path.len());
    for part in ["http://", host, &prefix, &scim.base_path] {
        url.push_str(part);
    }
    url
}

/// Whether a request addressed to `host` (its `Host` header, or its absolute URI's authority)
/// may be served: always without `allowed_hosts`; else only when `host` is one of them
/// (without case; an entry without a port matches any port). A request that names no host, or
/// not a well-formed one, is 400 (RFC 9112 §3.2); one addressed to a host not listed is 421
/// Misdirected Request (RFC 9110 §15.5.20: this server will not answer for that authority).
/// The host sent is never echoed.
pub fn check_host(scim: &ScimConfig, host: Option<&str>) -> Result<(), ScimError> {
    if scim.allowed_hosts.is_empty() {
        return Ok(());
    }
    let Some((name, port)) = host.and_then(crate::config::parse_host) else {
        return Err(ScimError::new(
            400,
            None,
            "the request names no host, or not a well-formed one: send one Host header with \
             the gateway's host name",
        ));
    };
    let allowed = scim.allowed_hosts.iter().any(|entry| {
        crate::config::parse_host(entry)
            .is_some_and(|(n, p)| n.eq_ignore_ascii_case(name) && (p.is_none() || p == port))
    });
    if allowed {
        Ok(())
    } else {
        Err(ScimError::new(
            421,
            None,
            "this gateway does not serve the host this request is addressed to (the Host \
             header); send it to the gateway's configured address",
        ))
    }
}

fn not_found(path: &str, base_path: &str) -> ScimError {
    let shown: String = path.chars().take(200).collect();
    ScimError::not_found(format!(
        "no SCIM endpoint at {shown:?}; the SCIM base URL is {base_path} (…/Users, …/Groups, …/ServiceProviderConfig)"
    ))
}

fn not_allowed(method: &Method, path: &str) -> ScimError {
    let shown: String = path.chars().take(200).collect();
    ScimError::method_not_allowed(format!("{method} is not supported on {shown:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_have_the_contract_labels() {
        let route_labels = Route::labels;
        assert_eq!(
            route_labels(&Route::List(Collection::Users)),
            ("Users", "list")
        );
        assert_eq!(
            route_labels(&Route::Search(Collection::Groups)),
            ("Groups", "search")
        );
        assert_eq!(route_labels(&Route::SearchAll), ("Search", "search"));
        assert_eq!(
            route_labels(&Route::Patch(Collection::Groups, "7".into())),
            ("Groups", "patch")
        );
        assert_eq!(
            route_labels(&Route::Schemas(None)),
            ("Schemas", "discovery")
        );
    }

    #[test]
    fn ids_that_name_no_resource_are_404_without_echo() {
        for bad in ["", "a\nb", "x\u{0}y", "\r", &"a".repeat(MAX_ID_BYTES + 1)] {
            assert!(!is_valid_id(bad), "{bad:?}");
            let e = check_id(Collection::Groups, bad).unwrap_err();
            assert_eq!(e.status, 404);
            assert_eq!(e.detail, "no group with this id");
        }
        let e = check_id(Collection::Users, "").unwrap_err();
        assert_eq!(e.detail, "no user with this id");
        for good in [
            "42",
            "../admin",
            "a?b=c",
            "a#b",
            "%2F",
            "ünï",
            &"a".repeat(MAX_ID_BYTES),
        ] {
            assert!(check_id(Collection::Users, good).is_ok(), "{good:?}");
        }
    }

    const B: &str = "/scim/v2";

    #[test]
    fn routes_every_user_operation() {
        assert_eq!(
            route(&Method::GET, "/scim/v2/Users", B).unwrap(),
            Route::List(Collection::Users)
        );
        assert_eq!(
            route(&Method::POST, "/scim/v2/Users", B).unwrap(),
            Route::Create(Collection::Users)
        );
        assert_eq!(
            route(&Method::GET, "/scim/v2/Users/17", B).unwrap(),
            Route::Get(Collection::Users, "17".into())
        );
        assert_eq!(
            route(&Method::PUT, "/scim/v2/Users/17", B).unwrap(),
            Route::Replace(Collection::Users, "17".into())
        );
        assert_eq!(
            route(&Method::PATCH, "/scim/v2/Users/17", B).unwrap(),
            Route::Patch(Collection::Users, "17".into())
        );
        assert_eq!(
            route(&Method::DELETE, "/scim/v2/Users/17", B).unwrap(),
            Route::Delete(Collection::Users, "17".into())
        );
        assert_eq!(
            route(&Method::POST, "/scim/v2/Users/.search", B).unwrap(),
            Route::Search(Collection::Users)
        );
        assert_eq!(
            route(&Method::GET, "/scim/v2/users/", B).unwrap(),
            Route::List(Collection::Users)
        );
    }

    #[test]
    fn routes_discovery_endpoints() {
        assert_eq!(
            route(&Method::GET, "/scim/v2/ServiceProviderConfig", B).unwrap(),
            Route::ServiceProviderConfig
        );
        assert_eq!(
            route(&Method::GET, "/scim/v2/Schemas", B).unwrap(),
            Route::Schemas(None)
        );
        assert_eq!(
            route(
                &Method::GET,
                "/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
                B
            )
            .unwrap(),
            Route::Schemas(Some("urn:ietf:params:scim:schemas:core:2.0:User".into()))
        );
        assert_eq!(
            route(&Method::GET, "/scim/v2/ResourceTypes/User", B).unwrap(),
            Route::ResourceTypes(Some("User".into()))
        );
    }

    #[test]
    fn a_path_longer_than_any_route_names_none() {
        for (method, path, status) in [
            (Method::GET, "/scim/v2/Users/17/x", 404),
            (Method::GET, "/scim/v2/Users/17/x/y/z", 404),
            (Method::POST, "/scim/v2/Groups/.search/x", 404),
            (Method::GET, "/scim/v2/Nope/a/b/c", 404),
            (Method::GET, "/scim/v2/Schemas/a/b", 405),
            (Method::GET, "/scim/v2/ResourceTypes/User/x/y", 405),
        ] {
            let e = route(&method, path, B).unwrap_err();
            assert_eq!(e.status, status, "{method} {path}");
        }
    }

    #[test]
    fn ids_are_percent_decoded_as_one_segment() {
        assert_eq!(
            route(&Method::GET, "/scim/v2/Users/..%2Fadmin", B).unwrap(),
            Route::Get(Collection::Users, "../admin".into())
        );
    }

    #[test]
    fn tenant_urls_route_like_the_plain_ones_and_name_the_tenant() {
        let r = |m: &Method, p: &str| route_with_tenant(m, p, B);
        assert_eq!(
            r(&Method::GET, "/t/acme/scim/v2/Users/17").unwrap(),
            (
                Some("acme".into()),
                Route::Get(Collection::Users, "17".into())
            )
        );
        assert_eq!(
            r(&Method::POST, "/t/acme/scim/v2/Groups").unwrap(),
            (Some("acme".into()), Route::Create(Collection::Groups))
        );
        assert_eq!(
            r(&Method::GET, "/t/ac%6De/scim/v2/ServiceProviderConfig").unwrap(),
            (Some("acme".into()), Route::ServiceProviderConfig)
        );
        assert_eq!(
            r(&Method::GET, "/scim/v2/Users").unwrap(),
            (None, Route::List(Collection::Users))
        );
        for missing in [
            "/t/acme",
            "/t/acme/",
            "/t//scim/v2/Users",
            "/t/acme/other/Users",
            "/t/",
        ] {
            let e = r(&Method::GET, missing).unwrap_err();
            assert_eq!(e.status, 404, "{missing}");
        }
        let e = r(&Method::GET, "/t/acme/scim/v2/Nope").unwrap_err();
        assert!(e.detail.contains("/t/acme/scim/v2"), "{}", e.detail);
        assert_eq!(
            r(&Method::DELETE, "/t/acme/scim/v2/Users")
                .unwrap_err()
                .status,
            405
        );
    }

    #[test]
    fn writes_need_the_write_scope_and_searches_do_not() {
        use Collection::Users;
        assert!(Route::Create(Users).writes());
        assert!(Route::Replace(Users, "1".into()).writes());
        assert!(Route::Patch(Users, "1".into()).writes());
        assert!(Route::Delete(Users, "1".into()).writes());
        assert!(!Route::Search(Users).writes());
        assert!(!Route::SearchAll.writes());
        assert!(!Route::List(Users).writes());
        assert!(!Route::Get(Users, "1".into()).writes());
        assert!(!Route::Schemas(None).writes());
    }

    #[test]
    fn the_base_url_keeps_the_form_the_client_used() {
        let mut scim = ScimConfig::default();
        assert_eq!(
            base_url(&scim, Some("gw:8080"), None),
            "http://gw:8080/scim/v2"
        );
        assert_eq!(
            base_url(&scim, Some("gw:8080"), Some("acme")),
            "http://gw:8080/t/acme/scim/v2"
        );
        assert_eq!(
            base_url(&scim, Some("evil/host?x"), None),
            "http://localhost/scim/v2"
        );
        scim.public_url = "https://scim.example.com/scim/v2/".into();
        assert_eq!(
            base_url(&scim, None, None),
            "https://scim.example.com/scim/v2"
        );
        assert_eq!(
            base_url(&scim, None, Some("acme")),
            "https://scim.example.com/t/acme/scim/v2"
        );
    }

    #[test]
    fn only_the_allowed_hosts_are_served_when_there_are_some() {
        let mut scim = ScimConfig::default();
        // No list: every host (serve refuses to start without it or public_url).
        assert!(check_host(&scim, Some("evil.example")).is_ok());
        assert!(check_host(&scim, None).is_ok());
        scim.allowed_hosts = vec![
            "SCIM.example.com".into(),
            "gw.internal:8080".into(),
            "[::1]:8080".into(),
        ];
        for ok in [
            "scim.example.com",
            "Scim.Example.Com:443",
            "scim.example.com.",
            "gw.internal:8080",
            "GW.internal:8080",
            "[::1]:8080",
        ] {
            assert!(check_host(&scim, Some(ok)).is_ok(), "{ok}");
        }
        for (bad, status) in [
            ("evil.example", 421),
            ("gw.internal", 421),
            ("gw.internal:8081", 421),
            ("scim.example.com.evil.example", 421),
            ("[::1]", 421),
            ("[::2]:8080", 421),
            ("scim.example.com:", 400),
            ("scim.example.com:99999", 400),
            ("scim.example.com/x", 400),
            ("user@scim.example.com", 400),
            ("scim.example.com scim.example.com", 400),
            ("", 400),
        ] {
            let e = check_host(&scim, Some(bad)).unwrap_err();
            assert_eq!(e.status, status, "{bad}");
            assert!(bad.is_empty() || !e.detail.contains(bad), "{}", e.detail);
        }
        assert_eq!(check_host(&scim, None).unwrap_err().status, 400);
    }

    #[test]
    fn unknown_paths_and_methods_are_scim_errors() {
        assert_eq!(route(&Method::GET, "/other", B).unwrap_err().status, 404);
        assert_eq!(
            route(&Method::GET, "/scim/v2x/Users", B)
                .unwrap_err()
                .status,
            404
        );
        assert_eq!(
            route(&Method::GET, "/scim/v2/Users/1/extra", B)
                .unwrap_err()
                .status,
            404
        );
        assert_eq!(
            route(&Method::DELETE, "/scim/v2/Users", B)
                .unwrap_err()
                .status,
            405
        );
        assert_eq!(
            route(&Method::POST, "/scim/v2/ServiceProviderConfig", B)
                .unwrap_err()
                .status,
            405
        );
    }
}
