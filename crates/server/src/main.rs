//! The `portcullis` binary: `serve`, `migrate`, `admin create`, `admin set-status`,
//! `keys rotate` (see [`portcullis_server::cli`]).

use std::process::ExitCode;

use clap::Parser;
use portcullis_server::cli::{self, Cli};

#[actix_web::main]
async fn main() -> ExitCode {
    cli::run(Cli::parse()).await
}
