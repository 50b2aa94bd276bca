//! Authentication and authorisation of identity providers (`docs/operator.md`, "API keys"): the
//! `Authorization: Bearer <secret>` header is looked up among the accepted secrets — the API keys
//! of the keys file and the static tokens of `auth.token_sha256` (tenant "default", both
//! scopes) — which gives the caller's tenant and scopes; then the request's route must be allowed
//! to them. Secrets are never stored, compared only as SHA-256 digests, in constant time, and
//! never logged.
//!
//! 401 (with `WWW-Authenticate`, added by `app`) for a missing, unknown, expired or revoked
//! key; 403 for a key without the scope the operation needs, or used on another tenant's URL
//! (`/t/{tenant}/…`). Every refusal carries an [`AuthFailure`] for the metrics.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::Method;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use time::OffsetDateTime;

use crate::config::TenantConfig;
use crate::keys::{self, Key, Scopes};
use crate::scim::ScimError;
use crate::server::router::{self, Route};
use crate::server::tenant::{Tenant, DEFAULT_TENANT};

/// The SHA-256 hex digest of a token, as `auth.token_sha256` expects it.
pub fn token_digest_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Why a request was refused before it reached an operation. `label` is the `reason` label of
/// `auth_failures_total` (`docs/operator.md`, "Metrics").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header, or not a bearer.
    Missing,
    /// A bearer that is no accepted secret.
    UnknownKey,
    /// A key past its expiry.
    Expired,
    /// A key revoked by `keys revoke`.
    Revoked,
    /// A key without the scope the operation needs.
    Scope,
    /// A key used on another tenant's URL.
    Tenant,
}

impl AuthFailure {
    /// The metrics label: `missing`, `unknown_key`, `expired`, `scope` or `tenant`. A revoked
    /// key counts as `unknown_key` (the contract's labels have no `revoked`).
    pub fn label(self) -> &'static str {
        match self {
            AuthFailure::Missing => "missing",
            AuthFailure::UnknownKey | AuthFailure::Revoked => "unknown_key",
            AuthFailure::Expired => "expired",
            AuthFailure::Scope => "scope",
            AuthFailure::Tenant => "tenant",
        }
    }
}

impl From<AuthFailure> for crate::metrics::AuthFailure {
    /// The metrics' reasons: a revoked key counts as an unknown one.
    fn from(f: AuthFailure) -> Self {
        use crate::metrics::AuthFailure as M;
        match f {
            AuthFailure::Missing => M::Missing,
            AuthFailure::UnknownKey | AuthFailure::Revoked => M::UnknownKey,
            AuthFailure::Expired => M::Expired,
            AuthFailure::Scope => M::Scope,
            AuthFailure::Tenant => M::Tenant,
        }
    }
}

/// A refused request: the SCIM error to answer, and the auth failure when it is one (`None`
/// for a path that names no SCIM endpoint).
#[derive(Debug, Clone)]
pub struct Refusal {
    pub failure: Option<AuthFailure>,
    pub error: ScimError,
}

impl From<Refusal> for ScimError {
    fn from(r: Refusal) -> Self {
        r.error
    }
}

fn refuse(failure: AuthFailure, error: ScimError) -> Refusal {
    Refusal {
        failure: Some(failure),
        error,
    }
}

/// Who is calling: the tenant and scopes of the secret presented.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant: Arc<Tenant>,
    pub scopes: Scopes,
    /// The key's public id; `None` for a static token.
    pub key_id: Option<String>,
}

/// What a request may do, decided before anything is read or written.
#[derive(Debug, Clone)]
pub struct Access {
    pub principal: Principal,
    pub route: Route,
    /// The tenant named in the URL (`/t/{tenant}/…`), which is the principal's.
    pub url_tenant: Option<String>,
}

/// One accepted secret.
#[derive(Debug, Clone)]
struct Entry {
    digest: [u8; 32],
    key_id: Option<String>,
    tenant: Arc<Tenant>,
    scopes: Scopes,
    expires: Option<OffsetDateTime>,
    revoked: bool,
}

/// The accepted secrets and the tenants they belong to. Built once per configuration (and
/// again on each reload); read-only afterwards.
#[derive(Clone, Default)]
pub struct KeyRing {
    entries: Vec<Entry>,
    tenants: BTreeMap<String, Arc<Tenant>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeyRing({} secrets, tenants {:?})",
            self.entries.len(),
            self.tenants.keys().collect::<Vec<_>>()
        )
    }
}

impl KeyRing {
    /// From the static token digests (hex; already validated by the configuration loader,
    /// invalid ones are skipped), the keys of the keys file, and the `[tenants.*]` tables. Every
    /// tenant of a table, of a key, and "default" when there are static tokens, is known.
    pub fn new(
        token_sha256: &[String],
        keys: &[Key],
        tenant_tables: &BTreeMap<String, TenantConfig>,
    ) -> KeyRing {
        let mut tenants: BTreeMap<String, Arc<Tenant>> = tenant_tables
            .iter()
            .map(|(name, c)| (name.clone(), Arc::new(Tenant::from_config(name, c))))
            .collect();
        let mut tenant = |name: &str| {
            tenants
                .entry(name.to_string())
                .or_insert_with(|| Arc::new(Tenant::named(name)))
                .clone()
        };
        let mut entries = Vec::new();
        for digest in token_sha256
            .iter()
            .filter_map(|h| hex::decode(h).ok())
            .filter_map(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        {
            entries.push(Entry {
                digest,
                key_id: None,
                tenant: tenant(DEFAULT_TENANT),
                scopes: Scopes::ALL,
                expires: None,
                revoked: false,
            });
        }
        for k in keys {
            entries.push(Entry {
                digest: k.digest,
                key_id: Some(k.id.clone()),
                tenant: tenant(&k.tenant),
                scopes: k.scopes,
                expires: k.expires,
                revoked: k.revoked.is_some(),
            });
        }
        KeyRing { entries, tenants }
    }

    /// The known tenants, by name.
    pub fn tenants(&self) -> &BTreeMap<String, Arc<Tenant>> {
        &self.tenants
    }

    /// How many secrets are accepted or known (revoked and expired keys included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks an `Authorization` header value at time `now`. Every digest is compared, whatever
    /// matched, so the time taken does not tell which one did.
    pub fn authenticate(
        &self,
        authorization: Option<&[u8]>,
        now: OffsetDateTime,
    ) -> Result<Principal, Refusal> {
        let Some(value) = authorization else {
            return Err(refuse(
                AuthFailure::Missing,
                ScimError::unauthorized(
                    "missing Authorization header; send 'Authorization: Bearer <token>'",
                ),
            ));
        };
        let token = bearer_token(value).ok_or_else(|| {
            refuse(
                AuthFailure::Missing,
                ScimError::unauthorized("the Authorization header must be 'Bearer <token>'"),
            )
        })?;
        let digest: [u8; 32] = Sha256::digest(token).into();
        let mut found = subtle::Choice::from(0u8);
        let mut index = 0u32;
        for (i, e) in self.entries.iter().enumerate() {
            let eq = e.digest.ct_eq(&digest);
            index = u32::conditional_select(&index, &(i as u32), eq);
            found |= eq;
        }
        let entry = match self.entries.get(index as usize) {
            Some(e) if bool::from(found) => e,
            _ => {
                return Err(refuse(
                    AuthFailure::UnknownKey,
                    ScimError::unauthorized("the bearer token is not valid for this gateway"),
                ))
            }
        };
        let id = entry.key_id.as_deref().unwrap_or("");
        if entry.revoked {
            return Err(refuse(
                AuthFailure::Revoked,
                ScimError::unauthorized(format!(
                    "API key {id} was revoked; put a current key in the identity provider's Secret Token"
                )),
            ));
        }
        if let Some(expires) = entry.expires.filter(|e| *e <= now) {
            return Err(refuse(
                AuthFailure::Expired,
                ScimError::unauthorized(format!(
                    "API key {id} expired at {}; create a new one (scim-gateway keys new) and put it in the identity provider's Secret Token",
                    keys::format_time(expires)
                )),
            ));
        }
        Ok(Principal {
            tenant: entry.tenant.clone(),
            scopes: entry.scopes,
            key_id: entry.key_id.clone(),
        })
    }

    /// Authenticates, then routes and checks the route ([`permit`]).
    pub fn authorize(
        &self,
        method: &Method,
        path: &str,
        base_path: &str,
        authorization: Option<&[u8]>,
        now: OffsetDateTime,
    ) -> Result<Access, Refusal> {
        let principal = self.authenticate(authorization, now)?;
        permit(principal, method, path, base_path)
    }
}

/// Routes an authenticated request and checks that the route is allowed: the tenant in the URL
/// (if any) is the key's, and the key has the scope the operation needs.
pub fn permit(
    principal: Principal,
    method: &Method,
    path: &str,
    base_path: &str,
) -> Result<Access, Refusal> {
    let (url_tenant, route) =
        router::route_with_tenant(method, path, base_path).map_err(|error| Refusal {
            failure: None,
            error,
        })?;
    if let Some(t) = &url_tenant {
        if *t != principal.tenant.name {
            let shown: String = t.chars().take(64).collect();
            return Err(refuse(
                    AuthFailure::Tenant,
                    ScimError::forbidden(format!(
                        "this API key is not valid for tenant {shown:?}; use the SCIM URL of the key's own tenant"
                    )),
                ));
        }
    }
    let (needed, has) = if route.writes() {
        (keys::SCOPE_WRITE, principal.scopes.write)
    } else {
        (keys::SCOPE_READ, principal.scopes.read)
    };
    if !has {
        return Err(refuse(
            AuthFailure::Scope,
            ScimError::forbidden(format!(
                "this API key has the scope {} only; {method} here needs {needed}",
                principal.scopes
            )),
        ));
    }
    Ok(Access {
        principal,
        route,
        url_tenant,
    })
}

/// The token of a `Bearer` header value (scheme case-insensitive, RFC 7235).
fn bearer_token(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = value[7..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{generate, KeysFile, NewKey};
    use crate::server::router::Collection;
    use time::Duration;

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse(
            "2026-11-27T17:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    }

    fn ring(tokens: &[&str]) -> KeyRing {
        let hexes: Vec<String> = tokens.iter().map(|t| token_digest_hex(t)).collect();
        KeyRing::new(&hexes, &[], &BTreeMap::new())
    }

    /// A ring with static token "static" and keys: (tenant, scopes, expires in, revoked).
    fn with_keys(specs: &[(&str, Scopes, Option<Duration>, bool)]) -> (KeyRing, Vec<String>) {
        let mut file = KeysFile::default();
        let mut secrets = Vec::new();
        for (tenant, scopes, _, _) in specs {
            let new = NewKey {
                tenant,
                scopes: *scopes,
                label: "t",
                expires: None,
            };
            secrets.push(
                generate(&mut file, &new, now() - Duration::DAY * 30)
                    .unwrap()
                    .1,
            );
        }
        let (_, mut keys) = keys::parse("k", &keys::to_text(&file)).unwrap();
        for (k, (_, _, expires, revoked)) in keys.iter_mut().zip(specs) {
            k.expires = expires.map(|d| now() + d);
            if *revoked {
                k.revoked = Some(now());
            }
        }
        let mut tables = BTreeMap::new();
        tables.insert(
            "acme".to_string(),
            TenantConfig {
                allowed_domains: vec!["acme.com".into()],
                legacy_id: Some("t-1".into()),
            },
        );
        let ring = KeyRing::new(&[token_digest_hex("static")], &keys, &tables);
        (ring, secrets)
    }

    fn bearer(s: &str) -> Vec<u8> {
        format!("Bearer {s}").into_bytes()
    }

    const READ: Scopes = Scopes {
        read: true,
        write: false,
    };

    #[test]
    fn a_static_token_is_accepted_in_any_scheme_case_as_the_default_tenant() {
        let s = ring(&["s3cret"]);
        for h in [
            &b"Bearer s3cret"[..],
            b"bearer s3cret",
            b"BEARER   s3cret  ",
        ] {
            let p = s.authenticate(Some(h), now()).unwrap();
            assert_eq!(p.tenant.name, "default");
            assert_eq!(p.scopes, Scopes::ALL);
            assert_eq!(p.key_id, None);
        }
    }

    #[test]
    fn both_tokens_of_a_rotation_are_accepted() {
        let s = ring(&["old", "new"]);
        assert!(s.authenticate(Some(b"Bearer old"), now()).is_ok());
        assert!(s.authenticate(Some(b"Bearer new"), now()).is_ok());
    }

    #[test]
    fn wrong_missing_or_malformed_credentials_get_401() {
        let s = ring(&["s3cret"]);
        for (h, label) in [
            (Some(&b"Bearer nope"[..]), "unknown_key"),
            (None, "missing"),
            (Some(b"Basic czNjcmV0"), "missing"),
            (Some(b"Bearer "), "missing"),
            (Some(b"s3cret"), "missing"),
        ] {
            let e = s.authenticate(h, now()).unwrap_err();
            assert_eq!(e.error.status, 401);
            assert_eq!(e.failure.map(AuthFailure::label), Some(label));
            assert!(!e.error.detail.contains("s3cret"));
        }
    }

    #[test]
    fn no_configured_token_refuses_everything() {
        let e = ring(&[]).authenticate(Some(b"Bearer anything"), now());
        assert_eq!(e.unwrap_err().error.status, 401);
    }

    #[test]
    fn a_key_gives_its_tenant_with_its_table_and_its_scopes() {
        let (r, secrets) = with_keys(&[
            ("acme", READ, None, false),
            ("globex", Scopes::ALL, None, false),
        ]);
        let p = r.authenticate(Some(&bearer(&secrets[0])), now()).unwrap();
        assert_eq!(p.tenant.name, "acme");
        assert_eq!(p.tenant.legacy_id, "t-1");
        assert_eq!(p.tenant.allowed_domains, ["acme.com"]);
        assert_eq!(p.scopes, READ);
        assert!(p.key_id.is_some());
        let p = r.authenticate(Some(&bearer(&secrets[1])), now()).unwrap();
        assert_eq!(*p.tenant, Tenant::named("globex"));
        let names: Vec<&String> = r.tenants().keys().collect();
        assert_eq!(names, ["acme", "default", "globex"]);
        // The static token still works beside the keys.
        assert_eq!(
            r.authenticate(Some(b"Bearer static"), now())
                .unwrap()
                .tenant
                .name,
            "default"
        );
    }

    #[test]
    fn expired_and_revoked_keys_get_401_saying_why() {
        let (r, secrets) = with_keys(&[
            ("acme", Scopes::ALL, Some(-Duration::HOUR), false),
            ("acme", Scopes::ALL, None, true),
            ("acme", Scopes::ALL, Some(Duration::HOUR), false),
        ]);
        let e = r
            .authenticate(Some(&bearer(&secrets[0])), now())
            .unwrap_err();
        assert_eq!(
            (e.error.status, e.failure),
            (401, Some(AuthFailure::Expired))
        );
        assert!(e.error.detail.contains("expired"), "{}", e.error.detail);
        let e = r
            .authenticate(Some(&bearer(&secrets[1])), now())
            .unwrap_err();
        assert_eq!(
            (e.error.status, e.failure),
            (401, Some(AuthFailure::Revoked))
        );
        assert!(e.error.detail.contains("revoked"), "{}", e.error.detail);
        assert!(r.authenticate(Some(&bearer(&secrets[2])), now()).is_ok());
    }

    #[test]
    fn scopes_decide_reads_and_writes() {
        let (r, secrets) = with_keys(&[
            ("acme", READ, None, false),
            (
                "acme",
                Scopes {
                    read: false,
                    write: true,
                },
                None,
                false,
            ),
        ]);
        let authorize = |secret: &str, m: Method, p: &str| {
            r.authorize(&m, p, "/scim/v2", Some(&bearer(secret)), now())
        };
        let reader = &secrets[0];
        assert!(authorize(reader, Method::GET, "/scim/v2/Users").is_ok());
        assert!(authorize(reader, Method::POST, "/scim/v2/Users/.search").is_ok());
        assert!(authorize(reader, Method::POST, "/scim/v2/.search").is_ok());
        assert!(authorize(reader, Method::GET, "/scim/v2/ServiceProviderConfig").is_ok());
        for (m, p) in [
            (Method::POST, "/scim/v2/Users"),
            (Method::PUT, "/scim/v2/Users/1"),
            (Method::PATCH, "/scim/v2/Groups/1"),
            (Method::DELETE, "/scim/v2/Users/1"),
        ] {
            let e = authorize(reader, m.clone(), p).unwrap_err();
            assert_eq!(
                (e.error.status, e.failure),
                (403, Some(AuthFailure::Scope)),
                "{m} {p}"
            );
            assert!(e.error.detail.contains("scim.write"), "{}", e.error.detail);
        }
        let writer = &secrets[1];
        assert!(authorize(writer, Method::DELETE, "/scim/v2/Users/1").is_ok());
        let e = authorize(writer, Method::GET, "/scim/v2/Users/1").unwrap_err();
        assert_eq!(e.failure, Some(AuthFailure::Scope));
    }

    #[test]
    fn a_tenant_url_must_be_the_keys_tenant() {
        let (r, secrets) = with_keys(&[("acme", Scopes::ALL, None, false)]);
        let a = r
            .authorize(
                &Method::GET,
                "/t/acme/scim/v2/Users/7",
                "/scim/v2",
                Some(&bearer(&secrets[0])),
                now(),
            )
            .unwrap();
        assert_eq!(a.url_tenant.as_deref(), Some("acme"));
        assert_eq!(a.route, Route::Get(Collection::Users, "7".into()));
        let e = r
            .authorize(
                &Method::GET,
                "/t/globex/scim/v2/Users/7",
                "/scim/v2",
                Some(&bearer(&secrets[0])),
                now(),
            )
            .unwrap_err();
        assert_eq!(
            (e.error.status, e.failure),
            (403, Some(AuthFailure::Tenant))
        );
        // The static token is tenant "default".
        let e = r
            .authorize(
                &Method::GET,
                "/t/acme/scim/v2/Users",
                "/scim/v2",
                Some(b"Bearer static"),
                now(),
            )
            .unwrap_err();
        assert_eq!(e.failure, Some(AuthFailure::Tenant));
        // Authentication comes first: an unknown key on any path is a 401.
        let e = r
            .authorize(
                &Method::GET,
                "/nowhere",
                "/scim/v2",
                Some(b"Bearer nope"),
                now(),
            )
            .unwrap_err();
        assert_eq!(e.error.status, 401);
        let e = r
            .authorize(
                &Method::GET,
                "/nowhere",
                "/scim/v2",
                Some(b"Bearer static"),
                now(),
            )
            .unwrap_err();
        assert_eq!((e.error.status, e.failure), (404, None));
    }

    #[test]
    fn digest_matches_the_sha256_of_the_token() {
        assert_eq!(
            token_digest_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
