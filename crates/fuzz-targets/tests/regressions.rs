//! Every seed and every input that once crashed a fuzz target (`regressions/<target>/`),
//! replayed as an ordinary test: a fixed crash stays fixed without libFuzzer.

use std::path::Path;

use portcullis_fuzz_targets::{TARGETS, run, seeds};

#[test]
fn seeds_and_crash_regressions_pass_their_targets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions");
    for target in TARGETS {
        let mut inputs = seeds(target);
        assert!(!inputs.is_empty(), "{target} has no seeds");
        if let Ok(entries) = std::fs::read_dir(root.join(target)) {
            for entry in entries {
                inputs.push(std::fs::read(entry.unwrap().path()).unwrap());
            }
        }
        for input in inputs {
            assert!(run(target, &input), "{target}");
        }
    }
    assert!(!run("no_such_target", b""));
}
