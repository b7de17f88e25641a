//! Why a command failed, and the exit code that says so.

use portcullis_domain::AdminError;

use crate::wiring::WiringError;

/// A failed command. Messages never hold a password or key bytes.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad usage or configuration (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// The input was refused: taken email, weak password, unknown account... (exit code 1).
    #[error("{0}")]
    Refused(String),
    /// The command could not be carried out: database, files (exit code 1).
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Refused(_) | Self::Failed(_) => 1,
        }
    }
}

impl From<WiringError> for CliError {
    fn from(e: WiringError) -> Self {
        match e {
            WiringError::Config(_) | WiringError::Mailer(_) => Self::Usage(e.to_string()),
            WiringError::Crypto(portcullis_crypto::CryptoError::Config(_)) => Self::Usage(e.to_string()),
            other => Self::Failed(other.to_string()),
        }
    }
}

impl From<AdminError> for CliError {
    fn from(e: AdminError) -> Self {
        match e {
            AdminError::EmailTaken => Self::Refused("an account with this email address already exists".into()),
            AdminError::NotFound => Self::Refused("no such account".into()),
            AdminError::Invalid(fields) => Self::Refused(
                fields.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; "),
            ),
            AdminError::Forbidden | AdminError::SelfTarget => Self::Refused(e.to_string()),
            AdminError::Infra(infra) => Self::Failed(infra.to_string()),
            other => Self::Failed(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use portcullis_domain::FieldError;

    use super::*;

    #[test]
    fn refused_input_is_1_and_usage_is_2() {
        assert_eq!(CliError::from(AdminError::EmailTaken).exit_code(), 1);
        let invalid = CliError::from(AdminError::Invalid(vec![FieldError::new("reason", "too long")]));
        assert_eq!(invalid.to_string(), "reason: too long");
        assert_eq!(invalid.exit_code(), 1);
        assert_eq!(CliError::from(WiringError::Config("mailer.transport".into())).exit_code(), 2);
        assert_eq!(CliError::Failed("database".into()).exit_code(), 1);
    }
}
