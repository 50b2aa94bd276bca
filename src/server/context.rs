//! One request's view of the gateway: the shared state, the tenant the caller's key belongs to,
//! and the request id. Every operation and every legacy call takes it, so that what is
//! per-request (the tenant passed to the legacy API, the id sent along as `X-Request-Id`, the
//! tenant's slice of the caches) can never be mixed up between two requests.

use std::ops::Deref;

use crate::server::gateway::Gateway;
use crate::server::observe::RequestRecord;

/// The tenant a request acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant's name in keys, URLs, metrics and logs.
    pub name: String,
}

impl Tenant {
    /// The tenant of the static tokens of `auth.token_sha256`.
    pub fn default_tenant() -> Tenant {
        Tenant {
            name: "default".to_string(),
        }
    }
}

/// The gateway as one request sees it.
pub struct Ctx<'a> {
    pub gw: &'a Gateway,
    pub tenant: &'a Tenant,
    pub request_id: &'a str,
    /// What the request's steps learn for its metrics and provisioning log (the legacy API's
    /// last status, …).
    pub record: &'a RequestRecord,
}

impl Deref for Ctx<'_> {
    type Target = Gateway;

    fn deref(&self) -> &Gateway {
        self.gw
    }
}
