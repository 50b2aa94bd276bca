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
        assert!(text.contains(from), "{from:?} is not in {}", legacy.mapping_file());
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
    let driver = Driver::new(Config::default(), mapping, "default").expect("the gateway builds");
    runtime.block_on(probe(&driver, &options))
}

#[test]
fn acme_hr_with_its_shipped_mapping_passes_every_step_and_is_left_as_it_was() {
    let env = Env::start(Legacy::AcmeHr);
    let report = run_probe(mapping_for(&env, &mapping_text(Legacy::AcmeHr, &[])), ProbeOptions::default());
    let text = report.text();
    assert!(report.passed(), "{text}");
    println!("{text}");
}
