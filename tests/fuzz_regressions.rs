//! Every input a fuzzer once crashed on (`tests/fixtures/fuzz-regressions/<target>/`), fed to
//! the same reader again: each must now give an answer or a clear error (scripts/fuzz adds
//! them; README, "Fuzzing"). The entries are the fuzz targets' own (`fuzz/src/entries.rs`).

#[path = "../fuzz/src/entries.rs"]
mod entries;

use std::path::Path;

#[test]
fn inputs_that_once_crashed_a_fuzz_target_are_read_without_a_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz-regressions");
    let mut replayed = 0;
    for (target, entry) in entries::TARGETS {
        let Ok(dir) = std::fs::read_dir(root.join(target)) else { continue };
        for file in dir {
            let path = file.expect("a readable folder").path();
            let bytes = std::fs::read(&path).expect("a readable file");
            let outcome = std::panic::catch_unwind(|| entry(&bytes));
            assert!(outcome.is_ok(), "{target}: {} panics again", path.display());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no inputs under {}: the folder layout is <target>/<input>", root.display());
    println!("{replayed} fuzz regression inputs replayed");
}
