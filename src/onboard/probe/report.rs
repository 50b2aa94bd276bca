//! The probe's report as printed: each step with its SCIM request, its legacy calls (method,
//! path, status and the start of the answer, secrets hidden), what the gateway made of it,
//! and its findings with their fixes; then the clean-up and a one-line result.

use std::fmt::Write;

use super::diagnose::excerpt;
use super::{ProbeReport, Verdict};

/// How much of a legacy answer or body a line shows.
const SHOWN: usize = 240;

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "[pass]",
        Verdict::Skipped => "[skip]",
        Verdict::Warn => "[WARN]",
        Verdict::Fail => "[FAIL]",
    }
}

pub(super) fn text(r: &ProbeReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "scim-gateway probe: mapping {:?}, tenant {:?}, test user {}\n",
        r.mapping, r.tenant, r.test_user
    );
    for step in &r.steps {
        if step.verdict == Verdict::Skipped {
            let _ = writeln!(out, "{} {}: {}", mark(step.verdict), step.id, step.gateway);
            continue;
        }
        let _ = writeln!(out, "{} {}: {}", mark(step.verdict), step.id, step.request);
        for c in &step.calls {
            let status = match (c.status, &c.failure) {
                (Some(s), _) => s.to_string(),
                (None, Some(f)) => format!("no answer ({f})"),
                (None, None) => "no answer".into(),
            };
            let _ = writeln!(out, "    legacy: {} → {status}", c.line());
            if let Some(body) = &c.body {
                let _ = writeln!(out, "            sent {}", excerpt(body, SHOWN));
            }
            if c.status.is_some() && !c.answer.is_null() {
                let _ = writeln!(out, "            answered {}", excerpt(&c.answer, SHOWN));
            }
            if let Some(l) = &c.location {
                let _ = writeln!(out, "            Location: {l}");
            }
        }
        let _ = writeln!(out, "    gateway: {}", step.gateway);
        for f in &step.findings {
            let _ = writeln!(out, "    {} ({}): {}", mark(f.severity), f.code, f.message);
            if let Some(fix) = &f.fix {
                let _ = writeln!(out, "      fix: {fix}");
            }
        }
    }
    if !r.cleanup.is_empty() {
        let _ = writeln!(out, "\ncleanup:");
        for c in &r.cleanup {
            let _ = writeln!(out, "    {}: {}", c.what, c.detail);
        }
    }
    if let Some(why) = &r.stopped {
        let _ = writeln!(out, "\nstopped early: {why}");
    }
    let count = |v: Verdict| r.steps.iter().filter(|s| s.verdict == v).count();
    let _ = writeln!(
        out,
        "\nresult: {} passed, {} warned, {} failed, {} skipped{}",
        count(Verdict::Pass),
        count(Verdict::Warn),
        count(Verdict::Fail),
        count(Verdict::Skipped),
        if r.cleanup.iter().all(|c| c.done) {
            ""
        } else {
            "; the clean-up is incomplete (see above)"
        }
    );
    out
}
