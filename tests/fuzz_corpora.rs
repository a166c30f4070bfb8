//! Replays the committed fuzz corpora (`fuzz/corpus/<target>/`, minimized by `cargo fuzz cmin`)
//! and the inputs that once failed (`fuzz/regressions/<target>/`, kept by hand so that no
//! minimization drops them) through the fuzz targets' own entry functions (`fuzz/src/lib.rs`,
//! included here) on the stable toolchain: every input a campaign kept, and every input that
//! ever crashed, stays part of `cargo test`. The campaigns
//! themselves need nightly and libFuzzer: see docs/reliability.md ("Fuzzing").

#[path = "../fuzz/src/lib.rs"]
#[allow(dead_code)]
mod entries;

use std::path::{Path, PathBuf};

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target)
}

fn regressions_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target)
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    out.sort();
    out
}

/// Runs `target` over its corpus; a panic names the file, which reproduces it with
/// `cargo fuzz run <target> <file>` (or this test).
fn replay(target: &str) {
    let (_, entry) = entries::TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .expect("a target of fuzz/src/lib.rs");
    let dir = corpus_dir(target);
    let corpus = files(&dir);
    // A corpus that went missing would make this test pass on nothing.
    assert!(
        corpus.len() >= 20,
        "{}: {} files; the committed corpus is larger",
        dir.display(),
        corpus.len()
    );
    let regressions = regressions_dir(target);
    let kept = if regressions.is_dir() {
        files(&regressions)
    } else {
        vec![]
    };
    for f in corpus.iter().chain(&kept) {
        let data = std::fs::read(f).unwrap();
        let run = std::panic::catch_unwind(|| entry(&data));
        assert!(run.is_ok(), "{target}: {} fails (see above)", f.display());
    }
}

#[test]
fn every_target_has_a_corpus_and_a_replay_test() {
    let mut dirs: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    dirs.sort();
    let mut names: Vec<String> = entries::TARGETS
        .iter()
        .map(|(n, _)| n.to_string())
        .collect();
    names.sort();
    assert_eq!(dirs, names);
    let this = include_str!("fuzz_corpora.rs");
    for n in &names {
        assert!(
            this.contains(&format!("fn {n}() {{\n    replay(\"{n}\")")),
            "no replay test for {n}"
        );
        let target = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fuzz/fuzz_targets/{n}.rs")),
        )
        .unwrap();
        assert!(
            target.contains(&format!("edge_interceptors_fuzz::{n}(data)")),
            "fuzz/fuzz_targets/{n}.rs"
        );
    }
}

#[test]
fn locate() {
    replay("locate")
}
#[test]
fn basic() {
    replay("basic")
}
#[test]
fn jwt() {
    replay("jwt")
}
#[test]
fn sfv() {
    replay("sfv")
}
#[test]
fn httpsig() {
    replay("httpsig")
}
#[test]
fn digest() {
    replay("digest")
}
#[test]
fn gentoken() {
    replay("gentoken")
}
#[test]
fn traceparent() {
    replay("traceparent")
}
#[test]
fn records() {
    replay("records")
}
#[test]
fn rsa() {
    replay("rsa")
}

/// While the jwt target leaves out the inputs of the known `nbf` bug (issue 12, item 1), the bug
/// must still be there: once its fix lands this fails, and `SKIP_KNOWN_NBF_BUG` in
/// fuzz/src/lib.rs goes to `false`, so the skip cannot outlive the bug. With the skip off, the
/// `jwt` replay above runs the same input through the claim checks.
#[test]
fn the_known_nbf_skip_is_still_needed() {
    let data = std::fs::read(regressions_dir("jwt").join("known-nbf-min")).unwrap();
    let run = std::panic::catch_unwind(|| entries::jwt_with(&data, false));
    if entries::SKIP_KNOWN_NBF_BUG {
        assert!(
            run.is_err(),
            "the nbf bug is fixed: set SKIP_KNOWN_NBF_BUG to false in fuzz/src/lib.rs"
        );
    } else {
        assert!(run.is_ok());
    }
}
