//! `portcullis keys rotate`: a new access-token key, the old one kept for verification
//! until every token it signed has expired (see `portcullis_crypto::rotate_key_file`).

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use clap::Subcommand;

use super::CliError;
use crate::Settings;

/// `portcullis keys ...`
#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Replace the token key (`tokens.key_file`) with a fresh one, keeping the old key in
    /// `<key_file>.retired` so tokens it signed stay valid until they expire. Prints the new
    /// key id. Restart every instance afterwards (rolling) so they sign with the new key.
    Rotate {
        /// A TOML file layered over config/default.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

impl KeysCommand {
    /// The `--config` file.
    pub fn config(&self) -> Option<&Path> {
        match self {
            Self::Rotate { config } => config.as_deref(),
        }
    }
}

/// Runs a `keys` command.
pub(super) fn run(command: &KeysCommand, settings: &Settings) -> Result<(), CliError> {
    match command {
        KeysCommand::Rotate { .. } => rotate(settings),
    }
}

fn rotate(settings: &Settings) -> Result<(), CliError> {
    let tokens = &settings.tokens;
    // What the key signs that outlives the moment of signing: access tokens, and the token
    // pair sealed for the refresh grace window.
    let longest = Duration::from_secs(tokens.access_ttl_secs.max(tokens.refresh_grace_secs));
    let rotation = portcullis_crypto::rotate_key_file(&tokens.key_file, longest, SystemTime::now())
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let keyring = portcullis_crypto::retired_keys_path(&tokens.key_file);
    match &rotation.retired_key_id {
        Some(old) => eprintln!(
            "portcullis: key {old} retired to {}; {} retired key(s) kept, {} dropped. Restart every instance \
             to sign with the new key.",
            keyring.display(),
            rotation.retired_keys_kept,
            rotation.retired_keys_dropped,
        ),
        None => eprintln!("portcullis: there was no key in {}; a first one was written", tokens.key_file.display()),
    }
    println!("{}", rotation.new_key_id);
    Ok(())
}
