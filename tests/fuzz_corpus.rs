//! The fuzz corpus as a regression suite: every input libFuzzer kept (`fuzz/corpus/`) and every
//! hand-written seed (`fuzz/seeds/`) goes through the same checks as the fuzz targets
//! (`fuzz/src/lib.rs`, included here), in the ordinary test build. A change that breaks a
//! property the fuzzers established fails here in seconds, without the instrumented build
//! that `fuzz/run` needs.

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod fuzz_checks;

use std::path::Path;

/// Runs `check` on every file of `fuzz/corpus/<target>` and `fuzz/seeds/<target>`; returns how
/// many inputs it ran. On a thread with a large stack: the inputs include the deepest nesting
/// the parsers accept, and an unoptimised build needs more stack for it than libFuzzer's.
fn replay(target: &'static str, check: fn(&[u8])) -> usize {
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || replay_here(target, check))
        .unwrap()
        .join()
        .unwrap()
}

fn replay_here(target: &str, check: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["corpus", "seeds"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "fuzz input {} fails the {target} checks",
                path.display()
            );
            n += 1;
        }
    }
    n
}

#[test]
fn the_filter_corpus_passes() {
    assert!(replay("filter", fuzz_checks::filter::check) > 100);
}

#[test]
fn the_path_corpus_passes() {
    assert!(replay("patch_path", fuzz_checks::patch_path::check) > 100);
}

#[test]
fn the_patch_corpus_passes() {
    assert!(replay("patch", fuzz_checks::patch::check) > 100);
}

#[test]
fn the_translation_corpus_passes() {
    assert!(replay("to_scim", fuzz_checks::to_scim::check) > 100);
}
