//! A tap on the legacy calls of one request ([`Tap`]): it sees each call the gateway makes for
//! the request and what came back, and may answer a call itself instead of letting it be sent.
//! The onboarding commands use it (`probe` shows every call it makes; `explain` answers the
//! writes, and without `--live` the reads too, so nothing is changed). Requests served by the
//! listener have no tap. Below `legacy`, which consults it on every call.

use crate::backend::{BackendError, BackendRequest, BackendResponse};
use crate::mapping::Endpoint;

/// Which collection's mapping a tapped call belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Users,
    Groups,
}

/// One legacy call as a tap sees it: the endpoint of the mapping it comes from, and the request
/// as the gateway built it (path and query encoded, body serialised; the legacy credentials
/// are not in it yet: the backend client adds them as the call leaves).
pub(crate) struct TappedCall<'a> {
    pub(crate) section: Section,
    pub(crate) endpoint: &'a Endpoint,
    pub(crate) request: &'a BackendRequest,
}

impl TappedCall<'_> {
    /// The endpoint's name in the mapping: `get`, `create`, `add_member`…, without the section.
    pub(crate) fn endpoint_name(&self) -> &'static str {
        let name = self.endpoint.name;
        name.split_once('.').map_or(name, |(_, rest)| rest)
    }
}

/// What a call came to.
pub(crate) enum TapOutcome<'a> {
    /// The legacy API answered (any status).
    Answered(&'a BackendResponse),
    /// The tap answered it: nothing was sent.
    Simulated(&'a BackendResponse),
    /// No answer: the call failed (connection refused, timeout, circuit open…).
    Failed(&'a BackendError),
}

/// Sees (and may answer) the legacy calls of a request.
pub(crate) trait Tap: Send + Sync {
    /// An answer to give instead of sending `call`; `None` sends it.
    fn answer(&self, call: &TappedCall<'_>) -> Option<BackendResponse>;
    /// `call` and what it came to, once it has.
    fn seen(&self, call: &TappedCall<'_>, outcome: TapOutcome<'_>);
}
