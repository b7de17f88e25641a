//! The `portcullis` command line: `serve`, `migrate`, and the operator's commands
//! `admin create`, `admin set-status`, `keys rotate` and `breach-filter build`.
//!
//! Every command reads the same layered configuration as the server ([`Settings::load`]),
//! so it reaches the same database and key files. Exit codes: `0` success, `1` the request
//! was refused (for example an email already taken or a weak password) or could not be
//! carried out (database unreachable, unreadable key file), `2` usage or configuration
//! errors. Results go to standard output, messages and logs to standard error.

mod admin;
mod breach_filter;
mod error;
mod keys;
mod password_input;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use self::admin::{AdminCommand, StatusArg};
pub use self::breach_filter::BreachFilterCommand;
pub use self::error::CliError;
pub use self::keys::KeysCommand;
use crate::{Application, Settings, telemetry, wiring};

/// Portcullis: a small, fast, auditable authentication server.
#[derive(Parser, Debug)]
#[command(name = "portcullis", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTP API (migrations run first).
    Serve {
        /// A TOML file layered over config/default.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        /// A TOML file layered over config/default.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Manage accounts as the operator (no signed-in administrator needed).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage the access-token key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Build the offline breached-password filter (`passwords.breach_check = "filter"`).
    #[command(subcommand)]
    BreachFilter(BreachFilterCommand),
}

impl Command {
    fn config(&self) -> Option<&std::path::Path> {
        match self {
            Self::Serve { config } | Self::Migrate { config } => config.as_deref(),
            Self::Admin(command) => command.config(),
            Self::Keys(command) => command.config(),
            Self::BreachFilter(_) => None,
        }
    }
}

/// Runs `cli` and reports the outcome: errors are printed to standard error and become the
/// exit code (see the module documentation).
pub async fn run(cli: Cli) -> ExitCode {
    let settings = match Settings::load(cli.command.config()) {
        Ok(settings) => settings,
        Err(e) => return report(&CliError::Usage(e.to_string())),
    };
    // The server's failures also go to its log; the operator's commands just say why.
    let log_failure = matches!(cli.command, Command::Serve { .. } | Command::Migrate { .. });
    let outcome = match cli.command {
        Command::Serve { .. } => {
            telemetry::init(&settings.log);
            serve(&settings).await
        }
        Command::Migrate { .. } => {
            telemetry::init(&settings.log);
            migrate(&settings).await
        }
        Command::Admin(command) => {
            init_operator_logging();
            admin::run(command, &settings).await
        }
        Command::Keys(command) => {
            init_operator_logging();
            keys::run(&command, &settings)
        }
        Command::BreachFilter(command) => {
            init_operator_logging();
            breach_filter::run(command)
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if log_failure {
                tracing::error!(error = %e, "portcullis failed");
            }
            report(&e)
        }
    }
}

fn report(error: &CliError) -> ExitCode {
    eprintln!("portcullis: {error}");
    ExitCode::from(error.exit_code())
}

async fn serve(settings: &Settings) -> Result<(), CliError> {
    let app = Application::build(settings).await.map_err(|e| match e {
        crate::startup::StartError::Refused(refused) => CliError::Usage(refused.to_string()),
        other => CliError::Failed(other.to_string()),
    })?;
    app.run_until_stopped().await.map_err(|e| CliError::Failed(e.to_string()))
}

async fn migrate(settings: &Settings) -> Result<(), CliError> {
    let applied = portcullis_store_diesel::migrate(&wiring::db_config(settings).url)
        .await
        .map_err(|e| CliError::Failed(wiring::error_chain(&e)))?;
    tracing::info!(applied, "migrations done");
    Ok(())
}

/// The operator's commands print their result on standard output, so logs go to standard
/// error, and only warnings unless `RUST_LOG` asks for more.
fn init_operator_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every argument of every command, as `command path: --name`.
    fn arguments(command: &clap::Command, path: &str, out: &mut Vec<String>) {
        for arg in command.get_arguments() {
            out.push(format!("{path}: --{}", arg.get_long().unwrap_or(arg.get_id().as_str())));
        }
        for sub in command.get_subcommands() {
            arguments(sub, &format!("{path} {}", sub.get_name()), out);
        }
    }

    /// Secrets come from files or the environment: a secret on the command line is readable
    /// by every local user (`ps`, `/proc/<pid>/cmdline`) and kept in shell histories.
    #[test]
    fn no_command_takes_a_secret_as_an_argument() {
        let mut all = Vec::new();
        arguments(&Cli::command(), "portcullis", &mut all);
        assert!(all.iter().any(|a| a.ends_with("--email")), "the walk found the arguments: {all:?}");
        let secret = ["password", "secret", "token", "key", "code", "url", "dsn", "credential"];
        let offending: Vec<&String> = all
            .iter()
            .filter(|a| {
                let name = a.rsplit("--").next().unwrap_or_default().to_lowercase();
                secret.iter().any(|s| name.contains(s)) && !name.ends_with("file")
            })
            .collect();
        assert!(offending.is_empty(), "secret-bearing arguments: {offending:?}");
    }
}
