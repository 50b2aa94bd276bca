//! One request's view of the gateway: the shared state, the tenant the caller's key belongs to,
//! the request id and the request's record. Every operation and every legacy call takes it, so
//! that what is per-request (the tenant passed to the legacy API, the id sent along as
//! `X-Request-Id`, the tenant's slice of the caches) can never be mixed up between two requests.

use std::ops::Deref;

use crate::server::gateway::Gateway;
use crate::server::record::RequestRecord;
use crate::server::tenant::Tenant;

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
