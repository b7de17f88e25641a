//! `portcullis admin ...`: accounts managed by the operator, through the same use cases
//! (permission checks, audit entries) as the HTTP admin API, acting as
//! [`Actor::Operator`].

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use portcullis_domain::model::{AccountStatus, Email, NewPassword, RequestContext, Role, Roles, UserId, UserName};
use portcullis_domain::{Actor, AdminError, NewAccount};
use secrecy::ExposeSecret as _;

use super::CliError;
use super::password_input::read_new_password;
use crate::Settings;
use crate::wiring::{Service, build_service};

/// The user agent recorded in the audit entries of the operator's commands.
const CLI_USER_AGENT: &str = "portcullis-cli";

/// `portcullis admin ...`
#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create an active, verified administrator (roles admin and user). The password is
    /// prompted for without echo at a terminal, or read from the first line of standard
    /// input; it is never accepted as an argument. Prints the new account's id.
    Create {
        /// The administrator's email address.
        #[arg(long)]
        email: String,
        /// The administrator's display name.
        #[arg(long)]
        name: String,
        /// A TOML file layered over config/default.toml.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Activate, suspend or deactivate an account. Suspending or deactivating signs it out
    /// everywhere.
    SetStatus(SetStatusArgs),
    /// Remove every second factor and recovery code of an account whose owner lost them,
    /// and sign it out everywhere; its password alone signs in again. Audited and mailed.
    ResetMfa(AccountArgs),
}

/// An account, by email or id, and the configuration.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("account").required(true).args(["email", "id"])))]
pub struct AccountArgs {
    /// The account's email address.
    #[arg(long)]
    email: Option<String>,
    /// The account's id.
    #[arg(long)]
    id: Option<String>,
    /// A TOML file layered over config/default.toml.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// Arguments of `admin set-status`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("account").required(true).args(["email", "id"])))]
pub struct SetStatusArgs {
    /// The account's email address.
    #[arg(long)]
    email: Option<String>,
    /// The account's id.
    #[arg(long)]
    id: Option<String>,
    /// The new status.
    #[arg(long, value_enum)]
    status: StatusArg,
    /// Why, kept in the audit entry (at most 500 characters).
    #[arg(long)]
    reason: Option<String>,
    /// A TOML file layered over config/default.toml.
    #[arg(long)]
    config: Option<PathBuf>,
}

/// An account status as typed on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    /// May sign in.
    Active,
    /// Blocked by an administrator.
    Suspended,
    /// Closed.
    Deactivated,
}

impl From<StatusArg> for AccountStatus {
    fn from(status: StatusArg) -> Self {
        match status {
            StatusArg::Active => Self::Active,
            StatusArg::Suspended => Self::Suspended,
            StatusArg::Deactivated => Self::Deactivated,
        }
    }
}

impl AdminCommand {
    /// The `--config` file.
    pub fn config(&self) -> Option<&Path> {
        match self {
            Self::Create { config, .. }
            | Self::SetStatus(SetStatusArgs { config, .. })
            | Self::ResetMfa(AccountArgs { config, .. }) => config.as_deref(),
        }
    }
}

/// Runs an `admin` command.
pub(super) async fn run(command: AdminCommand, settings: &Settings) -> Result<(), CliError> {
    match command {
        AdminCommand::Create { email, name, .. } => create(&email, &name, settings).await,
        AdminCommand::SetStatus(args) => set_status(args, settings).await,
        AdminCommand::ResetMfa(args) => reset_mfa(args, settings).await,
    }
}

fn context() -> RequestContext {
    RequestContext::new(IpAddr::V4(Ipv4Addr::LOCALHOST), Some(CLI_USER_AGENT))
}

/// Checks every input before touching the database, so a typo costs no connection.
async fn create(email: &str, name: &str, settings: &Settings) -> Result<(), CliError> {
    let email = Email::parse(email).map_err(|e| CliError::Refused(format!("--email: {e}")))?;
    let name = UserName::parse(name).map_err(|e| CliError::Refused(format!("--name: {e}")))?;
    let raw = read_new_password(email.as_str())?;
    let password = NewPassword::parse(raw.expose_secret(), Some(&email), settings.policy().password)
        .map_err(|e| CliError::Refused(e.to_string()))?;
    drop(raw);

    let service = service(settings).await?;
    let account = NewAccount { name, email, password, roles: Roles::new([Role::Admin]) };
    let user = service.admin_create_user(&Actor::Operator, account, &context()).await?;
    eprintln!("portcullis: created administrator {} ({})", user.email.as_str(), user.roles.names().join(", "));
    println!("{}", user.id);
    Ok(())
}

async fn set_status(args: SetStatusArgs, settings: &Settings) -> Result<(), CliError> {
    let service = service(settings).await?;
    let id = account(&service, args.id.as_deref(), args.email.as_deref()).await?;
    let user = service.admin_set_status(&Actor::Operator, id, args.status.into(), args.reason, &context()).await?;
    println!("{} {}", user.id, user.status.as_str());
    Ok(())
}

async fn reset_mfa(args: AccountArgs, settings: &Settings) -> Result<(), CliError> {
    let service = service(settings).await?;
    let id = account(&service, args.id.as_deref(), args.email.as_deref()).await?;
    let removed = service.admin_reset_mfa(&Actor::Operator, id, &context()).await?;
    eprintln!("portcullis: removed {removed} second factor(s) and every recovery code; the account is signed out");
    println!("{id}");
    Ok(())
}

/// The id of the account named by `--id` or `--email`.
async fn account(service: &Service, id: Option<&str>, email: Option<&str>) -> Result<UserId, CliError> {
    Ok(match (id, email) {
        (Some(id), _) => {
            id.parse::<UserId>().map_err(|_| CliError::Refused(format!("--id: {id:?} is not a user id")))?
        }
        (None, Some(email)) => {
            let email = Email::parse(email).map_err(|e| CliError::Refused(format!("--email: {e}")))?;
            match service.admin_user_by_email(&Actor::Operator, &email).await {
                Ok(user) => user.id,
                Err(AdminError::NotFound) => {
                    return Err(CliError::Refused(format!("no account with the email address {}", email.as_str())));
                }
                Err(e) => return Err(e.into()),
            }
        }
        // clap's argument group requires one of the two.
        (None, None) => return Err(CliError::Usage("give --email or --id".into())),
    })
}

/// The service as the server builds it (opening the store runs pending migrations, so a
/// fresh database works).
async fn service(settings: &Settings) -> Result<std::sync::Arc<Service>, CliError> {
    let service = build_service(settings).await?.service;
    Ok(service)
}
