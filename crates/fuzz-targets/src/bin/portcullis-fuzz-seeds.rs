//! `portcullis-fuzz-seeds DIR`: writes each target's seed inputs to `DIR/<target>/seed-<n>`,
//! the corpus directories cargo-fuzz reads (`make fuzz` runs it first).

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(root) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: portcullis-fuzz-seeds DIR");
        return ExitCode::from(2);
    };
    for target in portcullis_fuzz_targets::TARGETS {
        let dir = root.join(target);
        let written = std::fs::create_dir_all(&dir).and_then(|()| {
            portcullis_fuzz_targets::seeds(target)
                .iter()
                .enumerate()
                .try_for_each(|(n, seed)| std::fs::write(dir.join(format!("seed-{n}")), seed))
        });
        if let Err(e) = written {
            eprintln!("portcullis-fuzz-seeds: {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
