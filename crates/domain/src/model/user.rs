//! User accounts: who they are and whether they may sign in.

use super::{Email, Roles, Timestamp, UserId};

/// Longest display name, in characters.
pub const MAX_NAME_LEN: usize = 100;

/// A display name of 1 to 100 characters, trimmed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UserName(String);

/// Why a display name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserNameError {
    /// Empty after trimming.
    #[error("name is required")]
    Empty,
    /// More than [`MAX_NAME_LEN`] characters.
    #[error("name must be at most {MAX_NAME_LEN} characters")]
    TooLong,
    /// Contains control characters.
    #[error("name must not contain control characters")]
    ControlCharacters,
}

impl UserName {
    /// Trims and checks a display name.
    ///
    /// # Errors
    /// [`UserNameError`] when empty, too long or holding control characters.
    pub fn parse(raw: &str) -> Result<Self, UserNameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(UserNameError::Empty);
        }
        if name.chars().count() > MAX_NAME_LEN {
            return Err(UserNameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(UserNameError::ControlCharacters);
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The administrative state of an account. Soft deletion is separate (`deleted_at`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum AccountStatus {
    /// May sign in (once the email is verified).
    Active,
    /// Blocked by an administrator.
    Suspended,
    /// Switched off by its owner.
    Deactivated,
}

impl AccountStatus {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deactivated => "deactivated",
        }
    }

    /// Parses the wire and storage name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(Self::Active),
            "suspended" => Some(Self::Suspended),
            "deactivated" => Some(Self::Deactivated),
            _ => None,
        }
    }
}

/// A stored password hash in PHC string format.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by a [`crate::ports::PasswordHasher`].
    pub fn new(phc: String) -> Self {
        Self(phc)
    }
    /// The PHC string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash([REDACTED])")
    }
}

/// A user account as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// Opaque id.
    pub id: UserId,
    /// Display name.
    pub name: UserName,
    /// Normalised, unique email.
    pub email: Email,
    /// Argon2id PHC hash.
    pub password_hash: PasswordHash,
    /// Optional avatar URL.
    pub profile_picture: Option<String>,
    /// Administrative state.
    pub status: AccountStatus,
    /// When the email was verified; `None` while unverified.
    pub email_verified_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Soft-deletion time.
    pub deleted_at: Option<Timestamp>,
    /// Roles, and through them permissions.
    pub roles: Roles,
}

/// Why an account may not be used even with the right password, in the contract's order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum AccountBlock {
    /// Soft-deleted.
    Deleted,
    /// Suspended by an administrator.
    Suspended,
    /// Deactivated by its owner.
    Deactivated,
    /// Email not verified yet.
    NotVerified,
}

impl AccountBlock {
    /// The audit `reason` for a refused login.
    pub fn audit_reason(self) -> &'static str {
        match self {
            Self::Deleted => "account_deleted",
            Self::Suspended => "account_suspended",
            Self::Deactivated => "account_deactivated",
            Self::NotVerified => "email_not_verified",
        }
    }
}

impl User {
    /// True once the email has been verified.
    pub fn email_verified(&self) -> bool {
        self.email_verified_at.is_some()
    }

    /// The first reason this account may not sign in, checked in the contract's order:
    /// deleted, suspended, deactivated, unverified.
    pub fn sign_in_block(&self) -> Option<AccountBlock> {
        if self.deleted_at.is_some() {
            Some(AccountBlock::Deleted)
        } else if self.status == AccountStatus::Suspended {
            Some(AccountBlock::Suspended)
        } else if self.status == AccountStatus::Deactivated {
            Some(AccountBlock::Deactivated)
        } else if !self.email_verified() {
            Some(AccountBlock::NotVerified)
        } else {
            None
        }
    }
}

/// Which accounts an administrator's list shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum UserStatusFilter {
    /// Not deleted, with this status.
    Status(AccountStatus),
    /// Soft-deleted, whatever the status.
    Deleted,
}

impl UserStatusFilter {
    /// Parses `active`, `suspended`, `deactivated` or `deleted`.
    pub fn parse(s: &str) -> Option<Self> {
        if s == "deleted" { Some(Self::Deleted) } else { AccountStatus::parse(s).map(Self::Status) }
    }
}

/// An administrator's search over accounts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// Case-insensitive substring of the email or the name.
    pub text: Option<String>,
    /// Only accounts in this state.
    pub status: Option<UserStatusFilter>,
    /// Page size.
    pub limit: u32,
    /// Accounts to skip.
    pub offset: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn user() -> User {
        let now = Timestamp::from_unix_millis(1_000);
        User {
            id: UserId::new_v7(),
            name: UserName::parse("Laura").unwrap(),
            email: Email::parse("laura@example.com").unwrap(),
            password_hash: PasswordHash::new("$argon2id$x".into()),
            profile_picture: None,
            status: AccountStatus::Active,
            email_verified_at: Some(now),
            created_at: now,
            updated_at: now,
            deleted_at: None,
            roles: Roles::user(),
        }
    }

    #[test]
    fn name_rules() {
        assert_eq!(UserName::parse("  Laura Boyle ").unwrap().as_str(), "Laura Boyle");
        assert_eq!(UserName::parse("   "), Err(UserNameError::Empty));
        assert_eq!(UserName::parse(&"x".repeat(101)), Err(UserNameError::TooLong));
        assert!(UserName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(UserName::parse("a\u{0007}b"), Err(UserNameError::ControlCharacters));
    }

    #[test]
    fn block_order_is_deleted_suspended_deactivated_unverified() {
        let mut u = user();
        assert_eq!(u.sign_in_block(), None);
        u.email_verified_at = None;
        assert_eq!(u.sign_in_block(), Some(AccountBlock::NotVerified));
        u.status = AccountStatus::Deactivated;
        assert_eq!(u.sign_in_block(), Some(AccountBlock::Deactivated));
        u.status = AccountStatus::Suspended;
        assert_eq!(u.sign_in_block(), Some(AccountBlock::Suspended));
        u.deleted_at = Some(Timestamp::from_unix_millis(5));
        assert_eq!(u.sign_in_block(), Some(AccountBlock::Deleted));
    }

    #[test]
    fn status_round_trips() {
        for s in [AccountStatus::Active, AccountStatus::Suspended, AccountStatus::Deactivated] {
            assert_eq!(AccountStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(AccountStatus::parse("deleted"), None);
    }

    #[test]
    fn status_filters_parse() {
        assert_eq!(UserStatusFilter::parse("deleted"), Some(UserStatusFilter::Deleted));
        assert_eq!(UserStatusFilter::parse("suspended"), Some(UserStatusFilter::Status(AccountStatus::Suspended)));
        assert_eq!(UserStatusFilter::parse("gone"), None);
    }

    #[test]
    fn hash_debug_is_redacted() {
        assert!(!format!("{:?}", user()).contains("argon2id"));
    }
}
