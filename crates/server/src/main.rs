//! The `portcullis` binary: `serve`, `migrate`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portcullis_server::{Application, Settings, telemetry, wiring};

/// Portcullis: a small, fast, auditable authentication server.
#[derive(Parser)]
#[command(name = "portcullis", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let (Command::Serve { config } | Command::Migrate { config }) = &cli.command;
    let settings = match Settings::load(config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("portcullis: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let outcome = match cli.command {
        Command::Serve { .. } => match Application::build(&settings).await {
            Ok(app) => app.run_until_stopped().await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        Command::Migrate { .. } => portcullis_store_diesel::migrate(&wiring::db_config(&settings).url)
            .await
            .map(|n| tracing::info!(applied = n, "migrations done"))
            .map_err(|e| e.to_string()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "portcullis failed");
            eprintln!("portcullis: {e}");
            ExitCode::FAILURE
        }
    }
}
