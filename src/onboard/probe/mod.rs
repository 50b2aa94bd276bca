//! `scim-gateway probe`: takes a throw-away user — and, when the mapping has groups, a
//! throw-away group with that user as a member — through what identity providers do, against
//! the real legacy API, and says for each step what the legacy API answered, what the gateway
//! made of it, and what in the mapping does not fit, with the fix. Everything it created is
//! cleaned up at the end, whatever happened; it never changes a record it did not create.
//!
//! The steps ([`steps`]) run SCIM requests through the in-process [`Driver`]; the findings
//! are made from the recorded legacy calls ([`diagnose`]); the report is printed by
//! [`report`].

mod diagnose;
mod report;
mod steps;

use http::Method;
use serde::Serialize;
use serde_json::Value;

use crate::onboard::driver::{Driver, Exchange, Outcome};
use diagnose::shown;

/// How the probe runs.
#[derive(Debug, Clone, Default)]
pub struct ProbeOptions {
    /// Run even when the tenant already has users (the probe still only changes and deletes
    /// what it created).
    pub allow_existing_users: bool,
}

/// How a step or a finding came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Skipped,
    Warn,
    Fail,
}

/// Something off that a step found, with the fix.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// A stable code (`answer-envelope`, `filter-case-sensitive`…), listed in
    /// docs/onboarding.md.
    pub code: &'static str,
    /// `warn` (works, but an identity provider will notice) or `fail`.
    pub severity: Verdict,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// One step: a SCIM request an identity provider makes, and what came of it.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The step's id (`users.create`, `groups.add-member`…).
    pub id: &'static str,
    /// The SCIM request, `METHOD /path` (empty for a skipped step).
    pub request: String,
    /// The SCIM status answered (absent for a skipped step).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What the gateway made of it, in a line.
    pub gateway: String,
    /// The legacy calls the request made, in order.
    pub calls: Vec<Exchange>,
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
}

/// What the clean-up did with one thing the probe created.
#[derive(Debug, Clone, Serialize)]
pub struct Cleanup {
    /// `user 42`, `group 7`.
    pub what: String,
    /// Whether it is gone (or, for a user the mapping only deactivates, deactivated).
    pub done: bool,
    pub detail: String,
}

/// What the probe found.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The mapping's `name`.
    pub mapping: String,
    pub tenant: String,
    /// The userName of the throw-away user.
    pub test_user: String,
    pub steps: Vec<Step>,
    pub cleanup: Vec<Cleanup>,
    /// Why the probe stopped before its last step, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// No step failed (warnings allowed: the mapping works, an identity provider may notice)
    /// and the clean-up is complete.
    pub passed: bool,
}

impl ProbeReport {
    /// Whether no step failed and everything created was cleaned up.
    pub fn passed(&self) -> bool {
        self.passed
    }

    /// The report as printed.
    pub fn text(&self) -> String {
        report::text(self)
    }

    /// The step with this id, if it ran or was skipped.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Every finding of every step, with its step's id.
    pub fn findings(&self) -> impl Iterator<Item = (&'static str, &Finding)> {
        self.steps
            .iter()
            .flat_map(|s| s.findings.iter().map(move |f| (s.id, f)))
    }
}

/// Runs the probe with the gateway of `driver`.
pub async fn probe(driver: &Driver, options: &ProbeOptions) -> ProbeReport {
    let mut probe = Probe::new(driver);
    let stopped = steps::run(&mut probe, options).await.err();
    probe.clean_up().await;
    let passed = stopped.is_none()
        && probe.steps.iter().all(|s| s.verdict != Verdict::Fail)
        && probe.cleanup.iter().all(|c| c.done);
    ProbeReport {
        mapping: driver.mapping().name.clone(),
        tenant: driver.tenant().name.clone(),
        test_user: probe.user.user_name.clone(),
        steps: probe.steps,
        cleanup: probe.cleanup,
        stopped,
        passed,
    }
}

/// The values of the throw-away user and group: unique per run, mixed case where a case rule
/// is worth checking.
#[derive(Debug, Clone)]
struct TestValues {
    user_name: String,
    email: String,
    external_id: String,
    group_name: String,
    group_external_id: String,
    /// A userName nobody has (Entra's test connection).
    nobody: String,
}

impl TestValues {
    fn new(domain: &str) -> TestValues {
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let short = &tag[..8];
        TestValues {
            user_name: format!("Probe.{}@{domain}", short.to_ascii_uppercase()),
            email: format!("probe.{short}.mail@{domain}"),
            external_id: format!("probe-{tag}"),
            group_name: format!("Probe Group {}", short.to_ascii_uppercase()),
            group_external_id: format!("probe-group-{tag}"),
            nobody: format!("probe.nobody.{short}@{domain}"),
        }
    }
}

/// One probe run: the driver, the steps so far, and what it created (for the clean-up).
struct Probe<'d> {
    driver: &'d Driver,
    user: TestValues,
    steps: Vec<Step>,
    /// Ids of the users this run created, with whether they are already deleted.
    users: Vec<(String, bool)>,
    /// Ids of the groups this run created, with whether they are already deleted.
    groups: Vec<(String, bool)>,
    cleanup: Vec<Cleanup>,
    /// What a create made in the legacy API that the mapping cannot find again (its answer
    /// could not be read): named in the clean-up, to be removed by hand.
    lost: Vec<String>,
}

impl<'d> Probe<'d> {
    fn new(driver: &'d Driver) -> Probe<'d> {
        let domain = driver
            .tenant()
            .allowed_domains
            .first()
            .cloned()
            .unwrap_or_else(|| "example.com".into());
        Probe {
            driver,
            user: TestValues::new(&domain),
            steps: Vec::new(),
            users: Vec::new(),
            groups: Vec::new(),
            cleanup: Vec::new(),
            lost: Vec::new(),
        }
    }

    /// Makes a SCIM request as step `id` and records the step (a pass until a finding says
    /// otherwise). Returns the step's index and the outcome.
    async fn step(
        &mut self,
        id: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> (usize, Outcome) {
        let outcome = self.driver.send(method.clone(), path, body).await;
        self.steps.push(Step {
            id,
            request: format!("{method} {path}"),
            status: Some(outcome.status),
            gateway: summary(&outcome),
            calls: shown(&outcome.calls),
            verdict: Verdict::Pass,
            findings: Vec::new(),
        });
        (self.steps.len() - 1, outcome)
    }

    /// Adds the calls of a further request of step `at` (a read-back) to the step.
    fn also(&mut self, at: usize, calls: &[Exchange]) {
        self.steps[at].calls.extend(shown(calls));
    }

    /// Records step `id` as skipped, saying why.
    fn skip(&mut self, id: &'static str, why: impl Into<String>) {
        self.steps.push(Step {
            id,
            request: String::new(),
            status: None,
            gateway: why.into(),
            calls: Vec::new(),
            verdict: Verdict::Skipped,
            findings: Vec::new(),
        });
    }

    /// Adds a finding to step `at`; its verdict becomes the worst of its findings.
    fn find(&mut self, at: usize, finding: Finding) {
        let step = &mut self.steps[at];
        step.verdict = step.verdict.max(finding.severity);
        step.findings.push(finding);
    }

    /// Deletes what the run created and has not deleted yet: groups first, then users.
    async fn clean_up(&mut self) {
        for what in std::mem::take(&mut self.lost) {
            self.cleanup.push(Cleanup {
                what: what.clone(),
                done: false,
                detail: format!("the legacy API accepted its create, but this mapping cannot find it again: look for the {what} in the legacy API and remove it"),
            });
        }
        let groups: Vec<String> = self
            .groups
            .iter()
            .filter(|(_, gone)| !gone)
            .map(|(id, _)| id.clone())
            .collect();
        for id in groups {
            let path = format!("/Groups/{}", segment(&id));
            let out = self.driver.send(Method::DELETE, &path, None).await;
            self.cleanup
                .push(cleanup_line(format!("group {id}"), &out, false));
        }
        let users: Vec<String> = self
            .users
            .iter()
            .filter(|(_, gone)| !gone)
            .map(|(id, _)| id.clone())
            .collect();
        let deactivates = matches!(
            self.driver.mapping().users.on_delete,
            crate::mapping::OnDelete::Deactivate
        );
        // Users deleted in the steps that the mapping only deactivates are still in the
        // legacy API: said, so that nothing is left there unsaid.
        if deactivates {
            for (id, _) in self.users.iter().filter(|(_, gone)| *gone) {
                self.cleanup.push(Cleanup {
                    what: format!("user {id}"),
                    done: true,
                    detail: DEACTIVATED.into(),
                });
            }
        }
        let mut gone_missing = Vec::new();
        for id in users {
            let path = format!("/Users/{}", segment(&id));
            let out = self.driver.send(Method::DELETE, &path, None).await;
            if out.status == 404 {
                gone_missing.push(self.cleanup.len());
            }
            self.cleanup
                .push(cleanup_line(format!("user {id}"), &out, deactivates));
        }
        // A user whose delete found nothing may still be there, out of this mapping's reach
        // (a create whose answer the mapping could not read): looked for by its userName.
        if !gone_missing.is_empty() {
            let filter = format!(
                "userName eq {}",
                serde_json::to_string(&self.user.user_name).unwrap_or_default()
            );
            let encoded =
                percent_encoding::utf8_percent_encode(&filter, percent_encoding::NON_ALPHANUMERIC);
            let found = self
                .driver
                .send(Method::GET, &format!("/Users?filter={encoded}"), None)
                .await;
            let left = found
                .body
                .get("totalResults")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if left > 0 {
                for at in gone_missing {
                    let line = &mut self.cleanup[at];
                    line.done = false;
                    line.detail = format!(
                        "its delete through this mapping found nothing, but a user named {} is still listed: remove it in the legacy API",
                        self.user.user_name
                    );
                }
            }
        }
    }
}

/// What the clean-up says of a user the mapping deletes by deactivating it.
const DEACTIVATED: &str = "deactivated (the mapping's on_delete: deactivate keeps the record in the legacy API; remove it there if you need it gone)";

fn cleanup_line(what: String, out: &Outcome, deactivates: bool) -> Cleanup {
    let done = out.status == 204 || out.status == 404;
    let detail = match (out.status, deactivates) {
        (204, true) => DEACTIVATED.to_string(),
        (204, false) => "deleted".to_string(),
        (404, _) => "already gone".to_string(),
        _ => format!(
            "could not be deleted: {} {}; remove it in the legacy API",
            out.status,
            out.detail().unwrap_or("")
        ),
    };
    Cleanup { what, done, detail }
}

/// `id` encoded as one URL path segment.
fn segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, crate::server::wire::SEGMENT).to_string()
}

/// What the gateway made of a request, in a line.
fn summary(out: &Outcome) -> String {
    if let Some(detail) = out.detail() {
        let kind = out.scim_type().map(|t| format!(" {t}")).unwrap_or_default();
        return format!("{}{kind}: {detail}", out.status);
    }
    if out.status == 204 {
        return "204, no content".into();
    }
    let body = &out.body;
    if let Some(total) = body.get("totalResults").and_then(Value::as_u64) {
        let shown = body
            .get("Resources")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        return format!("{}: totalResults {total}, {shown} on this page", out.status);
    }
    let id = body.get("id").and_then(Value::as_str).unwrap_or("?");
    let name = body
        .get("userName")
        .or_else(|| body.get("displayName"))
        .and_then(Value::as_str)
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    format!("{}: id {id}{name}", out.status)
}

fn finding(code: &'static str, severity: Verdict, message: String, fix: Option<String>) -> Finding {
    Finding {
        code,
        severity,
        message,
        fix,
    }
}
