//! What the steps of one request learn as it goes ([`RequestRecord`]: its tenant, its route,
//! the legacy API's statuses, the user's userName, the changes already applied), and how an
//! error says what was and was not applied. The record travels with the request in `Ctx`;
//! `observe::finish` reads it once the request is answered. Not the logging itself (that is
//! `observe`).

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::metrics;
use crate::scim::ScimError;
use crate::server::router::Route;
use crate::server::tap::Tap;

/// What the steps of one request learned, for its metrics and log lines.
#[derive(Default)]
pub struct RequestRecord {
    /// What watches (and may answer) the request's legacy calls: only the onboarding
    /// commands' requests have one.
    tap: Option<Arc<dyn Tap>>,
    tenant: OnceLock<String>,
    route: OnceLock<Route>,
    /// The legacy API's status of the last call (0: none yet).
    legacy_status: AtomicU16,
    /// The legacy API's last error status (≥ 400; 0: none).
    legacy_error: AtomicU16,
    user_name: Mutex<Option<String>>,
    /// What the request has changed in the legacy API so far, in SCIM terms ("created group
    /// 7", "added user 12 to group 7"): said in the error of a request that fails part way.
    applied: Mutex<Vec<String>>,
}

impl std::fmt::Debug for RequestRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestRecord")
            .field("tenant", &self.tenant)
            .field("route", &self.route)
            .field("tapped", &self.tap.is_some())
            .finish_non_exhaustive()
    }
}

impl RequestRecord {
    /// The record of a request whose legacy calls `tap` watches.
    pub(crate) fn tapped(tap: Arc<dyn Tap>) -> RequestRecord {
        RequestRecord {
            tap: Some(tap),
            ..RequestRecord::default()
        }
    }

    /// What watches the request's legacy calls, if anything does.
    pub(crate) fn tap(&self) -> Option<&dyn Tap> {
        self.tap.as_deref()
    }
    /// The tenant the request acts for (set once authenticated).
    pub fn set_tenant(&self, name: &str) {
        let _ = self.tenant.set(name.to_string());
    }

    /// The tenant's name, or [`metrics::NO_TENANT`] before authentication.
    pub fn tenant(&self) -> &str {
        self.tenant
            .get()
            .map(String::as_str)
            .unwrap_or(metrics::NO_TENANT)
    }

    /// The request's route (set once routed).
    pub fn set_route(&self, route: &Route) {
        let _ = self.route.set(route.clone());
    }

    /// Whether the request is authenticated (its tenant known).
    pub(crate) fn has_tenant(&self) -> bool {
        self.tenant.get().is_some()
    }

    /// The request's route, once routed.
    pub(crate) fn route(&self) -> Option<&Route> {
        self.route.get()
    }

    /// The legacy API's status for the latest call of this request.
    pub fn set_legacy_status(&self, status: u16) {
        self.legacy_status.store(status, Ordering::Relaxed);
        if status >= 400 {
            self.legacy_error.store(status, Ordering::Relaxed);
        }
    }

    /// The status of the legacy API's last answer.
    pub fn legacy_status(&self) -> Option<u16> {
        match self.legacy_status.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }

    /// The legacy status that explains a request's outcome: for a failed request the last
    /// refusal of the legacy API (a conflict, even if calls followed), else its last answer.
    pub(crate) fn legacy_status_for(&self, failed: bool) -> Option<u16> {
        match self.legacy_error.load(Ordering::Relaxed) {
            s if failed && s != 0 => Some(s),
            _ => self.legacy_status(),
        }
    }

    /// Notes a change the legacy API accepted: one step of a request that makes several.
    pub fn applied(&self, step: impl Into<String>) {
        self.applied
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(step.into());
    }

    /// The changes noted so far, in order.
    pub fn applied_steps(&self) -> Vec<String> {
        self.applied
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Forgets the changes noted so far: the request undid them.
    pub fn undone(&self) {
        self.applied
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    /// The userName of the user the request changes, as read from the legacy API.
    pub fn set_user_name(&self, name: &str) {
        *self
            .user_name
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(name.to_string());
    }

    pub(crate) fn user_name(&self) -> Option<String> {
        self.user_name
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// How many steps (or ids) an error lists before "and N more".
pub const STEPS_SHOWN: usize = 10;

/// `items` joined with ", ", at most [`STEPS_SHOWN`] of them, then "and N more".
pub fn listed<S: AsRef<str>>(items: &[S]) -> String {
    let mut shown: Vec<&str> = items.iter().take(STEPS_SHOWN).map(AsRef::as_ref).collect();
    let more = items.len().saturating_sub(STEPS_SHOWN);
    let more_text;
    if more > 0 {
        more_text = format!("and {more} more");
        shown.push(&more_text);
    }
    shown.join(", ")
}

/// The error of a request that failed after some of its changes were made (`applied`, from
/// the [`RequestRecord`]): its detail also says what is already done in the legacy API, so
/// that the IdP's provisioning log shows what was and was not applied. Unchanged when nothing
/// was.
pub fn with_applied(mut e: ScimError, applied: &[String]) -> ScimError {
    if !applied.is_empty() {
        let detail = e.detail.trim_end().trim_end_matches('.');
        e.detail = format!("{detail}. Already applied: {}.", listed(applied));
    }
    e
}

/// The error `e` of a step that failed, its detail now also saying what the request did not
/// do because of it (`what`: the failed step first).
pub fn not_applied(e: ScimError, what: &str) -> ScimError {
    let detail = e.detail.trim_end().trim_end_matches('.');
    ScimError {
        detail: format!("{detail}. Not applied: {what}."),
        ..e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lists_are_cut_with_a_count_of_the_rest() {
        assert_eq!(listed::<&str>(&[]), "");
        assert_eq!(listed(&["1", "2"]), "1, 2");
        let many: Vec<String> = (1..=13).map(|i| i.to_string()).collect();
        assert_eq!(listed(&many), "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, and 3 more");
    }

    #[test]
    fn a_failure_says_what_was_applied_and_what_was_not() {
        let e = ScimError::bad_gateway("legacy API: down.");
        let e = not_applied(e, "adding users 2, 3 to group 1");
        let e = with_applied(e, &["added user 1 to group 1".to_string()]);
        assert_eq!(e.status, 502);
        assert_eq!(
            e.detail,
            "legacy API: down. Not applied: adding users 2, 3 to group 1. \
             Already applied: added user 1 to group 1."
        );
        let untouched = with_applied(ScimError::not_found("no user"), &[]);
        assert_eq!(untouched.detail, "no user", "nothing applied: nothing said");
    }

    #[test]
    fn the_record_forgets_changes_that_were_undone() {
        let r = RequestRecord::default();
        r.applied("created group 7");
        r.applied("added user 1 to group 7");
        assert_eq!(r.applied_steps().len(), 2);
        r.undone();
        assert!(r.applied_steps().is_empty());
    }
}
