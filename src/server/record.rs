//! What the steps of one request learn as it goes ([`RequestRecord`]: its tenant, its route,
//! the legacy API's statuses, the user's userName, the changes already applied), and how an
//! error says what was and was not applied. The record travels with the request in `Ctx`;
//! `observe::finish` reads it once the request is answered. It also holds the record cache's
//! work the request leaves for after its answer is written ([`RequestRecord::after_answer`]).
//! Not the logging itself (that is `observe`).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::cache::records::{RecordCache, RecordWork};
use crate::metrics::{self, Metrics};
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
    /// The id of the resource the request created (a POST's), for its provisioning line.
    created_id: OnceLock<String>,
    /// What the request has changed in the legacy API so far, in SCIM terms ("created group
    /// 7", "added user 12 to group 7"): said in the error of a request that fails part way.
    applied: Mutex<Vec<String>>,
    /// What the request may still spend on the legacy API; none until the request is routed.
    budget: OnceLock<Budget>,
    /// The record cache's work the request left for after its answer, in the order it was left.
    after_answer: Mutex<Vec<RecordWork>>,
}

/// What one SCIM request may spend on the legacy API (`[scim] request_max_legacy_calls`,
/// `[scim] request_timeout_seconds`): a number of calls and a deadline.
#[derive(Debug)]
struct Budget {
    max_calls: u64,
    calls: AtomicU64,
    timeout: Duration,
    deadline: Instant,
    /// Set once the budget is spent: the request's remaining steps stop, and a step that would
    /// otherwise keep an earlier error knows to pass this one on.
    spent: AtomicBool,
    /// Set while the request undoes a create of its own (`legacy::undo_create`): its calls
    /// are made whatever the time, up to [`UNDO_CALLS`] past the bound, so that a request
    /// ended by its budget does not leave half a create behind.
    undoing: AtomicBool,
}

/// The legacy calls a request may make past its budget to undo a create of its own.
pub const UNDO_CALLS: u64 = 8;

impl Budget {
    /// Marks the budget spent, counting the request of `tenant` once under `bound`.
    fn spend(&self, metrics: &Metrics, tenant: &str, bound: Bound) {
        if !self.spent.swap(true, Ordering::Relaxed) {
            metrics.record_request_bounded(tenant, bound.label());
        }
    }
}

/// Which bound of a request's budget was reached, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// `[scim] max_member_changes`.
    MemberChanges,
    /// `[scim] request_max_legacy_calls`.
    LegacyCalls,
    /// `[scim] request_timeout_seconds`.
    Time,
}

impl Bound {
    /// The `bound` label of `scim_requests_bounded_total`.
    pub fn label(self) -> &'static str {
        match self {
            Bound::MemberChanges => "member_changes",
            Bound::LegacyCalls => "legacy_calls",
            Bound::Time => "time",
        }
    }
}

/// How long an identity provider is asked to wait before sending again a request that spent
/// its budget (a legacy API that was slow may have recovered; what was applied is not redone
/// at a cost where the legacy API says "already a member").
pub const BUDGET_RETRY_AFTER_SECONDS: u64 = 30;

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
        self.tenant.get_or_init(|| name.to_string());
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

    /// Leaves `work` for after the request's answer is written: the record cache's inserts and
    /// removals, which the answer does not wait on (the listener runs them before it reads the
    /// connection's next request: `scim_gateway_hosting::AfterAnswer`). They are done in the
    /// order they were left.
    pub(crate) fn after_answer(&self, work: RecordWork) {
        self.after_answer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(work);
    }

    /// Whether the request has left work for after its answer.
    pub(crate) fn has_after_answer(&self) -> bool {
        !self
            .after_answer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .is_empty()
    }

    /// The work left for after the answer, done on `records` in order; `None` when there is
    /// none.
    pub(crate) fn take_after_answer(
        &self,
        records: &Arc<RecordCache>,
    ) -> Option<impl Future<Output = ()> + Send + 'static> {
        let works = std::mem::take(
            &mut *self
                .after_answer
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        if works.is_empty() {
            return None;
        }
        let records = records.clone();
        Some(async move {
            for work in works {
                records.apply(work).await;
            }
        })
    }

    /// Forgets the changes noted so far: the request undid them.
    pub fn undone(&self) {
        self.applied
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }

    /// Starts the request's budget: at most `max_calls` legacy calls, and no legacy call
    /// after `timeout` from now. Only the first call counts (a request is routed once).
    pub fn start_budget(&self, max_calls: u64, timeout: Duration) {
        let _ = self.budget.set(Budget {
            max_calls,
            calls: AtomicU64::new(0),
            timeout,
            deadline: Instant::now() + timeout,
            spent: AtomicBool::new(false),
            undoing: AtomicBool::new(false),
        });
    }

    /// Spends one legacy call of the request's budget: the 503 that ends the request when
    /// its calls or its time are spent (see [`RequestRecord::check_time`]).
    pub fn spend_call(&self, metrics: &Metrics) -> Result<(), ScimError> {
        let Some(b) = self.budget.get() else {
            return Ok(());
        };
        if b.undoing.load(Ordering::Relaxed) {
            let made = b.calls.fetch_add(1, Ordering::Relaxed);
            if made < b.max_calls.saturating_add(UNDO_CALLS) {
                return Ok(());
            }
        }
        self.check_time(metrics)?;
        let made = b.calls.fetch_add(1, Ordering::Relaxed);
        if made >= b.max_calls {
            b.spend(metrics, self.tenant(), Bound::LegacyCalls);
            return Err(budget_error(format!(
                "this request needs more than the {} legacy calls one request may make \
                     ([scim] request_max_legacy_calls); send fewer changes per request, or try \
                     again later",
                b.max_calls
            )));
        }
        Ok(())
    }

    /// The 503 that ends the request when its time is spent; nothing is counted. Checked
    /// before each legacy call and between member changes.
    pub fn check_time(&self, metrics: &Metrics) -> Result<(), ScimError> {
        let Some(b) = self.budget.get() else {
            return Ok(());
        };
        if Instant::now() >= b.deadline {
            b.spend(metrics, self.tenant(), Bound::Time);
            return Err(budget_error(format!(
                "this request took longer than the {} seconds one request may spend on the \
                     legacy API ([scim] request_timeout_seconds); send fewer changes per request, \
                     or try again later",
                b.timeout.as_secs()
            )));
        }
        Ok(())
    }

    /// Refuses a request that would change `changes` group members, past `max` (`[scim]
    /// max_member_changes`): 400 `tooMany`, counted once. Checked before anything is applied.
    pub fn check_member_changes(
        &self,
        metrics: &Metrics,
        changes: usize,
        max: usize,
    ) -> Result<(), ScimError> {
        if changes <= max {
            return Ok(());
        }
        metrics.record_request_bounded(self.tenant(), Bound::MemberChanges.label());
        Err(ScimError::too_many(format!(
            "this request would change {changes} group members, more than the {max} one request \
             may change ([scim] max_member_changes); send the changes in several requests"
        )))
    }

    /// Lets the request undo a create of its own past its budget (see [`UNDO_CALLS`]).
    pub fn undoing(&self) {
        if let Some(b) = self.budget.get() {
            b.undoing.store(true, Ordering::Relaxed);
        }
    }

    /// Whether the request's budget is spent: an error it met since is not the request's
    /// outcome, the budget's 503 is.
    pub fn budget_spent(&self) -> bool {
        self.budget
            .get()
            .is_some_and(|b| b.spent.load(Ordering::Relaxed))
    }

    /// The userName of the user the request changes, as read from the legacy API.
    pub fn set_user_name(&self, name: &str) {
        *self
            .user_name
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(name.to_string());
    }

    /// The resource the request created is `id`.
    pub(crate) fn set_created_id(&self, id: &str) {
        let _ = self.created_id.set(id.to_owned());
    }

    /// The id of the resource the request created, if it created one.
    pub(crate) fn created_id(&self) -> Option<&str> {
        self.created_id.get().map(String::as_str)
    }

    pub(crate) fn user_name(&self) -> Option<String> {
        self.user_name
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// The 503 of a request whose budget is spent, with `Retry-After`.
fn budget_error(detail: String) -> ScimError {
    ScimError::new(503, None, detail).with_retry_after(BUDGET_RETRY_AFTER_SECONDS)
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

    #[tokio::test]
    async fn cache_work_left_for_after_the_answer_is_done_once_in_the_order_it_was_left() {
        let records = Arc::new(RecordCache::new(Duration::from_secs(60), 100));
        let record = RequestRecord::default();
        assert!(!record.has_after_answer());
        assert!(record.take_after_answer(&records).is_none());
        let put = |id: &str, text: &'static str| RecordWork::Put {
            tenant: "acme".into(),
            id: id.into(),
            record: bytes::Bytes::from_static(text.as_bytes()),
        };
        record.after_answer(put("7", "seven"));
        record.after_answer(RecordWork::Forget {
            tenant: "acme".into(),
            id: "7".into(),
        });
        record.after_answer(put("8", "eight"));
        assert!(record.has_after_answer());
        let work = record.take_after_answer(&records).expect("work was left");
        assert!(!record.has_after_answer(), "taken once");
        assert_eq!(
            records.get("acme", "8").await,
            None,
            "nothing done before it runs"
        );
        work.await;
        assert_eq!(records.get("acme", "7").await, None, "put, then forgotten");
        assert_eq!(records.get("acme", "8").await.unwrap(), "eight");
    }

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

    fn bounded(m: &Metrics, bound: &str) -> usize {
        let text = m.render(crate::cache::CacheStats::default());
        let series =
            format!("scim_gateway_scim_requests_bounded_total{{bound=\"{bound}\",tenant=\"t\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn a_request_makes_at_most_its_budget_of_legacy_calls() {
        let m = Metrics::new();
        let r = RequestRecord::default();
        r.set_tenant("t");
        assert!(
            r.spend_call(&m).is_ok(),
            "no budget before routing: no bound"
        );
        r.start_budget(3, Duration::from_secs(60));
        for _ in 0..3 {
            assert!(r.spend_call(&m).is_ok());
        }
        assert!(!r.budget_spent());
        let e = r.spend_call(&m).unwrap_err();
        assert_eq!(e.status, 503);
        assert_eq!(e.retry_after, Some(BUDGET_RETRY_AFTER_SECONDS));
        assert!(e.detail.contains("3 legacy calls"), "{}", e.detail);
        assert!(
            e.detail.contains("request_max_legacy_calls"),
            "{}",
            e.detail
        );
        assert!(r.budget_spent());
        assert!(r.spend_call(&m).is_err(), "stays spent");
        assert_eq!(bounded(&m, "legacy_calls"), 1, "counted once per request");
        // An undo of the request's own create still goes through, a few calls at most.
        r.undoing();
        for _ in 0..UNDO_CALLS - 2 {
            assert!(r.spend_call(&m).is_ok());
        }
    }

    #[test]
    fn a_request_past_its_time_makes_no_more_legacy_calls() {
        let m = Metrics::new();
        let r = RequestRecord::default();
        r.set_tenant("t");
        r.start_budget(100, Duration::ZERO);
        let e = r.check_time(&m).unwrap_err();
        assert_eq!((e.status, e.retry_after.is_some()), (503, true));
        assert!(e.detail.contains("request_timeout_seconds"), "{}", e.detail);
        assert!(r.spend_call(&m).is_err());
        assert_eq!(bounded(&m, "time"), 1);
        assert_eq!(bounded(&m, "legacy_calls"), 0);
    }

    #[test]
    fn member_changes_past_the_bound_are_too_many() {
        let m = Metrics::new();
        let r = RequestRecord::default();
        r.set_tenant("t");
        assert!(r.check_member_changes(&m, 1000, 1000).is_ok());
        let e = r.check_member_changes(&m, 1001, 1000).unwrap_err();
        assert_eq!(e.status, 400);
        assert_eq!(e.scim_type, Some(crate::scim::ScimType::TooMany));
        assert!(e.detail.contains("1000") && e.detail.contains("max_member_changes"));
        assert_eq!(bounded(&m, "member_changes"), 1);
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
