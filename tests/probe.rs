//! `scim-gateway probe` against the example legacy APIs over real sockets: with the shipped
//! mappings every step passes and the legacy API is left as it was; with mappings wrong in the
//! ways new mappings are (an envelope not declared, a filter that is case-sensitive, an error
//! code not mapped, a total that counts deleted users…) the finding and its fix are the ones a
//! mapping author needs; a legacy API failing mid-probe still gets everything cleaned up.

mod common;

use common::{Env, Legacy};
use scim_gateway::config::Config;
use scim_gateway::mapping::{self, Mapping};
use scim_gateway::onboard::driver::Driver;
use scim_gateway::onboard::probe::{probe, ProbeOptions, ProbeReport, Verdict};

/// The shipped mapping of `legacy` as text, changed by `edit` (each `(from, to)` must occur).
fn mapping_text(legacy: Legacy, edits: &[(&str, &str)]) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut text = std::fs::read_to_string(format!("{root}/{}", legacy.mapping_file())).unwrap();
    for (from, to) in edits {
        assert!(
            text.contains(from),
            "{from:?} is not in {}",
            legacy.mapping_file()
        );
        text = text.replacen(from, to, 1);
    }
    text
}

/// Loads `text` as the mapping of `env`'s legacy API (its address and credential).
fn mapping_for(env: &Env, text: &str) -> Mapping {
    let mut m = mapping::load_str("probe-test.yaml", text).expect("the mapping loads");
    let running = env.live.current();
    m.backend.base_url = running.mapping.backend.base_url.clone();
    m.backend.auth = running.mapping.backend.auth.clone();
    m
}

fn run_probe(mapping: Mapping, options: ProbeOptions) -> ProbeReport {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = Config::default();
    config.store.url = format!("sqlite:{}", common::temp_store_file().display());
    let driver = Driver::new(config, mapping, "default").expect("the gateway builds");
    runtime.block_on(probe(&driver, &options))
}

#[test]
fn acme_hr_with_its_shipped_mapping_passes_every_step_and_is_left_as_it_was() {
    let env = Env::start(Legacy::AcmeHr);
    let report = run_probe(
        mapping_for(&env, &mapping_text(Legacy::AcmeHr, &[])),
        ProbeOptions::default(),
    );
    let text = report.text();
    assert!(report.passed(), "{text}");
    println!("{text}");
}

#[test]
fn crewbase_keystone_orbit_and_tallybook_with_their_shipped_mappings_pass() {
    for legacy in [
        Legacy::Crewbase,
        Legacy::Keystone,
        Legacy::Orbit,
        Legacy::Tallybook,
    ] {
        let env = Env::start(legacy);
        let report = run_probe(
            mapping_for(&env, &mapping_text(legacy, &[])),
            ProbeOptions::default(),
        );
        let text = report.text();
        assert!(report.passed(), "{legacy:?}:\n{text}");
        assert!(report.cleanup.iter().all(|c| c.done), "{legacy:?}:\n{text}");
        // Crewbase keeps a deleted user, inactive, by its mapping's choice (no deleted marker):
        // said, as a warning. Nothing else is.
        let warned: Vec<&str> = report.findings().map(|(_, f)| f.code).collect();
        let expected: &[&str] = match legacy {
            Legacy::Crewbase => &["deleted-readable", "deleted-listed"],
            _ => &[],
        };
        assert_eq!(warned, expected, "{legacy:?}:\n{text}");
        // Keystone answers each user's api_key: never shown, in the text or the JSON.
        let json = serde_json::to_string(&report).unwrap();
        let keys = json.matches("\"api_key\":").count();
        let hidden = json.matches("\"api_key\":\"[hidden]\"").count()
            + json.matches("\"api_key\":null").count();
        assert_eq!(keys, hidden, "{legacy:?}: an api_key is shown");
        if legacy == Legacy::Keystone {
            assert!(hidden > 0, "Keystone's answers hold api_key");
        }
    }
}

/// The finding of code `code` at step `step`, failing the test with the report when missing.
fn finding<'r>(
    report: &'r ProbeReport,
    step: &str,
    code: &str,
) -> &'r scim_gateway::onboard::probe::Finding {
    report
        .findings()
        .find(|(s, f)| *s == step && f.code == code)
        .map(|(_, f)| f)
        .unwrap_or_else(|| panic!("no {code} at {step}:\n{}", report.text()))
}

#[test]
fn an_answer_envelope_the_mapping_does_not_declare_is_named_with_its_key() {
    let env = Env::start(Legacy::Orbit);
    let text = mapping_text(
        Legacy::Orbit,
        &[(
            "  envelope: { answer: data, body: user }",
            "  envelope: { body: user }",
        )],
    );
    let report = run_probe(mapping_for(&env, &text), ProbeOptions::default());
    assert!(!report.passed());
    let f = finding(&report, "users.create", "id-path");
    assert_eq!(f.severity, Verdict::Fail);
    assert!(f.message.contains("`$.data.id`"), "{}", report.text());
    assert!(
        f.fix
            .as_deref()
            .unwrap()
            .contains("envelope: { answer: data }"),
        "{}",
        report.text()
    );
    // Orbit created the user; this mapping cannot read it to delete it: the clean-up says so
    // and names it, rather than claiming it is gone.
    assert_eq!(env.orbit().user_count(), 1);
    let left = report
        .cleanup
        .iter()
        .find(|c| !c.done)
        .unwrap_or_else(|| panic!("{}", report.text()));
    assert!(
        left.what.contains(&report.test_user) && left.detail.contains("remove it"),
        "{}",
        report.text()
    );
    assert!(!report.passed());
}

#[test]
fn keystones_user_envelope_missing_from_the_answers_is_named_too() {
    let env = Env::start(Legacy::Keystone);
    let text = mapping_text(
        Legacy::Keystone,
        &[(
            "  envelope: { answer: user, body: user, item: user }",
            "  envelope: { body: user, item: user }",
        )],
    );
    let report = run_probe(mapping_for(&env, &text), ProbeOptions::default());
    let f = finding(&report, "users.create", "id-path");
    assert!(
        f.fix
            .as_deref()
            .unwrap()
            .contains("envelope: { answer: user }"),
        "{}",
        report.text()
    );
}

#[test]
fn a_403_for_an_unknown_id_without_its_rule_gets_the_rule_to_add() {
    let env = Env::start(Legacy::Orbit);
    let text = mapping_text(
        Legacy::Orbit,
        &[(
            "      errors:\n        - { status: 403, scim_status: 404 }\n",
            "",
        )],
    );
    let report = run_probe(mapping_for(&env, &text), ProbeOptions::default());
    let f = finding(&report, "users.read-unknown", "unknown-id-status");
    assert_eq!(f.severity, Verdict::Fail);
    assert!(f.message.contains("answered 403"), "{}", report.text());
    let fix = f.fix.as_deref().unwrap();
    assert!(
        fix.contains("errors: [{ status: 403, scim_status: 404 }]")
            && fix.contains("users.endpoints.get"),
        "{}",
        report.text()
    );
}

#[test]
fn a_filter_parameter_the_legacy_api_ignores_is_caught_by_the_test_connection() {
    let env = Env::start(Legacy::Orbit);
    // Orbit has no filter[username]: it ignores unknown filters and answers every user.
    let text = mapping_text(
        Legacy::Orbit,
        &[(
            "    - { scim: externalId, op: eq, param: \"filter[external_id]\" }\n",
            "    - { scim: externalId, op: eq, param: \"filter[external_id]\" }\n    - { scim: userName, op: eq, param: \"filter[username]\" }\n",
        )],
    );
    let report = run_probe(mapping_for(&env, &text), ProbeOptions::default());
    let f = finding(&report, "users.test-connection", "filter-ignored");
    // Orbit reports no total: the gateway counts, so the answer is right, only costly.
    assert_eq!(f.severity, Verdict::Warn);
    assert!(
        f.message.contains("selected 1 record(s)") && f.message.contains("reads all"),
        "{}",
        report.text()
    );
    assert!(
        f.message.contains("filter%5Busername%5D") || f.message.contains("filter[username]"),
        "{}",
        report.text()
    );
    assert!(
        f.fix.as_deref().unwrap().contains("match: loose"),
        "{}",
        report.text()
    );
}

#[test]
fn a_case_sensitive_legacy_filter_is_said_with_what_identity_providers_will_miss() {
    let env = Env::start(Legacy::Orbit);
    // Orbit's filter[email] compares case included, where SCIM compares e-mails ignoring case.
    let text = mapping_text(
        Legacy::Orbit,
        &[(
            "    - { scim: externalId, op: eq, param: \"filter[external_id]\" }\n",
            "    - { scim: externalId, op: eq, param: \"filter[external_id]\" }\n    - { scim: 'emails[type eq \"work\"].value', op: eq, param: \"filter[email]\" }\n",
        )],
    );
    let report = run_probe(mapping_for(&env, &text), ProbeOptions::default());
    let f = finding(&report, "users.filter-email", "filter-case-sensitive");
    assert_eq!(
        f.severity,
        Verdict::Warn,
        "e-mail look-ups are rarer than userName ones"
    );
    let fix = f.fix.as_deref().unwrap();
    assert!(
        fix.contains("remove the emails[type eq \"work\"].value entry"),
        "{}",
        report.text()
    );
    assert!(
        report.passed(),
        "a warning alone passes:\n{}",
        report.text()
    );
}

#[test]
fn an_attribute_written_where_the_legacy_api_does_not_keep_it_is_lost_and_said_so() {
    let env = Env::start(Legacy::Crewbase);
    let text = mapping_text(
        Legacy::Crewbase,
        &[(
            "- { scim: title, legacy: $.position }",
            "- { scim: title, legacy: $.job_title }",
        )],
    );
    let report = run_probe(mapping_for(&env, &text), ProbeOptions::default());
    let f = finding(&report, "users.read", "value-lost");
    assert!(f.message.starts_with("title was sent"), "{}", report.text());
    assert!(f.message.contains("$.job_title"), "{}", report.text());
}

#[test]
fn a_total_that_still_counts_deleted_users_is_caught_after_the_delete() {
    let env = Env::start(Legacy::Keystone);
    // Keystone keeps users deleted through SCIM in its list and its total; this mapping says it
    // does not (listed: false), so the gateway takes Keystone's total as it is.
    let text = mapping_text(
        Legacy::Keystone,
        &[(
            "deleted: { legacy: $.state, value: deleted }",
            "deleted: { legacy: $.state, value: deleted, listed: false }",
        )],
    );
    let report = run_probe(mapping_for(&env, &text), ProbeOptions::default());
    let f = finding(&report, "users.list-after-delete", "deleted-listed");
    assert_eq!(f.severity, Verdict::Fail);
    assert!(
        f.fix.as_deref().unwrap().contains("listed: true"),
        "{}",
        report.text()
    );
}

#[test]
fn a_legacy_api_failing_mid_probe_still_gets_everything_cleaned_up() {
    let env = Env::start(Legacy::AcmeHr);
    // The team delete fails every try of the probe's step (the gateway retries it), then
    // works again for the clean-up. (The first team delete is of the second team
    // `groups.create` makes to check that names differ.)
    env.acme()
        .requests()
        .fail("DELETE", scim_gateway_example_apis::acme_hr::TEAM, 1, 3);
    let report = run_probe(
        mapping_for(&env, &mapping_text(Legacy::AcmeHr, &[])),
        ProbeOptions::default(),
    );
    let text = report.text();
    assert!(!report.passed(), "{text}");
    assert_eq!(
        report.step("groups.delete").unwrap().verdict,
        Verdict::Fail,
        "{text}"
    );
    let group = report
        .cleanup
        .iter()
        .find(|c| c.what.starts_with("group "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(group.done && group.detail == "deleted", "{text}");
    let teams = env.get("/Groups?count=0");
    assert_eq!(teams.body["totalResults"], 0, "{text}");
    // The user went through the mapping's delete (Acme HR archives) in the normal flow.
    assert!(text.contains("[pass] users.delete"), "{text}");
}

#[test]
fn a_tenant_with_users_is_refused_unless_allowed_and_its_users_are_never_touched() {
    let env = Env::start(Legacy::AcmeHr);
    let seeded = env.seed_users(2);
    let before: Vec<_> = seeded
        .iter()
        .map(|id| env.acme().user(id.parse().unwrap()))
        .collect();
    let mapping = || mapping_for(&env, &mapping_text(Legacy::AcmeHr, &[]));
    let refused = run_probe(mapping(), ProbeOptions::default());
    assert!(!refused.passed());
    finding(&refused, "users.empty-tenant", "tenant-has-users");
    assert!(refused.stopped.is_some());
    assert_eq!(
        refused.steps.len(),
        1,
        "nothing else is tried:\n{}",
        refused.text()
    );
    assert_eq!(env.acme().user_count(), 2);
    let allowed = run_probe(
        mapping(),
        ProbeOptions {
            allow_existing_users: true,
        },
    );
    assert!(allowed.passed(), "{}", allowed.text());
    let after: Vec<_> = seeded
        .iter()
        .map(|id| env.acme().user(id.parse().unwrap()))
        .collect();
    assert_eq!(before, after, "the tenant's own users are untouched");
}

#[test]
fn an_unreachable_legacy_api_stops_the_probe_at_once_saying_where_to_look() {
    let env = Env::start(Legacy::AcmeHr);
    let mut m = mapping_for(&env, &mapping_text(Legacy::AcmeHr, &[]));
    let closed = scim_gateway_hosting::free_loopback_addr().unwrap();
    m.backend.base_url = format!("http://{closed}");
    let report = run_probe(m, ProbeOptions::default());
    let f = finding(&report, "users.empty-tenant", "legacy-unreachable");
    assert!(
        f.fix.as_deref().unwrap().contains("backend.base_url"),
        "{}",
        report.text()
    );
    assert!(
        report.stopped.is_some() && report.steps.len() == 1,
        "{}",
        report.text()
    );
}

#[test]
fn the_command_prints_the_steps_and_fixes_and_its_exit_status_says_whether_all_passed() {
    use std::process::Command;
    let env = Env::start(Legacy::Orbit);
    let dir = std::env::temp_dir().join(format!("scim-gw-probe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = mapping_text(Legacy::Orbit, &[]).replace("http://127.0.0.1:8084", &env.backend_url);
    assert!(
        good.contains(&env.backend_url),
        "the shipped mapping's base_url moved"
    );
    let broken = good.replace(
        "      errors:\n        - { status: 403, scim_status: 404 }\n",
        "",
    );
    let (good_file, broken_file) = (dir.join("orbit.yaml"), dir.join("broken.yaml"));
    std::fs::write(&good_file, good).unwrap();
    std::fs::write(&broken_file, broken).unwrap();
    let run = |file: &std::path::Path, json: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_scim-gateway"));
        c.arg("probe")
            .arg(file)
            .env("ORBIT_CLIENT_SECRET", &env.backend_secret);
        if json {
            c.arg("--json");
        }
        c.output().unwrap()
    };
    let ok = run(&good_file, true);
    assert!(
        ok.status.success(),
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(report["passed"], true);
    assert!(report["steps"].as_array().unwrap().len() > 20);
    let bad = run(&broken_file, false);
    let out = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{out}");
    assert!(out.contains("[FAIL] users.read-unknown"), "{out}");
    assert!(
        out.contains("fix: add `errors: [{ status: 403, scim_status: 404 }]`"),
        "{out}"
    );
    assert!(
        !out.contains(&env.backend_secret),
        "the credential is never printed"
    );
}

#[test]
fn an_id_format_the_legacy_ids_do_not_have_is_named_at_the_create() {
    let env = Env::start(Legacy::AcmeHr);
    let text = mapping_text(
        Legacy::AcmeHr,
        &[("  id_format: integer\n", "  id_format: uuid\n")],
    );
    let report = run_probe(mapping_for(&env, &text), ProbeOptions::default());
    let f = finding(&report, "users.create", "id-format");
    assert!(f.message.contains("the id `1`"), "{}", report.text());
    assert!(
        f.fix.as_deref().unwrap().contains("users.id_format"),
        "{}",
        report.text()
    );
    // The user it made is still removed: the clean-up says what it could not reach.
    assert_eq!(report.cleanup.len(), 1, "{}", report.text());
}

#[test]
fn refused_credentials_stop_the_probe_naming_backend_auth() {
    let env = Env::start(Legacy::AcmeHr);
    let mut m = mapping_for(&env, &mapping_text(Legacy::AcmeHr, &[]));
    m.backend.auth = Some(scim_gateway::mapping::BackendAuth::Header {
        name: "X-Acme-Api-Key".into(),
        secret: scim_gateway::mapping::SecretSource::Value("not-the-key".into()),
    });
    let report = run_probe(m, ProbeOptions::default());
    let f = finding(&report, "users.empty-tenant", "credentials-refused");
    assert!(
        f.fix.as_deref().unwrap().contains("backend.auth"),
        "{}",
        report.text()
    );
    assert!(
        !report.text().contains("not-the-key"),
        "the credential is never printed"
    );
    assert_eq!(env.acme().user_count(), 0);
}

#[test]
fn a_constant_in_a_field_the_api_keeps_unique_is_caught_by_a_second_create() {
    let env = Env::start(Legacy::AcmeHr);
    // Every team gets the same name, which Acme HR keeps unique: the first create works, every
    // later one is refused.
    let text = mapping_text(
        Legacy::AcmeHr,
        &[(
            "    - { scim: displayName, legacy: $.name, required: true }\n",
            "    - { scim: displayName, legacy: $.name, direction: read }\n    - { legacy: $.name, constant: \"Everyone\" }\n",
        )],
    );
    let report = run_probe(mapping_for(&env, &text), ProbeOptions::default());
    let f = finding(&report, "groups.create", "second-create-refused");
    assert_eq!(f.severity, Verdict::Fail);
    assert!(
        f.fix.as_deref().unwrap().contains("`constant:`"),
        "{}",
        report.text()
    );
    assert!(report.cleanup.iter().all(|c| c.done), "{}", report.text());
}
