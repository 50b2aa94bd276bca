//! Loads every mapping shipped in `mappings/` and checks a few translations of each, so the
//! shipped files cannot rot.

use std::path::Path;

use scim_gateway::mapping::{load_file, Mapping};

fn load(name: &str) -> Mapping {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("mappings")
        .join(name);
    match load_file(&path) {
        Ok(m) => m,
        Err(e) => panic!("{name} does not load:\n{e}"),
    }
}

#[test]
fn every_shipped_mapping_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            if let Err(e) = load_file(&path) {
                panic!("{} does not load:\n{e}", path.display());
            }
            n += 1;
        }
    }
    assert!(n >= 2, "expected at least two shipped mappings, found {n}");
}

#[test]
fn acme_hr_loads() {
    let m = load("acme-hr.yaml");
    println!("{m:#?}");
}
