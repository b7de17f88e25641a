//! `portcullis breach-filter build`: the offline breached-password filter
//! (`passwords.breach_check = "filter"`) from a hash list the operator supplies.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::PathBuf;

use clap::Subcommand;

use super::CliError;

/// `portcullis breach-filter ...`
#[derive(Subcommand, Debug)]
pub enum BreachFilterCommand {
    /// Build a filter file from a list of SHA-1 hashes, one per line (`HEX` or Have I Been
    /// Pwned's `HEX:COUNT`); `-` reads standard input. Prints what went in.
    Build {
        /// The hash list (`-` for standard input).
        #[arg(long)]
        input: PathBuf,
        /// The filter file to write (replaced atomically).
        #[arg(long)]
        output: PathBuf,
        /// Keep only hashes seen at least this often (a bare `HEX` line counts once); set
        /// `passwords.breach_min_count` to the same number.
        #[arg(long, default_value_t = 1)]
        threshold: u64,
        /// When the list was published (`YYYY-MM-DD`), recorded in the file and logged at start.
        #[arg(long)]
        source_date: String,
    },
}

/// Runs a `breach-filter` command.
pub(super) fn run(command: BreachFilterCommand) -> Result<(), CliError> {
    match command {
        BreachFilterCommand::Build { input, output, threshold, source_date } => {
            build(&input, &output, threshold, &source_date)
        }
    }
}

fn build(input: &std::path::Path, output: &std::path::Path, threshold: u64, source_date: &str) -> Result<(), CliError> {
    if threshold == 0 {
        return Err(CliError::Usage("--threshold must be at least 1".to_owned()));
    }
    let reader: Box<dyn Read> = if input.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(File::open(input).map_err(|e| CliError::Failed(format!("{}: {e}", input.display())))?)
    };
    let (filter, stats) =
        portcullis_breach::build_filter(BufReader::with_capacity(1 << 20, reader), threshold, source_date)
            .map_err(|e| CliError::Refused(format!("{}: {e}", input.display())))?;
    let bytes = portcullis_breach::write_filter(output, &filter)
        .map_err(|e| CliError::Failed(format!("{}: {e}", output.display())))?;
    eprintln!(
        "portcullis: {} lines read, {} kept and {} below threshold {threshold}, {} distinct hashes, {bytes} bytes",
        stats.lines, stats.kept, stats.below_threshold, stats.distinct_keys
    );
    println!("{} sha256:{}", output.display(), filter.checksum_hex());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_filter_the_server_loads_and_refuses_a_bad_list() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("pwned.txt");
        let leaked = portcullis_breach::sha1_of(&portcullis_domain::model::Password::new("hunter2"));
        let hex: String = leaked.iter().map(|b| format!("{b:02X}")).collect();
        std::fs::write(&list, format!("{hex}:7\n{}:1\n", "0".repeat(40))).unwrap();
        let output = dir.path().join("breach.filter");

        build(&list, &output, 2, "2026-11-30").unwrap();
        let filter = portcullis_breach::BreachFilter::open(&output).unwrap();
        assert_eq!((filter.threshold(), filter.source_date(), filter.key_count()), (2, "2026-11-30", 1));
        assert!(filter.contains_sha1(&leaked));

        std::fs::write(&list, "not a hash\n").unwrap();
        assert!(matches!(build(&list, &output, 1, "2026-11-30"), Err(CliError::Refused(_))));
        assert!(matches!(build(&list, &output, 0, "2026-11-30"), Err(CliError::Usage(_))));
        let missing = dir.path().join("missing.txt");
        assert!(matches!(build(&missing, &output, 1, "2026-11-30"), Err(CliError::Failed(_))));
        // The good filter written first is still there: a failed build replaces nothing.
        assert!(portcullis_breach::BreachFilter::open(&output).is_ok());
    }
}
