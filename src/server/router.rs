//! Routing: which SCIM endpoint and operation a request is for. Pure: works on the method and
//! the path below the configured base path.

use http::Method;

use crate::scim::ScimError;

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

/// Routes `path` (the full request path, not yet percent-decoded) under `base_path`.
pub fn route(method: &Method, path: &str, base_path: &str) -> Result<Route, ScimError> {
    let rest = path
        .strip_prefix(base_path)
        .filter(|r| r.is_empty() || r.starts_with('/'))
        .ok_or_else(|| not_found(path, base_path))?;
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let decoded: Vec<String> = segments
        .iter()
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let seg: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let collection = |name: &str| match name {
        n if n.eq_ignore_ascii_case("Users") => Some(Collection::Users),
        n if n.eq_ignore_ascii_case("Groups") => Some(Collection::Groups),
        _ => None,
    };
    let m = method.clone();
    let route = match seg.as_slice() {
        ["ServiceProviderConfig"] if m == Method::GET => Route::ServiceProviderConfig,
        // A search at the root (RFC 7644 §3.4.3) covers every resource type.
        [".search"] if m == Method::POST => Route::SearchAll,
        ["ResourceTypes"] if m == Method::GET => Route::ResourceTypes(None),
        ["ResourceTypes", id] if m == Method::GET => Route::ResourceTypes(Some(id.to_string())),
        ["Schemas"] if m == Method::GET => Route::Schemas(None),
        ["Schemas", id] if m == Method::GET => Route::Schemas(Some(id.to_string())),
        [c] if collection(c).is_some() => {
            let c = collection(c).unwrap_or(Collection::Users);
            match m {
                Method::GET => Route::List(c),
                Method::POST => Route::Create(c),
                _ => return Err(not_allowed(&m, path)),
            }
        }
        [c, ".search"] if collection(c).is_some() && m == Method::POST => {
            Route::Search(collection(c).unwrap_or(Collection::Users))
        }
        [c, id] if collection(c).is_some() => {
            let c = collection(c).unwrap_or(Collection::Users);
            let id = id.to_string();
            match m {
                Method::GET => Route::Get(c, id),
                Method::PUT => Route::Replace(c, id),
                Method::PATCH => Route::Patch(c, id),
                Method::DELETE => Route::Delete(c, id),
                _ => return Err(not_allowed(&m, path)),
            }
        }
        ["ServiceProviderConfig" | "ResourceTypes" | "Schemas", ..] => {
            return Err(not_allowed(&m, path))
        }
        _ => return Err(not_found(path, base_path)),
    };
    Ok(route)
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
    fn ids_are_percent_decoded_as_one_segment() {
        assert_eq!(
            route(&Method::GET, "/scim/v2/Users/..%2Fadmin", B).unwrap(),
            Route::Get(Collection::Users, "../admin".into())
        );
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
